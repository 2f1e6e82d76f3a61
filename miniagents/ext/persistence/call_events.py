"""Recording the call tree from lifecycle events into the `calls` table.

Records are content-only: an `AgentCallNode` says who was called with what, not which call made it, and two
identical calls share one node. The lifecycle events do know (`CallInitiated.parent_call_id`), so an attached store
keeps one `calls` row per call of a session.

Two writes per call: the row is inserted when the call is initiated (so a crash leaves the calls that were under way
in the tree), and updated once when it is recorded — with when it started and finished, its error and its records,
kept in memory until then. Both are `INSERT ... VALUES` statements (the update an upsert of the whole row), which the
writer writes many rows at a time (`writer.execute_rows`). A call that finished but is never recorded (its records
failed, or nobody persists them) gets its update when the store is flushed by its `MiniAgents` (the end of the
`async with` block) or detached.
"""

from collections.abc import Awaitable, Callable

from miniagents.ext.persistence.queries import storable_text
from miniagents.ext.persistence.writer import StatementOp
from miniagents.lifecycle import AgentCallEvent, CallFinished, CallInitiated, CallRecorded, CallStarted
from miniagents.miniagent_typing import PersistMessagesEventHandler

__all__ = ["CallEventRecorder"]

_WHERE_CALL = " WHERE session_id = ? AND call_id = ?"
_INSERT_CALL = (
    "INSERT OR IGNORE INTO calls (session_id, call_id, parent_call_id, agent_alias, initiated_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_UPDATE_TIMES = "UPDATE calls SET started_at = ?, finished_at = ?, error = ?" + _WHERE_CALL
_UPSERT_RECORDED = (
    "INSERT INTO calls (session_id, call_id, parent_call_id, agent_alias, initiated_at, started_at, finished_at, "
    "error, call_node_hash_key, reply_node_hash_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (session_id, call_id) DO UPDATE SET started_at = excluded.started_at, "
    "finished_at = excluded.finished_at, error = excluded.error, call_node_hash_key = excluded.call_node_hash_key, "
    "reply_node_hash_key = excluded.reply_node_hash_key"
)
_UPDATE_NODES = "UPDATE calls SET call_node_hash_key = ?, reply_node_hash_key = ?" + _WHERE_CALL


class _CallTimes:
    """What the events told of a call since its row was inserted: not written yet (and what the row was inserted
    with, so the update can be an upsert of the whole row)."""

    __slots__ = ("agent_alias", "error", "finished", "finished_at", "initiated_at", "parent_call_id", "started_at")

    def __init__(self, parent_call_id: int | None, agent_alias: str, initiated_at: float) -> None:
        self.parent_call_id = parent_call_id
        self.agent_alias = agent_alias
        self.initiated_at = initiated_at
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.error: str | None = None
        self.finished = False


class CallEventRecorder:
    """The observer (`miniagents.observers`) that `SQLiteMessageStore.attach` attaches for one session.

    `on_call_event` turns the lifecycle events into queued `calls` statements (cheap, inline; two per call, see the
    module docstring); `on_persist_message` is the store's `persist`, so the engine builds the records and every
    message reaches the store (when the store is a persist handler of that `MiniAgents` already, `attach` subscribes
    no second one). `aflush()` writes what it holds and waits until the store committed what was queued; `aclose()`
    does the same — the store itself, which other sessions may share, is closed by its owner (`store.aclose()`).
    """

    def __init__(
        self,
        session_id: str,
        submit: Callable[[StatementOp], None],
        persist: PersistMessagesEventHandler,
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        self.session_id = session_id
        self.on_persist_message = persist
        self._submit = submit
        self._flush = flush
        self._unwritten: dict[int, _CallTimes] = {}
        self._handlers: dict[type, Callable[[AgentCallEvent], None]] = {
            CallInitiated: self._initiated,  # type: ignore[dict-item]
            CallStarted: self._started,  # type: ignore[dict-item]
            CallFinished: self._finished,  # type: ignore[dict-item]
            CallRecorded: self._recorded,  # type: ignore[dict-item]
        }

    # the events it records; an engine that honours `call_event_types` hands it only these (a run's most frequent
    # events, its messages appearing, are of no use to the call tree)
    call_event_types = (CallInitiated, CallStarted, CallFinished, CallRecorded)

    def __repr__(self) -> str:
        return f"<CallEventRecorder of session {self.session_id!r}>"

    def on_call_event(self, event: AgentCallEvent) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    async def aflush(self) -> None:
        self.write_unrecorded()
        await self._flush()

    async def aclose(self) -> None:
        await self.aflush()

    def write_unrecorded(self) -> None:
        """Queue the times of the calls not recorded yet: the finished ones are done with, the others stay."""
        for call_id, times in list(self._unwritten.items()):
            if times.started_at is None and not times.finished:
                continue  # nothing new to say about it
            self._submit(
                StatementOp(_UPDATE_TIMES, (times.started_at, times.finished_at, times.error, *self._key(call_id)))
            )
            if times.finished:
                del self._unwritten[call_id]

    def _key(self, call_id: int) -> tuple[str, int]:
        return self.session_id, call_id

    def _initiated(self, event: CallInitiated) -> None:
        times = _CallTimes(event.parent_call_id, storable_text(event.agent_alias), event.time)
        self._unwritten[event.call_id] = times
        self._submit(
            StatementOp(
                _INSERT_CALL,
                (self.session_id, event.call_id, times.parent_call_id, times.agent_alias, times.initiated_at),
            )
        )

    def _started(self, event: CallStarted) -> None:
        times = self._unwritten.get(event.call_id)
        if times is not None:
            times.started_at = event.time

    def _finished(self, event: CallFinished) -> None:
        times = self._unwritten.get(event.call_id)
        if times is not None:
            times.finished_at = event.time
            times.finished = True
            if event.error is not None:
                times.error = storable_text(f"{type(event.error).__name__}: {event.error}")

    def _recorded(self, event: CallRecorded) -> None:
        times = self._unwritten.pop(event.call_id, None)
        nodes = (event.call_node.hash_key, event.reply_node.hash_key)
        if times is None:  # its times were written already (by a flush), or it started before `attach`
            self._submit(StatementOp(_UPDATE_NODES, (*nodes, *self._key(event.call_id))))
        else:
            parameters = (
                *self._key(event.call_id),
                times.parent_call_id,
                times.agent_alias,
                times.initiated_at,
                times.started_at,
                times.finished_at,
                times.error,
                *nodes,
            )
            self._submit(StatementOp(_UPSERT_RECORDED, parameters))
