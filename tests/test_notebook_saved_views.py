"""What a saved notebook keeps of the views (issue 16): the final state, with no flush or wait in the user's code.

A notebook runs in a real kernel through nbclient, which applies display updates to the outputs as JupyterLab does
when it saves; the views are displayed while their calls still run, and the test compares each saved output with the
view's final state.
"""

import pytest
from notebook_helpers import EXTENSION, ExecutedNotebook

pytestmark = pytest.mark.timeout(120)

CELLS = [
    ("load", f"%load_ext {EXTENSION}"),
    (
        "agents",
        "import asyncio\n"
        "from miniagents import InteractionContext, miniagent\n"
        "from miniagents_notebook import trace\n\n"
        "@miniagent\n"
        "async def worker(ctx: InteractionContext, i: int) -> None:\n"
        "    await asyncio.sleep(0.1 * i)\n"
        "    ctx.reply(f'worker {i} done')\n\n"
        "@miniagent\n"
        "async def boss(ctx: InteractionContext) -> None:\n"
        "    ctx.reply([worker.trigger(i=i) for i in range(7)])",
    ),
    (
        "views while running",
        "with trace() as run:\n"
        "    replies = boss.trigger()\n"
        "inspector = run.inspector()\n"
        "tree = run.call_tree()\n"
        "display(inspector, tree)",
    ),
    ("later", "await asyncio.sleep(1.5)"),
    ("final", "print(inspector.to_text())\nprint('---')\nprint(tree.to_text())"),
    ("in one cell", "with trace() as quick:\n    replies = boss.trigger()\ndisplay(quick.call_tree())\nawait replies"),
    ("awaited stream", "from miniagents_notebook import stream\nawait stream(boss.trigger())"),
    ("awaited stream kept", "view = await stream(boss.trigger())"),
]


@pytest.fixture(scope="module")
def notebook() -> ExecutedNotebook:
    return ExecutedNotebook(CELLS)


def test_views_displayed_mid_run_are_saved_in_their_final_state(notebook: ExecutedNotebook) -> None:
    notebook.assert_no_errors(*(name for name, _ in CELLS))
    final_inspector, final_tree = notebook.stdout("final").rstrip("\n").split("\n---\n")
    assert final_inspector.startswith("History: 8 recorded calls")
    assert "[running]" not in final_tree and final_tree.count("[done]") == 8

    saved_inspector, saved_tree = notebook.data_outputs("views while running")
    assert saved_inspector["text/plain"] == final_inspector
    assert saved_tree["text/plain"] == final_tree
    assert "8 recorded calls" in saved_inspector["text/html"]


def test_a_view_whose_calls_end_in_its_cell_is_saved_final_when_the_cell_ends(notebook: ExecutedNotebook) -> None:
    (saved_tree,) = notebook.data_outputs("in one cell")[:1]
    assert "[running]" not in saved_tree["text/plain"], saved_tree["text/plain"]
    assert saved_tree["text/plain"].count("[done]") == 8


def test_an_awaited_stream_is_saved_once_whether_or_not_the_cell_shows_it(notebook: ExecutedNotebook) -> None:
    # live while awaited (a widget-only output), then the cell's result: the live output is left empty
    live, result = notebook.cell("awaited stream").outputs
    assert live.output_type == "display_data" and live.data == {}
    assert result.data["text/plain"].count("worker 6 done") == 1
    # not the cell's result: the live output itself becomes the static copy when the cell ends
    (kept,) = notebook.cell("awaited stream kept").outputs
    assert kept.output_type == "display_data" and "worker 6 done" in kept.data["text/plain"]
    assert set(kept.data) == {"text/plain", "text/html"}
