"""Crash safety: a writer killed with SIGKILL mid-write leaves a sound database holding every committed batch."""

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from store_writer_script import batch_messages

from miniagents.ext.persistence import SQLiteMessageStore

WRITER_SCRIPT = Path(__file__).with_name("store_writer_script.py")
ROUNDS = 3
REPORTS_BEFORE_KILL = 4


def _write_until_killed(database: Path, first_batch: int) -> int:
    """Run the writer; after `REPORTS_BEFORE_KILL` reports, SIGKILL it. Return the last batch reported committed."""
    process = subprocess.Popen(
        [sys.executable, str(WRITER_SCRIPT), str(database), str(first_batch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed: list[int] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            word, batch = line.split()
            assert word == "committed"
            committed.append(int(batch))
            if len(committed) == REPORTS_BEFORE_KILL:
                os.kill(process.pid, signal.SIGKILL)  # the writer is busy with later batches by now
                break
    finally:
        process.kill()
        _, errors = process.communicate(timeout=30)
    assert len(committed) == REPORTS_BEFORE_KILL, f"the writer stopped early:\n{errors}"
    assert process.returncode == -signal.SIGKILL
    assert committed == sorted(committed)
    return committed[-1]


def test_a_killed_writer_leaves_every_committed_batch_intact(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    next_batch = 0
    for _ in range(ROUNDS):  # each round reopens what the previous kill left behind and writes on
        first_batch = next_batch
        next_batch = _write_until_killed(database, first_batch) + 1

        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        with SQLiteMessageStore(database) as store:
            for batch in range(first_batch, next_batch):
                expected = batch_messages(batch)
                assert store.load_many(message.hash_key for message in expected) == tuple(expected)
                answers = [
                    found for found in store.search(f"batch {batch} answer") if found.class_name == "TextMessage"
                ]
                assert len(answers) == 3 * len(expected)
