"""The view of the calls a run made, shown collapsed below the run's replies: the run's call tree.

`make_calls_view(trace, live)` is the one place that decides how a run shows its calls: a live `CallTree` widget of
the run's trace while the run goes on, and afterwards the tree's static forms, which leave timings out so that a
deterministic run shows the same text and HTML every time (nbval compares them).
"""

from miniagents_notebook.call_tree import CallTree
from miniagents_notebook.trace import Trace

__all__ = ["CallsView", "make_calls_view"]


class CallsView:
    """The calls of one run: `widget` (live only), `to_text()`, `to_html()`, and `flush()` for the final state."""

    def __init__(self, trace: Trace, live: bool) -> None:
        self.trace = trace
        self.widget: CallTree | None = trace.call_tree(static_timings=False) if live else None

    def to_text(self) -> str:
        """The call tree as text: aliases, shape and statuses (no ids, no timings)."""
        return self.trace.to_text()

    def to_html(self) -> str:
        """The call tree as static HTML, without timings."""
        return self.trace.to_html(show_timings=False)

    def flush(self) -> None:
        """Send the current state to the front end now (the run calls it once it is over)."""
        if self.widget is not None:
            self.widget.flush()


def make_calls_view(trace: Trace, live: bool) -> CallsView:
    """The view of the calls in `trace` that a run shows (live: with a widget that updates as calls happen)."""
    return CallsView(trace, live)
