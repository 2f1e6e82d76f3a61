"""OpenTelemetry export overhead: the fan-out workload with the exporting observer attached vs nothing attached.

    python benchmarks/otel_overhead.py                  # 1,000 agents x 10 replies, 7 runs of each, alternating
    python benchmarks/otel_overhead.py --agents 200 --repeat 3

The observer sends its spans through the real SDK (a `BatchSpanProcessor`, as in production) to an exporter that
drops them, so what is measured is the cost of making the spans, not of shipping them. Prints the medians and their
ratio (the target is at most 1.3x).
"""

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Sequence

from fan_out_agents import fan_out_root
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from miniagents import MiniAgents
from miniagents.ext.otel import OpenTelemetryObserver

__all__ = ["main"]


class _DroppingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def _fan_out(agents: int, messages_per_agent: int, provider: TracerProvider | None) -> tuple[float, float]:
    """Wall time and CPU time (of every thread of the process: the span processor's too) of one run; the spans are
    handed to the exporter (`force_flush`) within it."""
    observers = [OpenTelemetryObserver(provider)] if provider is not None else []
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    async with MiniAgents(observers=observers):
        replies = fan_out_root.trigger(agents=agents, messages_per_agent=messages_per_agent)
        count = len([await message_promise async for message_promise in replies])
    if provider is not None:
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
    plain: list[tuple[float, float]] = []
    exported: list[tuple[float, float]] = []
    for variant in (None, provider):  # warm-up
        asyncio.run(_fan_out(arguments.agents, arguments.messages_per_agent, variant))
    for _ in range(arguments.repeat):
        plain.append(asyncio.run(_fan_out(arguments.agents, arguments.messages_per_agent, None)))
        exported.append(asyncio.run(_fan_out(arguments.agents, arguments.messages_per_agent, provider)))
    provider.shutdown()
    lines = [
        f"Fan-out of {arguments.agents:,} agents x {arguments.messages_per_agent} replies, median of "
        f"{arguments.repeat} (alternating); the OpenTelemetry variant exports every call's span through a "
        "`BatchSpanProcessor` to an exporter that drops them:",
        "",
        "| measure | nothing attached | OpenTelemetry export | ratio (target ≤ 1.3x) |",
        "|---|---:|---:|---:|",
    ]
    for label, index in (("wall time", 0), ("CPU time (all threads)", 1)):
        plain_median = statistics.median(run[index] for run in plain)
        exported_median = statistics.median(run[index] for run in exported)
        lines.append(
            f"| {label} | {plain_median * 1000:.1f} ms | {exported_median * 1000:.1f} ms "
            f"| {exported_median / plain_median:.2f}x |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
