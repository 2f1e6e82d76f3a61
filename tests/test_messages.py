"""Messages and message promises: text, streaming, replay, metadata known beforehand, joining, persistence."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from miniagents import (
    ErrorMessage,
    Message,
    MessagePromise,
    MessageSequence,
    MiniAgents,
    StrictMessage,
    TextMessage,
    TextToken,
)
from miniagents.promising.sentinels import DEFAULT

START_SOON_VARIANTS = [False, True, DEFAULT]


def test_text_message_string_forms() -> None:
    assert str(TextMessage("hello")) == "hello"
    assert str(TextMessage(content_template="Hi {name}!", name="Ann")) == "Hi Ann!"
    assert str(Message(role="user")) == '```json\n{"class_":"Message","role":"user"}\n```'


def test_old_text_argument_still_works_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match="TextMessage"):
        message = Message(text="old style")
    assert str(message) == "old style"


def test_strict_message_refuses_unknown_fields() -> None:
    class Greeting(StrictMessage):
        name: str

    assert Greeting(name="Ann").name == "Ann"
    with pytest.raises(ValueError, match="typo"):
        Greeting(name="Ann", typo=1)


def test_error_message_describes_the_error() -> None:
    message = ErrorMessage.from_error(ValueError("bad input"))
    assert str(message) == "ValueError: bad input"
    assert message.error_class == "ValueError"


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_streamed_message_replays_tokens_and_resolves(start_soon: Any) -> None:
    streamer_runs = 0

    async def stream_tokens(metadata_so_far: dict[str, Any]) -> AsyncIterator[Any]:
        nonlocal streamer_runs
        streamer_runs += 1
        yield "Hello"
        await asyncio.sleep(0)
        yield TextToken(content=", ")
        yield "world"
        metadata_so_far["finish_reason"] = "stop"

    async with MiniAgents():
        promise = TextMessage.promise(start_soon=start_soon, message_token_streamer=stream_tokens, role="assistant")
        assert promise.known_beforehand.get("role") == "assistant"
        first = [str(token) async for token in promise]
        second = [str(token) async for token in promise]
        message = await promise

    assert first == second == ["Hello", ", ", "world"]
    assert streamer_runs == 1
    assert isinstance(message, TextMessage)
    assert str(message) == "Hello, world"
    assert message.role == "assistant"
    assert message.finish_reason == "stop"


async def test_failing_token_stream_raises_at_the_position_and_on_await() -> None:
    async def stream_tokens(_: dict[str, Any]) -> AsyncIterator[str]:
        yield "partial"
        raise ConnectionError("stream broke")

    async with MiniAgents():
        promise = MessagePromise(message_token_streamer=stream_tokens)
        received: list[str] = []
        with pytest.raises(ConnectionError, match="stream broke"):
            async for token in promise:
                received.append(token)
        with pytest.raises(ConnectionError, match="stream broke"):
            await promise
    assert received == ["partial"]


async def test_ready_message_as_promise() -> None:
    async with MiniAgents():
        message = TextMessage("ready", role="user")
        promise = message.as_promise
        assert promise.known_beforehand is message
        assert [token async for token in promise] == ["ready"]
        assert await promise is message


async def test_joining_a_sequence_into_one_message() -> None:
    async with MiniAgents():
        sequence = MessageSequence.turn_into_sequence_promise(["one", "\n\ntwo", TextMessage("three")])
        text = await sequence.as_single_text_promise(strip_leading_newlines=True)
        joined = await sequence.as_single_promise(delimiter=" | ")

    assert str(text) == "one\n\ntwo\n\nthree"
    assert "original_messages" not in text
    assert str(joined) == "one | \n\ntwo | three"
    assert [str(message) for message in joined.original_messages] == ["one", "\n\ntwo", "three"]


async def test_every_message_is_persisted_once_with_its_nested_messages() -> None:
    persisted: list[Message] = []

    async def persist(_: Any, message: Message) -> None:
        persisted.append(message)

    inner = TextMessage("inner")
    outer = Message(nested=inner)
    async with MiniAgents(on_persist_messages=persist):
        outer.as_promise  # noqa: B018 - a resolved promise is what triggers persistence
        MessagePromise(prefill_message=outer)
        MessagePromise(prefill_message=inner)
    assert persisted == [inner, outer]


async def test_deprecated_names_still_work() -> None:
    persisted: list[Message] = []
    with pytest.warns(DeprecationWarning, match="on_persist_messages"):
        mini_agents = MiniAgents(on_persist_message=lambda _, message: persisted.append(message))
    async with mini_agents:
        promise = TextMessage.promise(content="x")
        with pytest.warns(DeprecationWarning, match="known_beforehand"):
            assert promise.preliminary_metadata.content == "x"
        sequence = MessageSequence.turn_into_sequence_promise(["a", "b"])
        with pytest.warns(DeprecationWarning, match="await"):
            assert [str(m) for m in await sequence.aresolve_messages()] == ["a", "b"]
    assert [str(m) for m in persisted] == ["x", "a", "b"]
