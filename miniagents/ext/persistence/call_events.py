"""Recording the call tree from lifecycle events into the `calls` table.

Records are content-only: an `AgentCallNode` says who was called with what, not which call made it, and two
identical calls share one node. The lifecycle events do know (`CallInitiated.parent_call_id`), so an attached store
keeps one `calls` row per call of a session, updated as the call starts, finishes and is recorded.
"""

from collections.abc import Awaitable, Callable

from miniagents.ext.persistence.queries import storable_text
from miniagents.ext.persistence.writer import StatementOp
from miniagents.lifecycle import AgentCallEvent, CallFinished, CallInitiated, CallRecorded, CallStarted
from miniagents.miniagent_typing import PersistMessagesEventHandler

__all__ = ["CallEventRecorder"]

_WHERE_CALL = " WHERE session_id = ? AND call_id = ?"


class CallEventRecorder:
    """The observer (`miniagents.observers`) that `SQLiteMessageStore.attach` attaches for one session.

    `on_call_event` turns the lifecycle events into queued `calls` statements (cheap, inline); `on_persist_message`
    is the store's `persist`, so the engine builds the records and every message reaches the store (when the store is
    a persist handler of that `MiniAgents` already, `attach` subscribes no second one). `aflush()` waits until the
    store committed what was queued; `aclose()` does the same — the store itself, which other sessions may share, is
    closed by its owner (`store.aclose()`).
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

    def __repr__(self) -> str:
        return f"<CallEventRecorder of session {self.session_id!r}>"

    def on_call_event(self, event: AgentCallEvent) -> None:
        statement = self._statement(event)
        if statement is not None:
            self._submit(statement)

    async def aflush(self) -> None:
        await self._flush()

    async def aclose(self) -> None:
        await self._flush()

    def _statement(self, event: AgentCallEvent) -> StatementOp | None:
        key = (self.session_id, event.call_id)
        if isinstance(event, CallInitiated):
            return StatementOp(
                "INSERT OR IGNORE INTO calls (session_id, call_id, parent_call_id, agent_alias, initiated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (*key, event.parent_call_id, storable_text(event.agent_alias), event.time),
            )
        if isinstance(event, CallStarted):
            return StatementOp("UPDATE calls SET started_at = ?" + _WHERE_CALL, (event.time, *key))
        if isinstance(event, CallFinished):
            error = None if event.error is None else storable_text(f"{type(event.error).__name__}: {event.error}")
            return StatementOp("UPDATE calls SET finished_at = ?, error = ?" + _WHERE_CALL, (event.time, error, *key))
        if isinstance(event, CallRecorded):
            return StatementOp(
                "UPDATE calls SET call_node_hash_key = ?, reply_node_hash_key = ?" + _WHERE_CALL,
                (event.call_node.hash_key, event.reply_node.hash_key, *key),
            )
        return None
