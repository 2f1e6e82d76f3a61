"""The observer seam: a protocol for anything that watches a `MiniAgents`, handler removal, and the consumers on it.

The third-party observer below is written only against the protocol documented in `miniagents.observers`: plain
methods, no base class, nothing imported but the event types.
"""

import asyncio
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import miniagents_notebook
import miniagents_notebook.session as session_module
from miniagents import (
    AgentCallEvent,
    AgentCallNode,
    AgentReplyNode,
    CallFinished,
    CallInitiated,
    CallRecorded,
    CallStarted,
    InputMessageAppeared,
    InteractionContext,
    Message,
    MiniAgents,
    ReplyMessageAppeared,
    ReplyMessageResolved,
    miniagent,
)
from miniagents.ext.persistence import SQLiteHistory, SQLiteMessageStore
from miniagents.history import HistorySource, InMemoryHistory
from miniagents.observers import MiniAgentsObserver
from miniagents_notebook import NotebookSession, Trace, trace


@miniagent
async def shout_agent(ctx: InteractionContext) -> None:
    ctx.reply(str(await ctx.message_promises.as_single_text_promise()).upper())


@miniagent
async def relay_agent(ctx: InteractionContext) -> None:
    ctx.reply("relaying")
    ctx.reply(shout_agent.trigger(ctx.message_promises))


class ThirdPartyObserver:
    """What a user or an exporter would write from the documentation alone."""

    def __init__(self) -> None:
        self.events: list[AgentCallEvent] = []
        self.messages: list[Message] = []
        self.flushes = 0
        self.closed = False

    def on_call_event(self, event: AgentCallEvent) -> None:
        assert not self.closed
        self.events.append(event)

    def on_persist_message(self, promise: Any, message: Message) -> None:
        self.messages.append(message)

    async def aflush(self) -> None:
        await asyncio.sleep(0)  # an exporter would send its buffer here
        self.flushes += 1

    async def aclose(self) -> None:
        self.closed = True


class EventsOnlyObserver:
    def __init__(self) -> None:
        self.events: list[AgentCallEvent] = []

    def on_call_event(self, event: AgentCallEvent) -> None:
        self.events.append(event)

    async def aflush(self) -> None: ...

    async def aclose(self) -> None: ...


def kinds(events: list[AgentCallEvent], call_id: int) -> list[str]:
    return [type(event).__name__ for event in events if event.call_id == call_id]


# --- the protocol ------------------------------------------------------------------------------------------------


async def test_a_third_party_observer_receives_every_event_of_a_run_flushes_and_detaches() -> None:
    observer = ThirdPartyObserver()
    assert isinstance(observer, MiniAgentsObserver)
    handler_events: list[AgentCallEvent] = []  # a plain handler sees the same events: nothing is held back
    async with MiniAgents(observers=[observer], on_call_event=handler_events.append) as mini_agents:
        assert mini_agents.observers == (observer,)
        replies = await relay_agent.trigger("hello")
        assert [str(reply) for reply in replies] == ["relaying", "HELLO"]
        await mini_agents.aflush_tasks()
        assert observer.flushes == 0
    assert observer.flushes == 1  # the context flushed it when it finalized

    assert observer.events == handler_events
    relay_id, shout_id = sorted({event.call_id for event in observer.events})
    initiated = {event.call_id: event for event in observer.events if isinstance(event, CallInitiated)}
    assert initiated[relay_id].parent_call_id is None and initiated[shout_id].parent_call_id == relay_id
    # each call: initiated first, finished then recorded last, and everything in between announced
    for call_id, replies_count in ((relay_id, 2), (shout_id, 1)):
        call_kinds = kinds(observer.events, call_id)
        assert call_kinds[0] == CallInitiated.__name__
        assert call_kinds[-2:] == [CallFinished.__name__, CallRecorded.__name__]
        between = Counter(call_kinds[1:-2])
        late = between.pop(ReplyMessageResolved.__name__, 0)  # only replies still streaming when they appeared
        assert between == {
            CallStarted.__name__: 1,
            InputMessageAppeared.__name__: 1,
            ReplyMessageAppeared.__name__: replies_count,
        }
        appeared = [e for e in observer.events if e.call_id == call_id and isinstance(e, ReplyMessageAppeared)]
        assert late == sum(not event.is_resolved for event in appeared)  # each reply's outcome announced once
    assert call_kinds.index(CallStarted.__name__) < call_kinds.index(ReplyMessageAppeared.__name__)

    # every message once, nested ones first, the records of both calls among them
    assert len({id(message) for message in observer.messages}) == len(observer.messages)
    hash_keys = [message.hash_key for message in observer.messages]
    assert {str(message) for message in observer.messages if type(message).__name__ == "TextMessage"} >= {
        "hello",
        "relaying",
        "HELLO",
    }
    reply_nodes = [message for message in observer.messages if isinstance(message, AgentReplyNode)]
    assert sorted(node.agent_alias for node in reply_nodes) == ["relay_agent", "shout_agent"]
    for node in reply_nodes:
        assert hash_keys.index(node.agent_call.hash_key) < hash_keys.index(node.hash_key)
    recorded = [event for event in observer.events if isinstance(event, CallRecorded)]
    assert {event.reply_node.hash_key for event in recorded} == {node.hash_key for node in reply_nodes}

    mini_agents.detach(observer)
    assert mini_agents.observers == ()
    assert mini_agents.call_event_handlers == [handler_events.append]
    assert mini_agents.on_persist_messages_handlers == []
    seen = len(observer.events)
    async with mini_agents:
        await shout_agent.trigger("again")
    assert len(observer.events) == seen and observer.flushes == 1  # detached: neither events nor flushes
    await observer.aclose()
    assert observer.closed
    mini_agents.detach(observer)  # detaching again is no error


async def test_attach_and_detach_at_any_time_and_attaching_twice_subscribes_once() -> None:
    observer = ThirdPartyObserver()
    async with MiniAgents() as mini_agents:
        assert mini_agents.attach(observer) is observer
        mini_agents.attach(observer)
        assert mini_agents.observers == (observer,)
        assert len(mini_agents.call_event_handlers) == len(mini_agents.on_persist_messages_handlers) == 1
        await shout_agent.trigger("once")
        await mini_agents.aflush_tasks()
        assert kinds(observer.events, 1).count(CallInitiated.__name__) == 1
        mini_agents.detach(observer)
        await shout_agent.trigger("unseen")
    assert {event.call_id for event in observer.events} == {1}
    assert observer.flushes == 0


async def test_an_observer_without_on_persist_message_costs_no_records() -> None:
    observer = EventsOnlyObserver()
    async with MiniAgents(observers=[observer]) as mini_agents:
        assert not mini_agents.records_calls
        await shout_agent.trigger("no records")
        await mini_agents.aflush_tasks()
    assert kinds(observer.events, 1)[-1] == CallFinished.__name__
    assert not any(isinstance(event, CallRecorded) for event in observer.events)


async def test_on_persist_message_may_be_none_for_an_instance_that_needs_no_records() -> None:
    class MaybeRecording(ThirdPartyObserver):
        def __init__(self, records: bool) -> None:
            super().__init__()
            self.records = records

        @property
        def on_persist_message(self) -> Any:  # type: ignore[override]
            return self.messages.append if self.records else None

    async with MiniAgents(observers=[MaybeRecording(records=False)]) as mini_agents:
        assert not mini_agents.records_calls
        mini_agents.attach(MaybeRecording(records=True))
        assert mini_agents.records_calls


async def test_handlers_and_observers_get_only_the_kinds_of_events_they_ask_for() -> None:
    class CallsOnly(EventsOnlyObserver):
        call_event_types = (CallInitiated, CallFinished)

    def finished_only(event: AgentCallEvent) -> None:
        finished.append(event)

    finished: list[AgentCallEvent] = []
    finished_only.call_event_types = CallFinished  # type: ignore[attr-defined] # one class will do
    observer, everything = CallsOnly(), EventsOnlyObserver()
    async with MiniAgents(observers=[observer, everything], on_call_event=finished_only):
        replies = await relay_agent.trigger("quiet")
    assert [str(reply) for reply in replies] == ["relaying", "QUIET"]
    for call_id in (1, 2):
        assert kinds(observer.events, call_id) == [CallInitiated.__name__, CallFinished.__name__]
        assert kinds(finished, call_id) == [CallFinished.__name__]
    # the observer that asked for nothing in particular still gets everything, per-message events included
    assert {type(event) for event in everything.events} >= {
        CallInitiated,
        CallStarted,
        InputMessageAppeared,
        ReplyMessageAppeared,
        CallFinished,
    }
    # a call's end carries its whole reply sequence: no need to follow every message to read the replies
    relay_end = next(event for event in finished if event.call_id == 1)
    assert isinstance(relay_end, CallFinished) and relay_end.reply_count == 2
    assert [str(promise.result()) for promise in relay_end.replies.pieces_so_far] == ["relaying", "QUIET"]


async def test_a_malformed_call_event_types_is_refused_where_it_is_written() -> None:
    class Confused(EventsOnlyObserver):
        call_event_types = ("CallFinished",)

    def handler(event: AgentCallEvent) -> None: ...

    handler.call_event_types = (CallFinished, int)  # type: ignore[attr-defined]
    mini_agents = MiniAgents()
    with pytest.raises(TypeError, match=r"`call_event_types` of .* must be a tuple of lifecycle event classes"):
        mini_agents.attach(Confused())
    with pytest.raises(TypeError, match=r"must be a tuple of lifecycle event classes"):
        mini_agents.on_call_event(handler)
    with pytest.raises(TypeError, match=r"must be a tuple of lifecycle event classes"):
        MiniAgents(on_call_event=handler)
    assert mini_agents.call_event_handlers == [] and mini_agents.observers == ()


def test_attach_refuses_what_is_not_an_observer_and_says_what_is_missing() -> None:
    mini_agents = MiniAgents()
    with pytest.raises(
        TypeError, match=r"got function without on_call_event, aflush, aclose; for a single function, use"
    ):
        mini_agents.attach(lambda event: None)  # type: ignore[arg-type]
    assert mini_agents.call_event_handlers == [] and mini_agents.observers == ()


async def test_attach_leaves_a_handler_that_was_subscribed_already_and_detach_leaves_it_too() -> None:
    history = InMemoryHistory()
    mini_agents = MiniAgents(on_persist_messages=history.persist, on_call_event=history.handle_event)
    mini_agents.attach(history)
    assert mini_agents.call_event_handlers == [history.on_call_event]
    assert mini_agents.on_persist_messages_handlers == [history.on_persist_message]
    mini_agents.detach(history)
    assert mini_agents.call_event_handlers == [history.handle_event]
    assert mini_agents.on_persist_messages_handlers == [history.persist]


async def test_a_failing_observer_never_breaks_the_agents(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(EventsOnlyObserver):
        def on_call_event(self, event: AgentCallEvent) -> None:
            raise RuntimeError("observer bug")

        async def aflush(self) -> None:
            raise RuntimeError("cannot flush")

    healthy = ThirdPartyObserver()
    with caplog.at_level(logging.ERROR):
        async with MiniAgents(observers=[Broken(), healthy]):
            assert [str(reply) for reply in await relay_agent.trigger("still")] == ["relaying", "STILL"]
    assert healthy.flushes == 1 and kinds(healthy.events, 1)[-1] == CallRecorded.__name__
    assert "An on_call_event handler failed" in caplog.text
    assert "Flushing the observer" in caplog.text and "cannot flush" in caplog.text


def test_run_flushes_the_observers_too() -> None:
    observer = ThirdPartyObserver()
    replies = MiniAgents(observers=[observer]).run_agent(shout_agent, "sync")
    assert [str(reply) for reply in replies] == ["SYNC"]
    assert observer.flushes == 1 and kinds(observer.events, 1)[-1] == CallRecorded.__name__


# --- removing plain handlers -------------------------------------------------------------------------------------


async def test_both_kinds_of_handlers_can_be_removed() -> None:
    events: list[AgentCallEvent] = []
    messages: list[Message] = []

    def on_event(event: AgentCallEvent) -> None:
        events.append(event)

    def on_message(_promise: Any, message: Message) -> None:
        messages.append(message)

    async with MiniAgents(on_call_event=on_event) as mini_agents:
        assert mini_agents.on_persist_messages(on_message) is on_message  # the decorator form
        assert mini_agents.records_calls
        await shout_agent.trigger("first")
        await mini_agents.aflush_tasks()
        assert any(isinstance(message, AgentCallNode) for message in messages)
        seen_events, seen_messages = len(events), len(messages)

        mini_agents.remove_call_event_handler(on_event)
        mini_agents.remove_persist_messages_handler(on_message)
        assert mini_agents.call_event_handlers == [] and mini_agents.on_persist_messages_handlers == []
        assert not mini_agents.records_calls  # no one listens: no records are built any more
        await shout_agent.trigger("second")
        await mini_agents.aflush_tasks()
    assert (len(events), len(messages)) == (seen_events, seen_messages)

    mini_agents.remove_call_event_handler(on_event)  # removing what is not subscribed is no error
    mini_agents.remove_persist_messages_handler(on_message)


# --- the consumers use the protocol ------------------------------------------------------------------------------


async def test_the_store_attaches_an_observer_and_is_flushed_when_the_block_ends(tmp_path: Path) -> None:
    store = SQLiteMessageStore(tmp_path / "history.db")
    try:
        async with MiniAgents() as mini_agents:
            session_id = store.attach(mini_agents, label="observed")
            (recorder,) = mini_agents.observers
            assert isinstance(recorder, MiniAgentsObserver) and recorder.session_id == session_id
            assert mini_agents.on_persist_messages_handlers == [store.persist]
            await relay_agent.trigger("stored")
        # no `store.aflush()`: the context flushed its observers when it finalized
        assert [run.agent_alias for run in store.runs()] == ["relay_agent"]
        assert [str(reply) for reply in store.replies_of(store.runs()[0])] == ["relaying", "STORED"]
        with SQLiteHistory(store) as history:
            assert isinstance(history, HistorySource)
            assert [call.agent_alias for call in history.list_calls()] == ["relay_agent", "shout_agent"]

        store.detach(mini_agents)
        assert mini_agents.observers == ()
        assert mini_agents.call_event_handlers == [] and mini_agents.on_persist_messages_handlers == []
        await recorder.aclose()  # closes nothing of the store: other sessions may share it
        assert len(store) > 0
    finally:
        await store.aclose()


async def test_closing_the_store_detaches_its_observers(tmp_path: Path) -> None:
    store = SQLiteMessageStore(tmp_path / "history.db")
    first, second = MiniAgents(), MiniAgents()
    store.attach(first)
    store.attach(second)
    await store.aclose()
    assert first.observers == second.observers == ()
    assert first.on_persist_messages_handlers == second.on_persist_messages_handlers == []


async def test_a_trace_is_attached_while_it_follows_calls_and_detaches_itself() -> None:
    async with MiniAgents() as mini_agents:
        with trace() as traced:
            assert mini_agents.observers == (traced,)
            assert isinstance(traced, MiniAgentsObserver)
            assert mini_agents.records_calls  # it collects records
            replies = relay_agent.trigger("traced")
        assert mini_agents.observers == (traced,)  # stopped, but its calls are not over yet
        await replies
        await mini_agents.aflush_tasks()
        assert traced.is_finished and mini_agents.observers == ()
        assert traced.to_text() == "relay_agent [done]\n└─ shout_agent [done]"

        with trace(record_history=False) as without_records:
            assert not mini_agents.records_calls  # no records are built for it
            await shout_agent.trigger("quick")
        await mini_agents.aflush_tasks()
        assert without_records.is_finished and mini_agents.observers == ()


async def test_closing_a_trace_detaches_it_at_once() -> None:
    gate = asyncio.Event()

    @miniagent
    async def waiting_agent(ctx: InteractionContext) -> None:
        await gate.wait()
        ctx.reply("late")

    async with MiniAgents() as mini_agents:
        traced = Trace(all_calls=True).start()
        replies = waiting_agent.trigger()
        await asyncio.sleep(0.01)
        await traced.aflush()
        await traced.aclose()
        assert not traced.is_recording and mini_agents.observers == ()
        assert mini_agents.call_event_handlers == [] and mini_agents.on_persist_messages_handlers == []
        gate.set()
        assert [str(reply) for reply in await replies] == ["late"]
    assert traced.to_text() == "waiting_agent [running]"  # what it saw until it was closed


async def test_the_notebook_session_attaches_its_history_as_an_observer() -> None:
    session = NotebookSession()
    try:
        first_history = session.history
        # the history, how its calls ended, and what tells which cell started which call (so that an interrupt
        # cancels that cell's calls)
        assert session.mini_agents.observers == (first_history, session.call_outcomes, session.cell_calls)
        await shout_agent.trigger("in the session")
        await session.mini_agents.aflush_tasks()
        assert [call.agent_alias for call in first_history.list_calls()] == ["shout_agent"]

        session.reset()
        assert session.history is not first_history
        assert session.mini_agents.observers == (session.history, session.call_outcomes, session.cell_calls)
    finally:
        session.close()
        await asyncio.gather(*session_module._finalizing)


# --- history lives in the core -----------------------------------------------------------------------------------


def test_history_sources_live_in_the_core_and_the_notebook_reexports_them() -> None:
    assert miniagents_notebook.InMemoryHistory is InMemoryHistory
    assert miniagents_notebook.HistorySource is HistorySource
    assert isinstance(InMemoryHistory(), HistorySource) and isinstance(InMemoryHistory(), MiniAgentsObserver)
    code = (
        "import sys, miniagents.history, miniagents.observers\n"
        "assert not [name for name in sys.modules if name.split('.')[0] in ('miniagents_notebook', 'IPython')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
