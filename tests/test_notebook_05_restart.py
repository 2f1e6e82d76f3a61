"""Notebook 05 across a real kernel restart: a run persisted before it is browsed again, from the file alone, after it.

nbval runs the notebook top to bottom in one kernel, so it cannot tell whether the cells after the restart point
secretly use what is still in memory. Here the kernel really restarts at the cell tagged `restart-point` (a new
process, same venv interpreter); the cells after it must still succeed and give the outputs stored in the notebook,
and the calls they browse must be the calls listed, from memory, before the restart.
"""

import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode
from notebook_helpers import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "05_histories.ipynb"
RESTART_TAG = "restart-point"
CALL_LISTING = "-> {call.reply_hash_key[:12]}"  # the cells that list the calls with the hash keys of their records
PROBE = (
    "import os, sys\n"
    "print(os.getpid())\n"
    "print(sys.executable)\n"
    "print(sorted(name for name in ('persisted', 'records', 'traced', 'store') if name in globals()))"
)
pytestmark = pytest.mark.timeout(180)  # two kernel starts and the notebook: well within, on a loaded machine too

NOT_COMPARED = ("text/html", "application/vnd.jupyter.widget-view+json")  # as nbval is configured for notebooks/


def _comparable(outputs: list[NotebookNode]) -> list[tuple[str, Any]]:
    """Outputs as nbval compares them: consecutive stream chunks joined, data without HTML and widget views."""
    comparable: list[tuple[str, Any]] = []
    for output in outputs:
        if output.output_type == "stream":
            if comparable and comparable[-1][0] == output.name:
                comparable[-1] = (output.name, comparable[-1][1] + output.text)
            else:
                comparable.append((output.name, output.text))
        elif output.output_type == "error":
            comparable.append(("error", f"{output.ename}: {output.evalue}"))
        else:
            comparable.append(
                (output.output_type, {key: value for key, value in output.data.items() if key not in NOT_COMPARED})
            )
    return comparable


def _stdout(cell: NotebookNode) -> str:
    return "".join(
        output.text for output in cell.outputs if output.output_type == "stream" and output.name == "stdout"
    )


def _probe_result(cell: NotebookNode) -> tuple[int, str, str]:
    pid, executable, names = _stdout(cell).splitlines()
    return int(pid), executable, names


async def test_a_run_persisted_before_a_kernel_restart_is_browsed_again_after_it(tmp_path: Path) -> None:
    stored = nbformat.read(NOTEBOOK, as_version=4)
    restart_points = [
        index for index, cell in enumerate(stored.cells) if RESTART_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    assert len(restart_points) == 1, f"notebook 05 needs exactly one cell tagged {RESTART_TAG!r}"
    (restart_point,) = restart_points
    assert stored.cells[restart_point].cell_type == "code"

    # what runs: a probe, the cells before the restart point, a probe, [restart], a probe, the rest
    before = [nbformat.from_dict(cell) for cell in stored.cells[:restart_point]]
    after = [nbformat.from_dict(cell) for cell in stored.cells[restart_point:]]
    for cell in (*before, *after):
        if cell.cell_type == "code":
            cell.outputs = []
    cells = [nbformat.v4.new_code_cell(PROBE), *before, nbformat.v4.new_code_cell(PROBE)]
    first_after = len(cells) + 1
    cells += [nbformat.v4.new_code_cell(PROBE), *after]
    executed = nbformat.v4.new_notebook(cells=cells, metadata=stored.metadata)

    # the notebook's own folder holds the file it writes; run where it cannot collide with nbval runs of notebooks/
    client = NotebookClient(
        executed, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    )
    async with client.async_setup_kernel():
        for index in range(first_after - 1):
            await client.async_execute_cell(cells[index], index)
        await client.km.restart_kernel(now=True)
        await client.kc.wait_for_ready(timeout=60)
        for index in range(first_after - 1, len(cells)):
            await client.async_execute_cell(cells[index], index)

    # a new kernel process on the venv interpreter, with none of the notebook's variables
    pid_at_start, executable, _ = _probe_result(cells[0])
    pid_before_restart, _, names_before_restart = _probe_result(cells[first_after - 2])
    pid_after_restart, executable_after_restart, names_after_restart = _probe_result(cells[first_after - 1])
    assert executable == executable_after_restart == sys.executable
    assert pid_at_start == pid_before_restart != pid_after_restart
    assert names_before_restart == "['persisted', 'records', 'store', 'traced']"
    assert names_after_restart == "[]"
    assert (tmp_path / "histories.db").is_file()

    # after the restart: the outputs stored in the notebook, though nothing was left in memory
    for offset, cell in enumerate(after):
        if cell.cell_type == "code":
            reference = stored.cells[restart_point + offset]
            assert _comparable(cell.outputs) == _comparable(reference.outputs), f"cell {restart_point + offset}"

    # the calls browsed from the file are the ones listed from memory before the restart, record for record
    (listed_before,) = [_stdout(cell) for cell in before if CALL_LISTING in cell.source]
    (listed_after,) = [_stdout(cell) for cell in after if CALL_LISTING in cell.source]
    assert listed_after == listed_before
    aliases = [line.split()[0] for line in listed_after.splitlines()]
    assert aliases == ["research", *["web_search"] * 3, *["page_scraper"] * 6]
    record_keys = re.findall(r"\b[0-9a-f]{12}\b", listed_after)
    assert len(set(record_keys)) == 20

    (inspector,) = [
        output.data
        for cell in after
        if cell.cell_type == "code" and cell.source.startswith("HistoryInspector(")
        for output in cell.outputs
        if output.output_type in ("display_data", "execute_result")
    ]
    assert inspector["text/plain"] == "History: 10 recorded calls (research: 1, web_search: 3, page_scraper: 6)"
    assert all(key in inspector["text/html"] for key in record_keys)
