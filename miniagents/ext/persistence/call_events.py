"""Recording the call tree from lifecycle events into the `calls` table.

Records are content-only: an `AgentCallNode` says who was called with what, not which call made it, and two
identical calls share one node. The lifecycle events do know (`CallInitiated.parent_call_id`), so an attached store
keeps one `calls` row per call of a session, updated as the call starts, finishes and is recorded.
"""

from collections.abc import Callable

from miniagents.ext.persistence.queries import storable_text
from miniagents.ext.persistence.writer import StatementOp
from miniagents.lifecycle import AgentCallEvent, CallFinished, CallInitiated, CallRecorded, CallStarted

__all__ = ["CallEventRecorder"]

_WHERE_CALL = " WHERE session_id = ? AND call_id = ?"


class CallEventRecorder:
    """An `on_call_event` handler: turns the events of one session into queued `calls` statements (cheap, inline)."""

    def __init__(self, session_id: str, submit: Callable[[StatementOp], None]) -> None:
        self.session_id = session_id
        self._submit = submit

    def __call__(self, event: AgentCallEvent) -> None:
        statement = self._statement(event)
        if statement is not None:
            self._submit(statement)

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
