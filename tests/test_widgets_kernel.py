"""The views in a real kernel: a notebook built here runs the tutorial's research system and reports widget state.

The kernel runs the Python that runs the tests (a kernelspec made for this module points at `sys.executable`), so it
sees this checkout and its virtualenv. Cells print JSON of the widgets' state and of the comm messages they sent;
the test parses it. The agents are the ones of `examples/sequence_flattening.py`, with 0.05 to 0.2 s delays.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.timeout(180)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNEL_NAME = "miniagents-test-python"

SETUP = """\
import asyncio, json, random, sys
from IPython.display import display
from miniagents import InteractionContext, MiniAgents, miniagent
from miniagents_notebook.trace import trace

mini_agents = MiniAgents().activate(process_wide=True)
print(sys.executable)
"""

AGENTS = """\
@miniagent
async def research_agent(ctx: InteractionContext) -> None:
    ctx.reply(f"RESEARCHING: {await ctx.message_promises.as_single_text_promise()}")
    for i in range(3):
        ctx.reply_out_of_order(web_search_agent.trigger(ctx.message_promises, search_query=f"query {i + 1}"))


@miniagent
async def web_search_agent(ctx: InteractionContext, search_query: str) -> None:
    ctx.reply(f"{search_query} - SEARCHING")
    await asyncio.sleep(random.uniform(0.05, 0.2))
    ctx.reply(f"{search_query} - SEARCH DONE")
    for i in range(2):
        ctx.reply_out_of_order(
            page_scraper_agent.trigger(
                ctx.message_promises, url=f"https://dummy.com/{search_query.replace(' ', '-')}/page-{i + 1}"
            )
        )


@miniagent
async def page_scraper_agent(ctx: InteractionContext, url: str) -> None:
    ctx.reply(f"{url} - SCRAPING")
    await asyncio.sleep(random.uniform(0.05, 0.2))
    if "broken" in url:
        raise ValueError(f"could not scrape {url}")
    ctx.reply(f"{url} - DONE")
"""

RUN = """\
with trace() as t:
    replies = research_agent.trigger("Tell me about MiniAgents")
tree = t.call_tree()
timeline = t.timeline()
sent = {"tree": [], "timeline": []}
for name, widget in (("tree", tree), ("timeline", timeline)):
    def send(data=None, *args, _original=widget.comm.send, _name=name, **kwargs):
        sent[_name].append(data)
        return _original(data, *args, **kwargs)
    widget.comm.send = send
started = asyncio.get_running_loop().time()
display(tree)
display(timeline)
await replies
await mini_agents.aflush_tasks()
elapsed = asyncio.get_running_loop().time() - started
await asyncio.sleep(0.4)  # the cell is still running when the throttled final update comes
"""

REPORT = """\
def last_sent(messages, key):
    states = [message["state"][key] for message in messages if key in message.get("state", {})]
    return states[-1] if states else None

print(json.dumps({
    "tree": tree.tree,
    "timeline": timeline.timeline,
    "front_end_tree": last_sent(sent["tree"], "tree"),
    "front_end_timeline": last_sent(sent["timeline"], "timeline"),
    "messages": {name: len(messages) for name, messages in sent.items()},
    "elapsed": elapsed,
}))
"""

FAILING = """\
with trace() as failing:
    failing_replies = page_scraper_agent.trigger("Tell me", url="https://dummy.com/broken")
failing_tree = failing.call_tree()
try:
    await failing_replies
except ValueError as error:
    print("raised:", error)
await mini_agents.aflush_tasks()
await asyncio.sleep(0.3)
failing_tree.selected = failing_tree.tree["rows"][0]["id"]  # as a click on the row does
print(json.dumps({"tree": failing_tree.tree, "details": failing_tree.details}))
"""

SHOW_TRACE = "t"

MERMAID = "print(t.to_mermaid())"

EXPECTED_TREE_TEXT = """\
research_agent [done]
├─ web_search_agent [done]
│  ├─ page_scraper_agent [done]
│  └─ page_scraper_agent [done]
├─ web_search_agent [done]
│  ├─ page_scraper_agent [done]
│  └─ page_scraper_agent [done]
└─ web_search_agent [done]
   ├─ page_scraper_agent [done]
   └─ page_scraper_agent [done]"""


@pytest.fixture(scope="module")
def kernel_spec_manager(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    kernels = tmp_path_factory.mktemp("kernels")
    (kernels / KERNEL_NAME).mkdir()
    (kernels / KERNEL_NAME / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "MiniAgents tests",
                "language": "python",
            }
        )
    )
    return KernelSpecManager(kernel_dirs=[str(kernels)])


@pytest.fixture(scope="module")
def executed(kernel_spec_manager: KernelSpecManager) -> Any:
    notebook = new_notebook(
        cells=[new_code_cell(source) for source in (SETUP, AGENTS, RUN, REPORT, FAILING, SHOW_TRACE, MERMAID)]
    )
    kernel_manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_spec_manager)
    client = NotebookClient(
        notebook, km=kernel_manager, timeout=60, resources={"metadata": {"path": str(Path(__file__).parents[1])}}
    )
    client.execute()
    nbformat.validate(notebook)
    return notebook.cells


def stdout(cell: Any) -> str:
    return "".join(output["text"] for output in cell.outputs if output.get("name") == "stdout")


def displays(cell: Any) -> list[dict[str, Any]]:
    return [output["data"] for output in cell.outputs if output["output_type"] in ("display_data", "execute_result")]


def test_the_kernel_runs_the_tests_python(executed: Any) -> None:
    assert stdout(executed[0]).strip() == sys.executable


def test_the_tree_has_one_research_three_searches_and_six_scrapes_under_the_right_parents(executed: Any) -> None:
    report = json.loads(stdout(executed[3]))
    rows = report["tree"]["rows"]
    assert [(row["depth"], row["alias"]) for row in rows] == [
        (0, "research_agent"),
        *[(1, "web_search_agent"), (2, "page_scraper_agent"), (2, "page_scraper_agent")] * 3,
    ]
    searches = [row for row in rows if row["depth"] == 1]
    assert [search["kwargs"] for search in searches] == [f"search_query='query {n}'" for n in (1, 2, 3)]
    for position, row in enumerate(rows):
        if row["depth"] == 2:  # a scrape sits under the search whose query is in its url
            parent = next(rows[earlier] for earlier in range(position, -1, -1) if rows[earlier]["depth"] == 1)
            query = parent["kwargs"].removeprefix("search_query=").strip("'").replace(" ", "-")
            assert f"https://dummy.com/{query}/page-" in row["kwargs"]
    assert {row["status"] for row in rows} == {"done"}
    assert report["tree"]["counts"] == {"waiting": 0, "running": 0, "done": 10, "error": 0, "cancelled": 0}
    assert rows[0]["replies"] == 1 + 3 * (2 + 2 * 2)
    # what the front end received last is that final state, and it took few messages
    assert report["front_end_tree"] == report["tree"]
    assert report["front_end_timeline"] == report["timeline"]
    for count in report["messages"].values():
        assert 1 <= count <= report["elapsed"] / 0.1 + 3


def test_the_timeline_shows_the_parallel_calls_as_overlapping_intervals(executed: Any) -> None:
    bars = json.loads(stdout(executed[3]))["timeline"]["bars"]
    assert len(bars) == 10 and all(bar["status"] == "done" for bar in bars)
    searches = [bar for bar in bars if bar["alias"] == "web_search_agent"]
    scrapes = [bar for bar in bars if bar["alias"] == "page_scraper_agent"]
    assert max(bar["run"] for bar in searches) < min(bar["end"] for bar in searches)
    # the first scrape starts before the last search ends: searching and scraping happen at the same time
    assert min(bar["run"] for bar in scrapes) < max(bar["end"] for bar in searches)
    research = bars[0]
    assert all(research["start"] <= bar["start"] and bar["end"] <= research["end"] + 1e-3 for bar in bars)


def test_an_agent_that_raises_is_marked_as_error_with_its_message(executed: Any) -> None:
    cell = executed[4]
    text = stdout(cell)
    assert "raised: could not scrape https://dummy.com/broken" in text
    report = json.loads(text.splitlines()[-1])
    (row,) = report["tree"]["rows"]
    assert (row["alias"], row["status"]) == ("page_scraper_agent", "error")
    assert row["error"] == "ValueError: could not scrape https://dummy.com/broken"
    assert report["details"]["error"] == row["error"]
    assert "in page_scraper_agent" in report["details"]["traceback"]
    assert report["details"]["replies"][0]["text"] == "https://dummy.com/broken - SCRAPING"


def test_displayed_views_end_with_the_final_static_copy(executed: Any) -> None:
    tree_output, timeline_output = displays(executed[2])
    for data in (tree_output, timeline_output):
        assert WIDGET_VIEW in data
        assert data["text/plain"] == EXPECTED_TREE_TEXT  # replaced when the calls finished (shown while waiting)
        assert "◔" not in data["text/html"] and "○" not in data["text/html"]
    assert tree_output["text/html"].count('title="done"') == 10
    assert "Timeline: 10 calls" in timeline_output["text/html"]


def test_a_trace_displays_as_its_call_tree(executed: Any) -> None:
    (data,) = displays(executed[5])
    assert data["text/plain"] == EXPECTED_TREE_TEXT
    assert re.fullmatch(r"[0-9a-f]{32}", data[WIDGET_VIEW]["model_id"])
    assert "<script" not in data["text/html"] and "research_agent" in data["text/html"]


def test_the_trace_exports_mermaid(executed: Any) -> None:
    mermaid = stdout(executed[6])
    assert mermaid.startswith("graph TD\n")
    assert mermaid.count(" --> ") == 9
    assert "class n1,n2,n3,n4,n5,n6,n7,n8,n9,n10 done" in mermaid
