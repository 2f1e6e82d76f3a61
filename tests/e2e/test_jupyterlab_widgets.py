"""JupyterLab 4 and Notebook 7 in headless Chromium render the notebook widgets (issue 10).

`test_harness_detects_widget_rendering` proves the harness itself on a notebook written here: ipywidgets and an
anywidget render, and a broken front end (an ES module with a syntax error) makes the same check fail although the
kernel side ran fine. `test_widgets_tour` runs `notebooks/04_widgets_tour.ipynb` in each front end and checks what a
reader sees, with the same checks for both.
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from e2e_lab_page import FrontEnd, LabNotebook
from e2e_requirements import require_module

if TYPE_CHECKING:
    from playwright.sync_api import Locator

expect = require_module("playwright.sync_api").expect

pytestmark = pytest.mark.timeout(150)

RENDER_TIMEOUT_MS = 20_000
BROKEN_RENDER_TIMEOUT_MS = 5_000
WIDGET_VIEW_MIME_TYPE = "application/vnd.jupyter.widget-view+json"

PROBE_ESM = """
function render({ model, el }) {
    const probe = document.createElement("span");
    probe.className = "e2e-anywidget-probe";
    probe.textContent = model.get("label");
    el.appendChild(probe);
}
export default { render };
"""
BROKEN_PROBE_ESM = PROBE_ESM.replace("render({ model, el })", "render({ model, el }")


def _write_probe_notebook(path: Path, esm: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import ipywidgets\n"
            "display(ipywidgets.IntSlider(value=7, description='e2e slider'),\n"
            "        ipywidgets.HTML(\"<b class='e2e-html'>hello from ipywidgets</b>\"))"
        ),
        nbformat.v4.new_code_cell(
            "import anywidget, traitlets\n\n"
            "class Probe(anywidget.AnyWidget):\n"
            f'    _esm = """{esm}"""\n'
            "    label = traitlets.Unicode('synced from the kernel').tag(sync=True)\n\n"
            "Probe()"
        ),
    ]
    nbformat.write(notebook, path)


def _expect_probe_rendered(notebook: LabNotebook, timeout_ms: float) -> None:
    expect(notebook.page.locator(".e2e-anywidget-probe")).to_have_text("synced from the kernel", timeout=timeout_ms)


@pytest.mark.parametrize("probe", ["working", "broken"])
def test_harness_detects_widget_rendering(
    probe: str, lab_root: Path, open_notebook: Callable[..., LabNotebook]
) -> None:
    name = f"e2e_probe_{probe}.ipynb"
    _write_probe_notebook(lab_root / name, PROBE_ESM if probe == "working" else BROKEN_PROBE_ESM)
    notebook = open_notebook(name)
    notebook.run_all_cells()

    page = notebook.page
    expect(page.locator(".widget-slider .widget-readout")).to_have_text("7", timeout=RENDER_TIMEOUT_MS)
    expect(page.locator(".widget-slider .widget-label")).to_have_text("e2e slider")
    expect(page.locator(".e2e-html")).to_have_text("hello from ipywidgets")
    # All three widgets reached the front end as widget views: whatever fails below is the browser's doing.
    assert notebook.output_mime_types().count(WIDGET_VIEW_MIME_TYPE) == 3

    if probe == "working":
        _expect_probe_rendered(notebook, RENDER_TIMEOUT_MS)
        assert notebook.page_errors() == []
    else:
        with pytest.raises(AssertionError, match="e2e-anywidget-probe"):
            _expect_probe_rendered(notebook, BROKEN_RENDER_TIMEOUT_MS)
        assert any("SyntaxError" in error for error in notebook.console_errors), notebook.console_errors


# --- notebooks/04_widgets_tour.ipynb ---------------------------------------------------------------------------------
# Each view is compared twice: with what the tour is about (the agents below and their final statuses) and with the
# deterministic `text/plain` the kernel sent next to the widget (what nbval checks), so that the browser is shown to
# display exactly the calls the kernel recorded.

TOUR = "04_widgets_tour.ipynb"
TOUR_STREAMED_TEXT = "This sentence streams into the view one word at a time."
TOUR_RUN = [
    ("research_agent", "done"),
    ("web_search_agent", "done"),
    ("page_scraper_agent", "done"),
    ("page_scraper_agent", "done"),
    ("web_search_agent", "done"),
    ("page_scraper_agent", "done"),
    ("page_scraper_agent", "done"),
]
TOUR_FAILING_RUN = [("flaky_scraper_agent", "error")]

LIVE_OUTPUT = ".jp-OutputArea-output:not([data-mime-type])"
"""An output rendered by a widget view (a static `text/html` or `text/plain` copy carries `data-mime-type`)."""
CALL_TREE = f"{LIVE_OUTPUT} .ma-call-tree"
TIMELINE = f"{LIVE_OUTPUT} .ma-timeline"
STREAM_MESSAGES = ".miniagents-messages"
UNFINISHED = ".ma-status-waiting, .ma-status-running"


def _calls_in_text(text: str) -> list[tuple[str, str]]:
    """(alias, status) of each line `├─ alias [status]` of a view's `text/plain`."""
    calls = []
    for line in text.splitlines():
        match = re.fullmatch(r"(.+) \[(\w+)\]", line.lstrip("│├└─ "))
        if match:
            calls.append((match[1], match[2]))
    return calls


def _shown_calls(view: "Locator", row: str, alias: str) -> list[tuple[str, str]]:
    """(alias, status) of each `row` of a view as the browser shows it (`alias`: the element holding the alias)."""
    return [
        (shown_alias.strip(), status)
        for shown_alias, status in view.evaluate(
            "(view, [row, alias]) => Array.from(view.querySelectorAll(row)).filter(r => r.querySelector('.ma-status'))"
            ".map(r => [r.querySelector(alias).textContent.replace(r.querySelector('.ma-status').textContent, ''),"
            " r.querySelector('.ma-status').title])",
            [row, alias],
        )
    ]


def _normalized(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _check_stream_view(notebook: LabNotebook, messages: "Locator", first_text: str) -> None:
    """The first message reads `first_text`, and every message shown is text the kernel sent."""
    boxes = messages.locator(".miniagents-message")
    expect(boxes.first).to_contain_text(first_text, timeout=RENDER_TIMEOUT_MS)
    bodies = boxes.evaluate_all(
        "boxes => boxes.map(box => Array.from(box.children).slice(1).map(part => part.innerText).join(' '))"
    )
    sent = _normalized(notebook.kernel_output(messages)["text/plain"])
    assert all(_normalized(body) and _normalized(body) in sent for body in bodies), (bodies, sent)


def _check_call_tree(notebook: LabNotebook, tree: "Locator") -> list[tuple[str, str]]:
    """The calls the tree shows once they are all over: the kernel's calls, in the kernel's order."""
    expect(tree.locator(".ma-row").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(tree.locator(UNFINISHED)).to_have_count(0, timeout=RENDER_TIMEOUT_MS)
    shown = _shown_calls(tree, ".ma-row", ".ma-alias")
    assert shown == _calls_in_text(notebook.kernel_output(tree)["text/plain"])
    expect(tree.locator(".ma-header")).to_contain_text(f"Agent calls: {len(shown)}")
    return shown


def _check_timeline(notebook: LabNotebook, timeline: "Locator") -> list[tuple[str, str]]:
    """The calls the timeline shows, each with a visible bar; as for the tree, the kernel's calls in its order."""
    expect(timeline.locator(".ma-timeline-row").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(timeline.locator(UNFINISHED)).to_have_count(0, timeout=RENDER_TIMEOUT_MS)
    shown = _shown_calls(timeline, ".ma-timeline-row", ".ma-label .ma-alias")
    assert shown == _calls_in_text(notebook.kernel_output(timeline)["text/plain"])
    widths = timeline.locator(".ma-timeline-row .ma-bar:not(.ma-bar-waiting)").evaluate_all(
        "bars => bars.map(bar => bar.getBoundingClientRect().width)"
    )
    assert len(widths) == len(shown) and all(width >= 1 for width in widths), widths
    return shown


@pytest.mark.parametrize("front_end", list(FrontEnd))
def test_widgets_tour(front_end: FrontEnd, lab_root: Path, open_notebook: Callable[..., LabNotebook]) -> None:
    if not (lab_root / TOUR).exists():
        pytest.skip(f"notebooks/{TOUR} not written yet")
    notebook = open_notebook(TOUR, front_end)
    notebook.run_all_cells()
    page = notebook.page

    _check_stream_view(notebook, page.locator(STREAM_MESSAGES).first, TOUR_STREAMED_TEXT)
    trees = page.locator(CALL_TREE)
    expect(trees).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
    assert _check_call_tree(notebook, trees.first) == TOUR_RUN
    assert _check_call_tree(notebook, trees.last) == TOUR_FAILING_RUN
    assert _check_timeline(notebook, page.locator(TIMELINE).first) == TOUR_RUN
    assert notebook.page_errors() == []

    # The docs show JupyterLab; Notebook 7's screenshots only go to the artifacts, under names of their own.
    for_docs = front_end is FrontEnd.JUPYTERLAB
    prefix = "" if for_docs else f"{front_end}-"
    notebook.show_at_top(CALL_TREE)
    notebook.screenshot(f"{prefix}04_widgets_tour", for_docs=for_docs)
    notebook.screenshot(f"{prefix}04_stream_view", STREAM_MESSAGES, for_docs=for_docs)
    notebook.screenshot(f"{prefix}04_call_tree", CALL_TREE, for_docs=for_docs)
    notebook.screenshot(f"{prefix}04_timeline", TIMELINE, for_docs=for_docs)
