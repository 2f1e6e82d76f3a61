"""A finished run leaves no reference cycles behind: its calls, sequences and messages are freed by reference counting.

Cycles left by every call make the cyclic garbage collector do work proportional to the calls made (and, while a big
fan-out is alive, to everything alive); without them it has nothing to find. The bound is a handful of objects of
the run itself (its `MiniAgents`), whatever the number of calls.
"""

import asyncio
import gc
from typing import Any

import pytest

from miniagents import InteractionContext, MiniAgents, TextMessage, miniagent

pytestmark = pytest.mark.timeout(60)

CALLS = 1000
BOUND = 50  # objects of the run itself, never per call


@miniagent
async def root(ctx: InteractionContext, calls: int) -> None:
    for index in range(calls):
        ctx.reply(leaf.trigger(f"question {index}", index=index))
    ctx.reply(TextMessage("done", role="assistant"))


@miniagent
async def leaf(ctx: InteractionContext, index: int) -> None:
    async def tokens(_: dict[str, Any]) -> Any:
        yield "answer "
        yield str(index)

    ctx.reply(TextMessage.promise(message_token_streamer=tokens))
    ctx.reply([f"{index}.a", {"content": f"{index}.b"}])
    ctx.reply(await ctx.message_promises)


async def _run(calls: int, **options: Any) -> int:
    async with MiniAgents(**options):
        replies = await root.trigger(calls=calls)
    return len(replies)


@pytest.mark.parametrize(
    "options",
    [{}, {"on_call_event": lambda _event: None}, {"on_persist_messages": lambda _messages: None}],
    ids=["nothing attached", "an event handler", "a persist handler"],
)
def test_a_finished_run_of_a_thousand_calls_leaves_no_cyclic_garbage(collector_off: None, options: Any) -> None:
    assert asyncio.run(_run(CALLS, **options)) == CALLS * 4 + 1
    leftover = gc.collect()
    assert leftover < BOUND, f"{leftover} objects in reference cycles after {CALLS} calls"
