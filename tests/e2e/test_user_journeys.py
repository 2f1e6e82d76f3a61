"""What a person does with the views in JupyterLab, and what the page then shows (issue 16).

Each test writes a small notebook, runs it in JupyterLab (headless Chromium), then clicks, interrupts or watches as a
user would and reads the text the page shows.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from e2e_lab_page import LabNotebook
from e2e_requirements import require_module

if TYPE_CHECKING:
    from playwright.sync_api import Locator

expect = require_module("playwright.sync_api").expect

pytestmark = pytest.mark.timeout(150)

RENDER_TIMEOUT_MS = 20_000
LIVE_OUTPUT = ".jp-OutputArea-output:not([data-mime-type])"
CALL_TREE = f"{LIVE_OUTPUT} .ma-call-tree"
INSPECTOR = f"{LIVE_OUTPUT} .ma-inspector"
GARBAGE = ("null", "undefined", "[object")


def _write_notebook(path: Path, *sources: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, path)


FAN_OUT_CELLS = (
    "%load_ext miniagents_notebook",
    "import asyncio\n"
    "from miniagents import InteractionContext, miniagent\n"
    "from miniagents_notebook import trace\n\n"
    "@miniagent\n"
    "async def worker(ctx: InteractionContext, i: int) -> None:\n"
    "    async for message in ctx.message_promises:\n"
    "        ctx.reply(f'worker {i} read: {await message}')\n\n"
    "@miniagent\n"
    "async def broken(ctx: InteractionContext) -> None:\n"
    "    ctx.reply('about to fail')\n"
    "    raise ValueError('the broken agent broke')\n\n"
    "@miniagent\n"
    "async def boss(ctx: InteractionContext) -> None:\n"
    "    ctx.reply([worker.trigger(f'task {i}', i=i) for i in range(12)])\n"
    "    ctx.reply(broken.trigger('go'))\n\n"
    "with trace() as run:\n"
    "    replies = boss.trigger('start')\n"
    "try:\n"
    "    await replies\n"
    "except ValueError:\n"
    "    pass",
    "run.call_tree()",
    "run.inspector()",
    "%miniagents history",
)


def _rows_share_of_width(view: "Locator") -> float:
    return view.evaluate(
        "view => view.querySelector('.ma-split > .ma-rows').getBoundingClientRect().width"
        " / view.querySelector('.ma-split').getBoundingClientRect().width"
    )


def _details_text(view: "Locator") -> str:
    return view.locator(".ma-details").inner_text()


def test_clicking_a_call_shows_its_messages(lab_root: Path, open_notebook: Callable[..., LabNotebook]) -> None:
    _write_notebook(lab_root / "e2e_click_calls.ipynb", *FAN_OUT_CELLS)
    notebook = open_notebook("e2e_click_calls.ipynb")
    notebook.run_all_cells()
    page = notebook.page

    tree = page.locator(CALL_TREE).first
    row = tree.locator(".ma-row", has_text="worker (i=7)").first
    expect(row).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    # with nothing selected, the rows (and their previews) take most of the width
    assert _rows_share_of_width(tree) > 0.75
    row.click()
    details = tree.locator(".ma-details")
    expect(details).to_contain_text("worker (i=7)", timeout=RENDER_TIMEOUT_MS)
    expect(details).to_contain_text("Input messages (1)")
    expect(details).to_contain_text("task 7")
    expect(details).to_contain_text("Replies (1)")
    expect(details).to_contain_text("worker 7 read: task 7")
    text = _details_text(tree)
    assert not any(garbage in text for garbage in GARBAGE), text

    tree.locator(".ma-row", has_text="broken").first.click()
    expect(details).to_contain_text("the broken agent broke", timeout=RENDER_TIMEOUT_MS)
    expect(details).to_contain_text("ValueError")
    text = _details_text(tree)
    assert not any(garbage in text for garbage in GARBAGE), text

    inspector = page.locator(INSPECTOR).first
    failed = inspector.locator(".ma-row", has_text="broken").first
    expect(failed.locator(".ma-status")).to_have_text("✗", timeout=RENDER_TIMEOUT_MS)
    failed.click()
    expect(inspector.locator(".ma-details")).to_contain_text("ValueError: the broken agent broke")
    inspector.locator(".ma-row", has_text="worker (i=3)").first.click()
    inspector_details = inspector.locator(".ma-details")
    expect(inspector_details).to_contain_text("task 3", timeout=RENDER_TIMEOUT_MS)
    expect(inspector_details).to_contain_text("worker 3 read: task 3")
    text = _details_text(inspector)
    assert not any(garbage in text for garbage in GARBAGE), text

    session_inspector = page.locator(INSPECTOR).nth(1)  # everything the session did, not only the trace
    failed = session_inspector.locator(".ma-row", has_text="broken").first
    expect(failed.locator(".ma-status")).to_have_text("✗", timeout=RENDER_TIMEOUT_MS)
    expect(session_inspector.locator(".ma-row", has_text="worker (i=3)").first.locator(".ma-status")).to_have_text("✓")
    failed.click()
    expect(session_inspector.locator(".ma-details")).to_contain_text("ValueError: the broken agent broke")
    assert notebook.page_errors() == []


STREAMED_WORDS = [f"word{index}" for index in range(40)]
STREAM_CELLS = (
    "%load_ext miniagents_notebook",
    "import asyncio\n"
    "from miniagents import InteractionContext, TextMessage, miniagent\n"
    "from miniagents_notebook import stream\n\n"
    "@miniagent\n"
    "async def slow_writer(ctx: InteractionContext) -> None:\n"
    "    async def words(metadata_so_far):\n"
    "        for index in range(40):\n"
    "            await asyncio.sleep(0.1)\n"
    "            yield f'word{index} '\n"
    "    ctx.reply(TextMessage.promise(message_token_streamer=words))\n\n"
    "await stream(slow_writer.trigger())",
)


def test_awaited_stream_shows_text_while_it_streams(lab_root: Path, open_notebook: Callable[..., LabNotebook]) -> None:
    _write_notebook(lab_root / "e2e_awaited_stream.ipynb", *STREAM_CELLS)
    notebook = open_notebook("e2e_awaited_stream.ipynb")
    page = notebook.page
    notebook.start_running_all_cells()

    output = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea")
    expect(output).to_contain_text(STREAMED_WORDS[3], timeout=RENDER_TIMEOUT_MS)
    partial = output.inner_text()
    assert notebook.is_running(), "the run ended before any text was shown: the stream was not live"
    assert STREAMED_WORDS[-1] not in partial, partial

    page.wait_for_function("() => window.__e2eRunAll !== undefined", timeout=60_000, polling=250)
    final = output.inner_text()
    assert all(word in final for word in STREAMED_WORDS), final
    assert final.count(STREAMED_WORDS[0]) == 1, final  # shown once: the live output gave way to the result
    assert notebook.page_errors() == []


TIMELINE = f"{LIVE_OUTPUT} .ma-timeline"
FAN_OUT_200_CELLS = (
    "%load_ext miniagents_notebook",
    "import asyncio\n"
    "from miniagents import InteractionContext, miniagent\n"
    "from miniagents_notebook import trace\n\n"
    "@miniagent\n"
    "async def worker(ctx: InteractionContext, i: int) -> None:\n"
    "    ctx.reply(f'worker {i} done')\n\n"
    "@miniagent\n"
    "async def boss(ctx: InteractionContext) -> None:\n"
    "    ctx.reply([worker.trigger(i=i) for i in range(200)])\n\n"
    "with trace() as run:\n"
    "    replies = boss.trigger()\n"
    "await replies",
    "run.call_tree()",
    "run.timeline()",
    "run.call_tree(child_limit=500, max_rows=100)",
)


def test_a_200_call_fan_out_reads_and_expands(lab_root: Path, open_notebook: Callable[..., LabNotebook]) -> None:
    _write_notebook(lab_root / "e2e_fan_out.ipynb", *FAN_OUT_200_CELLS)
    notebook = open_notebook("e2e_fan_out.ipynb")
    notebook.run_all_cells()
    page = notebook.page

    tree = page.locator(CALL_TREE).first
    expect(tree.locator(".ma-header")).to_contain_text("Agent calls: 201", timeout=RENDER_TIMEOUT_MS)
    expect(tree.locator(".ma-header")).to_contain_text("201 done")
    expect(tree.locator(".ma-row", has_text="worker (i=7)")).to_have_count(1)
    expect(tree.locator(".ma-row", has_text="worker (i=199)")).to_have_count(0)
    tree.locator(".ma-more", has_text="150 more").click()
    expect(tree.locator(".ma-row", has_text="worker (i=199)")).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
    expect(tree.locator(".ma-more")).to_have_count(0)

    timeline = page.locator(TIMELINE).first
    header = timeline.locator(".ma-header")
    expect(header).to_contain_text("Timeline: 201 calls (51 shown)", timeout=RENDER_TIMEOUT_MS)
    expect(header).to_contain_text("201 done")
    expect(timeline.locator(".ma-timeline-row", has_text="worker (i=7)")).to_have_count(1)
    timeline.locator(".ma-more", has_text="150 more calls not shown").click()
    expect(timeline.locator(".ma-timeline-row")).to_have_count(201, timeout=RENDER_TIMEOUT_MS)
    expect(timeline.locator(".ma-timeline-row", has_text="worker (i=199)")).to_have_count(1)
    expect(header).to_contain_text("Timeline: 201 calls")
    expect(header).not_to_contain_text("shown")

    capped = page.locator(CALL_TREE).nth(1)  # every child shown, but at most 100 rows
    expect(capped.locator(".ma-row:not(.ma-more)")).to_have_count(100, timeout=RENDER_TIMEOUT_MS)
    capped.locator(".ma-more", has_text="101 more").click()
    expect(capped.locator(".ma-row", has_text="worker (i=199)")).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
    expect(capped.locator(".ma-row:not(.ma-more)")).to_have_count(201)
    expect(capped.locator(".ma-more")).to_have_count(0)
    assert notebook.page_errors() == []


INTERRUPT_CELLS = (
    "%load_ext miniagents_notebook",
    "import asyncio\n"
    "from miniagents import InteractionContext, miniagent\n\n"
    "ticks = {'n': 0}\n\n"
    "@miniagent\n"
    "async def ticker(ctx: InteractionContext) -> None:\n"
    "    while True:\n"
    "        ticks['n'] += 1\n"
    "        await asyncio.sleep(0.01)",
    "await ticker.trigger()",
    "before = ticks['n']\nawait asyncio.sleep(0.5)\nprint('growth after the interrupt:', ticks['n'] - before)",
)

_RUN_CELL_JS = """
([path, index]) => {
    const app = window.jupyterapp;
    const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
    panel.content.activeCellIndex = index;
    return app.commands.execute('notebook:run-cell');
}
"""


def test_interrupting_the_kernel_stops_the_cells_agents(
    lab_root: Path, open_notebook: Callable[..., LabNotebook]
) -> None:
    _write_notebook(lab_root / "e2e_interrupt.ipynb", *INTERRUPT_CELLS)
    notebook = open_notebook("e2e_interrupt.ipynb")
    page = notebook.page
    notebook.start_running_all_cells()
    page.wait_for_timeout(2_000)  # the ticker runs
    assert notebook.is_running()
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:interrupt')")  # the ■ button's command

    interrupted = page.locator(".jp-Cell").nth(2).locator(".jp-OutputArea")
    expect(interrupted).to_have_text("Interrupted: 1 agent call cancelled", timeout=RENDER_TIMEOUT_MS)
    page.wait_for_function("() => window.__e2eRunAll !== undefined", timeout=RENDER_TIMEOUT_MS, polling=250)

    page.evaluate(_RUN_CELL_JS, [notebook.path, 3])  # the next cell runs, and the ticker stays stopped
    expect(page.locator(".jp-Cell").nth(3).locator(".jp-OutputArea")).to_have_text(
        "growth after the interrupt: 0", timeout=RENDER_TIMEOUT_MS
    )
    assert notebook.page_errors() == []


BIG_RUN_CELLS = (
    "%load_ext miniagents_notebook",
    "from miniagents import InteractionContext, miniagent\n\n"
    "@miniagent\n"
    "async def worker(ctx: InteractionContext, i: int) -> None:\n"
    "    ctx.reply(f'worker {i} done')",
    "%%miniagent\nctx.reply([worker.trigger(i=i) for i in range(200)])",
)


def test_a_run_with_200_replies_folds_most_of_them(lab_root: Path, open_notebook: Callable[..., LabNotebook]) -> None:
    _write_notebook(lab_root / "e2e_big_run.ipynb", *BIG_RUN_CELLS)
    notebook = open_notebook("e2e_big_run.ipynb")
    notebook.run_all_cells()
    output = notebook.page.locator(".jp-Cell").nth(2).locator(".jp-OutputArea")

    more = output.locator("summary", has_text="… 180 more messages")
    expect(more).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(output.get_by_text("worker 19 done", exact=True)).to_be_visible()
    expect(output.get_by_text("worker 199 done", exact=True)).to_be_hidden()
    height = output.evaluate("node => node.getBoundingClientRect().height")
    assert height < 2_000, height  # the calls below the replies are in reach
    more.click()
    expect(output.get_by_text("worker 199 done", exact=True)).to_be_visible()
    assert notebook.page_errors() == []


RESULT_CELLS = (
    "%load_ext miniagents_notebook",
    "from miniagents import InteractionContext, miniagent\n"
    "from miniagents.ext.llms import OpenAIAgent\n\n"
    "@miniagent\n"
    "async def counter(ctx: InteractionContext, n: int) -> None:\n"
    "    ctx.reply([f'number {i}' for i in range(n)])",
    "await counter.trigger(n=2)",
    "await OpenAIAgent.trigger('What is MiniAgents?', model='gpt-4o-mini')",
    "await counter.trigger(n=25)",
)


def test_awaited_replies_show_as_messages_with_their_metadata_one_click_away(
    lab_root: Path, open_notebook: Callable[..., LabNotebook]
) -> None:
    _write_notebook(lab_root / "e2e_results.ipynb", *RESULT_CELLS)
    notebook = open_notebook("e2e_results.ipynb")
    notebook.run_all_cells()
    cells = notebook.page.locator(".jp-Cell")

    two = cells.nth(2).locator(".jp-OutputArea")
    expect(two).to_contain_text("2 messages", timeout=RENDER_TIMEOUT_MS)
    expect(two.locator(".miniagents-message")).to_have_count(2)
    expect(two.get_by_text("number 1", exact=True)).to_be_visible()
    assert "TextMessage(class_=" not in two.inner_text()

    llm = cells.nth(3).locator(".jp-OutputArea")
    header = llm.locator(".miniagents-message > div").first
    expect(header).to_contain_text("assistant", timeout=RENDER_TIMEOUT_MS)
    for wanted in ("OpenAIAgent", "gpt-4o-mini", "finish_reason", "tokens"):
        expect(header).to_contain_text(wanted)
    raw = llm.locator("details.miniagents-metadata")
    expect(raw.get_by_text("system_fingerprint", exact=False)).to_be_hidden()
    assert "chatcmpl-" not in llm.inner_text()
    raw.locator("summary").click()
    expect(raw.get_by_text("system_fingerprint", exact=False)).to_be_visible()
    expect(raw).to_contain_text("chatcmpl-")

    many = cells.nth(4).locator(".jp-OutputArea")
    expect(many).to_contain_text("25 messages", timeout=RENDER_TIMEOUT_MS)
    more = many.locator("summary", has_text="… 5 more messages")
    expect(more).to_be_visible()
    expect(many.get_by_text("number 24", exact=True)).to_be_hidden()
    more.click()
    expect(many.get_by_text("number 24", exact=True)).to_be_visible()
    assert notebook.page_errors() == []
