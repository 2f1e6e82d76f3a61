"""Helpers for the notebook-layer tests: an IPython shell with the extension loaded, and notebooks run in a kernel.

Kernel tests use the `python3` kernelspec that ipykernel installs into the virtual environment
(`<venv>/share/jupyter/kernels/python3`, whose `python` jupyter_client replaces by the running interpreter), so the
kernel runs on the same interpreter and packages as the tests; `assert_kernel_is_ours` checks it. The kernel starts
in the repository root, like a notebook opened from there.
"""

import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output
from nbclient import NotebookClient
from nbformat import NotebookNode

import miniagents_notebook

REPO_ROOT = Path(__file__).resolve().parents[1]
EXTENSION = "miniagents_notebook"

if getattr(miniagents_notebook, "__file__", None) is None:
    raise RuntimeError(
        "`miniagents_notebook` is imported as a namespace package: the editable install predates its `__init__.py`. "
        "Re-install the project (`pip install -e .`) and run the tests again."
    )

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


# --- an in-process IPython shell -------------------------------------------------------------------------------------


def get_shell() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.colors = "nocolor"
    return shell


@contextmanager
def loaded_shell() -> Iterator[InteractiveShell]:
    """The IPython shell with the extension loaded for the duration of the block (and unloaded after it)."""
    shell = get_shell()
    shell.run_line_magic("load_ext", EXTENSION)
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", EXTENSION)


def run_cell(shell: InteractiveShell, code: str) -> tuple[Any, CapturedIO]:
    """Run a cell like a front end would; returns its result object and what it displayed/printed."""
    with capture_output() as captured:
        result = shell.run_cell(code, store_history=True)
    return result, captured


def printed(captured: CapturedIO) -> str:
    """Everything a cell printed (stdout and stderr, where usage errors go), without colour codes."""
    return strip_ansi(captured.stdout + captured.stderr)


def run_ok(shell: InteractiveShell, code: str) -> Any:
    """Run a cell that must succeed; returns the value of its last expression."""
    result, captured = run_cell(shell, code)
    if not result.success:
        raise AssertionError(f"cell failed: {result.error_before_exec or result.error_in_exec!r}\n{captured.stdout}")
    return result.result


# --- notebooks executed by a kernel ----------------------------------------------------------------------------------


class RecordingClient(NotebookClient):
    """An nbclient that also keeps every comm message it receives, as a front end would get them."""

    def __init__(self, nb: NotebookNode, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self.comm_messages: list[tuple[int, dict[str, Any]]] = []

    def handle_comm_msg(self, outs: list[NotebookNode], msg: dict[str, Any], cell_index: int) -> None:
        self.comm_messages.append((cell_index, msg))
        super().handle_comm_msg(outs, msg, cell_index)

    def state_updates(self, model_id: str, key: str) -> list[Any]:
        """The values of `key` that the kernel sent for the widget `model_id`, in order (its opening state first)."""
        values = []
        for _, message in self.comm_messages:
            content = message["content"]
            state = content.get("data", {}).get("state", {})
            if content.get("comm_id") == model_id and key in state:
                values.append(state[key])
        return values


class ExecutedNotebook:
    """A notebook built from named cells and executed by one kernel; look cells up by name."""

    def __init__(
        self,
        cells: Sequence[tuple[str, str]],
        timeout: int = 30,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._index = {name: position for position, (name, _) in enumerate(cells)}
        self.nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for _, source in cells])
        self.client = RecordingClient(
            self.nb,
            kernel_name="python3",
            timeout=timeout,
            allow_errors=True,
            resources={"metadata": {"path": str(REPO_ROOT)}},
        )
        self.client.execute(**({"env": {**os.environ, **env}} if env else {}))
        nbformat.validate(self.nb)

    def cell(self, name: str) -> NotebookNode:
        return self.nb.cells[self._index[name]]

    def index(self, name: str) -> int:
        return self._index[name]

    def stdout(self, name: str) -> str:
        return "".join(output.text for output in self.cell(name).outputs if output.output_type == "stream")

    def error(self, name: str) -> NotebookNode | None:
        return next((output for output in self.cell(name).outputs if output.output_type == "error"), None)

    def data_outputs(self, name: str) -> list[dict[str, Any]]:
        """The `data` of the display / result outputs of a cell, in order."""
        return [
            output.data
            for output in self.cell(name).outputs
            if output.output_type in ("display_data", "execute_result")
        ]

    def assert_no_errors(self, *names: str) -> None:
        for name in names:
            error = self.error(name)
            assert error is None, f"cell {name!r} failed: {strip_ansi(chr(10).join(error.traceback))}"


def assert_kernel_is_ours(notebook: ExecutedNotebook, cell_name: str) -> None:
    """The cell printed the kernel's `sys.executable`: it must be this interpreter (the venv's ipykernel)."""
    assert notebook.stdout(cell_name).strip() == sys.executable
