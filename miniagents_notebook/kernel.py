"""Where the code runs: inside a Jupyter kernel (live widgets possible) or not (plain IPython, scripts: text only)."""

import asyncio
import importlib.util

__all__ = ["in_kernel", "running_loop_or_none", "widgets_available"]


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
