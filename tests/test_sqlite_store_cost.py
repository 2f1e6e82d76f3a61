"""What the store does to stay cheap (issue 18) without losing anything: a message handed over again is queued once,
a call costs two writes, the text index is filled in batches when a search needs it (and a version 1 file is
converted), and a write error seen by the flush at the end of a `MiniAgents` block is raised by the owner's next
flush.

Speed itself is measured in `benchmarks/store_throughput.py`, not here.
"""

import asyncio
import logging
import sqlite3
import sys
import threading
from pathlib import Path

import pytest
from sqlite_helpers import back_to_version_2, write_lock_held

from miniagents import InteractionContext, Message, MiniAgents, TextMessage, miniagent
from miniagents.ext.persistence import SQLiteHistory, SQLiteMessageStore, StoreWriteError
from miniagents.ext.persistence.schema import SCHEMA_VERSION

pytestmark = pytest.mark.timeout(120)

BENCHMARKS = str(Path(__file__).resolve().parent.parent / "benchmarks")


@miniagent
async def _numbered(ctx: InteractionContext, number: int) -> None:
    ctx.reply(f"reply {number}")


# --- fewer writes --------------------------------------------------------------------------------------------------


async def test_a_message_handed_over_again_is_queued_once_unless_its_write_failed(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    async with SQLiteMessageStore(database, busy_timeout=0.05) as store:
        again = TextMessage("said twice")
        with write_lock_held(database):
            for _ in range(5):
                store.persist(None, again)
            store.persist(None, TextMessage("said once"))
            assert store.pending == 2  # queued (or being written): once each
            with pytest.raises(StoreWriteError, match="database is locked"):
                await store.aflush()
        assert len(store) == 0
        store.persist(None, again)  # its write failed: queued again
        assert store.pending == 1
        await store.aflush()
        assert [stored.text for stored in store.messages()] == ["said twice"]
        store.persist(None, again)  # committed already: nothing to queue
        assert store.pending == 0


class _Unprintable(Message):
    """A message whose text cannot be made: encoding it logs a warning, and notes in which thread it was encoded."""

    number: int

    def _as_string(self) -> str:
        _encoded_in_threads.append(threading.current_thread())
        raise RuntimeError("no text")


_encoded_in_threads: list[threading.Thread] = []


def test_a_message_is_encoded_by_persist_and_stored_once_when_handed_over_again_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`persist` encodes the message's rows in the caller's thread (the writer thread is left with SQLite, which runs
    without the GIL); a message handed over again after the store's memory of what it queued forgot it is encoded
    again, and stored once."""
    message = _Unprintable(number=1)
    with SQLiteMessageStore(tmp_path / "history.db") as store:
        _encoded_in_threads.clear()
        with caplog.at_level(logging.WARNING, logger="miniagents.ext.persistence.encoding"):
            store.persist(None, message)
            assert _encoded_in_threads == [threading.current_thread()]  # encoded by now, in this thread
            assert [record.getMessage() for record in caplog.records] == [
                "str() failed for a _Unprintable; it is stored without searchable text"
            ]
        for number in range(10_000):  # the store's memory of what it queued forgets `message`
            store.persist(None, TextMessage(f"in between {number}"))
        store.flush()
        store.persist(None, message)
        assert store.pending == 1  # queued again
        assert len(_encoded_in_threads) == 2  # and encoded again
        store.flush()
        assert store.load(message.hash_key) == message
        assert len(store) == 10_001


class _BrokenGet(Message):
    """A message class whose `get` override fails: its rows cannot be made."""

    number: int

    def get(self, field: str, default: object = None) -> object:
        raise RuntimeError("broken get")


def test_a_message_that_cannot_be_encoded_is_reported_by_the_next_flush_and_loses_no_other(tmp_path: Path) -> None:
    broken = _BrokenGet(number=1)
    with SQLiteMessageStore(tmp_path / "history.db") as store:
        store.persist(None, TextMessage("before"))
        store.persist(None, broken)
        store.persist(None, TextMessage("after"))
        with pytest.raises(StoreWriteError, match=rf"message {broken.hash_key} \(_BrokenGet\) could not be encoded"):
            store.flush()
        store.flush()  # reported once
        assert sorted(stored.text for stored in store.messages()) == ["after", "before"]


async def test_a_call_costs_two_writes_and_its_row_is_complete(tmp_path: Path) -> None:
    """One insert when the call is initiated, one update when it is recorded (start, end, error, records at once)."""
    database = tmp_path / "history.db"
    calls = 5
    async with SQLiteMessageStore(database) as store:
        async with MiniAgents() as mini_agents:
            store.attach(mini_agents)
            await store.aflush()  # the session's row
            with write_lock_held(database):
                for number in range(calls):
                    await _numbered.trigger(number=number)
                await mini_agents.aflush_tasks()  # the records are built in tasks of their own
                messages = 3 * calls  # per call: its reply, its call node, its reply node
                assert store.pending == messages + 2 * calls
        runs = store.runs()
        assert len(runs) == calls
        for run in runs:
            assert run.started_at is not None and run.finished_at is not None
            assert run.initiated_at <= run.started_at <= run.finished_at
            assert run.error is None
            assert run.call_node_hash_key is not None and run.reply_node_hash_key is not None
        assert [str(store.replies_of(run)[0]) for run in runs] == [f"reply {number}" for number in range(calls)]

        # a call's times wait in memory for its records; detaching (like the block's flush) writes what is known
        started, release = asyncio.Event(), asyncio.Event()

        @miniagent
        async def waiting(ctx: InteractionContext) -> None:
            started.set()
            await release.wait()

        async with MiniAgents() as mini_agents:
            session_id = store.attach(mini_agents)
            replies = waiting.trigger()
            await started.wait()
            store.detach(mini_agents)  # while the call runs
            release.set()
            await replies
        await store.aflush()
        (detached,) = store.runs(session_id=session_id)
        assert detached.started_at is not None and detached.initiated_at <= detached.started_at
        assert detached.finished_at is None and detached.reply_node_hash_key is None  # after the store was detached


# --- the text index, filled in batches -------------------------------------------------------------------------------


def test_texts_are_indexed_when_a_search_needs_them_and_found_before(tmp_path: Path) -> None:
    """Neither a flush nor closing indexes (a run nobody searches does not pay for it); the store's search brings the
    index up to date first. Rows not indexed yet — committed by a writer killed before it indexed, or only browsed —
    are found all the same."""
    database = tmp_path / "history.db"

    def indexed(text: str) -> int:
        with sqlite3.connect(database) as connection:
            query = "SELECT count(*) FROM messages_text WHERE messages_text MATCH ?"
            return connection.execute(query, (f'"{text}"',)).fetchone()[0]

    with SQLiteMessageStore(database) as store:
        store.persist(None, TextMessage("committed needle"))
        store.flush()
        with sqlite3.connect(database) as connection:  # a writer that committed and never indexed
            connection.execute(
                "INSERT INTO messages (hash_key, class_name, class_path, kind, persisted_at, text, serialized) "
                "VALUES ('0123', 'TextMessage', 'miniagents.messages:TextMessage', 'message', 1.0, "
                "'unindexed NEEDLE', '{}')"
            )
        with SQLiteHistory(database) as history:
            assert len(history.list_calls(text="needle")) == 0  # no call holds them, but the query works
        assert indexed("needle") == 0
        assert sorted(found.text for found in store.search("needle")) == ["committed needle", "unindexed NEEDLE"]
        assert indexed("needle") == 2

        store.persist(None, TextMessage("one more"))  # not flushed: the search waits for it
        assert [found.text for found in store.search("MORE")] == ["one more"]
        assert indexed("one more") == 1
        store.persist(None, TextMessage("left for later"))
    assert indexed("later") == 0  # closing wrote it, and did not index it
    with SQLiteMessageStore(database) as reopened:
        assert [found.text for found in reopened.search("later")] == ["left for later"]
        assert indexed("later") == 1


def test_a_version_1_file_indexed_by_a_trigger_is_converted(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    with SQLiteMessageStore(database) as store:
        store.persist(None, TextMessage("written by version 1"))
        store.search("written")  # indexed, as the trigger of version 1 did
    back_to_version_2(database)
    with sqlite3.connect(database) as connection:  # back to how version 1 left a file: a trigger indexed each row
        connection.execute("DROP TABLE text_index_state")
        connection.execute(
            "CREATE TRIGGER messages_text_on_insert AFTER INSERT ON messages WHEN new.text IS NOT NULL BEGIN "
            "INSERT INTO messages_text (rowid, text) VALUES (new.id, new.text); END"
        )
        connection.execute("PRAGMA user_version = 1")
    with SQLiteMessageStore(database) as store:
        store.persist(None, TextMessage("written by version 2"))
        store.flush()
        assert sorted(found.text for found in store.search("written by")) == [
            "written by version 1",
            "written by version 2",
        ]
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() == []
        assert connection.execute("SELECT name FROM sqlite_master WHERE name = 'message_references'").fetchall() == []
        matches = connection.execute(
            "SELECT count(*) FROM messages_text WHERE messages_text MATCH '\"written by\"'"
        ).fetchone()
        assert matches == (2,)  # each row indexed once: the old one by the trigger, the new one in a batch


# --- errors --------------------------------------------------------------------------------------------------------


async def test_a_write_error_at_the_end_of_a_block_is_raised_by_the_next_flush(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    store = SQLiteMessageStore(database, busy_timeout=0.05)
    try:
        with write_lock_held(database):
            async with MiniAgents() as mini_agents:
                store.attach(mini_agents)
                await _numbered.trigger(number=7)
            # the block's flush of its observers saw the failure and only logged it
        with pytest.raises(StoreWriteError, match=f"Writing to {str(database)!r} failed.*database is locked"):
            await store.aflush()
        await store.aflush()  # raised once
    finally:
        store.close()


# --- the benchmark -------------------------------------------------------------------------------------------------


async def test_the_store_throughput_benchmark_runs_at_a_tiny_scale(tmp_path: Path) -> None:
    """Each side of `benchmarks/store_throughput.py` writes (and checks) what it should; nothing is timed here."""
    sys.path.insert(0, BENCHMARKS)
    try:
        import store_throughput
    finally:
        sys.path.remove(BENCHMARKS)

    messages = await store_throughput._collect_run_messages(5, 4, True)
    assert len(messages) == 5 * 4 + 2 * 6  # the replies, and a call node and a reply node per call
    for index_texts in ("every transaction", "at the end", "never"):
        store_throughput._raw_sqlite_seconds(str(tmp_path), messages, index_texts)  # checks the index
    store_throughput._store_seconds(str(tmp_path), messages)  # checks every message and the search
    for attached in ("nothing", "no-op", "store", "store, searched"):
        await store_throughput._fan_out_seconds(attached, str(tmp_path), 5, 3)
