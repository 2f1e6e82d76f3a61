"""The SQLite schema of the message store, and how its connections are opened.

Tables:
- `messages`: one row per message, keyed by `hash_key` (content-addressed, so a message is stored once); `serialized`
  is `message.serialize()` as JSON, in which nested messages are `<field>__hash_key(s)` references.
- `reference_lists`: (parent hash_key, field path, child hash_keys) for every field holding nested messages, the
  children as a JSON array in their order (a field holding one message: an array of one), so records can be rebuilt
  and navigated both ways.
- `sessions` and `calls`: the call tree recorded from lifecycle events (`store.attach(mini_agents)`), which the
  content-only records cannot tell (a call does not know who made it).
- `messages_text`: an FTS5 trigram index of `messages.text` (substring search), when SQLite supports it, and
  `text_index_state`: the highest `messages.id` indexed so far.

The text index is filled in batches, not row by row: the writer indexes the rows above
`text_index_state.indexed_up_to` in one statement when a store's `search` asks for it (the search then waits for it),
or once about 50,000 texts are waiting — not as rows are written, nor by a flush or on closing (since schema version
3; version 2 indexed every thousand texts and before every flush), so a run that nobody searches does not pay for
its index, and one that is searched pays once, in one transaction (an FTS5 index costs mostly per transaction that
changes it: each one adds a segment to merge later). Searches see every committed row all the same: the rows not
indexed yet are matched with `LIKE` (`find_messages`) — the only way for a read-only reader (`SQLiteHistory`), which
cannot index, so a file never searched through a store is scanned for its last (at most about 50,000) texts. A
version 1 file (indexed by a trigger on insert) is converted when a store opens it for writing: the trigger is
dropped and its rows count as indexed.

Schema version 3 writes less per message, for the cost of a store attached to a run (issue 18):
- one `reference_lists` row per field instead of one `message_references` row per nested message: a reply node of ten
  replies is two rows, not eleven, and there is no index of children. What holds a given message is found by scanning
  the lists (`json_each`), except the reply nodes of a call node, which a small partial index finds
  (`references_by_call_node`, the `agent_call` fields only);
- `messages_by_agent_alias` indexes only the rows that have an agent alias (records, mostly), not every message.
Versions 1 and 2 files are converted when a store opens them for writing (`ensure_schema`); read-only connections to
them (`SQLiteHistory`) see their per-message references as `reference_lists` through a temporary view
(`prepare_reader`).
"""

import json
import logging
import os
import sqlite3
import string
from pathlib import Path

from miniagents.ext.persistence.errors import StoreError

__all__ = [
    "REQUIRED_TABLES",
    "SCHEMA_VERSION",
    "check_store_file",
    "ensure_schema",
    "has_pending_texts",
    "has_text_index",
    "index_pending_texts",
    "is_text_index_batched",
    "open_connection",
    "open_read_only",
    "prepare_reader",
    "reference_list",
    "store_path",
    "use_wal",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3

REQUIRED_TABLES = frozenset({"messages", "sessions", "calls"})
# the references of nested messages: `reference_lists` since version 3, `message_references` (a row each) before
_REFERENCE_TABLES = ("reference_lists", "message_references")
_REQUIRED_MESSAGE_COLUMNS = frozenset({"hash_key", "class_name", "class_path", "kind", "serialized"})

_TABLES = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    hash_key TEXT NOT NULL UNIQUE,
    class_name TEXT NOT NULL,
    class_path TEXT NOT NULL,
    kind TEXT NOT NULL,
    agent_alias TEXT,
    persisted_at REAL NOT NULL,
    text TEXT,
    serialized TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (persisted_at);
CREATE INDEX IF NOT EXISTS messages_by_kind ON messages (kind, persisted_at);
CREATE INDEX IF NOT EXISTS messages_by_agent_alias ON messages (agent_alias, persisted_at)
    WHERE agent_alias IS NOT NULL;

CREATE TABLE IF NOT EXISTS reference_lists (
    parent_hash_key TEXT NOT NULL,
    field_path TEXT NOT NULL,
    child_hash_keys TEXT NOT NULL,
    PRIMARY KEY (parent_hash_key, field_path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS references_by_call_node ON reference_lists (child_hash_keys)
    WHERE field_path = 'agent_call';

CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    label TEXT,
    started_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS calls (
    session_id TEXT NOT NULL,
    call_id INTEGER NOT NULL,
    parent_call_id INTEGER,
    agent_alias TEXT NOT NULL,
    initiated_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT,
    call_node_hash_key TEXT,
    reply_node_hash_key TEXT,
    PRIMARY KEY (session_id, call_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS calls_by_parent ON calls (session_id, parent_call_id);
CREATE INDEX IF NOT EXISTS calls_by_time ON calls (initiated_at);
CREATE INDEX IF NOT EXISTS calls_by_agent ON calls (agent_alias, initiated_at);
CREATE INDEX IF NOT EXISTS calls_by_call_node ON calls (call_node_hash_key);
CREATE INDEX IF NOT EXISTS calls_by_reply_node ON calls (reply_node_hash_key);
"""

_TEXT_INDEX = (
    "CREATE VIRTUAL TABLE messages_text USING fts5(text, content='messages', content_rowid='id', tokenize='trigram')",
    # nothing is indexed yet: rows written before the index existed (`full_text_search=False`) get indexed too
    "CREATE TABLE text_index_state (indexed_up_to INTEGER NOT NULL)",
    "INSERT INTO text_index_state (indexed_up_to) VALUES (0)",
)
_TEXT_INDEX_TRIGGER = "messages_text_on_insert"  # how version 1 kept the index up to date, row by row

# version 2 and older: a `message_references` row per nested message, and every row in the agent alias index
# their rows as `reference_lists` rows: each field's children in one JSON array, in their order
_GROUPED_REFERENCES = (
    "SELECT parent_hash_key, field_path, json_group_array(child_hash_key) AS child_hash_keys FROM "
    "(SELECT * FROM main.message_references ORDER BY parent_hash_key, field_path, position) "
    "GROUP BY parent_hash_key, field_path"
)
_CONVERT_REFERENCES = (
    "INSERT OR IGNORE INTO reference_lists (parent_hash_key, field_path, child_hash_keys) " + _GROUPED_REFERENCES,
    "DROP TABLE message_references",
    "DROP INDEX IF EXISTS messages_by_agent",
)
_REFERENCE_LISTS_VIEW = "CREATE TEMP VIEW IF NOT EXISTS reference_lists AS " + _GROUPED_REFERENCES

_INDEX_PENDING_TEXTS = (
    "INSERT INTO messages_text (rowid, text) SELECT id, text FROM messages "
    "WHERE id > (SELECT indexed_up_to FROM text_index_state) AND text IS NOT NULL",
    "UPDATE text_index_state SET indexed_up_to = (SELECT coalesce(max(id), 0) FROM messages)",
)


def reference_list(hash_keys: list[str]) -> str:
    """The `child_hash_keys` of a `reference_lists` row: a compact JSON array (for hex keys, the text SQLite's
    `json_array` writes).

    Hash keys are hex digits, which JSON writes as they are: joined directly when every key is made of ASCII letters
    and digits (a reply record's list is made for every call, and the JSON encoder escapes each key in turn); anything
    else goes through the encoder.
    """
    if not hash_keys:
        return "[]"
    joined = '","'.join(hash_keys)
    separators_only = b'","' * (len(hash_keys) - 1)
    if joined.isascii() and joined.encode("ascii").translate(None, _LETTERS_AND_DIGITS) == separators_only:
        return f'["{joined}"]'
    return json.dumps(hash_keys, separators=(",", ":"))


_LETTERS_AND_DIGITS = (string.ascii_letters + string.digits).encode("ascii")


def store_path(database: str | os.PathLike[str]) -> str:
    """The file name `database` stands for: `~` expanded; an empty name is refused (see below)."""
    path = os.fspath(database)
    if not isinstance(path, str):
        raise TypeError(f"The path of a message store is a str or os.PathLike[str], got {type(path).__name__}")
    if not path.strip():
        # SQLite would open a private temporary database per connection: the store's writer and reader would each
        # see a different, empty one
        raise StoreError(
            f"A message store needs the path of a file, got {path!r}; pass a file name such as 'history.db' (or "
            "':memory:' for a private in-memory store that is gone when it is closed)."
        )
    return path if path == ":memory:" else os.path.expanduser(path)


def open_connection(database: str, busy_timeout: float) -> sqlite3.Connection:
    """Open `database` in autocommit mode (transactions are explicit); nothing is read or written yet."""
    try:
        return sqlite3.connect(database, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise StoreError(
            f"Cannot open {database!r} as a SQLite message store (does its folder exist?): {error}"
        ) from error


def open_read_only(database: str, busy_timeout: float) -> sqlite3.Connection:
    """Open the existing file `database` for reading only: no journal mode switch, nothing written, nothing created.

    A store file is in WAL mode, and reading one needs its `-shm` index next to it: in a folder that cannot be written
    (nor holds the index already) SQLite cannot open it, so it is then opened as immutable — a snapshot that nobody
    can be changing, since no writer could create its files there either.
    """
    uri = Path(os.path.abspath(database)).as_uri()
    connection = _probe(f"{uri}?mode=ro", busy_timeout)
    if isinstance(connection, sqlite3.Connection):
        return connection
    error = connection
    if not os.access(os.path.dirname(os.path.abspath(database)), os.W_OK):
        snapshot = _probe(f"{uri}?immutable=1", busy_timeout)
        if isinstance(snapshot, sqlite3.Connection):
            return snapshot
    raise StoreError(f"Cannot open {database!r} as a SQLite message store: {error}") from error


def _probe(uri: str, busy_timeout: float) -> sqlite3.Connection | sqlite3.Error:
    """A connection to `uri` that could read the schema, or the error that prevented it."""
    try:
        connection = sqlite3.connect(
            uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as error:
        return error
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as error:
        connection.close()
        return error
    return connection


def check_store_file(
    connection: sqlite3.Connection,
    database: str,
    *,
    allow_empty: bool = True,
    advice: str = "It was left untouched; give the store a file of its own.",
) -> None:
    """Refuse what is not a message store file this version understands: another application's database, a newer
    store, a file that is not a SQLite database — with a `StoreError` that ends with `advice`. It only reads, so a
    refused file is left exactly as it was.

    An empty database (a new file) is fine if `allow_empty`: the store creates its tables in it.
    """
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        tables = sorted(
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            )
        )
        message_columns = {row[1] for row in connection.execute("PRAGMA table_info(messages)")}
    except sqlite3.DatabaseError as error:
        raise StoreError(f"Cannot open {database!r} as a SQLite message store: {error}") from error
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{database!r} was written by a newer version of the message store (schema {version}, this one reads "
            f"up to {SCHEMA_VERSION}); upgrade miniagents to open it."
        )
    if allow_empty and not tables and version == 0:
        return
    missing = sorted(REQUIRED_TABLES - set(tables))
    if not any(table in tables for table in _REFERENCE_TABLES):
        missing = sorted([*missing, _REFERENCE_TABLES[0]])
    missing_columns = sorted(_REQUIRED_MESSAGE_COLUMNS - message_columns) if "messages" in tables else []
    if missing or missing_columns or version == 0:
        if missing:
            lacks = f"it has no {', '.join(missing)} table"
        elif missing_columns:
            lacks = f"its messages table has no {', '.join(missing_columns)} column"
        else:
            lacks = "its schema version is 0"
        found = ", ".join(tables[:10]) + (f" and {len(tables) - 10} more" if len(tables) > 10 else "")
        raise StoreError(
            f"{database!r} is not a message store file ({lacks}; it holds "
            f"{'the tables ' + found if found else 'no tables'}, schema version {version}). {advice}"
        )


def use_wal(connection: sqlite3.Connection, database: str) -> None:
    """Switch the file to the WAL journal with `synchronous=NORMAL` (a file setting: it stays so).

    WAL lets readers work while the writer commits, and with `synchronous=NORMAL` a commit survives the process
    being killed (only a power loss can undo the last commits), at a fraction of the cost of `FULL`.
    """
    try:
        (journal_mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
        if journal_mode.lower() != "wal":
            logger.warning("SQLite refused WAL mode for %s (journal mode is %r)", database, journal_mode)
        connection.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as error:
        raise StoreError(f"Cannot open {database!r} as a SQLite message store: {error}") from error


def ensure_schema(connection: sqlite3.Connection, database: str, text_index: bool) -> None:
    """Create the tables (and the text index if `text_index` and SQLite has FTS5 trigrams) unless they exist.

    Runs in one `BEGIN IMMEDIATE` transaction, so two stores opening the same new file do not race.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        check_store_file(connection, database)  # again: another store may have created the tables meanwhile
        for statement in _TABLES.split(";"):
            if statement.strip():
                connection.execute(statement)
        _convert_version_1_text_index(connection)
        if _has_table(connection, "message_references"):
            for statement in _CONVERT_REFERENCES:
                connection.execute(statement)
        if text_index and not has_text_index(connection):
            connection.execute("SAVEPOINT text_index")
            try:
                for statement in _TEXT_INDEX:
                    connection.execute(statement)
            except sqlite3.OperationalError as error:
                connection.execute("ROLLBACK TO text_index")
                logger.info("No FTS5 trigram index (%s): text search falls back to LIKE", error)
            connection.execute("RELEASE text_index")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException as error:
        connection.execute("ROLLBACK")
        if isinstance(error, sqlite3.DatabaseError):
            raise StoreError(f"Cannot prepare {database!r} as a SQLite message store: {error}") from error
        raise


def prepare_reader(connection: sqlite3.Connection) -> None:
    """Let a connection read the references of a version 1 or 2 file (not converted yet: nobody wrote to it since) as
    `reference_lists`, through a temporary view; a newer file needs nothing.

    The view lives in the connection only (read-only connections may have one): the file is not touched.
    """
    if not _has_table(connection, "reference_lists") and _has_table(connection, "message_references"):
        connection.execute(_REFERENCE_LISTS_VIEW)


def has_text_index(connection: sqlite3.Connection) -> bool:
    """Whether the database has the FTS5 index of message texts."""
    return _has_table(connection, "messages_text")


def is_text_index_batched(connection: sqlite3.Connection) -> bool:
    """Whether the text index is filled in batches (version 2 and later: rows above `indexed_up_to` may not be indexed
    yet)."""
    return _has_table(connection, "text_index_state")


def has_pending_texts(connection: sqlite3.Connection) -> bool:
    """Whether some committed text is not indexed yet (the file must have the index)."""
    row = connection.execute(
        "SELECT 1 FROM messages WHERE id > (SELECT indexed_up_to FROM text_index_state) AND text IS NOT NULL LIMIT 1"
    ).fetchone()
    return row is not None


def index_pending_texts(connection: sqlite3.Connection) -> None:
    """Index the texts of the rows not indexed yet (inside the caller's transaction; the file must have the index)."""
    for statement in _INDEX_PENDING_TEXTS:
        connection.execute(statement)


def _has_table(connection: sqlite3.Connection, name: str) -> bool:
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


def _convert_version_1_text_index(connection: sqlite3.Connection) -> None:
    """A version 1 file keeps its index up to date by a trigger: drop it, and count every row as indexed."""
    trigger = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_TEXT_INDEX_TRIGGER,)
    ).fetchone()
    if trigger is None or is_text_index_batched(connection):
        return
    connection.execute(f"DROP TRIGGER {_TEXT_INDEX_TRIGGER}")
    connection.execute("CREATE TABLE text_index_state (indexed_up_to INTEGER NOT NULL)")
    connection.execute("INSERT INTO text_index_state (indexed_up_to) SELECT coalesce(max(id), 0) FROM messages")
