"""The workloads written with plain asyncio: the floor that any agent framework's overhead is measured against.

Agents become tasks connected by `asyncio.Queue`s, flattening becomes forwarding the queues in order, a replay
becomes iterating the list the consumer kept, and a trivial agent call becomes a plain coroutine call.
"""

import asyncio
from typing import Any

from bench_common import memory_text, traced_bytes

__all__ = ["IMPLEMENTATION"]

_END = object()


async def _put_all(items: Any, queue: asyncio.Queue[Any]) -> None:
    for item in items:
        await queue.put(item)
    await queue.put(_END)


async def _forward(source: asyncio.Queue[Any], target: asyncio.Queue[Any]) -> None:
    while (item := await source.get()) is not _END:
        await target.put(item)
    await target.put(_END)


async def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while (item := await queue.get()) is not _END:
        items.append(item)
    return items


async def fan_out(workload_input: tuple[int, int]) -> list[str]:
    agents, messages_per_agent = workload_input

    async def leaf(agent_index: int, queue: asyncio.Queue[Any]) -> None:
        await _put_all((f"{agent_index}.{index}" for index in range(messages_per_agent)), queue)

    async def root(output: asyncio.Queue[Any]) -> None:
        leaf_queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(agents)]
        leaves = [asyncio.create_task(leaf(index, queue)) for index, queue in enumerate(leaf_queues)]
        for queue in leaf_queues:
            while (item := await queue.get()) is not _END:
                await output.put(item)
        await output.put(_END)
        await asyncio.gather(*leaves)

    output: asyncio.Queue[Any] = asyncio.Queue()
    root_task = asyncio.create_task(root(output))
    messages = await _drain(output)
    await root_task
    return messages


async def chain(workload_input: tuple[list[str], int]) -> list[str]:
    messages, agents = workload_input
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(agents + 1)]
    tasks = [asyncio.create_task(_forward(queues[index], queues[index + 1])) for index in range(agents)]
    tasks.append(asyncio.create_task(_put_all(messages, queues[0])))
    received = await _drain(queues[-1])
    await asyncio.gather(*tasks)
    return received


async def token_streaming(workload_input: tuple[list[str], int]) -> tuple[list[str], list[str]]:
    tokens, depth = workload_input
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(depth + 1)]
    tasks = [asyncio.create_task(_forward(queues[index], queues[index + 1])) for index in range(depth)]
    tasks.append(asyncio.create_task(_put_all(tokens, queues[0])))
    first_pass = await _drain(queues[-1])
    await asyncio.gather(*tasks)
    replayed = [token for token in first_pass]  # a replay iterates what the consumer kept
    return first_pass, replayed


async def _echo(message: str) -> tuple[str]:
    return (message,)


async def many_calls(calls: list[str]) -> list[str]:
    results = []
    for call in calls:
        (reply,) = await _echo(call)
        results.append(reply)
    return results


async def memory(messages: int) -> tuple[float, list[str]]:
    baseline = traced_bytes()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    producer = asyncio.create_task(_put_all((memory_text(index) for index in range(messages)), queue))
    kept = await _drain(queue)
    await producer
    retained = traced_bytes() - baseline
    return retained / messages, kept


IMPLEMENTATION = {
    "fan_out": fan_out,
    "chain": chain,
    "token_streaming": token_streaming,
    "many_calls": many_calls,
    "memory": memory,
}
