"""The tutorial's web research system runs end to end offline (no API key): parallel searches, scraping, answer."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from miniagents import MiniAgents

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QUESTION = "What is MiniAgents and why is it fast?"


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MINIAGENTS_LLM_OFFLINE", "1")
    monkeypatch.setenv("MINIAGENTS_OFFLINE_TOKEN_DELAY", "0.001")
    return {**os.environ}


def test_script_answers_a_question_end_to_end(tmp_path: Path, offline_env: dict[str, str]) -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "web_research.py"), QUESTION],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=offline_env,
    )
    assert completed.returncode == 0, completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.strip()]

    def indexes(prefix: str) -> list[int]:
        return [i for i, line in enumerate(lines) if line.startswith(prefix)]

    assert lines[:2] == ["RESEARCHING...", "RUNNING 3 WEB SEARCHES"]
    searching, found = indexes("SEARCHING FOR"), indexes("SEARCH SUCCESSFUL")
    reading, scraped = indexes("READING PAGE"), indexes("SCRAPING SUCCESSFUL")
    assert (len(searching), len(found), len(reading), len(scraped)) == (3, 3, 6, 6)
    assert max(searching) < min(found)  # all three searches were running at the same time
    [answer_header] = indexes("ANSWER:")
    assert max(scraped) < answer_header
    assert QUESTION in "\n".join(lines[answer_header:])
    # llm_logger_agent=True logs every OpenAIAgent call: 6 page summaries and the final answer (the structured-output
    # calls go through the SDK client directly)
    assert len(list((tmp_path / "llm_logs").glob("*.md"))) == 6 + 1


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


def test_final_answer_streams_token_by_token(offline_env: dict[str, str]) -> None:
    module = _load("web_research")

    async def collect() -> list[list[str]]:
        messages = []
        async for message_promise in module.research_agent.trigger(QUESTION):
            if not message_promise.known_beforehand.get("not_for_user"):
                messages.append([str(token) async for token in message_promise])
        return messages

    messages = MiniAgents().run(collect())
    assert "".join(messages[-2]) == "==========\nANSWER:\n=========="
    assert len(messages[-1]) > 10  # the answer arrived as many tokens, not as one block
    assert QUESTION in "".join(messages[-1])
