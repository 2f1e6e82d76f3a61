"""The writer thread: the only code that writes to the database, so the event loop never waits for SQLite.

Callers put operations on a queue and return at once. The thread takes whatever has queued up (up to `max_batch`
operations), turns messages into rows and writes them in transactions of up to `_CHUNK_SIZE` messages: under load
batches grow by themselves, so one commit serves many messages. A flush marker is answered once everything queued
before it is committed — or has failed, in which case the marker carries a `StoreWriteError` for the caller to raise.
"""

import asyncio
import atexit
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from miniagents.ext.persistence.encoding import EncodedMessage, encode_message
from miniagents.ext.persistence.errors import StoreClosedError, StoreWriteError
from miniagents.ext.persistence.schema import connect, ensure_schema
from miniagents.messages import Message

__all__ = ["FlushOp", "PersistOp", "StatementOp", "StoreWriter"]

logger = logging.getLogger(__name__)

# A thread that keeps releasing and retaking the GIL (every SQLite call does) can starve the event loop's thread of it
# for tens of milliseconds. So the writer commits at most `_CHUNK_SIZE` messages at a time (about a millisecond of
# work) and, while more work is waiting, sleeps briefly in between: the loop is then sure to get the GIL. With WAL and
# `synchronous=NORMAL` a commit does not sync to disk, so the smaller transactions cost little.
_CHUNK_SIZE = 64
_PAUSE_SECONDS = 0.0005

_INSERT_MESSAGE = (
    "INSERT OR IGNORE INTO messages "
    "(hash_key, class_name, class_path, kind, agent_alias, persisted_at, text, serialized) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_REFERENCE = (
    "INSERT OR IGNORE INTO message_references (parent_hash_key, field_path, position, child_hash_key) "
    "VALUES (?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class PersistOp:
    """Store `message` (its hash key was computed by the caller, in the caller's context)."""

    message: Message
    hash_key: str
    persisted_at: float


@dataclass(frozen=True, slots=True)
class StatementOp:
    """Run one SQL statement (call-tree bookkeeping); statements run in the order they were queued."""

    sql: str
    parameters: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class FlushOp:
    """Call `notify` (in the writer thread) once everything queued before it is written or has failed."""

    notify: Callable[[StoreWriteError | None], None]


class _Stop:
    """Write what is queued, then end the thread."""


class StoreWriter:
    """Owns the writing connection and its thread; `lock` is held while a transaction runs."""

    def __init__(self, database: str, busy_timeout: float, text_index: bool, max_batch: int = 1000) -> None:
        self.database = database
        self.lock = threading.Lock()
        self._busy_timeout = busy_timeout
        self._text_index = text_index
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._failures: list[str] = []
        self._closed = False
        self._close_lock = threading.Lock()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._final_error: StoreWriteError | None = None
        self.connection: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name=f"SQLiteMessageStore writer {database}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        _open_writers.add(self)

    @property
    def is_closed(self) -> bool:
        return self._closed

    def submit(self, op: PersistOp | StatementOp) -> None:
        """Queue `op` (never waits for the writer)."""
        if not self._put_unless_closed(op):
            raise StoreClosedError(
                f"The message store of {self.database!r} is closed; open a new SQLiteMessageStore on it, or detach "
                "the closed one from its MiniAgents."
            )

    def _put_unless_closed(self, op: object) -> bool:
        # under the lock, so nothing can be queued behind the stop marker of `close()` and never be answered
        with self._close_lock:
            if self._closed:
                return False
            self._queue.put(op)
            return True

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is committed; raise `StoreWriteError` if some of it failed."""
        done = threading.Event()
        outcome: list[StoreWriteError | None] = []

        def notify(error: StoreWriteError | None) -> None:
            outcome.append(error)
            done.set()

        if not self._put_unless_closed(FlushOp(notify)):
            return  # `close()` wrote everything already
        if not done.wait(timeout):
            raise TimeoutError(f"The message store of {self.database!r} did not finish writing within {timeout} s.")
        if outcome[0] is not None:
            raise outcome[0]

    async def aflush(self) -> None:
        """Like `flush()`, but waits without blocking the event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def notify(error: StoreWriteError | None) -> None:
            try:
                loop.call_soon_threadsafe(_settle, future, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

        if self._put_unless_closed(FlushOp(notify)):
            await future

    def close(self) -> None:
        """Write what is queued, stop the thread and close the connection (idempotent)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_Stop())
        self._thread.join()
        _open_writers.discard(self)
        if self._final_error is not None:
            error, self._final_error = self._final_error, None
            raise error

    # --- the thread --------------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.connection = connect(self.database, self._busy_timeout)
            ensure_schema(self.connection, self.database, self._text_index)
        except BaseException as error:  # re-raised by the constructor in the caller's thread
            if self.connection is not None:
                self.connection.close()
            self._startup_error = error
            self._ready.set()
            return
        self._ready.set()
        stopping = False
        while not stopping:
            ops = [self._queue.get()]
            while len(ops) < self._max_batch:
                try:
                    ops.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = self._process(ops)
        with self.lock:
            self.connection.close()
        if self._failures:
            self._final_error = self._take_failures()

    def _process(self, ops: list[Any]) -> bool:
        persist_ops = [op for op in ops if isinstance(op, PersistOp)]
        statements = [op for op in ops if isinstance(op, StatementOp)]
        for start in range(0, max(len(persist_ops), 1), _CHUNK_SIZE):
            encoded = self._encode(persist_ops[start : start + _CHUNK_SIZE])
            chunk_statements = statements if start == 0 else []
            if encoded or chunk_statements:
                self._write(encoded, chunk_statements)
            if start + _CHUNK_SIZE < len(persist_ops) or not self._queue.empty():
                time.sleep(_PAUSE_SECONDS)
        flushes = [op for op in ops if isinstance(op, FlushOp)]
        if flushes:
            error = self._take_failures()
            for flush in flushes:
                flush.notify(error)
        return any(isinstance(op, _Stop) for op in ops)

    def _encode(self, persist_ops: list[PersistOp]) -> list[EncodedMessage]:
        encoded = []
        for op in persist_ops:
            try:
                encoded.append(encode_message(op.message, op.hash_key, op.persisted_at))
            except Exception as error:  # one odd message must not lose the others
                self._fail(f"message {op.hash_key} ({type(op.message).__name__}) could not be encoded: {error!r}")
        return encoded

    def _write(self, encoded: list[EncodedMessage], statements: list[StatementOp]) -> None:
        connection = self.connection
        assert connection is not None
        with self.lock:
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(_INSERT_MESSAGE, [item.row for item in encoded])
                connection.executemany(_INSERT_REFERENCE, [row for item in encoded for row in item.references])
                for statement in statements:
                    connection.execute(statement.sql, statement.parameters)
                connection.execute("COMMIT")
            except Exception as error:  # reported by the next flush(); the thread keeps serving
                self._rollback()
                self._fail(
                    f"a batch of {len(encoded)} message(s) and {len(statements)} call update(s) was not written: "
                    f"{type(error).__name__}: {error}"
                )

    def _rollback(self) -> None:
        connection = self.connection
        assert connection is not None
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        except sqlite3.Error:
            logger.exception("Message store %s: rollback failed", self.database)

    def _fail(self, description: str) -> None:
        logger.error("Message store %s: %s", self.database, description)
        self._failures.append(description)

    def _take_failures(self) -> StoreWriteError | None:
        if not self._failures:
            return None
        failures, self._failures = self._failures, []
        shown = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
        return StoreWriteError(f"Writing to {self.database!r} failed: {shown}")


def _settle(future: "asyncio.Future[None]", error: StoreWriteError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


_open_writers: set[StoreWriter] = set()


@atexit.register
def _close_open_writers() -> None:
    """Write what is still queued when the interpreter exits (the threads are daemons, so they would be dropped)."""
    for writer in list(_open_writers):
        try:
            writer.close()
        except Exception:  # at exit there is nobody left to raise to
            logger.exception("Message store %s: pending writes failed at exit", writer.database)
