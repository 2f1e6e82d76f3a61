"""Re-execute the tutorial notebooks in place, so that their stored outputs match the code (nbval compares the two).

    python notebooks/regenerate.py                              # every notebook in this folder
    python notebooks/regenerate.py 02_sequence_flattening.ipynb # some of them

Each notebook runs top to bottom in a fresh kernel of this interpreter, in this folder, with the offline LLM
stand-in forced — the way `pytest --nbval` runs them. Widget state is not stored: without it, GitHub and nbconvert
show the static HTML copy that every view puts next to its widget (and a kernel makes the widgets live again).
Consecutive printed outputs are merged into one, as Jupyter shows them, and displays left empty (the live view of a
`%%miniagent` run, cleared when the run ends) are dropped; neither changes what nbval compares.
"""

import os
import sys
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

from miniagents.ext.llms import OFFLINE_ENV_VAR

__all__ = ["regenerate"]

NOTEBOOKS_DIR = Path(__file__).resolve().parent
CELL_TIMEOUT_SECONDS = 120


def _tidy(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """Merge consecutive printed outputs, and drop displays left empty (a live view cleared when its run ended)."""
    merged: list[NotebookNode] = []
    for output in outputs:
        if output.output_type == "display_data" and not output.data:
            continue
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and output.output_type == previous.output_type == "stream"
            and output.name == previous.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def regenerate(path: Path) -> None:
    """Execute the notebook at `path` and save it with the new outputs."""
    notebook = nbformat.read(path, as_version=4)
    kernel_manager = KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager())
    client = NotebookClient(
        notebook,
        km=kernel_manager,
        timeout=CELL_TIMEOUT_SECONDS,
        store_widget_state=False,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    finally:
        if kernel_manager.has_kernel:
            kernel_manager.shutdown_kernel(now=True)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = _tidy(cell.outputs)
    nbformat.write(notebook, path)


def main(names: list[str]) -> None:
    os.environ[OFFLINE_ENV_VAR] = "1"  # the kernels inherit it: stored outputs come from the offline stand-in
    paths = [NOTEBOOKS_DIR / name for name in names] if names else sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb"))
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        regenerate(path)


if __name__ == "__main__":
    main(sys.argv[1:])
