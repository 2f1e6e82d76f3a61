"""Helpers of the SQLite store tests."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["back_to_version_2", "write_lock_held"]


@contextmanager
def write_lock_held(database: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holds the file's write lock: the store's writer cannot commit until it is released."""
    blocker = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield blocker
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()


def back_to_version_2(database: Path) -> None:
    """Rewrite a store file the way version 2 of the schema left it: a `message_references` row per nested message
    (indexed by child), every row in the agent alias index, no `reference_lists`."""
    with sqlite3.connect(database) as connection:
        connection.executescript(
            """
            CREATE TABLE message_references (
                parent_hash_key TEXT NOT NULL,
                field_path TEXT NOT NULL,
                position INTEGER NOT NULL,
                child_hash_key TEXT NOT NULL,
                PRIMARY KEY (parent_hash_key, field_path, position)
            ) WITHOUT ROWID;
            CREATE INDEX references_by_child ON message_references (child_hash_key);
            INSERT INTO message_references (parent_hash_key, field_path, position, child_hash_key)
                SELECT r.parent_hash_key, r.field_path, child.key, child.value
                FROM reference_lists r, json_each(r.child_hash_keys) child;
            DROP TABLE reference_lists;
            DROP INDEX messages_by_agent_alias;
            CREATE INDEX messages_by_agent ON messages (agent_alias, persisted_at);
            PRAGMA user_version = 2;
            """
        )
    connection.close()
