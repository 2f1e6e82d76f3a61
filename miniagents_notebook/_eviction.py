"""How many calls the notebook layer keeps in memory, and the note every view shows once older ones were dropped.

A notebook can run for days and make millions of agent calls. Everything that remembers calls — the session's
history (`InMemoryHistory`) and the model behind a live trace (`CallTreeModel`) — keeps at most `max_calls` of them
and evicts the oldest first (`DEFAULT_MAX_CALLS` unless told otherwise; `None` keeps everything). Each counts what
it evicted, and the views say so: `… 1,234 older calls evicted (limit 10,000)`, so that a partial list is never
mistaken for the whole story.
"""

from html import escape

from miniagents.history import DEFAULT_MAX_CALLS, check_max_calls, eviction_note
from miniagents_notebook._style import MUTED_COLOR

# the limit and its note are the core's (`miniagents.history`); the notebook layer adds the note to its views
__all__ = ["DEFAULT_MAX_CALLS", "check_max_calls", "eviction_note", "with_eviction_note"]


def with_eviction_note(markup: str, note: str) -> str:
    """A view's static HTML with `note` added under its header line (the box opens on the first line, its header
    is the second); unchanged when there is no note."""
    if not note:
        return markup
    line = f'<div style="color:{MUTED_COLOR};font-style:italic">{escape(note)}</div>'
    lines = markup.split("\n", 2)
    if len(lines) < 3:
        return f"{line}\n{markup}"
    return "\n".join([lines[0], lines[1], line, lines[2]])
