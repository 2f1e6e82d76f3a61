"""OpenTelemetry export overhead: the fan-out workload with the exporting observer attached vs nothing attached.

    python benchmarks/otel_overhead.py                  # 1,000 agents x 10 replies, 7 runs of each, alternating
    python benchmarks/otel_overhead.py --agents 200 --repeat 3

The observer sends its spans through the real SDK (a `BatchSpanProcessor`, as in production) to an exporter that
drops them, so what is measured is the cost of making the spans, not of shipping them. A third variant is the floor
of any exporter built on the SDK: the same run with nothing attached, followed by the same number of spans, of the
same shape (parent, attributes, times), made directly with the SDK. Prints the medians and their ratios (the target
is at most 1.3x).
"""

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Sequence

from fan_out_agents import fan_out_root
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from miniagents import MiniAgents
from miniagents.ext.otel import OpenTelemetryObserver

__all__ = ["main"]


class _DroppingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _sdk_spans(provider: TracerProvider, agents: int) -> None:
    """One root span and `agents` child spans, shaped as the observer makes them, straight through the SDK."""
    tracer = provider.get_tracer("benchmark")
    now = time.time_ns()
    root = tracer.start_span(
        "invoke_agent fan_out_root",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "fan_out_root"},
        start_time=now,
    )
    parent = trace.set_span_in_context(root)
    for call_id in range(agents):
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "fan_out_leaf",
            "miniagents.call_id": call_id,
            "miniagents.reply_count": 10,
        }
        span = tracer.start_span(
            "invoke_agent fan_out_leaf", context=parent, kind=SpanKind.INTERNAL, attributes=attributes, start_time=now
        )
        span.end(end_time=now)
    root.end()


async def _fan_out(
    agents: int, messages_per_agent: int, provider: TracerProvider | None, sdk_only: bool = False
) -> tuple[float, float]:
    """Wall time and CPU time (of every thread of the process: the span processor's too) of one run; the spans are
    handed to the exporter (`force_flush`) within it. `sdk_only`: nothing attached, the spans made by the SDK
    directly after the run."""
    observers = [OpenTelemetryObserver(provider)] if provider is not None and not sdk_only else []
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    async with MiniAgents(observers=observers):
        replies = fan_out_root.trigger(agents=agents, messages_per_agent=messages_per_agent)
        count = len([await message_promise async for message_promise in replies])
    if provider is not None:
        if sdk_only:
            _sdk_spans(provider, agents)
        provider.force_flush()
    elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert count == agents * messages_per_agent
    return elapsed, elapsed_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--messages-per-agent", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200 agents, 3 runs of each (a smoke check)")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.agents, arguments.repeat = 200, 3
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_DroppingExporter(), max_queue_size=100_000))
    variants = {"nothing attached": (None, False), "SDK spans alone": (provider, True), "export": (provider, False)}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for variant, sdk_only in variants.values():  # warm-up
        asyncio.run(_fan_out(arguments.agents, arguments.messages_per_agent, variant, sdk_only))
    for _ in range(arguments.repeat):
        for name, (variant, sdk_only) in variants.items():
            runs[name].append(asyncio.run(_fan_out(arguments.agents, arguments.messages_per_agent, variant, sdk_only)))
    provider.shutdown()
    lines = [
        f"Fan-out of {arguments.agents:,} agents x {arguments.messages_per_agent} replies, median of "
        f"{arguments.repeat} (alternating); the OpenTelemetry variant exports every call's span through a "
        '`BatchSpanProcessor` to an exporter that drops them; "SDK spans alone" is the run with nothing attached '
        "followed by as many spans of the same shape made directly with the SDK (the floor of any exporter built on "
        "it):",
        "",
        "| measure | nothing attached | SDK spans alone | ratio | OpenTelemetry export | ratio (target ≤ 1.3x) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, index in (("wall time", 0), ("CPU time (all threads)", 1)):
        plain, floor, exported = (statistics.median(run[index] for run in runs[name]) for name in variants)
        lines.append(
            f"| {label} | {plain * 1000:.1f} ms | {floor * 1000:.1f} ms | {floor / plain:.2f}x "
            f"| {exported * 1000:.1f} ms | {exported / plain:.2f}x |"
        )
    calls = arguments.agents + 1
    plain, floor, exported = (statistics.median(run[1] for run in runs[name]) for name in variants)
    lines += [
        "",
        f"Per call (CPU): the run itself {plain / calls * 1e6:.1f} µs; the SDK's span "
        f"{(floor - plain) / calls * 1e6:.1f} µs; the export in all {(exported - plain) / calls * 1e6:.1f} µs, of "
        f"which the observer and the lifecycle events {(exported - floor) / calls * 1e6:.1f} µs.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
