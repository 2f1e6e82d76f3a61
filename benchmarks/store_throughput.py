"""SQLite store cost: its write throughput against raw `sqlite3`, and what attaching it adds to a run of agents.

    python benchmarks/store_throughput.py            # full scale: 20,000 messages, fan-out 1,000 x 10, 7 runs each
    python benchmarks/store_throughput.py --quick    # a small scale, for a smoke check

Two measurements, each alternating its two sides run by run, medians compared:

- **throughput**: the messages (and call records) of a real run of agents are handed to `SQLiteMessageStore.persist`
  one by one, then `flush()` and one `search()` (which brings the full-text index up to date: the store indexes
  when a search needs it) — against raw `sqlite3` inserting exactly the rows the store writes (computed before the
  clock starts) into a file with the same schema (schema version 3: the same tables and indexes), the full-text index
  kept up to date as the rows are inserted, one transaction per batch of the store's size (`max_batch`), WAL and
  `synchronous=NORMAL`, then the same search. The ratio is store messages/s over raw messages/s (target: at least
  0.8x).
- **fan-out**: 1,000 agents x 10 replies (as `otel_overhead.py`) with a `SQLiteMessageStore` attached (the call tree
  and every message and record) against nothing attached; the store's time runs from opening the store to closing it
  (the flush at the end of the `MiniAgents` block and the final commit included; nothing searched, so nothing
  indexed). Target: at most 2.5x. Beside it: the same with one search after the run (the index's cost), a no-op
  observer taking every persisted message (the engine's share), an observer hashing each persisted message and making
  its rows without writing them (the Python work of any store of this schema: a floor, since Python runs under one
  GIL whichever thread runs it), and raw `sqlite3` writing the run's rows after a run with nothing attached.

`measure(quick)` returns the table as markdown and writes it to `benchmarks/results/store_throughput.md`.
"""

import argparse
import asyncio
import gc
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from miniagents import InteractionContext, Message, MiniAgents, miniagent
from miniagents.ext.persistence import SQLiteMessageStore
from miniagents.ext.persistence.encoding import encode_message
from miniagents.ext.persistence.schema import (
    SCHEMA_VERSION,
    ensure_schema,
    index_pending_texts,
    open_connection,
    use_wal,
)
from miniagents.ext.persistence.writer import DEFAULT_MAX_BATCH, INSERT_MESSAGE_SQL, INSERT_REFERENCE_SQL

__all__ = ["main", "measure"]

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "store_throughput.md"
THROUGHPUT_TARGET = 0.8
_TEXT_COLUMN = 6  # of a `messages` row
FAN_OUT_TARGET = 2.5

# what the searches look for: found in a few dozen messages of the full scale (agents 1, 11, 21, ... and 101, ...)
_NEEDLE = "1.1 The committee"
_SENTENCE = (
    "The committee reviewed the quarterly figures and agreed to revisit the forecast once the survey results arrive."
)


@dataclass(frozen=True)
class _Times:
    """Seconds of one run: elapsed (what the targets are about), and CPU time of the whole process (every thread)."""

    wall: float
    cpu: float


def _now() -> _Times:
    return _Times(time.perf_counter(), time.process_time())


def _since(start: _Times) -> _Times:
    now = _now()
    return _Times(now.wall - start.wall, now.cpu - start.cpu)


@dataclass(frozen=True)
class _Scale:
    throughput_agents: int
    throughput_replies: int
    fan_out_agents: int
    fan_out_replies: int
    repeat: int


_FULL = _Scale(throughput_agents=1_000, throughput_replies=20, fan_out_agents=1_000, fan_out_replies=10, repeat=7)
_QUICK = _Scale(throughput_agents=50, throughput_replies=10, fan_out_agents=100, fan_out_replies=10, repeat=3)


@miniagent
async def fan_out_root(ctx: InteractionContext, agents: int, messages_per_agent: int, long_text: bool) -> None:
    for agent_index in range(agents):
        ctx.reply(
            fan_out_leaf.trigger(agent_index=agent_index, messages_per_agent=messages_per_agent, long_text=long_text)
        )


@miniagent
async def fan_out_leaf(ctx: InteractionContext, agent_index: int, messages_per_agent: int, long_text: bool) -> None:
    for message_index in range(messages_per_agent):
        suffix = f" {_SENTENCE[: 20 + (agent_index * 7 + message_index * 13) % 90]}" if long_text else ""
        ctx.reply(f"{agent_index}.{message_index}{suffix}")


# --- throughput ----------------------------------------------------------------------------------------------------


async def _collect_run_messages(agents: int, replies: int, long_text: bool) -> list[Message]:
    """Every message a fan-out run persists — replies, call and reply records — each once, in the order persisted.

    Hash keys are computed by the engine in a real run already: neither side pays for them here.
    """
    collected: dict[str, Message] = {}
    async with MiniAgents(
        on_persist_messages=[lambda _promise, message: collected.setdefault(message.hash_key, message)]
    ):
        await fan_out_root.trigger(agents=agents, messages_per_agent=replies, long_text=long_text)
    return list(collected.values())


def _fresh_file(folder: str, name: str) -> str:
    path = os.path.join(folder, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return path


IndexTexts = Literal["every transaction", "at the end", "never"]


def _raw_sqlite_seconds(folder: str, messages: list[Message], index_texts: IndexTexts) -> _Times:
    """Raw `sqlite3`: the store's rows, in transactions of `DEFAULT_MAX_BATCH`, the text index brought up to date in
    every transaction, or once after the last (as the store's first search does), or not at all — then, if indexed,
    one search."""
    encoded = [encode_message(message, message.hash_key, time.time()) for message in messages]
    batches = [encoded[start : start + DEFAULT_MAX_BATCH] for start in range(0, len(encoded), DEFAULT_MAX_BATCH)]
    path = _fresh_file(folder, "raw.db")
    connection = open_connection(path, 30.0)
    use_wal(connection, path)
    ensure_schema(connection, path, text_index=True)
    gc.collect()
    start = _now()
    for batch in batches:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(INSERT_MESSAGE_SQL, [item.row for item in batch])
        connection.executemany(INSERT_REFERENCE_SQL, [row for item in batch for row in item.references])
        if index_texts == "every transaction":
            index_pending_texts(connection)
        connection.execute("COMMIT")
    if index_texts == "at the end":
        connection.execute("BEGIN IMMEDIATE")
        index_pending_texts(connection)
        connection.execute("COMMIT")
    found = _raw_search(connection, _NEEDLE) if index_texts != "never" else None
    elapsed = _since(start)
    connection.close()
    if found is not None:
        assert found == sum(_NEEDLE in (item.row[_TEXT_COLUMN] or "") for item in encoded), "raw: index"
    return elapsed


def _raw_search(connection: sqlite3.Connection, text: str) -> int:
    (count,) = connection.execute(
        "SELECT count(*) FROM messages_text WHERE messages_text MATCH ?", (f'"{text}"',)
    ).fetchone()
    return int(count)


def _store_seconds(folder: str, messages: list[Message]) -> _Times:
    path = _fresh_file(folder, "store.db")
    store = SQLiteMessageStore(path)
    gc.collect()
    start = _now()
    for message in messages:
        store.persist(None, message)
    store.flush()
    found = store.search(_NEEDLE)
    elapsed = _since(start)
    assert len(store) == len(messages), "store: messages missing"
    assert len(found) == sum(_NEEDLE in str(item) for item in messages), "store: search"
    store.close()
    return elapsed


# --- fan-out -------------------------------------------------------------------------------------------------------


class _PersistingNoOpObserver:
    """An observer that asks for every persisted message and does nothing: what the engine spends to feed a store."""

    def on_call_event(self, event: object) -> None:
        pass

    def on_persist_message(self, promise: object, message: Message) -> None:
        pass

    async def aflush(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _EncodingObserver(_PersistingNoOpObserver):
    """Hashes each persisted message and makes its rows, and writes nothing: the Python work of any store of this
    schema (all of it runs under one GIL, whichever thread does it)."""

    def on_persist_message(self, promise: object, message: Message) -> None:
        encode_message(message, message.hash_key, time.time())


async def _fan_out_seconds(attached: str, folder: str, agents: int, replies: int) -> _Times:
    gc.collect()
    start = _now()
    store = SQLiteMessageStore(_fresh_file(folder, "fan_out.db")) if attached.startswith("store") else None
    async with MiniAgents() as mini_agents:
        if store is not None:
            store.attach(mini_agents)
        elif attached == "no-op":
            mini_agents.attach(_PersistingNoOpObserver())
        elif attached == "encoding":
            mini_agents.attach(_EncodingObserver())
        reply_sequence = fan_out_root.trigger(agents=agents, messages_per_agent=replies, long_text=False)
        count = len([await message_promise async for message_promise in reply_sequence])
    if store is not None:
        if attached == "store, searched":
            assert len(store.search("0.0")) >= 1
        await store.aclose()
    elapsed = _since(start)
    assert count == agents * replies
    return elapsed


def _alternating_medians(runs: list[Callable[[], _Times]], repeat: int) -> list[_Times]:
    """Run each of `runs` once to warm up, then `repeat` rounds of each in turn; their median times."""
    for run in runs:
        run()
    times: list[list[_Times]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, run_times in zip(runs, times, strict=True):
            run_times.append(run())
    return [
        _Times(statistics.median(t.wall for t in run_times), statistics.median(t.cpu for t in run_times))
        for run_times in times
    ]


def _verdict(ratio: float, target: float, at_least: bool) -> str:
    holds = ratio >= target if at_least else ratio <= target
    return f"{'≥' if at_least else '≤'} {target}x: {'holds' if holds else 'MISSED'}"


def measure(quick: bool) -> str:
    """Run both measurements; return the markdown table (also written to `benchmarks/results/store_throughput.md`)
    and a line with the two ratios the targets are about."""
    scale = _QUICK if quick else _FULL
    with tempfile.TemporaryDirectory(prefix="store-throughput-") as folder:
        messages = asyncio.run(_collect_run_messages(scale.throughput_agents, scale.throughput_replies, True))
        raw, raw_batched, store = _alternating_medians(
            [
                lambda: _raw_sqlite_seconds(folder, messages, "every transaction"),
                lambda: _raw_sqlite_seconds(folder, messages, "at the end"),
                lambda: _store_seconds(folder, messages),
            ],
            scale.repeat,
        )
        fan_out_messages = asyncio.run(_collect_run_messages(scale.fan_out_agents, scale.fan_out_replies, False))
        plain, no_op, encoding, attached, searched, raw_fan_out = _alternating_medians(
            [
                *(
                    lambda attached=attached: asyncio.run(
                        _fan_out_seconds(attached, folder, scale.fan_out_agents, scale.fan_out_replies)
                    )
                    for attached in ("nothing", "no-op", "encoding", "store", "store, searched")
                ),
                lambda: _raw_sqlite_seconds(folder, fan_out_messages, "never"),
            ],
            scale.repeat,
        )
    count = len(messages)
    fan_out = f"fan-out {scale.fan_out_agents:,} x {scale.fan_out_replies}"
    store_rate = f"{count / store.wall:,.0f}"
    rows = [
        (
            "throughput (messages/s)",
            f"raw sqlite3, index updated in every transaction: {count / raw.wall:,.0f}",
            store_rate,
            _ratio(raw, store),
            _verdict(raw.wall / store.wall, THROUGHPUT_TARGET, at_least=True),
        ),
        (
            "throughput (messages/s)",
            f"raw sqlite3, index updated once at the end as the store's search does: {count / raw_batched.wall:,.0f}",
            store_rate,
            _ratio(raw_batched, store),
            "(the store's own cost)",
        ),
        (
            f"{fan_out} (ms)",
            f"nothing attached: {plain.wall * 1000:.0f}",
            f"store attached, flushed, closed: {attached.wall * 1000:.0f}",
            _ratio(attached, plain),
            _verdict(attached.wall / plain.wall, FAN_OUT_TARGET, at_least=False),
        ),
        (
            f"{fan_out} (ms)",
            f"nothing attached: {plain.wall * 1000:.0f}",
            f"store attached, flushed, searched once (the text index built), closed: {searched.wall * 1000:.0f}",
            _ratio(searched, plain),
            "(indexing is left to the first search)",
        ),
        (
            f"{fan_out} (ms)",
            f"nothing attached: {plain.wall * 1000:.0f}",
            f"a no-op observer taking every persisted message: {no_op.wall * 1000:.0f}",
            _ratio(no_op, plain),
            "(the engine's share: records, events, persisting)",
        ),
        (
            f"{fan_out} (ms)",
            f"nothing attached: {plain.wall * 1000:.0f}",
            f"an observer hashing each persisted message and making its rows, writing nothing: "
            f"{encoding.wall * 1000:.0f}",
            _ratio(encoding, plain),
            "(a floor: the Python work of any store of this schema, which runs under one GIL in whatever thread)",
        ),
        (
            f"{fan_out} (ms)",
            f"nothing attached: {plain.wall * 1000:.0f}",
            f"nothing attached, then raw sqlite3 writing the run's {len(fan_out_messages):,} messages' rows: "
            f"{(plain.wall + raw_fan_out.wall) * 1000:.0f}",
            _ratio(_Times(plain.wall + raw_fan_out.wall, plain.cpu + raw_fan_out.cpu), plain),
            "(SQLite's own work for these rows, done after the run here; a store can do it beside the run)",
        ),
    ]
    table = "\n".join(
        [
            "# SQLite store: throughput and cost in a run",
            "",
            f"Median of {scale.repeat} alternating runs{' (quick scale)' if quick else ''}. Throughput: the {count:,} "
            f"messages and records of a {scale.throughput_agents:,} x {scale.throughput_replies} fan-out (texts of "
            "20-110 characters), persisted one by one, flushed and searched once, vs raw `sqlite3` inserting the same "
            f"rows into the same schema (version {SCHEMA_VERSION}, full-text index included) in transactions of "
            f"{DEFAULT_MAX_BATCH:,}, then the same search. Fan-out: the time from opening the store to closing it. "
            "Ratios of elapsed time (the targets) and, in brackets, of the CPU time of the process (all threads; "
            "steadier on a busy machine).",
            "",
            "| measurement | baseline | measured | ratio (CPU) | target |",
            "|---|---|---|---:|---|",
            *(
                f"| {name} | {baseline} | {measured} | {ratio} | {target} |"
                for name, baseline, measured, ratio, target in rows
            ),
            "",
        ]
    )
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(table, encoding="utf-8")
    summary = (
        f"fan-out ratio, store attached and flushed vs nothing attached: {attached.wall / plain.wall:.2f}x elapsed, "
        f"{attached.cpu / plain.cpu:.2f}x CPU (target {_verdict(attached.wall / plain.wall, FAN_OUT_TARGET, False)}); "
        f"throughput vs raw sqlite3: {raw.wall / store.wall:.2f}x "
        f"(target {_verdict(raw.wall / store.wall, THROUGHPUT_TARGET, True)})"
    )
    return f"{table}\n{summary}\n"


def _ratio(numerator: _Times, denominator: _Times) -> str:
    return f"{numerator.wall / denominator.wall:.2f}x ({numerator.cpu / denominator.cpu:.2f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small scale, for a smoke check")
    arguments = parser.parse_args()
    print(measure(arguments.quick))


if __name__ == "__main__":
    main()
