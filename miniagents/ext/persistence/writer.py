"""The writer thread: the only code that writes to the database, so the event loop does not wait for SQLite.

Callers put operations on a bounded queue and return at once — unless `max_pending` operations are already waiting
to be committed. That bounds the memory the backlog holds, what a crash can lose and how long `flush()` takes,
whatever the rate of producers.

The thread writes queued operations in order, in transactions of up to `max_batch` (default 4096: each commit writes
again every page of the random-keyed indexes it touched, and every call into `sqlite3` costs the writer a wait for the
GIL — up to 5 ms while the event loop runs Python — so a backlog is written several times faster in a few large
transactions of a few multi-row statements each (`execute_rows`) than in many small ones). An operation stops counting
as pending once its transaction is committed (or has failed). A flush marker is answered once everything queued before
it is committed — or has failed, in which case the marker carries a `StoreWriteError` for the caller to raise.

Messages are encoded into rows by the caller (`submit_message`, in the event loop's thread), not here: the writer
thread is left with SQLite alone, which runs without holding the GIL, so the thread costs the event loop little and
the two cores work at once. Cheap on purpose, since the same message may be handed over more than once (equal
messages built apart, a parent's records referring to its children's replies): a message whose hash key was queued
recently (the last `_RECENT_HASH_KEYS`) and not lost to a failed transaction is neither encoded nor queued again; one
handed over again later is encoded again and ignored by the insert.
The text index is filled in batches (see `schema`) when a search asks for it (`index_texts()`, before the search
reads), or in the transaction that takes the texts not indexed yet to `_TEXT_INDEX_BATCH` — not by a flush nor on
closing: a run that nobody searches does not pay for its index.

Only one of the two threads can run Python at a time (the GIL), and a thread that wants it back must wait for the
other to let go — up to 5 ms each time. So the two take turns on purpose rather than fight:
- normally the writer sleeps briefly between transactions while more work waits, so the event loop gets the GIL;
- when the queue is full a producer waits (the event loop stalls), the writer alone commits two transactions' worth
  and lets it go, then leaves the GIL to the producers until they fill the queue again (or a flush is asked for, or
  `_PRODUCERS_TURN_SECONDS` pass). Producers faster than the disk so run at its pace, each stall lasting about two
  commits.
"""

import asyncio
import atexit
import ctypes
import functools
import itertools
import logging
import sqlite3
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

from miniagents.ext.persistence.encoding import EncodedMessage, encode_message
from miniagents.ext.persistence.errors import StoreClosedError, StoreWriteError
from miniagents.ext.persistence.schema import (
    check_store_file,
    ensure_schema,
    has_pending_texts,
    has_text_index,
    index_pending_texts,
    open_connection,
    use_wal,
)
from miniagents.messages import Message

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_PENDING",
    "INSERT_MESSAGE_SQL",
    "INSERT_REFERENCE_SQL",
    "FlushOp",
    "StatementOp",
    "StoreWriter",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000
"""How many operations (messages and call updates) may wait to be committed before `persist` waits for the writer."""
DEFAULT_MAX_BATCH = 4096
"""How many operations one transaction writes at most (producers held up by a full queue wait for one to commit)."""

_PAUSE_SECONDS = 0.0005
# the hash keys queued lately, remembered so that equal messages handed over again (the engine hands over each message
# object, and a parent's records refer to its children's replies) are encoded and written once: about 1.5 MB once full
# (what comes again after that is encoded again and ignored by the insert)
_RECENT_HASH_KEYS = 10_000
# the most texts left to `LIKE` (see `schema`): about as many as a file's searches can scan in some tens of ms
_TEXT_INDEX_BATCH = 50_000
# the sizes of multi-row statements (`execute_rows`); the larger ones only if SQLite's limit of variables per
# statement allows them (999 before SQLite 3.32)
_ROWS_PER_INSERT = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1_024)
_PRODUCERS_TURN_SECONDS = 0.02
# how often a producer waiting for room checks that the writer thread is still alive (it is woken sooner normally)
_LIVENESS_CHECK_SECONDS = 1.0

INSERT_MESSAGE_SQL = (
    "INSERT OR IGNORE INTO messages "
    "(hash_key, class_name, class_path, kind, agent_alias, persisted_at, text, serialized) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_TEXT_COLUMN = 6  # of a `messages` row (`EncodedMessage.row`)
INSERT_REFERENCE_SQL = (
    "INSERT OR IGNORE INTO reference_lists (parent_hash_key, field_path, child_hash_keys) VALUES (?, ?, ?)"
)


class StatementOp(NamedTuple):
    """Run one SQL statement (call-tree bookkeeping); statements run in the order they were queued."""

    sql: str
    parameters: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class FlushOp:
    """Call `notify` (in the writer thread) once everything queued before it is written or has failed.

    The failures are handed to `notify` and forgotten — unless `keep_failures`: then the next flush reports them again
    (the flush a `MiniAgents` makes of its observers only logs them; the owner's next `flush()` raises them).
    """

    notify: Callable[[StoreWriteError | None], None]
    keep_failures: bool = False
    index_texts: bool = False  # index the texts not indexed yet, then notify (what a search waits for)


class _Stop:
    """Write what is queued, then end the thread."""


class StoreWriter:
    """Owns the writing connection and its thread; `lock` is held while a transaction runs.

    `pending` counts the messages and statements queued or being written; it never exceeds `max_pending`
    (`peak_pending` is the most it has been). Flush and stop markers are not counted: they never wait for room.
    """

    def __init__(
        self,
        database: str,
        busy_timeout: float,
        text_index: bool,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        for name, value in (("max_batch", max_batch), ("max_pending", max_pending)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.database = database
        self.max_pending = max_pending
        self.lock = threading.Lock()
        self._busy_timeout = busy_timeout
        self._text_index = text_index
        self._max_batch = max_batch
        # producers held up by a full queue are let go once the writer has made this much room
        self._room_step = min(max_pending, 2 * max_batch)
        self._queue: deque[Any] = deque()
        self._pending = 0
        self._peak_pending = 0
        self._markers = 0
        # hash keys queued lately and not lost to a failed transaction (guarded by `_state_lock`)
        self._recent_hash_keys: OrderedDict[str, None] = OrderedDict()
        self._texts_to_index = 0  # rows with a text committed by this writer and not indexed yet
        self._maintains_text_index = False
        # `_state_lock` guards the queue, the counters and the flags; the writer waits on `_work_queued` (when idle or
        # leaving producers their turn), producers on `_room_made` (when the queue is full)
        self._state_lock = threading.Lock()
        self._work_queued = threading.Condition(self._state_lock)
        self._room_made = threading.Condition(self._state_lock)
        self._producers_waiting = 0
        self._writer_waiting = False
        self._producers_turn = False
        self._closed = False
        self._thread_ended = False
        self._failures: list[str] = []
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._final_error: StoreWriteError | None = None
        self.connection: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name=f"SQLiteMessageStore writer {database}", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        _open_writers.add(self)

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Messages and statements queued or being written right now."""
        return self._pending

    @property
    def peak_pending(self) -> int:
        """The most messages and statements that were pending at once since the writer started."""
        return self._peak_pending

    def submit(self, op: StatementOp) -> None:
        """Queue `op`; if `max_pending` operations are pending, first wait until the writer has made room."""
        with self._state_lock:
            if self._pending >= self.max_pending and not self._closed:
                self._wait_for_room()
            self._queue_op(op)

    def submit_message(self, message: Message, hash_key: str, persisted_at: float) -> None:
        """Encode `message` and queue its rows, unless it was queued recently already (then it is, or is being,
        written).

        Encoding runs here, in the caller's thread: the writer thread is then left with SQLite alone, which runs
        without the GIL (see the module's docstring). A message that cannot be encoded is not queued; the next flush
        reports it.
        """
        recent = self._recent_hash_keys
        if hash_key in recent:  # a read without the lock: at worst the message is queued twice, which is harmless
            return
        try:
            encoded = encode_message(message, hash_key, persisted_at)
        except Exception as error:  # one odd message must not lose the others
            self._fail(f"message {hash_key} ({type(message).__name__}) could not be encoded: {error!r}")
            return
        with self._state_lock:
            if self._pending >= self.max_pending and not self._closed:
                self._wait_for_room()
                if hash_key in recent:  # queued by another thread meanwhile
                    return
            self._queue_op(encoded)
            recent[hash_key] = None
            if len(recent) > _RECENT_HASH_KEYS:
                recent.popitem(last=False)

    def _queue_op(self, op: EncodedMessage | StatementOp) -> None:
        """Append `op` (holding `_state_lock`, with room made already)."""
        if self._closed:
            raise StoreClosedError(
                f"The message store of {self.database!r} is closed; open a new SQLiteMessageStore on it, or "
                "detach the closed one from its MiniAgents."
            )
        self._raise_if_thread_ended()
        self._queue.append(op)
        self._pending += 1
        if self._pending > self._peak_pending:
            self._peak_pending = self._pending
        if self._writer_waiting and not self._producers_turn:
            self._work_queued.notify()

    def _wait_for_room(self) -> None:
        # The writer makes room without needing this thread (nor its event loop), so this cannot deadlock — unless the
        # writer thread is gone, which is checked now and then.
        self._producers_waiting += 1
        try:
            if self._writer_waiting:
                self._work_queued.notify()  # the writer was leaving the producers their turn: it is over
            while self._pending >= self.max_pending and not self._closed:
                self._raise_if_thread_ended()
                self._room_made.wait(_LIVENESS_CHECK_SECONDS)
        finally:
            self._producers_waiting -= 1

    def _raise_if_thread_ended(self) -> None:
        if self._thread_ended:
            raise StoreWriteError(
                f"The writer thread of the message store of {self.database!r} has stopped; nothing more can be "
                "written (see the logged error)."
            )

    def _put_marker(self, marker: "FlushOp | _Stop") -> bool:
        """Queue a flush or stop marker (never waits for room); `False` if the writer is closed already."""
        with self._state_lock:
            if self._closed:
                return False
            if isinstance(marker, FlushOp):
                self._raise_if_thread_ended()
            else:
                self._closed = True
                self._room_made.notify_all()  # producers waiting for room give up: the store is closing
            self._queue.append(marker)
            self._markers += 1
            if self._writer_waiting:
                self._work_queued.notify()
            return True

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is committed; raise `StoreWriteError` if some of it failed (since the
        last flush that raised)."""
        done = threading.Event()
        outcome: list[StoreWriteError | None] = []

        def notify(error: StoreWriteError | None) -> None:
            outcome.append(error)
            done.set()

        if not self._put_marker(FlushOp(notify)):
            return  # `close()` wrote everything already
        if not done.wait(timeout):
            raise TimeoutError(f"The message store of {self.database!r} did not finish writing within {timeout} s.")
        if outcome[0] is not None:
            raise outcome[0]

    async def aflush(self, *, keep_failures: bool = False) -> None:
        """Like `flush()`, but waits without blocking the event loop; `keep_failures`: see `FlushOp`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def notify(error: StoreWriteError | None) -> None:
            try:
                loop.call_soon_threadsafe(_settle, future, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

        if self._put_marker(FlushOp(notify, keep_failures)):
            await future

    def index_texts(self) -> None:
        """Block until everything queued so far is committed and every committed text is indexed (before a search).

        Failures are left for the owner's next flush to raise: the search still finds what is committed.
        """
        done = threading.Event()
        try:
            if self._put_marker(FlushOp(lambda _error: done.set(), keep_failures=True, index_texts=True)):
                done.wait()
        except StoreWriteError:  # the thread has stopped: nothing to wait for
            pass

    def close(self) -> None:
        """Write what is queued, stop the thread, close the connection and let go of everything (idempotent)."""
        self._put_marker(_Stop())
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
            _return_freed_memory()
        _open_writers.discard(self)
        if self._final_error is not None:
            error, self._final_error = self._final_error, None
            raise error

    # --- the thread --------------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.connection = open_connection(self.database, self._busy_timeout)
            if self.database != ":memory:":
                check_store_file(self.connection, self.database)  # reads only: a foreign file is left untouched
                use_wal(self.connection, self.database)
            ensure_schema(self.connection, self.database, self._text_index)
            # a file with the index gets its rows indexed, whichever store writes them (`full_text_search` decides
            # whether a file without one gets one)
            self._maintains_text_index = has_text_index(self.connection)
        except BaseException as error:  # re-raised by the constructor in the caller's thread
            if self.connection is not None:
                self.connection.close()
                self.connection = None
            self._startup_error = error
            self._thread_ended = True
            self._ready.set()
            return
        self._ready.set()
        try:
            self._serve()
        except BaseException:
            logger.exception("Message store %s: the writer thread failed; nothing more is written", self.database)
            raise
        finally:
            self._end()

    def _serve(self) -> None:
        while True:
            with self._state_lock:
                self._await_work()
                ops, marker = self._take()
            if ops:
                self._write_ops(ops)
            if isinstance(marker, FlushOp) and marker.index_texts and self._maintains_text_index:
                self._index_texts()
            if isinstance(marker, FlushOp):
                marker.notify(self._peek_failures() if marker.keep_failures else self._take_failures())
            elif isinstance(marker, _Stop):
                return

    def _await_work(self) -> None:
        """Wait (holding `_state_lock`) until there is work, and the producers' turn — if they have one — is over."""
        deadline: float | None = None
        self._writer_waiting = True
        try:
            while True:
                if not self._queue:
                    self._producers_turn = False
                    self._work_queued.wait()
                elif not self._producers_turn or self._producers_waiting or self._markers:
                    break
                else:
                    now = time.monotonic()
                    deadline = deadline if deadline is not None else now + _PRODUCERS_TURN_SECONDS
                    if now >= deadline:
                        break
                    self._work_queued.wait(deadline - now)
        finally:
            self._writer_waiting = False
        self._producers_turn = False

    def _take(self) -> tuple[list[EncodedMessage | StatementOp], "FlushOp | _Stop | None"]:
        """Pop the next transaction's operations (up to `max_batch`), or else the marker that comes first."""
        queue = self._queue
        if not self._markers:  # no marker queued: no need to look at each operation
            return [queue.popleft() for _ in range(min(len(queue), self._max_batch))], None
        ops: list[EncodedMessage | StatementOp] = []
        while queue and len(ops) < self._max_batch:
            if isinstance(queue[0], (EncodedMessage, StatementOp)):
                ops.append(queue.popleft())
            elif ops:
                break
            else:
                self._markers -= 1
                return ops, queue.popleft()
        return ops, None

    def _end(self) -> None:
        with self.lock:
            if self.connection is not None:
                self.connection.close()
                self.connection = None
        with self._state_lock:
            self._thread_ended = True
            leftovers = list(self._queue)
            self._queue.clear()
            self._recent_hash_keys.clear()
            self._pending = 0
            self._room_made.notify_all()
        if self._failures:
            self._final_error = self._take_failures()
        error = self._final_error or StoreWriteError(f"The writer of {self.database!r} stopped before writing this.")
        for op in leftovers:  # only if the thread failed: nobody must wait for a flush forever
            if isinstance(op, FlushOp):
                op.notify(error)

    def _write_ops(self, ops: list[EncodedMessage | StatementOp]) -> None:
        encoded = [op for op in ops if isinstance(op, EncodedMessage)]
        statements = [op for op in ops if isinstance(op, StatementOp)]
        if encoded or statements:
            self._write(encoded, statements)
        with self._state_lock:
            self._pending -= len(ops)
            if self._producers_waiting and self._pending <= self.max_pending - self._room_step:
                self._producers_turn = True
                self._room_made.notify_all()
            # while producers wait for room the event loop is stalled anyway: no pause then, nor in their turn; nor
            # with a backlog of a whole transaction or more: catching up keeps the producers from filling the queue
            pause = 0 < len(self._queue) < self._max_batch and not self._producers_waiting and not self._producers_turn
        if pause:
            time.sleep(_PAUSE_SECONDS)

    def _write(self, encoded: list[EncodedMessage], statements: list[StatementOp]) -> None:
        connection = self.connection
        assert connection is not None
        texts = sum(1 for item in encoded if item.row[_TEXT_COLUMN] is not None) if self._maintains_text_index else 0
        # the texts are indexed in the transaction that takes them to a batch (or when a search asks)
        pending_texts = self._texts_to_index + texts
        index_texts = pending_texts >= _TEXT_INDEX_BATCH
        with self.lock:
            try:
                connection.execute("BEGIN IMMEDIATE")
                execute_rows(connection, INSERT_MESSAGE_SQL, [item.row for item in encoded])
                execute_rows(connection, INSERT_REFERENCE_SQL, [row for item in encoded for row in item.references])
                # consecutive statements of the same kind go together; their order is kept
                for sql, group in itertools.groupby(statements, key=attrgetter("sql")):
                    execute_rows(connection, sql, [statement.parameters for statement in group])
                if index_texts:
                    index_pending_texts(connection)
                connection.execute("COMMIT")
            except Exception as error:  # reported by the next flush(); the thread keeps serving
                self._rollback()
                self._forget([item.row[0] for item in encoded])
                self._fail(
                    f"a batch of {len(encoded)} message(s) and {len(statements)} call update(s) was not written: "
                    f"{type(error).__name__}: {error}"
                )
            else:
                self._texts_to_index = 0 if index_texts else self._texts_to_index + texts

    def _index_texts(self) -> None:
        """Index the texts committed and not indexed yet — by any writer — in a transaction of their own."""
        connection = self.connection
        assert connection is not None
        with self.lock:
            try:
                if not has_pending_texts(connection):
                    return  # a search with nothing new to index writes nothing
                connection.execute("BEGIN IMMEDIATE")
                index_pending_texts(connection)
                connection.execute("COMMIT")
            except Exception as error:  # the rows are stored; searches find them without the index meanwhile
                self._rollback()
                self._fail(
                    f"the texts of stored messages were not indexed for search: {type(error).__name__}: {error}"
                )
            else:
                self._texts_to_index = 0

    def _forget(self, hash_keys: list[str]) -> None:
        """The messages of `hash_keys` were not written: persisting them again must queue them again."""
        with self._state_lock:
            for hash_key in hash_keys:
                self._recent_hash_keys.pop(hash_key, None)

    def _rollback(self) -> None:
        connection = self.connection
        assert connection is not None
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        except sqlite3.Error:
            logger.exception("Message store %s: rollback failed", self.database)

    def _fail(self, description: str) -> None:
        """Log a failure and keep it for the next flush (from either thread: a producer fails to encode, the writer to
        write)."""
        logger.error("Message store %s: %s", self.database, description)
        with self._state_lock:
            self._failures.append(description)

    def _take_failures(self) -> StoreWriteError | None:
        with self._state_lock:
            failures, self._failures = self._failures, []
        return self._described(failures)

    def _peek_failures(self) -> StoreWriteError | None:
        with self._state_lock:
            failures = list(self._failures)
        return self._described(failures)

    def _described(self, failures: list[str]) -> StoreWriteError | None:
        if not failures:
            return None
        shown = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
        return StoreWriteError(f"Writing to {self.database!r} failed: {shown}")


def execute_rows(connection: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run `sql` once per row of `rows`: an `INSERT ... VALUES (?, ...)` as statements of many rows each, anything
    else with `executemany`. The store's inserts are all such that a row written twice is written once (`INSERT OR
    IGNORE`, or an upsert of the same values), which the padding below relies on.

    The sqlite3 module lets go of the GIL for each step of a statement and must get it back after: with the event loop
    running Python meanwhile, that wait (up to the interpreter's switch interval, 5 ms) would come once per row. A
    statement of many rows is one step — written while the event loop runs on the other core.

    Statements come in a few sizes only (powers of two, `_ROWS_PER_INSERT`), the last one padded with copies of its
    smallest row (so padding at most doubles a statement's smallest rows, never copies a large one many times): the
    sqlite3 module keeps a compiled statement per SQL text, with copies of the values last bound to it, so a size per
    batch length would keep compiling new ones and hold the values of each.
    """
    head, values, rest = sql.partition(" VALUES (")
    if not values or len(rows) < 2:
        connection.executemany(sql, rows)
        return
    marks, _, tail = rest.partition(")")
    most = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(rows[0])
    sizes = [size for size in _ROWS_PER_INSERT if size <= most] or [1]
    start = 0
    while start < len(rows):
        size = next((size for size in sizes if size >= len(rows) - start), sizes[-1])
        chunk = rows[start : start + size]
        if len(chunk) < size:
            chunk += [min(chunk, key=_row_size)] * (size - len(chunk))
        connection.execute(_many_rows_sql(head, marks, tail, size), list(itertools.chain.from_iterable(chunk)))
        start += size


def _row_size(row: tuple[Any, ...]) -> int:
    return sum(len(value) for value in row if isinstance(value, str))


@functools.lru_cache(maxsize=64)
def _many_rows_sql(head: str, marks: str, tail: str, rows: int) -> str:
    return f"{head} VALUES {','.join([f'({marks})'] * rows)}{tail}"


def _settle(future: "asyncio.Future[None]", error: StoreWriteError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (AttributeError, OSError):  # not glibc: its allocator returns memory by itself, or never
        return None


_malloc_trim = _find_malloc_trim() if sys.platform.startswith("linux") else None


def _return_freed_memory() -> None:
    """Hand memory freed by the backlog and the writer thread back to the operating system.

    Python frees the objects, but glibc keeps freed memory for reuse — much of it in the arena of the writer thread,
    which nothing reuses once the thread is gone — so without this the process would stay as large as its peak.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


_open_writers: set[StoreWriter] = set()


@atexit.register
def _close_open_writers() -> None:
    """Write what is still queued when the interpreter exits (the threads are daemons, so they would be dropped)."""
    for writer in list(_open_writers):
        try:
            writer.close()
        except Exception:  # at exit there is nobody left to raise to
            logger.exception("Message store %s: pending writes failed at exit", writer.database)
