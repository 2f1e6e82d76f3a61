"""`trace()`: choose which agent calls the views show — a block of code, one `%%miniagent` run, or the whole session.

    with trace() as t:
        replies = research_agent.trigger("Tell me about MiniAgents")
    t                      # the live call tree (also t.timeline(), t.inspector(), t.to_mermaid())

A trace is an observer (`miniagents.observers`): it is attached to a `MiniAgents` while it is started, and detaches
itself once it is stopped and every call it follows is over. It records the calls made by the code inside the block
(or, with `all_calls=True`, every call of that `MiniAgents`), and every call those calls make, until they finish —
even after the block has ended, since calls started in the block usually outlive it. It is the one way the notebook
layer scopes calls: a `%%miniagent` run is a trace around the trigger of its agent.
"""

import asyncio
import time
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Literal, Self

from miniagents.history import DEFAULT_MAX_CALLS, InMemoryHistory
from miniagents.lifecycle import (
    AgentCallEvent,
    CallFinished,
    CallInitiated,
    CallRecorded,
    CallStarted,
    InputMessageAppeared,
)
from miniagents.miniagent_typing import PersistMessagesEventHandler
from miniagents.runtime import MiniAgents
from miniagents_notebook._tree_model import DEFAULT_CHILD_LIMIT, CallTreeModel
from miniagents_notebook.call_tree import CallTree, render_call_tree_html
from miniagents_notebook.inspector import HistoryInspector
from miniagents_notebook.mermaid import call_tree_to_mermaid
from miniagents_notebook.rendering import count_text
from miniagents_notebook.timeline import Timeline

__all__ = ["Trace", "trace"]

# the traces whose block the current code runs in: a call made here (outside any traced call) starts a new tree
_enclosing_traces: ContextVar[frozenset["Trace"]] = ContextVar("miniagents_enclosing_traces", default=frozenset())


class Trace:
    """Records the agent calls of one scope into a `CallTreeModel` (live views) and an `InMemoryHistory` (records).

    - `start()` / `stop()` (or `with`) delimit the scope: calls made by the code that runs in between, in the same
      task (or any task with `all_calls=True`), are recorded, along with all the calls they make, until they finish.
    - `mini_agents`: whose calls to record; the active one (`MiniAgents.get_current()`) when not given.
    - `record_history`: also collect the `AgentCallNode` / `AgentReplyNode` records for `inspector()` (this makes
      the engine build records while the trace listens).
    - `max_calls`: how many calls the trace keeps for its views (default 10,000; `None` keeps every call). A trace
      that lives long — `trace(all_calls=True)` over a whole session — would otherwise grow by about 6 KB per small
      call (call tree and records): beyond the limit the call tree drops the calls that finished longest ago and the
      history the records kept longest, and the views say how many (`… 1,234 older calls evicted (limit 10,000)`).
      Unfinished calls stay.

    A notebook session can keep one `Trace(all_calls=True).start()` for everything; each `%%miniagent` run is a
    `Trace` around the trigger of its agent (`AgentRun.trace`).

    As an observer (`miniagents.observers`), `start()` attaches the trace and it detaches itself when it is finished;
    `aflush()` has nothing to deliver (events are taken in as they arrive) and `aclose()` stops it and detaches it at
    once, even from calls that are still running.
    """

    # the views read each call's replies from its reply sequence when they draw: no per-reply event is built for it
    call_event_types = (CallInitiated, CallStarted, InputMessageAppeared, CallFinished, CallRecorded)

    def __init__(
        self,
        mini_agents: MiniAgents | None = None,
        *,
        all_calls: bool = False,
        record_history: bool = True,
        max_calls: int | None = DEFAULT_MAX_CALLS,
    ) -> None:
        self.all_calls = all_calls
        self.record_history = record_history
        self.model = CallTreeModel(max_calls)
        self.history = InMemoryHistory(max_calls)
        self._mini_agents = mini_agents
        self._state: Literal["new", "active", "stopped"] = "new"
        self._unfinished: set[int] = set()  # tracked calls not over yet (finished and, if collected, recorded)
        self._running: set[int] = set()
        self._settled: asyncio.Event | None = None
        self._listening_to: MiniAgents | None = None
        self._default_view: CallTree | None = None

    # --- scope -------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Begin recording calls (attaches the trace to the `MiniAgents` as an observer)."""
        if self._state != "new":
            raise RuntimeError("This trace was already started; a Trace records one scope, so create a new one.")
        mini_agents = self._mini_agents if self._mini_agents is not None else MiniAgents.get_current()
        self._mini_agents = mini_agents
        mini_agents.attach(self)
        self._listening_to = mini_agents
        self._state = "active"
        _enclosing_traces.set(_enclosing_traces.get() | {self})
        return self

    def stop(self) -> Self:
        """Record no new calls; the ones already recorded (and the calls they make) are followed until they finish."""
        if self._state == "active":
            self._state = "stopped"
            _enclosing_traces.set(_enclosing_traces.get() - {self})
            self._stop_listening_when_done()
            self._wake_if_settled()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def is_recording(self) -> bool:
        """Whether new calls made in the scope are still being recorded (started and not stopped)."""
        return self._state == "active"

    @property
    def is_finished(self) -> bool:
        """Whether the trace is stopped and every call it recorded has finished (and, if collected, been recorded)."""
        return self._state == "stopped" and not self._unfinished

    @property
    def is_settled(self) -> bool:
        """Whether the trace is stopped and none of its calls is running.

        Unlike `is_finished` this does not wait for calls that were made but never started (a lazy call may never
        start) nor for the records of finished calls.
        """
        return self._state == "stopped" and not self._running

    async def wait_settled(self) -> None:
        """Wait until the trace `is_settled` (what a `%%miniagent` run waits for before it shows its calls)."""
        if self._state != "stopped":
            raise RuntimeError(
                "wait_settled() waits for the calls of a stopped trace: leave the `with trace()` block (or call "
                "`stop()`) first."
            )
        if self.is_settled:
            return
        if self._settled is None:
            self._settled = asyncio.Event()
        await self._settled.wait()

    def _wake_if_settled(self) -> None:
        if self._settled is not None and self.is_settled:
            self._settled.set()

    @property
    def mini_agents(self) -> MiniAgents | None:
        """The `MiniAgents` whose calls are recorded (the active one at `start()` unless one was given)."""
        return self._mini_agents

    @property
    def max_calls(self) -> int | None:
        """How many calls the trace keeps for its views (`None`: all); setting it applies to the call tree and the
        history at once."""
        return self.model.max_calls

    @max_calls.setter
    def max_calls(self, max_calls: int | None) -> None:
        self.model.max_calls = max_calls
        self.history.max_calls = max_calls

    def _is_tracked(self, call_id: int | None) -> bool:
        # a tracked call is forgotten once it is over and the model evicted it: no set grows with every call
        return call_id in self._unfinished or call_id in self.model.calls

    # --- the observer ------------------------------------------------------------------------------------------

    @property
    def on_persist_message(self) -> PersistMessagesEventHandler | None:
        """The history's persist handler while the trace collects records (`record_history`), else `None` (then the
        trace does not make the engine build records)."""
        return self.history.on_persist_message if self.record_history else None

    def on_call_event(self, event: AgentCallEvent) -> None:
        """Follow the calls of the scope (and the calls they make) into the call tree and, if kept, the history."""
        if isinstance(event, CallInitiated):
            if not (self._is_tracked(event.parent_call_id) or self._takes_new_trees()):
                return
            self._unfinished.add(event.call_id)
        elif not self._is_tracked(event.call_id):
            return
        elif isinstance(event, CallStarted):
            self._running.add(event.call_id)
        elif isinstance(event, CallFinished):
            self._running.discard(event.call_id)
        self.model.handle_event(event)
        if self.record_history:
            self.history.on_call_event(event)
        if isinstance(event, CallRecorded) or (
            # without persist handlers no `CallRecorded` follows: the call is over when it finishes
            isinstance(event, CallFinished)
            and not (self._listening_to is not None and self._listening_to.records_calls)
        ):
            self._unfinished.discard(event.call_id)
            self._stop_listening_when_done()
        self._wake_if_settled()

    def _takes_new_trees(self) -> bool:
        return self._state == "active" and (self.all_calls or self in _enclosing_traces.get())

    def _stop_listening_when_done(self) -> None:
        if self.is_finished:
            self._detach()

    def _detach(self) -> None:
        if self._listening_to is not None:
            self._listening_to.detach(self)
            self._listening_to = None

    async def aflush(self) -> None:
        """Nothing to deliver: the trace takes every event in as it arrives (its views redraw on their throttle)."""

    async def aclose(self) -> None:
        """Stop recording and detach now: calls still running are not followed any further."""
        self.stop()
        self._detach()

    # --- views -------------------------------------------------------------------------------------------------

    def call_tree(self, **options: Any) -> CallTree:
        """A live `CallTree` of the recorded calls (options: `child_limit`, `max_rows`, `throttle_interval`)."""
        return CallTree(self.model, **options)

    def timeline(self, **options: Any) -> Timeline:
        """A live `Timeline` of the recorded calls (same options as `call_tree`)."""
        return Timeline(self.model, **options)

    def inspector(self, **options: Any) -> HistoryInspector:
        """A `HistoryInspector` of the records of the recorded calls."""
        if not self.record_history:
            raise ValueError("This trace does not collect records: create it with `trace(record_history=True)`.")
        return HistoryInspector(self.history, call_status=self._call_status, **options)

    def _call_status(self, call_id: str) -> tuple[str, str | None] | None:
        call = self.model.calls.get(int(call_id)) if call_id.isdigit() else None
        return None if call is None else (call.status, call.error)

    def to_mermaid(self, child_limit: int = DEFAULT_CHILD_LIMIT) -> str:
        """The call tree as Mermaid text (`graph TD`)."""
        return call_tree_to_mermaid(self.model, child_limit)

    def to_text(self) -> str:
        """The call tree as text: aliases, shape and statuses (and how many older calls were evicted, if any)."""
        return self.model.as_text()

    def to_html(self, show_timings: bool = True) -> str:
        """The call tree as static HTML (`show_timings=False`: the same for every run of a deterministic system)."""
        return render_call_tree_html(self.model.tree_snapshot(time.time()), show_timings=show_timings)

    def _view(self) -> CallTree:
        if self._default_view is None:
            self._default_view = self.call_tree()
        return self._default_view

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return self._view()._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        self._view()._ipython_display_()

    def __repr__(self) -> str:
        counts = ", ".join(f"{count} {status}" for status, count in self.model.status_counts().items() if count)
        total = len(self.model.calls)
        evicted = f", {self.model.evicted_calls:,} evicted" if self.model.evicted_calls else ""
        return f"<Trace {self._state}: {count_text(total, 'call')}{f' ({counts})' if counts else ''}{evicted}>"


def trace(
    mini_agents: MiniAgents | None = None,
    *,
    all_calls: bool = False,
    record_history: bool = True,
    max_calls: int | None = DEFAULT_MAX_CALLS,
) -> Trace:
    """A `Trace` to use as `with trace() as t: ...` (it starts on entering the block and stops on leaving it)."""
    return Trace(mini_agents, all_calls=all_calls, record_history=record_history, max_calls=max_calls)
