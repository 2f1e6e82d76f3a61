"""`SQLiteMessageStore`: round trips, idempotency, concurrent writers, queries, class lookup, errors, the benchmark."""

import asyncio
import json
import logging
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from miniagents import (
    AgentCallNode,
    AgentReplyNode,
    CallRecorded,
    ErrorMessage,
    InteractionContext,
    Message,
    MiniAgents,
    TextMessage,
    miniagent,
)
from miniagents.ext.persistence import (
    AmbiguousCallError,
    CallRecord,
    MessageNotFoundError,
    SQLiteMessageStore,
    StoreClosedError,
    StoreError,
    StoreWriteError,
    register_message_class,
)
from miniagents.promising.ext.frozen import Frozen

REPO_ROOT = Path(__file__).resolve().parent.parent


class PersistedPoint(BaseModel):
    x: int
    y: float


class ForecastMessage(TextMessage):
    """A user subclass with declared fields, defined at module level."""

    city: str
    temperature: float = 0.0


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteMessageStore]:
    database = tmp_path / "history.db" if request.param == "file" else ":memory:"
    with SQLiteMessageStore(database) as opened:
        yield opened


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[SQLiteMessageStore]:
    with SQLiteMessageStore(tmp_path / "history.db") as opened:
        yield opened


def _rich_message() -> Message:
    inner = TextMessage("inner", lang="en")
    return Message(
        text_field="héllo ✓ 日本語",
        integer=42,
        big=2**62,
        negative=-7,
        real=3.25,
        tiny=1e-300,
        flag=True,
        off=False,
        nothing=None,
        numbers=(1, 2.5, "three", None, (4, (5,))),
        empty=(),
        config={"model": "x", "nested": {"depth": 2, "values": [1, 2]}, "source": inner},
        point=PersistedPoint(x=1, y=2.5),
        single=inner,
        pair=(TextMessage("a"), TextMessage("b")),
        mixed=(TextMessage("inline in a mixed tuple"), 7, {"deep": TextMessage("deeper")}),
        frozen_items=({"k": 1}, {"k": 2}),
        forecast=ForecastMessage("sunny", city="Paris", temperature=21.5),
        error=ErrorMessage.from_error(ValueError("bad")),
        looks_like_a_reference__hash_key="not a reference",
    )


# --- round trips -------------------------------------------------------------------------------------------------


async def test_every_frozen_field_type_round_trips(store: SQLiteMessageStore) -> None:
    message = _rich_message()
    store.save(message)
    await store.aflush()

    loaded = store.load(message.hash_key)

    assert loaded == message
    assert loaded.hash_key == message.hash_key
    assert loaded.serialized == message.serialized
    assert type(loaded) is Message
    assert type(loaded.single) is TextMessage and loaded.single.lang == "en"
    assert [type(item) for item in loaded.pair] == [TextMessage, TextMessage]
    assert type(loaded.config) is Frozen and loaded.config.nested["values"] == (1, 2)
    assert type(loaded.config.source) is TextMessage
    assert type(loaded.mixed[0]) is TextMessage and loaded.mixed[1] == 7
    assert type(loaded.mixed[2]["deep"]) is TextMessage
    assert loaded.numbers == (1, 2.5, "three", None, (4, (5,)))
    assert isinstance(loaded.real, float) and isinstance(loaded.integer, int) and loaded.flag is True
    assert loaded.big == 2**62 and loaded.tiny == 1e-300 and loaded.nothing is None and loaded.empty == ()
    assert type(loaded.forecast) is ForecastMessage and loaded.forecast.temperature == 21.5
    assert type(loaded.error) is ErrorMessage and loaded.error.error_class == "ValueError"
    assert loaded.looks_like_a_reference__hash_key == "not a reference"
    for nested in message.sub_messages():
        assert store.load(nested.hash_key) == nested


async def test_references_name_where_each_nested_message_sits(store: SQLiteMessageStore) -> None:
    message = _rich_message()
    store.save(message)
    await store.aflush()

    references = {(reference.field_path, reference.position) for reference in store.references_of(message)}

    assert references == {
        ("config.source", 0),
        ("single", 0),
        ("pair", 0),
        ("pair", 1),
        ("mixed[2].deep", 0),
        ("forecast", 0),
        ("error", 0),
    }
    assert {reference.parent_hash_key for reference in store.referenced_by(message.single)} == {message.hash_key}


async def test_messages_persisted_by_agents_and_their_records_round_trip(store: SQLiteMessageStore) -> None:
    recorded: list[CallRecorded] = []

    @miniagent(interaction_metadata={"model": "offline"})
    async def helper(ctx: InteractionContext, topic: str, options: dict[str, Any]) -> None:
        ctx.reply(Message(about=topic, options=options, source=await ctx.message_promises.as_single_promise()))

    @miniagent
    async def coordinator(ctx: InteractionContext) -> None:
        ctx.reply(helper.trigger(ctx.message_promises, topic="tides", options={"depth": 2, "tags": ["a", "b"]}))
        ctx.reply(TextMessage("done", score=0.5))

    async with MiniAgents(
        on_persist_messages=[store.persist],
        on_call_event=lambda event: recorded.append(event) if isinstance(event, CallRecorded) else None,
    ):
        replies = await coordinator.trigger(["question one", TextMessage("question two")])
    await store.aflush()

    assert len(recorded) == 2
    for event in recorded:
        reply_node = store.load(event.reply_node.hash_key)
        call_node = store.load(event.call_node.hash_key)
        assert type(reply_node) is AgentReplyNode and type(call_node) is AgentCallNode
        assert reply_node == event.reply_node and reply_node.hash_key == event.reply_node.hash_key
        assert call_node == event.call_node and reply_node.agent_call == call_node
    helper_call = next(event.call_node for event in recorded if event.call_node.agent_alias == "helper")
    assert store.load(helper_call.hash_key).options.tags == ("a", "b")
    assert store.load(helper_call.hash_key).model == "offline"
    assert store.load_many(reply.hash_key for reply in replies) == replies


async def test_a_long_chain_of_references_loads_without_recursion(file_store: SQLiteMessageStore) -> None:
    message = TextMessage("link 0")
    file_store.persist(None, message)
    for index in range(1, 3000):
        message = TextMessage(f"link {index}", previous=message)
        file_store.persist(None, message)
    await file_store.aflush()

    loaded = file_store.load(message.hash_key)

    assert loaded.hash_key == message.hash_key
    assert str(loaded.previous.previous) == "link 2997"


# --- idempotency -------------------------------------------------------------------------------------------------


async def test_persisting_the_same_message_twice_stores_it_once(store: SQLiteMessageStore) -> None:
    message = _rich_message()
    store.save(message)
    await store.aflush()
    count = len(store)
    first = store.get_stored(message)
    references = store.references_of(message)

    store.save(message)
    store.persist(None, message)
    store.save(Message(**message.frozen_fields_and_values()))  # an equal copy
    await store.aflush()

    assert len(store) == count == len({nested.hash_key for nested in message.sub_messages()}) + 1
    assert store.get_stored(message) == first
    assert store.references_of(message) == references
    assert len(store.messages(class_name="Message")) == 1


async def test_identical_runs_store_their_messages_and_records_once(store: SQLiteMessageStore) -> None:
    @miniagent
    async def echo(ctx: InteractionContext) -> None:
        ctx.reply(f"echo: {await ctx.message_promises.as_single_text_promise()}")

    for _ in range(2):
        async with MiniAgents(on_persist_messages=[store.persist]):
            await echo.trigger("same input")
        await store.aflush()
        count = len(store)

    assert count == len(store) == 4  # input, reply, call node, reply node
    assert [stored.kind for stored in store.messages()] == ["message", "message", "call", "reply"]


# --- concurrency -------------------------------------------------------------------------------------------------


async def test_fifty_agents_persist_through_one_store_at_once(store: SQLiteMessageStore) -> None:
    agents_count, replies_per_agent = 50, 20
    order: list[tuple[str, int]] = []
    all_started = asyncio.Event()

    @miniagent
    async def worker(ctx: InteractionContext, index: int) -> None:
        order.append(("started", index))
        if len(order) == agents_count:
            all_started.set()
        await all_started.wait()
        for number in range(replies_per_agent):
            ctx.reply(f"worker {index} message {number}")
            await asyncio.sleep(0)  # let the other workers reply in between
        order.append(("finished", index))

    async with MiniAgents() as mini_agents:
        store.attach(mini_agents)
        await asyncio.gather(*(worker.trigger(index=index) for index in range(agents_count)))
    await store.aflush()

    assert {event for event, _ in order[:agents_count]} == {"started"}  # all of them were running at once
    calls = store.calls(agent_alias="worker")
    assert len(calls) == agents_count
    for call in calls:
        index = store.load(call.call_node_hash_key).index
        assert [str(reply) for reply in store.replies_of(call)] == [
            f"worker {index} message {number}" for number in range(replies_per_agent)
        ]
    assert len(store.messages(kind="reply")) == agents_count
    assert len(store.messages(kind="message")) == agents_count * replies_per_agent


def test_threads_save_through_one_store_at_once(store: SQLiteMessageStore) -> None:
    threads_count, messages_per_thread = 8, 250
    barrier = threading.Barrier(threads_count)

    def save_many(thread_index: int) -> None:
        barrier.wait(timeout=10)
        for number in range(messages_per_thread):
            store.save(TextMessage(f"thread {thread_index} message {number}", thread=thread_index))

    threads = [threading.Thread(target=save_many, args=(index,)) for index in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    store.flush(timeout=30)

    assert len(store) == threads_count * messages_per_thread
    assert len(store.search("thread 3 message")) == messages_per_thread


def test_two_stores_on_one_file_write_at_once(tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    stores = [SQLiteMessageStore(database, max_batch=20) for _ in range(2)]
    barrier = threading.Barrier(len(stores))
    per_store = 300

    def write(store_index: int) -> None:
        store = stores[store_index]
        barrier.wait(timeout=10)
        for number in range(per_store):
            store.save(TextMessage(f"store {store_index} message {number}"))
            if number % 25 == 0:
                store.flush(timeout=30)  # many small transactions, interleaved with the other store's
        store.flush(timeout=30)

    try:
        threads = [threading.Thread(target=write, args=(index,)) for index in range(len(stores))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for store in stores:
            assert len(store) == 2 * per_store
            assert len(store.search("store 1 message")) == per_store
    finally:
        for store in stores:
            store.close()
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_two_sessions_record_into_one_file_from_two_stores(tmp_path: Path) -> None:
    database = tmp_path / "shared.db"

    @miniagent
    async def greeter(ctx: InteractionContext, name: str) -> None:
        ctx.reply(f"hello {name}")

    async def session(store: SQLiteMessageStore, name: str) -> str:
        async with MiniAgents() as mini_agents:
            session_id = store.attach(mini_agents, label=name)
            await greeter.trigger(name=name)
        return session_id

    async with SQLiteMessageStore(database) as first, SQLiteMessageStore(database) as second:
        session_ids = await asyncio.gather(session(first, "ann"), session(second, "bob"))
        await first.aflush()
        await second.aflush()
        for store in (first, second):
            assert {session.label for session in store.sessions()} == {"ann", "bob"}
            runs = {run.session_id: run for run in store.runs()}
            assert set(runs) == set(session_ids)
            assert str(store.replies_of(runs[session_ids[1]])[0]) == "hello bob"


# --- writes never wait in the event loop -------------------------------------------------------------------------


async def test_persist_only_queues_and_aflush_waits_without_blocking(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    async with SQLiteMessageStore(database) as store:
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock: the writer thread has to wait for it
        try:
            for number in range(100):
                store.persist(None, TextMessage(f"queued {number}"))  # returns although nothing can be written
            flushing = asyncio.ensure_future(store.aflush())
            ticks = 0
            while ticks < 20:  # the loop keeps running while the flush waits
                await asyncio.sleep(0)
                ticks += 1
            assert not flushing.done()
            assert len(store) == 0
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await flushing
        assert len(store) == 100


async def test_a_failed_write_is_reported_by_the_next_flush(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    async with SQLiteMessageStore(database, busy_timeout=0.05) as store:
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            store.persist(None, TextMessage("lost"))
            with pytest.raises(StoreWriteError, match="database is locked"):
                await store.aflush()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        store.persist(None, TextMessage("kept"))
        await store.aflush()  # the store keeps working, and the error was reported once
        assert [stored.text for stored in store.messages()] == ["kept"]


# --- queries -----------------------------------------------------------------------------------------------------


@miniagent
async def _leaf(ctx: InteractionContext) -> None:
    ctx.reply(f"leaf saw: {await ctx.message_promises.as_single_text_promise()}")


@miniagent
async def _branch(ctx: InteractionContext) -> None:
    ctx.reply(_leaf.trigger(ctx.message_promises))


@miniagent
async def _failing(ctx: InteractionContext) -> None:
    raise ValueError("boom")


@miniagent
async def _root(ctx: InteractionContext) -> None:
    ctx.reply(_branch.trigger("to the branch"))
    ctx.reply(_leaf.trigger("directly"))
    ctx.reply(_failing.trigger())


async def test_the_call_tree_is_queried_through_call_records(store: SQLiteMessageStore) -> None:
    async with MiniAgents(errors_as_messages=True) as mini_agents:
        session_id = store.attach(mini_agents, label="tree")
        await _root.trigger("start")
    await store.aflush()

    (run,) = store.runs()
    assert run.agent_alias == "_root" and run.session_id == session_id and run.parent_call_id is None
    assert [call.agent_alias for call in store.sub_calls(run)] == ["_branch", "_leaf", "_failing"]
    branch, direct_leaf, failing = store.sub_calls(run)
    (nested_leaf,) = store.sub_calls(branch)
    assert nested_leaf.agent_alias == "_leaf" and store.parent_call(nested_leaf) == branch
    assert store.parent_call(run) is None
    assert store.sub_calls(direct_leaf) == []
    assert failing.error == "ValueError: boom"
    for call in store.calls():
        assert call.initiated_at <= call.started_at <= call.finished_at
    assert [str(message) for message in store.input_of(nested_leaf)] == ["to the branch"]
    assert [str(message) for message in store.replies_of(nested_leaf)] == ["leaf saw: to the branch"]
    assert [str(message) for message in store.replies_of(run)][:2] == ["leaf saw: to the branch", "leaf saw: directly"]
    assert store.replies_of(run.reply_node_hash_key) == store.replies_of(run)
    assert store.replies_of(store.load(run.call_node_hash_key)) == store.replies_of(run)
    assert [str(message) for message in store.input_of(run.reply_node_hash_key)] == ["start"]
    assert store.calls_of(run.reply_node_hash_key) == [run]
    assert [session.label for session in store.sessions()] == ["tree"]
    assert len(store.calls(agent_alias="_leaf")) == 2
    assert len(store.calls(session_id="another")) == 0


async def test_calls_and_records_are_filtered_by_agent_and_time(store: SQLiteMessageStore) -> None:
    async with MiniAgents() as mini_agents:
        store.attach(mini_agents)
        await _leaf.trigger("first")
        await store.aflush()
        await _branch.trigger("second")
    await store.aflush()

    first_run, second_run = store.runs()
    assert first_run.initiated_at < second_run.initiated_at
    assert store.runs(since=second_run.initiated_at) == [second_run]
    assert store.runs(until=first_run.initiated_at) == [first_run]
    assert store.runs(newest_first=True, limit=1) == [second_run]
    assert store.runs(agent_alias="_branch") == [second_run]
    reply_nodes = store.messages(kind="reply", agent_alias="_leaf")
    assert [node.hash_key for node in reply_nodes] == [
        first_run.reply_node_hash_key,
        store.sub_calls(second_run)[0].reply_node_hash_key,
    ]
    first_node = store.get_stored(first_run.reply_node_hash_key)
    assert store.messages(kind="reply", until=first_node.persisted_at) == [first_node]
    since = datetime.fromtimestamp(first_node.persisted_at - 0.001)
    assert first_node in store.messages(kind="reply", since=since)


@pytest.mark.parametrize("full_text_search", [True, False])
async def test_text_search_finds_substrings_ignoring_case(tmp_path: Path, full_text_search: bool) -> None:
    texts = [
        "The capital of France is Paris",
        "paris, in lower case",
        "100% sure",
        "snake_case name",
        'a "quoted" word',
        "日本語のテキスト",
    ]
    async with SQLiteMessageStore(tmp_path / "history.db", full_text_search=full_text_search) as store:
        for text in texts:
            store.save(TextMessage(text))
        store.save(Message(payload={"city": "Paris"}))  # text of a message without text: its JSON in a ```json block
        await store.aflush()

        def found(query: str) -> list[str | None]:
            return [stored.text for stored in store.search(query)]

        assert found("PARIS") == [
            texts[0],
            texts[1],
            '```json\n{"class_":"Message","payload":{"class_":"Frozen","city":"Paris"}}\n```',
        ]
        assert found("0%") == ["100% sure"]
        assert found("e_c") == ["snake_case name"]
        assert found('"quoted"') == ['a "quoted" word']
        assert found("本語") == found("日本語") == ["日本語のテキスト"]
        assert found("absent") == []
        assert found("paris") == found("Paris")
        assert store.search("Paris", limit=1, newest_first=True)[0].class_name == "Message"
    with sqlite3.connect(tmp_path / "history.db") as connection:
        index = connection.execute("SELECT name FROM sqlite_master WHERE name = 'messages_text'").fetchall()
    assert bool(index) is full_text_search


async def test_records_have_no_text_and_are_found_through_their_messages(store: SQLiteMessageStore) -> None:
    async with MiniAgents(on_persist_messages=[store.persist]):
        await _leaf.trigger("needle")
    await store.aflush()

    assert {stored.kind for stored in store.search("needle")} == {"message"}
    (call_node,) = store.messages(kind="call")
    assert call_node.text is None and call_node.agent_alias == "_leaf"
    (input_message,) = [stored for stored in store.search("needle") if stored.text == "needle"]
    assert {reference.parent_hash_key for reference in store.referenced_by(input_message.hash_key)} == {
        call_node.hash_key
    }


async def test_a_call_answered_twice_is_ambiguous_by_its_call_node(store: SQLiteMessageStore) -> None:
    answers = iter(["first answer", "second answer"])

    @miniagent
    async def changing(ctx: InteractionContext) -> None:
        ctx.reply(next(answers))

    async with MiniAgents() as mini_agents:
        store.attach(mini_agents)
        await changing.trigger("same question")
        await changing.trigger("same question")
    await store.aflush()

    first, second = store.calls()
    assert first.call_node_hash_key == second.call_node_hash_key
    assert len(store.reply_nodes_of(first.call_node_hash_key)) == 2
    with pytest.raises(AmbiguousCallError, match="answered 2 times"):
        store.replies_of(first.call_node_hash_key)
    assert [str(message) for message in store.replies_of(second)] == ["second answer"]
    assert store.calls_of(first.call_node_hash_key) == [first, second]
    with pytest.raises(TypeError, match="not a call record"):
        store.replies_of(store.input_of(first)[0])


# --- finding classes again ---------------------------------------------------------------------------------------


def test_classes_are_imported_by_module_path_or_stood_in_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    module_name = f"stored_models_{uuid.uuid4().hex}"
    (tmp_path / f"{module_name}.py").write_text(
        "from miniagents import TextMessage\n\n\nclass Weather(TextMessage):\n    city: str\n    temperature: float\n"
    )
    database = tmp_path / "history.db"
    writer_code = f"""
import json, sys
sys.path.insert(0, {str(tmp_path)!r})
from {module_name} import Weather
from miniagents import Frozen, Message
from miniagents.ext.persistence import SQLiteMessageStore

class Vanished(Message):
    note: str = "declared default"

class Gadget(Frozen):
    size: int

vanished = Vanished(tags=["a"], part=Gadget(size=3))
message = Message(forecast=Weather("sunny", city="Paris", temperature=21.5), extra=vanished)
with SQLiteMessageStore({str(database)!r}) as store:
    store.save(message)
print(json.dumps({{"hash_key": message.hash_key, "extra": message.extra.hash_key}}))
"""
    written = subprocess.run(
        [sys.executable, "-c", writer_code], capture_output=True, text=True, timeout=60, check=True
    )
    hash_keys = json.loads(written.stdout)
    assert module_name not in sys.modules
    monkeypatch.syspath_prepend(str(tmp_path))

    with SQLiteMessageStore(database) as store, caplog.at_level(logging.WARNING):
        loaded = store.load(hash_keys["hash_key"])

    weather_class = sys.modules[module_name].Weather
    assert type(loaded.forecast) is weather_class
    assert loaded.forecast == weather_class("sunny", city="Paris", temperature=21.5)
    stand_in = type(loaded.extra)
    assert stand_in.__name__ == "Vanished" and isinstance(loaded.extra, Message)
    assert stand_in.__stand_in_for__ == "__main__:Vanished"
    assert loaded.extra.note == "declared default" and loaded.extra.tags == ("a",)
    assert type(loaded.extra.part).__name__ == "Gadget" and not isinstance(loaded.extra.part, Message)
    assert loaded.extra.part["size"] == 3
    assert loaded.extra.hash_key == hash_keys["extra"] and loaded.hash_key == hash_keys["hash_key"]
    assert "__main__:Vanished" in caplog.text


async def test_registered_and_locally_defined_classes_are_found(store: SQLiteMessageStore) -> None:
    class LocalNote(Message):
        pass

    @register_message_class
    class RegisteredNote(TextMessage):
        priority: int = 0

    message = Message(local=LocalNote(body="x"), registered=RegisteredNote("y", priority=2))
    store.save(message)
    await store.aflush()

    loaded = store.load(message.hash_key)
    assert type(loaded.local) is LocalNote and type(loaded.registered) is RegisteredNote
    assert loaded == message
    assert register_message_class(RegisteredNote) is RegisteredNote  # registering again is harmless

    class RegisteredNote(TextMessage):  # a different class under a registered name
        pass

    RegisteredNote.__module__ = "somewhere.else"
    with pytest.raises(ValueError, match="Another class named 'RegisteredNote' is registered"):
        register_message_class(RegisteredNote)
    with pytest.raises(TypeError, match="expects a subclass of Message"):
        register_message_class(dict)  # type: ignore[type-var]


# --- errors ------------------------------------------------------------------------------------------------------


async def test_missing_messages_are_reported_with_how_to_fix_it(store: SQLiteMessageStore) -> None:
    with pytest.raises(MessageNotFoundError, match="No message with hash_key 'f00'"):
        store.load("f00")
    parent = Message(child=TextMessage("never stored on its own"))
    store.persist(None, parent)
    await store.aflush()
    with pytest.raises(MessageNotFoundError, match=r"field `child`.*store\.save\(message\)"):
        store.load(parent.hash_key)
    assert parent in store and parent.child not in store and "f00" not in store
    with pytest.raises(TypeError, match="stores Message objects"):
        store.persist(None, "just text")  # type: ignore[arg-type]
    with pytest.raises(MessageNotFoundError, match="has no records"):
        store.replies_of(CallRecord("s", 1, None, "a", 0.0, None, None, None, None, None))


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SQLiteMessageStore(tmp_path / "history.db")
    mini_agents = MiniAgents()
    store.attach(mini_agents)
    store.save(TextMessage("written before closing"))
    store.close()
    store.close()  # idempotent
    store.flush()

    assert mini_agents.call_event_handlers == [] and mini_agents.on_persist_messages_handlers == []
    with pytest.raises(StoreClosedError, match="is closed"):
        store.persist(None, TextMessage("too late"))
    with pytest.raises(StoreClosedError, match="is closed"):
        store.search("anything")
    with SQLiteMessageStore(tmp_path / "history.db") as reopened:
        assert [stored.text for stored in reopened.messages()] == ["written before closing"]


async def test_attach_adds_the_persist_handler_once_and_refuses_a_used_session_id(
    store: SQLiteMessageStore,
) -> None:
    mini_agents = MiniAgents(on_persist_messages=[store.persist])
    session_id = store.attach(mini_agents, session_id="notebook")
    assert store.attach(mini_agents) == session_id
    assert mini_agents.on_persist_messages_handlers == [store.persist]
    with pytest.raises(ValueError, match="Session 'notebook' exists already"):
        store.attach(MiniAgents(), session_id="notebook")
    store.detach(mini_agents)
    assert mini_agents.on_persist_messages_handlers == [store.persist]  # it was not added by attach
    assert mini_agents.call_event_handlers == []


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("just some text, long enough to have a header " * 20)
    with pytest.raises(StoreError, match=r"Cannot (open|prepare) .*notes\.txt.* as a SQLite message store"):
        SQLiteMessageStore(not_a_database)


# --- the benchmark -----------------------------------------------------------------------------------------------


def test_the_event_loop_benchmark_runs_at_small_scale(tmp_path: Path) -> None:
    script = REPO_ROOT / "benchmarks" / "bench_store_event_loop.py"
    completed = subprocess.run(
        [
            sys.executable,
            str(script),
            *("--messages", "300", "--calls", "200", "--json", "--database", str(tmp_path / "bench.db")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(completed.stdout)
    assert result["messages"] == 300
    assert set(result["scenarios"]) == {
        "persist_calls",
        "writer_draining",
        "agents_without_store",
        "agents_with_store",
        "calls_without_store",
        "calls_with_store",
    }
    for scenario in result["scenarios"].values():
        assert {"max_stall_ms", "p99_stall_ms", "seconds"} <= set(scenario)
    assert result["stored_messages"] >= 300
    calls = result["scenarios"]["calls_with_store"]
    assert calls["stored_calls"] == calls["calls"] == 200
    assert 0 < calls["peak_pending"] <= calls["max_pending"]
