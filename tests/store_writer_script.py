"""Helper of `test_sqlite_store_crash.py`: writes batches of messages until killed.

    python tests/store_writer_script.py history.db FIRST_BATCH

A producer thread queues batch after batch without waiting; the main thread flushes again and again and, when a
flush returns, prints `committed N` for the last batch that was fully queued before it. The test then knows which
batches must survive when it kills the process with SIGKILL while the writer is busy with later ones.
"""

import sys
import threading

from miniagents import Message, TextMessage
from miniagents.ext.persistence import SQLiteMessageStore

__all__ = ["batch_messages", "main"]

BATCH_SIZE = 50
MAX_BATCHES_AHEAD = 3


def batch_messages(batch: int) -> list[Message]:
    """The messages of batch `batch` (the same in the writer and in the test): nested ones, so references too."""
    return [
        Message(
            batch=batch,
            number=number,
            question=TextMessage(f"batch {batch} question {number}"),
            answers=tuple(
                TextMessage(f"batch {batch} answer {number}.{index}", score=index / 4) for index in range(3)
            ),
            padding="x" * 500,
        )
        for number in range(BATCH_SIZE)
    ]


def main(database: str, first_batch: int) -> None:
    store = SQLiteMessageStore(database)
    fully_queued = first_batch - 1
    batches_ahead = threading.Semaphore(MAX_BATCHES_AHEAD)

    def produce() -> None:
        nonlocal fully_queued
        batch = first_batch
        while True:
            batches_ahead.acquire()
            for message in batch_messages(batch):
                store.save(message)
            fully_queued = batch
            batch += 1

    # the producer queues ahead of the commits, so the writer thread is always in the middle of something
    threading.Thread(target=produce, daemon=True).start()
    reported = first_batch - 1
    while True:
        batch = fully_queued
        store.flush()  # everything queued before this call is committed when it returns
        if batch > reported:
            print(f"committed {batch}", flush=True)
            batches_ahead.release(batch - reported)
            reported = batch


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
