"""Where the code runs: inside a Jupyter kernel (live widgets possible) or not (plain IPython, scripts: text only)."""

import asyncio
import contextvars
import importlib.util
from collections.abc import Callable
from typing import Any

__all__ = ["as_current_cell", "in_kernel", "running_loop_or_none", "widgets_available"]


def running_loop_or_none() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def widgets_available() -> bool:
    """Whether ipywidgets is installed (it is only needed for live views)."""
    return importlib.util.find_spec("ipywidgets") is not None


def in_kernel() -> bool:
    """Whether we run in an IPython kernel with a front end that can show widgets."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None and widgets_available()


def as_current_cell(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `function` (a display or a display update) as if from the cell that runs now, or ran last.

    ipykernel addresses outputs to the execution whose context the code runs in (a context variable), so an update
    made by a task that an earlier cell started — a view refreshing its static copy when its calls end — would go to
    that finished execution, which front ends and nbclient no longer listen to: the saved notebook would keep a stale
    copy. In a fresh context the kernel falls back on the latest execution, which they do listen to.
    """
    return contextvars.Context().run(function, *args, **kwargs)
