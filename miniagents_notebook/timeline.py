"""Timeline widget: the calls of a `CallTreeModel` as horizontal bars over wall-clock time.

One row per call, in tree order (each call under the call that made it, like a flame chart), so work that runs in
parallel shows as bars that overlap. The pale part of a bar is the time the call waited before its agent started.
Hover or click a bar to identify the call; `selected` holds the clicked call id (link it to a `CallTree`'s
`selected` with `traitlets.link` to select in both).
"""

import time
from typing import Any

import traitlets

from miniagents_notebook._eviction import with_eviction_note
from miniagents_notebook.call_tree import CallTreeModelView, _asset
from miniagents_notebook.static_html import render_timeline

__all__ = ["Timeline"]


class Timeline(CallTreeModelView):
    """Gantt view of agent calls; usually made by `trace.timeline()`."""

    _esm = _asset("common.js") + _asset("timeline.js")

    timeline = traitlets.Dict().tag(sync=True)
    selected = traitlets.Int(None, allow_none=True).tag(sync=True)
    expansions = traitlets.Int(0).tag(sync=True)
    """How many times "… N more calls not shown" was clicked: each shows `EXPANSION_ROWS` more calls per parent and
    in all."""

    EXPANSION_ROWS = 200

    _synced_state: tuple[int, int | None, int] | None = None

    def __init__(self, model: Any, **options: Any) -> None:
        super().__init__(model, **options)
        self.observe(lambda _change: self.flush(), names=["expansions"])

    def _snapshot(self) -> dict[str, Any]:
        extra = self.EXPANSION_ROWS * self.expansions
        return self.model.timeline_snapshot(
            time.time(), child_limit=self.child_limit + extra, max_rows=self.max_rows + extra
        )

    def _sync(self) -> bool:
        # events change what is sent, and so does the clock while bars of unfinished calls grow
        state = (self.model.version, self._clock(), self.expansions)
        if state == self._synced_state:
            return False
        self._synced_state = state
        self.timeline = self._snapshot()
        return True

    def to_html(self) -> str:
        snapshot = self._snapshot()
        return with_eviction_note(render_timeline(snapshot), snapshot["evicted_note"])
