"""What real agent builders need from the LLM agents, through the offline stand-in and both providers' real SDKs:
retries that honour `retry-after`, a timeout for a stalled provider, a cut stream seen as incomplete, a concurrency
limit, usage summed over a tree of calls, credentials absent from everything recorded, and the provider seam."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from miniagents import (
    CallInitiated,
    ErrorMessage,
    InteractionContext,
    MiniAgent,
    MiniAgents,
    ReplyMessageAppeared,
    miniagent,
)
from miniagents.errors import LLMIncompleteResponseError, LLMRateLimitError, LLMTimeoutError
from miniagents.ext.llms import (
    AnthropicAgent,
    LLMAgent,
    OpenAIAgent,
    OpenAIProvider,
    UsageTotals,
    configure_llm_limits,
    openai_compatible_agent,
)
from miniagents.ext.llms.offline import (
    CUT_STREAM_MODEL,
    FLAKY_RATE_LIMIT_MODEL,
    HANG_MODEL,
    OfflineLLMServer,
)
from miniagents.redaction import REDACTED, redact_secrets

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_real_llm_providers")]

PROVIDERS = ["openai", "anthropic"]
AGENTS = {"openai": OpenAIAgent, "anthropic": AnthropicAgent}


@pytest.fixture
async def agent_for(server: OfflineLLMServer) -> AsyncIterator[Callable[..., MiniAgent]]:
    """`agent_for(provider, **client_kwargs)`: the provider's agent with a client of `server` (SDK retries on)."""
    clients: list[Any] = []

    def make(provider: str, **client_kwargs: Any) -> MiniAgent:
        client_kwargs.setdefault("max_retries", 5)  # the agent must switch these off, not retry twice
        client = getattr(server, f"{provider}_client")(**client_kwargs)
        clients.append(client)
        return AGENTS[provider].fork(non_freezable_kwargs={"async_client": client})

    yield make
    for client in clients:
        await client.close()


# --- retries, timeouts, incomplete streams ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_429_with_retry_after_is_retried_after_that_wait_then_succeeds(
    provider: str, server: OfflineLLMServer, agent_for: Callable[..., MiniAgent]
) -> None:
    agent = agent_for(provider)
    started = time.perf_counter()
    async with MiniAgents():
        [reply] = await agent.trigger(f"retry me ({provider})", model=FLAKY_RATE_LIMIT_MODEL)
    elapsed = time.perf_counter() - started

    assert "retry me" in str(reply)
    assert len(server.requests) == 2  # one 429, one success: the SDK's own retries were off
    assert elapsed >= 1.0  # the server's `retry-after: 1`, not the backoff's first step (at most 0.5 s)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_without_retries_the_429_is_an_llm_rate_limit_error_with_retry_after(
    provider: str, server: OfflineLLMServer, agent_for: Callable[..., MiniAgent]
) -> None:
    agent = agent_for(provider).fork(max_retries=0)
    async with MiniAgents():
        with pytest.raises(LLMRateLimitError) as raised:
            await agent.trigger(f"no retry ({provider})", model=FLAKY_RATE_LIMIT_MODEL)

    assert raised.value.retry_after == 1.0
    assert raised.value.status == 429
    assert "asked to wait 1 s" in str(raised.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stall_past_the_timeout_is_an_llm_timeout_error_retried_then_raised(
    provider: str, server: OfflineLLMServer, agent_for: Callable[..., MiniAgent]
) -> None:
    agent = agent_for(provider)
    started = time.perf_counter()
    async with MiniAgents():
        with pytest.raises(LLMTimeoutError, match=rf"`{AGENTS[provider].alias}` \({provider}, model 'offline-hang'\)"):
            await agent.trigger("hello?", model=HANG_MODEL, timeout=0.3, max_retries=1)
    elapsed = time.perf_counter() - started

    assert len(server.requests) == 2  # the first attempt and one retry
    assert elapsed < 5


def test_the_default_timeout_replaces_the_sdks_600_seconds() -> None:
    import openai

    from miniagents.ext.llms.llm_agent import DEFAULT_LLM_TIMEOUT, _request_client

    client = openai.AsyncOpenAI(api_key="x")
    assert client.timeout == openai.DEFAULT_TIMEOUT
    request_client = _request_client(OpenAIProvider(), client)
    assert request_client.timeout == DEFAULT_LLM_TIMEOUT
    assert request_client.max_retries == 0
    own_timeout = _request_client(OpenAIProvider(), openai.AsyncOpenAI(api_key="x", timeout=7.0))
    assert own_timeout.timeout == 7.0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_cut_without_finish_reason_is_incomplete(
    provider: str, agent_for: Callable[..., MiniAgent]
) -> None:
    agent = agent_for(provider)
    async with MiniAgents(errors_as_messages=True):
        messages = await agent.trigger("cut me", model=CUT_STREAM_MODEL, stream=True)

    assert [type(message) for message in messages] == [AGENTS[provider].provider.message_class, ErrorMessage]
    assert "cut me" in str(messages[0])  # what arrived is kept …
    assert messages[1].error_class == "LLMIncompleteResponseError"  # … and said to be incomplete
    async with MiniAgents():
        with pytest.raises(LLMIncompleteResponseError, match="ended without a"):
            await agent.trigger("cut me", model=CUT_STREAM_MODEL, stream=True)


# --- concurrency ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_fan_out_of_20_calls_runs_at_most_4_at_once(
    provider: str, server: OfflineLLMServer, agent_for: Callable[..., MiniAgent]
) -> None:
    server.token_delay = 0.01
    agent = agent_for(provider).fork(model="fan-out", max_concurrency=4)
    async with MiniAgents():
        replies = [agent.trigger(f"question {number}") for number in range(20)]
        answers = await asyncio.gather(*(reply for reply in replies))

    assert len(answers) == 20
    assert all(len(answer) == 1 for answer in answers)
    assert server.max_concurrent_requests == 4  # observed by the server: the limit held, and was used


async def test_limits_configured_on_miniagents_apply_to_its_calls(
    server: OfflineLLMServer, agent_for: Callable[..., MiniAgent]
) -> None:
    server.token_delay = 0.01
    openai_agent, anthropic_agent = agent_for("openai"), agent_for("anthropic")
    async with MiniAgents() as mini_agents:
        configure_llm_limits(mini_agents, provider="openai", max_concurrency=2)
        configure_llm_limits(mini_agents, provider="anthropic", model="claude-x", max_concurrency=3)
        await asyncio.gather(*(openai_agent.trigger(f"q{number}", model="gpt-x") for number in range(8)))
        assert server.max_concurrent_requests == 2
        await asyncio.gather(*(anthropic_agent.trigger(f"q{number}", model="claude-x") for number in range(8)))
        assert server.max_concurrent_requests == 3
        with pytest.raises(ValueError, match="`max_concurrency` must be a positive number"):
            configure_llm_limits(mini_agents, max_concurrency=0)


# --- usage -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
async def test_every_reply_carries_normalised_usage(
    provider: str, stream: bool, agent_for: Callable[..., MiniAgent]
) -> None:
    async with MiniAgents():
        [reply] = await agent_for(provider).trigger("How many tokens?", model="m", stream=stream)

    usage = reply.token_usage
    assert set(usage.frozen_fields_and_values()) == {"input_tokens", "output_tokens", "cached_tokens"}
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] == len(str(reply).split())  # the stand-in's tokens are words


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_usage_totals_of_a_three_level_tree_equal_the_sum_of_its_leaves(
    provider: str, agent_for: Callable[..., MiniAgent]
) -> None:
    llm = agent_for(provider).fork(model="m")

    @miniagent
    async def researcher(ctx: InteractionContext) -> None:
        ctx.reply(llm.trigger("first angle"))
        ctx.reply(llm.trigger("second, longer angle on the same question"))

    @miniagent
    async def lead(ctx: InteractionContext) -> None:
        ctx.reply(researcher.trigger())
        ctx.reply(llm.trigger("summary please"))

    totals = UsageTotals()
    events: list[Any] = []
    async with MiniAgents(observers=[totals], on_call_event=events.append):
        leaves = await lead.trigger()

    assert len(leaves) == 3
    expected = {key: sum(leaf.token_usage[key] for leaf in leaves) for key in ("input_tokens", "output_tokens")}
    call_ids = {event.agent_alias: event.call_id for event in events if isinstance(event, CallInitiated)}
    lead_total = totals.for_call(call_ids["lead"])
    assert {key: lead_total[key] for key in expected} == expected
    assert lead_total["llm_calls"] == 3
    assert totals.for_call(call_ids["researcher"])["llm_calls"] == 2
    assert {key: totals.run_total[key] for key in expected} == expected


# --- credentials -------------------------------------------------------------------------------------------------

SECRET = "sk-live-0123456789abcdefSECRET"


def test_redact_secrets_by_name_and_by_shape() -> None:
    kwargs = {
        "extra_headers": {"Helicone-Auth": f"Bearer {SECRET}", "X-Request-Id": "42"},
        "api_key": "plain-looking",
        "max_tokens": 10,
        "system": f"never say {SECRET}",
        "temperature": 0.2,
    }
    redacted = redact_secrets(kwargs)
    assert redacted == {
        "extra_headers": {"Helicone-Auth": REDACTED, "X-Request-Id": "42"},
        "api_key": REDACTED,
        "max_tokens": 10,
        "system": f"never say {REDACTED}",
        "temperature": 0.2,
    }
    ordinary = {"model": "gpt-4o-mini", "max_tokens": 5}
    assert redact_secrets(ordinary) is ordinary


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_credential_in_extra_headers_is_absent_from_logs_records_store_exports_and_widget_state(
    provider: str, tmp_path: Path, agent_for: Callable[..., MiniAgent]
) -> None:
    pytest.importorskip("ipywidgets")
    from miniagents.ext.persistence import SQLiteMessageStore
    from miniagents_notebook.trace import Trace

    store = SQLiteMessageStore(tmp_path / "store.db")
    records: list[Any] = []
    agent = agent_for(provider)
    async with MiniAgents(
        llm_logger_agent=True, llm_logs_folder=tmp_path / "llm_logs", on_persist_messages=[records.append]
    ) as mini_agents:
        store.attach(mini_agents)
        trace = Trace(all_calls=True).start()
        replies = await agent.trigger(
            "Hello", model="m", extra_headers={"Helicone-Auth": f"Bearer {SECRET}"}, stream=True
        )
    await store.aflush()

    assert not isinstance(replies[0], ErrorMessage)
    secret = SECRET.encode()
    exported = {
        "call tree state": repr(trace.call_tree().get_state()).encode(),
        "timeline state": repr(trace.timeline().get_state()).encode(),
        "inspector state": repr(trace.inspector().get_state()).encode(),
        "html export": trace.to_html().encode(),
        "text export": trace.to_text().encode(),
        "records": b"".join(str(record.serialize()).encode() for record in records if hasattr(record, "serialize")),
    }
    log_files = _files_as_bytes(tmp_path / "llm_logs", "*")
    assert len(log_files) == 1  # the call was logged
    exported.update(log_files)
    exported.update(_files_as_bytes(tmp_path, "store.db*"))
    assert any(b"Helicone-Auth" in data for data in exported.values())  # the header's name is kept, …
    leaking = [where for where, data in exported.items() if secret in data]
    assert leaking == []  # … its value nowhere
    store.close()


def _files_as_bytes(folder: Path, pattern: str) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in folder.glob(pattern)}


# --- the provider seam ---------------------------------------------------------------------------------------------


async def test_an_openai_compatible_server_is_an_agent_by_base_url(server: OfflineLLMServer) -> None:
    local_llm = openai_compatible_agent(f"{server.base_url}/v1", alias="LocalLLM", model="local-model")

    assert isinstance(local_llm, LLMAgent)
    async with MiniAgents():
        [reply] = await local_llm.trigger("Hi there")

    assert "Hi there" in str(reply)
    assert reply.agent_alias == "LocalLLM"
    assert reply.finish_reason == "stop"
    assert server.requests[-1]["model"] == "local-model"


def test_openai_and_anthropic_agents_are_llm_agents() -> None:
    assert isinstance(OpenAIAgent, LLMAgent)
    assert isinstance(AnthropicAgent, LLMAgent)
    assert OpenAIAgent.provider.name == "openai"
    assert AnthropicAgent.provider.name == "anthropic"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_requests_per_minute_spreads_the_requests_and_the_wait_is_on_the_reply(
    provider: str, monkeypatch: pytest.MonkeyPatch, agent_for: Callable[..., MiniAgent]
) -> None:
    from miniagents.ext.llms import llm_agent as llm_agent_module

    monkeypatch.setattr(llm_agent_module, "_RATE_WINDOW_SECONDS", 0.4)  # "per minute" made short for the test
    agent = agent_for(provider).fork(model="rate-limited", requests_per_minute=2)
    started = time.perf_counter()
    async with MiniAgents():
        replies = await asyncio.gather(*(agent.trigger(f"question {number}") for number in range(6)))
    elapsed = time.perf_counter() - started

    assert elapsed >= 0.8  # 6 requests, 2 per 0.4 s window: the third window starts after 0.8 s
    queued = sorted(reply[0].queued_seconds for reply in replies)
    assert queued[:2] == [pytest.approx(0, abs=0.05)] * 2
    assert queued[-1] >= 0.75


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_wait_for_a_slot_is_known_when_the_reply_appears_for_the_views(
    provider: str, agent_for: Callable[..., MiniAgent]
) -> None:
    from miniagents.ext.llms import QUEUED_SECONDS_FIELD

    appeared: list[ReplyMessageAppeared] = []

    def on_event(event: Any) -> None:
        if isinstance(event, ReplyMessageAppeared):
            appeared.append(event)

    agent = agent_for(provider).fork(model="one-at-a-time", max_concurrency=1)
    async with MiniAgents(on_call_event=on_event):
        replies = await asyncio.gather(*(agent.trigger(f"question {number}") for number in range(3)))

    known = sorted(event.message_promise.known_beforehand[QUEUED_SECONDS_FIELD] for event in appeared)
    assert len(known) == 3
    assert known[0] == pytest.approx(0, abs=0.05)
    assert known[-1] > 0  # the third call waited for the first two to finish
    assert sorted(reply[0].queued_seconds for reply in replies) == known  # one request each: the total is that wait


def test_cost_comes_from_genai_prices_for_known_models() -> None:
    from miniagents.ext.llms.usage import usage_cost_usd

    pytest.importorskip("genai_prices")
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000, "cached_tokens": 0}
    assert usage_cost_usd(usage, model="gpt-4o-mini", provider="openai") == pytest.approx(0.75)
    assert usage_cost_usd(usage, model="offline-model-nobody-prices", provider="openai") is None


async def test_offline_replies_carry_usage_but_no_cost(agent_for: Callable[..., MiniAgent]) -> None:
    async with MiniAgents():
        [reply] = await agent_for("openai").trigger("What does it cost?", model="gpt-4o-mini")

    assert reply.token_usage.output_tokens > 0
    assert reply.get("cost_usd") is None  # the stand-in is free, and its replies stay the same with genai-prices
    assert reply.get("queued_seconds") is None  # no limit asked for, nothing to report


def test_usage_is_normalised_from_both_providers_shapes_with_cached_tokens() -> None:
    from miniagents.ext.llms import normalized_usage

    openai_usage = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 60},
    }
    anthropic_usage = {
        "input_tokens": 40,
        "output_tokens": 20,
        "cache_read_input_tokens": 60,
        "cache_creation_input_tokens": 0,
    }
    expected = {"input_tokens": 100, "output_tokens": 20, "cached_tokens": 60}
    assert normalized_usage(openai_usage) == expected
    assert normalized_usage(anthropic_usage) == expected
    assert normalized_usage(None) is None
