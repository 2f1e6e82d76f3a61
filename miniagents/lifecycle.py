"""Agent-call lifecycle events: what happens to every agent call, announced as it happens.

Subscribe with `MiniAgents(on_call_event=handler)` or `@mini_agents.on_call_event` (remove with
`remove_call_event_handler`), or attach an observer, which also gets flushed and closed (`miniagents.observers`).
Handlers are plain (sync) callables that receive one event object; they run inline, so they must be quick (a widget
records the event and schedules a redraw). When no handler is subscribed, no event object is ever built.

The life of one call, in order: `CallInitiated` (the call exists; its function may not run yet) → `CallStarted`
(the agent function begins) → any number of `InputMessageAppeared`, `ReplyMessageAppeared` and
`ReplyMessageResolved` → `CallFinished` (the function returned or raised and the reply sequence is complete) →
`CallRecorded` (its `AgentCallNode` / `AgentReplyNode`, only while persist handlers exist: `MiniAgents.records_calls`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from miniagents.messages import Message, MessagePromise
    from miniagents.records import AgentCallNode, AgentReplyNode

__all__ = [
    "AgentCallEvent",
    "CallEventHandler",
    "CallFinished",
    "CallInitiated",
    "CallRecorded",
    "CallStarted",
    "InputMessageAppeared",
    "ReplyMessageAppeared",
    "ReplyMessageResolved",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCallEvent:
    """Base of all lifecycle events: which call (`call_id`, unique within a `MiniAgents`) and when (`time.time()`)."""

    call_id: int
    time: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallInitiated(AgentCallEvent):
    """A call was made (`trigger` / `initiate_call`); `parent_call_id` is the call whose agent made it, if any."""

    parent_call_id: int | None
    agent: Any
    agent_alias: str
    kwargs: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted(AgentCallEvent):
    """The agent function began running; announced from the task that runs it (cancelling that task cancels the call:
    the notebook does so for the calls of an interrupted cell)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InputMessageAppeared(AgentCallEvent):
    """The call's input sequence got its `index`-th message (flattened; it may still be streaming)."""

    index: int
    message_promise: "MessagePromise"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyMessageAppeared(AgentCallEvent):
    """The call's reply sequence got its `index`-th message (it may still be streaming)."""

    index: int
    message_promise: "MessagePromise"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyMessageResolved(AgentCallEvent):
    """The `index`-th reply message is complete (`message`), or failed (`error`)."""

    index: int
    message: "Message | None"
    error: BaseException | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFinished(AgentCallEvent):
    """The agent function ended and its reply sequence is complete; `error` is what the function raised, if any."""

    error: BaseException | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecorded(AgentCallEvent):
    """The immutable records of the call were built and handed to the `on_persist_messages` handlers."""

    call_node: "AgentCallNode"
    reply_node: "AgentReplyNode"


CallEventHandler = Callable[[AgentCallEvent], None]
