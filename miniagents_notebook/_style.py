"""The colours and status marks every view shares, static HTML and live widgets alike.

This is their one source: the static HTML puts them in inline styles, and the live widgets' stylesheet gets them as
CSS custom properties (`widget_css_variables()`, appended to `_static/widgets.css`, which only refers to them), so the
browser never keeps a copy of its own.
"""

__all__ = [
    "ERROR_COLOR",
    "MUTED_COLOR",
    "PALETTE",
    "STATUS_COLORS",
    "STATUS_ICONS",
    "widget_css_variables",
]

STATUS_ICONS: dict[str, str] = {"waiting": "○", "running": "◔", "done": "✓", "error": "✗", "cancelled": "⊘"}
"""The visual cue of each status of an agent call, in the order a call goes through them (`cancelled`: stopped from
outside, e.g. by interrupting the kernel)."""

STATUS_COLORS: dict[str, str] = {
    "waiting": "#9e9e9e",
    "running": "#1e88e5",
    "done": "#43a047",
    "error": "#e53935",
    "cancelled": "#fb8c00",
}

ERROR_COLOR = STATUS_COLORS["error"]
"""Errors are shown in the colour of a failed call, wherever they appear."""

PALETTE: dict[str, str] = {
    "fg": "#1f2328",
    "muted": "#6e7781",
    "border": "#d0d7de",
    "bg": "#ffffff",
    "bg-alt": "#f6f8fa",
}
"""The colours of the views' text, borders and backgrounds (a JupyterLab theme's own colours come first live)."""

MUTED_COLOR = PALETTE["muted"]


def widget_css_variables() -> str:
    """The CSS rule that gives the live views these colours: `--ma-default-<name>` for the palette (the fallbacks of
    the theme's colours) and `--ma-<status>` for each status."""
    properties = [f"--ma-default-{name}: {color};" for name, color in PALETTE.items()]
    properties += [f"--ma-{status}: {color};" for status, color in STATUS_COLORS.items()]
    return "\n/* generated from miniagents_notebook/_style.py */\n.ma-view { " + " ".join(properties) + " }\n"
