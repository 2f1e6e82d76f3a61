"""The engine under the faults users hit: timeouts, cancelled awaiters, bad input, failing iterables, odd text, runaway
recursion. Each test is a reproducer that hung, lost an error or crashed before the fix; all are bounded by a timeout.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from miniagents import (
    AgentCallEvent,
    CallDepthError,
    CallFinished,
    CallRecorded,
    ErrorMessage,
    InteractionContext,
    Message,
    MiniAgents,
    TextMessage,
    UnsupportedMessageTypeError,
    miniagent,
)
from miniagents.promising.errors import NestingDepthError
from miniagents.promising.ext.frozen import normalize_text

pytestmark = pytest.mark.timeout(20)

EMOJI = "\U0001f600"
HIGH_HALF, LOW_HALF = "\ud83d", "\ude00"  # the two UTF-16 halves of EMOJI, as separate chunks deliver them


def _read_logs(folder: Path) -> str:
    return "".join(path.read_text(encoding="utf-8") for path in folder.glob("*.md"))


# --- 1. an exception in the body, or a bad trigger(), never becomes a hang ------------------------------------------


async def test_a_timeout_in_the_body_cancels_the_stuck_agent_and_raises_the_timeout() -> None:
    cancelled = asyncio.Event()

    @miniagent
    async def stuck(ctx: InteractionContext) -> None:
        try:
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        async with MiniAgents():
            await asyncio.wait_for(stuck.trigger(), 0.2)
    assert cancelled.is_set()


async def test_a_task_that_ignores_cancellation_is_abandoned_with_a_warning() -> None:
    give_up = False
    stopped = asyncio.Event()

    @miniagent
    async def stubborn(ctx: InteractionContext) -> None:
        while not give_up:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue  # swallows cancellation (until the test lets it go, so the event loop can close)
        stopped.set()

    with pytest.warns(RuntimeWarning, match="did not stop within 0.2 s"), pytest.raises(ValueError, match="mine"):
        async with MiniAgents(cancel_grace_seconds=0.2):
            stubborn.trigger()
            await asyncio.sleep(0)
            raise ValueError("mine")
    give_up = True
    await asyncio.wait_for(stopped.wait(), 5)


async def test_unsupported_input_fails_the_call_at_once_and_leaves_nothing_open() -> None:
    events: list[AgentCallEvent] = []
    function_ran = False

    @miniagent
    async def echo(ctx: InteractionContext) -> None:
        nonlocal function_ran
        function_ran = True
        ctx.reply(await ctx.message_promises)

    async def main() -> None:
        await echo.trigger(42)

    mini_agents = MiniAgents(on_persist_messages=lambda _promise, _message: None, on_call_event=events.append)
    with pytest.raises(UnsupportedMessageTypeError, match="int is not a supported") as raised:
        await mini_agents.arun(main())

    assert "input of a call to `echo`" in "".join(raised.value.__notes__)
    assert not function_ran
    finished = [event for event in events if isinstance(event, CallFinished)]
    assert len(finished) == 1 and isinstance(finished[0].error, UnsupportedMessageTypeError)
    assert not mini_agents.child_tasks


async def test_an_emoji_split_across_two_chunks_does_not_hang_an_llm_call_that_is_logged_and_persisted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from miniagents.ext.llms import OFFLINE_ENV_VAR, OpenAIAgent
    from miniagents.ext.llms.offline import SPLIT_CHARACTERS_MODEL, start_offline_llm_server

    for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL", OFFLINE_ENV_VAR):
        monkeypatch.delenv(variable, raising=False)
    persisted: list[Message] = []
    recorded: list[CallRecorded] = []

    def on_event(event: AgentCallEvent) -> None:
        if isinstance(event, CallRecorded):
            recorded.append(event)

    with start_offline_llm_server(token_delay=0) as server:
        client = server.openai_client()
        agent = OpenAIAgent.fork(non_freezable_kwargs={"async_client": client})
        mini_agents = MiniAgents(
            llm_logger_agent=True,
            llm_logs_folder=tmp_path,
            on_persist_messages=lambda _promise, message: persisted.append(message),
            on_call_event=on_event,
        )

        async def main() -> tuple[tuple[Message, ...], list[str]]:
            replies = agent.trigger(f"Say {EMOJI} back", model=SPLIT_CHARACTERS_MODEL)
            tokens = [str(token) async for token in await replies.__aiter__().__anext__()]
            return await replies, tokens

        replies, tokens = await mini_agents.arun(main())
        await client.close()

    assert HIGH_HALF in tokens and LOW_HALF in tokens  # the stand-in really split the emoji
    assert EMOJI in str(replies[0])  # and the message holds the whole character again
    assert replies[0] in persisted
    assert "OpenAIAgent" in {event.call_node.agent_alias for event in recorded}
    assert EMOJI in _read_logs(tmp_path)


# --- 2. a cancelled awaiter never strands the others ----------------------------------------------------------------


async def test_a_second_awaiter_gets_the_replies_when_the_first_awaiter_is_cancelled() -> None:
    release = asyncio.Event()

    @miniagent
    async def slow(ctx: InteractionContext) -> None:
        await release.wait()
        ctx.reply("done")

    async with MiniAgents():
        replies = slow.trigger()
        first = asyncio.ensure_future(replies.aresolve())
        second = asyncio.ensure_future(replies.aresolve())
        await asyncio.sleep(0.01)
        first.cancel()
        await asyncio.sleep(0.01)
        release.set()
        messages = await asyncio.wait_for(second, 5)

    assert first.cancelled()
    assert [str(message) for message in messages] == ["done"]


# --- 3. an iterable that fails to open is an error at its position -------------------------------------------------


class _CursorFailsToOpen:
    def __iter__(self) -> Iterator[str]:
        raise ConnectionError("cursor could not be opened")


class _AsyncCursorFailsToOpen:
    def __aiter__(self) -> AsyncIterator[str]:
        raise ConnectionError("async cursor could not be opened")


@pytest.mark.parametrize("failing", [_CursorFailsToOpen, _AsyncCursorFailsToOpen])
@pytest.mark.parametrize("out_of_order", [False, True])
async def test_an_iterable_whose_iter_raises_becomes_an_error_and_the_sequence_ends(
    failing: type, out_of_order: bool
) -> None:
    @miniagent
    async def lister(ctx: InteractionContext) -> None:
        ctx.reply("before")
        if out_of_order:
            ctx.reply_out_of_order(failing())
        else:
            ctx.reply(failing())
        ctx.reply("after")

    async with MiniAgents():
        texts, errors = [], []
        iterator = lister.trigger().__aiter__()
        while True:
            try:
                texts.append(str(await (await iterator.__anext__())))
            except StopAsyncIteration:
                break
            except ConnectionError as error:  # raised where it stands; the rest of the sequence still follows
                errors.append(str(error))

    assert texts[0] == "before"
    assert sorted(texts) == ["after", "before"]
    assert len(errors) == 1 and "could not be opened" in errors[0]


async def test_an_iterable_whose_iter_raises_becomes_an_error_message_with_errors_as_messages() -> None:
    @miniagent
    async def lister(ctx: InteractionContext) -> None:
        ctx.reply(["before", _CursorFailsToOpen(), "after"])

    async with MiniAgents(errors_as_messages=True):
        messages = await lister.trigger()

    assert [type(message).__name__ for message in messages] == ["TextMessage", "ErrorMessage", "TextMessage"]
    assert "ConnectionError: cursor could not be opened" in str(messages[1])


# --- 4. a message that breaks midway respects errors_as_messages ---------------------------------------------------


async def test_a_streamed_message_failing_midway_becomes_an_error_message(caplog: pytest.LogCaptureFixture) -> None:
    @miniagent
    async def streamer(ctx: InteractionContext) -> None:
        async def tokens(_: dict[str, Any]) -> AsyncIterator[str]:
            yield "Hello "
            yield "wor"
            raise ConnectionResetError("stream broke")

        ctx.reply(TextMessage.promise(message_token_streamer=tokens))
        ctx.reply("after")

    with caplog.at_level(logging.ERROR):
        async with MiniAgents(errors_as_messages=True):
            replies = streamer.trigger()
            messages = await replies
            streamed = [token async for token in (await replies.__aiter__().__anext__())]

    assert isinstance(messages[0], ErrorMessage)
    assert str(messages[0]) == "Hello wor\n\nConnectionResetError: stream broke"
    assert "".join(streamed) == str(messages[0])  # what streamed is what the message says
    assert str(messages[1]) == "after"
    assert "stream broke" in caplog.text  # logged, not lost


async def test_a_message_that_completes_is_relayed_as_the_very_same_message() -> None:
    @miniagent
    async def streamer(ctx: InteractionContext) -> None:
        async def tokens(_: dict[str, Any]) -> AsyncIterator[str]:
            yield "all "
            yield "good"

        ctx.reply(TextMessage.promise(message_token_streamer=tokens, role="assistant"))

    async with MiniAgents(errors_as_messages=True):
        replies = streamer.trigger()
        (message,) = await replies
        (message_promise,) = [promise async for promise in replies]

    assert type(message) is TextMessage and str(message) == "all good" and message.role == "assistant"
    assert message_promise.known_beforehand.role == "assistant"


# --- 5. the dedup of persisted messages is bounded -----------------------------------------------------------------


async def test_a_persisted_message_is_marked_on_itself_and_the_context_remembers_nothing() -> None:
    received: list[str] = []
    mini_agents = MiniAgents(on_persist_messages=lambda _promise, message: received.append(str(message)))
    async with mini_agents:
        messages = [TextMessage(f"message {index}") for index in range(300)]
        for message in messages:
            mini_agents.persist_message(message)
        mini_agents.persist_message(messages[0])  # the same message again: not handed over twice
        mini_agents.persist_message(TextMessage("message 0"))  # an equal one made separately: handed over, as there
        other_context = MiniAgents(on_persist_messages=lambda _promise, message: received.append(f"other {message}"))
        other_context.persist_message(messages[0])  # persisted in one context, not in another

    assert received.count("message 1") == 1
    assert received.count("message 0") == 2 and received.count("other message 0") == 1


def test_the_old_limit_of_remembered_messages_is_accepted_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"persisted_hash_keys_limit=.*deprecated and ignored.*0\.3\.0"):
        MiniAgents(persisted_hash_keys_limit=100)


async def test_a_call_with_many_replies_hands_each_one_once_with_its_records() -> None:
    received: list[Message] = []

    @miniagent
    async def talker(ctx: InteractionContext) -> None:
        for index in range(30):
            ctx.reply(f"reply {index}")

    async with MiniAgents(on_persist_messages=received.extend):
        await talker.trigger()

    replies = [str(message) for message in received if isinstance(message, TextMessage)]
    assert replies == [f"reply {index}" for index in range(30)]  # the record refers to them; it hands none again
    assert [type(message).__name__ for message in received[-2:]] == ["AgentCallNode", "AgentReplyNode"]
    assert len(received[-1].replies) == 30


# --- 6. any str hashes, persists and records ------------------------------------------------------------------------


def test_the_two_halves_of_an_emoji_become_the_emoji_and_a_lone_half_hashes() -> None:
    joined = TextMessage(HIGH_HALF + LOW_HALF)
    lone = TextMessage(f"half {HIGH_HALF} only")

    assert joined.content == EMOJI and joined.hash_key == TextMessage(EMOJI).hash_key
    assert lone.content == f"half {HIGH_HALF} only"
    assert len(lone.hash_key) == 40
    lone.serialized.encode("utf-8")  # always encodable
    assert json.loads(lone.serialized)["content"] == lone.content  # and reads back as the same string
    assert normalize_text(f"{LOW_HALF}{HIGH_HALF}") == f"{LOW_HALF}{HIGH_HALF}"  # wrong order: not a pair, kept


async def test_an_emoji_split_across_two_streamed_tokens_is_persisted_and_recorded() -> None:
    persisted: list[Message] = []
    recorded: list[CallRecorded] = []

    @miniagent
    async def emoji_streamer(ctx: InteractionContext) -> None:
        async def tokens(_: dict[str, Any]) -> AsyncIterator[str]:
            yield "smile "
            yield HIGH_HALF
            yield LOW_HALF
            yield f" and a lone {HIGH_HALF}"

        ctx.reply(TextMessage.promise(message_token_streamer=tokens))

    async with MiniAgents(
        on_persist_messages=lambda _promise, message: persisted.append(message),
        on_call_event=lambda event: recorded.append(event) if isinstance(event, CallRecorded) else None,
    ):
        (message,) = await emoji_streamer.trigger()

    assert str(message) == f"smile {EMOJI} and a lone {HIGH_HALF}"
    assert message in persisted
    assert len(recorded) == 1 and recorded[0].reply_node.replies == (message,)


# --- 7. runaway recursion and deep nesting stop with errors that say what was too deep ------------------------------


async def test_an_agent_that_calls_itself_without_end_fails_with_the_call_chain() -> None:
    @miniagent
    async def recurse(ctx: InteractionContext, level: int = 0) -> None:
        ctx.reply(recurse.trigger(level=level + 1))

    @miniagent
    async def outer(ctx: InteractionContext) -> None:
        ctx.reply(recurse.trigger())

    async with MiniAgents(max_call_depth=50):
        with pytest.raises(CallDepthError) as raised:
            await outer.trigger()

    message = str(raised.value)
    assert "`recurse` would be 51 calls deep, more than the limit of 50" in message
    assert "`outer` → `recurse` x50" in message
    assert "max_call_depth" in message


async def test_the_default_call_depth_limit_stops_a_runaway_agent() -> None:
    calls = 0

    @miniagent
    async def recurse(ctx: InteractionContext) -> None:
        nonlocal calls
        calls += 1
        ctx.reply(recurse.trigger())

    async with MiniAgents():
        with pytest.raises(CallDepthError, match="limit of 1,000"):
            await recurse.trigger()
    assert calls == 1000


async def test_an_initiated_call_beyond_the_depth_limit_says_so_when_sent_a_message() -> None:
    @miniagent
    async def recurse(ctx: InteractionContext) -> None:
        call = recurse.initiate_call()
        call.send_message("deeper")
        ctx.reply(call.reply_sequence())

    async with MiniAgents(max_call_depth=3):
        with pytest.raises(CallDepthError, match="4 calls deep"):
            await recurse.trigger()


async def test_lists_and_generators_nested_thousands_deep_flatten_while_message_fields_are_capped() -> None:
    nested: list[Any] = ["innermost"]
    for _ in range(3000):
        nested = [nested]

    def generators(depth: int) -> Any:
        items: Any = iter(["deepest generator item"])
        for level in range(depth):
            items = (item for item in [f"generator level {level}", items])
        return items

    @miniagent
    async def replier(ctx: InteractionContext) -> None:
        ctx.reply(nested)
        ctx.reply(generators(3000))

    async with MiniAgents():
        replies = await replier.trigger()
    assert [str(reply) for reply in replies[:2]] == ["innermost", "generator level 2999"]
    assert str(replies[-1]) == "deepest generator item" and len(replies) == 3002

    with pytest.raises(NestingDepthError, match=r"Field `rows\[0\]\[0\]"):
        Message(rows=nested)
    deep_dict: dict[str, Any] = {}
    for _ in range(400):
        deep_dict = {"inner": deep_dict}
    with pytest.raises(NestingDepthError, match=r"Field `config\.inner\.inner"):
        Message(config=deep_dict)


async def test_a_list_that_contains_itself_is_refused_at_the_call_site_and_in_a_generator() -> None:
    looped: list[Any] = ["first"]
    looped.append([looped])

    @miniagent
    async def replier(ctx: InteractionContext) -> None:
        with pytest.raises(ValueError, match="contains itself"):
            ctx.reply(looped)
        ctx.reply(item for item in [looped, "after"])

    async with MiniAgents(errors_as_messages=True):
        replies = await replier.trigger()
    assert [str(reply) for reply in replies] == [
        "first",
        "ValueError: A list of messages contains itself, so it can never be flattened; send a copy instead.",
        "after",
    ]


def test_a_long_chain_of_messages_hashes_renders_and_walks_without_recursion_errors() -> None:
    message: Message = TextMessage("first")
    for index in range(3000):  # each refers to the previous one, none hashed yet
        message = Message(previous=message, index=index)

    assert len(message.hash_key) == 40
    assert len(list(message.sub_messages())) == 3000
    assert "hash_key=" in repr(message)
    assert str(message)  # a non-text message's str() is its JSON


@pytest.mark.timeout(10)
def test_a_message_held_twice_at_each_of_many_levels_hashes_in_steps_per_message_not_per_path() -> None:
    message: Message = TextMessage("first")
    for index in range(40):  # 2**40 paths lead to the first message, but there are only 41 messages
        message = Message(previous=message, again={"previous": message}, index=index)

    assert len(message.hash_key) == 40


def test_an_agent_alias_with_half_a_character_is_refused() -> None:
    async def agent(ctx: InteractionContext) -> None:
        pass

    with pytest.raises(ValueError, match=r"alias .* contains half a character"):
        miniagent(agent, alias=f"bad {HIGH_HALF}")
    assert miniagent(agent, alias=f"smile {HIGH_HALF}{LOW_HALF}").alias == f"smile {EMOJI}"
