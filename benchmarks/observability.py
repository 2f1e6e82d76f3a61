"""What watching costs: the fan-out workload with observers attached vs nothing attached, and two scaling shapes.

    python benchmarks/observability.py                    # every workload below, full scale
    python benchmarks/observability.py --quick --repeat 3 --workloads observers nesting

Workloads (each runs its variants alternately, so that a change in machine load affects them alike; medians):

- `observers`: 1,000 agents x 10 replies (the fan-out of `benchmarks/workloads.py`) with nothing attached, a no-op
  `on_call_event` handler (of every event, and of the call events only: `call_event_types`), a no-op
  `on_persist_messages` handler, a notebook `Trace` (call-tree model, no widgets)
  without and with its history of records, and the SQLite store (time includes its final flush).
- `nesting`: a sequence nested N levels deep whose innermost item is still pending when it is flattened, for
  N = 100 … 3,200; time per level should not grow with N.
- `gc`: a fan-out of 100,000 agents x 1 reply with the cyclic garbage collector on vs off; each call should leave
  no reference cycles behind, so the collector has little to do. Beside it, the same on/off for asyncio alone: as many
  bare tasks made at once, and the fan-out workload's raw asyncio baseline (`raw_baselines.fan_out`): what the
  collector costs for objects alive at once that no design of agents as tasks avoids.

Results are printed as a markdown table and written to `benchmarks/results/observability.md`.
"""

import argparse
import asyncio
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # measure this working tree's `miniagents`, whatever else is installed

import raw_baselines  # noqa: E402 - needs the path above
from fan_out_agents import fan_out_root  # noqa: E402 - needs the path above

from miniagents import MiniAgents  # noqa: E402 - needs the path above
from miniagents.message_sequence import MessageSequence  # noqa: E402 - needs the path above

__all__ = ["OBSERVER_TARGETS", "main", "measure"]

RESULTS_FILE = REPO_ROOT / "benchmarks" / "results" / "observability.md"
OBSERVER_TARGETS = {
    "on_call_event no-op": 1.15,
    "on_call_event no-op, call events only": None,
    "on_persist_messages no-op": 1.5,
    "trace model": 1.3,
    "trace model + history": None,
    "SQLite store, flushed": 2.5,
}


def _ignore(*_arguments: Any) -> None:
    return None


def _ignore_call_events(mini_agents: MiniAgents) -> None:
    from miniagents.lifecycle import CallFinished, CallInitiated, CallStarted

    def ignore(_event: Any) -> None:
        return None

    ignore.call_event_types = (CallInitiated, CallStarted, CallFinished)  # type: ignore[attr-defined]
    mini_agents.on_call_event(ignore)


def _trace(record_history: bool) -> Callable[[MiniAgents], Any]:
    def attach(mini_agents: MiniAgents) -> Any:
        from miniagents_notebook.trace import Trace

        return Trace(mini_agents, all_calls=True, record_history=record_history).start()

    return attach


def _store(mini_agents: MiniAgents) -> Any:
    from miniagents.ext.persistence import SQLiteMessageStore

    folder = Path(tempfile.mkdtemp(prefix="miniagents-bench-"))
    store = SQLiteMessageStore(folder / "history.sqlite")
    store.attach(mini_agents)

    class _StoreInTemporaryFolder:
        async def aclose(self) -> None:  # within the timed run: the store's last writes and closing count
            await store.aclose()
            shutil.rmtree(folder, ignore_errors=True)

    return _StoreInTemporaryFolder()


OBSERVER_VARIANTS: dict[str, Callable[[MiniAgents], Any]] = {
    "nothing attached": _ignore,
    "on_call_event no-op": lambda mini_agents: mini_agents.on_call_event(_ignore),
    "on_call_event no-op, call events only": _ignore_call_events,
    "on_persist_messages no-op": lambda mini_agents: mini_agents.on_persist_messages(_ignore),
    "trace model": _trace(record_history=False),
    "trace model + history": _trace(record_history=True),
    "SQLite store, flushed": _store,
}


async def _fan_out(agents: int, messages_per_agent: int, attach: Callable[[MiniAgents], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    mini_agents = MiniAgents()
    attached = attach(mini_agents)
    async with mini_agents:
        replies = fan_out_root.trigger(agents=agents, messages_per_agent=messages_per_agent)
        count = len([await message_promise async for message_promise in replies])
    if hasattr(attached, "aclose"):
        await attached.aclose()
    elapsed = time.perf_counter() - start
    assert count == agents * messages_per_agent, count
    return elapsed


async def _collect(sequence: Any) -> Any:
    return await sequence


async def _nested_pending(depth: int) -> float:
    """Flatten a sequence nested `depth` levels deep whose innermost item resolves only after flattening began."""
    release = asyncio.get_running_loop().create_future()

    async def innermost() -> Any:
        await release
        yield "innermost"

    items: Any = innermost()
    for level in range(depth):
        items = [f"level {level}", items]
    async with MiniAgents():
        sequence = MessageSequence.turn_into_sequence_promise(items)
        start = time.perf_counter()
        collecting = asyncio.ensure_future(_collect(sequence))
        await asyncio.sleep(0)
        release.set_result(None)
        messages = await collecting
        elapsed = time.perf_counter() - start
    assert len(messages) == depth + 1, len(messages)
    return elapsed


def _median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def _alternate(variants: dict[str, Callable[[], Awaitable[float]]], repeat: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():
        asyncio.run(run())  # warm-up
    for _ in range(repeat):
        for name, run in variants.items():
            times[name].append(asyncio.run(run()))
    return {name: _median_of(runs) for name, runs in times.items()}


def measure_observers(quick: bool, repeat: int) -> str:
    agents = 200 if quick else 1000
    variants = {
        name: (lambda attach=attach: _fan_out(agents, 10, attach)) for name, attach in OBSERVER_VARIANTS.items()
    }
    medians = _alternate(variants, repeat)
    baseline = medians["nothing attached"]
    lines = [
        f"Fan-out of {agents:,} agents x 10 replies, median of {repeat} (alternating):",
        "",
        "| attached | median | vs nothing attached | target |",
        "|---|---:|---:|---:|",
    ]
    for name, median in medians.items():
        target = OBSERVER_TARGETS.get(name)
        ratio = median / baseline
        verdict = "" if target is None else f"≤ {target}x {'✓' if ratio <= target else '✗'}"
        lines.append(f"| {name} | {median * 1000:.1f} ms | {ratio:.2f}x | {verdict} |")
    return "\n".join(lines)


def measure_nesting(quick: bool, repeat: int) -> str:
    depths = [100, 200, 400, 800] if quick else [100, 200, 400, 800, 1600, 3200]
    variants = {str(depth): (lambda depth=depth: _nested_pending(depth)) for depth in depths}
    medians = _alternate(variants, repeat)
    per_level = {depth: medians[str(depth)] / depth for depth in depths}
    lines = [
        f"A sequence nested N levels deep, innermost item pending, flattened; median of {repeat}:",
        "",
        "| levels | time | per level | per level vs 100 levels |",
        "|---:|---:|---:|---:|",
    ]
    for depth in depths:
        lines.append(
            f"| {depth:,} | {medians[str(depth)] * 1000:.2f} ms | {per_level[depth] * 1e6:.1f} µs "
            f"| {per_level[depth] / per_level[depths[0]]:.2f}x |"
        )
    worst = max(per_level.values()) / min(per_level.values())
    lines += ["", f"Per-level time varies {worst:.2f}x across depths (target: within 2x)."]
    return "\n".join(lines)


async def _fan_out_collected(agents: int, collector_on: bool) -> float:
    return await _collected(collector_on, lambda: _fan_out(agents, 1, _ignore))


async def _collected(collector_on: bool, run: Callable[[], Awaitable[float]]) -> float:
    if collector_on:
        gc.enable()
    else:
        gc.disable()
    try:
        return await run()
    finally:
        gc.enable()


async def _timed(run: Callable[[], Awaitable[Any]]) -> float:
    gc.collect()
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


async def _bare_tasks(tasks: int) -> list[str]:
    """`tasks` asyncio tasks made at once, each returning a text, awaited in order: the least an agent call can be."""

    async def leaf(index: int) -> str:
        return f"{index}.0"

    started = [asyncio.create_task(leaf(index)) for index in range(tasks)]
    return [await task for task in started]


def measure_gc(quick: bool, repeat: int) -> str:
    agents = 10_000 if quick else 100_000
    yardsticks: dict[str, Callable[[], Awaitable[Any]]] = {
        f"asyncio alone: {agents:,} bare tasks made at once": lambda: _bare_tasks(agents),
        f"asyncio alone: the fan_out workload's raw baseline at {agents:,} agents (a task and a queue each)": (
            lambda: raw_baselines.fan_out((agents, 1))
        ),
    }
    variants: dict[str, Callable[[], Awaitable[float]]] = {
        "miniagents, collector on": lambda: _fan_out_collected(agents, True),
        "miniagents, collector off": lambda: _fan_out_collected(agents, False),
    }
    for name, run in yardsticks.items():
        variants[f"{name}, collector on"] = lambda run=run: _collected(True, lambda: _timed(run))
        variants[f"{name}, collector off"] = lambda run=run: _collected(False, lambda: _timed(run))
    medians = _alternate(variants, repeat)
    rows = []
    for name in ("miniagents", *yardsticks):
        on, off = medians[f"{name}, collector on"], medians[f"{name}, collector off"]
        per_agent = (on - off) / agents * 1e6
        rows.append(f"| {name} | {on * 1000:.0f} ms | {off * 1000:.0f} ms | {on / off:.2f}x | {per_agent:.1f} µs |")
    ratio = medians["miniagents, collector on"] / medians["miniagents, collector off"]
    return "\n".join(
        [
            f"Fan-out of {agents:,} agents x 1 reply, median of {repeat} (alternating), beside asyncio doing the "
            "least of it alone:",
            "",
            "| run | collector on | collector off | on / off | collector's time per agent |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Collector on / off: {ratio:.2f}x (target: ≤ 1.3x).",
        ]
    )


MEASUREMENTS: dict[str, Callable[[bool, int], str]] = {
    "observers": measure_observers,
    "nesting": measure_nesting,
    "gc": measure_gc,
}


def measure(quick: bool = False, repeat: int = 5, workloads: list[str] | None = None) -> str:
    """Run the chosen workloads (all by default); return their tables as markdown and write them to RESULTS_FILE."""
    sections = ["# What watching costs", "", "`python benchmarks/observability.py`", ""]
    for name in workloads or list(MEASUREMENTS):
        sections += [f"## {name}", "", MEASUREMENTS[name](quick, repeat), ""]
    text = "\n".join(sections)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(text, encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller scales (a smoke run)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workloads", nargs="*", choices=list(MEASUREMENTS))
    arguments = parser.parse_args()
    print(measure(arguments.quick, arguments.repeat, arguments.workloads))


if __name__ == "__main__":
    main()
