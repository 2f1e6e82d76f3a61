"""The status marks and colours every view shares, static HTML and live widgets alike (`_static/widgets.css` and
`_static/common.js` repeat these values for the browser)."""

__all__ = ["ERROR_COLOR", "MUTED_COLOR", "STATUS_COLORS", "STATUS_ICONS"]

STATUS_ICONS: dict[str, str] = {"waiting": "○", "running": "◔", "done": "✓", "error": "✗"}
"""The visual cue of each status of an agent call, in the order a call goes through them."""

STATUS_COLORS: dict[str, str] = {"waiting": "#9e9e9e", "running": "#1e88e5", "done": "#43a047", "error": "#e53935"}

ERROR_COLOR = STATUS_COLORS["error"]
"""Errors are shown in the colour of a failed call, wherever they appear."""

MUTED_COLOR = "#6e7781"
