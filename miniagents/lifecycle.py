"""Agent-call lifecycle events: what happens to every agent call, announced as it happens.

Subscribe with `MiniAgents(on_call_event=handler)` or `@mini_agents.on_call_event` (remove with
`remove_call_event_handler`), or attach an observer, which also gets flushed and closed (`miniagents.observers`).
Handlers are plain (sync) callables that receive one event object; they run inline, so they must be quick (a widget
records the event and schedules a redraw). When no handler is subscribed, no event object is ever built.

The life of one call, in order: `CallInitiated` (the call exists; its function may not run yet) → `CallStarted`
(the agent function begins) → any number of `InputMessageAppeared`, `ReplyMessageAppeared` and
`ReplyMessageResolved` → `CallFinished` (the function returned or raised and the reply sequence is complete) →
`CallRecorded` (its `AgentCallNode` / `AgentReplyNode`, only while persist handlers exist: `MiniAgents.records_calls`).

A reply that is already complete when it appears (a `str` or a `Message` replied — the common case) is announced by
one `ReplyMessageAppeared` that carries it (`message`, or `error`); a `ReplyMessageResolved` follows only for replies
that were still streaming when they appeared. One event per message instead of two is what keeps watching cheap.

Events are plain slotted objects, built only when someone listens; treat them as read-only (every handler gets the
same object).

A handler that needs only some kinds of events says which, and the others are then never built for it: give the
handler function (or the observer whose `on_call_event` it is) an attribute `call_event_types`, a tuple of event
classes (`AgentCallEvent` means all)::

    def on_call(event: AgentCallEvent) -> None: ...
    on_call.call_event_types = (CallInitiated, CallFinished)

    class SpanExporter:  # an observer
        call_event_types = (CallInitiated, CallFinished)

Most of the cost of watching is in the per-message events (one per message per call, replies relayed by a parent
included); an observer that wants whole calls only (a trace exporter, a call counter) asks for the call events and
reads a call's replies from `CallFinished.replies` when it needs them.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from miniagents.message_sequence import MessageSequencePromise
    from miniagents.messages import Message, MessagePromise
    from miniagents.records import AgentCallNode, AgentReplyNode

__all__ = [
    "CALL_EVENT_TYPES",
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


@dataclass(slots=True, kw_only=True, eq=False)
class AgentCallEvent:
    """Base of all lifecycle events: which call (`call_id`, unique within a `MiniAgents`) and when (`time.time()`)."""

    call_id: int
    time: float


@dataclass(slots=True, kw_only=True, eq=False)
class CallInitiated(AgentCallEvent):
    """A call was made (`trigger` / `initiate_call`); `parent_call_id` is the call whose agent made it, if any, and
    `replies` the promise of its reply sequence: a view can read the replies so far (`replies.pieces_so_far`) when it
    draws, instead of following every message of every call."""

    parent_call_id: int | None
    agent: Any
    agent_alias: str
    kwargs: Mapping[str, Any]
    replies: "MessageSequencePromise | None" = None


@dataclass(slots=True, kw_only=True, eq=False)
class CallStarted(AgentCallEvent):
    """The agent function began running; announced from the task that runs it (cancelling that task cancels the call:
    the notebook does so for the calls of an interrupted cell)."""


@dataclass(slots=True, kw_only=True, eq=False)
class InputMessageAppeared(AgentCallEvent):
    """The call's input sequence got its `index`-th message (flattened; it may still be streaming)."""

    index: int
    message_promise: "MessagePromise"


@dataclass(slots=True, kw_only=True, eq=False)
class ReplyMessageAppeared(AgentCallEvent):
    """The call's reply sequence got its `index`-th message.

    If that message was already complete, `message` is it (or `error` what it failed with) and no
    `ReplyMessageResolved` follows; if it is still streaming, both are `None` and `ReplyMessageResolved` comes later.
    """

    index: int
    message_promise: "MessagePromise"
    message: "Message | None" = None
    error: BaseException | None = None

    @property
    def is_resolved(self) -> bool:
        """Whether the message was complete when it appeared (then no `ReplyMessageResolved` follows)."""
        return self.message is not None or self.error is not None


@dataclass(slots=True, kw_only=True, eq=False)
class ReplyMessageResolved(AgentCallEvent):
    """The `index`-th reply message, which was still streaming when it appeared, is complete (`message`), or failed
    (`error`)."""

    index: int
    message: "Message | None"
    error: BaseException | None


@dataclass(slots=True, kw_only=True, eq=False)
class CallFinished(AgentCallEvent):
    """The agent function ended and its reply sequence is complete; `error` is what the function raised, if any,
    `reply_count` how many messages the reply sequence holds (errors at positions not counted) and `replies` that
    sequence: its `pieces_so_far` are all there (message promises, some possibly still streaming, and errors)."""

    error: BaseException | None
    reply_count: int = 0
    replies: "MessageSequencePromise | None" = None


@dataclass(slots=True, kw_only=True, eq=False)
class CallRecorded(AgentCallEvent):
    """The immutable records of the call were built and handed to the `on_persist_messages` handlers."""

    call_node: "AgentCallNode"
    reply_node: "AgentReplyNode"


CallEventHandler = Callable[[AgentCallEvent], None]

CALL_EVENT_TYPES: tuple[type[AgentCallEvent], ...] = (
    CallInitiated,
    CallStarted,
    InputMessageAppeared,
    ReplyMessageAppeared,
    ReplyMessageResolved,
    CallFinished,
    CallRecorded,
)
"""Every kind of lifecycle event, in the order a call's events come."""
