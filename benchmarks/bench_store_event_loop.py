"""How long can the event loop stall while `SQLiteMessageStore` persists many messages?

    python benchmarks/bench_store_event_loop.py                  # 10,000 messages
    python benchmarks/bench_store_event_loop.py --messages 500 --json

A ticker task sleeps 1 ms again and again and records how late it wakes up: that lateness is the longest time any
other code held the event loop (or the GIL) in the meantime. It is measured over four scenarios:

- `persist_calls`: the loop hands N ready messages to `store.persist` (100 at a time, yielding in between, as
  agents producing messages would) while the writer thread writes them concurrently;
- `writer_draining`: the loop only awaits `store.aflush()` while the writer finishes (what the writer thread
  itself costs the loop: GIL contention);
- `agents_without_store` / `agents_with_store`: 50 agents reply N messages in total, with a no-op persist handler,
  then with the store (its difference is what the store adds to a real workload);
- `calls_without_store` / `calls_with_store`: `--calls` small calls (an agent replying 3 short messages, triggered in
  batches of 50), with a no-op persist handler, then with a fresh store attached — call tree included, so about 9
  writes per call — and a final `aflush()`. Agents produce faster than
  SQLite writes, so the store's bounded queue holds them back: the scenario also reports the queue's bound and peak
  (`max_pending`, `peak_pending`), how long the final `aflush()` took and how much the process grew (RSS, Linux).

    python benchmarks/bench_store_event_loop.py --messages 10000 --calls 50000
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from miniagents import InteractionContext, Message, MiniAgents, TextMessage, miniagent
from miniagents.ext.persistence import SQLiteMessageStore

__all__ = ["main", "run_benchmark"]

TICK_SECONDS = 0.001
AGENTS = 50
PERSIST_CHUNK = 100
CALLS_BATCH = 50


async def _measure(workload: Callable[[], Awaitable[None]]) -> dict[str, float]:
    """Run `workload` next to a ticker; return the ticker's worst and 99th-percentile lateness, and the duration."""
    loop = asyncio.get_running_loop()
    lateness: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            due = loop.time() + TICK_SECONDS
            await asyncio.sleep(TICK_SECONDS)
            lateness.append(max(0.0, loop.time() - due))

    ticker = asyncio.ensure_future(tick())
    await asyncio.sleep(TICK_SECONDS)  # the ticker is running before the workload starts
    started = time.perf_counter()
    try:
        await workload()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        await ticker
    ordered = sorted(lateness)
    return {
        "max_stall_ms": round(ordered[-1] * 1000, 2),
        "p99_stall_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
        "median_stall_ms": round(statistics.median(ordered) * 1000, 3),
        "ticks": len(ordered),
        "seconds": round(seconds, 3),
    }


@miniagent
async def _replier(ctx: InteractionContext, index: int, replies: int) -> None:
    for number in range(replies):
        ctx.reply(TextMessage(f"agent {index} reply {number}", index=index, number=number))
        await asyncio.sleep(0)


async def _run_agents(messages: int, persist: Callable[[Any, Message], None]) -> None:
    per_agent = max(1, messages // AGENTS)
    async with MiniAgents(on_persist_messages=[persist]):
        await asyncio.gather(*(_replier.trigger(index=index, replies=per_agent) for index in range(AGENTS)))


@miniagent
async def _three_replies(ctx: InteractionContext, number: int) -> None:
    for part in ("first", "second", "third"):
        ctx.reply(f"{part} reply of call {number}")


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return None


async def _run_calls(calls: int, store: SQLiteMessageStore | None) -> None:
    async with MiniAgents(on_persist_messages=[] if store is not None else [lambda _p, _m: None]) as mini_agents:
        if store is not None:
            store.attach(mini_agents)
        for start in range(0, calls, CALLS_BATCH):
            batch = range(start, min(calls, start + CALLS_BATCH))
            await asyncio.gather(*(_three_replies.trigger(number=number) for number in batch))


async def _calls_with_store(calls: int, database: Path) -> dict[str, Any]:
    """`calls` small calls with a fresh store attached, measured next to the ticker, plus the store's queue figures."""
    store = SQLiteMessageStore(database)
    rss_before = _rss_mb()
    flush_seconds = 0.0

    async def workload() -> None:
        nonlocal flush_seconds
        await _run_calls(calls, store)
        started = time.perf_counter()
        await store.aflush()
        flush_seconds = time.perf_counter() - started

    try:
        scenario: dict[str, Any] = dict(await _measure(workload))
        rss_after = _rss_mb()
        scenario.update(
            calls=calls,
            max_pending=store.max_pending,
            peak_pending=store.peak_pending,
            aflush_seconds=round(flush_seconds, 3),
            stored_calls=len(store.runs()),
        )
        if rss_before is not None and rss_after is not None:
            scenario["rss_growth_mb"] = round(rss_after - rss_before, 1)
    finally:
        store.close()
    return scenario


async def run_benchmark(messages: int, database: Path, calls: int = 2000) -> dict[str, Any]:
    """Measure every scenario with `messages` messages (and `calls` calls), writing next to `database`."""
    ready = [TextMessage(f"message {number}", number=number, tags=("bench", "store")) for number in range(messages)]
    for message in ready:
        message.hash_key  # noqa: B018 - computed up front, as the runtime does before persisting
    scenarios: dict[str, dict[str, float]] = {}
    store = SQLiteMessageStore(database)
    try:

        async def persist_calls() -> None:
            for start in range(0, messages, PERSIST_CHUNK):
                for message in ready[start : start + PERSIST_CHUNK]:
                    store.persist(None, message)
                await asyncio.sleep(0)

        scenarios["persist_calls"] = await _measure(persist_calls)
        scenarios["writer_draining"] = await _measure(store.aflush)
        scenarios["agents_without_store"] = await _measure(lambda: _run_agents(messages, lambda _p, _m: None))

        async def agents_with_store() -> None:
            await _run_agents(messages, store.persist)
            await store.aflush()

        scenarios["agents_with_store"] = await _measure(agents_with_store)
        stored = len(store)
    finally:
        store.close()
    scenarios["calls_without_store"] = await _measure(lambda: _run_calls(calls, None))
    calls_database = database.with_name(f"{database.stem}_calls{database.suffix}")
    scenarios["calls_with_store"] = await _calls_with_store(calls, calls_database)
    return {"messages": messages, "database": str(database), "stored_messages": stored, "scenarios": scenarios}


def _print_table(result: dict[str, Any]) -> None:
    print(f"messages per scenario: {result['messages']}, stored in total: {result['stored_messages']}")
    print(f"{'scenario':<22} {'max stall ms':>12} {'p99 ms':>8} {'median ms':>10} {'seconds':>8}")
    for name, scenario in result["scenarios"].items():
        print(
            f"{name:<22} {scenario['max_stall_ms']:>12} {scenario['p99_stall_ms']:>8} "
            f"{scenario['median_stall_ms']:>10} {scenario['seconds']:>8}"
        )
    worst = max(
        result["scenarios"]["persist_calls"]["max_stall_ms"], result["scenarios"]["writer_draining"]["max_stall_ms"]
    )
    print(f"max event-loop stall while persisting {result['messages']} messages: {worst} ms")
    calls = result["scenarios"]["calls_with_store"]
    print(
        f"{calls['calls']} calls with the store: write queue peak {calls['peak_pending']} "
        f"(bound {calls['max_pending']}), final aflush {calls['aflush_seconds']} s, "
        f"RSS growth {calls.get('rss_growth_mb', '?')} MB"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages per scenario (default 10000)")
    parser.add_argument("--calls", type=int, default=2000, help="calls in calls_with_store (default 2000)")
    parser.add_argument("--database", type=Path, help="SQLite file to write (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        database = arguments.database or Path(folder) / "bench.db"
        result = asyncio.run(run_benchmark(arguments.messages, database, arguments.calls))
    if arguments.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        _print_table(result)


if __name__ == "__main__":
    main()
