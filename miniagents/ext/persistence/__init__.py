"""Persistent history: every message and call record of your agents in a SQLite file, content-addressed.

    from miniagents.ext.persistence import SQLiteMessageStore

    store = SQLiteMessageStore("history.db")
    async with MiniAgents(on_persist_messages=[store.persist]) as mini_agents:
        store.attach(mini_agents)  # optional: also record which call made which (the call tree)
        ...
    await store.aflush()
    for run in store.runs():
        print(run.agent_alias, store.replies_of(run))

`SQLiteHistory("history.db")` reads a store file the way the notebook's `HistoryInspector` browses records, and
sums the tokens and cost of LLM calls recorded in it (`history.usage(call_id)`: a call with its sub-calls).

Only the standard library's `sqlite3` is used; writes happen in a writer thread, so the event loop does not wait for
the disk. The write queue is bounded (`max_pending`): agents faster than the disk are slowed to its pace.

The names below are imported on first use, so importing one submodule does not load the store.
"""

from typing import TYPE_CHECKING

from miniagents.promising._lazy import lazy_exports

if TYPE_CHECKING:
    from miniagents.ext.persistence.errors import (
        AmbiguousCallError,
        MessageNotFoundError,
        StoreClosedError,
        StoreError,
        StoreWriteError,
    )
    from miniagents.ext.persistence.history_source import SQLiteHistory
    from miniagents.ext.persistence.queries import (
        CallRecord,
        MessageKind,
        MessageReference,
        SessionRecord,
        StoredMessage,
        TimeBound,
    )
    from miniagents.ext.persistence.registry import register_message_class
    from miniagents.ext.persistence.store import CallLike, SQLiteMessageStore

__all__ = [
    "AmbiguousCallError",
    "CallLike",
    "CallRecord",
    "MessageKind",
    "MessageNotFoundError",
    "MessageReference",
    "SQLiteHistory",
    "SQLiteMessageStore",
    "SessionRecord",
    "StoreClosedError",
    "StoreError",
    "StoreWriteError",
    "StoredMessage",
    "TimeBound",
    "register_message_class",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "miniagents.ext.persistence.errors": [
            "AmbiguousCallError",
            "MessageNotFoundError",
            "StoreClosedError",
            "StoreError",
            "StoreWriteError",
        ],
        "miniagents.ext.persistence.history_source": ["SQLiteHistory"],
        "miniagents.ext.persistence.queries": [
            "CallRecord",
            "MessageKind",
            "MessageReference",
            "SessionRecord",
            "StoredMessage",
            "TimeBound",
        ],
        "miniagents.ext.persistence.registry": ["register_message_class"],
        "miniagents.ext.persistence.store": ["CallLike", "SQLiteMessageStore"],
    },
)
