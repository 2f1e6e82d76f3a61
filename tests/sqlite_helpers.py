"""Helpers of the SQLite store tests."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["write_lock_held"]


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
