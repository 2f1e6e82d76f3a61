"""Notebook overhead: the token-streaming workload run in a real Jupyter kernel, with a stream view attached vs none.

    python benchmarks/notebook_overhead.py                 # 5 repetitions of each, alternating
    python benchmarks/notebook_overhead.py --quick --repeat 2

The kernel is executed by nbclient (no browser: the view's messages still travel to the client, which is the cost
that matters for the kernel). The stream view is `miniagents_notebook.stream(promise)`; where it does not exist yet,
only the run without a view is measured and the report says so. Results go to
`benchmarks/results/notebook_overhead.json` and `.md`.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

__all__ = ["main", "measure_in_kernel"]

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
RESULTS_DIR = BENCHMARKS_DIR / "results"

_SETUP = """\
import asyncio, json, sys
sys.path[:0] = [{benchmarks!r}, {repo!r}]
from IPython.display import display
import workloads
try:
    from miniagents_notebook import stream
except ImportError:
    stream = None


views = []


def show_stream(replies):
    view = stream(replies)
    display(view)
    views.append(view)
    return view  # awaited by the workload: the run ends when the view has sent its final state


async def timed_run(function, scale):
    try:
        return (await asyncio.wait_for(workloads.arun_workload(workload, function, scale), {timeout!r}))[0]
    except asyncio.TimeoutError:
        for view in views:
            view.close()
        return None
"""

_MEASURE = """\
workload = workloads.WORKLOADS["token_streaming"]
scale = workload.quick_scale if {quick!r} else workload.scale
variants = {{"none": workloads.miniagents_implementation()["token_streaming"]}}
if stream is not None:
    variants["stream view"] = workloads.miniagents_implementation(on_streaming_replies=show_stream)["token_streaming"]
samples = {{label: [] for label in variants}}
timed_out = []
for label, function in list(variants.items()):
    if await timed_run(function, workload.quick_scale) is None:
        timed_out.append(label)
        del variants[label]
for _ in range({repeat!r}):
    for label, function in list(variants.items()):
        value = await timed_run(function, scale)
        if value is None:
            timed_out.append(label)
            del variants[label]
        else:
            samples[label].append(value)
updates = [view.updates_sent for view in views[-{repeat!r}:]] if "stream view" in variants else []
print(json.dumps({{
    "scale": dict(scale),
    "stream_view_available": stream is not None,
    "samples": {{label: values for label, values in samples.items() if label not in timed_out}},
    "timed_out": timed_out,
    "view_updates_sent": updates,
}}))
"""


def measure_in_kernel(repeat: int, quick: bool, timeout: float) -> dict[str, Any]:
    """Execute the measuring notebook in a fresh kernel and return what its last cell printed.

    A variant whose run takes longer than `timeout` seconds is dropped and listed under `timed_out`.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(_SETUP.format(benchmarks=str(BENCHMARKS_DIR), repo=str(REPO_ROOT), timeout=timeout)),
        nbformat.v4.new_code_cell(_MEASURE.format(quick=quick, repeat=repeat)),
    ]
    cell_timeout = int(timeout * 2 * (repeat + 1)) + 60  # every run of both variants timing out, plus start-up
    client = NotebookClient(notebook, timeout=cell_timeout, kernel_name="python3")
    client.execute(cwd=str(REPO_ROOT))
    printed = [output["text"] for output in notebook.cells[-1].outputs if output.get("name") == "stdout"]
    return json.loads("".join(printed).strip().splitlines()[-1])


def render_markdown(measured: dict[str, Any], repeat: int, timeout: float) -> str:
    """The kernel measurements as a markdown table (median per variant and the view's overhead)."""
    medians = {label: statistics.median(samples) for label, samples in measured["samples"].items()}
    lines = [
        "# Notebook overhead: token streaming in a Jupyter kernel",
        "",
        f"Scale {measured['scale']}, median of {repeat} repetitions (alternating).",
        "",
        "| stream view | median | vs none |",
        "|---|---:|---:|",
    ]
    for label, median in medians.items():
        versus_none = f"{median / medians['none']:.2f}x" if "none" in medians else "-"
        lines.append(f"| {label} | {median * 1000:.1f} ms | {versus_none} |")
    for label in measured["timed_out"]:
        lines.append(f"| {label} | timed out (a run took over {timeout:g} s) | - |")
    if measured["view_updates_sent"]:
        lines += ["", f"Front-end updates sent per run by the view: {measured['view_updates_sent']}."]
    if not measured["stream_view_available"]:
        lines += ["", "`miniagents_notebook.stream` is not available in this tree: only the run without a view."]
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
    if not measured["stream_view_available"]:
        print("Skipped the stream-view variant: miniagents_notebook.stream is not available.", file=sys.stderr)
    if measured["timed_out"]:
        print(f"Timed out: {', '.join(measured['timed_out'])}.", file=sys.stderr)


if __name__ == "__main__":
    main()
