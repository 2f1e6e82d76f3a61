"""Blocking until a coroutine is done, from synchronous code: the one hook that every blocking call goes through.

`PromisingContext.run()` (so `MiniAgents().run()`), `MiniAgents.run_agent()`, `chain_loop()` and `dialog_loop()`
all block with `run_blocking()`, which decides how:

- no event loop is running in this thread (a script): the coroutine runs in a new event loop (`asyncio.run`);
- an event loop is running (a Jupyter kernel runs every cell inside its loop): that loop would have to run the
  coroutine while it is still busy running the caller, which asyncio refuses. An environment that knows how to do
  it installs a *blocking runner* for that case with `install_blocking_runner()`, and removes it with the function
  that call returns — the notebook extension installs one on `%load_ext` (it makes the kernel's loop reentrant) and
  removes it on `%unload_ext`. With no runner installed, `asyncio.run` is used if something made it work inside a
  running loop (`nest_asyncio.apply()`, which some notebooks call themselves); otherwise `run_blocking()` raises a
  `RuntimeError` that names the call to `await` instead.

Every blocking call asks the same hook, so they all work — or all refuse — in the same places: whether one of them
works never depends on which other one ran first.
"""

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["BlockingRunner", "blocking_runner", "install_blocking_runner", "run_blocking"]

_T = TypeVar("_T")

BlockingRunner = Callable[[Awaitable[Any]], Any]
"""Runs an awaitable to its end and returns its result (or raises its error), called while an event loop is running.

It is called from synchronous code that runs inside that loop (`asyncio.get_running_loop()` gives it); the awaitable
must run there too, so that it can use what belongs to that loop (promises, tasks, the notebook's session).
"""

_installed_runners: list[BlockingRunner] = []
_installed_runners_lock = threading.Lock()


def install_blocking_runner(runner: BlockingRunner) -> Callable[[], None]:
    """Use `runner` whenever something has to block while an event loop is running; returns what uninstalls it.

    The most recently installed runner is the one used; uninstalling it makes the previous one current again.
    """
    with _installed_runners_lock:
        _installed_runners.append(runner)

    def uninstall() -> None:
        with _installed_runners_lock:
            for index in range(len(_installed_runners) - 1, -1, -1):
                if _installed_runners[index] is runner:
                    del _installed_runners[index]
                    return

    return uninstall


def blocking_runner() -> BlockingRunner | None:
    """The runner that blocking calls inside a running event loop use now (`None`: they refuse to block there)."""
    with _installed_runners_lock:
        return _installed_runners[-1] if _installed_runners else None


def run_blocking(
    awaitable: Awaitable[_T] | Callable[[], Awaitable[_T]],
    *,
    blocking_call: str = "run_blocking()",
    async_alternative: str = "await",
) -> _T:
    """Run `awaitable` (or call and run a no-argument async function) to its end from synchronous code.

    Without a running event loop it runs in a new one; inside a running loop it is handed to the installed
    `BlockingRunner`. With none installed (and `asyncio.run` not patched to nest), it raises a `RuntimeError` saying
    that `blocking_call` cannot block there and to use `async_alternative` instead; an async function passed as
    such is then never called, and a coroutine passed is closed, so nothing warns that it was never awaited.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(_made(awaitable)))
    runner = blocking_runner()
    if runner is not None:
        return runner(_made(awaitable))
    if asyncio.run is not asyncio.runners.run:  # made reentrant by `nest_asyncio.apply()` (some notebooks call it)
        return asyncio.run(_as_coroutine(_made(awaitable)))
    if inspect.iscoroutine(awaitable):
        awaitable.close()
    raise RuntimeError(
        f"`{blocking_call}` blocks until it is done, so it cannot run inside a running event loop; use "
        f"`{async_alternative}` there instead (in Jupyter, `%load_ext miniagents_notebook` makes blocking calls work "
        "in cells)."
    )


def _made(awaitable: Awaitable[_T] | Callable[[], Awaitable[_T]]) -> Awaitable[_T]:
    return awaitable() if callable(awaitable) and not isinstance(awaitable, Awaitable) else awaitable


def _as_coroutine(awaitable: Awaitable[_T]) -> Coroutine[Any, Any, _T]:
    if inspect.iscoroutine(awaitable):
        return awaitable

    async def await_it() -> _T:
        return await awaitable

    return await_it()
