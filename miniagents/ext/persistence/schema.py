"""The SQLite schema of the message store, and how its connections are opened.

Tables:
- `messages`: one row per message, keyed by `hash_key` (content-addressed, so a message is stored once); `serialized`
  is `message.serialize()` as JSON, in which nested messages are `<field>__hash_key(s)` references.
- `message_references`: (parent hash_key, field path, position, child hash_key) for every such reference, so records
  can be rebuilt and navigated both ways.
- `sessions` and `calls`: the call tree recorded from lifecycle events (`store.attach(mini_agents)`), which the
  content-only records cannot tell (a call does not know who made it).
- `messages_text`: an FTS5 trigram index of `messages.text` (substring search), when SQLite supports it.
"""

import logging
import sqlite3

from miniagents.ext.persistence.errors import StoreError

__all__ = ["SCHEMA_VERSION", "connect", "ensure_schema", "has_text_index"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

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
CREATE INDEX IF NOT EXISTS messages_by_agent ON messages (agent_alias, persisted_at);

CREATE TABLE IF NOT EXISTS message_references (
    parent_hash_key TEXT NOT NULL,
    field_path TEXT NOT NULL,
    position INTEGER NOT NULL,
    child_hash_key TEXT NOT NULL,
    PRIMARY KEY (parent_hash_key, field_path, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS references_by_child ON message_references (child_hash_key);

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
    "CREATE TRIGGER messages_text_on_insert AFTER INSERT ON messages WHEN new.text IS NOT NULL BEGIN "
    "INSERT INTO messages_text (rowid, text) VALUES (new.id, new.text); END",
    # rows written before the index existed (by a store opened with `full_text_search=False`) get indexed too
    "INSERT INTO messages_text (messages_text) VALUES ('rebuild')",
)


def connect(database: str, busy_timeout: float) -> sqlite3.Connection:
    """Open `database` in autocommit mode (transactions are explicit), WAL journal, `synchronous=NORMAL`.

    WAL lets readers work while the writer commits, and with `synchronous=NORMAL` a commit survives the process
    being killed (only a power loss can undo the last commits), at a fraction of the cost of `FULL`.
    """
    try:
        connection = sqlite3.connect(database, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise StoreError(
            f"Cannot open {database!r} as a SQLite message store (does its folder exist?): {error}"
        ) from error
    try:
        if database != ":memory:":
            (journal_mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
            if journal_mode.lower() != "wal":
                logger.warning("SQLite refused WAL mode for %s (journal mode is %r)", database, journal_mode)
        connection.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise StoreError(f"Cannot open {database!r} as a SQLite message store: {error}") from error
    return connection


def ensure_schema(connection: sqlite3.Connection, database: str, text_index: bool) -> None:
    """Create the tables (and the text index if `text_index` and SQLite has FTS5 trigrams) unless they exist.

    Runs in one `BEGIN IMMEDIATE` transaction, so two stores opening the same new file do not race.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{database!r} was written by a newer version of the message store (schema {version}, this one "
                f"reads up to {SCHEMA_VERSION}); upgrade miniagents to open it."
            )
        for statement in _TABLES.split(";"):
            if statement.strip():
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


def has_text_index(connection: sqlite3.Connection) -> bool:
    """Whether the database has the FTS5 index of message texts."""
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages_text'").fetchone()
    return row is not None
