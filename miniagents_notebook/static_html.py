"""Self-contained HTML copies of the views, for saved notebooks (nbconvert, GitHub) where no kernel runs.

Each function renders the same JSON snapshot the live view receives. The HTML uses inline `style` attributes only:
no scripts, no stylesheets, fonts or images to fetch, no links out of the page (GitHub strips `<style>` and scripts
anyway). Collapsing uses `<details>` where it helps, which works without JavaScript. Lone surrogates (half
characters, which no UTF-8 output can hold) show as `�`.
"""

import hashlib
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from miniagents_notebook._style import ERROR_COLOR, MUTED_COLOR, STATUS_COLORS, STATUS_ICONS
from miniagents_notebook._tree_model import format_seconds
from miniagents_notebook._unicode import replace_lone_surrogates
from miniagents_notebook.rendering import count_text

__all__ = ["render_call_tree", "render_inspector", "render_timeline"]

_BOX = (
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:13px;"
    "line-height:1.45;border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;max-height:520px;overflow:auto;"
    "color:#1f2328;background:#ffffff"
)
_HEADER = "font-weight:600;margin-bottom:4px"
_MUTED = f"color:{MUTED_COLOR}"
_MONO = "font-family:SFMono-Regular,Consolas,'Liberation Mono',Menlo,monospace;font-size:12px"
_ERROR = f"color:{ERROR_COLOR}"


def _status_badge(status: str) -> str:
    color = STATUS_COLORS.get(status, STATUS_COLORS["waiting"])
    return (
        f'<span style="color:{color};font-weight:700" title="{escape(status)}">{STATUS_ICONS.get(status, "?")}</span>'
    )


def _counts_text(counts: Mapping[str, int]) -> str:
    return " · ".join(
        f'<span style="color:{STATUS_COLORS[status]}">{STATUS_ICONS[status]} {count} {status}</span>'
        for status, count in counts.items()
        if count
    )


def _call_label(alias: str, kwargs: str, bold: bool = True) -> str:
    label = f"<b>{escape(alias)}</b>" if bold else escape(alias)
    return label + (f' <span style="{_MUTED}">({escape(kwargs)})</span>' if kwargs else "")


def render_call_tree(snapshot: Mapping[str, Any], show_timings: bool = True) -> str:
    """The call tree: one indented line per call with its status, counts, duration and reply preview.

    `show_timings=False` leaves durations out, so that a deterministic run renders the same HTML every time.
    """
    rows = snapshot.get("rows", [])
    lines = [
        f'<div style="{_BOX}">',
        f'<div style="{_HEADER}">Agent calls: {snapshot.get("total", 0)} '
        f'<span style="font-weight:400">{_counts_text(snapshot.get("counts", {}))}</span></div>',
    ]
    if not rows:
        lines.append(f'<div style="{_MUTED}">(no agent calls)</div>')
    for row in rows:
        indent = f"padding-left:{row['depth'] * 18}px"
        if "id" not in row:
            lines.append(f'<div style="{indent};{_MUTED}">… {row["more"]} more</div>')
            continue
        duration = format_seconds(row["elapsed"]) + ("…" if row["status"] in ("waiting", "running") else "")
        timing = f" <span>{duration}</span>" if show_timings else ""
        preview = f' <span style="{_MUTED}">— {escape(row["preview"])}</span>' if row["preview"] else ""
        lines.append(
            f'<div style="{indent};white-space:nowrap">{_status_badge(row["status"])} '
            f"{_call_label(row['alias'], row['kwargs'])} "
            f'<span style="{_MUTED}" title="input messages ↓, reply messages ↑">↓{row["inputs"]} ↑{row["replies"]}'
            f"</span>{timing}{preview}</div>"
        )
        if row.get("error"):
            lines.append(
                f'<div style="padding-left:{row["depth"] * 18 + 18}px;{_ERROR};white-space:pre-wrap">'
                f"{escape(row['error'])}</div>"
            )
    lines.append("</div>")
    return replace_lone_surrogates("\n".join(lines))


def _tick_step(span: float) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / step <= 8:
            return step
    return span / 8


def _percent(value: float, span: float) -> str:
    return f"{100 * value / span:.3f}%" if span > 0 else "0%"


def render_timeline(snapshot: Mapping[str, Any]) -> str:
    """The timeline: one bar per call over wall-clock time (waiting part pale, running part solid)."""
    bars = snapshot.get("bars", [])
    span = max(float(snapshot.get("span", 0.0)), 1e-6)
    now = float(snapshot.get("now", span))
    lines = [
        f'<div style="{_BOX}">',
        f'<div style="{_HEADER}">Timeline: {count_text(len(bars), "call")} over '
        f'{format_seconds(snapshot.get("span", 0.0))} <span style="font-weight:400">'
        f"{_counts_text(snapshot.get('counts', {}))}</span></div>",
    ]
    if not bars:
        lines.append(f'<div style="{_MUTED}">(no agent calls)</div></div>')
        return replace_lone_surrogates("\n".join(lines))
    step = _tick_step(span)
    ticks = []
    tick = 0.0
    while tick <= span * 0.92 + 1e-9:  # no tick right at the edge: its label would be clipped
        ticks.append(
            f'<span style="position:absolute;left:{_percent(tick, span)};top:0;border-left:1px solid #d0d7de;'
            f'padding-left:2px;{_MUTED};font-size:11px">{format_seconds(tick)}</span>'
        )
        tick += step
    lines.append(
        '<div style="display:flex;height:16px"><div style="width:220px;flex:none"></div>'
        f'<div style="position:relative;flex:1;overflow:hidden">{"".join(ticks)}</div></div>'
    )
    for bar in bars:
        end = bar["end"] if bar["end"] is not None else now
        run = bar["run"] if bar["run"] is not None else end
        color = STATUS_COLORS.get(bar["status"], STATUS_COLORS["waiting"])
        title = escape(
            f"{bar['alias']}({bar['kwargs']}) · {bar['status']} · {format_seconds(bar['start'])} → "
            f"{format_seconds(end)} ({format_seconds(end - bar['start'])})"
            + (f" · {bar['error']}" if bar.get("error") else ""),
            quote=True,
        )
        segments = [
            f'<div title="{title}" style="position:absolute;top:2px;bottom:2px;left:{_percent(bar["start"], span)};'
            f'width:{_percent(run - bar["start"], span)};background:{color};opacity:0.3;border-radius:2px"></div>',
            f'<div title="{title}" style="position:absolute;top:2px;bottom:2px;left:{_percent(run, span)};'
            f'width:max(2px,{_percent(end - run, span)});background:{color};border-radius:2px"></div>',
        ]
        lines.append(
            '<div style="display:flex;align-items:center;height:20px">'
            f'<div style="width:220px;flex:none;padding-left:{bar["depth"] * 12}px;white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis;box-sizing:border-box" title="{title}">{_status_badge(bar["status"])} '
            f"{escape(bar['alias'])}</div>"
            f'<div style="position:relative;flex:1;height:20px;background:#f6f8fa">{"".join(segments)}</div></div>'
        )
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
        '<div style="border-left:2px solid #d0d7de;margin:3px 0 3px 2px;padding-left:8px">',
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


def render_inspector(calls: Sequence[Mapping[str, Any]], total: int | None = None) -> str:
    """The history: every call (as `call_record_details` gives it) with its records, parent and sub-call links."""
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
        f'<div style="{_HEADER}">History: {count_text(total, "recorded call")}</div>',
    ]
    if not calls:
        lines.append(f'<div style="{_MUTED}">(no recorded agent calls)</div>')
    for call in calls:
        summary = call["summary"]
        anchor = anchors[call["id"]]
        preview = f' <span style="{_MUTED}">— {escape(summary["preview"])}</span>' if summary["preview"] else ""
        parent = call.get("parent")
        sub_calls = call.get("sub_calls", [])
        lines.append(
            f'<details id="{anchor}" style="margin:2px 0"><summary>{_call_label(summary["alias"], summary["kwargs"])} '
            f'<span style="{_MUTED}">↓{summary["inputs"]} ↑{summary["replies"]}</span>{preview}</summary>'
            '<div style="padding:2px 0 6px 16px">'
        )
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
