"""`CallScope`: the lifecycle events of one run — its root call and every call made under it — as they happen.

A run in a notebook (`%%miniagent` with `--run`, or a bare `%%miniagent` cell) opens a scope just before it triggers
its agent; the first call initiated then becomes the root, and every call whose parent is in the scope joins it.
Views of the calls a run made (`make_calls_view`) are built from a scope: they replay `events` and then follow
`add_listener`. The scope listens to the session only until the run settles (`close()`), so finished runs cost
nothing.
"""

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from miniagents import AgentCallEvent, CallFinished, CallInitiated, CallStarted, MiniAgents

__all__ = ["CallScope", "CallScopeListener"]

CallScopeListener = Callable[[AgentCallEvent], None]


class CallScope:
    """Collects the lifecycle events of the calls under one root call of `mini_agents`, in the order they happen."""

    def __init__(self, mini_agents: MiniAgents) -> None:
        self.mini_agents = mini_agents
        self.root_call_id: int | None = None
        self._events: list[AgentCallEvent] = []
        self._call_ids: set[int] = set()
        self._running_call_ids: set[int] = set()
        self._root_finished = False
        self._capturing_root = False
        self._listeners: list[CallScopeListener] = []
        self._settled: asyncio.Event | None = None
        self._closed = False
        mini_agents.on_call_event(self._on_event)

    @contextmanager
    def capturing_root(self) -> Iterator[None]:
        """The first call initiated inside this block (e.g. by `agent.trigger(...)`) becomes the root of the scope."""
        self._capturing_root = True
        try:
            yield
        except BaseException:
            self.close()
            raise
        finally:
            self._capturing_root = False
        if self.root_call_id is None:
            self.close()
            raise RuntimeError("No agent call was initiated while capturing the root call of this scope.")

    @property
    def events(self) -> tuple[AgentCallEvent, ...]:
        """Every event of the scope so far, in the order they happened."""
        return tuple(self._events)

    @property
    def is_settled(self) -> bool:
        """Whether the root call finished and no call of the scope that started is still running."""
        return self._root_finished and not self._running_call_ids

    def add_listener(self, listener: CallScopeListener) -> None:
        """Call `listener(event)` for every event of the scope from now on (inline: keep it cheap)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: CallScopeListener) -> None:
        """Stop calling `listener` (no error if it was not added)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def wait_settled(self) -> None:
        """Wait until the scope is settled (see `is_settled`)."""
        if self.is_settled:
            return
        if self._settled is None:
            self._settled = asyncio.Event()
        await self._settled.wait()

    def close(self) -> None:
        """Stop listening to the session (later events of these calls are not recorded)."""
        if not self._closed:
            self._closed = True
            self.mini_agents.remove_call_event_handler(self._on_event)

    def _on_event(self, event: AgentCallEvent) -> None:
        if isinstance(event, CallInitiated):
            if self.root_call_id is None and self._capturing_root:
                self.root_call_id = event.call_id
            elif event.parent_call_id not in self._call_ids:
                return
            self._call_ids.add(event.call_id)
        elif event.call_id not in self._call_ids:
            return
        elif isinstance(event, CallStarted):
            self._running_call_ids.add(event.call_id)
        elif isinstance(event, CallFinished):
            self._running_call_ids.discard(event.call_id)
            if event.call_id == self.root_call_id:
                self._root_finished = True
        self._events.append(event)
        for listener in tuple(self._listeners):
            listener(event)
        if self._settled is not None and self.is_settled:
            self._settled.set()
