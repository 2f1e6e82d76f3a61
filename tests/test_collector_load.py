"""What a big fan-out gives the cyclic garbage collector to traverse while its calls are alive (issue #18).

A full collection traverses every live object the collector tracks, and one runs each time the live ones grow by a
quarter; an agent that triggers N agents in one go keeps N calls alive at once, so what each call holds sets the
collector's cost. asyncio's own share of a pending task is five objects on CPython 3.11 (the task, the handle and
callback of its first step, its context, a weak reference); the engine adds the call's run (which is also the task's
coroutine), its reply sequence and that sequence's promise, and nothing more. A call that has finished holds its
replies only: its task and run are freed as it ends, not after every other pending task has taken its step.
"""

import asyncio
import gc
from typing import Any

import pytest

from miniagents import InteractionContext, MiniAgents, miniagent

pytestmark = pytest.mark.timeout(60)

CALLS = 2000
PENDING_BOUND = 9  # tracked objects per triggered call not started yet: 8 on CPython 3.11-3.13 (16 before issue #18)
FINISHED_BOUND = 6  # per call finished, its replies not consumed yet: 5 (21 before issue #18)

_tracked_per_call: dict[str, float] = {}
_baseline: list[int] = []


def _tracked_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


@miniagent
async def fan_out(ctx: InteractionContext, calls: int) -> None:
    _baseline.append(_tracked_objects())
    for index in range(calls):
        ctx.reply(leaf.trigger(index=index, calls=calls))
    _tracked_per_call["pending"] = (_tracked_objects() - _baseline[0]) / calls


@miniagent
async def leaf(ctx: InteractionContext, index: int, calls: int) -> None:
    ctx.reply(f"reply {index}")
    if index == calls - 1:  # every other call has finished (their tasks ran in order), none was consumed yet
        _tracked_per_call["finished"] = (_tracked_objects() - _baseline[0]) / calls


async def _run() -> Any:
    async with MiniAgents():
        return await fan_out.trigger(calls=CALLS)


def test_calls_of_a_big_fan_out_hold_few_objects_for_the_collector() -> None:
    _tracked_per_call.clear()
    _baseline.clear()
    assert len(asyncio.run(_run())) == CALLS
    assert _tracked_per_call["pending"] <= PENDING_BOUND, _tracked_per_call
    assert _tracked_per_call["finished"] <= FINISHED_BOUND, _tracked_per_call
