"""`Frozen`: an immutable pydantic model with a content hash, the base of every message and record."""

import contextlib
import contextvars
import datetime
import decimal
import enum
import functools
import hashlib
import json
import pathlib
import re
import threading
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar, Union

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticSerializationError, to_jsonable_python

from miniagents.promising.context import PromisingContext
from miniagents.promising.errors import NestingDepthError

__all__ = [
    "MAX_NESTING_DEPTH",
    "Frozen",
    "FrozenType",
    "cached_privately",
    "externalized_children",
    "freeze_value",
    "hash_keys_made_as",
    "holds_nested_models",
    "holds_nested_values",
    "longer_hash_keys",
    "normalize_text",
    "register_frozen_type",
]

FrozenType = Union[
    str,
    int,
    float,
    bool,
    None,
    uuid.UUID,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    enum.Enum,
    pathlib.PurePath,
    bytes,
    frozenset,
    tuple["FrozenType", ...],
    "Frozen",
]

MAX_NESTING_DEPTH = 100
"""How deeply dicts and lists may be nested in a message's fields (sequences of messages sent or replied nest freely:
flattening walks them without recursion).

Hashing, serialising and rendering walk such structures recursively; past this depth they would fail with a bare
`RecursionError` somewhere deep inside, so a deeper structure is refused up front with a `NestingDepthError`.
Messages inside messages do not count: they are hashed and walked without recursion, so chains of any length work.
"""

_ALLOWED_SCALARS = (int, float, bool, type(None))
_JSON_CONVERTIBLE = (
    uuid.UUID,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    enum.Enum,
    pathlib.PurePath,
    bytes,
    frozenset,
)
"""Immutable values kept as they are and serialised the way pydantic writes them as JSON (as MiniAgents does)."""
_PLAIN_JSON = frozenset({str, int, float, bool, type(None)})
_SORTED_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


if json.encoder.c_make_encoder is not None:  # CPython: what `json.dumps` runs, minus its per-call set-up
    _encode_sorted = json.encoder.c_make_encoder(
        None, _not_serializable, json.encoder.encode_basestring, None, ": ", ", ", True, False, True
    )

    def _sorted_json(value: Any) -> str:
        """`json.dumps(value, ensure_ascii=False, sort_keys=True)` (values are frozen: no cycles to check)."""
        return "".join(_encode_sorted(value, 0))

else:  # pragma: no cover - other Pythons
    _sorted_json = _SORTED_JSON.encode
_SURROGATE = re.compile("[\ud800-\udfff]")
_freezing = threading.local()
_repr_state = threading.local()
_REPR_DEPTH = 20


_REGISTERED_TYPES: dict[type, Callable[[Any], Any]] = {}


def register_frozen_type(value_type: type, to_json: Callable[[Any], Any]) -> None:
    """Let values of `value_type` (immutable objects of a layer above this one, e.g. agents) be frozen as they are.

    `to_json(value)` is what such a value becomes in `serialize()`, and so what its part of a hash key is computed
    from.
    """
    _REGISTERED_TYPES[value_type] = to_json


def cached_privately(func: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Cache what a method of no arguments returns, per object, where pydantic does not see it as a field.

    Put `@property` on top of it. Unlike `functools.cached_property` the method stays a method (so an IDE still knows
    it is a property); the value is kept in the object's `__dict__` under a private name, computed once.
    """
    cache_name = f"_cached_privately_{func.__name__}"

    @functools.wraps(func)
    def wrapper(self: Any) -> Any:
        cached = self.__dict__.get(cache_name, _NOT_CACHED)
        if cached is _NOT_CACHED:
            cached = func(self)
            self.__dict__[cache_name] = cached
        return cached

    return wrapper


_NOT_CACHED = object()

_Value = TypeVar("_Value")


class _computed_once(Generic[_Value]):  # lower case: used as a decorator, like `functools.cached_property`
    """`functools.cached_property` without its lock: what a method of no arguments returns, computed on first access.

    Python 3.11's `cached_property` takes an `RLock` on every first access, which costs more than most of what it
    guards here (hashing a short message, say, happens for every message persisted). A model is immutable, so two
    threads computing the same value at once get the same value; Python 3.12 dropped the lock for that reason.
    Like `cached_property`, this is a non-data descriptor that stores the value in the instance's `__dict__` under
    its own name, so every later access is a plain attribute lookup that never reaches this class.
    """

    def __init__(self, func: Callable[[Any], _Value]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> _Value:
        if instance is None:
            return self  # type: ignore[return-value] - the descriptor itself, as on any class attribute
        value = instance.__dict__[self.name] = self.func(instance)
        return value


def normalize_text(text: str) -> str:
    """`text` with surrogate pairs joined into the characters they encode; unpaired surrogates are kept as they are.

    A streamed reply can split a character such as an emoji into two UTF-16 halves that arrive in separate chunks;
    joined, they are two surrogate code points, which is not the character and cannot be encoded as UTF-8. Every
    string frozen into a message goes through this, so such text becomes the character it was meant to be. A lone
    surrogate (half a character whose other half never came) stays; `Frozen.serialized` writes it as a JSON
    `\\udXXXX` escape, so hashing, persisting and loading it back are well defined.
    """
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _field_name(name: str) -> str:
    name = normalize_text(name)
    if not name.isascii() and _SURROGATE.search(name) is not None:
        raise ValueError(f"field name {name!r} contains half a character (a lone surrogate); use valid text")
    return name


def _escaped_json(json_text: str) -> str:
    """`json_text` with every lone surrogate written as a `\\udXXXX` escape, so that it encodes as UTF-8."""
    if json_text.isascii() or _SURROGATE.search(json_text) is None:
        return json_text
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", json_text)


class Frozen(BaseModel):
    """An immutable pydantic model that accepts extra fields and can be hashed by its content.

    Values are frozen recursively when the model is built: dicts become `Frozen`, lists and tuples become tuples,
    other pydantic models become `Frozen` with their fields. Anything else mutable or not serialisable (sets, custom
    objects, …) is refused with an error that names the field. `hash_key` is the first 40 hex digits of the sha256 of
    `serialize()` as JSON with sorted keys, so it does not depend on the order in which fields were given.
    """

    model_config = ConfigDict(
        frozen=True, extra="allow", arbitrary_types_allowed=True, ignored_types=(_computed_once,)
    )

    class_: str

    _externalized_types: ClassVar[tuple[type, ...]] = ()
    _fields_that_may_nest_of: ClassVar[tuple[type | None, tuple[str, ...]]] = (None, ())
    """The class and its fields that may hold nested models: a cache of `_fields_that_may_nest` (subclasses inherit
    it, hence the class, to tell whose it is)."""

    def __str__(self) -> str:
        return self.as_string

    def __repr__(self) -> str:
        # pydantic's repr recurses into nested models; a long chain of messages would exceed the recursion limit
        depth = getattr(_repr_state, "depth", 0)
        if depth >= _REPR_DEPTH:
            return f"{type(self).__name__}(…, hash_key={self.hash_key!r})"
        _repr_state.depth = depth + 1
        try:
            return super().__repr__()
        finally:
            _repr_state.depth = depth

    @_computed_once
    def as_string(self) -> str:
        """The text form used when the model becomes part of a prompt (override `_as_string()` to customise it)."""
        return self._as_string()

    def _as_string(self) -> str:
        return self.full_json

    @_computed_once
    def full_json(self) -> str:
        """The complete JSON of the model and everything nested in it.

        A model that holds too long a chain of other models for pydantic to serialise in one piece (hundreds deep)
        gives its `serialized` form instead, where nested messages are references by hash key.
        """
        try:
            return self.model_dump_json()
        except PydanticSerializationError:
            return self.serialized

    def serialize(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields; nested objects of `_externalized_types` become hash-key references.

        A nested externalized object in field `x` becomes `x__hash_key`; a tuple of them becomes `x__hash_keys`.
        Messages use this so that a record refers to the messages it contains instead of copying them.
        """
        return _serialize_frozen(self, self._externalized_types)

    @_computed_once
    def serialized(self) -> str:
        """`serialize()` as a JSON string with sorted keys (what `hash_key` is computed from).

        Always encodable as UTF-8: a lone surrogate in a string is written as a `\\udXXXX` escape (see
        `normalize_text`), which `json.loads` turns back into the same string.
        """
        text = self._direct_json()
        return _escaped_json(_sorted_json(self.serialize()) if text is None else text)

    def _direct_json(self) -> str | None:
        """`serialize()` as JSON with sorted keys (before lone surrogates are escaped), written without `serialize()`
        by a class that knows how; `None` for the general way (always, when a nested model is not hashed yet).

        A plain text message and the record of a call's replies (built for every `str` replied and every call) do
        this; the text must be exactly what the general way gives, since hash keys are computed from it.
        """
        return None

    @_computed_once
    def hash_key(self) -> str:
        """A content hash: sha256 of `serialized`, 40 hex digits (64 if the context asks for longer keys)."""
        # the hash keys of nested messages are part of `serialized` (see `_nested_hash_key`)
        text = self._direct_json()
        if text is None:
            serialized = self.serialized
        else:  # cached, as `serialized` would be
            serialized = self.__dict__["serialized"] = _escaped_json(text)
        digest = hashlib.sha256(serialized.encode("utf-8")).hexdigest()
        return digest if longer_hash_keys() else digest[:40]

    def frozen_fields(self, exclude_class: bool = False) -> Iterator[str]:
        """Names of the declared fields (set or defaulted) followed by the extra ones."""
        for name, _ in self._frozen_fields_and_values(exclude_class=exclude_class):
            yield name

    def frozen_fields_and_values(self, exclude_class: bool = True) -> dict[str, Any]:
        """A dict of every field (declared and extra) and its value."""
        return dict(self._frozen_fields_and_values(exclude_class=exclude_class))

    def _frozen_fields_and_values(self, exclude_class: bool) -> Iterator[tuple[str, Any]]:
        for name in type(self).__pydantic_fields__:
            if not (exclude_class and name == "class_"):
                yield name, getattr(self, name)
        if self.__pydantic_extra__:
            yield from self.__pydantic_extra__.items()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """The model itself when nothing changes (it is immutable); with `update`, a new model of the same class,
        validated and frozen from the fields and the changes.

        Pydantic's own copy would carry over what was computed from the original (its `hash_key`, whether it was
        persisted) and let `update` put unfrozen values (lists, dicts) into an immutable model.
        """
        if not update:
            return self
        return type(self)(**{**self.frozen_fields_and_values(), **update})

    def get(self, field: str, default: Any = None) -> Any:
        """The value of `field` (declared or extra), or `default` when the model has no such field."""
        if field in type(self).__pydantic_fields__:
            return getattr(self, field)
        extra = self.__pydantic_extra__
        return extra.get(field, default) if extra else default

    def keys(self) -> list[str]:
        """Field names, `class_` first: with `__getitem__` this makes `**frozen` and `dict(frozen)` work.

        `class_` is included (as in MiniAgents); a model built from `**other` takes its own class name regardless.
        """
        return list(self.frozen_fields(exclude_class=False))

    def values(self) -> list[Any]:
        """Field values in the order of `keys()`."""
        return [value for _, value in self._frozen_fields_and_values(exclude_class=False)]

    def __len__(self) -> int:
        """The number of fields, `class_` included (the length of `keys()`)."""
        return len(type(self).__pydantic_fields__) + len(self.__pydantic_extra__ or ())

    def __getitem__(self, field: str) -> Any:
        """Dict-style access to a field, so frozen dicts read like the dicts they were made from."""
        sentinel = object()
        value = self.get(field, sentinel)
        if value is sentinel:
            raise KeyError(field)
        return value

    def __contains__(self, field: object) -> bool:
        if not isinstance(field, str):
            return False
        extra = self.__pydantic_extra__
        return field in type(self).__pydantic_fields__ or bool(extra and field in extra)

    @model_validator(mode="before")
    @classmethod
    def _freeze_values(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        # `class_` is always the class's own name: one given (e.g. by `**other_message`) is replaced, as in MiniAgents
        frozen = {"class_": cls.__name__}
        for key, value in values.items():
            if key != "class_":
                frozen[_field_name(key)] = freeze_value(value, key)
        return frozen


class _one_level_deeper:
    """Count the levels of dicts and lists being frozen inside one another, and refuse too many.

    Freezing a dict builds a `Frozen` (through pydantic) inside the freezing of its parent, so the count lives outside
    the calls, per thread (validation runs synchronously).
    """

    __slots__ = ("where",)

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        depth = getattr(_freezing, "depth", 0) + 1
        if depth > MAX_NESTING_DEPTH:
            where = self.where if len(self.where) <= 80 else f"{self.where[:50]}…{self.where[-25:]}"
            raise NestingDepthError(
                f"Field `{where}` is nested more than {MAX_NESTING_DEPTH} levels deep (dicts and lists inside one "
                "another); flatten it."
            )
        _freezing.depth = depth

    def __exit__(self, *_: object) -> None:
        _freezing.depth -= 1


def externalized_children(model: Frozen, externalized: tuple[type, ...]) -> Iterator[Frozen]:
    """The objects of `externalized` types held directly by `model` (through tuples and plain `Frozen`s, not inside
    other externalized objects), in field order."""
    children: list[Frozen] = []
    _collect_externalized(model, externalized, children)
    return iter(children)


def _collect_externalized(model: Frozen, externalized: tuple[type, ...], children: list[Frozen]) -> None:
    # collected into one list rather than yielded through a generator per level: records hold long tuples of
    # messages, and every hash of a record goes over them
    values = model.__dict__
    for name in type(model).__pydantic_fields__:
        value = values[name]
        if value.__class__ not in _PLAIN_JSON:  # str / numbers need nothing
            _collect_externalized_in(value, externalized, children)
    if model.__pydantic_extra__:
        for value in model.__pydantic_extra__.values():
            if value.__class__ not in _PLAIN_JSON:
                _collect_externalized_in(value, externalized, children)


def _collect_externalized_in(value: Any, externalized: tuple[type, ...], children: list[Frozen]) -> None:
    if isinstance(value, externalized):
        children.append(value)
    elif isinstance(value, Frozen):
        _collect_externalized(value, externalized, children)
    elif isinstance(value, tuple):
        for item in value:
            if isinstance(item, externalized):  # the common case: a tuple of messages
                children.append(item)
            elif item.__class__ not in _PLAIN_JSON:
                _collect_externalized_in(item, externalized, children)


def holds_nested_models(model: Frozen) -> bool:
    """Whether any field of `model` holds a `Frozen` or a tuple (which may hold other models: messages, say).

    A quick test for the common case of a model of plain values, which has nothing nested to hash, walk or persist.
    """
    # `value.__class__ in _PLAIN_JSON` first: `isinstance(value, Frozen)` of a plain value goes through pydantic's
    # metaclass (an ABCMeta), which is slow. The declared fields are looked up one by one rather than by iterating
    # `__dict__`, where another thread (a store's writer) may be caching `hash_key` or `serialized` meanwhile.
    model_class = model.__class__
    known = model_class._fields_that_may_nest_of  # noqa: SLF001 - a cache on the class (see `_fields_that_may_nest`)
    values = model.__dict__
    for name in known[1] if known[0] is model_class else _fields_that_may_nest(model_class):
        value = values[name]
        if value.__class__ not in _PLAIN_JSON and isinstance(value, (Frozen, tuple)):
            return True
    extra = model.__pydantic_extra__
    return bool(extra) and holds_nested_values(extra.values())


def _fields_that_may_nest(model_class: type[Frozen]) -> tuple[str, ...]:
    """The declared fields of `model_class` whose type allows a `Frozen` or a tuple (worked out once per class).

    A field declared as `str`, `int`, `str | None`, … (`class_`, a text message's `content`) holds a plain value
    once validated, so `holds_nested_models` need not look at it: for a text message it looks at nothing at all.
    """
    names = tuple(
        name for name, field in model_class.__pydantic_fields__.items() if not _is_plain_annotation(field.annotation)
    )
    if model_class.__pydantic_complete__:  # an annotation still to be resolved could be anything: ask again later
        model_class._fields_that_may_nest_of = (model_class, names)  # noqa: SLF001 - see above
    return names


def _is_plain_annotation(annotation: Any) -> bool:
    if annotation in _PLAIN_JSON or annotation is None:
        return True
    return typing.get_origin(annotation) in (Union, types.UnionType) and all(
        _is_plain_annotation(argument) for argument in typing.get_args(annotation)
    )


def holds_nested_values(values: Iterable[Any]) -> bool:
    """Whether any of `values` (of some fields of a model) is a `Frozen` or a tuple, as in `holds_nested_models`."""
    return any(value.__class__ not in _PLAIN_JSON and isinstance(value, (Frozen, tuple)) for value in values)


def longer_hash_keys() -> bool:
    """Whether hash keys made here and now are the longer ones (64 hex digits): the active context's setting, unless
    `hash_keys_made_as` says otherwise."""
    made_as = _hash_keys_made_as.get()
    if made_as is not None:
        return made_as
    context = PromisingContext.get_current_or_none()
    return context is not None and context.longer_hash_keys


_hash_keys_made_as: contextvars.ContextVar[bool | None] = contextvars.ContextVar("hash_keys_made_as", default=None)


@contextlib.contextmanager
def hash_keys_made_as(longer: bool) -> Iterator[None]:
    """Make the hash keys computed inside the block as a context with `longer_hash_keys=longer` would.

    For code that hashes messages later than they were made and elsewhere (a history that hashes a call's records
    only when they are browsed): the keys come out as they would have where the messages were made.
    """
    token = _hash_keys_made_as.set(longer)
    try:
        yield
    finally:
        _hash_keys_made_as.reset(token)


def _nested_hash_key(model: Frozen) -> str:
    """The hash key of `model`, which is nested in a model being serialised.

    If it is not computed yet, the models nested in `model` are hashed first, innermost first (`_hash_nested_first`),
    so that computing it serialises only `model` itself: hashing a chain of thousands of messages that refer to one
    another recurses no deeper than this, and a model whose nested messages are hashed already (a record of a call,
    whose messages were hashed when they were persisted) goes over them once.
    """
    hash_key = model.__dict__.get("hash_key")
    if hash_key is None:
        _hash_nested_first(model)
        hash_key = model.hash_key
    return hash_key


def _hash_nested_first(model: Frozen) -> None:
    """Compute the hash keys of the externalized objects nested in `model`, innermost first, without recursion.

    Each one's serialisation refers to the hash keys of those inside it; computed innermost first, every step is
    shallow, so a chain of thousands of messages referring to one another hashes without a `RecursionError`. Each
    object is visited once, however many hold it: a message held twice at each of forty levels is forty steps, not
    two to the fortieth.
    """
    externalized = model._externalized_types  # noqa: SLF001 - the class's own configuration
    visited = {id(model)}
    stack = [(model, externalized_children(model, externalized))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if "hash_key" not in child.__dict__ and id(child) not in visited:  # not computed (and cached) yet
                visited.add(id(child))
                stack.append((child, externalized_children(child, externalized)))
                break
        else:  # everything inside `node` is hashed now
            stack.pop()
            if node is not model:
                _ = node.hash_key


def freeze_value(value: Any, field: str) -> Any:
    """Return an immutable equivalent of `value` or raise a `ValueError` that names `field`.

    Strings are normalised (`normalize_text`); nesting deeper than `MAX_NESTING_DEPTH` raises `NestingDepthError`.
    """
    value_class = value.__class__
    if value_class is str:  # the common cases first, without isinstance checks (see `holds_nested_models`)
        return normalize_text(value)
    if value_class in _PLAIN_JSON:
        return value
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, (*_ALLOWED_SCALARS, Frozen, *_JSON_CONVERTIBLE)):
        return value
    if _REGISTERED_TYPES and isinstance(value, tuple(_REGISTERED_TYPES)):
        return value
    if isinstance(value, (list, tuple)):
        with _one_level_deeper(field):
            return tuple(freeze_value(item, f"{field}[{index}]") for index, item in enumerate(value))
    if isinstance(value, dict):
        with _one_level_deeper(field):
            return Frozen(**{str(key): freeze_value(item, f"{field}.{key}") for key, item in value.items()})
    if isinstance(value, BaseModel):
        return Frozen(**value.model_dump())
    raise ValueError(
        f"field `{field}` has a value of type {type(value).__name__}, which cannot be frozen: only str, int, float, "
        "bool, None, UUID, datetime/date/time/timedelta, Decimal, Enum, Path, bytes, frozenset, lists/tuples and "
        "dicts of those, pydantic models and Frozen objects are allowed"
    )


def _serialize_frozen(model: Frozen, externalized: tuple[type, ...]) -> dict[str, Any]:
    values = model.__dict__
    result: dict[str, Any] = {}
    for name in model.__class__.__pydantic_fields__:
        value = values[name]
        if value.__class__ in _PLAIN_JSON:  # the common case: nothing to convert
            result[name] = value
        else:
            _serialize_field(result, name, value, externalized)
    extra = model.__pydantic_extra__
    if extra:
        for name, value in extra.items():
            if value.__class__ in _PLAIN_JSON:
                result[name] = value
            else:
                _serialize_field(result, name, value, externalized)
    return result


def _serialize_field(result: dict[str, Any], name: str, value: Any, externalized: tuple[type, ...]) -> None:
    if externalized and isinstance(value, externalized):
        result[f"{name}__hash_key"] = _nested_hash_key(value)
        return
    if externalized and isinstance(value, tuple) and value:
        # one pass over what is usually a tuple of messages (a record's replies: thousands, at times)
        hash_keys = [
            item.__dict__.get("hash_key") or _nested_hash_key(item) for item in value if isinstance(item, externalized)
        ]
        if len(hash_keys) == len(value):
            result[f"{name}__hash_keys"] = hash_keys
            return
    result[name] = _serialize_value(value, externalized)


def _serialize_value(value: Any, externalized: tuple[type, ...]) -> Any:
    if isinstance(value, Frozen):
        return _serialize_frozen(value, externalized)
    if isinstance(value, tuple):
        return [_serialize_value(item, externalized) for item in value]
    if isinstance(value, _JSON_CONVERTIBLE):
        return to_jsonable_python(value)
    for registered_type, to_json in _REGISTERED_TYPES.items():
        if isinstance(value, registered_type):
            return to_json(value)
    return value
