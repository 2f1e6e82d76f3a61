"""`MiniAgents(llm_logger_agent=...)`: one readable markdown file per LLM call, written without delaying the call."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from miniagents import ErrorMessage, InteractionContext, Message, MiniAgent, MiniAgents, miniagent
from miniagents.ext.llms import AnthropicAgent, OpenAIAgent, SystemMessage
from miniagents.ext.llms.offline import OfflineLLMServer

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_real_llm_providers")]

QUESTION = "Which river flows through Vienna?"
SYSTEM_PROMPT = "Answer like a travel guide."


@pytest.fixture
async def agents(server: OfflineLLMServer) -> AsyncIterator[dict[str, MiniAgent]]:
    openai_client = server.openai_client()
    anthropic_client = server.anthropic_client()
    yield {
        "openai": OpenAIAgent.fork(non_freezable_kwargs={"async_client": openai_client}),
        "anthropic": AnthropicAgent.fork(non_freezable_kwargs={"async_client": anthropic_client}),
    }
    await openai_client.close()
    await anthropic_client.close()


def _log_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.md"))


async def test_every_llm_call_is_written_as_one_markdown_file(tmp_path: Path, agents: dict[str, MiniAgent]) -> None:
    async with MiniAgents(llm_logger_agent=True, llm_logs_folder=tmp_path):
        openai_reply = await agents["openai"].trigger(
            QUESTION, model="gpt-test", system=SYSTEM_PROMPT, temperature=0.5, stream=True
        )
        anthropic_reply = await agents["anthropic"].trigger(
            [SystemMessage("Mention one bridge."), QUESTION], model="claude-test", system=SYSTEM_PROMPT, stream=False
        )

    files = _log_files(tmp_path)
    assert len(files) == 2
    texts = {path.read_text(encoding="utf-8").split("\n", 1)[0]: path.read_text(encoding="utf-8") for path in files}
    openai_log = texts["# OpenAIAgent · gpt-test"]
    anthropic_log = texts["# AnthropicAgent · claude-test"]

    assert "- **temperature:** 0.5" in openai_log
    assert "- **stream:** true" in openai_log
    assert f"### system\n\n{SYSTEM_PROMPT}\n\n### user\n\n{QUESTION}" in openai_log
    assert f"## Response (assistant)\n\n{openai_reply[0]}\n" in openai_log
    assert '"finish_reason": "stop"' in openai_log
    assert '"completion_tokens"' in openai_log

    assert f"### system\n\n{SYSTEM_PROMPT}\n\nMention one bridge.\n\n### user\n\n{QUESTION}" in anthropic_log
    assert f"## Response (assistant)\n\n{anthropic_reply[0]}\n" in anthropic_log
    assert '"stop_reason": "end_turn"' in anthropic_log
    assert "- **stream:** false" in anthropic_log


async def test_a_failed_call_is_logged_with_its_error(tmp_path: Path, agents: dict[str, MiniAgent]) -> None:
    async with MiniAgents(llm_logger_agent=True, llm_logs_folder=tmp_path, errors_as_messages=True):
        replies = await agents["openai"].trigger(QUESTION, model="offline-error-429", max_retries=0)

    assert isinstance(replies[0], ErrorMessage)
    [log_file] = _log_files(tmp_path)
    log_text = log_file.read_text(encoding="utf-8")
    assert f"### user\n\n{QUESTION}" in log_text
    assert "## Response: ERROR" in log_text
    assert "LLMRateLimitError" in log_text


async def test_logging_never_holds_back_the_tokens(
    tmp_path: Path, server: OfflineLLMServer, agents: dict[str, MiniAgent]
) -> None:
    gate = server.hold_last_token()
    try:
        async with MiniAgents(llm_logger_agent=True, llm_logs_folder=tmp_path):
            message_promise = await anext(aiter(agents["anthropic"].trigger(QUESTION, model="claude-test")))
            tokens = aiter(message_promise)
            assert await asyncio.wait_for(anext(tokens), timeout=10)
            assert not _log_files(tmp_path)  # the log is written only once the response is complete
            gate.set()
            await message_promise
    finally:
        gate.set()

    assert len(_log_files(tmp_path)) == 1


async def test_a_custom_logger_agent_receives_the_request_and_the_response(agents: dict[str, MiniAgent]) -> None:
    received: list[tuple[tuple[Message, ...], dict[str, Any]]] = []

    @miniagent
    async def my_llm_logger(ctx: InteractionContext, request_metadata: Any) -> None:
        received.append((await ctx.message_promises, request_metadata.frozen_fields_and_values()))

    async with MiniAgents(llm_logger_agent=my_llm_logger):
        reply = await agents["openai"].trigger(QUESTION, model="gpt-test", system=SYSTEM_PROMPT)

    [(messages, request_metadata)] = received
    assert [(message.role, str(message)) for message in messages[:-1]] == [
        ("system", SYSTEM_PROMPT),
        ("user", QUESTION),
    ]
    assert messages[-1] == reply[0]
    assert request_metadata["agent"] == "OpenAIAgent"
    assert request_metadata["model"] == "gpt-test"
    assert request_metadata["duration_seconds"] >= 0


async def test_logs_go_to_llm_logs_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agents: dict[str, MiniAgent]
) -> None:
    monkeypatch.chdir(tmp_path)
    async with MiniAgents(llm_logger_agent=True):
        await agents["openai"].trigger(QUESTION, model="gpt-test")
    async with MiniAgents():
        await agents["openai"].trigger(QUESTION, model="gpt-test")  # logging is off by default

    assert len(_log_files(tmp_path / "llm_logs")) == 1
