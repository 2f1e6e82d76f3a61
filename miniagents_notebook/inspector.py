"""History inspector: browse the `AgentCallNode` / `AgentReplyNode` records of agent calls and the messages in them.

The inspector renders any `HistorySource` (`miniagents.history`: list calls, get a call, get a message by hash key,
sub-calls of a call) — an `InMemoryHistory` collecting from a live `MiniAgents`, a `SQLiteHistory` reading a store
file, or one of your own. Messages travel in their serialised form (`Message.serialize()`): nested messages are
`<field>__hash_key(s)` references, resolved here through the source.
"""

import json
from collections.abc import Callable
from typing import Any

import traitlets

from miniagents.history import HistorySource, InMemoryHistory, RecordedCall, eviction_note
from miniagents_notebook._eviction import with_eviction_note
from miniagents_notebook._usage_format import CallUsage, HistoryUsage, usage_details, usage_text, usage_title
from miniagents_notebook._view_format import status_icon
from miniagents_notebook.call_tree import LiveView, _asset
from miniagents_notebook.rendering import count_text, shorten
from miniagents_notebook.static_html import render_inspector

# `HistorySource`, `InMemoryHistory` and `RecordedCall` live in the core (`miniagents.history`); re-exported here
__all__ = ["HistoryInspector", "HistorySource", "InMemoryHistory", "RecordedCall", "inspector_snapshot"]

_NESTED_DEPTH = 4
_NODE_BUDGET = 300
_LIST_LIMIT = 500
_STATIC_LIMIT = 100
_VALUE_CHARS = 300
_RECORD_FIELDS = frozenset({"agent_alias", "messages__hash_keys", "messages", "class_"})


# --- snapshots (what the views render) -------------------------------------------------------------------------


def _plain_value(value: Any) -> Any:
    """A serialised value without the `class_` marker of plain frozen dicts (noise for a reader)."""
    if isinstance(value, dict):
        return {name: _plain_value(item) for name, item in value.items() if (name, item) != ("class_", "Frozen")}
    if isinstance(value, list):
        return [_plain_value(item) for item in value]
    return value


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_plain_value(value), ensure_ascii=False, sort_keys=True)
    return shorten(text, _VALUE_CHARS)


class _Resolver:
    """Turns a serialised message into a tree of fields and nested messages, within a depth and size budget."""

    def __init__(self, source: HistorySource) -> None:
        self.source = source
        self.budget = _NODE_BUDGET

    def message(self, hash_key: str, depth: int, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        data = self.source.get_message(hash_key)
        if data is None:
            return {"hash_key": hash_key, "missing": True}
        if depth <= 0 or self.budget <= 0:
            return {"hash_key": hash_key, "class": data.get("class_"), "unresolved": True}
        self.budget -= 1
        fields = []
        nested = []
        for name, value in data.items():
            if name == "class_":
                continue
            if name.endswith("__hash_key") and isinstance(value, str):
                field_name = name.removesuffix("__hash_key")
                if field_name in skip:
                    nested.append({"field": field_name, "messages": [{"hash_key": value, "reference": True}]})
                    continue
                nested.append({"field": field_name, "messages": [self.message(value, depth - 1)]})
            elif name.endswith("__hash_keys") and isinstance(value, list | tuple):
                nested.append(
                    {
                        "field": name.removesuffix("__hash_keys"),
                        "messages": [self.message(k, depth - 1) for k in value],
                    }
                )
            elif name != "content" and value is not None:
                fields.append([name, _value_text(value)])
        content = data.get("content")
        return {
            "hash_key": hash_key,
            "class": data.get("class_"),
            "content": content if isinstance(content, str) else None,
            "fields": fields,
            "nested": nested,
        }


def _call_summary(source: HistorySource, call: RecordedCall) -> dict[str, Any]:
    call_node = source.get_message(call.call_hash_key) or {}
    reply_node = source.get_message(call.reply_hash_key) or {}
    kwargs = [
        f"{name}={_value_text(json.dumps(_plain_value(value), ensure_ascii=False, sort_keys=True))}"
        for name, value in call_node.items()
        if name not in _RECORD_FIELDS and not name.endswith("__hash_key")
    ]
    reply_keys = reply_node.get("replies__hash_keys", ())
    first_reply = source.get_message(reply_keys[0]) if reply_keys else None
    preview = str((first_reply or {}).get("content") or "")
    return {
        "id": call.call_id,
        "alias": call.agent_alias,
        "kwargs": ", ".join(kwargs),
        "inputs": len(call_node.get("messages__hash_keys", ())),
        "replies": len(reply_keys),
        "preview": " ".join(preview.split())[:80],
    }


def call_record_details(source: HistorySource, call_id: str) -> dict[str, Any]:
    """The records of one call resolved for display, with links to the call that made it and the ones it made."""
    call = source.get_call(call_id)
    if call is None:
        return {}
    resolver = _Resolver(source)
    parent = source.get_call(call.parent_call_id) if call.parent_call_id is not None else None
    return {
        "id": call.call_id,
        "alias": call.agent_alias,
        "summary": _call_summary(source, call),
        "parent": None if parent is None else {"id": parent.call_id, "alias": parent.agent_alias},
        "sub_calls": [_call_summary(source, sub_call) for sub_call in source.sub_calls(call_id)],
        "call_record": resolver.message(call.call_hash_key, _NESTED_DEPTH),
        # the reply record's `agent_call` is the call record shown above: reference it instead of repeating it
        "reply_record": resolver.message(call.reply_hash_key, _NESTED_DEPTH, skip=frozenset({"agent_call"})),
    }


def inspector_snapshot(
    source: HistorySource,
    agent_alias: str | None = None,
    text: str | None = None,
    limit: int = _LIST_LIMIT,
) -> dict[str, Any]:
    """The list part of the inspector: agents to filter by, the (filtered) calls, at most `limit` of them, and the
    note saying how many older calls the source evicted (empty if none)."""
    everything = source.list_calls()
    calls = source.list_calls(agent_alias=agent_alias, text=text) if (agent_alias or text) else everything
    matching = "" if len(calls) == len(everything) else f" ({len(calls)} matching)"
    return {
        "agents": sorted({call.agent_alias for call in everything}),
        "calls": [_call_summary(source, call) for call in calls[:limit]],
        "total": len(everything),
        "matching": len(calls),
        "header": f"History: {count_text(len(everything), 'recorded call')}{matching}",
        "evicted_note": _history_eviction_note(source),
    }


def _history_eviction_note(source: HistorySource) -> str:
    """`… 1,234 older calls evicted (limit 10,000)` for a source that evicts calls (`InMemoryHistory`), else `""`."""
    return eviction_note(getattr(source, "evicted_calls", 0), getattr(source, "max_calls", None))


def _agent_counts_text(source: HistorySource) -> str:
    calls = source.list_calls()
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.agent_alias] = counts.get(call.agent_alias, 0) + 1
    note = _history_eviction_note(source)
    if not counts:
        return "History: no recorded agent calls" + (f"\n{note}" if note else "")
    per_agent = ", ".join(f"{alias}: {count}" for alias, count in counts.items())
    return f"History: {count_text(len(calls), 'recorded call')} ({per_agent})" + (f"\n{note}" if note else "")


def _add_usage(summary: dict[str, Any], usages: dict[str, CallUsage]) -> None:
    """A call's tokens and cost with its sub-calls, as its row shows them (nothing without LLM replies below it)."""
    usage = usages.get(summary["id"])
    total = None if usage is None else usage.total
    summary.update(usage_text=usage_text(total), usage_title=usage_title(total))


class HistoryInspector(LiveView):
    """Browse recorded calls: filter by agent and text, open a call to see its records, follow parent and sub-calls.

    `source` is any `HistorySource` (e.g. `trace.history`); if it announces changes, the list updates live. When the
    source keeps only the latest calls (`InMemoryHistory(max_calls=...)`), every form of the view says how many
    older calls it evicted.
    """

    _esm = _asset("common.js") + _asset("inspector.js")

    agents = traitlets.List(traitlets.Unicode()).tag(sync=True)
    calls = traitlets.List(traitlets.Dict()).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    matching = traitlets.Int(0).tag(sync=True)
    header = traitlets.Unicode("").tag(sync=True)
    """`History: 12 recorded calls (3 matching)`, formatted here for the view."""
    evicted_note = traitlets.Unicode("").tag(sync=True)
    """`… 1,234 older calls evicted (limit 10,000)` once the source dropped calls to stay within its limit."""
    agent_filter = traitlets.Unicode("").tag(sync=True)
    text_filter = traitlets.Unicode("").tag(sync=True)
    selected = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    details = traitlets.Dict().tag(sync=True)

    def __new__(cls, source: HistorySource, *args: Any, **kwargs: Any) -> "HistoryInspector":
        # checked before the widget exists: a half-made widget would still be closed (and fail) when collected
        if not isinstance(source, HistorySource):
            raise TypeError(
                f"HistoryInspector needs a HistorySource (list_calls, get_call, get_message, sub_calls), "
                f"got {type(source).__name__}; pass e.g. `trace.history` or an `InMemoryHistory()`."
            )
        return super().__new__(cls, source, *args, **kwargs)

    def __init__(
        self,
        source: HistorySource,
        *,
        call_status: Callable[[str], tuple[str, str | None] | None] | None = None,
        throttle_interval: float = 0.1,
        **kwargs: Any,
    ) -> None:
        self.source = source
        self._usage = HistoryUsage(source)
        self.call_status = call_status
        """How a call ended, `(status, error)` by call id, if known (records do not say; a trace's calls do)."""
        super().__init__(throttle_interval=throttle_interval, **kwargs)
        add_listener = getattr(source, "add_change_listener", None)
        if add_listener is not None:
            add_listener(self.request_update)
        self.observe(self._on_filters_changed, names=["agent_filter", "text_filter"])
        self.observe(self._on_selected_changed, names=["selected"])

    def _sync(self) -> bool:
        snapshot = inspector_snapshot(self.source, self.agent_filter or None, self.text_filter or None)
        usages, run_usage = self._usage.calls()
        for summary in snapshot["calls"]:
            self._add_status(summary)
            _add_usage(summary, usages)
        if run_usage.llm_replies:
            snapshot["header"] += f" · {usage_text(run_usage)}"
        if self.selected is not None:
            snapshot["details"] = self._details(self.selected, usages)
        changed = {name: value for name, value in snapshot.items() if getattr(self, name) != value}
        for name, value in changed.items():
            setattr(self, name, value)
        return bool(changed)

    def _is_settled(self) -> bool:
        # records only arrive, none is ever unfinished: the static copy follows every (throttled) change, so that a
        # saved notebook shows every call recorded so far
        return True

    def _on_filters_changed(self, _change: Any) -> None:
        self.flush()

    def _on_selected_changed(self, change: Any) -> None:
        self.details = {} if change["new"] is None else self._details(change["new"])

    def _details(self, call_id: str, usages: dict[str, CallUsage] | None = None) -> dict[str, Any]:
        details = call_record_details(self.source, call_id)
        usages = self._usage.calls()[0] if usages is None else usages
        for summary in [details.get("summary"), *details.get("sub_calls", ())]:
            if summary is not None:
                self._add_status(summary)
                _add_usage(summary, usages)
        if details:
            usage = usages.get(call_id, CallUsage())
            details["usage"] = usage_details(usage.own, usage.total, usage.queued_seconds)
        return details

    def _add_status(self, summary: dict[str, Any]) -> None:
        """A failed call shows ✗ and its error next to its records (when `call_status` knows how it ended)."""
        known = None if self.call_status is None else self.call_status(summary["id"])
        if known is not None:
            status, error = known
            summary.update(status=status, icon=status_icon(status), error=error)

    def to_text(self) -> str:
        run_usage = self._usage.calls()[1]
        first_line, *notes = _agent_counts_text(self.source).split("\n")
        usage = f" · {usage_title(run_usage)}" if run_usage.llm_replies else ""
        return "\n".join([first_line + usage, *notes])

    def to_html(self) -> str:
        calls = self.source.list_calls()
        usages, run_usage = self._usage.calls()
        details = [self._details(call.call_id, usages) for call in calls[:_STATIC_LIMIT]]
        html = render_inspector(details, total=len(calls), usage_text=usage_text(run_usage))
        return with_eviction_note(html, _history_eviction_note(self.source))

    def close(self) -> None:
        remove_listener = getattr(self.source, "remove_change_listener", None)
        if remove_listener is not None:
            remove_listener(self.request_update)
        super().close()
