"""The view of the calls a run made, shown collapsed below the run's replies.

`make_calls_view(scope, live)` is the single hook that decides which view a run uses: today a plain summary
(`CallsSummaryView`: each call nested under its caller, with its status and, while live, its duration); the call
tree replaces it by returning another object with the same `CallsView` interface from this function.
"""

import html
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from miniagents import (
    AgentCallEvent,
    CallFinished,
    CallInitiated,
    CallStarted,
    ReplyMessageAppeared,
)
from miniagents_notebook.call_scope import CallScope
from miniagents_notebook.kernel import running_loop_or_none
from miniagents_notebook.rendering import error_text
from miniagents_notebook.throttle import UpdateThrottle

__all__ = ["CallsSummaryView", "CallsView", "make_calls_view"]


class CallsView(Protocol):
    """What a run needs from the view of its calls."""

    widget: Any
    """An ipywidgets widget that follows the calls live, or `None` when not live."""

    def to_text(self) -> str:
        """A deterministic text form (no ids, no timings)."""

    def to_html(self) -> str:
        """A static HTML form that renders without a kernel (deterministic too: nbval compares it)."""

    def flush(self) -> None:
        """Send the current state to the front end now (the run calls it once it is over)."""


def make_calls_view(scope: CallScope, live: bool) -> CallsView:
    """The view of the calls in `scope` that a run shows (live: with a widget that updates as calls happen)."""
    return CallsSummaryView(scope, live=live)


@dataclass
class _Call:
    alias: str
    parent_call_id: int | None
    started_at: float | None = None
    finished_at: float | None = None
    error: BaseException | None = None
    replies: int = 0
    children: list[int] = field(default_factory=list)

    def status(self) -> str:
        if self.finished_at is not None:
            return f"failed: {error_text(self.error)}" if self.error is not None else "done"
        return "running" if self.started_at is not None else "waiting to start"


class CallsSummaryView:
    """Each call of a run nested under its caller, with its status and number of replies (and its duration, live)."""

    def __init__(self, scope: CallScope, live: bool) -> None:
        self.scope = scope
        self._calls: dict[int, _Call] = {}
        self._roots: list[int] = []
        for event in scope.events:
            self._record(event)
        self.widget: Any = None
        self._throttle: UpdateThrottle | None = None
        loop = running_loop_or_none()
        if live and loop is not None:
            import ipywidgets

            self.widget = ipywidgets.HTML(value=self._live_html())
            self._throttle = UpdateThrottle(self._flush, loop)
        scope.add_listener(self._on_event)

    def _on_event(self, event: AgentCallEvent) -> None:
        self._record(event)
        if self._throttle is not None:
            self._throttle.request()

    def _record(self, event: AgentCallEvent) -> None:
        if isinstance(event, CallInitiated):
            self._calls[event.call_id] = _Call(event.agent_alias, event.parent_call_id)
            parent = self._calls.get(event.parent_call_id) if event.parent_call_id is not None else None
            (parent.children if parent is not None else self._roots).append(event.call_id)
            return
        call = self._calls.get(event.call_id)
        if call is None:
            return
        if isinstance(event, CallStarted):
            call.started_at = event.time
        elif isinstance(event, ReplyMessageAppeared):
            call.replies += 1
        elif isinstance(event, CallFinished):
            call.finished_at = event.time
            call.error = event.error

    def _walk(self) -> list[tuple[int, _Call]]:
        """(depth, call) in tree order: every call right after its caller, siblings in the order they were made."""
        ordered: list[tuple[int, _Call]] = []
        stack = [(0, call_id) for call_id in reversed(self._roots)]
        while stack:
            depth, call_id = stack.pop()
            call = self._calls[call_id]
            ordered.append((depth, call))
            stack.extend((depth + 1, child) for child in reversed(call.children))
        return ordered

    def _line(self, call: _Call) -> str:
        replies = f", {call.replies} repl{'y' if call.replies == 1 else 'ies'}" if call.replies else ""
        return f"{call.alias}: {call.status()}{replies}"

    def to_text(self) -> str:
        lines = [f"Calls ({len(self._calls)}):"]
        lines += [f"{'  ' * depth}- {self._line(call)}" for depth, call in self._walk()]
        return "\n".join(lines)

    def to_html(self) -> str:
        return self._html(with_durations=False)

    def _live_html(self) -> str:
        return self._html(with_durations=True)

    def _html(self, with_durations: bool) -> str:
        rows = []
        now = time.time()
        for depth, call in self._walk():
            color = "#c62828" if call.error is not None else "#43a047" if call.finished_at is not None else "#fb8c00"
            duration = ""
            if with_durations and call.started_at is not None:
                seconds = (call.finished_at or now) - call.started_at
                duration = f' <span style="opacity:0.6">{seconds:.2f} s</span>'
            rows.append(
                f'<div style="margin-left:{depth * 1.2}em"><b>{html.escape(call.alias)}</b> '
                f'<span style="color:{color}">{html.escape(call.status())}</span>{duration}</div>'
            )
        if not rows:
            rows.append('<div style="opacity:0.6"><i>(no calls)</i></div>')
        return f'<div class="miniagents-calls" style="font-size:0.9em">{"".join(rows)}</div>'

    def _flush(self) -> int:
        value = self._live_html()
        if self.widget is None or self.widget.value == value:
            return 0
        self.widget.value = value
        return len(value)

    def flush(self) -> None:
        if self._throttle is not None:
            self._throttle.flush_now()
