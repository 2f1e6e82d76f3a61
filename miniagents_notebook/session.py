"""`NotebookSession`: the notebook-wide `MiniAgents` context, so `await agent.trigger(...)` works in any cell.

Every cell of a kernel runs in its own task, so an `async with MiniAgents():` cannot span cells. The session
activates one `MiniAgents` process-wide instead — as the fallback every task uses when it has no context of its own
— and it does so inside a throwaway copy of the current `contextvars` context, so that no cell is pinned to a
particular session: after `reset()` every cell sees the new one at once.

`reset()` and `close()` finalize the old context with its unfinished work cancelled (a runaway agent can always be
stopped this way); consumers of its unfinished promises then see `ProducerCancelledError`.

The session also keeps the records of the calls made in it (`history`, an `InMemoryHistory` attached to the context
as an observer), so that `current_session().inspector()` — or `%miniagents history` — can browse what the notebook
did. `reset()` starts a new, empty history along with the new context. The history keeps the latest `history_limit`
calls (10,000 by default; `%miniagents history_limit=50000` to change it, `history_limit=None` to keep everything): a
notebook that runs for days must not grow by a few KB with every call, so the oldest records are evicted and the
inspector says how many were.

Records do not say how a call ended, so the session also keeps the outcome of each failed or cancelled call
(`call_outcomes`, an observer of the same lifecycle events the views are built from), and its inspector shows those
calls with ✗ / ⊘ and their error, as a trace's inspector does.

It also knows which cell started which call (`cell_calls`), so that interrupting the kernel cancels the calls of the
interrupted cell and no other (`miniagents_notebook.cell_errors`).
"""

import asyncio
import contextvars
import html
from collections import OrderedDict
from pathlib import Path
from typing import Any

from miniagents import MiniAgent, MiniAgents
from miniagents.history import DEFAULT_MAX_CALLS, InMemoryHistory, check_max_calls
from miniagents.lifecycle import AgentCallEvent, CallFinished
from miniagents_notebook._tree_model import is_cancellation
from miniagents_notebook.cell_errors import CellCalls
from miniagents_notebook.inspector import HistoryInspector
from miniagents_notebook.kernel import running_loop_or_none
from miniagents_notebook.rendering import error_text

__all__ = ["SETTINGS", "NotebookSession"]

SETTINGS = (
    "errors_as_messages",
    "stream_llm_tokens_by_default",
    "llm_logger_agent",
    "llm_logs_folder",
    "history_limit",
)
"""The settings of the session that `%miniagents name=value` can change."""

_SESSION_SETTINGS = frozenset({"history_limit"})
"""Settings of the session itself; the others are settings of its `MiniAgents`."""

_finalizing: set["asyncio.Task[None]"] = set()  # asyncio keeps only weak references to tasks


def _check_setting(name: str, value: Any) -> Any:
    if name not in SETTINGS:
        raise ValueError(f"Unknown setting `{name}`; the settings are: {', '.join(SETTINGS)}.")
    if name in ("errors_as_messages", "stream_llm_tokens_by_default") and not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")
    if name == "llm_logger_agent" and not isinstance(value, (bool, MiniAgent)):
        raise ValueError(f"`llm_logger_agent` must be True, False or a MiniAgent, got {type(value).__name__}.")
    if name == "llm_logs_folder":
        if not isinstance(value, (str, Path)) or not str(value):
            raise ValueError(f"`llm_logs_folder` must be a folder path, got {value!r}.")
        return Path(value)
    if name == "history_limit":
        return check_max_calls(value, "history_limit")
    return value


def _finalize(mini_agents: MiniAgents) -> None:
    """Cancel what `mini_agents` still runs and deactivate it: at once without a running loop, else in a task."""
    finalization = mini_agents.afinalize(cancel_tasks=True)
    loop = running_loop_or_none()
    if loop is None:
        from IPython.core.async_helpers import get_asyncio_loop

        get_asyncio_loop().run_until_complete(finalization)
        return
    task = loop.create_task(finalization)
    _finalizing.add(task)
    task.add_done_callback(_finalizing.discard)


class CallOutcomes:
    """How the calls of a history ended, by call id: `("error" | "cancelled", error text)` for the ones that failed,
    `("done", None)` for the others (an observer of the `MiniAgents` whose calls `history` records).

    Only failed calls take memory, and at most as many as the history keeps calls (the oldest go first).
    """

    call_event_types = (CallFinished,)  # no other event is built for it

    def __init__(self, history: InMemoryHistory) -> None:
        self._history = history
        self._failed: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def on_call_event(self, event: AgentCallEvent) -> None:
        if isinstance(event, CallFinished) and event.error is not None:
            status = "cancelled" if is_cancellation(event.error) else "error"
            self._failed[str(event.call_id)] = (status, error_text(event.error))
            limit = self._history.max_calls
            while limit is not None and len(self._failed) > limit:
                self._failed.popitem(last=False)

    def status(self, call_id: str) -> tuple[str, str | None]:
        """`(status, error)` of a recorded call (a call is recorded once it finished)."""
        return self._failed.get(call_id, ("done", None))

    async def aflush(self) -> None:
        """Nothing is buffered."""

    async def aclose(self) -> None:
        """Nothing to release."""


class NotebookSession:
    """Owns the notebook-wide `MiniAgents` (`mini_agents`) and the `history` of its calls; settings survive `reset()`.

    Collecting the history makes the engine build the `AgentCallNode` / `AgentReplyNode` records of every call and
    keeps them, with their messages, in memory until `reset()` — the latest `history_limit` calls of them (a setting,
    10,000 by default, `None` for all): each call recorded beyond the limit evicts the oldest record, and
    `history.evicted_calls` (shown by the inspector) counts them.
    """

    def __init__(self, **settings: Any) -> None:
        self.settings: dict[str, Any] = {
            "errors_as_messages": False,
            "stream_llm_tokens_by_default": True,
            "llm_logger_agent": False,
            "llm_logs_folder": Path("llm_logs"),
            "history_limit": DEFAULT_MAX_CALLS,
        }
        self.settings.update({name: _check_setting(name, value) for name, value in settings.items()})
        self.history = InMemoryHistory(self.settings["history_limit"])
        self.call_outcomes = CallOutcomes(self.history)
        """How the recorded calls ended (records do not say): the inspector shows failed calls with their error."""
        self.cell_calls = CellCalls()
        """Which cell started which call, so that interrupting a cell cancels its calls (`cell_errors`)."""
        self.mini_agents = self._open()
        self.is_closed = False

    def _open(self) -> MiniAgents:
        engine_settings = {name: value for name, value in self.settings.items() if name not in _SESSION_SETTINGS}
        mini_agents = MiniAgents(**engine_settings, observers=[self.history, self.call_outcomes, self.cell_calls])
        contextvars.copy_context().run(mini_agents.activate, process_wide=True)
        return mini_agents

    def inspector(self, **options: Any) -> HistoryInspector:
        """A `HistoryInspector` of every call the session made (since the last `reset()`), updating as calls end."""
        return HistoryInspector(self.history, call_status=self.call_outcomes.status, **options)

    def configure(self, **settings: Any) -> None:
        """Change settings of the current context right away (and of the contexts later `reset()` opens)."""
        checked = {name: _check_setting(name, value) for name, value in settings.items()}
        for name, value in checked.items():
            if name == "history_limit":
                self.history.max_calls = value
            else:
                setattr(self.mini_agents, name, value)
        self.settings.update(checked)

    def reset(self) -> MiniAgents:
        """Open a new notebook-wide context and finalize the old one (cancelling what it still runs)."""
        previous = self.mini_agents
        self.history = InMemoryHistory(self.settings["history_limit"])
        self.call_outcomes = CallOutcomes(self.history)
        self.mini_agents = self._open()
        _finalize(previous)
        return self.mini_agents

    def close(self) -> None:
        """Finalize the context (cancelling what it still runs); no context is notebook-wide afterwards."""
        if not self.is_closed:
            self.is_closed = True
            _finalize(self.mini_agents)

    # --- display ---------------------------------------------------------------------------------------------------

    def _rows(self) -> list[tuple[str, str]]:
        rows = [
            (name, repr(str(value) if isinstance(value, Path) else value)) for name, value in self.settings.items()
        ]
        rows.append(("background tasks", str(len(self.mini_agents.child_tasks))))
        if self.history.evicted_calls:
            rows.append(("history", f"{len(self.history):,} recorded calls kept; {self.history.eviction_note}"))
        return rows

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        state = "closed" if self.is_closed else "active"
        text = "\n".join(
            [f"MiniAgents notebook session ({state})"] + [f"  {name}: {value}" for name, value in self._rows()]
        )
        cells = "".join(
            f'<tr><td style="text-align:left"><code>{html.escape(name)}</code></td>'
            f'<td style="text-align:left">{html.escape(value)}</td></tr>'
            for name, value in self._rows()
        )
        markup = f"<div><b>MiniAgents notebook session</b> ({state})<table>{cells}</table></div>"
        return {"text/plain": text, "text/html": markup}

    def __repr__(self) -> str:
        return f"<NotebookSession {'closed' if self.is_closed else 'active'}>"
