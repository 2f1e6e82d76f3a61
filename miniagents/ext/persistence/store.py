"""`SQLiteMessageStore`: a content-addressed history of every message and call record, in one SQLite file."""

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Self, TypeVar

from miniagents.ext.persistence.call_events import CallEventRecorder
from miniagents.ext.persistence.errors import (
    AmbiguousCallError,
    MessageNotFoundError,
    StoreClosedError,
    StoreWriteError,
)
from miniagents.ext.persistence.loading import build_messages, fetch_rows
from miniagents.ext.persistence.queries import (
    CallRecord,
    MessageKind,
    MessageReference,
    SessionRecord,
    StoredMessage,
    TimeBound,
    count_messages,
    find_calls,
    find_message,
    find_messages,
    find_references,
    find_reply_nodes,
    find_sessions,
)
from miniagents.ext.persistence.schema import (
    has_text_index,
    is_text_index_batched,
    open_read_only,
    prepare_reader,
    store_path,
)
from miniagents.ext.persistence.writer import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_PENDING,
    StatementOp,
    StoreWriter,
)
from miniagents.messages import Message
from miniagents.runtime import MiniAgents

__all__ = ["SQLiteMessageStore"]

_T = TypeVar("_T")

CallLike = CallRecord | Message | str
"""A call to look into: a `CallRecord`, an `AgentCallNode` / `AgentReplyNode`, or the hash key of either."""


class SQLiteMessageStore:
    """Every message persisted by agents — records of calls included — in a SQLite file, each stored once.

        store = SQLiteMessageStore("history.db")
        async with MiniAgents() as mini_agents:
            store.attach(mini_agents)  # every message and call record, plus the tree of calls
            await agent.trigger("hello")
        await store.aflush()
        store.runs(), store.search("Paris"), store.load(hash_key)

    For the messages and records alone (no call tree), `MiniAgents(on_persist_messages=[store.persist])` is enough.
    `attach` makes the store an observer of that `MiniAgents` (`miniagents.observers`): when the `MiniAgents` finalizes
    (its `async with` block ends), it waits for the store to commit what its agents produced.

    `persist` only encodes the message into rows and queues them; a writer thread writes queued rows in batched
    transactions (WAL mode, `synchronous=NORMAL`), so the event loop does not wait for the disk — and, since the
    thread has only SQLite's work left, which runs without the GIL, the two use two cores. Queries read what is
    committed: call `flush()` / `await aflush()` first to include messages persisted a moment ago. Several stores (in
    one process or several) can share a file. `":memory:"` gives a private in-memory database (for tests).

    Messages are keyed by `hash_key`: persisting one twice stores it once (keeping the first `persisted_at`). Nested
    messages are stored as rows of their own and referenced, so `load` rebuilds an equal message with the same
    `hash_key` (see `miniagents.ext.persistence.registry` for how classes are found again).

    The queue is bounded (back-pressure): when `max_pending` messages and call updates wait to be committed, `persist`
    waits until the writer has committed its current transaction (a few milliseconds) before queueing more. Agents that
    produce faster than the disk writes are slowed down to its pace instead of piling up memory: the backlog — what
    `aflush()` waits for, and what a crash can lose — stays below `max_pending`. `pending` is the backlog now,
    `peak_pending` the largest it has been. (While another process holds the file's write lock, a full queue makes
    `persist` wait for that process, for up to `busy_timeout`.)

    `full_text_search=False` skips the FTS5 trigram index (smaller file); `search` then scans with `LIKE`.
    `busy_timeout` is how long a write waits for another writer of the same file before failing. `max_batch` is the
    most messages and call updates one transaction writes (default 4096: fewer, larger commits write a backlog faster,
    and producers held up by a full queue wait for one of them to commit).

    `database` is a file name (`~` is expanded) or `":memory:"`. A file is checked before anything is written to it:
    a SQLite database of another application is refused with a `StoreError` and left untouched.
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        *,
        full_text_search: bool = True,
        busy_timeout: float = 30.0,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self.database = store_path(database)
        self._writer = StoreWriter(self.database, busy_timeout, full_text_search, max_batch, max_pending)
        if self.database == ":memory:":
            # a private in-memory database exists in one connection only: share the writer's, under its lock
            assert self._writer.connection is not None
            self._reader = self._writer.connection
            self._read_lock = self._writer.lock
        else:
            try:
                self._reader = open_read_only(self.database, busy_timeout)
            except BaseException:
                self._writer.close()
                raise
            self._read_lock = threading.Lock()
        self._reader_closed = False
        with self._read_lock:
            self._text_index = full_text_search and has_text_index(self._reader)
            self._batched_text_index = is_text_index_batched(self._reader)
            prepare_reader(self._reader)  # another store may have written an older version meanwhile: not converted
        self._attachments: dict[MiniAgents, CallEventRecorder] = {}

    def __repr__(self) -> str:
        state = "closed" if self._writer.is_closed else "open"
        return f"<SQLiteMessageStore {self.database!r} {state}>"

    @property
    def max_pending(self) -> int:
        """The bound of the write queue: how many messages and call updates may wait to be committed."""
        return self._writer.max_pending

    @property
    def pending(self) -> int:
        """Messages and call updates queued or being written right now (at most `max_pending`)."""
        return self._writer.pending

    @property
    def peak_pending(self) -> int:
        """The most messages and call updates that were pending at once since the store was opened."""
        return self._writer.peak_pending

    # --- writing -----------------------------------------------------------------------------------------------

    def persist(self, promise: Any, message: Message) -> None:
        """The `on_persist_messages` handler: encode `message` into rows and queue them for writing (waiting for room
        if the queue is full). A message that cannot be encoded (a broken override in its class) is logged and
        reported by the next flush; the others are written.

        The runtime hands every nested message to the handlers separately; to store a message built outside of
        agents together with what it contains, use `save()`.
        """
        if not isinstance(message, Message):
            raise TypeError(f"SQLiteMessageStore.persist() stores Message objects, got {type(message).__name__}")
        # hash keys are computed here, in the caller's context (its `longer_hash_keys`), nested ones included
        self._writer.submit_message(message, message.hash_key, time.time())

    def save(self, message: Message) -> None:
        """Queue `message` and every message nested in it (each once) for writing."""
        seen: set[str] = set()
        for item in (*message.sub_messages(), message):
            if item.hash_key not in seen:
                seen.add(item.hash_key)
                self.persist(None, item)

    def attach(
        self, mini_agents: MiniAgents | None = None, *, session_id: str | None = None, label: str | None = None
    ) -> str:
        """Record messages *and* the call tree of `mini_agents` (default: the active one); return the session id.

        Attaches an observer of the session (`CallEventRecorder`): its lifecycle events make one `calls` row per call,
        linked to its parent call, and `persist` receives every message, records included (unless `persist` is one
        of its handlers already: records are only made when a persist handler exists). The `MiniAgents` flushes the
        store when it finalizes. Call it before running agents: calls already under way are not recorded.
        """
        mini_agents = mini_agents if mini_agents is not None else MiniAgents.get_current()
        if mini_agents in self._attachments:
            return self._attachments[mini_agents].session_id
        session_id = session_id if session_id is not None else uuid.uuid4().hex
        if any(recorder.session_id == session_id for recorder in self._attachments.values()) or any(
            session.session_id == session_id for session in self.sessions()
        ):
            raise ValueError(f"Session {session_id!r} exists already in {self.database!r}; choose another session_id.")
        self._writer.submit(
            StatementOp(
                "INSERT OR IGNORE INTO sessions (session_id, label, started_at) VALUES (?, ?, ?)",
                (session_id, label, time.time()),
            )
        )
        recorder = CallEventRecorder(session_id, self._writer.submit, self.persist, self._aflush_keeping_failures)
        mini_agents.attach(recorder)
        self._attachments[mini_agents] = recorder
        return session_id

    def detach(self, mini_agents: MiniAgents) -> None:
        """Undo `attach(mini_agents)` (no error if it was not attached); what its calls told so far is queued."""
        recorder = self._attachments.pop(mini_agents, None)
        if recorder is not None:
            mini_agents.detach(recorder)
            try:
                recorder.write_unrecorded()
            except (StoreClosedError, StoreWriteError):  # nothing can be written any more: the writer said why already
                pass

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is committed; raise `StoreWriteError` if some of it failed."""
        self._writer.flush(timeout)

    async def aflush(self) -> None:
        """Wait (without blocking the event loop) until everything queued so far is committed; raise
        `StoreWriteError` (naming the file) if some of it failed since the last flush that raised.

        A failure is raised by this flush even when the flush a `MiniAgents` makes of its observers at the end of its
        block saw it first: that one only logs it.
        """
        await self._writer.aflush()

    async def _aflush_keeping_failures(self) -> None:
        # the flush of an attached `MiniAgents` (its `async with` block ending) logs failures and goes on, so they
        # stay to be raised by the owner's next `flush()` / `aflush()` (or `close()`)
        await self._writer.aflush(keep_failures=True)

    def close(self) -> None:
        """Detach from every `MiniAgents`, write what is queued and close the database (idempotent).

        The memory the store used is given back (see `StoreWriter.close`); the reading connection is closed first, so
        that the writing one, closing last, folds the WAL into the file and removes it.
        """
        self._detach_all()
        if self._reader is not self._writer.connection:
            with self._read_lock:
                self._reader_closed = True
                self._reader.close()
        self._writer.close()

    def _detach_all(self) -> None:
        # a helper of its own, so no local variable keeps the last MiniAgents alive while the writer closes
        for mini_agents in list(self._attachments):
            self.detach(mini_agents)

    async def aclose(self) -> None:
        """`close()` after waiting for pending writes without blocking the event loop."""
        await self.aflush()
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- loading -----------------------------------------------------------------------------------------------

    def load(self, hash_key: str) -> Message:
        """The stored message `hash_key`, rebuilt with every message nested in it."""
        return self.load_many([hash_key])[0]

    def load_many(self, hash_keys: Iterable[str]) -> tuple[Message, ...]:
        """The stored messages of `hash_keys`, in that order (fetched together, so faster than `load` in a loop)."""
        hash_keys = list(hash_keys)
        stored = self._read(lambda connection: fetch_rows(connection, hash_keys, self.database))
        built = build_messages(stored, hash_keys)
        return tuple(built[hash_key] for hash_key in hash_keys)

    def get_stored(self, message: Message | str) -> StoredMessage | None:
        """What the store knows about `message` (or its hash key) without rebuilding it; `None` if not stored."""
        return self._read(lambda connection: find_message(connection, _hash_key_of(message)))

    def __contains__(self, item: object) -> bool:
        return isinstance(item, (Message, str)) and self.get_stored(item) is not None

    def __len__(self) -> int:
        return self._read(count_messages)

    # --- queries over messages ---------------------------------------------------------------------------------

    def messages(
        self,
        *,
        kind: MessageKind | None = None,
        class_name: str | None = None,
        agent_alias: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[StoredMessage]:
        """Stored messages matching every given filter, oldest first (`kind="reply"`: one per finished call)."""
        return self._read(
            lambda connection: find_messages(
                connection,
                text_index=self._text_index,
                batched_text_index=self._batched_text_index,
                kind=kind,
                class_name=class_name,
                agent_alias=agent_alias,
                since=since,
                until=until,
                limit=limit,
                newest_first=newest_first,
            )
        )

    def search(
        self, text: str, *, kind: MessageKind | None = None, limit: int | None = None, newest_first: bool = False
    ) -> list[StoredMessage]:
        """Messages whose text (`str(message)`) contains `text`, ignoring case; records have no text of their own.

        Waits until what was persisted so far is committed and every committed text is in the full-text index: the
        index is brought up to date when a search needs it, not while agents run (see `schema`).
        """
        if self._text_index:
            self._writer.index_texts()
        return self._read(
            lambda connection: find_messages(
                connection,
                text_index=self._text_index,
                batched_text_index=self._batched_text_index,
                text=text,
                kind=kind,
                limit=limit,
                newest_first=newest_first,
            )
        )

    def references_of(self, message: Message | str) -> list[MessageReference]:
        """The messages nested in `message` (or its hash key): where each sits, by field path and position."""
        return self._read(lambda connection: find_references(connection, parent_hash_key=_hash_key_of(message)))

    def referenced_by(self, message: Message | str) -> list[MessageReference]:
        """Where `message` (or its hash key) is nested in other stored messages."""
        return self._read(lambda connection: find_references(connection, child_hash_key=_hash_key_of(message)))

    def replies_of(self, call: CallLike) -> tuple[Message, ...]:
        """The reply messages of a call, loaded."""
        return self._nested(self._reply_node_hash_key(call), "replies")

    def input_of(self, call: CallLike) -> tuple[Message, ...]:
        """The input messages of a call, loaded."""
        return self._nested(self._call_node_hash_key(call), "messages")

    def reply_nodes_of(self, call_node: Message | str) -> list[StoredMessage]:
        """The stored `AgentReplyNode`s answering `call_node` (more than one if the very same call was repeated)."""
        return self._read(lambda connection: find_reply_nodes(connection, _hash_key_of(call_node)))

    # --- queries over calls (recorded by `attach`) -------------------------------------------------------------

    def calls(
        self,
        *,
        agent_alias: str | None = None,
        session_id: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        limit: int | None = None,
        newest_first: bool = False,
        top_level_only: bool = False,
    ) -> list[CallRecord]:
        """Calls recorded by `attach`, matching every given filter, in the order they were initiated."""
        return self._read(
            lambda connection: find_calls(
                connection,
                agent_alias=agent_alias,
                session_id=session_id,
                top_level_only=top_level_only,
                since=since,
                until=until,
                limit=limit,
                newest_first=newest_first,
            )
        )

    def runs(self, **filters: Any) -> list[CallRecord]:
        """Top-level calls (made outside any agent), the roots of the call trees; takes the filters of `calls`."""
        return self.calls(top_level_only=True, **filters)

    def sub_calls(self, call: CallRecord) -> list[CallRecord]:
        """The calls that `call`'s agent made, in the order they were initiated."""
        return self._read(
            lambda connection: find_calls(connection, session_id=call.session_id, parent_call_id=call.call_id)
        )

    def parent_call(self, call: CallRecord) -> CallRecord | None:
        """The call whose agent made `call` (`None` for a top-level call)."""
        if call.parent_call_id is None:
            return None
        found = self._read(
            lambda connection: find_calls(connection, session_id=call.session_id, call_id=call.parent_call_id)
        )
        return found[0] if found else None

    def calls_of(self, node: Message | str) -> list[CallRecord]:
        """The recorded calls whose call node or reply node is `node` (several if identical calls were repeated)."""
        return self._read(lambda connection: find_calls(connection, node_hash_key=_hash_key_of(node)))

    def sessions(self) -> list[SessionRecord]:
        """Every session recorded by `attach`, oldest first."""
        return self._read(find_sessions)

    # --- helpers -----------------------------------------------------------------------------------------------

    def _read(self, query: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._read_lock:
            if self._reader_closed or self._writer.is_closed:
                raise StoreClosedError(
                    f"The message store of {self.database!r} is closed; open a new SQLiteMessageStore to read it."
                )
            return query(self._reader)

    def _nested(self, parent_hash_key: str, field: str) -> tuple[Message, ...]:
        references = self._read(
            lambda connection: find_references(connection, parent_hash_key=parent_hash_key, field_path=field)
        )
        return self.load_many(reference.child_hash_key for reference in references)

    def _stored(self, hash_key: str) -> StoredMessage:
        stored = self.get_stored(hash_key)
        if stored is None:
            raise MessageNotFoundError(f"No message with hash_key {hash_key!r} in {self.database!r}.")
        return stored

    def _reply_node_hash_key(self, call: CallLike) -> str:
        if isinstance(call, CallRecord):
            if call.reply_node_hash_key is None:
                raise MessageNotFoundError(_unrecorded(call))
            return call.reply_node_hash_key
        stored = self._stored(_hash_key_of(call))
        if stored.kind == "reply":
            return stored.hash_key
        if stored.kind != "call":
            raise TypeError(_not_a_node(stored))
        reply_nodes = self.reply_nodes_of(stored.hash_key)
        if not reply_nodes:
            raise MessageNotFoundError(f"No stored reply node answers call node {stored.hash_key} (yet).")
        if len(reply_nodes) > 1:
            raise AmbiguousCallError(
                f"Call node {stored.hash_key} ({stored.agent_alias}) was answered {len(reply_nodes)} times (the same "
                "call was made repeatedly); pass one of `store.reply_nodes_of(call_node)` or a CallRecord instead."
            )
        return reply_nodes[0].hash_key

    def _call_node_hash_key(self, call: CallLike) -> str:
        if isinstance(call, CallRecord):
            if call.call_node_hash_key is None:
                raise MessageNotFoundError(_unrecorded(call))
            return call.call_node_hash_key
        stored = self._stored(_hash_key_of(call))
        if stored.kind == "call":
            return stored.hash_key
        if stored.kind != "reply":
            raise TypeError(_not_a_node(stored))
        references = self._read(
            lambda connection: find_references(connection, parent_hash_key=stored.hash_key, field_path="agent_call")
        )
        if not references:
            raise MessageNotFoundError(f"Reply node {stored.hash_key} has no stored call node.")
        return references[0].child_hash_key


def _hash_key_of(message: Message | str) -> str:
    return message.hash_key if isinstance(message, Message) else message


def _unrecorded(call: CallRecord) -> str:
    return (
        f"Call {call.call_id} ({call.agent_alias}) of session {call.session_id} has no records: it had not finished "
        "when the CallRecord was read, or its MiniAgents had no on_persist_messages handler."
    )


def _not_a_node(stored: StoredMessage) -> str:
    return (
        f"Message {stored.hash_key} is a {stored.class_name}, not a call record; pass a CallRecord, an AgentCallNode, "
        "an AgentReplyNode or the hash key of one."
    )
