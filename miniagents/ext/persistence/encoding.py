"""How a message becomes a row of `messages` and rows of `reference_lists` (one per field holding messages).

A reference's field path names where the nested message sits: `replies` for a field, `meta.source` for a field of a
frozen dict, `items[2].answer` for a field of a frozen value inside a tuple. The walk mirrors `Frozen.serialize()`:
a message (or a non-empty tuple of only messages) as the value of a field is a reference; anything else is stored
inline, and the frozen values found inline are walked in turn.
"""

import logging
from operator import attrgetter
from typing import Any, NamedTuple

from miniagents.ext.persistence.queries import storable_text
from miniagents.ext.persistence.registry import class_path_of
from miniagents.ext.persistence.schema import reference_list
from miniagents.messages import Message
from miniagents.promising.ext.frozen import Frozen
from miniagents.records import AgentCallNode, AgentReplyNode

__all__ = ["EncodedMessage", "encode_message", "field_path", "item_path", "message_kind"]

logger = logging.getLogger(__name__)

MessageRow = tuple[str, str, str, str, str | None, float, str | None, str]

_REFERENCE_MARK = "__hash_key"
# class -> (class name, class path, kind): looked up once per class
_classes: dict[type, tuple[str, str, str]] = {}
# (parent hash key, field path, child hash keys as a JSON array)
ReferenceRow = tuple[str, str, str]


class EncodedMessage(NamedTuple):
    """The `messages` row of one message and the `reference_lists` rows of the fields holding messages.

    Tuples of strings and numbers only (a named tuple, a tuple of rows): one is made per message queued, and the
    garbage collector stops following such a tuple the first time it sees it — a backlog of queued messages costs it
    nothing after that, where lists in it would be followed by every collection while they wait.
    """

    row: MessageRow
    references: tuple[ReferenceRow, ...]


def field_path(parent_path: str, field: str) -> str:
    """The path of `field` of the frozen value at `parent_path` (`""` is the message itself)."""
    return f"{parent_path}.{field}" if parent_path else field


def item_path(parent_path: str, index: int) -> str:
    """The path of the `index`-th item of the tuple at `parent_path`."""
    return f"{parent_path}[{index}]"


def message_kind(message: Message) -> str:
    """`"call"` for an `AgentCallNode`, `"reply"` for an `AgentReplyNode`, `"message"` for anything else."""
    if isinstance(message, AgentCallNode):
        return "call"
    if isinstance(message, AgentReplyNode):
        return "reply"
    return "message"


def encode_message(message: Message, hash_key: str, persisted_at: float) -> EncodedMessage:
    """The rows of `message` (made by `persist`, in the caller's thread and context: `hash_key` is computed there)."""
    cls = type(message)
    described = _classes.get(cls)
    if described is None:
        described = _classes[cls] = (cls.__name__, class_path_of(cls), message_kind(message))
    class_name, class_path, kind = described
    agent_alias = message.get("agent_alias")
    serialized = message.serialized
    if not serialized.isascii():
        serialized.encode("utf-8")  # an exact copy or none: fails this message alone, not its whole transaction
    row: MessageRow = (
        hash_key,
        class_name,
        class_path,
        kind,
        storable_text(agent_alias) if isinstance(agent_alias, str) else None,
        persisted_at,
        _text_of(message) if kind == "message" else None,
        serialized,
    )
    # a nested message is serialised as a `<field>__hash_key(s)` reference: without one, there is nothing to walk
    if _REFERENCE_MARK not in serialized:
        return EncodedMessage(row, ())
    references: list[ReferenceRow] = []
    _walk_fields(message, "", hash_key, references)
    return EncodedMessage(row, tuple(references))


def _text_of(message: Message) -> str | None:
    """What text search looks in: `str(message)` (records have none: they are found through their messages).

    Lone surrogates become U+FFFD here only: `serialized` keeps the exact content, so the message loads back equal.
    """
    try:
        return storable_text(str(message))
    except Exception:  # a broken `_as_string` override must not lose the message itself
        logger.warning("str() failed for a %s; it is stored without searchable text", type(message).__name__)
        return None


def _walk_fields(node: Frozen, path: str, parent_hash_key: str, references: list[ReferenceRow]) -> None:
    for name, value in node.frozen_fields_and_values(exclude_class=True).items():
        path_of_field = field_path(path, name)
        if isinstance(value, Message):
            references.append((parent_hash_key, path_of_field, reference_list([value.hash_key])))
        elif isinstance(value, tuple) and value and _only_messages(value):
            references.append((parent_hash_key, path_of_field, reference_list(list(map(_hash_key_of, value)))))
        else:
            _walk_value(value, path_of_field, parent_hash_key, references)


_hash_key_of = attrgetter("hash_key")


def _only_messages(items: tuple[Any, ...]) -> bool:
    # by the classes present (a reply record holds thousands of messages of a class or two): no Python per item
    return all(issubclass(cls, Message) for cls in set(map(type, items)))


def _walk_value(value: Any, path: str, parent_hash_key: str, references: list[ReferenceRow]) -> None:
    if isinstance(value, Frozen):
        _walk_fields(value, path, parent_hash_key, references)
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            _walk_value(item, item_path(path, index), parent_hash_key, references)
