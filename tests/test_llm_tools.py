"""Tools are agents, and typed output: through the offline stand-in (which calls every offered tool until their results
are in) and both providers' real SDKs, streamed and not."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from miniagents import CallFinished, CallInitiated, InteractionContext, MiniAgent, MiniAgents, miniagent
from miniagents.errors import LLMOutputValidationError, LLMToolRoundsError
from miniagents.ext.llms import AnthropicAgent, OpenAIAgent, ToolSpec
from miniagents.ext.llms.offline import OfflineLLMServer
from miniagents.ext.llms.offline.faults import INVALID_OUTPUT_ONCE_MODEL, TOOL_LOOP_MODEL
from miniagents.ext.llms.tools import tool_specs

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_real_llm_providers")]

AGENTS = {"openai": OpenAIAgent, "anthropic": AnthropicAgent}
CASES = [
    pytest.param(provider, stream, id=f"{provider}-{'streamed' if stream else 'whole'}")
    for provider in AGENTS
    for stream in (True, False)
]
TOOL_PAUSE = 0.3


@pytest.fixture
async def agent_for(server: OfflineLLMServer) -> AsyncIterator[Callable[[str], MiniAgent]]:
    clients: list[Any] = []

    def make(provider: str) -> MiniAgent:
        client = getattr(server, f"{provider}_client")()
        clients.append(client)
        return AGENTS[provider].fork(non_freezable_kwargs={"async_client": client})

    yield make
    for client in clients:
        await client.close()


@miniagent
async def weather_agent(ctx: InteractionContext, city: str, unit: str = "celsius") -> None:
    """The current weather in a city."""
    await asyncio.sleep(TOOL_PAUSE)
    ctx.reply(f"Sunny, 21 degrees {unit} in {city}")


async def population(country: str) -> dict[str, Any]:
    """How many people live in a country."""
    await asyncio.sleep(TOOL_PAUSE)
    return {"country": country, "population": 8_900_000}


async def broken_lookup(query: str) -> str:
    """Look something up (always fails)."""
    raise RuntimeError(f"the lookup service is down for {query!r}")


def test_a_tools_schema_comes_from_its_signature_and_docstring() -> None:
    agent_spec, function_spec = tool_specs([weather_agent, population])

    assert (agent_spec.name, agent_spec.description) == ("weather_agent", "The current weather in a city.")
    assert agent_spec.parameters["properties"]["city"] == {"type": "string", "title": "City"}
    assert agent_spec.parameters["required"] == ["city"]
    assert agent_spec.parameters["properties"]["unit"]["default"] == "celsius"
    assert (function_spec.name, function_spec.description) == ("population", "How many people live in a country.")
    assert function_spec.parameters["required"] == ["country"]
    assert isinstance(function_spec, ToolSpec)
    with pytest.raises(TypeError, match="MiniAgent or an `async def`"):
        tool_specs([len])


@pytest.mark.parametrize(("provider", "stream"), CASES)
async def test_a_model_calls_two_tools_in_parallel_as_child_calls_then_answers(
    provider: str, stream: bool, server: OfflineLLMServer, agent_for: Callable[[str], MiniAgent]
) -> None:
    events: list[Any] = []
    async with MiniAgents(on_call_event=events.append):
        [answer] = await agent_for(provider).trigger(
            "Weather and population of Paris?", model="m", stream=stream, tools=[weather_agent, population]
        )

    assert "Sunny, 21 degrees" in str(answer)  # the results went back to the model …
    assert "8900000" in str(answer)
    assert "You asked: «Weather and population of Paris?»" in str(answer)
    assert answer.tool_rounds == 1  # … which then answered
    started = {event.call_id: event for event in events if isinstance(event, CallInitiated)}
    finished = {event.call_id: event for event in events if isinstance(event, CallFinished)}
    [llm_call] = [call for call in started.values() if call.agent_alias == AGENTS[provider].alias]
    children = {call.agent_alias: call for call in started.values() if call.parent_call_id == llm_call.call_id}
    assert set(children) == {"weather_agent", "population"}  # both are children of the LLM call in the tree
    weather, people = children["weather_agent"], children["population"]
    assert weather.time < finished[people.call_id].time and people.time < finished[weather.call_id].time  # overlap
    assert dict(weather.kwargs)["city"]  # the model's arguments became the call's keyword arguments
    assert len(server.requests) == 2  # the tool calls, then the answer


@pytest.mark.parametrize("provider", list(AGENTS))
async def test_two_tool_pauses_take_the_time_of_one(provider: str, agent_for: Callable[[str], MiniAgent]) -> None:
    started = time.perf_counter()
    async with MiniAgents():
        await agent_for(provider).trigger("Paris?", model="m", tools=[weather_agent, population])
    assert time.perf_counter() - started < 2 * TOOL_PAUSE


@pytest.mark.parametrize(("provider", "stream"), CASES)
async def test_a_tools_exception_goes_back_to_the_model_as_its_result(
    provider: str, stream: bool, agent_for: Callable[[str], MiniAgent]
) -> None:
    async with MiniAgents():
        [answer] = await agent_for(provider).trigger("Look it up", model="m", stream=stream, tools=[broken_lookup])

    assert "Error: RuntimeError: the lookup service is down" in str(answer)


@pytest.mark.parametrize("provider", list(AGENTS))
async def test_a_tools_exception_can_be_raised_instead(provider: str, agent_for: Callable[[str], MiniAgent]) -> None:
    async with MiniAgents():
        with pytest.raises(RuntimeError, match="the lookup service is down"):
            await agent_for(provider).trigger("Look it up", model="m", tools=[broken_lookup], tool_errors="raise")


@pytest.mark.parametrize("provider", list(AGENTS))
async def test_a_model_that_keeps_calling_tools_stops_at_the_round_limit(
    provider: str, server: OfflineLLMServer, agent_for: Callable[[str], MiniAgent]
) -> None:
    async with MiniAgents():
        with pytest.raises(LLMToolRoundsError, match=r"still calling tools after 3 rounds .*population") as raised:
            await agent_for(provider).trigger("Loop", model=TOOL_LOOP_MODEL, tools=[population], max_tool_rounds=3)

    assert raised.value.model == TOOL_LOOP_MODEL
    assert len(server.requests) == 4


class CityFacts(BaseModel):
    city: str
    country: str
    population: int


@pytest.mark.parametrize(("provider", "stream"), CASES)
async def test_typed_output_is_validated_and_carried_by_the_reply(
    provider: str, stream: bool, agent_for: Callable[[str], MiniAgent]
) -> None:
    async with MiniAgents():
        [reply] = await agent_for(provider).trigger(
            "Facts about Paris", model="m", stream=stream, response_format=CityFacts
        )

    facts = CityFacts.model_validate(reply.parsed.frozen_fields_and_values())
    assert CityFacts.model_validate_json(str(reply)) == facts
    assert reply.validation_retries == 0


@pytest.mark.parametrize("provider", list(AGENTS))
async def test_typed_output_failing_validation_once_is_corrected_by_the_model(
    provider: str, server: OfflineLLMServer, agent_for: Callable[[str], MiniAgent]
) -> None:
    async with MiniAgents():
        [reply] = await agent_for(provider).trigger(
            "Facts about Paris", model=INVALID_OUTPUT_ONCE_MODEL, response_format=CityFacts
        )

    assert reply.validation_retries == 1
    CityFacts.model_validate_json(str(reply))  # only the valid JSON was replied
    assert len(server.requests) == 2
    assert "not a valid CityFacts" in str(server.requests[-1]["messages"][-1]["content"])


@pytest.mark.parametrize("provider", list(AGENTS))
async def test_typed_output_that_never_validates_is_an_error(
    provider: str, agent_for: Callable[[str], MiniAgent]
) -> None:
    async with MiniAgents():
        with pytest.raises(LLMOutputValidationError, match="did not reply with a valid CityFacts after 1 attempts"):
            await agent_for(provider).trigger(
                "Facts", model=INVALID_OUTPUT_ONCE_MODEL, response_format=CityFacts, max_validation_retries=0
            )
