"""`achain_loop` / `adialog_loop` (and their blocking versions): chaining, AWAIT, CLEAR and how loops end."""

import asyncio
from typing import Any

import pytest

from miniagents import InteractionContext, Message, MiniAgents, TextMessage, miniagent
from miniagents.promising.sentinels import AWAIT, CLEAR, NO_VALUE
from miniagents.utils import StopLoop, achain_loop, adialog_loop, chain_loop, dialog_loop


def texts(messages: tuple[Message, ...]) -> list[str]:
    return [str(message) for message in messages]


def scripted_user(utterances: list[str], events: list[str] | None = None) -> Any:
    """A user agent that says the next scripted utterance each turn and replies StopLoop when the script is over."""
    remaining = list(utterances)

    @miniagent
    async def user(ctx: InteractionContext) -> None:
        heard = texts(await ctx.message_promises)
        if events is not None:
            events.append(f"user heard {heard}")
        if not remaining:
            ctx.reply(StopLoop(content="script over"))
            return
        ctx.reply(TextMessage(remaining.pop(0), role="user"))

    return user


@miniagent
async def shouting_assistant(ctx: InteractionContext) -> None:
    for message in await ctx.message_promises:
        ctx.reply(TextMessage(str(message).upper() + "!", role="assistant"))


async def test_dialog_loop_runs_until_the_user_replies_stop_loop() -> None:
    events: list[str] = []
    async with MiniAgents():
        result = await adialog_loop(scripted_user(["hi", "bye"], events), shouting_assistant)
    assert events == ["user heard []", "user heard ['HI!']", "user heard ['BYE!']"]
    assert len(result) == 1
    assert isinstance(result[0], StopLoop)
    assert result[0].content == "script over"


async def test_max_turns_ends_the_loop_and_returns_the_last_replies() -> None:
    calls: list[str] = []

    @miniagent
    async def counter(ctx: InteractionContext) -> None:
        heard = texts(await ctx.message_promises)
        calls.append(f"counter {heard}")
        ctx.reply(str(int(heard[0]) + 1) if heard else "1")

    async with MiniAgents():
        result = await achain_loop([counter, AWAIT], max_turns=3)
        assert texts(result) == ["3"]
        assert calls == ["counter []", "counter ['1']", "counter ['2']"]

        calls.clear()
        result = await achain_loop([counter], initial_input="10", max_turns=2)  # no AWAIT needed with a limit
        assert texts(result) == ["12"]
        assert calls == ["counter ['10']", "counter ['11']"]


async def test_dialog_loop_with_max_turns_returns_the_assistant_replies() -> None:
    async with MiniAgents():
        result = await adialog_loop(scripted_user(["one", "two", "three"]), shouting_assistant, max_turns=2)
    assert texts(result) == ["TWO!"]


async def test_await_resolves_the_replies_before_the_next_step_starts() -> None:
    events: list[str] = []

    @miniagent
    async def slow_first(ctx: InteractionContext) -> None:
        events.append("first started")
        for _ in range(5):
            await asyncio.sleep(0)  # give a parallel agent every chance to start
        events.append("first finished")
        ctx.reply("from first")

    @miniagent
    async def second(ctx: InteractionContext) -> None:
        events.append("second started")
        ctx.reply(StopLoop())

    async with MiniAgents():
        await achain_loop([slow_first, AWAIT, second, AWAIT])
    assert events == ["first started", "first finished", "second started"]


async def test_without_await_between_them_the_agents_run_in_parallel() -> None:
    events: list[str] = []
    second_started = asyncio.Event()

    @miniagent
    async def first(ctx: InteractionContext) -> None:
        events.append("first started")
        await second_started.wait()  # would hang (and time out) if the second agent waited for this one
        events.append("first finished")
        ctx.reply("from first")

    @miniagent
    async def second(ctx: InteractionContext) -> None:
        events.append("second started")
        second_started.set()
        heard = texts(await ctx.message_promises)
        events.append(f"second heard {heard}")
        ctx.reply(StopLoop())

    async with MiniAgents():
        await asyncio.wait_for(achain_loop([first, second, AWAIT]), timeout=10)
    assert events.index("second started") < events.index("first finished")
    assert events[-1] == "second heard ['from first']"


async def test_clear_drops_the_messages_so_far() -> None:
    heard: list[list[str]] = []

    @miniagent
    async def listener(ctx: InteractionContext) -> None:
        heard.append(texts(await ctx.message_promises))
        ctx.reply("noise")

    async with MiniAgents():
        await achain_loop([listener, CLEAR, listener, AWAIT], initial_input="start", max_turns=2)
    assert heard == [["start"], [], ["noise"], []]


async def test_callables_sync_and_async_are_steps_too() -> None:
    async def add_exclamation(messages: list[Any]) -> list[str]:
        await asyncio.sleep(0)
        return [str(message) + "!" for message in messages]

    async with MiniAgents():
        result = await achain_loop(
            [
                lambda messages: shouting_assistant.trigger(messages),  # returns a promise: not awaited by the loop
                AWAIT,
                lambda messages: [*messages, "extra"],
                add_exclamation,
            ],
            initial_input="hey",
            max_turns=1,
        )
    assert texts(result) == ["HEY!!", "extra!"]


async def test_an_agent_error_ends_the_loop_at_the_next_await() -> None:
    @miniagent
    async def failing(ctx: InteractionContext) -> None:
        raise ValueError("agent broke")

    async with MiniAgents():
        with pytest.raises(ValueError, match="agent broke"):
            await asyncio.wait_for(adialog_loop(failing, shouting_assistant), timeout=10)


async def test_invalid_chains_are_refused_with_a_clear_error() -> None:
    async with MiniAgents():
        with pytest.raises(ValueError, match="no AWAIT"):
            await achain_loop([shouting_assistant])
        with pytest.raises(ValueError, match="empty"):
            await achain_loop([])
        with pytest.raises(TypeError, match="Step 1 of the chain is a int"):
            await achain_loop([shouting_assistant, 42, AWAIT])
        with pytest.raises(ValueError, match="only AWAIT and CLEAR"):
            await achain_loop([shouting_assistant, NO_VALUE, AWAIT])
        with pytest.raises(ValueError, match="max_turns"):
            await achain_loop([shouting_assistant, AWAIT], max_turns=0)


def test_blocking_chain_loop_and_dialog_loop_run_in_their_own_mini_agents() -> None:
    assert texts(chain_loop([shouting_assistant, AWAIT], initial_input="a", max_turns=2)) == ["A!!"]
    result = dialog_loop(scripted_user(["hello"]), shouting_assistant, mini_agents=MiniAgents())
    assert isinstance(result[0], StopLoop)


async def test_blocking_loops_refuse_to_run_inside_an_event_loop() -> None:
    with pytest.raises(RuntimeError, match="await achain_loop"):
        chain_loop([shouting_assistant, AWAIT])
    with pytest.raises(RuntimeError, match="await adialog_loop"):
        dialog_loop(shouting_assistant, shouting_assistant)


async def test_seed_usage_with_the_old_import_paths() -> None:
    from miniagents.miniagents import MiniAgents as SeedMiniAgents
    from miniagents.promising.sentinels import AWAIT as SEED_AWAIT
    from miniagents.utils import achain_loop as seed_achain_loop

    async with SeedMiniAgents():
        result = await seed_achain_loop([scripted_user(["x"]), SEED_AWAIT, shouting_assistant])
    assert isinstance(result[-1], StopLoop)
