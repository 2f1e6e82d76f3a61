"""The offline LLM stand-in, exercised through the real ``openai`` and ``anthropic`` SDKs over loopback."""

import asyncio
import datetime
import enum
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, Optional

import anthropic
import httpx
import openai
import pytest
from pydantic import BaseModel, Field, TypeAdapter

from miniagents.ext.llms.offline import (
    HANG_MODEL,
    MALFORMED_STREAM_MODEL,
    TOKEN_DELAY_ENV_VAR,
    OfflineLLMServer,
    get_offline_llm_server,
    start_offline_llm_server,
)
from miniagents.ext.llms.offline import server as server_module
from miniagents.ext.llms.offline.replies import tokenize
from miniagents.ext.llms.offline.schema_examples import example_for_schema

pytestmark = pytest.mark.timeout(30)

QUESTION = "What is the tallest mountain in the Alps?"
SYSTEM_PROMPT = "You are a concise geography tutor."
OPENAI_MESSAGES = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": QUESTION}]
ANTHROPIC_MODEL = "claude-offline"
ANTHROPIC_MESSAGES = [{"role": "user", "content": QUESTION}]


class WebSearch(BaseModel):
    rationale: str
    web_search_query: str


class WebSearchesToBeDone(BaseModel):
    web_searches: tuple[WebSearch, ...]


class WebPage(BaseModel):
    rationale: str
    url: str


class WebPagesToBeRead(BaseModel):
    web_pages: tuple[WebPage, ...]


@pytest.fixture
async def openai_client(server: OfflineLLMServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with server.openai_client() as client:
        yield client


@pytest.fixture
async def anthropic_client(server: OfflineLLMServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with server.anthropic_client() as client:
        yield client


async def _wait_for_request_count(server: OfflineLLMServer, count: int) -> None:
    for _ in range(500):
        if len(server.requests) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server received {len(server.requests)} requests, expected {count}")


# --- OpenAI chat completions ---------------------------------------------------------------------------------------


async def test_openai_completion_echoes_question_and_system_prompt(
    server: OfflineLLMServer, openai_client: openai.AsyncOpenAI
) -> None:
    completion = await openai_client.chat.completions.create(model="gpt-4o-mini", messages=OPENAI_MESSAGES)

    content = completion.choices[0].message.content
    assert content is not None
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert content.startswith("[offline gpt-4o-mini] ")
    assert f"You asked: «{QUESTION}»" in content
    assert f"Instructions: «{SYSTEM_PROMPT}»" in content
    assert "OPENAI_API_KEY" in content
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens == len(tokenize(content))
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert server.requests[-1]["path"] == "/v1/chat/completions"
    assert server.requests[-1]["messages"] == OPENAI_MESSAGES


async def test_openai_stream_sends_role_then_one_token_per_chunk_then_stop_and_usage(
    openai_client: openai.AsyncOpenAI,
) -> None:
    completion = await openai_client.chat.completions.create(model="gpt-4o-mini", messages=OPENAI_MESSAGES)
    stream = await openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=OPENAI_MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    choice_chunks = [chunk for chunk in chunks if chunk.choices]
    assert choice_chunks[0].choices[0].delta.role == "assistant"
    tokens = [chunk.choices[0].delta.content for chunk in choice_chunks[1:-1]]
    assert len(tokens) > 10
    assert "".join(tokens) == completion.choices[0].message.content
    assert choice_chunks[-1].choices[0].finish_reason == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == len(tokens)
    assert {chunk.model for chunk in chunks} == {"gpt-4o-mini"}


async def test_openai_stream_without_include_usage_has_no_usage_chunk(openai_client: openai.AsyncOpenAI) -> None:
    stream = await openai_client.chat.completions.create(model="gpt-4o-mini", messages=OPENAI_MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]

    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


async def test_openai_content_parts_and_conversation_history_are_understood(
    openai_client: openai.AsyncOpenAI,
) -> None:
    completion = await openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": [{"type": "text", "text": "Where is"}, {"type": "text", "text": "Paris?"}]},
        ],
    )

    content = completion.choices[0].message.content
    assert content is not None
    assert "You asked: «Where is Paris?»" in content
    assert "Instructions: «Answer in French.»" in content
    assert "I can see 2 earlier messages" in content


@pytest.mark.parametrize("parser_name", ["beta.chat.completions.parse", "chat.completions.parse"])
async def test_openai_structured_output_parse_returns_valid_pydantic_object(
    openai_client: openai.AsyncOpenAI, parser_name: str
) -> None:
    owner: Any = openai_client
    for attribute in parser_name.split("."):
        owner = getattr(owner, attribute, None)
    if owner is None:
        pytest.skip(f"the installed openai SDK has no `client.{parser_name}`")

    response = await owner(
        model="o4-mini",
        messages=[
            {"role": "system", "content": "Break the question down into web searches."},
            {"role": "user", "content": "Who won the 2022 World Cup?"},
        ],
        response_format=WebSearchesToBeDone,
    )

    parsed = response.choices[0].message.parsed
    assert isinstance(parsed, WebSearchesToBeDone)
    assert len(parsed.web_searches) == 3
    queries = [web_search.web_search_query for web_search in parsed.web_searches]
    assert len(set(queries)) == 3
    assert all("2022 World Cup" in query for query in queries)
    assert all(web_search.rationale.endswith(".") for web_search in parsed.web_searches)


async def test_openai_structured_output_urls_differ_between_prompts(openai_client: openai.AsyncOpenAI) -> None:
    """De-duplicating agents (like the tutorial's web search agent) must keep finding new pages."""
    urls: list[str] = []
    for search_query in ("Who won overview", "Who won latest news"):
        response = await openai_client.chat.completions.parse(
            model="o4-mini",
            messages=[{"role": "user", "content": f"RATIONALE: because\n\nSEARCH QUERY: {search_query}\n\nRESULTS"}],
            response_format=WebPagesToBeRead,
        )
        parsed = response.choices[0].message.parsed
        assert parsed is not None
        urls.extend(web_page.url for web_page in parsed.web_pages)

    assert len(set(urls)) == 6
    assert all(url.startswith("https://example.com/rationale-because-search-query-who-won") for url in urls)


async def test_openai_json_object_response_format(openai_client: openai.AsyncOpenAI) -> None:
    completion = await openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=OPENAI_MESSAGES, response_format={"type": "json_object"}
    )

    content = completion.choices[0].message.content
    assert content is not None
    assert QUESTION in json.loads(content)["answer"]


# --- Anthropic messages --------------------------------------------------------------------------------------------


async def test_anthropic_message_echoes_question_and_system_prompt(
    server: OfflineLLMServer, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    message = await anthropic_client.messages.create(
        model=ANTHROPIC_MODEL, max_tokens=500, system=SYSTEM_PROMPT, messages=ANTHROPIC_MESSAGES
    )

    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == ANTHROPIC_MODEL
    assert message.stop_reason == "end_turn"
    text_block = message.content[0]
    assert isinstance(text_block, anthropic.types.TextBlock)
    assert f"You asked: «{QUESTION}»" in text_block.text
    assert f"Instructions: «{SYSTEM_PROMPT}»" in text_block.text
    assert "ANTHROPIC_API_KEY" in text_block.text
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens == len(tokenize(text_block.text))
    assert server.requests[-1]["path"] == "/v1/messages"


async def test_anthropic_stream_helper_yields_tokens_and_final_message(
    anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    async with anthropic_client.messages.stream(
        model=ANTHROPIC_MODEL,
        max_tokens=500,
        system=[{"type": "text", "text": SYSTEM_PROMPT}],
        messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
    ) as stream:
        tokens = [token async for token in stream.text_stream]
        final_message = await stream.get_final_message()

    assert len(tokens) > 10
    text_block = final_message.content[0]
    assert isinstance(text_block, anthropic.types.TextBlock)
    assert "".join(tokens) == text_block.text
    assert f"Instructions: «{SYSTEM_PROMPT}»" in text_block.text
    assert final_message.stop_reason == "end_turn"
    assert final_message.usage.input_tokens > 0
    assert final_message.usage.output_tokens == len(tokens)


async def test_anthropic_create_with_stream_true_emits_the_real_event_sequence(
    anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    stream = await anthropic_client.messages.create(
        model=ANTHROPIC_MODEL, max_tokens=500, messages=ANTHROPIC_MESSAGES, stream=True
    )
    events = [event async for event in stream]

    event_types = [event.type for event in events]
    assert event_types[:2] == ["message_start", "content_block_start"]
    assert event_types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [event for event in events if event.type == "content_block_delta"]
    assert len(deltas) == len(event_types) - 5
    assert all(event.delta.type == "text_delta" for event in deltas)
    assert events[-2].type == "message_delta"
    assert events[-2].delta.stop_reason == "end_turn"


async def test_anthropic_structured_output_parse(anthropic_client: anthropic.AsyncAnthropic) -> None:
    if not hasattr(anthropic_client.messages, "parse"):
        pytest.skip("the installed anthropic SDK has no `client.messages.parse`")

    message = await anthropic_client.messages.parse(
        model=ANTHROPIC_MODEL,
        max_tokens=500,
        messages=[{"role": "user", "content": "Who won the 2022 World Cup?"}],
        output_format=WebSearchesToBeDone,
    )

    assert isinstance(message.parsed_output, WebSearchesToBeDone)
    assert len(message.parsed_output.web_searches) == 3


# --- Determinism ---------------------------------------------------------------------------------------------------


async def test_same_request_gets_same_reply_even_from_another_server(openai_client: openai.AsyncOpenAI) -> None:
    first = await openai_client.chat.completions.create(model="gpt-4o-mini", messages=OPENAI_MESSAGES)
    second = await openai_client.chat.completions.create(model="gpt-4o-mini", messages=OPENAI_MESSAGES)
    with start_offline_llm_server(token_delay=0) as other_server:
        async with other_server.openai_client() as other_client:
            third = await other_client.chat.completions.create(model="gpt-4o-mini", messages=OPENAI_MESSAGES)

    assert first.choices[0].message.content == second.choices[0].message.content == third.choices[0].message.content
    assert first.id != second.id


# --- Failure injection ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "openai_error", "anthropic_error"),
    [
        ("offline-error-401", openai.AuthenticationError, anthropic.AuthenticationError),
        ("offline-error-429", openai.RateLimitError, anthropic.RateLimitError),
        ("offline-error-500", openai.InternalServerError, anthropic.InternalServerError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_error_models_raise_the_sdk_status_errors(
    openai_client: openai.AsyncOpenAI,
    anthropic_client: anthropic.AsyncAnthropic,
    model: str,
    openai_error: type[openai.APIStatusError],
    anthropic_error: type[anthropic.APIStatusError],
    stream: bool,
) -> None:
    with pytest.raises(openai_error) as openai_raised:
        await openai_client.chat.completions.create(model=model, messages=OPENAI_MESSAGES, stream=stream)
    with pytest.raises(anthropic_error) as anthropic_raised:
        await anthropic_client.messages.create(model=model, max_tokens=100, messages=ANTHROPIC_MESSAGES, stream=stream)

    status = int(model.rsplit("-", 1)[1])
    assert openai_raised.value.status_code == anthropic_raised.value.status_code == status
    assert isinstance(openai_raised.value.body, dict)
    assert set(openai_raised.value.body) >= {"message", "type", "code"}
    assert isinstance(anthropic_raised.value.body, dict)
    assert anthropic_raised.value.body["type"] == "error"
    assert set(anthropic_raised.value.body["error"]) == {"type", "message"}


async def test_malformed_openai_stream_fails_after_first_token(openai_client: openai.AsyncOpenAI) -> None:
    stream = await openai_client.chat.completions.create(
        model=MALFORMED_STREAM_MODEL, messages=OPENAI_MESSAGES, stream=True
    )
    tokens: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        async for chunk in stream:
            tokens.append(chunk.choices[0].delta.content or "")

    assert "".join(tokens) == "[offline "


async def test_malformed_anthropic_stream_fails_after_first_token(anthropic_client: anthropic.AsyncAnthropic) -> None:
    tokens: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        async with anthropic_client.messages.stream(
            model=MALFORMED_STREAM_MODEL, max_tokens=100, messages=ANTHROPIC_MESSAGES
        ) as stream:
            async for token in stream.text_stream:
                tokens.append(token)

    assert tokens == ["[offline "]


async def test_hang_model_trips_the_client_timeout(
    openai_client: openai.AsyncOpenAI, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await openai_client.with_options(timeout=0.3).chat.completions.create(
            model=HANG_MODEL, messages=OPENAI_MESSAGES, stream=True
        )
    with pytest.raises(anthropic.APITimeoutError):
        await anthropic_client.with_options(timeout=0.3).messages.create(
            model=HANG_MODEL, max_tokens=100, messages=ANTHROPIC_MESSAGES
        )

    assert time.monotonic() - started < 5


def test_unknown_paths_get_a_404_in_the_callers_error_shape(server: OfflineLLMServer) -> None:
    openai_style = httpx.post(f"{server.base_url}/v1/embeddings", json={"model": "x"})
    anthropic_style = httpx.post(
        f"{server.base_url}/v1/messages/batches", json={}, headers={"anthropic-version": "2023-06-01"}
    )
    bare_get = httpx.get(f"{server.base_url}/v1/models")

    assert openai_style.status_code == anthropic_style.status_code == bare_get.status_code == 404
    assert "/v1/embeddings" in openai_style.json()["error"]["message"]
    assert anthropic_style.json()["type"] == "error"
    assert anthropic_style.json()["error"]["type"] == "not_found_error"
    assert "error" in bare_get.json()


def test_a_body_that_is_not_a_json_object_gets_a_400(server: OfflineLLMServer) -> None:
    response = httpx.post(f"{server.base_url}/v1/chat/completions", content=b"[1, 2", headers={"x": "y"})

    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]["message"]


# --- Live streaming and lifecycle ----------------------------------------------------------------------------------


async def test_held_last_token_proves_tokens_arrive_while_the_reply_is_still_streaming(
    server: OfflineLLMServer, openai_client: openai.AsyncOpenAI
) -> None:
    completion = await openai_client.chat.completions.create(model="gpt-4o-mini", messages=OPENAI_MESSAGES)
    full_text = completion.choices[0].message.content
    assert full_text is not None
    all_but_last_token = "".join(tokenize(full_text)[:-1])
    gate = server.hold_last_token()
    received: list[str] = []
    first_token_received = asyncio.Event()
    all_but_last_token_received = asyncio.Event()

    async def consume() -> None:
        stream = await openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=OPENAI_MESSAGES, stream=True
        )
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
            if "".join(received):
                first_token_received.set()
            if "".join(received) == all_but_last_token:
                all_but_last_token_received.set()

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(first_token_received.wait(), timeout=10)
    assert not gate.is_set()
    await asyncio.wait_for(all_but_last_token_received.wait(), timeout=10)
    await asyncio.sleep(0.2)

    assert "".join(received) == all_but_last_token
    assert not consumer.done()
    gate.set()
    await consumer
    assert "".join(received) == full_text


async def test_many_concurrent_streams_share_one_keep_alive_client(openai_client: openai.AsyncOpenAI) -> None:
    async def ask(question_number: int) -> str:
        stream = await openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"Question {question_number}"}], stream=True
        )
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream])

    for _ in range(2):
        answers = await asyncio.gather(*(ask(question_number) for question_number in range(12)))
        assert [f"«Question {question_number}»" in answer for question_number, answer in enumerate(answers)] == [
            True
        ] * 12


async def test_stop_is_fast_and_idempotent_with_a_hang_and_a_held_stream_in_flight() -> None:
    server = start_offline_llm_server(token_delay=0.001)
    server.hold_last_token()
    async with server.openai_client(timeout=20) as client:

        async def consume_stream() -> None:
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=OPENAI_MESSAGES, stream=True)
            async for _ in stream:
                pass

        hanging_request = asyncio.create_task(
            client.chat.completions.create(model=HANG_MODEL, messages=OPENAI_MESSAGES)
        )
        held_stream = asyncio.create_task(consume_stream())
        await _wait_for_request_count(server, 2)
        await asyncio.sleep(0.1)

        started = time.monotonic()
        await asyncio.to_thread(server.stop)
        server.stop()
        assert time.monotonic() - started < 2

        with pytest.raises(openai.APIConnectionError):
            await hanging_request
        with pytest.raises(openai.APIConnectionError):
            await held_stream
    assert server.is_stopped
    with pytest.raises(RuntimeError, match="cannot be restarted"):
        server.start()


def test_stop_without_start_and_context_manager_reuse() -> None:
    never_started = OfflineLLMServer()
    never_started.stop()
    never_started.stop()

    with start_offline_llm_server() as offline_server:
        assert offline_server.base_url.startswith("http://127.0.0.1:")
    assert offline_server.is_stopped


def test_negative_token_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="token_delay"):
        start_offline_llm_server(token_delay=-1)


def test_shared_server_is_one_instance_across_threads() -> None:
    servers: list[OfflineLLMServer] = []
    threads = [threading.Thread(target=lambda: servers.append(get_offline_llm_server())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(shared_server) for shared_server in servers}) == 1
    assert servers[0] is get_offline_llm_server()
    assert not servers[0].is_stopped


async def test_client_helpers_default_to_no_retries_but_accept_overrides(server: OfflineLLMServer) -> None:
    async with server.openai_client() as default_client, server.anthropic_client(max_retries=3) as retrying_client:
        assert default_client.max_retries == 0
        assert str(default_client.base_url).rstrip("/") == f"{server.base_url}/v1"
        assert retrying_client.max_retries == 3


def test_token_delay_env_var_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_DELAY_ENV_VAR, "0.5")
    assert server_module._token_delay_from_env() == 0.5
    monkeypatch.setenv(TOKEN_DELAY_ENV_VAR, "fast")
    with pytest.raises(ValueError, match=TOKEN_DELAY_ENV_VAR):
        server_module._token_delay_from_env()


# --- Schema-valid example JSON -------------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class TreeNode(BaseModel):
    label: str
    children: list["TreeNode"]
    parent: Optional["TreeNode"] = None


class Kitchen(BaseModel):
    title: str
    source_url: str
    search_query: str
    count: Annotated[int, Field(ge=10, le=20, multiple_of=5)]
    ratio: Annotated[float, Field(gt=0, lt=1)]
    flag: bool
    mode: Literal["fast", "slow"]
    colour: Colour
    maybe: int | None
    pair: tuple[int, str]
    tags: Annotated[list[str], Field(min_length=4, max_length=5)]
    few: Annotated[list[int], Field(max_length=1)]
    unique: set[int]
    lookup: dict[str, int]
    when: datetime.datetime
    day: datetime.date
    identifier: uuid.UUID
    short: Annotated[str, Field(min_length=3, max_length=5)]
    tree: TreeNode
    searches: WebSearchesToBeDone


@pytest.mark.parametrize("model", [Kitchen, WebSearchesToBeDone, WebPagesToBeRead, TreeNode, list[WebPage], int])
def test_schema_examples_validate_against_their_schema(model: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(model)

    example = example_for_schema(adapter.json_schema(), question="How do volcanoes form?")

    adapter.validate_python(example)
    assert example == example_for_schema(adapter.json_schema(), question="How do volcanoes form?")


def test_schema_examples_read_like_answers_to_the_question() -> None:
    example = example_for_schema(Kitchen.model_json_schema(), question="How do volcanoes form?")

    assert example["source_url"] == "https://example.com/how-do-volcanoes-form/1"
    assert example["search_query"] == "How do volcanoes form"
    assert len(example["tags"]) == 4
    assert example["searches"]["web_searches"][1]["web_search_query"] == "How do volcanoes form latest news"
