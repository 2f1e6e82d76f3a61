"""Notebook overhead: the token-streaming workload in a real Jupyter kernel, with the live views attached vs none.

    python benchmarks/notebook_overhead.py                 # 5 repetitions of each, alternating
    python benchmarks/notebook_overhead.py --quick --repeat 2

The workload (`benchmarks/workloads.py`: 100,000 tokens through 3 nested pass-through agents, then replayed) runs in
a kernel executed by nbclient (no browser: the views' messages still travel to the client, which is the cost that
matters for the kernel). "views" attaches what a `%%miniagent` run shows: a `stream()` view of the replies and the
live `CallTree` of a `trace()` that follows the workload's context from its first call; a run ends when both have
sent their final state. The client counts the comm messages each view sends to the front end. A second, paced run
(the same tokens over about two seconds) shows the steady rate of those messages. Results go to
`benchmarks/results/notebook_overhead.json` and `.md`.
"""

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

__all__ = ["main", "measure_in_kernel"]

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
RESULTS_DIR = BENCHMARKS_DIR / "results"
ACCEPTED_RATIO = 1.25
VIEWS = ("stream view", "call tree")

_SETUP = """\
import asyncio, json, sys, time
sys.path[:0] = [{benchmarks!r}, {repo!r}]
from IPython.display import display
import miniagents
import workloads
from miniagents import InteractionContext, MiniAgents, TextMessage, miniagent
from miniagents_notebook import stream, trace

STREAM_UPDATES_PER_SECOND = 20.0
TREE_UPDATE_INTERVAL = 0.1
views = []  # the model ids of each run's views (the client counts their messages)
open_views = []


class TracedMiniAgents(MiniAgents):
    \"\"\"The workload opens a MiniAgents of its own: this one is traced from its first call, as a run is.\"\"\"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trace = trace(self, all_calls=True, record_history=False).start()


def attach_views(replies):
    traced = MiniAgents.get_current().trace
    traced.stop()  # the workload's call is made: nothing new to take in
    view = stream(replies, max_updates_per_second=STREAM_UPDATES_PER_SECOND)
    tree = traced.call_tree(static_timings=False, throttle_interval=TREE_UPDATE_INTERVAL)
    display(view)
    display(tree)
    # each widget with the models it opened for itself (its layout, its style)
    widgets = {{"stream view": (view.widget, view.widget.layout, view.widget.style), "call tree": (tree, tree.layout)}}
    views.append({{name: [widget.model_id for widget in models] for name, models in widgets.items()}})
    open_views.extend((view, tree))

    async def final_states_sent():
        await view
        await traced.wait_settled()
        tree.flush()

    return final_states_sent()


def with_views():
    original, miniagents.MiniAgents = miniagents.MiniAgents, TracedMiniAgents
    try:
        return workloads.miniagents_implementation(on_streaming_replies=attach_views)["token_streaming"]
    finally:
        miniagents.MiniAgents = original


async def timed_run(function, scale):
    try:
        return (await asyncio.wait_for(workloads.arun_workload(workload, function, scale), {timeout!r}))[0]
    except asyncio.TimeoutError:
        return None
    finally:  # after the timed part: a widget left open would keep its run's promises (and tokens) alive
        while open_views:
            open_views.pop().close()


@miniagent
async def nested_pass_through(ctx: InteractionContext, depth: int) -> None:
    inner = nested_pass_through.trigger(ctx.message_promises, depth=depth - 1) if depth > 1 else None
    ctx.reply(inner or ctx.message_promises)


async def paced_run(tokens, depth, pauses):
    async def paced_tokens(_metadata):
        for index in range(tokens):
            yield f"t{{index}} "
            if index % (tokens // pauses) == 0:
                await asyncio.sleep(0.02)

    started = time.perf_counter()
    async with TracedMiniAgents():
        replies = nested_pass_through.trigger(TextMessage.promise(message_token_streamer=paced_tokens), depth=depth)
        await attach_views(replies)
    return time.perf_counter() - started
"""

_MEASURE = """\
workload = workloads.WORKLOADS["token_streaming"]
scale = workload.quick_scale if {quick!r} else workload.scale
variants = {{"none": workloads.miniagents_implementation()["token_streaming"], "views": with_views()}}
samples = {{label: [] for label in variants}}
timed_out = []
for label, function in list(variants.items()):  # warm-up: imports, caches, widget classes
    if await timed_run(function, workload.quick_scale) is None:
        timed_out.append(label)
        del variants[label]
views.clear()
for _ in range({repeat!r}):
    for label, function in list(variants.items()):
        value = await timed_run(function, scale)
        if value is None:
            timed_out.append(label)
            del variants[label]
        else:
            samples[label].append(value)
runs = views[:]
paced_seconds = await paced_run(scale["tokens"], scale["depth"], pauses=100) if "views" in variants else None
print(json.dumps({{
    "scale": dict(scale),
    "samples": {{label: values for label, values in samples.items() if label not in timed_out}},
    "timed_out": timed_out,
    "runs": runs if "views" in variants else [],
    "paced": {{"seconds": paced_seconds, **views[-1]}} if paced_seconds is not None else None,
    "limits": {{"stream view": STREAM_UPDATES_PER_SECOND, "call tree": 1 / TREE_UPDATE_INTERVAL}},
}}))
"""


class _CountingClient(NotebookClient):
    """An nbclient that counts the comm messages (opening and updates) each widget sends to the front end."""

    def __init__(self, nb: nbformat.NotebookNode, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self.comm_messages: Counter[str] = Counter()

    def handle_comm_msg(self, outs: list[Any], msg: dict[str, Any], cell_index: int) -> None:
        if msg["msg_type"] != "comm_close":  # widgets are closed after the timed part
            self.comm_messages[msg["content"]["comm_id"]] += 1
        super().handle_comm_msg(outs, msg, cell_index)


def measure_in_kernel(repeat: int, quick: bool, timeout: float) -> dict[str, Any]:
    """Execute the measuring notebook in a fresh kernel: timings, and the front-end messages of every view.

    A variant whose run takes longer than `timeout` seconds is dropped and listed under `timed_out`.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(_SETUP.format(benchmarks=str(BENCHMARKS_DIR), repo=str(REPO_ROOT), timeout=timeout)),
        nbformat.v4.new_code_cell(_MEASURE.format(quick=quick, repeat=repeat)),
    ]
    cell_timeout = int(timeout * 2 * (repeat + 1)) + 60  # every run of both variants timing out, plus start-up
    client = _CountingClient(notebook, timeout=cell_timeout, kernel_name="python3")
    client.execute(cwd=str(REPO_ROOT))
    errors = [output for cell in notebook.cells for output in cell.outputs if output["output_type"] == "error"]
    if errors:
        raise RuntimeError(f"The measuring notebook failed: {errors[0]['ename']}: {errors[0]['evalue']}")
    printed = [output["text"] for output in notebook.cells[-1].outputs if output.get("name") == "stdout"]
    measured = json.loads("".join(printed).strip().splitlines()[-1])
    return _with_message_counts(measured, client.comm_messages)


def _with_message_counts(measured: dict[str, Any], comm_messages: Counter[str]) -> dict[str, Any]:
    """Replace the views' model ids by the number of comm messages each sent, and add the medians and ratios."""

    def messages(model_ids: list[str]) -> int:
        return sum(comm_messages[model_id] for model_id in model_ids)

    measured["runs"] = [
        {"seconds": seconds, **{view: messages(run[view]) for view in VIEWS}}
        for seconds, run in zip(measured["samples"].get("views", []), measured["runs"], strict=True)
    ]
    if measured["paced"] is not None:
        paced = measured["paced"]
        measured["paced"] = {"seconds": paced["seconds"], **{view: messages(paced[view]) for view in VIEWS}}
    medians = {label: statistics.median(samples) for label, samples in measured["samples"].items()}
    measured["medians"] = medians
    both = {"views", "none"} <= medians.keys()
    measured["ratio"] = medians["views"] / medians["none"] if both else None
    # the runs alternate, so each "views" run has a "none" run next to it: their ratio is immune to slow drifts of
    # the machine's load (other processes), which a ratio of medians is not
    pairs = zip(measured["samples"].get("views", []), measured["samples"].get("none", []), strict=False)
    measured["paired_ratio"] = statistics.median(views / none for views, none in pairs) if both else None
    return measured


_OPENING_MESSAGES = {"stream view": 3, "call tree": 2}
"""The widget and the models it opens for itself: an ipywidgets `HTML` opens a layout and a style, an anywidget a
layout."""


def _messages_bound(view: str, view_limit: float, seconds: float) -> float:
    """At most `view_limit` updates a second, plus the opening messages and the final state."""
    return view_limit * seconds + _OPENING_MESSAGES[view] + 1


def render_markdown(measured: dict[str, Any], repeat: int, timeout: float) -> str:
    """The kernel measurements as markdown: medians and ratio, then the views' front-end messages."""
    medians = measured["medians"]
    lines = [
        "# Notebook overhead: token streaming in a Jupyter kernel",
        "",
        f"Scale {measured['scale']}, median of {repeat} repetitions (alternating), executed by nbclient.",
        "`views`: a `stream()` view of the replies and the live `CallTree` of a `trace()` of the workload's calls,",
        "displayed; a run ends when both have sent their final state.",
        "",
        "| attached | median | vs none |",
        "|---|---:|---:|",
    ]
    for label, median in medians.items():
        versus_none = f"{median / medians['none']:.2f}x" if "none" in medians else "-"
        lines.append(f"| {label} | {median * 1000:.1f} ms | {versus_none} |")
    for label in measured["timed_out"]:
        lines.append(f"| {label} | timed out (a run took over {timeout:g} s) | - |")
    if measured["ratio"] is not None:
        verdict = "holds" if measured["ratio"] <= ACCEPTED_RATIO else "does NOT hold"
        lines += [
            "",
            f"Views attached cost {measured['ratio']:.2f}x the time of none (median of the per-round ratios: "
            f"{measured['paired_ratio']:.2f}x): ≤ {ACCEPTED_RATIO}x {verdict}.",
        ]
    limits = measured["limits"]
    if measured["runs"]:
        lines += [
            "",
            "Front-end (comm) messages per view and run, counted by the client: the messages that open the widget",
            "and the models it opens for itself (layout, style) included. Besides, each view publishes its output",
            "twice: when it is shown, and when its final static copy replaces it (for the stream view, that copy",
            "carries the final state).",
            "",
            "| view | messages per run | per second | bound (rate * duration + openings + final) |",
            "|---|---|---|---|",
        ]
        for view in VIEWS:
            counts = [run[view] for run in measured["runs"]]
            rates = [run[view] / run["seconds"] for run in measured["runs"]]
            bounds = [_messages_bound(view, limits[view], run["seconds"]) for run in measured["runs"]]
            lines.append(
                f"| {view} | {counts} | {', '.join(f'{rate:.0f}' for rate in rates)} | "
                f"{', '.join(f'{bound:.1f}' for bound in bounds)} |"
            )
    paced = measured["paced"]
    if paced is not None:
        lines += [
            "",
            f"Paced run (the same tokens over {paced['seconds']:.2f} s): front-end messages per view, and the updates",
            "among them (the messages after the openings) per second:",
            "",
            "| view | messages | updates per second | limit per second |",
            "|---|---:|---:|---:|",
        ]
        for view in VIEWS:
            updates_per_second = (paced[view] - _OPENING_MESSAGES[view]) / paced["seconds"]
            lines.append(f"| {view} | {paced[view]} | {updates_per_second:.1f} | {limits[view]:g} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each variant (default: 5)")
    parser.add_argument("--quick", action="store_true", help="small scale, for a smoke test")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one run may take (default: 60)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    arguments = parser.parse_args()
    measured = measure_in_kernel(arguments.repeat, arguments.quick, arguments.timeout)
    markdown = render_markdown(measured, arguments.repeat, arguments.timeout)
    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    (arguments.output_dir / "notebook_overhead.json").write_text(json.dumps(measured, indent=2) + "\n")
    (arguments.output_dir / "notebook_overhead.md").write_text(markdown)
    print(markdown)
    if measured["timed_out"]:
        print(f"Timed out: {', '.join(measured['timed_out'])}.", file=sys.stderr)


if __name__ == "__main__":
    main()
