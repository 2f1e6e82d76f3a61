"""Sequence flattening: anything of MessageType, nested to any depth, becomes one flat sequence of messages."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from miniagents import (
    ErrorMessage,
    InteractionContext,
    Message,
    MessageSequence,
    MessageSequencePromise,
    MiniAgents,
    TextMessage,
    UnsupportedMessageTypeError,
    miniagent,
)
from miniagents.promising.sentinels import DEFAULT


async def _texts_and_errors(sequence: MessageSequencePromise) -> list[str]:
    result: list[str] = []
    iterator = sequence.__aiter__()
    while True:
        try:
            message_promise = await iterator.__anext__()
        except StopAsyncIteration:
            return result
        except Exception as error:  # recorded at its position
            result.append(f"error: {error}")
            continue
        result.append(str(await message_promise))


@pytest.mark.parametrize("start_soon", [False, True, DEFAULT])
async def test_nested_structures_flatten_in_order(start_soon: Any) -> None:
    class Note(BaseModel):
        content: str

    async def async_items() -> AsyncIterator[Any]:
        yield "msg7"
        await asyncio.sleep(0)
        yield ["msg8", ("msg9",)]

    def sync_items() -> Iterator[Any]:
        yield "msg10"
        yield Note(content="msg11")

    async with MiniAgents():
        inner = MessageSequence(start_soon=start_soon)
        with inner.message_appender:
            inner.message_appender.append("msg5")
            inner.message_appender.append([TextMessage("msg6")])
        outer = MessageSequence(start_soon=start_soon)
        with outer.message_appender:
            outer.message_appender.append("msg1")
            outer.message_appender.append({"content": "msg2", "role": "user"})
            outer.message_appender.append(TextMessage("msg3").as_promise)
            outer.message_appender.append([[TextMessage("msg4")]])
            outer.message_appender.append(inner.sequence_promise)
            outer.message_appender.append(async_items())
            outer.message_appender.append(sync_items())
        messages = await outer.sequence_promise

    assert [message.content for message in messages] == [f"msg{i}" for i in range(1, 12)]
    assert type(messages[1]) is Message  # a dict becomes a plain Message (as in MiniAgents), even with `content`
    assert messages[1].role == "user"


async def test_errors_stay_at_their_position_and_nothing_after_them_is_lost() -> None:
    async def failing_items() -> AsyncIterator[str]:
        yield "b"
        raise ValueError("generator failed")

    async with MiniAgents():
        inner = MessageSequence(appender_capture_errors=True)
        with inner.message_appender:
            inner.message_appender.append("a")
            inner.message_appender.append(failing_items())
            raise RuntimeError("appending failed")
        outer = MessageSequence.turn_into_sequence_promise([inner.sequence_promise, "c"])
        assert await _texts_and_errors(outer) == ["a", "b", "error: generator failed", "error: appending failed", "c"]
        with pytest.raises(ValueError, match="generator failed"):
            await outer


async def test_errors_as_messages_turns_errors_into_error_messages() -> None:
    async with MiniAgents():
        sequence = MessageSequence(errors_as_messages=True)
        with sequence.message_appender:
            sequence.message_appender.append(["ok", ValueError("bad"), "still ok"])
        messages = await sequence.sequence_promise
    assert [str(message) for message in messages] == ["ok", "ValueError: bad", "still ok"]
    assert isinstance(messages[1], ErrorMessage)


async def test_unsupported_types_are_named() -> None:
    async def coroutine() -> str:
        return "x"

    async with MiniAgents():
        sequence = MessageSequence()
        with sequence.message_appender:
            with pytest.raises(UnsupportedMessageTypeError, match="int is not a supported message type"):
                sequence.message_appender.append(42)
            pending = coroutine()
            with pytest.raises(UnsupportedMessageTypeError, match="forget `await`"):
                sequence.message_appender.append(pending)
            pending.close()
            sequence.message_appender.append(iter([b"bytes"]))
        assert await _texts_and_errors(sequence.sequence_promise) == [
            "error: bytes is not a supported message type. Send or reply str, dict, a pydantic model, a Message, "
            "a MessagePromise, a MessageSequencePromise, an exception, or (async) iterables of these."
        ]


async def test_out_of_order_messages_overtake_pending_ones() -> None:
    release = asyncio.Event()

    async def slow() -> AsyncIterator[str]:
        await release.wait()
        yield "slow"

    async def fast() -> AsyncIterator[str]:
        yield "fast"

    async with MiniAgents():
        sequence = MessageSequence()
        with sequence.message_appender:
            sequence.message_appender.append(slow())
            sequence.message_appender.append_out_of_order(fast())
            sequence.message_appender.append("after slow")
        first = await anext(aiter(sequence.sequence_promise))
        assert str(await first) == "fast"
        release.set()
        assert [str(m) for m in await sequence.sequence_promise] == ["fast", "slow", "after slow"]


# --- property-based: random nested structures --------------------------------------------------------------------

_leaf = st.tuples(st.sampled_from(["str", "dict", "message", "promise"]), st.text(min_size=1, max_size=5))
_structure = st.recursive(
    _leaf,
    lambda children: st.tuples(
        st.sampled_from(["list", "tuple", "generator", "async_generator", "sequence", "agent"]),
        st.lists(children, max_size=4),
    ),
    max_leaves=12,
)


def _expected(node: tuple[str, Any]) -> list[str]:
    kind, payload = node
    if kind == "dict":  # a dict becomes a plain Message, whose text is its JSON (as in MiniAgents)
        return [str(Message(content=payload))]
    if isinstance(payload, str):
        return [payload]
    return [text for child in payload for text in _expected(child)]


@miniagent
async def _replying_agent(ctx: InteractionContext, children: list[Any]) -> None:
    for child in children:
        await asyncio.sleep(0)
        ctx.reply(child)


def _build(node: tuple[str, Any]) -> Any:
    kind, payload = node
    if kind == "str":
        return payload
    if kind == "dict":
        return {"content": payload}
    if kind == "message":
        return TextMessage(payload)
    if kind == "promise":

        async def tokens(_: dict[str, Any]) -> AsyncIterator[str]:
            for character in payload:
                await asyncio.sleep(0)
                yield character

        return TextMessage.promise(message_token_streamer=tokens)
    children = [_build(child) for child in payload]
    if kind == "list":
        return children
    if kind == "tuple":
        return tuple(children)
    if kind == "generator":
        return (child for child in children)
    if kind == "async_generator":

        async def generate() -> AsyncIterator[Any]:
            for child in children:
                await asyncio.sleep(0)
                yield child

        return generate()
    if kind == "sequence":
        return MessageSequence.turn_into_sequence_promise(children)
    return _replying_agent.fork(non_freezable_kwargs={"children": children}).trigger()


async def _consume_before_during_after(structure: tuple[str, Any]) -> list[list[str]]:
    async with MiniAgents():
        sequence = MessageSequence.turn_into_sequence_promise(_build(structure))
        before = asyncio.ensure_future(_texts_and_errors(sequence))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        during = asyncio.ensure_future(_texts_and_errors(sequence))
        results = await asyncio.gather(before, during)
        after = await _texts_and_errors(sequence)
        resolved = [str(message) for message in await sequence]
    return [*results, after, resolved]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_structure)
def test_random_structures_flatten_identically_for_every_consumer(structure: tuple[str, Any]) -> None:
    expected = _expected(structure)
    for seen in asyncio.run(asyncio.wait_for(_consume_before_during_after(structure), timeout=10)):
        assert seen == expected


def test_message_sequence_is_exported_from_messages_module() -> None:
    from miniagents.messages import MessageSequence as FromMessages

    assert FromMessages is MessageSequence
    assert issubclass(TextMessage, Message)
