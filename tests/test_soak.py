"""Soak: many small calls in a notebook-like session with the SQLite store attached and a live trace.

What a notebook left running for days does: every call is recorded by the session history, drawn by a trace and
written by the store. Memory must stay bounded by the documented limits, not grow with the number of calls, and the
store's write queue must never exceed its bound.

The default run makes a few thousand calls. The full soak (200,000 calls, several minutes) is one command:

    MINIAGENTS_SOAK_CALLS=200000 pytest tests/test_soak.py
"""

import asyncio
import gc
import os
import tracemalloc
from pathlib import Path

import pytest

from miniagents import InteractionContext, miniagent
from miniagents.ext.persistence import SQLiteMessageStore
from miniagents_notebook import session as session_module
from miniagents_notebook.session import NotebookSession
from miniagents_notebook.trace import Trace

CALLS = int(os.environ.get("MINIAGENTS_SOAK_CALLS", "4000"))
LIMIT = 200
"""The session history's and the trace's limit (calls kept); small, so that a short run fills them."""
WARM_UP_CALLS = 4_000
"""Enough to fill every bounded structure: the limits above and the engine's memory of persisted hash keys."""
BYTES_PER_CALL_GROWTH = 100
"""Stated bound: once the limits are full, retained memory may grow by at most this much per further call."""
BATCH = 100

pytestmark = pytest.mark.timeout(max(300, CALLS // 100))


@miniagent
async def worker(ctx: InteractionContext, number: int) -> None:
    ctx.reply(f"done {number}: {await ctx.message_promises.as_single_text_promise()}")


@miniagent
async def coordinator(ctx: InteractionContext, number: int) -> None:
    ctx.reply(worker.trigger(ctx.message_promises, number=number))


async def _run_calls(first: int, count: int) -> None:
    """`count` calls (half of them nested in the other half), `BATCH` coordinators at a time."""
    for start in range(first, first + count // 2, BATCH):
        await asyncio.gather(
            *(coordinator.trigger(f"task {number}", number=number) for number in range(start, start + BATCH))
        )


def _retained() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_memory_and_the_write_queue_stay_bounded_over_many_calls(tmp_path: Path) -> None:
    session = NotebookSession(history_limit=LIMIT)
    store = SQLiteMessageStore(tmp_path / "soak.sqlite", max_pending=2_000)
    store.attach(session.mini_agents)
    trace = Trace(session.mini_agents, all_calls=True, max_calls=LIMIT).start()
    try:
        tracemalloc.start()  # before the warm-up, so that what replaces its records is weighed against them
        try:
            await _run_calls(0, WARM_UP_CALLS)
            await store.aflush()
            start = _retained()
            await _run_calls(WARM_UP_CALLS, CALLS // 2)
            await store.aflush()
            middle = _retained()
            await _run_calls(WARM_UP_CALLS + CALLS // 2, CALLS // 2)
            await store.aflush()
            end = _retained()
        finally:
            tracemalloc.stop()
        trace.stop()
        await session.mini_agents.aflush_tasks()
        stored_calls = len(store.calls())
    finally:
        session.close()
        await asyncio.gather(*session_module._finalizing)
        await store.aclose()

    growth_per_call = (end - middle) / (CALLS // 2)
    print(
        f"\n{CALLS:,} calls after a warm-up of {WARM_UP_CALLS:,}: retained {start / 1e6:.2f} → {middle / 1e6:.2f} → "
        f"{end / 1e6:.2f} MB, {growth_per_call:.1f} B per call in the second half; "
        f"store queue peak {store.peak_pending:,} of {store.max_pending:,}"
    )
    assert stored_calls == WARM_UP_CALLS + CALLS  # nothing was lost on the way to the disk
    assert len(session.history) == LIMIT and session.history.evicted_calls == WARM_UP_CALLS + CALLS - LIMIT
    assert store.peak_pending <= store.max_pending
    assert growth_per_call < BYTES_PER_CALL_GROWTH, (start, middle, end)
    assert (middle - start) / (CALLS // 2) < BYTES_PER_CALL_GROWTH, (start, middle)
