"""Blocking on coroutines from synchronous code in a kernel, whose event loop is already running.

A Jupyter kernel runs every cell inside its event loop, so a blocking call — `MiniAgents().run()`, `run_agent()`,
`chain_loop()`, `dialog_loop()` — has to run its coroutine on a loop that is busy running the cell. The engine sends
every such call through one hook (`miniagents.promising.runner`); `install_nesting_runner` installs the notebook's
`BlockingRunner` there, which makes the running loop reentrant with nest-asyncio and runs the coroutine on it.

nest-asyncio patches asyncio globally (pure-Python tasks and futures, a reentrant loop class), so `ReentrancyPatch`
applies it lazily — only the first time something has to block while a loop is running: one of the calls above in
a cell, or a direct `run_cell_magic("miniagent", ...)` call (`%%miniagent` cells themselves are awaited, see
`magics`) — and remembers everything nest-asyncio replaced, so that `%unload_ext` can put asyncio back exactly as
it was.
"""

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from miniagents.promising import runner as engine_runner
from miniagents_notebook.kernel import running_loop_or_none

__all__ = ["NestingRunner", "ReentrancyPatch", "install_nesting_runner", "run_blocking"]

_T = TypeVar("_T")
_MISSING = object()
_LOOP_CLASS_ATTRIBUTES = (
    "run_forever",
    "run_until_complete",
    "_run_once",
    "_check_running",
    "_check_runnung",
    "_num_runs_pending",
    "_is_proactorloop",
    "_nest_patched",
)


class ReentrancyPatch:
    """nest-asyncio, applied on first need and undone by `undo()` (what the extension's unload calls)."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []
        self._patched_loop_classes: set[type] = set()

    def make_reentrant(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let `loop.run_until_complete()` be called while `loop` is already running."""
        if type(loop) in self._patched_loop_classes:
            return
        try:
            import nest_asyncio
        except ImportError as error:
            raise RuntimeError(
                "Blocking on agents inside a running event loop (a Jupyter kernel) needs nest-asyncio: `pip install "
                "nest-asyncio`, or use `await MiniAgents().arun(...)` or `await agent.trigger(...)` instead."
            ) from error
        self._save_module_state()
        self._save(loop.__class__, _LOOP_CLASS_ATTRIBUTES)
        self._save(type(asyncio.get_event_loop_policy()), ("get_event_loop",))
        nest_asyncio.apply(loop)
        self._patched_loop_classes.add(type(loop))

    def _save_module_state(self) -> None:
        if self._saved:
            return
        self._save(asyncio, ("Task", "Future", "run", "get_event_loop", "_nest_patched"))
        self._save(asyncio.tasks, ("Task", "_CTask"))
        self._save(asyncio.futures, ("Future", "_CFuture"))
        self._save(asyncio.events, ("get_event_loop", "_get_event_loop"))
        tornado_concurrent = sys.modules.get("tornado.concurrent")
        if tornado_concurrent is not None:
            self._save(tornado_concurrent, ("Future", "FUTURES"))

    def _save(self, owner: Any, names: tuple[str, ...]) -> None:
        for name in names:
            self._saved.append((owner, name, vars(owner).get(name, _MISSING)))

    def undo(self) -> None:
        """Restore every attribute nest-asyncio replaced (in reverse order, so the oldest value wins)."""
        for owner, name, value in reversed(self._saved):
            if value is _MISSING:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, value)
        self._saved.clear()
        self._patched_loop_classes.clear()


class NestingRunner:
    """The notebook's `BlockingRunner`: makes the running loop reentrant (on first need), then runs on it."""

    def __init__(self, reentrancy: ReentrancyPatch) -> None:
        self.reentrancy = reentrancy

    def __call__(self, awaitable: Awaitable[_T]) -> _T:
        __tracebackhide__ = True
        loop = asyncio.get_running_loop()
        try:
            self.reentrancy.make_reentrant(loop)
        except BaseException:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # it will never run: no "never awaited" warning
            raise
        return loop.run_until_complete(awaitable)


def install_nesting_runner(reentrancy: ReentrancyPatch) -> Callable[[], None]:
    """Make every blocking call of the engine work inside the kernel's running loop; returns the undo function."""
    return engine_runner.install_blocking_runner(NestingRunner(reentrancy))


def run_blocking(awaitable: Awaitable[_T]) -> _T:
    """Run `awaitable` to completion from synchronous code, whether or not an event loop is running here (what a
    direct `run_cell_magic("miniagent", ...)` call does).

    Without a running loop it runs on IPython's own loop (the one `await` in a cell uses, so promises made in other
    cells belong to it); inside a running loop (a kernel) it goes through the engine's blocking runner — the
    `NestingRunner` while the extension is loaded.
    """
    __tracebackhide__ = True
    if running_loop_or_none() is None:
        from IPython.core.async_helpers import get_asyncio_loop

        return get_asyncio_loop().run_until_complete(awaitable)
    return engine_runner.run_blocking(
        awaitable, blocking_call="run_cell_magic('miniagent', ...)", async_alternative="%%miniagent"
    )
