"""Immutable records of agent calls: who got what (`AgentCallNode`) and what it answered (`AgentReplyNode`).

They are messages themselves, so they have hash keys and reach the `on_persist_messages` handlers like any message;
the messages they contain are serialised as references by hash key.
"""

from dataclasses import dataclass

from miniagents.messages import Message

__all__ = ["AgentCallNode", "AgentInteractionNode", "AgentReplyNode", "RecordedCall"]


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
