"""The tutorial's sequence-flattening example and its naive async-generator twin, run as shipped."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from miniagents import CallFinished, CallInitiated, CallStarted, MiniAgents

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _numbered_lines(output: str) -> list[list[str]]:
    runs: list[list[str]] = [[]]
    for line in output.splitlines():
        if line.startswith(("FIRST", "SECOND")):
            runs.append([])
        elif ": " in line and line.split(": ", 1)[0].isdigit():
            runs[-1].append(line.split(": ", 1)[1])
    return runs[1:]


def test_miniagents_version_interleaves_and_replays_without_rerunning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = _load("sequence_flattening")
    monkeypatch.setattr(module.random, "uniform", lambda low, high: low / 50)
    events: list[Any] = []

    MiniAgents(on_call_event=events.append).run(module.main())

    first, second = _numbered_lines(capsys.readouterr().out)
    assert first == second  # the second consumption replays the same messages
    assert len(first) == 1 + 3 * 2 + 6 * 2
    assert first[0] == "RESEARCHING: Tell me about MiniAgents"
    # the three searches all reported SEARCHING before any of them was done: they ran in parallel
    searching = [first.index(f"query {i} - SEARCHING") for i in (1, 2, 3)]
    done = [first.index(f"query {i} - SEARCH DONE") for i in (1, 2, 3)]
    assert max(searching) < min(done)

    aliases = {event.call_id: event.agent_alias for event in events if isinstance(event, CallInitiated)}
    started = [aliases[event.call_id] for event in events if isinstance(event, CallStarted)]
    assert sorted(started) == sorted(["research_agent"] + ["web_search_agent"] * 3 + ["page_scraper_agent"] * 6)
    # every scraper started before the first scraper finished: the whole tree ran concurrently
    order = [
        (type(event).__name__, aliases[event.call_id])
        for event in events
        if isinstance(event, (CallStarted, CallFinished))
    ]
    last_scraper_start = max(i for i, item in enumerate(order) if item == ("CallStarted", "page_scraper_agent"))
    first_scraper_end = min(i for i, item in enumerate(order) if item == ("CallFinished", "page_scraper_agent"))
    assert last_scraper_start < first_scraper_end


def test_naive_version_is_sequential_and_not_replayable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = _load("sequence_flattening_naive")
    monkeypatch.setattr(module.random, "uniform", lambda low, high: low / 50)
    import asyncio

    asyncio.run(module.main())

    first, second = _numbered_lines(capsys.readouterr().out)
    assert second == []  # an exhausted generator yields nothing the second time
    assert first.index("query 2 - SEARCHING") > first.index("https://dummy.com/query-1/page-2 - DONE")


def test_example_runs_as_a_script() -> None:
    import subprocess

    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "sequence_flattening.py")], capture_output=True, text=True, timeout=30
    )
    assert completed.returncode == 0, completed.stderr
    first, second = _numbered_lines(completed.stdout)
    assert first == second and len(first) == 19
