"""Which Python class a stored message (or a frozen value nested in it) is rebuilt as.

A stored row names its class twice: `class_name` (the `class_` field) and `class_path` (`module:qualname`). When
loading, the class is looked up in this order:

1. a class registered with `register_message_class` under that name (the built-in message and record classes are
   registered already);
2. the class at `class_path`, importing its module if needed (so a user subclass defined at the top level of an
   importable module comes back as itself);
3. a class with that name among the currently defined subclasses of `Frozen` (e.g. one defined inside a function);
   if several share the name, the one with the same module path, else the last one defined;
4. otherwise a *stand-in*: a subclass of `Message` (of `Frozen` for values nested inline) with the same name, which
   keeps every field as an extra field. Because `class_` is the same, the stand-in has the same `hash_key` and
   `isinstance(loaded, Message)` holds; `type(loaded).__stand_in_for__` is the path of the missing class.

Frozen values nested inline (dicts, pydantic models) only carry `class_`, so steps 1, 3 and 4 apply to them.
"""

import importlib
import logging
import sys
import threading
from typing import TypeVar

from miniagents.messages import ErrorMessage, Message, StrictMessage, TextMessage, TextToken, Token
from miniagents.promising.ext.frozen import Frozen
from miniagents.records import AgentCallNode, AgentInteractionNode, AgentReplyNode

__all__ = ["ClassResolver", "class_path_of", "register_message_class"]

logger = logging.getLogger(__name__)

_registered: dict[str, type[Frozen]] = {
    cls.__name__: cls
    for cls in (
        Frozen,
        Message,
        TextMessage,
        ErrorMessage,
        StrictMessage,
        Token,
        TextToken,
        AgentInteractionNode,
        AgentCallNode,
        AgentReplyNode,
    )
}
_FrozenClass = TypeVar("_FrozenClass", bound=type[Frozen])
_stand_ins: dict[tuple[type[Frozen], str, str], type[Frozen]] = {}
_stand_ins_lock = threading.Lock()


def class_path_of(cls: type) -> str:
    """`module:qualname` of `cls` (the colon keeps nested class names unambiguous)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def register_message_class(cls: _FrozenClass) -> _FrozenClass:
    """Make the store rebuild messages whose `class_` is `cls.__name__` as `cls` (usable as a class decorator).

    Registering is only needed when a class cannot be found by its module path (e.g. it was renamed or moved).
    Registering a class again under the same name and module path replaces it (a notebook cell run twice).
    """
    if not (isinstance(cls, type) and issubclass(cls, Frozen)):
        raise TypeError(f"register_message_class() expects a subclass of Message (or Frozen), got {cls!r}")
    current = _registered.get(cls.__name__)
    if current is not None and current is not cls and class_path_of(current) != class_path_of(cls):
        raise ValueError(
            f"Another class named {cls.__name__!r} is registered already ({class_path_of(current)}); stored messages "
            "are looked up by class name, so give one of the classes a different name."
        )
    _registered[cls.__name__] = cls
    return cls


class ClassResolver:
    """Looks classes up by the rules above, caching what it found for the messages of one load."""

    def __init__(self) -> None:
        self._cache: dict[tuple[type[Frozen], str, str], type[Frozen]] = {}

    def message_class(self, class_name: str, class_path: str) -> type[Message]:
        """The class of a stored row: always a `Message` subclass."""
        return self._resolve(Message, class_name, class_path)  # type: ignore[return-value]

    def frozen_class(self, class_name: str) -> type[Frozen]:
        """The class of a frozen value nested inline in a message (it only carries its name)."""
        return self._resolve(Frozen, class_name, "")

    def stand_in(self, base: type[Frozen], class_name: str, class_path: str) -> type[Frozen]:
        """A subclass of `base` named `class_name` that keeps any fields (for missing or changed classes)."""
        key = (base, class_name, class_path)
        with _stand_ins_lock:
            stand_in = _stand_ins.get(key)
            if stand_in is None:
                module, _, qualname = class_path.partition(":")
                stand_in = type(base)(
                    class_name,
                    (base,),
                    {
                        "__module__": module or __name__,
                        "__qualname__": qualname or class_name,
                        "__doc__": f"Stand-in for {class_path or class_name}, which could not be loaded.",
                        "__stand_in_for__": class_path or class_name,
                    },
                )
                _stand_ins[key] = stand_in
                logger.warning(
                    "Class %s of a stored message was not found: it is loaded as a stand-in subclass of %s that "
                    "keeps its fields. Import it (or register_message_class() it) before loading to get it back.",
                    class_path or class_name,
                    base.__name__,
                )
        return stand_in

    def _resolve(self, base: type[Frozen], class_name: str, class_path: str) -> type[Frozen]:
        key = (base, class_name, class_path)
        cls = self._cache.get(key)
        if cls is None:
            cls = (
                _fitting(_registered.get(class_name), base, class_name)
                or _fitting(_imported(class_path), base, class_name)
                or _fitting(_defined_subclass(class_name, class_path), base, class_name)
                or self.stand_in(base, class_name, class_path)
            )
            self._cache[key] = cls
        return cls


def _fitting(cls: type | None, base: type[Frozen], class_name: str) -> type[Frozen] | None:
    if isinstance(cls, type) and issubclass(cls, base) and cls.__name__ == class_name:
        return cls
    return None


def _imported(class_path: str) -> type | None:
    module_name, _, qualname = class_path.partition(":")
    if not module_name or not qualname or "<locals>" in qualname:
        return None
    try:
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
    except Exception:  # an unimportable module only means: try the next rule
        logger.debug("Cannot import %s to load a stored message", module_name, exc_info=True)
        return None
    found: object = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


def _defined_subclass(class_name: str, class_path: str) -> type[Frozen] | None:
    candidates: list[type[Frozen]] = []
    pending: list[type[Frozen]] = [Frozen]
    while pending:
        for subclass in pending.pop(0).__subclasses__():
            pending.append(subclass)
            if subclass.__name__ == class_name and "__stand_in_for__" not in subclass.__dict__:
                candidates.append(subclass)
    same_path = [candidate for candidate in candidates if class_path_of(candidate) == class_path]
    return (same_path or candidates or [None])[-1]
