"""`SQLiteHistory`: the records of a message store file, read the way a history inspector browses them.

    from miniagents.ext.persistence import SQLiteHistory
    from miniagents_notebook import HistoryInspector

    HistoryInspector(SQLiteHistory("history.db"))  # a file written in an earlier session

It answers the questions of the `HistorySource` protocol (`miniagents.history`) — which calls were recorded (filtered
by agent and text), the records of one call, a message by hash key, the calls a call made — straight from the tables,
through a read-only connection of its own, so it needs nothing that was in memory when the file was written.
"""

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar

from miniagents.ext.persistence.errors import StoreClosedError
from miniagents.ext.persistence.queries import CallRecord, find_calls, find_messages, storable_text
from miniagents.ext.persistence.schema import (
    check_store_file,
    has_text_index,
    is_text_index_batched,
    open_read_only,
    prepare_reader,
)
from miniagents.ext.persistence.store import SQLiteMessageStore
from miniagents.ext.persistence.usage import add_usage, own_usage_by_call, subtree_usage, zero_usage
from miniagents.records import RecordedCall

__all__ = ["SQLiteHistory"]

_T = TypeVar("_T")

_MESSAGE_CACHE_SIZE = 4096

# reply nodes that no `calls` row points to: records persisted without `store.attach` (no call tree for them)
_UNATTACHED_REPLIES = (
    "SELECT m.hash_key, m.agent_alias, m.persisted_at, json_extract(r.child_hash_keys, '$[0]') FROM messages m "
    "JOIN reference_lists r ON r.parent_hash_key = m.hash_key AND r.field_path = 'agent_call' "
    "WHERE m.kind = 'reply' AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.reply_node_hash_key = m.hash_key)"
)


class SQLiteHistory:
    """The recorded calls of a `SQLiteMessageStore` file, as a `HistorySource` (e.g. for the notebook's inspector).

    `source` is the path of a store file, or a `SQLiteMessageStore` (flushed first, so that what it was handed so far
    is visible). Every question is answered from the file when it is asked: calls recorded later (by a store still
    writing to it) show up in the next answer — `inspector.flush()` re-reads. Messages come back serialised
    (`message.serialize()`, keys in sorted order as stored): nested messages are `<field>__hash_key(s)` references.
    To rebuild `Message` objects instead, open a `SQLiteMessageStore` on the file and `load()` them.

    The file is opened read-only: browsing never changes it (nor its journal mode), and a store in a read-only folder
    can be browsed too. A path may start with `~`.

    Only calls whose records were persisted are listed (a call still running, or made without `on_persist_messages`
    handlers, has no records). Calls recorded by `store.attach(...)` come with the call tree; records persisted with
    `store.persist` alone are listed too, without parents and sub-calls.
    """

    def __init__(self, source: SQLiteMessageStore | str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        if isinstance(source, SQLiteMessageStore):
            if source.database == ":memory:":
                raise ValueError(
                    "An in-memory SQLiteMessageStore cannot be read from another connection; give the store a file "
                    "(SQLiteMessageStore('history.db')), or browse a live run with an InMemoryHistory."
                )
            source.flush()
            database = source.database
        else:
            database = os.fspath(source)
            if database.strip() and database != ":memory:":
                database = os.path.expanduser(database)
            if not os.path.isfile(database):
                raise FileNotFoundError(
                    f"No message store file at {database!r}; pass the path of a file written by SQLiteMessageStore "
                    f"(the current folder is {os.getcwd()!r})."
                )
        self.database = database
        # read-only: a store file is never changed by browsing it, and one in a read-only folder can be browsed
        self._connection = open_read_only(database, busy_timeout)
        self._lock = threading.Lock()
        self._closed = False
        self._message_cache: OrderedDict[str, str] = OrderedDict()
        try:
            self._text_index = self._check_schema()
            prepare_reader(self._connection)
            self._batched_text_index = is_text_index_batched(self._connection)
        except BaseException:
            self._connection.close()
            raise

    def _check_schema(self) -> bool:
        check_store_file(
            self._connection, self.database, allow_empty=False, advice="Pass a file written by SQLiteMessageStore."
        )
        return has_text_index(self._connection)

    def __repr__(self) -> str:
        return f"<SQLiteHistory {self.database!r}{' closed' if self._closed else ''}>"

    def close(self) -> None:
        """Close the connection to the file (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- HistorySource -----------------------------------------------------------------------------------------

    def list_calls(self, agent_alias: str | None = None, text: str | None = None) -> list[RecordedCall]:
        """Recorded calls in the order they were made; only those of `agent_alias` / containing `text`, if given.

        A call contains `text` (ignoring case) when its agent's alias, its keyword arguments or the text of one of
        its input or reply messages does.
        """
        calls = self._read(_all_calls)
        if agent_alias is not None:
            calls = [call for call in calls if call.agent_alias == agent_alias]
        if text:
            nodes = self._read(
                lambda connection: _nodes_containing(connection, text, self._text_index, self._batched_text_index)
            )
            needle = text.casefold()
            calls = [
                call
                for call in calls
                if call.call_hash_key in nodes or call.reply_hash_key in nodes or needle in call.agent_alias.casefold()
            ]
        return calls

    def get_call(self, call_id: str) -> RecordedCall | None:
        """The recorded call `call_id` (as `list_calls` names it), or `None`."""
        session_id, separator, number = call_id.rpartition("/")
        if not separator:
            found_unattached = self._read(lambda connection: _unattached_calls(connection, call_id))
            return found_unattached[0][1] if found_unattached else None
        if not number.isdigit():
            return None
        found = self._read(lambda connection: find_calls(connection, session_id=session_id, call_id=int(number)))
        return next(_recorded(found), None)

    def get_message(self, hash_key: str) -> dict[str, Any] | None:
        """The stored message `hash_key` serialised (`message.serialize()`), or `None` if it is not stored."""
        serialized = self._read(lambda connection: self._serialized(connection, hash_key))
        return None if serialized is None else json.loads(serialized)

    def sub_calls(self, call_id: str) -> list[RecordedCall]:
        """The recorded calls the agent of `call_id` made, in the order it made them."""
        session_id, separator, number = call_id.rpartition("/")
        if not separator or not number.isdigit():
            return []
        found = self._read(
            lambda connection: find_calls(connection, session_id=session_id, parent_call_id=int(number))
        )
        return list(_recorded(found))

    # --- usage ---------------------------------------------------------------------------------------------------

    def usage(self, call_id: str | None = None, *, session_id: str | None = None) -> dict[str, Any]:
        """Tokens and cost of LLM replies: of call `call_id` *and every call below it* (a root call: its whole run), of
        every call of `session_id` (one `MiniAgents` block the store was attached to), or of the whole file.

        The totals have the shape of the live `UsageTotals` observer's: `input_tokens`, `output_tokens`,
        `cached_tokens`, `llm_calls` and `cost_usd` (see `miniagents.ext.persistence.usage` for how a reply passed
        on by its callers is counted once). `call_id` is as `list_calls` names it (`"<session id>/<number>"`).
        """
        if call_id is not None:
            if session_id is not None:
                raise ValueError("Pass call_id or session_id to SQLiteHistory.usage(), not both.")
            key = _tree_key(call_id)
            totals = self._read(lambda connection: subtree_usage(connection, key[0])) if key is not None else {}
            if key not in totals:
                raise ValueError(
                    f"No call {call_id!r} in the call tree of {self.database!r}: usage is summed over the calls a "
                    "store recorded while attached (`store.attach(mini_agents)`); pass a call_id from list_calls()."
                )
            return totals[key]
        total = zero_usage()
        for own in self._read(lambda connection: own_usage_by_call(connection, session_id)).values():
            add_usage(total, own)
        return total

    def usage_by_call(self, session_id: str | None = None) -> dict[str, dict[str, Any]]:
        """`usage(call_id)` of every call in the call tree (of `session_id`, or of the file), by call id."""
        totals = self._read(lambda connection: subtree_usage(connection, session_id))
        return {_call_id(*key): total for key, total in totals.items()}

    def __len__(self) -> int:
        return len(self.list_calls())

    # --- helpers -----------------------------------------------------------------------------------------------

    def _read(self, query: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"This SQLiteHistory of {self.database!r} is closed; open a new one.")
            return query(self._connection)

    def _serialized(self, connection: sqlite3.Connection, hash_key: str) -> str | None:
        # messages are content-addressed: what is stored under a hash key never changes, so it can be kept
        serialized = self._message_cache.get(hash_key)
        if serialized is not None:
            self._message_cache.move_to_end(hash_key)
            return serialized
        row = connection.execute("SELECT serialized FROM messages WHERE hash_key = ?", (hash_key,)).fetchone()
        if row is None:
            return None
        self._message_cache[hash_key] = row[0]
        if len(self._message_cache) > _MESSAGE_CACHE_SIZE:
            self._message_cache.popitem(last=False)
        return row[0]


def _call_id(session_id: str, call_id: int) -> str:
    return f"{session_id}/{call_id}"


def _tree_key(call_id: str) -> tuple[str, int] | None:
    """(session id, number) of a call id of the call tree (`None` for the id of a call recorded without one)."""
    session_id, separator, number = call_id.rpartition("/")
    return (session_id, int(number)) if separator and number.isdigit() else None


def _stored_call(record: CallRecord) -> RecordedCall | None:
    """The call of `record` if its records were persisted (not while it runs, nor without persist handlers)."""
    if record.call_node_hash_key is None or record.reply_node_hash_key is None:
        return None
    return RecordedCall(
        call_id=_call_id(record.session_id, record.call_id),
        agent_alias=record.agent_alias,
        call_hash_key=record.call_node_hash_key,
        reply_hash_key=record.reply_node_hash_key,
        parent_call_id=None if record.parent_call_id is None else _call_id(record.session_id, record.parent_call_id),
    )


def _recorded(records: list[CallRecord]) -> Iterator[RecordedCall]:
    return (call for call in map(_stored_call, records) if call is not None)


def _unattached_calls(
    connection: sqlite3.Connection, reply_hash_key: str | None = None
) -> list[tuple[float, RecordedCall]]:
    """Calls known from their records alone (no call tree), with when they were stored (`reply_hash_key`: that one)."""
    sql = _UNATTACHED_REPLIES + (" AND m.hash_key = ?" if reply_hash_key is not None else "")
    parameters = () if reply_hash_key is None else (reply_hash_key,)
    return [
        (
            persisted_at,
            RecordedCall(call_id=hash_key, agent_alias=alias, call_hash_key=call_key, reply_hash_key=hash_key),
        )
        for hash_key, alias, persisted_at, call_key in connection.execute(
            f"{sql} ORDER BY m.persisted_at, m.id", parameters
        )
    ]


def _all_calls(connection: sqlite3.Connection) -> list[RecordedCall]:
    """Every recorded call: the attached ones by when they were initiated, the others by when they were stored."""
    timed = [
        (record.initiated_at, call) for record in find_calls(connection) if (call := _stored_call(record)) is not None
    ]
    timed += _unattached_calls(connection)
    # the sort is stable: calls of the same instant keep the order their query gave them
    return [call for _, call in sorted(timed, key=lambda pair: pair[0])]


def _nodes_containing(
    connection: sqlite3.Connection, text: str, text_index: bool, batched_text_index: bool
) -> set[str]:
    """Hash keys of the call and reply nodes that hold a message containing `text`, or whose kwargs contain it."""
    found = find_messages(connection, text_index=text_index, batched_text_index=batched_text_index, text=text)
    # one scan of the lists for all of them (a child is not indexed, see `schema`)
    nodes = {
        parent
        for (parent,) in connection.execute(
            "SELECT DISTINCT r.parent_hash_key FROM reference_lists r, json_each(r.child_hash_keys) child "
            "WHERE r.field_path IN ('messages', 'replies') AND child.value IN (SELECT value FROM json_each(?))",
            (json.dumps([stored.hash_key for stored in found]),),
        )
    }
    pattern = "%" + storable_text(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    nodes.update(
        hash_key
        for (hash_key,) in connection.execute(
            "SELECT hash_key FROM messages WHERE kind = 'call' AND serialized LIKE ? ESCAPE '\\'", (pattern,)
        )
    )
    return nodes
