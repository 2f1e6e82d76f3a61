"""The LLM path's CPU cost: N concurrent streamed calls through `OpenAIAgent` vs the same calls made directly.

    python benchmarks/llm_path.py                # 1,000 concurrent calls, 5 repetitions of each variant
    python benchmarks/llm_path.py --quick        # 100 concurrent calls, 5 repetitions

Both variants talk to the offline stand-in (`miniagents.ext.llms.offline`) on loopback through the real `openai` SDK
and one shared `openai.AsyncOpenAI` client, and consume every streamed token as it arrives:

- `direct SDK`: `await client.chat.completions.create(..., stream=True)` and `async for chunk in stream`;
- `OpenAIAgent`: `OpenAIAgent.fork(non_freezable_kwargs={"async_client": client})` triggered with the same
  prompt (`model=..., stream=True`) inside `MiniAgents()`, each reply message's tokens iterated.

The server runs in a separate process, so the CPU time measured (`time.process_time()` of this process) is only the
client's: what the SDK costs, plus what the agent adds on top. The two variants alternate, each run after a warm-up
and a garbage collection; the table shows the medians and the median of the per-round ratios. Issue 18's target is
OpenAIAgent ≤ 1.05x the direct SDK's CPU. Then the same rounds run with the stand-in's reply recorded once and
replayed in process (no network): on a busy machine that says steadily what the agent layer itself adds per call.
"""

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["main", "measure"]

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
RESULTS_FILE = BENCHMARKS_DIR / "results" / "llm_path.md"
TARGET_RATIO = 1.05
MODEL = "bench-model"
# the stand-in echoes the prompt: with these 32 one-letter words its reply is about 50 streamed tokens
PROMPT = " ".join("abcdefghijklmnopqrstuvwxyzabcdef")
TOKEN_DELAY = 0.001

_SERVER_SCRIPT = """
import sys
from miniagents.ext.llms.offline import start_offline_llm_server

with start_offline_llm_server(token_delay=float(sys.argv[1])) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # ours, from this working tree, when run as a script


class _ServerProcess:
    """The offline stand-in in a child interpreter (its CPU is not this process's); stops when stdin closes."""

    def __init__(self, token_delay: float) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER_SCRIPT, str(token_delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.close()
            raise RuntimeError("The offline LLM stand-in did not start in its own process.")

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _client(base_url: str, calls: int) -> Any:
    import openai

    limits = openai.DEFAULT_CONNECTION_LIMITS
    http_client = openai.DefaultAsyncHttpxClient(
        limits=type(limits)(max_connections=calls, max_keepalive_connections=calls)
    )
    return openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="offline", http_client=http_client)


class _ReplayedStream:
    """The chunks of one recorded response, each after a task switch (as if it had just arrived)."""

    def __init__(self, chunks: list[Any]) -> None:
        self._chunks = iter(chunks)

    def __aiter__(self) -> "_ReplayedStream":
        return self

    async def __anext__(self) -> Any:
        await asyncio.sleep(0)
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> "_ReplayedStream":
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


class _ReplayClient:
    """Stands in for `openai.AsyncOpenAI` with the recorded chunks of the stand-in's streamed reply: no network, so
    the difference between the variants is only what the agent layer costs."""

    def __init__(self, chunks: list[Any]) -> None:
        self._chunks = chunks
        self.chat = self
        self.completions = self

    async def create(self, **_: Any) -> _ReplayedStream:
        return _ReplayedStream(self._chunks)

    async def __aenter__(self) -> "_ReplayClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


async def _arecord_chunks(base_url: str) -> list[Any]:
    """The chunks (as the SDK parsed them) of one streamed reply of the stand-in, for `_ReplayClient`."""
    async with _client(base_url, 1) as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            return [chunk async for chunk in stream]


async def _direct_calls(make_client: Callable[[], Any], calls: int) -> int:
    client = make_client()

    async def one_call() -> int:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},  # what OpenAIAgent asks for
        )
        tokens = 0
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    tokens += 1
        return tokens

    async with client:
        return sum(await asyncio.gather(*(one_call() for _ in range(calls))))


async def _agent_calls(make_client: Callable[[], Any], calls: int) -> int:
    from miniagents import MiniAgents
    from miniagents.ext.llms import OpenAIAgent

    client = make_client()
    agent = OpenAIAgent.fork(non_freezable_kwargs={"async_client": client})

    async def one_call() -> int:
        tokens = 0
        async for message_promise in agent.trigger(PROMPT, model=MODEL, stream=True):
            async for _ in message_promise:
                tokens += 1
        return tokens

    async with client, MiniAgents():
        return sum(await asyncio.gather(*(one_call() for _ in range(calls))))


_VARIANTS = {"direct SDK": _direct_calls, "OpenAIAgent": _agent_calls}


def _timed_run(variant: str, make_client: Callable[[], Any], calls: int) -> tuple[float, float, int]:
    """(CPU seconds of this process, wall seconds, tokens received) of one run of `variant`."""
    gc.collect()
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    tokens = asyncio.run(_VARIANTS[variant](make_client, calls))
    return time.process_time() - cpu_started, time.perf_counter() - wall_started, tokens


def _alternating_rounds(make_client: Callable[[], Any], calls: int, repeat: int, label: str) -> dict[str, Any]:
    for variant in _VARIANTS:  # warm-up: imports, the SDK's lazy modules, pydantic's caches
        _timed_run(variant, make_client, min(calls, 20))
    samples: dict[str, dict[str, list[float]]] = {variant: {"cpu": [], "wall": []} for variant in _VARIANTS}
    tokens: dict[str, int] = {}
    for round_number in range(repeat):
        order = list(_VARIANTS) if round_number % 2 == 0 else list(reversed(_VARIANTS))
        for variant in order:
            cpu, wall, received = _timed_run(variant, make_client, calls)
            samples[variant]["cpu"].append(cpu)
            samples[variant]["wall"].append(wall)
            tokens[variant] = received
            print(f"  {label} round {round_number + 1} {variant}: {cpu:.3f} s CPU, {wall:.3f} s", file=sys.stderr)
    return {"samples": samples, "tokens": tokens}


def run_rounds(calls: int, repeat: int, token_delay: float = TOKEN_DELAY) -> dict[str, Any]:
    """Alternate the variants `repeat` times over loopback HTTP, then replayed in process (each after a warm-up)."""
    load_before = os.getloadavg()[0]
    server = _ServerProcess(token_delay)
    try:
        loopback = _alternating_rounds(lambda: _client(server.base_url, calls), calls, repeat, "loopback")
        chunks = asyncio.run(_arecord_chunks(server.base_url))
    finally:
        server.close()
    replayed = _alternating_rounds(lambda: _ReplayClient(chunks), calls, repeat, "replayed")
    return {
        "calls": calls,
        "repeat": repeat,
        **loopback,
        "replayed": replayed,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def render_markdown(measured: dict[str, Any], command: str) -> str:
    """The measurements as a markdown table: CPU and wall medians per variant, per call and per token, the ratio."""
    calls = measured["calls"]
    samples = measured["samples"]
    direct_cpu = statistics.median(samples["direct SDK"]["cpu"])
    tokens_per_call = measured["tokens"]["direct SDK"] / calls
    lines = [
        "# LLM path: OpenAIAgent vs the direct SDK",
        "",
        f"`{command}` — {datetime.now(UTC).isoformat(timespec='seconds')}, {calls:,} concurrent streamed calls x "
        f"{tokens_per_call:.0f} tokens against the offline stand-in in another process, median of "
        f"{measured['repeat']} alternating runs, {os.cpu_count()} CPUs. CPU is `time.process_time()` of the client "
        "process only.",
        "",
        "| variant | CPU per run | CPU per call | wall per run | CPU vs direct SDK |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant in _VARIANTS:
        cpu = statistics.median(samples[variant]["cpu"])
        wall = statistics.median(samples[variant]["wall"])
        lines.append(
            f"| {variant} | {cpu:.3f} s | {cpu / calls * 1000:.2f} ms | {wall:.3f} s | {cpu / direct_cpu:.3f}x |"
        )
    ratios = sorted(
        agent / direct
        for agent, direct in zip(samples["OpenAIAgent"]["cpu"], samples["direct SDK"]["cpu"], strict=True)
    )
    paired = statistics.median(ratios)
    extra_per_call = (statistics.median(samples["OpenAIAgent"]["cpu"]) - direct_cpu) / calls
    verdict = "holds" if paired <= TARGET_RATIO else "does NOT hold"
    lines += [
        "",
        f"Median of the per-round ratios: **{paired:.3f}x** (target ≤ {TARGET_RATIO}x: {verdict}); the agent adds "
        f"{extra_per_call * 1e6:,.0f} µs of CPU per call ({extra_per_call / tokens_per_call * 1e6:.1f} µs per token).",
        f"Per-round ratios, sorted: {', '.join(f'{ratio:.3f}' for ratio in ratios)}. Load average during the runs: "
        f"{measured['load_before']:.1f} before, {measured['load_after']:.1f} after (on a busy machine the rounds "
        "spread widely: the ratio is only as good as that spread).",
        "",
    ]
    replayed = measured["replayed"]["samples"]
    replayed_direct = statistics.median(replayed["direct SDK"]["cpu"]) / calls
    replayed_agent = statistics.median(replayed["OpenAIAgent"]["cpu"]) / calls
    lines += [
        "What the agent layer adds without the network's noise: the same calls with the stand-in's reply recorded "
        "once and replayed in process (the SDK's parsed chunks, a task switch before each), CPU per call:",
        "",
        "| direct SDK (replayed) | OpenAIAgent (replayed) | the agent adds |",
        "|---:|---:|---:|",
        f"| {replayed_direct * 1e6:,.0f} µs | {replayed_agent * 1e6:,.0f} µs | "
        f"{(replayed_agent - replayed_direct) * 1e6:,.0f} µs per call |",
        "",
    ]
    return "\n".join(lines)


def measure(
    quick: bool, repeat: int | None = None, command: str | None = None, token_delay: float = TOKEN_DELAY
) -> str:
    """Run the comparison (100 calls x 5 rounds when `quick`, else 1,000 x 5); write and return the markdown table."""
    calls = 100 if quick else 1000
    measured = run_rounds(calls, repeat or 5, token_delay)
    markdown = render_markdown(measured, command or f"python benchmarks/llm_path.py{' --quick' if quick else ''}")
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(markdown)
    return markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 concurrent calls instead of 1,000")
    parser.add_argument("--repeat", type=int, default=None, help="alternating rounds of each variant (default 5)")
    parser.add_argument(
        "--token-delay",
        type=float,
        default=TOKEN_DELAY,
        help=f"seconds the stand-in waits between streamed tokens (default {TOKEN_DELAY}: the client is the limit)",
    )
    arguments = parser.parse_args()
    command = " ".join(["python", "benchmarks/llm_path.py", *sys.argv[1:]])
    print(measure(arguments.quick, arguments.repeat, command, arguments.token_delay))


if __name__ == "__main__":
    main()
