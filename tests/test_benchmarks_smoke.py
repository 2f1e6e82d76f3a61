"""The benchmark workloads compute the right results at a tiny scale, so the benchmarks cannot silently rot.

Only this package and the raw-asyncio baselines run here (no reference implementation, no timing assertions).
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from miniagents import MessageSequencePromise

BENCHMARKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS_DIR))

import raw_baselines  # noqa: E402 - the benchmarks are scripts in a folder, not a package
import run  # noqa: E402
import workloads  # noqa: E402

TINY_SCALES: dict[str, dict[str, int]] = {
    "fan_out": {"agents": 20, "messages_per_agent": 3},
    "chain": {"messages": 15, "agents": 6},
    "token_streaming": {"tokens": 300, "depth": 3},
    "many_calls": {"calls": 40},
    "memory": {"messages": 200},
}

IMPLEMENTATIONS = {"ours": workloads.miniagents_implementation(), "raw": raw_baselines.IMPLEMENTATION}


def test_every_workload_has_a_tiny_scale_here() -> None:
    assert set(TINY_SCALES) == set(workloads.WORKLOADS)


async def _run(impl: str, name: str) -> tuple[float, Any]:
    workload = workloads.WORKLOADS[name]
    return await workloads.arun_workload(workload, IMPLEMENTATIONS[impl][name], TINY_SCALES[name])


@pytest.mark.parametrize("impl", ["ours", "raw"])
async def test_fan_out_yields_every_reply_of_every_agent_in_order(impl: str) -> None:
    _, messages = await _run(impl, "fan_out")

    assert len(messages) == 20 * 3
    assert messages[:4] == ["0.0", "0.1", "0.2", "1.0"]
    assert messages[-1] == "19.2"


@pytest.mark.parametrize("impl", ["ours", "raw"])
async def test_chain_delivers_the_messages_unchanged(impl: str) -> None:
    _, messages = await _run(impl, "chain")

    assert messages == [f"message {index}" for index in range(15)]


@pytest.mark.parametrize("impl", ["ours", "raw"])
async def test_token_streaming_yields_every_token_twice(impl: str) -> None:
    _, (first_pass, replayed) = await _run(impl, "token_streaming")

    tokens = [f"t{index} " for index in range(300)]
    assert first_pass == tokens
    assert replayed == tokens


@pytest.mark.parametrize("impl", ["ours", "raw"])
async def test_many_calls_get_one_echo_each(impl: str) -> None:
    elapsed, replies = await _run(impl, "many_calls")

    assert replies == [f"call {index}" for index in range(40)]
    assert elapsed > 0


@pytest.mark.parametrize("impl", ["ours", "raw"])
async def test_memory_counts_at_least_the_content_of_each_replayable_message(impl: str) -> None:
    bytes_per_message, replayed = await _run(impl, "memory")

    assert replayed == [f"message number {index:08d}" for index in range(200)]
    assert bytes_per_message >= sys.getsizeof(replayed[0])


async def test_a_wrong_result_is_refused() -> None:
    async def drops_the_last_message(workload_input: Any) -> list[str]:
        return (await IMPLEMENTATIONS["ours"]["chain"](workload_input))[:-1]

    with pytest.raises(AssertionError, match="`chain` computed a wrong result"):
        await workloads.arun_workload(workloads.WORKLOADS["chain"], drops_the_last_message, TINY_SCALES["chain"])


async def test_the_streaming_replies_can_be_watched_while_the_workload_runs() -> None:
    watched: list[MessageSequencePromise] = []
    function = workloads.miniagents_implementation(on_streaming_replies=watched.append)["token_streaming"]

    await workloads.arun_workload(workloads.WORKLOADS["token_streaming"], function, TINY_SCALES["token_streaming"])

    assert len(watched) == 1
    assert isinstance(watched[0], MessageSequencePromise)


def test_the_notebook_overhead_is_measured_in_a_kernel(tmp_path: Path) -> None:
    command = [sys.executable, str(BENCHMARKS_DIR / "notebook_overhead.py"), "--quick", "--repeat", "1"]
    command += ["--timeout", "10", "--output-dir", str(tmp_path)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=55, check=False)

    assert completed.returncode == 0, completed.stderr
    measured = json.loads((tmp_path / "notebook_overhead.json").read_text())
    assert measured["timed_out"] == []
    assert len(measured["samples"]["none"]) == len(measured["samples"]["views"]) == 1
    assert measured["ratio"] == measured["medians"]["views"] / measured["medians"]["none"]
    (run,) = measured["runs"]
    assert run["stream view"] >= 1 and run["call tree"] >= 1  # each view opened its widget at least
    assert measured["paced"]["seconds"] > 1 and measured["paced"]["stream view"] > 2
    markdown = (tmp_path / "notebook_overhead.md").read_text()
    assert "| none |" in markdown and "| views |" in markdown and "| stream view |" in markdown


def test_the_runner_compares_ours_with_raw_asyncio(tmp_path: Path) -> None:
    command = [sys.executable, str(BENCHMARKS_DIR / "run.py"), "--quick", "--repeat", "1", "--skip-reference"]
    command += ["--workloads", "chain", "many_calls", "--output-dir", str(tmp_path), "--skip-companions"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=50, check=False)

    assert completed.returncode == 0, completed.stderr
    results = json.loads((tmp_path / "latest.json").read_text())
    assert set(results["workloads"]) == {"chain", "many_calls"}
    chain = results["workloads"]["chain"]
    assert set(chain["impls"]) == {"ours", "raw"}
    assert chain["ratios"]["ours/raw"] == chain["impls"]["ours"]["median"] / chain["impls"]["raw"]["median"]
    assert chain["ratios"]["reference/ours"] is None
    assert Path(results["environments"]["ours"]["miniagents_path"]) == BENCHMARKS_DIR.parent / "miniagents"
    markdown = (tmp_path / "latest.md").read_text()
    assert "| chain |" in markdown
    assert "| many_calls |" in markdown


def test_the_markdown_report_shows_medians_and_ratios() -> None:
    results = {
        "command": "python benchmarks/run.py",
        "generated_at": "2025-01-01T00:00:00+00:00",
        "repeat": 5,
        "quick": False,
        "cpu_count": 2,
        "environments": {},
        "workloads": {
            "chain": {
                "description": "messages through agents",
                "raw_baseline": "queues",
                "unit": "s",
                "scale": {"messages": 200, "agents": 50},
                "impls": {"ours": {"median": 0.01}, "reference": {"median": 0.2}, "raw": {"median": 0.004}},
                "ratios": {"reference/ours": 20.0, "ours/raw": 2.5},
                "work_item": "message hop",
                "work_items": 10_000,
            }
        },
    }

    markdown = run.render_markdown(results)

    assert "| chain | 10.0 ms | 200.0 ms | 4.00 ms | 20.0x | 2.50x |" in markdown
    assert "| chain | 10,000 x message hop | 1.00 µs | 20.00 µs | 0.40 µs |" in markdown


def test_the_observability_benchmark_runs_every_variant_and_flattens_deep_nesting() -> None:
    import observability

    observers = observability.measure_observers(quick=True, repeat=1)
    for variant in observability.OBSERVER_VARIANTS:
        assert f"| {variant} |" in observers
    nesting = observability.measure_nesting(quick=True, repeat=1)
    assert "| 800 |" in nesting  # the 800-deep sequence flattened to its 801 messages (the run checks the count)
