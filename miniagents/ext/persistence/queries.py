"""Read-only queries over the store's tables, returning small immutable records (not loaded messages).

The records are cheap to list by the thousand (an inspector's tables); `store.load(record.hash_key)` rebuilds the
message when it is actually needed.
"""

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from miniagents.ext.persistence.schema import reference_list

__all__ = [
    "CallRecord",
    "MessageKind",
    "MessageReference",
    "SessionRecord",
    "StoredMessage",
    "TimeBound",
    "count_messages",
    "find_calls",
    "find_message",
    "find_messages",
    "find_references",
    "find_reply_nodes",
    "find_sessions",
    "storable_text",
]

MessageKind = Literal["message", "call", "reply"]
TimeBound = float | datetime | None
"""A point in time: seconds since the epoch (`time.time()`), an aware or local `datetime`, or `None` for no bound."""

_MIN_TRIGRAM_QUERY = 3  # the trigram index cannot look up anything shorter


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored message, without rebuilding it: what it is, whose it is, when it was persisted, its text."""

    hash_key: str
    class_name: str
    class_path: str
    kind: MessageKind
    agent_alias: str | None
    persisted_at: float
    text: str | None


@dataclass(frozen=True, slots=True)
class MessageReference:
    """Message `parent_hash_key` holds message `child_hash_key` at `field_path` (`position` in a tuple, else 0)."""

    parent_hash_key: str
    field_path: str
    position: int
    child_hash_key: str


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One `store.attach(mini_agents)`: the calls of one `MiniAgents` context."""

    session_id: str
    label: str | None
    started_at: float


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One agent call as the lifecycle events told it (`store.attach`): its place in the call tree, times, outcome.

    `call_id` / `parent_call_id` are unique within `session_id`. The node hash keys are set once the call is recorded
    (after it finished); `error` is `"ExceptionClass: text"` when the agent function raised.
    """

    session_id: str
    call_id: int
    parent_call_id: int | None
    agent_alias: str
    initiated_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    call_node_hash_key: str | None
    reply_node_hash_key: str | None


_MESSAGE_COLUMNS = "hash_key, class_name, class_path, kind, agent_alias, persisted_at, text"
_CALL_COLUMNS = (
    "session_id, call_id, parent_call_id, agent_alias, initiated_at, started_at, finished_at, error, "
    "call_node_hash_key, reply_node_hash_key"
)


def storable_text(text: str) -> str:
    """`text` as SQLite can hold it (UTF-8): each lone surrogate — half of an emoji that arrived in two streamed
    chunks, say — becomes U+FFFD, and a pair of surrogates the character it stands for.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


class _Where:
    """`WHERE` clauses joined by `AND`, with their parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.parameters: list[Any] = []

    def add(self, clause: str, *parameters: Any) -> None:
        self.clauses.append(clause)
        self.parameters.extend(storable_text(value) if isinstance(value, str) else value for value in parameters)

    def add_time_range(self, column: str, since: TimeBound, until: TimeBound) -> None:
        if since is not None:
            self.add(f"{column} >= ?", _timestamp(since))
        if until is not None:
            self.add(f"{column} <= ?", _timestamp(until))

    def __str__(self) -> str:
        return f" WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def find_message(connection: sqlite3.Connection, hash_key: str) -> StoredMessage | None:
    """The stored message `hash_key`, or `None`."""
    row = connection.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE hash_key = ?", (hash_key,)).fetchone()
    return None if row is None else StoredMessage(*row)


def find_messages(
    connection: sqlite3.Connection,
    *,
    text_index: bool,
    batched_text_index: bool = False,
    text: str | None = None,
    kind: MessageKind | None = None,
    class_name: str | None = None,
    agent_alias: str | None = None,
    since: TimeBound = None,
    until: TimeBound = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[StoredMessage]:
    """Stored messages matching every given filter, in the order they were persisted.

    `text_index`: use the FTS5 index for `text`; `batched_text_index`: it is filled in batches (schema version 2 and
    later), so the rows above `text_index_state.indexed_up_to` are matched with `LIKE` (a scan of the newest rows: at
    most about 50,000 when the store's own search did not index them first).
    """
    where = _Where()
    if text:
        if text_index and len(text) >= _MIN_TRIGRAM_QUERY:
            indexed = "SELECT rowid FROM messages_text WHERE messages_text MATCH ?"
            if batched_text_index:
                tail = (
                    "SELECT id FROM messages WHERE id > (SELECT indexed_up_to FROM text_index_state) AND text LIKE ?"
                )
                where.add(f"id IN ({indexed} UNION ALL {tail} ESCAPE '\\')", _phrase(text), f"%{_escape_like(text)}%")
            else:
                where.add(f"id IN ({indexed})", _phrase(text))
        else:
            where.add("text LIKE ? ESCAPE '\\'", f"%{_escape_like(text)}%")
    for column, value in (("kind", kind), ("class_name", class_name), ("agent_alias", agent_alias)):
        if value is not None:
            where.add(f"{column} = ?", value)
    where.add_time_range("persisted_at", since, until)
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages{where} ORDER BY persisted_at {order}, id {order}{_limit(limit)}"
    return [StoredMessage(*row) for row in connection.execute(sql, where.parameters)]


def find_calls(
    connection: sqlite3.Connection,
    *,
    session_id: str | None = None,
    agent_alias: str | None = None,
    call_id: int | None = None,
    top_level_only: bool = False,
    parent_call_id: int | None = None,
    node_hash_key: str | None = None,
    since: TimeBound = None,
    until: TimeBound = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[CallRecord]:
    """Recorded calls matching every given filter, in the order they were initiated."""
    where = _Where()
    if session_id is not None:
        where.add("session_id = ?", session_id)
    if agent_alias is not None:
        where.add("agent_alias = ?", agent_alias)
    if call_id is not None:
        where.add("call_id = ?", call_id)
    if top_level_only:
        where.add("parent_call_id IS NULL")
    if parent_call_id is not None:
        where.add("parent_call_id = ?", parent_call_id)
    if node_hash_key is not None:
        where.add("(call_node_hash_key = ? OR reply_node_hash_key = ?)", node_hash_key, node_hash_key)
    where.add_time_range("initiated_at", since, until)
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT {_CALL_COLUMNS} FROM calls{where} ORDER BY initiated_at {order}, call_id {order}{_limit(limit)}"
    return [CallRecord(*row) for row in connection.execute(sql, where.parameters)]


def find_references(
    connection: sqlite3.Connection,
    *,
    parent_hash_key: str | None = None,
    child_hash_key: str | None = None,
    field_path: str | None = None,
) -> list[MessageReference]:
    """References from and/or to a message, ordered by parent, field path and position.

    A parent's references are found by its key; the parents of a child by scanning the lists (see `schema`).
    """
    where = _Where()
    for column, value in (
        ("r.parent_hash_key", parent_hash_key),
        ("child.value", child_hash_key),
        ("r.field_path", field_path),
    ):
        if value is not None:
            where.add(f"{column} = ?", value)
    sql = (
        "SELECT r.parent_hash_key, r.field_path, child.key, child.value "
        f"FROM reference_lists r, json_each(r.child_hash_keys) child{where} "
        "ORDER BY r.parent_hash_key, r.field_path, child.key"
    )
    return [MessageReference(*row) for row in connection.execute(sql, where.parameters)]


def find_reply_nodes(connection: sqlite3.Connection, call_node_hash_key: str) -> list[StoredMessage]:
    """The stored reply nodes answering call node `call_node_hash_key` (several if the same call was repeated)."""
    columns = ", ".join(f"m.{column.strip()}" for column in _MESSAGE_COLUMNS.split(","))
    sql = (
        f"SELECT {columns} FROM reference_lists r JOIN messages m ON m.hash_key = r.parent_hash_key "
        "WHERE r.field_path = 'agent_call' AND r.child_hash_keys = ? AND m.kind = 'reply' "
        "ORDER BY m.persisted_at, m.id"
    )
    return [StoredMessage(*row) for row in connection.execute(sql, (reference_list([call_node_hash_key]),))]


def find_sessions(connection: sqlite3.Connection) -> list[SessionRecord]:
    """Every session, oldest first."""
    sql = "SELECT session_id, label, started_at FROM sessions ORDER BY started_at, session_id"
    return [SessionRecord(*row) for row in connection.execute(sql)]


def count_messages(connection: sqlite3.Connection) -> int:
    """How many messages are stored."""
    (count,) = connection.execute("SELECT count(*) FROM messages").fetchone()
    return int(count)


def _timestamp(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _limit(limit: int | None) -> str:
    return "" if limit is None else f" LIMIT {int(limit)}"


def _phrase(text: str) -> str:
    """An FTS5 phrase matching `text` as a substring (with the trigram tokenizer)."""
    return '"' + text.replace('"', '""') + '"'


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
