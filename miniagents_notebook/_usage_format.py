"""Tokens, cost and the wait for an LLM slot, as the views show them: per call *including its sub-calls*, and per run.

Every LLM reply carries its normalised `token_usage` (`input_tokens`, `output_tokens`, `cached_tokens`), its
`cost_usd` when the price is known (`genai-prices`, or prices given with `usd_per_million_tokens=`) and, under a
concurrency or rate limit, `queued_seconds` (how long the call waited for a slot). The views read only those public
fields of reply messages: a reply counts in the call whose agent produced it (its `agent_alias` field names that
agent), so a caller that passes an LLM's reply on does not count it twice; the call's total adds up its own replies
and those of every call below it. (A message of your own that carries `token_usage` but no `agent_alias` counts in
every call that replies with it: give it the producing agent's `agent_alias` to count it once.)

Like `_view_format`, this is where the texts are made, once: the live views and the static copies show them as they
come.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from miniagents.ext.llms.usage import QUEUED_SECONDS_FIELD
from miniagents.history import HistorySource
from miniagents.promising.ext.frozen import Frozen
from miniagents_notebook._style import PALETTE
from miniagents_notebook._view_format import format_seconds, percent

__all__ = [
    "QUEUED_HATCH",
    "CallUsage",
    "HistoryUsage",
    "UsageSum",
    "format_usd",
    "queued_segment",
    "queued_text",
    "reply_queued_seconds",
    "reply_usage",
    "usage_details",
    "usage_text",
    "usage_title",
]


QUEUED_HATCH = f"repeating-linear-gradient(135deg,{PALETTE['bg']} 0 2px,transparent 2px 5px)"
"""How the static copy draws an LLM call's wait for a slot over its bar (the live view: `.ma-bar-queued`)."""


@dataclass
class UsageSum:
    """Tokens and cost of some LLM replies added up (`priced_replies` of the `llm_replies` had a cost)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    llm_replies: int = 0
    priced_replies: int = 0
    cost_usd: float = 0.0

    def add(self, other: "UsageSum") -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cached_tokens += other.cached_tokens
        self.llm_replies += other.llm_replies
        self.priced_replies += other.priced_replies
        self.cost_usd += other.cost_usd

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _plain(value: Any) -> Any:
    if isinstance(value, Frozen):
        return value.frozen_fields_and_values()
    return value


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def reply_usage(fields: Mapping[str, Any], call_alias: str) -> UsageSum | None:
    """The usage of a reply that carries `token_usage` and was produced by the call's own agent (a message or its
    serialised fields; `None` otherwise: no usage, or a reply passed on from another agent)."""
    usage = _plain(fields.get("token_usage"))
    if not isinstance(usage, Mapping) or fields.get("agent_alias", call_alias) != call_alias:
        return None
    cost = _number(fields.get("cost_usd"))
    return UsageSum(
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        cached_tokens=_count(usage.get("cached_tokens")),
        llm_replies=1,
        priced_replies=0 if cost is None else 1,
        cost_usd=cost or 0.0,
    )


def reply_queued_seconds(fields: Mapping[str, Any], call_alias: str) -> float | None:
    """How long the call's own LLM request waited for a slot, as its reply says (known before the reply's first
    token: the live timeline shows it while the reply streams)."""
    if fields.get("agent_alias", call_alias) != call_alias:
        return None
    return _number(fields.get(QUEUED_SECONDS_FIELD))


def format_usd(amount: float) -> str:
    """`$1.23`, `$0.012`, `$0.00012`: two significant digits below a dollar (no rounding to `$0.00`)."""
    if amount <= 0:
        return "$0"
    if amount >= 1:
        return f"${amount:,.2f}"
    decimals = max(2, 1 - math.floor(math.log10(amount)))
    return f"${amount:.{decimals}f}"


def _cost_text(usage: UsageSum) -> str:
    """`$0.0012`; `≥ $0.0012` when only some replies had a price; `""` when none had."""
    if not usage.priced_replies:
        return ""
    return ("" if usage.priced_replies == usage.llm_replies else "≥ ") + format_usd(usage.cost_usd)


def usage_text(usage: UsageSum | None) -> str:
    """`1,234 tokens · $0.0012`: what a row or a header says (`""` without LLM replies)."""
    if usage is None or not usage.llm_replies:
        return ""
    cost = _cost_text(usage)
    return f"{usage.tokens:,} tokens" + (f" · {cost}" if cost else "")


def usage_title(usage: UsageSum | None) -> str:
    """`1,234 tokens (1,000 in, 100 of them cached; 234 out) · $0.0012 · 3 LLM replies` (`""` without LLM replies)."""
    if usage is None or not usage.llm_replies:
        return ""
    cached = f", {usage.cached_tokens:,} of them cached" if usage.cached_tokens else ""
    cost = _cost_text(usage)
    priced = (
        f" (priced: {usage.priced_replies} of {usage.llm_replies})"
        if usage.priced_replies and usage.priced_replies < usage.llm_replies
        else ""
    )
    replies = f"{usage.llm_replies:,} LLM repl{'y' if usage.llm_replies == 1 else 'ies'}"
    return (
        f"{usage.tokens:,} tokens ({usage.input_tokens:,} in{cached}; {usage.output_tokens:,} out)"
        + (f" · {cost}{priced}" if cost else " · no price known")
        + f" · {replies}"
    )


def queued_text(queued_seconds: float | None) -> str:
    """`queued 0.80 s for an LLM slot` (`""` when the call did not wait for one)."""
    return f"queued {format_seconds(queued_seconds)} for an LLM slot" if queued_seconds else ""


def usage_details(own: UsageSum | None, total: UsageSum | None, queued_seconds: float | None) -> list[list[str]]:
    """`[label, text]` lines for a call's details panel: its total with sub-calls, its own replies when they differ,
    and its wait for a slot."""
    lines = []
    if total is not None and total.llm_replies:
        with_sub_calls = " with its sub-calls" if own is None or own != total else ""
        lines.append([f"Usage{with_sub_calls}", usage_title(total)])
    if own is not None and own.llm_replies and own != total:
        lines.append(["Its own LLM replies", usage_title(own)])
    if queued_seconds:
        lines.append(
            ["Queued", f"{format_seconds(queued_seconds)} waiting for an LLM slot (concurrency or rate limit)"]
        )
    return lines


def queued_segment(
    run: float | None, queued_seconds: float | None, until: float, span: float
) -> dict[str, str] | None:
    """Where a call's wait for an LLM slot goes on its bar: `queued_seconds` long, ending `until` (when its reply
    began: the last wait comes right before the request that answered, after any tool rounds), never before the call
    started running; `None` when it did not wait."""
    if run is None or not queued_seconds:
        return None
    left = max(run, until - queued_seconds)
    return {"left": percent(left, span), "width": percent(max(0.0, until - left), span)}


@dataclass
class CallUsage:
    """A recorded call's usage: its own LLM replies, with its sub-calls, and its wait for an LLM slot."""

    own: UsageSum | None = None
    total: UsageSum | None = None
    queued_seconds: float | None = None


class HistoryUsage:
    """Tokens and cost of recorded calls (any `HistorySource`), each with its sub-calls, read from their reply records.

    A call's own usage is read once (records never change); the totals are added up again on every `calls()`, so
    they follow the calls the source keeps.
    """

    def __init__(self, source: HistorySource) -> None:
        self.source = source
        self._own: dict[str, CallUsage] = {}

    def calls(self) -> tuple[dict[str, CallUsage], UsageSum]:
        """Every recorded call's usage by call id (calls without LLM replies below them are left out), and the total
        of all of them."""
        recorded = self.source.list_calls()
        parents = {call.call_id: call.parent_call_id for call in recorded}
        self._own = {call.call_id: self._own.get(call.call_id) or self._read(call) for call in recorded}
        usages: dict[str, CallUsage] = {}
        run = UsageSum()
        for call_id, own in self._own.items():
            if own.own is None:
                continue
            run.add(own.own)
            usages.setdefault(call_id, CallUsage()).own = own.own
            usages[call_id].queued_seconds = own.queued_seconds
            above: str | None = call_id
            steps = 0
            while above is not None and above in parents and steps <= len(parents):
                usage = usages.setdefault(above, CallUsage())
                if usage.total is None:
                    usage.total = UsageSum()
                usage.total.add(own.own)
                above = parents[above]
                steps += 1
        return usages, run

    def _read(self, call: Any) -> CallUsage:
        reply_record = self.source.get_message(call.reply_hash_key) or {}
        usage = CallUsage()
        for hash_key in reply_record.get("replies__hash_keys", ()):
            fields = self.source.get_message(hash_key) or {}
            usage.queued_seconds = reply_queued_seconds(fields, call.agent_alias) or usage.queued_seconds
            found = reply_usage(fields, call.agent_alias)
            if found is not None:
                if usage.own is None:
                    usage.own = UsageSum()
                usage.own.add(found)
        return usage
