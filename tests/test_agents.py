"""Agents: parallelism, calls, forks, class-based agents, errors, records and lifecycle events."""

import asyncio
from typing import Any

import pytest

from miniagents import (
    AgentCallFinishedError,
    AgentCallNode,
    AgentFunctionError,
    AgentReplyNode,
    CallFinished,
    CallInitiated,
    CallRecorded,
    CallStarted,
    ErrorMessage,
    InteractionContext,
    InvalidAgentKwargError,
    Message,
    MiniAgents,
    NoActiveContextError,
    ProducerCancelledError,
    ReplyMessageAppeared,
    ReplyMessageResolved,
    TextMessage,
    UnsupportedMessageTypeError,
    miniagent,
)
from miniagents.promising.sentinels import DEFAULT

START_SOON_VARIANTS = [False, True, DEFAULT]


def _texts(messages: tuple[Message, ...]) -> list[str]:
    return [str(message) for message in messages]


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_agents_run_in_parallel(start_soon: Any) -> None:
    events: list[str] = []
    release = asyncio.Event()

    def make_agent(name: str) -> Any:
        @miniagent(alias=name)
        async def agent(ctx: InteractionContext) -> None:
            events.append(f"{name} start")
            if start_soon is not False:
                await release.wait()
            events.append(f"{name} end")
            ctx.reply(name)

        return agent

    async with MiniAgents():
        replies = [make_agent(name).trigger(start_soon=start_soon) for name in ("agent1", "agent2")]
        if start_soon is not False:
            while len(events) < 2:
                await asyncio.sleep(0)
            release.set()
        results = [await reply for reply in replies]

    assert [_texts(result) for result in results] == [["agent1"], ["agent2"]]
    if start_soon is False:
        assert events == ["agent1 start", "agent1 end", "agent2 start", "agent2 end"]  # each started by its consumer
    else:
        assert events == ["agent1 start", "agent2 start", "agent1 end", "agent2 end"]


async def test_trigger_returns_at_once_and_sub_agents_run_in_parallel() -> None:
    events: list[str] = []
    release = asyncio.Event()

    @miniagent
    async def worker(ctx: InteractionContext, number: int) -> None:
        events.append(f"start {number}")
        await release.wait()
        ctx.reply(f"result {number}")

    @miniagent
    async def aggregator(ctx: InteractionContext) -> None:
        ctx.reply([worker.trigger(number=number) for number in range(3)])
        events.append("aggregator returned")

    async with MiniAgents():
        replies = aggregator.trigger()
        assert events == []  # nothing ran yet: trigger only scheduled the work
        while len(events) < 4:
            await asyncio.sleep(0)
        assert sorted(events) == ["aggregator returned", "start 0", "start 1", "start 2"]
        release.set()
        assert _texts(await replies) == ["result 0", "result 1", "result 2"]


async def test_full_duplex_call_sends_reads_and_sends_again() -> None:
    @miniagent
    async def echo(ctx: InteractionContext) -> None:
        async for message_promise in ctx.message_promises:
            ctx.reply(f"echo: {await message_promise}")

    async with MiniAgents():
        call = echo.initiate_call()
        replies = call.reply_sequence(finish_call=False)
        iterator = aiter(replies)
        call.send_message("first")
        assert str(await (await anext(iterator))) == "echo: first"
        call.send_message(["second", "third"])
        assert str(await (await anext(iterator))) == "echo: second"
        assert not call.is_finished
        call.finish()
        assert call.is_finished
        assert _texts(await replies) == ["echo: first", "echo: second", "echo: third"]
        with pytest.raises(AgentCallFinishedError, match="initiate_call"):
            call.send_message("too late")


async def test_class_based_agent_is_instantiated_per_call() -> None:
    @miniagent
    class Greeter:
        """Greets {AGENT_ALIAS} style."""

        def __init__(self, ctx: InteractionContext, greeting: str = "Hello") -> None:
            self.ctx = ctx
            self.greeting = greeting

        async def __call__(self) -> None:
            name = await self.ctx.message_promises.as_single_text_promise()
            self.ctx.reply(f"{self.greeting}, {name}!")

    async with MiniAgents():
        assert _texts(await Greeter.trigger("Ann")) == ["Hello, Ann!"]
        assert _texts(await Greeter.fork(greeting="Hi").trigger("Bob")) == ["Hi, Bob!"]
    assert Greeter.alias == "Greeter"
    assert Greeter.description == "Greets Greeter style."
    assert list(Greeter.signature.parameters) == ["greeting"]


async def test_fork_with_frozen_and_non_freezable_kwargs() -> None:
    @miniagent
    async def collector(ctx: InteractionContext, tags: tuple[str, ...], seen: set[str], limit: int) -> None:
        seen.update(tags)
        ctx.reply(f"{len(seen)} seen, limit {limit}, tags are a {type(tags).__name__}")

    seen_urls: set[str] = set()
    forked = collector.fork(non_freezable_kwargs={"seen": seen_urls}, limit=2)
    async with MiniAgents():
        first = await forked.trigger(tags=["a", "b"])
        second = await forked.trigger(tags=["b", "c"], limit=5)
    assert _texts(first) == ["2 seen, limit 2, tags are a tuple"]
    assert _texts(second) == ["3 seen, limit 5, tags are a tuple"]
    assert seen_urls == {"a", "b", "c"}  # the very same set object was shared by both calls


async def test_mutable_kwarg_error_names_the_kwarg_and_the_fix() -> None:
    @miniagent
    async def agent(ctx: InteractionContext, urls: Any) -> None:
        ctx.reply("never")

    async with MiniAgents():
        with pytest.raises(InvalidAgentKwargError, match=r"`urls` of agent `agent`.*non_freezable_kwargs"):
            agent.trigger(urls={"a"})
    with pytest.raises(InvalidAgentKwargError, match="`client`"):
        agent.fork(client=object())


def test_sync_function_or_generator_cannot_be_an_agent() -> None:
    def not_async(ctx: InteractionContext) -> None:
        pass

    async def generator(ctx: InteractionContext) -> Any:
        yield "x"

    with pytest.raises(AgentFunctionError, match="async def not_async"):
        miniagent(not_async)
    with pytest.raises(AgentFunctionError, match=r"ctx\.reply"):
        miniagent(generator)

    class NoAsyncCall:
        def __call__(self) -> None:
            pass

    with pytest.raises(AgentFunctionError, match="async def __call__"):
        miniagent(NoAsyncCall)


def test_agents_need_an_active_context() -> None:
    @miniagent
    async def agent(ctx: InteractionContext) -> None:
        pass

    with pytest.raises(NoActiveContextError, match=r"async with MiniAgents\(\)"):
        agent.trigger("hello")


async def test_unsupported_message_type_raises_at_the_call_site() -> None:
    @miniagent
    async def agent(ctx: InteractionContext) -> None:
        ctx.reply(object())

    async with MiniAgents():
        with pytest.raises(UnsupportedMessageTypeError, match="float"):
            agent.trigger(3.14)
        with pytest.raises(UnsupportedMessageTypeError, match="object is not a supported"):
            await agent.trigger()


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_agent_exception_reaches_the_consumer_at_its_position(start_soon: Any) -> None:
    @miniagent
    async def failing(ctx: InteractionContext) -> None:
        ctx.reply("before")
        raise ValueError("agent failed")

    async with MiniAgents():
        replies = failing.trigger(start_soon=start_soon)
        received: list[str] = []
        with pytest.raises(ValueError, match="agent failed"):
            async for message_promise in replies:
                received.append(str(await message_promise))
        assert received == ["before"]
        with pytest.raises(ValueError, match="agent failed"):
            await replies


async def test_errors_as_messages_per_context_and_per_call() -> None:
    @miniagent
    async def failing(ctx: InteractionContext) -> None:
        ctx.reply("before")
        raise ValueError("agent failed")

    async with MiniAgents(errors_as_messages=True):
        messages = await failing.trigger()
        assert _texts(messages) == ["before", "ValueError: agent failed"]
        assert isinstance(messages[1], ErrorMessage)
        with pytest.raises(ValueError, match="agent failed"):
            await failing.trigger(errors_as_messages=False)

    async with MiniAgents():
        assert _texts(await failing.trigger(errors_as_messages=True))[-1] == "ValueError: agent failed"


@pytest.mark.parametrize("error", [KeyboardInterrupt(), asyncio.CancelledError()])
async def test_keyboard_interrupt_or_cancellation_inside_an_agent_never_hangs(error: BaseException) -> None:
    @miniagent
    async def interrupted(ctx: InteractionContext) -> None:
        ctx.reply("before")
        raise error

    @miniagent
    async def caller(ctx: InteractionContext) -> None:
        ctx.reply(interrupted.trigger())
        ctx.reply("after")

    expected = KeyboardInterrupt if isinstance(error, KeyboardInterrupt) else ProducerCancelledError
    async with MiniAgents():
        replies = caller.trigger()
        with pytest.raises(expected):
            await replies
        received = []
        with pytest.raises(expected):
            async for message_promise in replies:
                received.append(str(await message_promise))
        assert received == ["before"]


async def test_cancelling_a_running_agent_releases_its_consumers() -> None:
    started = asyncio.Event()

    @miniagent
    async def forever(ctx: InteractionContext) -> None:
        ctx.reply("started")
        started.set()
        await asyncio.Event().wait()

    async with MiniAgents() as mini_agents:
        replies = forever.trigger()
        await started.wait()
        for task in list(mini_agents.child_tasks):
            task.cancel()
        with pytest.raises(ProducerCancelledError):
            await replies


async def test_unfinished_calls_are_finished_automatically() -> None:
    @miniagent
    async def reader(ctx: InteractionContext) -> None:
        ctx.reply(f"read {len(await ctx.message_promises)}")

    @miniagent
    async def forgetful(ctx: InteractionContext) -> None:
        call = reader.initiate_call()
        call.send_message("one")
        ctx.reply(call.reply_sequence(finish_call=False))  # never finished explicitly

    async with MiniAgents():
        assert _texts(await forgetful.trigger()) == ["read 1"]
        top_level = reader.initiate_call().send_message(["a", "b"])
        replies = top_level.reply_sequence(finish_call=False)
    # leaving the context finished the top-level call, so its agent could complete
    assert _texts(tuple(await _resolved(replies))) == ["read 2"]


async def _resolved(replies: Any) -> list[Message]:
    return [promise._result for promise in replies.pieces_so_far]


async def test_replying_after_finish_is_a_clear_error() -> None:
    outcome: list[str] = []

    @miniagent
    async def early(ctx: InteractionContext) -> None:
        ctx.reply("first")
        await ctx.afinish_early()
        try:
            ctx.reply("late")
        except AgentCallFinishedError as error:
            outcome.append(str(error))

    async with MiniAgents():
        assert _texts(await early.trigger()) == ["first"]
    assert "already finished its replies" in outcome[0]


async def test_make_sure_to_wait_keeps_the_call_open() -> None:
    finished: list[str] = []

    async def background() -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        finished.append("background")

    @miniagent
    async def agent(ctx: InteractionContext) -> None:
        ctx.make_sure_to_wait(background())
        ctx.reply("replied")

    async with MiniAgents():
        assert _texts(await agent.trigger()) == ["replied"]
        assert finished == ["background"]


async def test_agent_trace_lists_the_call_chain() -> None:
    @miniagent
    async def inner(ctx: InteractionContext) -> None:
        ctx.reply(" > ".join(agent.alias for agent in ctx.get_agent_trace()))

    @miniagent
    async def outer(ctx: InteractionContext) -> None:
        ctx.reply(inner.trigger())

    async with MiniAgents():
        assert _texts(await outer.trigger()) == ["inner > outer"]


async def test_records_are_delivered_with_every_message_each_message_object_once() -> None:
    persisted: list[Message] = []

    @miniagent(interaction_metadata={"team": "red"})
    async def answerer(ctx: InteractionContext, style: str) -> None:
        ctx.reply(f"{style} answer to {await ctx.message_promises.as_single_text_promise()}")

    async with MiniAgents(on_persist_messages=lambda _, message: persisted.append(message)):
        await answerer.trigger("question", style="short")
        await answerer.trigger("question", style="short")  # same content, but new messages: persisted too (as there)

    assert len({id(message) for message in persisted}) == len(persisted)  # no message object twice
    reply_nodes = [message for message in persisted if isinstance(message, AgentReplyNode)]
    call_nodes = [message for message in persisted if isinstance(message, AgentCallNode)]
    assert len(reply_nodes) == len(call_nodes) == 2
    assert call_nodes[0].hash_key == call_nodes[1].hash_key  # equal records: a store keeps one row
    call_node, reply_node = call_nodes[0], reply_nodes[0]
    assert call_node.agent_alias == "answerer"
    assert call_node.style == "short"
    assert call_node.team == "red"
    assert _texts(call_node.messages) == ["question"]
    assert reply_node.agent_call is call_node or reply_node.agent_call == call_node
    assert _texts(reply_node.replies) == ["short answer to question"]
    assert persisted.index(call_node) < persisted.index(reply_node)
    assert reply_node.serialize()["agent_call__hash_key"] == call_node.hash_key


async def test_lifecycle_events_describe_the_call_tree_in_order() -> None:
    events: list[Any] = []

    @miniagent
    async def child(ctx: InteractionContext) -> None:
        ctx.reply("child reply")  # complete at once: announced by one event

        async def tokens(_: dict[str, Any]) -> Any:
            yield "streamed "
            yield "reply"

        ctx.reply(TextMessage.promise(message_token_streamer=tokens))  # still streaming when it appears

    @miniagent
    async def parent(ctx: InteractionContext, style_hint: str) -> None:
        ctx.reply(child.trigger())

    async with MiniAgents(on_call_event=events.append, on_persist_messages=lambda *_: None):
        await parent.trigger(style_hint="none")

    initiated = [event for event in events if isinstance(event, CallInitiated)]
    assert [(event.agent_alias, event.parent_call_id) for event in initiated] == [
        ("parent", None),
        ("child", initiated[0].call_id),
    ]
    assert initiated[0].kwargs == {"style_hint": "none"}
    child_id = initiated[1].call_id
    child_events = [type(event) for event in events if event.call_id == child_id]
    assert child_events[:4] == [CallInitiated, CallStarted, ReplyMessageAppeared, ReplyMessageAppeared]
    # the reply sequence may finish before its last message has streamed to the end; records wait for it
    assert sorted(child_events[4:6], key=lambda kind: kind.__name__) == [CallFinished, ReplyMessageResolved]
    assert child_events[6:] == [CallRecorded]
    child_only = [event for event in events if event.call_id == child_id]
    ready, streamed = child_only[2:4]
    [resolved] = [event for event in child_only if isinstance(event, ReplyMessageResolved)]
    assert ready.is_resolved and str(ready.message) == "child reply" and ready.index == 0
    assert not streamed.is_resolved and streamed.message is None and streamed.index == 1
    assert resolved.index == 1 and str(resolved.message) == "streamed reply"
    finished = {event.call_id: event for event in events if isinstance(event, CallFinished)}
    assert all(event.error is None for event in finished.values())
    assert finished[child_id].reply_count == 2 and finished[initiated[0].call_id].reply_count == 2
    assert finished[initiated[0].call_id].time >= finished[child_id].time


async def test_call_finished_carries_the_agent_error() -> None:
    events: list[Any] = []

    @miniagent
    async def failing(ctx: InteractionContext) -> None:
        raise RuntimeError("broken tool")

    async with MiniAgents(on_call_event=events.append, errors_as_messages=True):
        await failing.trigger()
    [finished] = [event for event in events if isinstance(event, CallFinished)]
    assert isinstance(finished.error, RuntimeError)
    assert str(finished.error) == "broken tool"


async def test_call_finished_counts_the_replies_but_not_an_error_position() -> None:
    events: list[Any] = []

    @miniagent
    async def half_failing(ctx: InteractionContext) -> None:
        ctx.reply(["one", "two"])
        raise RuntimeError("then broke")

    async with MiniAgents(on_call_event=events.append):
        replies = half_failing.trigger()
        with pytest.raises(RuntimeError):
            await replies
    [finished] = [event for event in events if isinstance(event, CallFinished)]
    assert finished.reply_count == 2 and isinstance(finished.error, RuntimeError)


async def test_no_subscribers_means_no_events_and_run_helpers_work() -> None:
    @miniagent
    async def agent(ctx: InteractionContext, name: str) -> None:
        ctx.reply(TextMessage(f"hi {name}", role="assistant"))

    replies = await MiniAgents().arun_agent(agent, name="Ann")
    assert _texts(replies) == ["hi Ann"]


def test_run_and_run_agent_from_synchronous_code() -> None:
    @miniagent
    async def agent(ctx: InteractionContext) -> None:
        ctx.reply("sync world")

    assert _texts(MiniAgents().run_agent(agent)) == ["sync world"]

    async def main() -> str:
        return str((await agent.trigger())[0])

    assert MiniAgents().run(main()) == "sync world"


async def test_deprecated_agent_names_still_work() -> None:
    @miniagent
    async def echo(ctx: InteractionContext) -> None:
        with pytest.warns(DeprecationWarning, match="message_promises"):
            messages = ctx.messages
        ctx.reply(messages)

    async with MiniAgents():
        with pytest.warns(DeprecationWarning, match="trigger"):
            replies = echo.inquire("hi")
        assert _texts(await replies) == ["hi"]
        with pytest.warns(DeprecationWarning, match="start_soon"):
            assert _texts(await echo.trigger("there", start_asap=False)) == ["there"]
        with pytest.warns(DeprecationWarning, match="initiate_call"):
            call = echo.initiate_inquiry()
        assert _texts(await call.send_message("x").reply_sequence()) == ["x"]


@pytest.mark.parametrize("start_soon", [True, False])
async def test_cancelling_everything_before_agents_start_releases_consumers(start_soon: bool) -> None:
    @miniagent
    async def agent(ctx: InteractionContext) -> None:
        ctx.reply("never reached")

    mini_agents = MiniAgents()
    mini_agents.activate()
    try:
        replies = agent.trigger(start_soon=start_soon)
        waiting = asyncio.ensure_future(replies.aresolve())
        if not start_soon:
            await asyncio.sleep(0)  # the consumer demands the replies, which creates the agent's task
        # the agent's task exists but has not taken its first step yet
        assert any(not task.done() for task in mini_agents.child_tasks)
        for task in list(mini_agents.child_tasks):
            task.cancel()
        with pytest.raises(ProducerCancelledError):
            await asyncio.wait_for(waiting, timeout=5)
    finally:
        await mini_agents.afinalize(cancel_tasks=True)


async def test_error_after_finishing_early_is_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    @miniagent
    async def early(ctx: InteractionContext) -> None:
        ctx.reply("done")
        await ctx.afinish_early()
        raise RuntimeError("cleanup failed")

    async with MiniAgents():
        assert _texts(await early.trigger()) == ["done"]
    assert "`early` raised after finishing its replies early" in caplog.text
    assert "cleanup failed" in caplog.text


async def test_a_declared_non_freezable_kwarg_stays_unfrozen_in_forks_and_triggers() -> None:
    persisted: list[Message] = []

    @miniagent(non_freezable_kwargs={"notes": None})
    async def note_taker(ctx: InteractionContext, notes: list[str] | None, topic: str) -> None:
        if notes is not None:
            notes.append(topic)
        ctx.reply(f"noted {topic}")

    first_notes: list[str] = []
    second_notes: list[str] = []
    forked = note_taker.fork(notes=first_notes).fork(topic="forked")  # a fork of a fork keeps the rule
    async with MiniAgents(on_persist_messages=lambda _, message: persisted.append(message)):
        await forked.trigger()
        await forked.trigger(notes=second_notes, topic="overridden")
        with pytest.raises(InvalidAgentKwargError, match="`topic`"):
            note_taker.trigger(topic={"not": {"freezable"}})

    assert first_notes == ["forked"]
    assert second_notes == ["overridden"]
    call_nodes = [message for message in persisted if isinstance(message, AgentCallNode)]
    assert sorted(node.topic for node in call_nodes) == ["forked", "overridden"]
    assert all("notes" not in node for node in call_nodes)  # unfrozen arguments are not part of the records
