"""Immutable records of agent calls: who got what (`AgentCallNode`) and what it answered (`AgentReplyNode`).

They are messages themselves, so they have hash keys and reach the `on_persist_messages` handlers like any message;
the messages they contain are serialised as references by hash key.
"""

from dataclasses import dataclass
from typing import Any, TypeVar

from miniagents.messages import Message, _json_string

__all__ = ["AgentCallNode", "AgentInteractionNode", "AgentReplyNode", "RecordedCall", "construct_record"]


class AgentInteractionNode(Message):
    """Common base of the call and reply records. Extra fields: the agent's interaction metadata (and call kwargs)."""

    agent_alias: str


class AgentCallNode(AgentInteractionNode):
    """One agent call: its input `messages`, plus its frozen keyword arguments as extra fields."""

    messages: tuple[Message, ...] = ()


class AgentReplyNode(AgentInteractionNode):
    """What one agent call answered: `replies`, and a reference to the `agent_call` it answered."""

    agent_call: AgentCallNode
    replies: tuple[Message, ...] = ()

    def _direct_json(self) -> str | None:
        # the record of every call, written directly when its agent has no metadata and the messages it refers to are
        # hashed already (they are, once persisted): the JSON with sorted keys that `Frozen` would write (hence the
        # same hash key), without building a dict of every reply's hash key and encoding each one again
        if self.__class__ is not AgentReplyNode or self.__pydantic_extra__:
            return None
        agent_call = self.agent_call
        call_hash_key = agent_call.__dict__.get("hash_key") if isinstance(agent_call, Message) else None
        reply_hash_keys = [reply.__dict__.get("hash_key") for reply in self.replies if isinstance(reply, Message)]
        if call_hash_key is None or None in reply_hash_keys or len(reply_hash_keys) != len(self.replies):
            return None
        # hash keys are hex digits: nothing in them to escape
        replies = (
            '"replies__hash_keys": ["' + '", "'.join(reply_hash_keys) + '"]' if reply_hash_keys else '"replies": []'
        )
        return (
            f'{{"agent_alias": {_json_string(self.agent_alias)}, "agent_call__hash_key": "{call_hash_key}", '
            f'"class_": "AgentReplyNode", {replies}}}'
        )


_Record = TypeVar("_Record", bound=AgentInteractionNode)


def construct_record(record_class: type[_Record], fields: dict[str, Any], extra: dict[str, Any]) -> _Record:
    """`record_class.model_construct(**fields, **extra)`, for values that are frozen already: `fields` holds every
    declared field, in the order of declaration, and `extra` no name of one.

    The engine records every call in two such records. pydantic's `model_construct` looks up each field's aliases
    and defaults first, which costs several times what building them does; the first call checks that this builds
    exactly what `model_construct` builds (the same fields, fields set, extra and private state), and if a pydantic
    release ever stores models differently, `model_construct` is used from then on.
    """
    if _record_shortcut_works is False:
        return record_class.model_construct(**fields, **extra)
    record = object.__new__(record_class)
    set_attribute = object.__setattr__  # the model is frozen; this is how pydantic itself fills one in
    set_attribute(record, "__dict__", fields)
    set_attribute(record, "__pydantic_fields_set__", set(fields))
    set_attribute(record, "__pydantic_extra__", extra)
    set_attribute(record, "__pydantic_private__", None)
    if _record_shortcut_works is None:
        constructed = record_class.model_construct(**fields, **extra)
        if not _check_record_shortcut(record, constructed):
            return constructed
    return record


_record_shortcut_works: bool | None = None


def _check_record_shortcut(record: AgentInteractionNode, constructed: AgentInteractionNode) -> bool:
    global _record_shortcut_works
    _record_shortcut_works = all(
        getattr(record, name) == getattr(constructed, name)
        for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
    ) and list(record.__dict__) == list(type(record).__pydantic_fields__)
    return _record_shortcut_works


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """Where a call's records are and where the call sits in the call tree (what history browsers list).

    `call_id` is opaque and unique within the history it comes from; `parent_call_id` is the call whose agent made
    this one; the hash keys point at the call's `AgentCallNode` and `AgentReplyNode`.
    """

    call_id: str
    agent_alias: str
    call_hash_key: str
    reply_hash_key: str
    parent_call_id: str | None = None
