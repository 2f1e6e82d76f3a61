"""Token usage and cost of LLM calls, summed from a store file: per call *with its sub-calls*, per session, per file.

An LLM reply message carries its normalised `token_usage` (`input_tokens`, `output_tokens`, `cached_tokens`) and,
when the price is known, `cost_usd` (`miniagents.ext.llms.usage`); the store keeps both inside the stored message.
The totals have the shape of `UsageTotals.for_call()` / `run_total` (the live observer): the three token counts,
`llm_calls` (LLM replies counted) and `cost_usd`.

A reply is counted once, in the call that *made* it: callers that pass an LLM reply on reply with the same message,
so a message among the replies of a call is that call's own unless one of the calls it made replied it too. The call
tree comes from `store.attach(...)` (records persisted without it carry no tree, and are not counted).
"""

import sqlite3
from collections.abc import Mapping
from typing import Any

from miniagents.ext.llms.usage import USAGE_KEYS

__all__ = ["CallKey", "UsageTotalsByCall", "add_usage", "own_usage_by_call", "subtree_usage", "zero_usage"]

CallKey = tuple[str, int]
"""(session_id, call_id) of a `calls` row."""
UsageTotalsByCall = dict[CallKey, dict[str, Any]]

_OWN_USAGE = """
SELECT c.session_id, c.call_id,
       json_extract(m.serialized, '$.token_usage.input_tokens'),
       json_extract(m.serialized, '$.token_usage.output_tokens'),
       json_extract(m.serialized, '$.token_usage.cached_tokens'),
       json_extract(m.serialized, '$.cost_usd')
FROM calls c
JOIN reference_lists r ON r.parent_hash_key = c.reply_node_hash_key AND r.field_path = 'replies'
JOIN json_each(r.child_hash_keys) reply
JOIN messages m ON m.hash_key = reply.value
WHERE m.kind = 'message' AND json_type(m.serialized, '$.token_usage') = 'object' {session_filter}
AND NOT EXISTS (
    SELECT 1 FROM calls sub
    JOIN reference_lists sr ON sr.parent_hash_key = sub.reply_node_hash_key AND sr.field_path = 'replies'
    JOIN json_each(sr.child_hash_keys) sub_reply
    WHERE sub.session_id = c.session_id AND sub.parent_call_id = c.call_id AND sub_reply.value = reply.value
)
"""


def zero_usage() -> dict[str, Any]:
    """Totals of nothing: every token count and `llm_calls` 0, `cost_usd` 0.0."""
    return {**dict.fromkeys(USAGE_KEYS, 0), "llm_calls": 0, "cost_usd": 0.0}


def add_usage(total: dict[str, Any], other: Mapping[str, Any]) -> None:
    """Add the totals `other` to `total` (in place)."""
    for key in (*USAGE_KEYS, "llm_calls", "cost_usd"):
        total[key] += other[key]


def own_usage_by_call(connection: sqlite3.Connection, session_id: str | None = None) -> UsageTotalsByCall:
    """The usage of the LLM replies each call made itself (not its sub-calls), for the calls with any."""
    session_filter = "" if session_id is None else "AND c.session_id = ?"
    parameters = () if session_id is None else (session_id,)
    own: UsageTotalsByCall = {}
    for session, call_id, input_tokens, output_tokens, cached_tokens, cost in connection.execute(
        _OWN_USAGE.format(session_filter=session_filter), parameters
    ):
        total = own.setdefault((session, call_id), zero_usage())
        total["input_tokens"] += _count(input_tokens)
        total["output_tokens"] += _count(output_tokens)
        total["cached_tokens"] += _count(cached_tokens)
        total["llm_calls"] += 1
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            total["cost_usd"] += float(cost)
    return own


def subtree_usage(connection: sqlite3.Connection, session_id: str | None = None) -> UsageTotalsByCall:
    """Every call's usage *including its sub-calls* (every call of the session, or of the file, is a key)."""
    where = "" if session_id is None else " WHERE session_id = ?"
    parameters = () if session_id is None else (session_id,)
    parents: dict[CallKey, CallKey | None] = {
        (session, call_id): None if parent is None else (session, parent)
        for session, call_id, parent in connection.execute(
            f"SELECT session_id, call_id, parent_call_id FROM calls{where}", parameters
        )
    }
    totals: UsageTotalsByCall = {key: zero_usage() for key in parents}
    for key, own in own_usage_by_call(connection, session_id).items():
        ancestor: CallKey | None = key
        steps = 0
        while ancestor is not None and ancestor in totals and steps <= len(parents):  # a damaged file cannot loop
            add_usage(totals[ancestor], own)
            ancestor = parents.get(ancestor)
            steps += 1
    return totals


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
