"""Self-contained HTML copies of the views, for saved notebooks (nbconvert, GitHub) where no kernel runs.

Each function renders the same JSON snapshot the live view receives, with its durations, status marks, ticks, bar
positions and tooltips already formatted (`_view_format`), so both show the same text. The HTML uses inline `style`
attributes only:
no scripts, no stylesheets, fonts or images to fetch, no links out of the page (GitHub strips `<style>` and scripts
anyway). Collapsing uses `<details>` where it helps, which works without JavaScript. Lone surrogates (half
characters, which no UTF-8 output can hold) show as `�`.
"""

import hashlib
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from miniagents_notebook._style import ERROR_COLOR, MUTED_COLOR, PALETTE, STATUS_COLORS
from miniagents_notebook._unicode import replace_lone_surrogates
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
        f'<span style="font-weight:400">{_counts_text(snapshot.get("count_labels", []))}</span></div>',
    ]
    if not rows:
        lines.append(f'<div style="{_MUTED}">(no agent calls)</div>')
    for row in rows:
        indent = f"padding-left:{row['depth'] * 18}px"
        if "id" not in row:
            lines.append(f'<div style="{indent};{_MUTED}">… {row["more"]} more</div>')
            continue
        duration = row["elapsed_text"] + ("…" if row["status"] in ("waiting", "running") else "")
        timing = f" <span>{duration}</span>" if show_timings else ""
        preview = f' <span style="{_MUTED}">— {escape(row["preview"])}</span>' if row["preview"] else ""
        lines.append(
            f'<div style="{indent};white-space:nowrap">{_status_badge(row["status"], row["icon"])} '
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


def render_timeline(snapshot: Mapping[str, Any]) -> str:
    """The timeline: one bar per call over wall-clock time (waiting part pale, running part solid)."""
    bars = snapshot.get("bars", [])
    lines = [
        f'<div style="{_BOX}">',
        f'<div style="{_HEADER}">Timeline: {snapshot["calls_text"]} over {snapshot["span_text"]} '
        f'<span style="font-weight:400">{_counts_text(snapshot.get("count_labels", []))}</span></div>',
    ]
    if not bars:
        lines.append(f'<div style="{_MUTED}">(no agent calls)</div></div>')
        return replace_lone_surrogates("\n".join(lines))
    ticks = "".join(
        f'<span style="position:absolute;left:{tick["left"]};top:0;border-left:1px solid {PALETTE["border"]};'
        f'padding-left:2px;{_MUTED};font-size:11px">{escape(tick["label"])}</span>'
        for tick in snapshot["ticks"]
    )
    lines.append(
        '<div style="display:flex;height:16px"><div style="width:220px;flex:none"></div>'
        f'<div style="position:relative;flex:1;overflow:hidden">{ticks}</div></div>'
    )
    for bar in bars:
        color = STATUS_COLORS.get(bar["status"], STATUS_COLORS["waiting"])
        badge = _status_badge(bar["status"], bar["icon"])
        title = escape(bar["title"], quote=True)
        waiting, running = bar["segments"]["waiting"], bar["segments"]["running"]
        segments = [
            f'<div title="{title}" style="position:absolute;top:2px;bottom:2px;left:{waiting["left"]};'
            f'width:{waiting["width"]};background:{color};opacity:0.3;border-radius:2px"></div>',
            f'<div title="{title}" style="position:absolute;top:2px;bottom:2px;left:{running["left"]};'
            f'width:{running["width"]};background:{color};border-radius:2px"></div>',
        ]
        kwargs = f' <span style="{_MUTED}">({escape(bar["kwargs"])})</span>' if bar.get("kwargs") else ""
        lines.append(
            '<div style="display:flex;align-items:center;height:20px">'
            f'<div style="width:220px;flex:none;padding-left:{bar["depth"] * 12}px;white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis;box-sizing:border-box" title="{title}">{badge} '
            f"{escape(bar['alias'])}{kwargs}</div>"
            f'<div style="position:relative;flex:1;height:20px;background:{PALETTE["bg-alt"]}">{"".join(segments)}'
            "</div></div>"
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
        badge = _status_badge(summary["status"], summary["icon"]) + " " if summary.get("status") else ""
        lines.append(
            f'<details id="{anchor}" style="margin:2px 0"><summary>{badge}'
            f"{_call_label(summary['alias'], summary['kwargs'])} "
            f'<span style="{_MUTED}">↓{summary["inputs"]} ↑{summary["replies"]}</span>{preview}</summary>'
            '<div style="padding:2px 0 6px 16px">'
        )
        if summary.get("error"):
            lines.append(f'<div style="color:{ERROR_COLOR};white-space:pre-wrap">{escape(summary["error"])}</div>')
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
