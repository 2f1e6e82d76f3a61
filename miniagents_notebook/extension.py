"""`load_ipython_extension` / `unload_ipython_extension`: what `%load_ext miniagents_notebook` sets up and takes down.

Loading opens the notebook-wide session, registers the displays and the magics, makes an interrupted cell cancel the
agent calls it started and a failed cell show only the user's frames (`cell_errors`), and installs the engine's
blocking runner for a running event loop (`miniagents.promising.runner`), so that `MiniAgents().run()`, `run_agent()`,
`chain_loop()` and `dialog_loop()` work in a cell (nest-asyncio is applied only when such a call actually happens).
Unloading finalizes the session (cancelling what it still runs), removes the displays, the magics and the runner,
and undoes nest-asyncio's patches.
"""

import asyncio
import warnings
from collections.abc import Callable

from IPython.core.interactiveshell import InteractiveShell

from miniagents_notebook.cell_errors import install_cell_error_handling
from miniagents_notebook.displays import register_displays
from miniagents_notebook.event_loop import ReentrancyPatch, install_nesting_runner
from miniagents_notebook.kernel import in_kernel
from miniagents_notebook.magics import MiniAgentsMagics, register_magics
from miniagents_notebook.session import NotebookSession

__all__ = ["current_session", "load_ipython_extension", "unload_ipython_extension"]


class _LoadedExtension:
    def __init__(self, shell: InteractiveShell) -> None:
        self.reentrancy = ReentrancyPatch()
        self._undo: list[Callable[[], None]] = [install_nesting_runner(self.reentrancy)]
        if not in_kernel():
            self._undo.append(_make_ipython_loop_current())
        self.session = NotebookSession()
        self._undo.append(register_displays(shell))
        self._undo.append(register_magics(shell, MiniAgentsMagics(shell, self.session)))
        self._undo.append(install_cell_error_handling(shell, self.session.cell_calls))

    def unload(self) -> None:
        try:
            self.session.close()
        finally:
            for undo in reversed(self._undo):
                undo()
            self.reentrancy.undo()


def _make_ipython_loop_current() -> Callable[[], None]:
    """Outside a kernel, agents triggered in a cell without `await` must start on the loop `await` cells run on.

    Plain IPython runs such cells with no event loop at all; making its own loop the thread's current one sends the
    agents' tasks there, so they run during the next `await` cell (or `%%miniagent` run).
    """
    from IPython.core.async_helpers import get_asyncio_loop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            previous = asyncio.get_event_loop()
        except RuntimeError:
            previous = None
    asyncio.set_event_loop(get_asyncio_loop())
    return lambda: asyncio.set_event_loop(previous)


_loaded: _LoadedExtension | None = None


def current_session() -> NotebookSession:
    """The notebook-wide session of the loaded extension (what `%miniagents` shows and changes)."""
    if _loaded is None:
        raise RuntimeError("The miniagents_notebook extension is not loaded: run `%load_ext miniagents_notebook`.")
    return _loaded.session


def load_ipython_extension(shell: InteractiveShell) -> None:
    """`%load_ext miniagents_notebook` (or `c.InteractiveShellApp.extensions = ["miniagents_notebook"]`)."""
    global _loaded
    if _loaded is not None:
        _loaded.unload()
    _loaded = _LoadedExtension(shell)


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """`%unload_ext miniagents_notebook`: finalize the session and restore IPython and asyncio as they were."""
    global _loaded
    if _loaded is not None:
        loaded, _loaded = _loaded, None
        loaded.unload()
