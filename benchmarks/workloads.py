"""Benchmark workloads, written only against the API that this package shares with the reference `miniagents==0.0.35`.

Both implementations import as `miniagents`, so this file runs once per implementation, each in its own interpreter:

    python benchmarks/workloads.py --impl ours --output ours.json        # whichever `miniagents` this python imports
    python benchmarks/workloads.py --impl raw --output raw.json          # the asyncio baselines (raw_baselines.py)

`benchmarks/run.py` does that for every implementation and compares the results. Every repetition checks what the
workload computed (outside the timed part), so a fast but wrong run can never produce a number.
"""

import argparse
import asyncio
import gc
import json
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_common import memory_text, traced_bytes

__all__ = [
    "IMPLEMENTATIONS",
    "WORKLOADS",
    "Workload",
    "arun_workload",
    "check_result",
    "measure",
    "miniagents_implementation",
]

WorkloadFunction = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class Workload:
    """One benchmark: what it does, at which scale, how to build its input and how to check its result.

    `build_input(**scale)` runs outside the timed part; the implementation turns that input into a result, which
    `expected(**scale)` must equal. For a `bytes/message` workload the implementation returns
    `(bytes_per_message, result)`. `description` is formatted with the scale; `raw_baseline` says how the raw-asyncio
    version does the same work. `work_items(**scale)` counts the `work_item`s a timed run handles, so that the
    report can show the cost of one (e.g. microseconds per flattened message).
    """

    name: str
    description: str
    raw_baseline: str
    unit: str
    scale: Mapping[str, int]
    quick_scale: Mapping[str, int]
    build_input: Callable[..., Any]
    expected: Callable[..., Any]
    work_item: str = ""
    work_items: Callable[..., int] | None = None

    def describe(self, scale: Mapping[str, int]) -> str:
        """The description at this scale."""
        return self.description.format(**scale)


def _fan_out_input(agents: int, messages_per_agent: int) -> tuple[int, int]:
    return agents, messages_per_agent


def _fan_out_expected(agents: int, messages_per_agent: int) -> list[str]:
    return [f"{agent}.{message}" for agent in range(agents) for message in range(messages_per_agent)]


def _chain_input(messages: int, agents: int) -> tuple[list[str], int]:
    return [f"message {index}" for index in range(messages)], agents


def _chain_expected(messages: int, agents: int) -> list[str]:
    return _chain_input(messages, agents)[0]


def _token_streaming_input(tokens: int, depth: int) -> tuple[list[str], int]:
    return [f"t{index} " for index in range(tokens)], depth


def _token_streaming_expected(tokens: int, depth: int) -> tuple[list[str], list[str]]:
    token_list = _token_streaming_input(tokens, depth)[0]
    return token_list, token_list


def _many_calls_input(calls: int) -> list[str]:
    return [f"call {index}" for index in range(calls)]


def _many_calls_expected(calls: int) -> list[str]:
    return _many_calls_input(calls)


def _memory_input(messages: int) -> int:
    return messages


def _memory_expected(messages: int) -> list[str]:
    return [memory_text(index) for index in range(messages)]


WORKLOADS: dict[str, Workload] = {
    workload.name: workload
    for workload in (
        Workload(
            name="fan_out",
            description=(
                "one agent triggers {agents:,} agents ({messages_per_agent} replies each) and replies them all; "
                "consumed flattened"
            ),
            raw_baseline="a task per agent fills its own queue; the root forwards those queues, in order, into one",
            unit="s",
            scale={"agents": 1000, "messages_per_agent": 10},
            quick_scale={"agents": 50, "messages_per_agent": 10},
            build_input=_fan_out_input,
            expected=_fan_out_expected,
            work_item="message",
            work_items=lambda agents, messages_per_agent: agents * messages_per_agent,
        ),
        Workload(
            name="chain",
            description="{messages:,} messages through a chain of {agents} pass-through agents",
            raw_baseline="a chain of tasks, each forwarding one queue to the next",
            unit="s",
            scale={"messages": 200, "agents": 50},
            quick_scale={"messages": 50, "agents": 10},
            build_input=_chain_input,
            expected=_chain_expected,
            work_item="message hop",
            work_items=lambda messages, agents: messages * agents,
        ),
        Workload(
            name="token_streaming",
            description="{tokens:,} tokens of one message through {depth} nested pass-through agents, then replayed",
            raw_baseline=(
                "tokens forwarded through a queue per agent, then the kept list iterated again; the agents pass the "
                "message promise itself along instead of each token, so here raw asyncio does more work"
            ),
            unit="s",
            scale={"tokens": 100_000, "depth": 3},
            quick_scale={"tokens": 5_000, "depth": 3},
            build_input=_token_streaming_input,
            expected=_token_streaming_expected,
            work_item="token",
            work_items=lambda tokens, depth: tokens,
        ),
        Workload(
            name="many_calls",
            description="{calls:,} sequential trivial `await agent.trigger(...)`; the agent echoes its input",
            raw_baseline="`await echo(message)`, a plain coroutine call",
            unit="s",
            scale={"calls": 10_000},
            quick_scale={"calls": 500},
            build_input=_many_calls_input,
            expected=_many_calls_expected,
            work_item="call",
            work_items=lambda calls: calls,
        ),
        Workload(
            name="memory",
            description="bytes held per resolved, replayable message ({messages:,} replies of one agent; tracemalloc)",
            raw_baseline="the message strings received through a queue and kept in a list",
            unit="bytes/message",
            scale={"messages": 10_000},
            quick_scale={"messages": 1_000},
            build_input=_memory_input,
            expected=_memory_expected,
        ),
    )
}


def miniagents_implementation(
    on_streaming_replies: Callable[[Any], None] | None = None,
) -> dict[str, WorkloadFunction]:
    """The workloads written with whichever `miniagents` this interpreter imports (ours or the reference).

    `on_streaming_replies` gets the replies promise of the token-streaming workload before it is consumed (to attach
    a notebook stream view to it, for example); an awaitable it returns is awaited within the timed part, after the
    consumption (e.g. until that view has sent its final state).
    """
    from fan_out_agents import fan_out_root  # the companion benchmarks attach things to the same agents

    from miniagents import InteractionContext, MiniAgents, TextMessage, miniagent

    @miniagent
    async def pass_through(ctx: InteractionContext) -> None:
        ctx.reply(ctx.message_promises)

    @miniagent
    async def nested_pass_through(ctx: InteractionContext, depth: int) -> None:
        if depth > 1:
            ctx.reply(nested_pass_through.trigger(ctx.message_promises, depth=depth - 1))
        else:
            ctx.reply(ctx.message_promises)

    @miniagent
    async def memory_replier(ctx: InteractionContext, count: int) -> None:
        for index in range(count):
            ctx.reply(memory_text(index))

    async def contents(replies: Any) -> list[str]:
        return [(await message_promise).content async for message_promise in replies]

    async def fan_out(workload_input: tuple[int, int]) -> list[str]:
        agents, messages_per_agent = workload_input
        async with MiniAgents():
            return await contents(fan_out_root.trigger(agents=agents, messages_per_agent=messages_per_agent))

    async def chain(workload_input: tuple[list[str], int]) -> list[str]:
        messages, agents = workload_input
        async with MiniAgents():
            replies: Any = messages
            for _ in range(agents):
                replies = pass_through.trigger(replies)
            return await contents(replies)

    async def token_streaming(workload_input: tuple[list[str], int]) -> tuple[list[str], list[str]]:
        tokens, depth = workload_input

        async def stream_tokens(_metadata_so_far: dict[str, Any]) -> Any:
            for token in tokens:
                yield token

        async with MiniAgents():
            source = TextMessage.promise(message_token_streamer=stream_tokens)
            replies = nested_pass_through.trigger(source, depth=depth)
            watcher = None if on_streaming_replies is None else on_streaming_replies(replies)
            first_pass = [token async for message_promise in replies async for token in message_promise]
            replayed = [token async for message_promise in replies async for token in message_promise]
            if watcher is not None:
                await watcher
            return first_pass, replayed

    async def many_calls(calls: list[str]) -> list[str]:
        results = []
        async with MiniAgents():
            for call in calls:
                (reply,) = await pass_through.trigger(call)
                results.append(reply.content)
        return results

    async def memory(messages: int) -> tuple[float, list[str]]:
        async with MiniAgents():
            baseline = traced_bytes()
            replies = memory_replier.trigger(count=messages)
            await replies
            retained = traced_bytes() - baseline
            return retained / messages, await contents(replies)

    return {
        "fan_out": fan_out,
        "chain": chain,
        "token_streaming": token_streaming,
        "many_calls": many_calls,
        "memory": memory,
    }


def _raw_implementation() -> dict[str, WorkloadFunction]:
    import raw_baselines

    return raw_baselines.IMPLEMENTATION


IMPLEMENTATIONS: dict[str, Callable[[], dict[str, WorkloadFunction]]] = {
    "ours": miniagents_implementation,
    "reference": miniagents_implementation,
    "raw": _raw_implementation,
}


async def arun_workload(workload: Workload, function: WorkloadFunction, scale: Mapping[str, int]) -> tuple[float, Any]:
    """Run one repetition: build the input, time (or trace) the implementation, check the result.

    Returns the measured value (seconds, or bytes per message) and the result; raises `AssertionError` when the
    implementation computed something else than the workload expects.
    """
    workload_input = workload.build_input(**scale)
    gc.collect()
    if workload.unit == "bytes/message":
        already_tracing = tracemalloc.is_tracing()
        if not already_tracing:
            tracemalloc.start()
        try:
            value, result = await function(workload_input)
        finally:
            if not already_tracing:
                tracemalloc.stop()
    else:
        started = time.perf_counter()
        result = await function(workload_input)
        value = time.perf_counter() - started
    check_result(workload, scale, result)
    return value, result


def check_result(workload: Workload, scale: Mapping[str, int], result: Any) -> None:
    """Raise `AssertionError` unless `result` is what `workload` must compute at `scale`."""
    if result != workload.expected(**scale):
        raise AssertionError(f"Workload `{workload.name}` computed a wrong result at scale {dict(scale)}.")


def measure(impl: str, names: list[str], repeat: int, quick: bool) -> dict[str, Any]:
    """Run the named workloads of one implementation `repeat` times each (after one small warm-up run)."""
    functions = IMPLEMENTATIONS[impl]()
    results = {}
    for name in names:
        workload = WORKLOADS[name]
        function = functions[name]
        scale = workload.quick_scale if quick else workload.scale
        asyncio.run(arun_workload(workload, function, workload.quick_scale))  # imports, caches, pydantic schemas
        samples = [asyncio.run(arun_workload(workload, function, scale))[0] for _ in range(repeat)]
        results[name] = {
            "unit": workload.unit,
            "scale": dict(scale),
            "samples": samples,
            "median": statistics.median(samples),
        }
    return {"impl": impl, "environment": _environment(impl), "workloads": results}


def _environment(impl: str) -> dict[str, Any]:
    environment: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable}
    if impl != "raw":
        import pydantic

        import miniagents

        environment["miniagents_version"] = getattr(miniagents, "__version__", "unknown")
        environment["miniagents_path"] = str(Path(miniagents.__file__).parent)
        environment["pydantic_version"] = pydantic.VERSION
    environment["platform"] = platform.platform()
    return environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), required=True)
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions per workload (default: 5)")
    parser.add_argument("--quick", action="store_true", help="small scales, for smoke tests")
    parser.add_argument("--output", type=Path, help="write the JSON here instead of to stdout")
    arguments = parser.parse_args()
    report = json.dumps(measure(arguments.impl, arguments.workloads, arguments.repeat, arguments.quick), indent=2)
    if arguments.output is None:
        print(report)
    else:
        arguments.output.write_text(report + "\n")


if __name__ == "__main__":
    main()
