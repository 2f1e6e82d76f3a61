"""Tokens, cost and the wait for an LLM slot, as the notebook views show them: per call *including its sub-calls*
(the call tree's rows, the timeline's tooltips, the details panel, the inspector) and per run (the headers); and the
prices a user gives for a model `genai-prices` does not know (here the offline stand-in, reached through the real SDK
over loopback)."""

from collections.abc import AsyncIterator, Callable

import pytest

from miniagents import MiniAgent, MiniAgents
from miniagents.ext.llms import AnthropicAgent, OpenAIAgent
from miniagents.ext.llms.offline import OfflineLLMServer

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_real_llm_providers")]

AGENTS = {"openai": OpenAIAgent, "anthropic": AnthropicAgent}


@pytest.fixture
async def agent_for(server: OfflineLLMServer) -> AsyncIterator[Callable[[str], MiniAgent]]:
    """`agent_for(provider)`: the provider's agent talking to the offline stand-in through its real SDK."""
    async with server.openai_client() as openai_client, server.anthropic_client() as anthropic_client:
        clients = {"openai": openai_client, "anthropic": anthropic_client}
        yield lambda provider: AGENTS[provider].fork(non_freezable_kwargs={"async_client": clients[provider]})


@pytest.mark.parametrize("provider", list(AGENTS))
async def test_prices_given_for_a_model_genai_prices_cannot_price_make_the_replys_cost(
    provider: str, agent_for: Callable[..., MiniAgent]
) -> None:
    agent = agent_for(provider).fork(model="gpt-4o-mini")
    async with MiniAgents():
        [free] = await agent.trigger("What does it cost?")
        [priced] = await agent.trigger(
            "What does it cost?", usd_per_million_tokens={"input": 2.0, "output": 10.0, "cached_input": 1.0}
        )

    assert free.get("cost_usd") is None  # the stand-in's replies are not gpt-4o-mini's: no price of a real model
    usage = priced.token_usage
    expected = (usage.input_tokens - usage.cached_tokens) * 2.0 + usage.cached_tokens + usage.output_tokens * 10.0
    assert priced.cost_usd == pytest.approx(expected / 1_000_000)


async def test_prices_without_input_or_output_are_refused_naming_the_option(
    agent_for: Callable[..., MiniAgent],
) -> None:
    async with MiniAgents():
        with pytest.raises(ValueError, match=r"usd_per_million_tokens.*'input' and 'output'"):
            await agent_for("openai").trigger("hi", model="m", usd_per_million_tokens={"input": 1.0})
