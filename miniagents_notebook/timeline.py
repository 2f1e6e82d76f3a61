"""Timeline widget: the calls of a `CallTreeModel` as horizontal bars over wall-clock time.

One row per call, in tree order (each call under the call that made it, like a flame chart), so work that runs in
parallel shows as bars that overlap. The pale part of a bar is the time the call waited before its agent started.
Hover or click a bar to identify the call; `selected` holds the clicked call id (link it to a `CallTree`'s
`selected` with `traitlets.link` to select in both).
"""

import time
from typing import Any

import traitlets

from miniagents_notebook._tree_model import DEFAULT_CHILD_LIMIT, DEFAULT_MAX_ROWS, CallTreeModel
from miniagents_notebook.call_tree import LiveView, _asset
from miniagents_notebook.static_html import render_timeline

__all__ = ["Timeline"]


class Timeline(LiveView):
    """Gantt view of agent calls; usually made by `trace.timeline()`."""

    _esm = _asset("common.js") + _asset("timeline.js")

    timeline = traitlets.Dict().tag(sync=True)
    selected = traitlets.Int(None, allow_none=True).tag(sync=True)

    def __init__(
        self,
        model: CallTreeModel,
        *,
        child_limit: int = DEFAULT_CHILD_LIMIT,
        max_rows: int = DEFAULT_MAX_ROWS,
        throttle_interval: float = 0.1,
        **kwargs: Any,
    ) -> None:
        self.model = model
        self.child_limit = child_limit
        self.max_rows = max_rows
        self._synced_version: int | None = None
        super().__init__(throttle_interval=throttle_interval, **kwargs)
        model.add_listener(self.request_update)
        self._sync_state()

    def _snapshot(self) -> dict[str, Any]:
        return self.model.timeline_snapshot(time.time(), child_limit=self.child_limit, max_rows=self.max_rows)

    def _sync(self) -> None:
        # running bars grow in the browser by themselves: only events change what is sent
        if self.model.version == self._synced_version:
            return
        self._synced_version = self.model.version
        self.timeline = self._snapshot()

    def _is_settled(self) -> bool:
        return self.model.is_finished

    def to_text(self) -> str:
        return self.model.as_text(self.child_limit)

    def to_html(self) -> str:
        return render_timeline(self._snapshot())

    def close(self) -> None:
        self.model.remove_listener(self.request_update)
        super().close()
