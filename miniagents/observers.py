"""Observers: the one protocol for anything that watches a `MiniAgents` — a live view, a trace, a store, an exporter.

    class PrintingObserver:
        def on_call_event(self, event: AgentCallEvent) -> None:
            print(event)

        async def aflush(self) -> None: ...  # deliver what you buffered

        async def aclose(self) -> None: ...  # release what you hold

    async with MiniAgents(observers=[PrintingObserver()]) as mini_agents:
        ...  # or mini_agents.attach(observer) / mini_agents.detach(observer) at any time

An observer gets two kinds of news, through the same subscriptions as plain handlers (`on_call_event=` and
`on_persist_messages=`), so both cost the same and nothing is built for no one:

- `on_call_event(event)`: every lifecycle event (`miniagents.lifecycle`), inline in the task where it happens — keep it
  quick (record the event, schedule the slow work).
- `on_persist_message(promise, message)` — optional: every complete message once, nested ones first, including the
  `AgentCallNode` / `AgentReplyNode` record of every call; sync or async. Leave it out (or make it `None`, e.g. a
  property that is `None` when the observer does not collect records) unless you need it: while any persist handler
  is subscribed, the engine builds the records of every call.

- `call_event_types` — optional: a tuple of the event classes it wants (e.g. `(CallInitiated, CallFinished)`); the
  engine then builds no other event for it. Most of what watching costs is the per-message events: an observer of
  whole calls should ask for the call events only (see `miniagents.lifecycle`).

Its lifecycle:

- `MiniAgents.attach(observer)` subscribes it (once: attaching it again does nothing) and `detach(observer)`
  unsubscribes it; `MiniAgents(observers=[...])` attaches at construction.
- `aflush()` delivers whatever the observer buffered (a store commits its queued writes). A `MiniAgents` awaits it for
  every attached observer when it finalizes — at the end of `async with MiniAgents():` or `run(...)` — so what a run
  produced has arrived when the block ends.
- `aclose()` releases what the observer holds, for good. The engine never calls it (an observer may watch several
  `MiniAgents`, or outlive them); its owner does, when done with it — after detaching it, unless the observer
  detaches itself (a `Trace` or a store knows where it is attached).

An observer must never break the agents it watches: an exception raised by one of its handlers, or by its `aflush()`
during finalization, is logged (at the context's `log_level_for_errors`) and the agents go on.
"""

from typing import Protocol, runtime_checkable

from miniagents.lifecycle import AgentCallEvent

__all__ = ["MiniAgentsObserver"]


@runtime_checkable
class MiniAgentsObserver(Protocol):
    """Watches a `MiniAgents`: receives its lifecycle events, can be flushed and closed (see the module docstring).

    It may also have `on_persist_message(promise, message) -> Any`, the optional member that no `Protocol` can
    express: every complete message once, nested messages first; it may return an awaitable, which then runs in the
    background. `isinstance(obj, MiniAgentsObserver)` checks the three required members.
    """

    def on_call_event(self, event: AgentCallEvent) -> None:
        """Receive one lifecycle event, inline in the task where it happened (keep it quick)."""
        ...

    async def aflush(self) -> None:
        """Deliver what was buffered; awaited for every attached observer when a `MiniAgents` finalizes."""
        ...

    async def aclose(self) -> None:
        """Release what the observer holds, for good (called by its owner, never by the engine)."""
        ...
