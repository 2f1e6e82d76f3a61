"""Self-contained HTML copies of the views, for saved notebooks (nbconvert, GitHub) where no kernel runs.

Each function renders the same JSON snapshot the live view receives, with its durations, status marks, ticks, bar
positions and tooltips already formatted (`_view_format`), so both show the same text. The HTML uses inline `style`
attributes only: no scripts, no stylesheets, fonts or images to fetch, no links out of the page (GitHub strips
`<style>` and scripts anyway). It stays legible where inline styles are stripped too (`nbconvert --sanitize-html`):
the call tree is nested lists, and each timeline row also has its bar as text and its start, end and duration.
Collapsing uses `<details>` where it helps, which works without JavaScript. Lone surrogates (half characters, which no
UTF-8 output can hold) show as `�`.
"""

import hashlib
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from miniagents_notebook._style import ERROR_COLOR, MUTED_COLOR, PALETTE, STATUS_COLORS
from miniagents_notebook._unicode import replace_lone_surrogates
from miniagents_notebook._usage_format import QUEUED_HATCH
from miniagents_notebook._view_format import MAX_INDENT_DEPTH, depth_mark, interval_text, text_bar
from miniagents_notebook.rendering import count_text

__all__ = ["render_call_tree", "render_inspector", "render_timeline"]

_BOX = (
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:13px;"
    f"line-height:1.45;border:1px solid {PALETTE['border']};border-radius:6px;padding:6px 10px;max-height:520px;"
    f"overflow:auto;color:{PALETTE['fg']};background:{PALETTE['bg']}"
)
_HEADER = "font-weight:600;margin-bottom:4px"
_MUTED = f"color:{MUTED_COLOR}"
_MONO = "font-family:SFMono-Regular,Consolas,'Liberation Mono',Menlo,monospace;font-size:12px"
_ERROR = f"color:{ERROR_COLOR}"


def _status_badge(status: str, icon: str) -> str:
    color = STATUS_COLORS.get(status, STATUS_COLORS["waiting"])
    return f'<span style="color:{color};font-weight:700" title="{escape(status)}">{escape(icon)}</span>'


def _counts_text(labels: Sequence[Mapping[str, str]]) -> str:
    return " · ".join(
        f'<span style="color:{STATUS_COLORS[label["status"]]}">{escape(label["text"])}</span>' for label in labels
    )


def _usage(view_part: Mapping[str, Any]) -> str:
    """` · 1,234 tokens · $0.0012` of a row or a header (its details on hover), or `""` without LLM replies."""
    text = view_part.get("usage_text")
    if not text:
        return ""
    title = escape(view_part.get("usage_title", ""), quote=True)
    return f' <span style="{_MUTED}" title="{title}">· {escape(text)}</span>'


def _usage_lines(lines: Sequence[Sequence[str]]) -> list[str]:
    """A details panel's usage lines (`Usage with its sub-calls: …`, `Queued: …`)."""
    return [f'<div><span style="{_MUTED}">{escape(label)}:</span> {escape(text)}</div>' for label, text in lines]


def _call_label(alias: str, kwargs: str, bold: bool = True) -> str:
    label = f"<b>{escape(alias)}</b>" if bold else escape(alias)
    return label + (f' <span style="{_MUTED}">({escape(kwargs)})</span>' if kwargs else "")


def _nested_list(items: Sequence[tuple[int, str]], top_style: str, nested_style: str) -> str:
    """`(depth, inner HTML)` items in pre-order as nested `<ul>`s: the hierarchy is in the markup itself, so it shows
    (indented, bulleted) where styles are stripped; the outermost list has `top_style`, the others `nested_style`.
    Depths beyond `MAX_INDENT_DEPTH` nest no further (a 1,000-deep chain would otherwise nest 2,000 elements)."""
    parts: list[str] = []
    level = -1  # the innermost open list
    for depth, inner in items:
        depth = min(depth, MAX_INDENT_DEPTH)
        if depth > level:
            opened = f'<ul style="{top_style if level < 0 else nested_style}">'
            parts.append(opened + f'<li><ul style="{nested_style}">' * (depth - level - 1))
            level = depth
        else:
            parts.append("</li>" + "</ul></li>" * (level - depth))
            level = depth
        parts.append(f"<li>{inner}")
    if level >= 0:
        parts.append("</li>" + "</ul></li>" * level + "</ul>")
    return "".join(parts)


def render_call_tree(snapshot: Mapping[str, Any], show_timings: bool = True) -> str:
    """The call tree: one line per call with its status, counts, duration and reply preview, each call in a list
    under the call that made it (nested `<ul>`s, so that the hierarchy survives stripped styles).

    `show_timings=False` leaves durations out, so that a deterministic run renders the same HTML every time.
    """
    rows = snapshot.get("rows", [])
    lines = [
        f'<div style="{_BOX}">',
        f'<div style="{_HEADER}">Agent calls: {snapshot.get("total", 0)} '
        f'<span style="font-weight:400">{_counts_text(snapshot.get("count_labels", []))}'
        f"{_usage(snapshot)}</span></div>",
    ]
    if not rows:
        lines.append(f'<div style="{_MUTED}">(no agent calls)</div>')
    items = []
    for row in rows:
        if "id" not in row:
            items.append((row["depth"], f'<span style="{_MUTED}">… {row["more"]} more</span>'))
            continue
        duration = row["elapsed_text"] + ("…" if row["status"] in ("waiting", "running") else "")
        timing = f" <span>{duration}</span>" if show_timings else ""
        preview = f' <span style="{_MUTED}">— {escape(row["preview"])}</span>' if row["preview"] else ""
        error = ""
        if row.get("error"):
            error = f'<div style="padding-left:18px;{_ERROR};white-space:pre-wrap">{escape(row["error"])}</div>'
        items.append(
            (
                row["depth"],
                f'<span style="white-space:nowrap">{escape(depth_mark(row["depth"]))}'
                f"{_status_badge(row['status'], row['icon'])} {_call_label(row['alias'], row['kwargs'])} "
                f'<span style="{_MUTED}" title="input messages ↓, reply messages ↑">↓{row["inputs"]} '
                f"↑{row['replies']}</span>{timing}{_usage(row)}{preview}</span>{error}",
            )
        )
    if items:
        lines.append(
            _nested_list(items, "list-style:none;margin:0;padding:0", "list-style:none;margin:0;padding-left:18px")
        )
    lines.append("</div>")
    return replace_lone_surrogates("\n".join(lines))


_TIMELINE_LABEL = (
    "order:1;width:220px;flex:none;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;box-sizing:border-box"
)
_TIMELINE_TRACK = "order:2;display:block;position:relative;flex:1;height:20px"
_TIMELINE_TIMES = f"order:3;flex:none;width:190px;padding-left:8px;text-align:right;{_MUTED};font-size:11px"


def render_timeline(snapshot: Mapping[str, Any]) -> str:
    """The timeline: one bar per call over wall-clock time (waiting part pale, running part solid), with when the call
    started and ended.

    Where styles are stripped (GitHub, `nbconvert --sanitize-html`) the bars cannot be drawn; each row then shows its
    bar as text (`text_bar`, hidden while styles apply), so the intervals and the overlaps stay readable.
    """
    bars = snapshot.get("bars", [])
    lines = [
        f'<div style="{_BOX}">',
        f'<div style="{_HEADER}">Timeline: {snapshot["calls_text"]} over {snapshot["span_text"]} '
        f'<span style="font-weight:400">{_counts_text(snapshot.get("count_labels", []))}'
        f"{_usage(snapshot)}</span></div>",
    ]
    if not bars:
        lines.append(f'<div style="{_MUTED}">(no agent calls)</div></div>')
        return replace_lone_surrogates("\n".join(lines))
    ticks = " ".join(
        f'<span style="position:absolute;left:{tick["left"]};top:0;border-left:1px solid {PALETTE["border"]};'
        f'padding-left:2px;{_MUTED};font-size:11px">{escape(tick["label"])}</span>'
        for tick in snapshot["ticks"]
    )
    lines.append(
        '<div style="display:flex;height:16px"><span style="order:1;width:220px;flex:none"></span>'
        f'<span style="{_TIMELINE_TRACK};height:16px;overflow:hidden">{ticks}</span>'
        '<span style="order:3;width:190px;flex:none"></span></div>'
    )
    lines.append('<ul style="list-style:none;margin:0;padding:0">')
    span, now = snapshot["span"], snapshot.get("now", snapshot["span"])
    for bar in bars:
        color = STATUS_COLORS.get(bar["status"], STATUS_COLORS["waiting"])
        badge = _status_badge(bar["status"], bar["icon"])
        title = escape(bar["title"], quote=True)
        end = bar["end"] if bar["end"] is not None else now
        waiting, running = bar["segments"]["waiting"], bar["segments"]["running"]
        segments = [
            f'<span title="{title}" style="position:absolute;top:2px;bottom:2px;left:{waiting["left"]};'
            f'width:{waiting["width"]};background:{color};opacity:0.3;border-radius:2px"></span>',
            f'<span title="{title}" style="position:absolute;top:2px;bottom:2px;left:{running["left"]};'
            f'width:{running["width"]};background:{color};border-radius:2px"></span>',
        ]
        text = f'<code style="display:none">{text_bar(bar["start"], bar["run"], end, span)}</code>'
        if "queued" in bar["segments"]:  # the wait for an LLM slot, hatched over the start of the running part
            queued = bar["segments"]["queued"]
            segments.append(
                f'<span title="{title}" style="position:absolute;top:2px;bottom:2px;left:{queued["left"]};'
                f'width:{queued["width"]};background:{QUEUED_HATCH};border-radius:2px"></span>'
            )
        kwargs = f' <span style="{_MUTED}">({escape(bar["kwargs"])})</span>' if bar.get("kwargs") else ""
        unfinished = "…" if bar["end"] is None else ""
        lines.append(
            '<li style="display:flex;align-items:center;height:20px">'
            f'<span style="{_TIMELINE_TRACK};background:{PALETTE["bg-alt"]}">{text}{"".join(segments)}</span> '
            f'<span style="{_TIMELINE_LABEL};padding-left:{min(bar["depth"], MAX_INDENT_DEPTH) * 12}px" '
            f'title="{title}">{escape(depth_mark(bar["depth"]))}{badge} {escape(bar["alias"])}{kwargs}</span> '
            f'<span style="{_TIMELINE_TIMES}">{escape(interval_text(bar["start"], end))}{unfinished}</span></li>'
        )
    lines.append("</ul>")
    if snapshot.get("hidden"):
        lines.append(f'<div style="{_MUTED}">… {snapshot["hidden"]} more calls not shown</div>')
    lines.append("</div>")
    return replace_lone_surrogates("\n".join(lines))


def _render_message(node: Mapping[str, Any], anchor_of_call_record: str | None = None) -> str:
    hash_key = str(node.get("hash_key", ""))
    key = f'<code style="{_MONO};{_MUTED}" title="{escape(hash_key)}">{escape(hash_key[:12])}</code>'
    if node.get("reference"):
        target = f'<a href="#{anchor_of_call_record}">the call record</a>' if anchor_of_call_record else "a record"
        return f"<div>{key} → {target}</div>"
    if node.get("missing"):
        return f'<div>{key} <span style="{_MUTED}">(not in this history)</span></div>'
    if node.get("unresolved"):
        return f'<div>{escape(str(node.get("class") or ""))} {key} <span style="{_MUTED}">(nested deeper)</span></div>'
    parts = [
        f'<div style="border-left:2px solid {PALETTE["border"]};margin:3px 0 3px 2px;padding-left:8px">',
        f'<div><span style="{_MUTED}">{escape(str(node.get("class") or ""))}</span> {key}</div>',
    ]
    if node.get("content") is not None:
        parts.append(f'<div style="white-space:pre-wrap">{escape(node["content"])}</div>')
    for name, value in node.get("fields", []):
        parts.append(f'<div style="{_MONO}"><span style="{_MUTED}">{escape(name)}:</span> {escape(value)}</div>')
    for nested in node.get("nested", []):
        messages = nested["messages"]
        inner = "".join(_render_message(message, anchor_of_call_record) for message in messages)
        parts.append(
            f'<details{" open" if len(messages) <= 3 else ""}><summary style="{_MUTED}">{escape(nested["field"])} '
            f"({len(messages)})</summary>{inner}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def render_inspector(calls: Sequence[Mapping[str, Any]], total: int | None = None, usage_text: str = "") -> str:
    """The history: every call (as `call_record_details` gives it) with its records, parent and sub-call links;
    `usage_text` (the tokens and cost of all of them) goes in the header."""
    total = len(calls) if total is None else total
    # anchors must be unique in the page (several inspectors can share it) and the same on every run
    prefix = (
        "mac-"
        + hashlib.sha1(
            "".join(str(call.get("call_record", {}).get("hash_key", "")) for call in calls).encode()
        ).hexdigest()[:8]
    )
    anchors = {call["id"]: f"{prefix}-{position}" for position, call in enumerate(calls)}

    def link(call_id: str, label: str) -> str:
        anchor = anchors.get(call_id)
        return f'<a href="#{anchor}">{label}</a>' if anchor else label

    lines = [
        f'<div style="{_BOX}">',
        f'<div style="{_HEADER}">History: {count_text(total, "recorded call")}'
        f"{_usage({'usage_text': usage_text})}</div>",
    ]
    if not calls:
        lines.append(f'<div style="{_MUTED}">(no recorded agent calls)</div>')
    for call in calls:
        summary = call["summary"]
        anchor = anchors[call["id"]]
        preview = f' <span style="{_MUTED}">— {escape(summary["preview"])}</span>' if summary["preview"] else ""
        parent = call.get("parent")
        sub_calls = call.get("sub_calls", [])
        badge = _status_badge(summary["status"], summary["icon"]) + " " if summary.get("status") else ""
        lines.append(
            f'<details id="{anchor}" style="margin:2px 0"><summary>{badge}'
            f"{_call_label(summary['alias'], summary['kwargs'])} "
            f'<span style="{_MUTED}">↓{summary["inputs"]} ↑{summary["replies"]}</span>'
            f"{_usage(summary)}{preview}</summary>"
            '<div style="padding:2px 0 6px 16px">'
        )
        if summary.get("error"):
            lines.append(f'<div style="color:{ERROR_COLOR};white-space:pre-wrap">{escape(summary["error"])}</div>')
        lines.extend(_usage_lines(call.get("usage", [])))
        if parent:
            lines.append(f"<div>Called by: {link(parent['id'], escape(parent['alias']))}</div>")
        if sub_calls:
            links = ", ".join(
                link(sub["id"], _call_label(sub["alias"], sub["kwargs"], bold=False)) for sub in sub_calls
            )
            lines.append(f"<div>Sub-calls ({len(sub_calls)}): {links}</div>")
        lines.append(f'<div style="{_HEADER};margin-top:4px" id="{anchor}-call">Call record</div>')
        lines.append(_render_message(call["call_record"]))
        lines.append(f'<div style="{_HEADER};margin-top:4px">Reply record</div>')
        lines.append(_render_message(call["reply_record"], anchor_of_call_record=f"{anchor}-call"))
        lines.append("</div></details>")
    if total > len(calls):
        lines.append(f'<div style="{_MUTED}">… {total - len(calls)} more calls not shown</div>')
    lines.append("</div>")
    return replace_lone_surrogates("\n".join(lines))
