"""`Frozen`: an immutable pydantic model with a content hash, the base of every message and record."""

import hashlib
import json
from collections.abc import Iterator
from functools import cached_property
from typing import Any, ClassVar, Union

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["Frozen", "FrozenType", "freeze_value"]

FrozenType = Union[str, int, float, bool, None, tuple["FrozenType", ...], "Frozen"]

_ALLOWED_SCALARS = (str, int, float, bool, type(None))


class Frozen(BaseModel):
    """An immutable pydantic model that accepts extra fields and can be hashed by its content.

    Values are frozen recursively when the model is built: dicts become `Frozen`, lists and tuples become tuples,
    other pydantic models become `Frozen` with their fields. Anything else mutable or not serialisable (sets, custom
    objects, …) is refused with an error that names the field. `hash_key` is the first 40 hex digits of the sha256 of
    `serialize()` as JSON with sorted keys, so it does not depend on the order in which fields were given.
    """

    model_config = ConfigDict(frozen=True, extra="allow", arbitrary_types_allowed=True)

    class_: str

    _externalized_types: ClassVar[tuple[type, ...]] = ()

    def __str__(self) -> str:
        return self.as_string

    @cached_property
    def as_string(self) -> str:
        """The text form used when the model becomes part of a prompt (override `_as_string()` to customise it)."""
        return self._as_string()

    def _as_string(self) -> str:
        return self.full_json

    @cached_property
    def full_json(self) -> str:
        """The complete JSON of the model and everything nested in it."""
        return self.model_dump_json()

    def serialize(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields; nested objects of `_externalized_types` become hash-key references.

        A nested externalized object in field `x` becomes `x__hash_key`; a tuple of them becomes `x__hash_keys`.
        Messages use this so that a record refers to the messages it contains instead of copying them.
        """
        return _serialize_frozen(self, self._externalized_types)

    @cached_property
    def serialized(self) -> str:
        """`serialize()` as a JSON string with sorted keys (what `hash_key` is computed from)."""
        return json.dumps(self.serialize(), ensure_ascii=False, sort_keys=True)

    @cached_property
    def hash_key(self) -> str:
        """A content hash: sha256 of `serialized`, 40 hex digits (64 if the context asks for longer keys)."""
        from miniagents.promising.context import PromisingContext

        digest = hashlib.sha256(self.serialized.encode("utf-8")).hexdigest()
        context = PromisingContext.get_current_or_none()
        return digest if context is not None and context.longer_hash_keys else digest[:40]

    def frozen_fields(self, exclude_class: bool = False) -> Iterator[str]:
        """Names of the declared fields (set or defaulted) followed by the extra ones."""
        for name, _ in self._frozen_fields_and_values(exclude_class=exclude_class):
            yield name

    def frozen_fields_and_values(self, exclude_class: bool = True) -> dict[str, Any]:
        """A dict of every field (declared and extra) and its value."""
        return dict(self._frozen_fields_and_values(exclude_class=exclude_class))

    def _frozen_fields_and_values(self, exclude_class: bool) -> Iterator[tuple[str, Any]]:
        for name in type(self).model_fields:
            if not (exclude_class and name == "class_"):
                yield name, getattr(self, name)
        if self.__pydantic_extra__:
            yield from self.__pydantic_extra__.items()

    def get(self, field: str, default: Any = None) -> Any:
        """The value of `field` (declared or extra), or `default` when the model has no such field."""
        if field in type(self).model_fields:
            return getattr(self, field)
        extra = self.__pydantic_extra__
        return extra.get(field, default) if extra else default

    def keys(self) -> list[str]:
        """Field names without `class_`: with `__getitem__` this makes `**frozen` and `dict(frozen)` work."""
        return list(self.frozen_fields(exclude_class=True))

    def __getitem__(self, field: str) -> Any:
        """Dict-style access to a field, so frozen dicts read like the dicts they were made from."""
        sentinel = object()
        value = self.get(field, sentinel)
        if value is sentinel:
            raise KeyError(field)
        return value

    def __contains__(self, field: object) -> bool:
        return isinstance(field, str) and (
            field in type(self).model_fields or bool(self.__pydantic_extra__ and field in self.__pydantic_extra__)
        )

    @model_validator(mode="before")
    @classmethod
    def _freeze_values(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        class_name = values.get("class_", cls.__name__)
        if class_name != cls.__name__:
            raise ValueError(
                f"`class_` must equal the class name {cls.__name__!r}, got {class_name!r} "
                "(it is set automatically; leave it out)"
            )
        frozen = {"class_": cls.__name__}
        for key, value in values.items():
            if key != "class_":
                frozen[key] = freeze_value(value, key)
        return frozen


def freeze_value(value: Any, field: str) -> Any:
    """Return an immutable equivalent of `value` or raise a `ValueError` that names `field`."""
    if isinstance(value, (*_ALLOWED_SCALARS, Frozen)):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(freeze_value(item, f"{field}[{index}]") for index, item in enumerate(value))
    if isinstance(value, dict):
        return Frozen(**{str(key): freeze_value(item, f"{field}.{key}") for key, item in value.items()})
    if isinstance(value, BaseModel):
        return Frozen(**value.model_dump())
    raise ValueError(
        f"field `{field}` has a value of type {type(value).__name__}, which cannot be frozen: only str, int, float, "
        "bool, None, lists/tuples and dicts of those, pydantic models and Frozen objects are allowed"
    )


def _serialize_frozen(model: Frozen, externalized: tuple[type, ...]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in model._frozen_fields_and_values(exclude_class=False):
        if externalized and isinstance(value, externalized):
            result[f"{name}__hash_key"] = value.hash_key
        elif (
            externalized
            and isinstance(value, tuple)
            and value
            and all(isinstance(item, externalized) for item in value)
        ):
            result[f"{name}__hash_keys"] = [item.hash_key for item in value]
        else:
            result[name] = _serialize_value(value, externalized)
    return result


def _serialize_value(value: Any, externalized: tuple[type, ...]) -> Any:
    if isinstance(value, Frozen):
        return _serialize_frozen(value, externalized)
    if isinstance(value, tuple):
        return [_serialize_value(item, externalized) for item in value]
    return value
