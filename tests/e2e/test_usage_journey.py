"""Tokens, cost and the wait for an LLM slot, read in JupyterLab the way a person reads them (issue 17).

A small notebook runs a tool-using LLM agent (the offline stand-in, through the real OpenAI SDK) twice at once under
`max_concurrency=1`, with prices given for the stand-in's model, and shows the call tree, the timeline and the
inspector. The test reads the run's tokens and cost in the headers, a call's in its row and its details panel, and the
wait for a slot by hovering the timeline bar that shows it, and compares them with what the kernel printed.
"""

import re
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

USAGE_CELLS = (
    "%load_ext miniagents_notebook",
    "import asyncio\n"
    "from miniagents import InteractionContext, miniagent\n"
    "from miniagents.ext.llms import OpenAIAgent\n"
    "from miniagents_notebook import trace\n\n"
    "@miniagent\n"
    "async def weather_agent(ctx: InteractionContext, city: str) -> None:\n"
    '    """The current weather in a city."""\n'
    "    ctx.reply(f'Sunny in {city}.')\n\n"
    "assistant = OpenAIAgent.fork(\n"
    "    model='offline-demo', tools=[weather_agent], max_concurrency=1,\n"
    "    usd_per_million_tokens={'input': 2.0, 'output': 8.0},\n"
    ")\n"
    "with trace() as run:\n"
    "    questions = [assistant.trigger(f'Weather in {city}?') for city in ('Paris', 'Rome')]\n"
    "    answers = [reply for [reply] in await asyncio.gather(*questions)]\n"
    "tokens = sum(answer.token_usage.input_tokens + answer.token_usage.output_tokens for answer in answers)\n"
    "cost = sum(answer.cost_usd for answer in answers)\n"
    "waits = ' '.join(f'{answer.queued_seconds:.2f}' for answer in answers)\n"
    "print(f'EXPECTED {tokens} tokens, {cost:.9f} USD, waits {waits}')",
    "run.call_tree()",
    "run.timeline()",
    "run.inspector()",
)
SHOWN = re.compile(r"([\d,]+) tokens(?: \([^)]*\))? · \$([\d.]+)")


def _shown(text: str) -> tuple[int, float]:
    """(tokens, dollars) as the page shows them: `1,234 tokens · $0.0012`."""
    match = SHOWN.search(text)
    assert match, f"no tokens and cost in {text!r}"
    return int(match[1].replace(",", "")), float(match[2])


def _assert_shows(element: "Locator", tokens: int, cost: float) -> None:
    expect(element).to_contain_text(f"{tokens:,} tokens", timeout=RENDER_TIMEOUT_MS)
    shown_tokens, shown_cost = _shown(element.inner_text())
    assert shown_tokens == tokens
    assert shown_cost == pytest.approx(cost, rel=0.05)  # two significant digits


def _assert_fully_in_view(badge: "Locator", row: "Locator") -> None:
    """The badge is drawn whole inside its row (rows cut what does not fit: a clipped badge cannot be read)."""
    badge_box, row_box = badge.bounding_box(), row.bounding_box()
    assert badge_box["width"] > 0
    assert row_box["x"] <= badge_box["x"]
    assert badge_box["x"] + badge_box["width"] <= row_box["x"] + row_box["width"] + 1


def test_tokens_cost_and_the_wait_for_a_slot_show_in_the_tree_timeline_and_inspector(
    lab_root: Path, open_notebook: Callable[..., LabNotebook]
) -> None:
    notebook_file = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in USAGE_CELLS])
    notebook_file.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook_file, lab_root / "e2e_usage.ipynb")
    notebook = open_notebook("e2e_usage.ipynb")
    notebook.run_all_cells()
    page = notebook.page

    printed = page.locator(".jp-OutputArea-output", has_text="EXPECTED").first
    expect(printed).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expected = re.search(r"EXPECTED (\d+) tokens, ([\d.]+) USD, waits ([\d.]+) ([\d.]+)", printed.inner_text())
    assert expected, printed.inner_text()
    tokens, cost = int(expected[1]), float(expected[2])
    waits = sorted(wait for wait in (expected[3], expected[4]) if float(wait) > 0)
    assert waits  # one request at a time: the other one queued

    # the call tree: the run's total in the header, each LLM call's (with its tool call) in its row and details
    tree = page.locator(f"{LIVE_OUTPUT} .ma-call-tree").first
    _assert_shows(tree.locator(".ma-header"), tokens, cost)
    llm_rows = tree.locator(".ma-row", has_text="OpenAIAgent")
    expect(llm_rows).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
    row_tokens = [_shown(llm_rows.nth(index).locator(".ma-usage").inner_text())[0] for index in range(2)]
    _assert_fully_in_view(llm_rows.first.locator(".ma-usage"), llm_rows.first)  # not cut off by long kwargs
    assert sum(row_tokens) == tokens
    expect(tree.locator(".ma-row", has_text="weather_agent").first.locator(".ma-usage")).to_have_count(0)
    llm_rows.first.click()
    details = tree.locator(".ma-details")
    expect(details).to_contain_text("Usage", timeout=RENDER_TIMEOUT_MS)
    assert _shown(details.inner_text())[0] == row_tokens[0]

    # the timeline: the run's total in the header; hovering a bar with a hatched wait says how long it was
    timeline = page.locator(f"{LIVE_OUTPUT} .ma-timeline").first
    _assert_shows(timeline.locator(".ma-header"), tokens, cost)
    queued_rows = timeline.locator(".ma-timeline-row", has=page.locator(".ma-bar-queued"))
    expect(queued_rows).to_have_count(len(waits), timeout=RENDER_TIMEOUT_MS)
    info = timeline.locator(".ma-info")
    shown_waits = []
    for index in range(len(waits)):
        row = queued_rows.nth(index)
        assert row.locator(".ma-bar-queued").bounding_box()["width"] > 0
        row.locator(".ma-track").hover()
        expect(info).to_contain_text("for an LLM slot", timeout=RENDER_TIMEOUT_MS)
        expect(info).to_contain_text("tokens")
        shown_waits.append(re.search(r"queued ([\d.]+) s for an LLM slot", info.inner_text())[1])
        assert _shown(info.inner_text())[0] in row_tokens
    assert sorted(shown_waits) == waits

    # the inspector: the same totals from the calls' records
    inspector = page.locator(f"{LIVE_OUTPUT} .ma-inspector").first
    _assert_shows(inspector.locator(".ma-header"), tokens, cost)
    inspector_row = inspector.locator(".ma-row", has_text="OpenAIAgent").first
    expect(inspector_row.locator(".ma-usage")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    _assert_fully_in_view(inspector_row.locator(".ma-usage"), inspector_row)
    inspector_row.click()
    inspector_details = inspector.locator(".ma-details")
    expect(inspector_details).to_contain_text("Usage", timeout=RENDER_TIMEOUT_MS)
    assert _shown(inspector_details.inner_text())[0] in row_tokens
    assert notebook.page_errors() == []
