"""OpenAIAgent and AnthropicAgent, driven through the real SDKs against the offline stand-in over loopback HTTP."""

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
from pydantic import BaseModel

from miniagents import (
    CallFinished,
    CallInitiated,
    ErrorMessage,
    InteractionContext,
    Message,
    MiniAgent,
    MiniAgents,
    TextMessage,
    miniagent,
)
from miniagents import errors as llm_errors
from miniagents.ext.llms import (
    OFFLINE_ENV_VAR,
    AnthropicAgent,
    AnthropicMessage,
    AssistantMessage,
    LLMResponseError,
    OpenAIAgent,
    OpenAIMessage,
    SystemMessage,
    UserMessage,
    aprepare_dicts_for_anthropic,
    aprepare_dicts_for_openai,
    default_anthropic_client,
    default_openai_client,
)
from miniagents.ext.llms import clients as clients_module
from miniagents.ext.llms.offline import OfflineLLMServer, get_offline_llm_server

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_real_llm_providers")]

QUESTION = "What is the tallest mountain in the Alps?"
SYSTEM_PROMPT = "You are a concise geography tutor."


@dataclass(frozen=True)
class Provider:
    name: str
    agent: MiniAgent
    message_class: type[Message]
    stop_field: str
    stop_value: str
    sdk: Any

    def __str__(self) -> str:
        return self.name


OPENAI = Provider("openai", OpenAIAgent, OpenAIMessage, "finish_reason", "stop", openai)
ANTHROPIC = Provider("anthropic", AnthropicAgent, AnthropicMessage, "stop_reason", "end_turn", anthropic)
PROVIDERS = [pytest.param(OPENAI, id="openai"), pytest.param(ANTHROPIC, id="anthropic")]

AgentFactory = Callable[..., MiniAgent]


@pytest.fixture
async def agent_with_client(server: OfflineLLMServer) -> AsyncIterator[Callable[..., MiniAgent]]:
    """`agent_with_client(provider, **client_kwargs)`: the provider's agent forked with a client of `server`."""
    clients: list[Any] = []

    def make(provider: Provider, **client_kwargs: Any) -> MiniAgent:
        client = getattr(server, f"{provider.name}_client")(**client_kwargs)
        clients.append(client)
        return provider.agent.fork(non_freezable_kwargs={"async_client": client})

    yield make
    for client in clients:
        await client.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _collect_tokens(message_promise: Any) -> list[str]:
    return [str(token) async for token in message_promise]


# --- replies and their metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streamed_reply_arrives_token_by_token_with_provider_metadata(
    provider: Provider, server: OfflineLLMServer, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(provider)
    async with MiniAgents():
        replies = agent.trigger(QUESTION, model="model-under-test", system=SYSTEM_PROMPT, stream=True)
        message_promises = [message_promise async for message_promise in replies]
        assert len(message_promises) == 1
        tokens = await _collect_tokens(message_promises[0])
        message = await message_promises[0]

    assert len(tokens) > 5
    assert str(message) == "".join(tokens)
    assert QUESTION in str(message)
    assert type(message) is provider.message_class
    assert message.role == "assistant"
    assert message.model == "model-under-test"
    assert message.agent_alias == provider.agent.alias
    assert message.get(provider.stop_field) == provider.stop_value
    assert message.id
    usage = message.usage.frozen_fields_and_values()
    assert usage["completion_tokens" if provider is OPENAI else "output_tokens"] == len(tokens)
    assert server.requests[-1]["stream"] is True


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_non_streamed_reply_is_one_piece_with_provider_metadata(
    provider: Provider, server: OfflineLLMServer, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(provider)
    async with MiniAgents():
        message_promise = (await _message_promises(agent.trigger(QUESTION, model="m", stream=False)))[0]
        tokens = await _collect_tokens(message_promise)
        message = await message_promise

    assert tokens == [str(message)]
    assert QUESTION in str(message)
    assert message.get(provider.stop_field) == provider.stop_value
    assert message.usage
    assert server.requests[-1].get("stream") in (None, False)


async def _message_promises(replies: Any) -> list[Any]:
    return [message_promise async for message_promise in replies]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream_by_default", [True, False])
async def test_stream_defaults_to_the_miniagents_setting(
    provider: Provider, stream_by_default: bool, server: OfflineLLMServer, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(provider)
    async with MiniAgents(stream_llm_tokens_by_default=stream_by_default):
        await agent.trigger(QUESTION, model="m")

    assert bool(server.requests[-1].get("stream")) is stream_by_default


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_first_token_reaches_the_consumer_before_the_last_token_is_sent(
    provider: Provider, server: OfflineLLMServer, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(provider)
    gate = server.hold_last_token()
    finished_calls: list[int] = []
    try:
        async with MiniAgents(
            on_call_event=lambda event: (
                finished_calls.append(event.call_id) if isinstance(event, CallFinished) else None
            )
        ):
            replies = agent.trigger(
                QUESTION, model="m", stream=True, response_metadata={"not_for_user": True, "role": "user"}
            )
            message_promise = await anext(aiter(replies))
            token_iterator = aiter(message_promise)
            first_token = await asyncio.wait_for(anext(token_iterator), timeout=10)

            # the server is still holding the last token back, so the reply is provably in flight
            assert first_token
            assert not message_promise.is_resolved
            assert not finished_calls, "the agent call must stay open until the LLM response is complete"
            assert message_promise.known_beforehand["not_for_user"] is True
            assert message_promise.known_beforehand["role"] == "user"
            assert message_promise.known_beforehand["model"] == "m"

            gate.set()
            rest = [token async for token in token_iterator]
            message = await message_promise
    finally:
        gate.set()

    assert rest
    assert str(message) == first_token + "".join(rest)
    assert message.not_for_user is True
    assert message.role == "user"  # response_metadata wins over the role the provider reports
    assert message.get(provider.stop_field) == provider.stop_value
    assert finished_calls


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_call_finishes_after_its_reply_message_resolves(
    provider: Provider, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(provider)
    events: list[Any] = []
    async with MiniAgents(on_call_event=events.append):
        await agent.trigger(QUESTION, model="m", stream=True)

    llm_call_id = next(event.call_id for event in events if isinstance(event, CallInitiated))
    kinds = [type(event).__name__ for event in events if event.call_id == llm_call_id]
    assert kinds.index("ReplyMessageResolved") < kinds.index("CallFinished")
    finished = next(event for event in events if isinstance(event, CallFinished) and event.call_id == llm_call_id)
    assert finished.error is None


# --- what the provider receives --------------------------------------------------------------------------------


async def test_openai_request_has_the_system_prompt_first_and_roles_from_message_fields(
    server: OfflineLLMServer, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(OPENAI)
    async with MiniAgents():
        await agent.trigger(
            ["Hi", AssistantMessage("Hello! How can I help?"), {"content": QUESTION, "role": "user"}],
            model="m",
            system=SYSTEM_PROMPT,
        )

    assert server.requests[-1]["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": QUESTION},
    ]


async def test_anthropic_request_moves_system_merges_same_roles_and_starts_with_a_user_message(
    server: OfflineLLMServer, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(ANTHROPIC)
    async with MiniAgents():
        await agent.trigger(
            [
                AssistantMessage("I am a geography tutor."),
                SystemMessage("Answer in one sentence."),
                "First question part.",
                UserMessage("Second question part."),
                AssistantMessage("Noted."),
                AssistantMessage("Go on."),
            ],
            model="claude-test",
            system=SYSTEM_PROMPT,
        )

    request = server.requests[-1]
    assert request["system"] == f"{SYSTEM_PROMPT}\n\nAnswer in one sentence."
    assert request["messages"] == [
        {"role": "user", "content": "/start"},
        {"role": "assistant", "content": "I am a geography tutor."},
        {"role": "user", "content": "First question part.\n\nSecond question part."},
        {"role": "assistant", "content": "Noted.\n\nGo on."},
    ]
    assert request["max_tokens"] > 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_other_keyword_arguments_go_to_the_sdk_as_plain_values(
    provider: Provider, server: OfflineLLMServer, agent_with_client: AgentFactory
) -> None:
    # dicts and lists given to an agent are frozen; the SDK must still receive plain JSON
    metadata = {"user_id": "user-42"} if provider is ANTHROPIC else {"purpose": "test"}
    agent = agent_with_client(provider).fork(temperature=0.25, max_tokens=77)
    async with MiniAgents():
        await agent.trigger(QUESTION, model="m", metadata=metadata)

    request = server.requests[-1]
    assert request["temperature"] == 0.25
    assert request["max_tokens"] == 77
    assert request["metadata"] == metadata


async def test_structured_output_via_the_sdk_parse_helper() -> None:
    class WebSearch(BaseModel):
        rationale: str
        web_search_query: str

    class WebSearchesToBeDone(BaseModel):
        web_searches: tuple[WebSearch, ...]

    server = get_offline_llm_server()
    parsed_results: list[WebSearchesToBeDone] = []

    @miniagent
    async def research_agent(ctx: InteractionContext) -> None:
        message_dicts = await aprepare_dicts_for_openai(
            ctx.message_promises,
            system="Break the user's question down into web searches.",
        )
        async with server.openai_client() as client:
            response = await client.beta.chat.completions.parse(
                model="o4-mini", messages=message_dicts, response_format=WebSearchesToBeDone
            )
        parsed = response.choices[0].message.parsed
        parsed_results.append(parsed)
        ctx.reply(f"RUNNING {len(parsed.web_searches)} WEB SEARCHES")

    async with MiniAgents():
        replies = await research_agent.trigger(QUESTION)

    assert isinstance(parsed_results[0], WebSearchesToBeDone)
    assert parsed_results[0].web_searches
    assert str(replies[0]) == f"RUNNING {len(parsed_results[0].web_searches)} WEB SEARCHES"


# --- preparing prompts -----------------------------------------------------------------------------------------


@miniagent
async def _echo_agent(ctx: InteractionContext) -> None:
    ctx.reply(TextMessage(f"echo: {await ctx.message_promises.as_single_text_promise()}", role="assistant"))


async def test_aprepare_dicts_for_openai_flattens_any_message_type_and_reads_roles() -> None:
    async with MiniAgents():
        message_dicts = await aprepare_dicts_for_openai(
            ["plain text", [{"content": "from a dict", "role": "system"}, _echo_agent.trigger("ping")]],
            system="Top instructions.",
        )
        without_system = await aprepare_dicts_for_openai(Message(topic="weather", role="user"))

    assert message_dicts == [
        {"role": "system", "content": "Top instructions."},
        {"role": "user", "content": "plain text"},
        {"role": "system", "content": "from a dict"},
        {"role": "assistant", "content": "echo: ping"},
    ]
    assert without_system[0]["role"] == "user"
    assert '"topic":"weather"' in without_system[0]["content"]
    assert len(without_system) == 1


async def test_aprepare_dicts_for_anthropic_returns_the_dialog_with_the_system_prompt_apart() -> None:
    async with MiniAgents():
        prepared = await aprepare_dicts_for_anthropic([SystemMessage("Rule."), "Hi", "again"], system="Be brief.")
        no_input = await aprepare_dicts_for_anthropic([])

    assert prepared == [{"role": "user", "content": "Hi\n\nagain"}]
    assert prepared.system == "Be brief.\n\nRule."
    assert prepared.as_kwargs() == {"messages": list(prepared), "system": "Be brief.\n\nRule."}
    assert no_input == [{"role": "user", "content": "/start"}]
    assert no_input.system is None
    assert no_input.as_kwargs() == {"messages": [{"role": "user", "content": "/start"}]}


# --- failures --------------------------------------------------------------------------------------------------

FAILURES = {  # model, client kwargs, the LLMError raised, the SDK error chained to it
    "401": ("offline-error-401", {}, "LLMStatusError", "AuthenticationError"),
    "429": ("offline-error-429", {}, "LLMRateLimitError", "RateLimitError"),
    "500": ("offline-error-500", {}, "LLMServerError", "InternalServerError"),
    "refused": ("any-model", {"base_url": "closed-port"}, "LLMConnectionError", "APIConnectionError"),
    "timeout": ("offline-hang", {"timeout": 0.3}, "LLMTimeoutError", "APITimeoutError"),
}


def _failing_agent(provider: Provider, failure: str, agent_with_client: AgentFactory) -> tuple[MiniAgent, str, str]:
    model, client_kwargs, error_class, _ = FAILURES[failure]
    if client_kwargs.get("base_url") == "closed-port":
        client_kwargs = {"base_url": f"http://127.0.0.1:{_closed_port()}"}
    return agent_with_client(provider, **client_kwargs).fork(max_retries=0), model, error_class


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("failure", list(FAILURES))
async def test_provider_failure_is_raised_at_the_consumer(
    provider: Provider, failure: str, agent_with_client: AgentFactory
) -> None:
    agent, model, error_class = _failing_agent(provider, failure, agent_with_client)
    async with MiniAgents():
        with pytest.raises(getattr(llm_errors, error_class)) as raised:
            async for message_promise in agent.trigger(QUESTION, model=model):
                await _collect_tokens(message_promise)

    error = raised.value
    assert isinstance(error, llm_errors.LLMError)
    assert isinstance(error.__cause__, getattr(provider.sdk, FAILURES[failure][3]))
    assert (error.agent, error.provider, error.model) == (provider.agent.alias, provider.name, model)
    assert f"`{provider.agent.alias}` ({provider.name}, model {model!r})" in str(error)
    if failure in ("401", "429", "500"):
        assert error.status == int(failure)
        assert f"HTTP {failure}" in str(error)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("failure", list(FAILURES))
async def test_provider_failure_becomes_an_error_message_with_errors_as_messages(
    provider: Provider, failure: str, agent_with_client: AgentFactory
) -> None:
    agent, model, error_class = _failing_agent(provider, failure, agent_with_client)
    events: list[Any] = []
    async with MiniAgents(on_call_event=events.append):
        replies = agent.trigger(QUESTION, model=model, errors_as_messages=True)
        async for message_promise in replies:  # nothing here may raise
            await _collect_tokens(message_promise)
        messages = await replies

    assert [type(message) for message in messages] == [ErrorMessage]
    assert messages[0].error_class == error_class
    finished = next(event for event in events if isinstance(event, CallFinished))
    assert type(finished.error).__name__ == error_class  # the call tree shows the call as failed


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_malformed_stream_raises_after_the_tokens_that_arrived(
    provider: Provider, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(provider)
    received: list[str] = []
    async with MiniAgents():
        with pytest.raises(LLMResponseError, match=r"malformed response from .* 'offline-malformed-stream'") as error:
            async for message_promise in agent.trigger(QUESTION, model="offline-malformed-stream", stream=True):
                received.extend(await _collect_tokens(message_promise))

    assert received  # the first token was streamed before the stream broke
    assert isinstance(error.value.__cause__, json.JSONDecodeError)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [True, False])
async def test_malformed_response_with_errors_as_messages_never_raises(
    provider: Provider, stream: bool, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(provider)
    async with MiniAgents(errors_as_messages=True):
        replies = agent.trigger(QUESTION, model="offline-malformed-stream", stream=stream)
        async for message_promise in replies:
            await _collect_tokens(message_promise)
        messages = await replies

    assert isinstance(messages[-1], ErrorMessage)
    assert messages[-1].error_class == "LLMResponseError"
    if stream:  # the truncated reply stays, ending where the stream broke
        assert [type(message) for message in messages] == [provider.message_class, ErrorMessage]
        assert str(messages[0])
        assert provider.stop_field not in messages[0]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_failing_llm_inside_another_agent_becomes_an_error_message_in_its_place(
    provider: Provider, agent_with_client: AgentFactory
) -> None:
    failing_llm = agent_with_client(provider).fork(model="offline-error-500", max_retries=0)

    @miniagent
    async def final_answer_agent(ctx: InteractionContext) -> None:
        ctx.reply("ANSWER:")
        ctx.reply(failing_llm.trigger(ctx.message_promises, system=SYSTEM_PROMPT))
        ctx.reply("END")

    async with MiniAgents(errors_as_messages=True):
        messages = await final_answer_agent.trigger(QUESTION)

    assert [type(message).__name__ for message in messages] == ["TextMessage", "ErrorMessage", "TextMessage"]
    assert messages[1].error_class == "LLMServerError"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_trigger_level_errors_as_messages_false_overrides_the_global_setting(
    provider: Provider, agent_with_client: AgentFactory
) -> None:
    agent = agent_with_client(provider)
    async with MiniAgents(errors_as_messages=True):
        with pytest.raises(llm_errors.LLMStatusError):
            await agent.trigger(QUESTION, model="offline-error-401", stream=False, errors_as_messages=False)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_model_is_required(provider: Provider, agent_with_client: AgentFactory) -> None:
    agent = agent_with_client(provider)
    async with MiniAgents():
        with pytest.raises(ValueError, match=r"needs a model: .*fork\(model="):
            await agent.trigger(QUESTION)


async def test_openai_agent_replies_with_exactly_one_choice(agent_with_client: AgentFactory) -> None:
    async with MiniAgents():
        with pytest.raises(ValueError, match="`n` must be 1"):
            await agent_with_client(OPENAI).trigger(QUESTION, model="m", n=2)


# --- choosing the client ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "client_getter"),
    [(OPENAI, default_openai_client), (ANTHROPIC, default_anthropic_client)],
    ids=["openai", "anthropic"],
)
async def test_without_a_key_the_offline_stand_in_is_used_and_announced_once(
    provider: Provider, client_getter: Callable[[], Any], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(clients_module, "_announced", set())
    caplog.set_level(logging.INFO, logger="miniagents.ext.llms.clients")
    shared_server = get_offline_llm_server()

    first_client = client_getter()
    second_client = client_getter()
    async with MiniAgents():
        unique_question = f"{QUESTION} ({provider.name} via the default client)"
        message = (await provider.agent.trigger(unique_question, model="m"))[0]

    assert first_client is second_client  # one client per event loop
    assert str(first_client.base_url).startswith(shared_server.base_url)
    assert unique_question in str(message)
    announcements = [record.getMessage() for record in caplog.records if "offline LLM stand-in" in record.getMessage()]
    assert len(announcements) == 1
    key_env_var = f"{provider.name.upper()}_API_KEY"
    assert f"Set {key_env_var} to use the real" in announcements[0]


@pytest.mark.parametrize(
    ("client_getter", "key_env_var", "real_host"),
    [
        (default_openai_client, "OPENAI_API_KEY", "api.openai.com"),
        (default_anthropic_client, "ANTHROPIC_API_KEY", "api.anthropic.com"),
    ],
    ids=["openai", "anthropic"],
)
async def test_a_key_selects_the_real_provider_unless_offline_is_forced(
    client_getter: Callable[[], Any], key_env_var: str, real_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(key_env_var, "sk-test-never-sent")
    real_client = client_getter()  # no request is made: only the client's target is checked
    monkeypatch.setenv(OFFLINE_ENV_VAR, "1")
    forced_offline_client = client_getter()

    assert real_host in str(real_client.base_url)
    assert str(forced_offline_client.base_url).startswith(get_offline_llm_server().base_url)
