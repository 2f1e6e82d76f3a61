"""How the call views present what they show: durations, status marks, the timeline's axis and bars.

The call tree and the timeline reach the browser as JSON snapshots (`CallTreeModel.tree_snapshot`,
`timeline_snapshot`, `call_details`), and the static HTML (`static_html`) renders those same snapshots. Every rule —
how a duration reads, which mark a status has, where the axis ticks go and what they say, where a bar starts and how
wide it is, what its tooltip says — is applied here, once, while a snapshot is built: the snapshot carries the
results, the JS views only put them on the page, and the static copy shows exactly the same text.

While calls are unfinished their durations and bars grow without any event: a live view re-sends its snapshot every
`CLOCK_INTERVAL` until they finish (see `CallTreeModelView`).
"""

from collections.abc import Mapping
from typing import Any

from miniagents_notebook._style import STATUS_ICONS

__all__ = [
    "CLOCK_INTERVAL",
    "MAX_INDENT_DEPTH",
    "TEXT_BAR_WIDTH",
    "bar_segments",
    "bar_title",
    "count_labels",
    "depth_mark",
    "format_seconds",
    "interval_text",
    "percent",
    "status_icon",
    "text_bar",
    "time_axis",
]

CLOCK_INTERVAL = 0.2
"""Seconds between two snapshots of a live view while some call is unfinished (durations and bars grow)."""

_TICK_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
_MAX_TICKS = 8
_LAST_TICK_AT = 0.92
"""No tick beyond this fraction of the axis: the label of a tick right at the edge would be clipped."""
_MIN_SPAN = 1e-6

MAX_INDENT_DEPTH = 30
"""Calls deeper than this are indented no further in the static and text forms (a 1,000-deep chain would otherwise be
mostly indentation: ~1.5 MB of text); their rows carry their depth instead (`depth_mark`)."""
TEXT_BAR_WIDTH = 40
"""Characters of a timeline bar drawn as text (`text_bar`), the whole time axis."""


def format_seconds(seconds: float | None) -> str:
    """`0.42 s`, `12.3 s`, `2 min 5 s`: durations as people read them."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def status_icon(status: str) -> str:
    """`○ ◔ ✓ ✗ ⊘` for waiting, running, done, error and cancelled."""
    return STATUS_ICONS.get(status, "?")


def count_labels(counts: Mapping[str, int]) -> list[dict[str, str]]:
    """`✓ 9 done`, `✗ 1 error`: one label per status that has calls, in the order a call goes through them."""
    return [
        {"status": status, "text": f"{status_icon(status)} {count} {status}"}
        for status, count in counts.items()
        if count > 0
    ]


def percent(value: float, span: float) -> str:
    """`value` as a CSS percentage of a time axis `span` seconds long."""
    return f"{100 * value / max(span, _MIN_SPAN):.3f}%"


def time_axis(span: float) -> list[dict[str, str]]:
    """The ticks of a time axis `span` seconds long: at most about eight, at round steps, each with its position
    (`left`, a CSS percentage) and its label."""
    span = max(span, _MIN_SPAN)
    step = next((step for step in _TICK_STEPS if span / step <= _MAX_TICKS), span / _MAX_TICKS)
    ticks = []
    tick = 0.0
    while tick <= span * _LAST_TICK_AT + 1e-9:
        ticks.append({"left": percent(tick, span), "label": format_seconds(tick)})
        tick += step
    return ticks


def bar_segments(start: float, run: float | None, end: float, span: float) -> dict[str, dict[str, str]]:
    """Where a call's bar goes on a time axis `span` seconds long: the pale part while it waited to start (from
    `start` to `run`) and the solid part while it ran (to `end`; at least 2 px wide, so that a short call shows)."""
    run = end if run is None else run
    return {
        "waiting": {"left": percent(start, span), "width": percent(run - start, span)},
        "running": {"left": percent(run, span), "width": f"max(2px, {percent(end - run, span)})"},
    }


def text_bar(start: float, run: float | None, end: float, span: float, width: int = TEXT_BAR_WIDTH) -> str:
    """A call's bar as text, for where styles are stripped (GitHub, `nbconvert --sanitize-html`): `·` outside the
    call, `░` while it waited to start, `█` while it ran (at least one `█`, so that a short call shows)."""
    cell = max(span, _MIN_SPAN) / width
    run = end if run is None else run
    first = min(width - 1, max(0, int(start / cell)))
    running = min(width - 1, max(first, int(run / cell)))
    last = min(width, max(running + 1, -int(-end // cell)))
    return "·" * first + "░" * (running - first) + "█" * (last - running) + "·" * (width - last)


def interval_text(start: float, end: float) -> str:
    """`0.10 s → 0.52 s (0.42 s)`: when a call started and ended on the time axis, and how long it took."""
    return f"{format_seconds(start)} → {format_seconds(end)} ({format_seconds(end - start)})"


def depth_mark(depth: int) -> str:
    """`↳57 ` for a call deeper than `MAX_INDENT_DEPTH` (it is indented no further), else `""`."""
    return f"↳{depth} " if depth > MAX_INDENT_DEPTH else ""


def bar_title(bar: Mapping[str, Any], end: float) -> str:
    """What hovering a bar says: `alias(kwargs) · status · start → end (duration) · waited … · error`."""
    kwargs = f"({bar['kwargs']})" if bar["kwargs"] else ""
    waited = f" · waited {format_seconds(bar['run'] - bar['start'])}" if bar["run"] is not None else ""
    error = f" · {bar['error']}" if bar["error"] else ""
    return f"{bar['alias']}{kwargs} · {bar['status']} · {interval_text(bar['start'], end)}{waited}{error}"
