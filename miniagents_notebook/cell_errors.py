"""What a cell shows when it fails or is interrupted: the user's code, not the framework's.

**Interrupt = cancel.** The notebook session is process-wide, so the agents a cell triggers run in tasks of the
session, not of the cell: interrupting the kernel cancels the cell's own task (ipykernel cancels an awaiting cell on
SIGINT; a blocking cell gets `KeyboardInterrupt`), and without more the agents would go on running — and streaming into
the cell's output — in the background. `CellCalls` is an observer of the session's `MiniAgents` (and of any other
that is the current one when a cell starts: one the user activated process-wide) that knows which cell started which
call:

- a call made outside any agent belongs to the cell that runs when it is initiated (`pre_run_cell` counts cells);
- a call made by an agent belongs to the cell of the call that made it;
- `CallStarted` is announced from the task that runs the agent function (`miniagents.lifecycle`), so that task is what
  cancels the call.

When the cell was interrupted, its unfinished calls are cancelled (their consumers get `ProducerCancelledError`, the
views mark them as cancelled; calls started by other cells keep running; a call of the cell that has not started yet
is cancelled as soon as it starts) and the cell shows one line — `Interrupted: 2 agent calls cancelled` — instead of a
traceback through the framework.

**Detached calls.** A call triggered inside `with detached():` belongs to no cell: interrupting the cell that awaits it
stops the waiting, not the call, which keeps running with the calls it makes (`%miniagents reset` still stops it).
The interrupted cell says so: `Interrupted: 0 agent calls cancelled; 1 detached call keeps running`.

**Errors.** An agent's error travels through promises and sequences before it reaches the cell that awaits it, and
each of them adds its frames; the cell's traceback leaves out every frame of `miniagents` and `miniagents_notebook`
(and the line a `%%miniagent` cell was rewritten into), so that it shows the user's lines: the cell's and the agent
functions'. An error raised by the framework itself keeps the user's line that called it, and its own message.

`install_cell_error_handling` puts both in IPython's custom exception handler (`set_custom_exc`).
"""

import asyncio
import itertools
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from IPython.core.interactiveshell import InteractiveShell

import miniagents
from miniagents import MiniAgents
from miniagents.lifecycle import AgentCallEvent, CallFinished, CallInitiated, CallStarted
from miniagents_notebook.rendering import count_text

__all__ = ["CellCalls", "detached", "hide_framework_frames", "install_cell_error_handling", "interrupted_message"]

_detaching: ContextVar[bool] = ContextVar("miniagents_detaching", default=False)


@contextmanager
def detached() -> Iterator[None]:
    """Agent calls triggered in this block keep running when their cell is interrupted (and so do the calls they
    make): for work meant to outlive the cell that started it.

        with detached():
            indexing = indexer.trigger(documents)
        await indexing  # interrupting this cell stops the waiting; the indexer goes on

    Only the calls triggered by the code in the block itself are detached (the engine announces a call the moment it
    is triggered, in the triggering code's context), not calls other tasks make meanwhile.
    """
    token = _detaching.set(True)
    try:
        yield
    finally:
        _detaching.reset(token)


_CallKey = tuple[int, int]  # (the source: which `MiniAgents`, its call id): call ids are unique within one only


class CellCalls:
    """Which cell started each unfinished agent call, and the task that runs it (an observer of a `MiniAgents`).

    It observes the session's `MiniAgents` (attached to it directly) and, from the cell after it becomes the current
    one, any other — one activated process-wide by the user, say (`follow`): interrupting a cell then cancels the calls
    it made there too, instead of saying `0 agent calls cancelled` while they run on.
    """

    call_event_types = (CallInitiated, CallStarted, CallFinished)  # no per-message events are built for it

    def __init__(self) -> None:
        self.cell = 0
        self._cell_of_call: dict[_CallKey, int] = {}
        self._task_of_call: dict[_CallKey, asyncio.Task[Any]] = {}
        self._interrupted_cells: set[int] = set()
        self._detached_calls: dict[_CallKey, int] = {}  # unfinished detached calls → the cell that started them
        self._followed: weakref.WeakKeyDictionary[MiniAgents, _FollowedCalls] = weakref.WeakKeyDictionary()
        self._sources = itertools.count(1)  # 0 is the MiniAgents this is attached to directly

    def new_cell(self, *_: Any) -> None:
        """A cell begins to run (IPython's `pre_run_cell` event): count it, and follow the current `MiniAgents`."""
        self.cell += 1
        current = MiniAgents.get_current_or_none()
        if current is not None:
            self.follow(current)

    def follow(self, mini_agents: MiniAgents) -> None:
        """Know the cells of the calls of `mini_agents` too (nothing happens if they are known already)."""
        if self in mini_agents.observers or mini_agents in self._followed:
            return
        follower = _FollowedCalls(self, next(self._sources))
        mini_agents.attach(follower)
        self._followed[mini_agents] = follower

    def on_call_event(self, event: AgentCallEvent) -> None:
        self.on_call_event_of(0, event)

    def on_call_event_of(self, source: int, event: AgentCallEvent) -> None:
        """`event` of the `MiniAgents` numbered `source` (0: the one this is attached to directly)."""
        key = (source, event.call_id)
        if isinstance(event, CallInitiated):
            if event.parent_call_id is None and _detaching.get():
                self._detached_calls[key] = self.cell  # no cell's: its calls, made under it, are no one's
                return
            cell = (
                self.cell if event.parent_call_id is None else self._cell_of_call.get((source, event.parent_call_id))
            )
            if cell is not None:
                self._cell_of_call[key] = cell
        elif isinstance(event, CallStarted):
            cell = self._cell_of_call.get(key)
            task = asyncio.current_task()
            if cell is None or task is None:
                return
            if cell in self._interrupted_cells:
                task.cancel()
            else:
                self._task_of_call[key] = task
        elif isinstance(event, CallFinished):
            self._cell_of_call.pop(key, None)
            self._task_of_call.pop(key, None)
            self._detached_calls.pop(key, None)

    def cancel_cell(self, cell: int) -> int:
        """Cancel every unfinished call `cell` started (those not started yet: when they start); how many."""
        self._interrupted_cells.add(cell)
        cancelled = 0
        for key, call_cell in list(self._cell_of_call.items()):
            if call_cell != cell:
                continue
            task = self._task_of_call.pop(key, None)
            if task is None or task.cancel():
                cancelled += 1
        return cancelled

    def unfinished_calls(self, cell: int) -> int:
        return sum(1 for call_cell in self._cell_of_call.values() if call_cell == cell)

    def detached_calls(self, cell: int) -> int:
        """How many calls triggered by `cell` under `detached()` are still running."""
        return sum(1 for call_cell in self._detached_calls.values() if call_cell == cell)

    async def aflush(self) -> None:
        """Nothing is buffered."""

    async def aclose(self) -> None:
        """Nothing to release."""


class _FollowedCalls:
    """The observer `CellCalls.follow` attaches to one more `MiniAgents`: hands its events on, numbered by source."""

    call_event_types = CellCalls.call_event_types

    def __init__(self, cell_calls: CellCalls, source: int) -> None:
        self._cell_calls = cell_calls
        self._source = source

    def on_call_event(self, event: AgentCallEvent) -> None:
        self._cell_calls.on_call_event_of(self._source, event)

    async def aflush(self) -> None:
        """Nothing is buffered."""

    async def aclose(self) -> None:
        """Nothing to release."""


def interrupted_message(cancelled: int, detached_running: int = 0) -> str:
    """`Interrupted: 2 agent calls cancelled` (what an interrupted cell shows instead of a traceback), and
    `; 1 detached call keeps running` when the cell detached some."""
    kept = ""
    if detached_running:
        verb = "keeps" if detached_running == 1 else "keep"
        kept = f"; {count_text(detached_running, 'detached call')} {verb} running"
    return f"Interrupted: {count_text(cancelled, 'agent call')} cancelled{kept}"


def _cell_task_is_cancelled() -> bool:
    """Whether the cell runs in a task that is being cancelled (ipykernel cancels an awaiting cell on interrupt)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: a blocking cell
        return False
    return task is not None and task.cancelling() > 0


_FRAMEWORK_DIRS = (str(Path(miniagents.__file__).parent) + os.sep, str(Path(__file__).parent) + os.sep)


def _is_framework_frame(frame: FrameType, cell_hook_name: str) -> bool:
    code = frame.f_code
    return code.co_filename.startswith(_FRAMEWORK_DIRS) or cell_hook_name in code.co_names


def _without_framework_frames(traceback: TracebackType | None, cell_hook_name: str) -> TracebackType | None:
    """`traceback` without the framework's frames; `None` if nothing but framework frames would be left."""
    kept = []
    while traceback is not None:
        if not _is_framework_frame(traceback.tb_frame, cell_hook_name):
            kept.append((traceback.tb_frame, traceback.tb_lasti, traceback.tb_lineno))
        traceback = traceback.tb_next
    if not kept:
        return None
    shortened = None
    for frame, lasti, lineno in reversed(kept):
        shortened = TracebackType(shortened, frame, lasti, lineno)
    return shortened


def hide_framework_frames(error: BaseException) -> None:
    """Leave the frames of `miniagents` / `miniagents_notebook` out of `error`'s traceback and those it chains to."""
    from miniagents_notebook.magics import CELL_HOOK_NAME  # the magics need the session, which needs this module

    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        shortened = _without_framework_frames(current.__traceback__, CELL_HOOK_NAME)
        if shortened is not None:
            current.__traceback__ = shortened
        pending += [current.__cause__, current.__context__]


def install_cell_error_handling(shell: InteractiveShell, cell_calls: CellCalls) -> Callable[[], None]:
    """Make an interrupted cell cancel its agent calls and say so in one line, and a failed cell show the user's
    frames only; returns the function that undoes it."""
    previous_exceptions, previous_handler = shell.custom_exceptions, shell.CustomTB

    def handle(
        shell: InteractiveShell,
        error_type: type[BaseException],
        error: BaseException,
        traceback: TracebackType | None,
        tb_offset: int | None = None,
    ) -> None:
        # `run_code` calls this handler for a cell's error and shows nothing itself: `showtraceback` shows it (and
        # makes it the error of the kernel's reply), in one line through IPython's `_render_traceback_` protocol if
        # the cell was interrupted
        interrupted = issubclass(error_type, KeyboardInterrupt) or (
            issubclass(error_type, asyncio.CancelledError) and _cell_task_is_cancelled()
        )
        if interrupted:
            cell = cell_calls.cell
            message = interrupted_message(cell_calls.cancel_cell(cell), cell_calls.detached_calls(cell))
            error._render_traceback_ = lambda: [message]  # type: ignore[attr-defined]
        else:
            hide_framework_frames(error)
            traceback = error.__traceback__
        shell.showtraceback((error_type, error, traceback), tb_offset=tb_offset)

    shell.events.register("pre_run_cell", cell_calls.new_cell)
    shell.set_custom_exc((Exception, KeyboardInterrupt, asyncio.CancelledError), handle)

    def undo() -> None:
        shell.events.unregister("pre_run_cell", cell_calls.new_cell)
        shell.custom_exceptions, shell.CustomTB = previous_exceptions, previous_handler

    return undo
