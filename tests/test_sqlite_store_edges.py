"""`SQLiteMessageStore` under pressure and at its edges (issue 13).

- back-pressure: the write queue is bounded (`max_pending`), producers faster than the disk wait for room instead of
  piling up memory, `aflush` waits for a bounded backlog only, and `close()` gives the memory back;
- the file: an empty path, `~`, another application's database (refused before anything is written to it), a store
  in a read-only folder or in another journal mode (browsed read-only, left as it was);
- text with lone surrogates (half an emoji from a streamed chunk) is stored and loads back equal.
"""

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlite_helpers import write_lock_held

from miniagents import InteractionContext, MiniAgents, TextMessage, miniagent
from miniagents.ext.persistence import (
    SQLiteHistory,
    SQLiteMessageStore,
    StoreClosedError,
    StoreError,
)

pytestmark = pytest.mark.timeout(120)


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# --- back-pressure -------------------------------------------------------------------------------------------------


def test_a_full_queue_makes_producers_wait_and_the_backlog_stays_bounded(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    with SQLiteMessageStore(database, max_pending=50) as store:
        assert store.max_pending == 50
        queued = 0

        def produce() -> None:
            nonlocal queued
            for number in range(200):
                store.persist(None, TextMessage(f"message {number}"))
                queued += 1

        with write_lock_held(database):
            producer = threading.Thread(target=produce)
            producer.start()
            _wait_until(lambda: queued == 50)
            time.sleep(0.2)  # the writer cannot commit: the producer waits for room instead of queueing on
            assert queued == 50 and producer.is_alive()
            assert store.pending == 50
        producer.join(timeout=30)
        assert not producer.is_alive()
        store.flush()
        assert len(store) == 200
        assert store.pending == 0
        assert store.peak_pending == store.max_pending


async def test_agents_faster_than_the_disk_run_at_its_pace_without_deadlock(tmp_path: Path) -> None:
    """The event loop itself waits for room (never for anything needing the loop); everything ends up stored."""
    database = tmp_path / "history.db"
    calls = 300

    @miniagent
    async def chatty(ctx: InteractionContext, number: int) -> None:
        for part in ("a", "b", "c"):
            ctx.reply(f"{part} {number}")

    async with SQLiteMessageStore(database, max_pending=40) as store:
        with write_lock_held(database) as blocker:
            # released from another thread: the loop is stalled while the queue is full, so it cannot do it
            threading.Timer(0.3, blocker.execute, ("ROLLBACK",)).start()
            async with MiniAgents() as mini_agents:
                store.attach(mini_agents)
                for start in range(0, calls, 50):
                    await asyncio.gather(*(chatty.trigger(number=number) for number in range(start, start + 50)))
                    assert store.pending <= store.max_pending
        started = time.perf_counter()
        await store.aflush()
        flush_seconds = time.perf_counter() - started
        assert store.peak_pending == store.max_pending  # the bound was reached, and never exceeded
        assert len(store.runs()) == calls
        assert len(store.messages(kind="message")) == 3 * calls
        assert flush_seconds < 5  # at most `max_pending` operations were left to write


def test_closing_the_store_lets_waiting_producers_go(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    store = SQLiteMessageStore(database, max_pending=10)
    outcome: list[BaseException | None] = []

    def produce() -> None:
        try:
            for number in range(100):
                store.persist(None, TextMessage(f"message {number}"))
        except BaseException as error:
            outcome.append(error)
        else:
            outcome.append(None)

    with write_lock_held(database):
        producer = threading.Thread(target=produce)
        producer.start()
        _wait_until(lambda: store.pending == 10)
        closing = threading.Thread(target=store.close)
        closing.start()
        producer.join(timeout=10)  # let go at once, although nothing could be written yet
        assert not producer.is_alive()
        assert isinstance(outcome[0], StoreClosedError)
    closing.join(timeout=30)
    assert not closing.is_alive()
    with SQLiteMessageStore(database) as reopened:
        assert len(reopened) == 10  # what was queued before closing is written


_MEMORY_SCRIPT = """
import gc, sys
from miniagents import TextMessage
from miniagents.ext.persistence import SQLiteMessageStore

def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * {page_size} / 2**20

store = SQLiteMessageStore(sys.argv[1])
store.save(TextMessage("warm up"))
store.flush()
gc.collect()
before = peak = rss_mb()
for number in range({count}):
    store.persist(None, TextMessage(f"message {{number}}", number=number, padding="x" * 1000))
    if number % 500 == 0:
        peak = max(peak, rss_mb())
store.close()
gc.collect()
print(peak - before, rss_mb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident set size from /proc")
def test_memory_stays_bounded_while_writing_and_is_given_back_on_close(tmp_path: Path) -> None:
    """40,000 messages of 1 kB persisted faster than they can be written: 40+ MB if they all queued up."""
    script = _MEMORY_SCRIPT.format(count=40_000, page_size=os.sysconf("SC_PAGE_SIZE"))
    completed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "history.db")],
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    )
    peak_growth, growth_after_close = map(float, completed.stdout.split())
    assert peak_growth < 60, f"RSS grew by {peak_growth:.0f} MB while writing"
    assert growth_after_close < 30, f"RSS stayed {growth_after_close:.0f} MB above where it started after close()"


# --- the file ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_refused_with_a_clear_error(path: str) -> None:
    # SQLite would give the writer and the reader two different private temporary databases
    with pytest.raises(StoreError, match="needs the path of a file"):
        SQLiteMessageStore(path)


def test_a_path_starting_with_a_tilde_is_in_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    with SQLiteMessageStore("~/history.db") as store:
        assert store.database == str(home / "history.db")
        store.save(TextMessage("at home"))
    assert (home / "history.db").is_file()
    assert not (tmp_path / "~").exists()
    with SQLiteHistory("~/history.db") as history:
        assert history.database == str(home / "history.db")
    with SQLiteMessageStore(Path("~") / "history.db") as reopened:
        assert [stored.text for stored in reopened.messages()] == ["at home"]


def _foreign_database(path: Path, *tables: str) -> None:
    """A SQLite file of another application: its own tables, the default rollback journal."""
    with sqlite3.connect(path) as connection:
        for table in tables:
            connection.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")
            connection.execute(f"INSERT INTO {table} (body) VALUES ('precious')")
    connection.close()


def _journal_mode(path: Path) -> str:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return connection.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        connection.close()


@pytest.mark.parametrize("tables", [("users", "orders"), ("messages",)])
def test_another_applications_database_is_refused_and_left_untouched(tmp_path: Path, tables: tuple[str]) -> None:
    other = tmp_path / "app.db"
    _foreign_database(other, *tables)
    original = other.read_bytes()

    with pytest.raises(StoreError, match=rf"app\.db' is not a message store file .*{tables[0]}.*left untouched"):
        SQLiteMessageStore(other)
    with pytest.raises(StoreError, match=rf"app\.db' is not a message store file .*{tables[0]}"):
        SQLiteHistory(other)

    assert other.read_bytes() == original
    assert _journal_mode(other) == "delete"  # not switched to WAL
    assert sorted(path.name for path in tmp_path.iterdir()) == ["app.db"]  # no -wal / -shm files either


def _closed_store_file(database: Path) -> None:
    """A store file with one recorded call, closed (so it has no -wal / -shm files next to it)."""

    @miniagent
    async def greeter(ctx: InteractionContext) -> None:
        ctx.reply("hello")

    async def run() -> None:
        async with SQLiteMessageStore(database) as store, MiniAgents() as mini_agents:
            store.attach(mini_agents)
            await greeter.trigger()

    asyncio.run(run())
    assert sorted(path.name for path in database.parent.iterdir()) == [database.name]


def test_browsing_a_store_does_not_change_its_journal_mode(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    _closed_store_file(database)
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")  # e.g. a copy made by a backup tool
    connection.close()
    original = database.read_bytes()

    with SQLiteHistory(database) as history:
        assert [call.agent_alias for call in history.list_calls()] == ["greeter"]

    assert database.read_bytes() == original
    assert _journal_mode(database) == "delete"


_READ_ONLY_BROWSE = """
import os, sys
from miniagents.ext.persistence import SQLiteHistory
os.setgid(65534)
os.setuid(65534)  # from now on the folder cannot be written
with SQLiteHistory(sys.argv[1]) as history:
    print(",".join(call.agent_alias for call in history.list_calls()))
"""


def test_a_store_in_a_read_only_folder_can_be_browsed(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root may write anywhere: browse as `nobody` (modules imported first), from a folder `nobody` can reach
        folder = Path(tempfile.mkdtemp(prefix="read_only_store_"))
        try:
            folder.chmod(0o755)
            database = folder / "history.db"
            _closed_store_file(database)
            original = database.read_bytes()
            completed = subprocess.run(
                [sys.executable, "-c", _READ_ONLY_BROWSE, str(database)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert completed.returncode == 0, completed.stderr
            assert completed.stdout.strip() == "greeter"
            assert database.read_bytes() == original
            assert sorted(path.name for path in folder.iterdir()) == ["history.db"]
        finally:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
        return

    folder = tmp_path / "read_only"
    folder.mkdir()
    database = folder / "history.db"
    _closed_store_file(database)
    original = database.read_bytes()
    database.chmod(0o444)
    folder.chmod(0o555)
    try:
        with SQLiteHistory(database) as history:
            assert [call.agent_alias for call in history.list_calls()] == ["greeter"]
    finally:
        folder.chmod(0o755)
        database.chmod(0o644)
    assert database.read_bytes() == original
    assert sorted(path.name for path in folder.iterdir()) == ["history.db"]


# --- lone surrogates -----------------------------------------------------------------------------------------------


def test_text_with_lone_surrogates_is_stored_and_loads_back_equal(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    half_emoji = TextMessage(content="a\ud83db")
    neighbour = TextMessage("written in the same transaction")
    with SQLiteMessageStore(database) as store:
        store.persist(None, half_emoji)
        store.persist(None, neighbour)
        store.flush()  # no StoreWriteError: neither message was lost

        loaded = store.load(half_emoji.hash_key)
        assert loaded == half_emoji
        assert loaded.hash_key == half_emoji.hash_key
        assert loaded.content == "a\ud83db"
        assert store.load(neighbour.hash_key) == neighbour
        # the searchable text has U+FFFD in place of the lone surrogate; searching for it finds the message
        assert [stored.text for stored in store.search("a\ud83db")] == ["a\ufffdb"]
        assert [stored.hash_key for stored in store.search("\ufffd")] == [half_emoji.hash_key]

    with SQLiteHistory(database) as history:
        assert history.get_message(half_emoji.hash_key)["content"] == "a\ud83db"


async def test_agents_streaming_half_an_emoji_are_recorded(tmp_path: Path) -> None:
    @miniagent
    async def streamer(ctx: InteractionContext) -> None:
        ctx.reply("first half \ud83d")
        ctx.reply("\ude00 second half")
        raise ValueError("broken \ud83d")

    async with SQLiteMessageStore(tmp_path / "history.db") as store:
        async with MiniAgents(errors_as_messages=True) as mini_agents:
            store.attach(mini_agents)
            replies = await streamer.trigger()
        await store.aflush()
        (run,) = store.runs()
        assert run.error == "ValueError: broken \ufffd"
        assert store.replies_of(run) == replies
        assert [str(reply) for reply in store.replies_of(run)][:2] == ["first half \ud83d", "\ude00 second half"]
