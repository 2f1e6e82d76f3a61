"""Live call tree widget, and `LiveView`, the base every live view but the stream view shares.

A view is an anywidget (an ES module shipped in `_static/`, no front-end build): Python owns the state, computes a
JSON snapshot from the model and puts it in synced traits; the browser only renders it. The snapshot comes with every
text formatted (durations, status marks, the timeline's ticks, bar positions and tooltips: `_view_format`), and the
static HTML copy renders the same snapshot, so the two cannot drift apart; while calls are unfinished, the snapshot is
re-sent every `CLOCK_INTERVAL` so that their durations and bars grow. Snapshots are sent on a throttle — at most one
state message per `throttle_interval` per view, changes in between coalesce, the last state is always sent — so a run
of a thousand calls never floods the front end. Every view also puts a static HTML copy and a deterministic
`text/plain` in its output, for saved notebooks and nbval.
"""

import time
import weakref
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from miniagents_notebook._eviction import with_eviction_note
from miniagents_notebook._style import widget_css_variables
from miniagents_notebook._tree_model import DEFAULT_CHILD_LIMIT, DEFAULT_MAX_ROWS, CallTreeModel
from miniagents_notebook._unicode import replace_lone_surrogates, replace_lone_surrogates_in
from miniagents_notebook._view_format import CLOCK_INTERVAL
from miniagents_notebook.kernel import as_current_cell
from miniagents_notebook.mermaid import call_tree_to_mermaid
from miniagents_notebook.snapshot import text_so_far
from miniagents_notebook.static_html import render_call_tree
from miniagents_notebook.throttle import UpdateThrottle

__all__ = ["CallTree", "CallTreeModelView", "LiveView", "render_call_tree_html"]

_STATIC = Path(__file__).parent / "_static"


_displayed_views: "weakref.WeakSet[LiveView]" = weakref.WeakSet()
"""Live views displayed in this kernel: each cell's end brings their static copies up to date (`_at_cell_end`)."""
_cell_end_hooked_shells: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _at_cell_end(*_: Any) -> None:
    """Send every displayed view's state and static copy before the cell's reply, if they changed since last sent:
    what the calls did during the cell is then in the saved notebook even if nothing runs after it (nbclient stops
    listening when the cell ends; a front end saves what it received)."""
    for view in list(_displayed_views):
        if not view.is_current:
            view.flush()


def _hook_cell_end(shell: Any) -> None:
    if shell not in _cell_end_hooked_shells:
        shell.events.register("post_execute", _at_cell_end)
        _cell_end_hooked_shells.add(shell)


def _asset(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


def render_call_tree_html(snapshot: dict[str, Any], show_timings: bool = True) -> str:
    """The static HTML of a `tree_snapshot`, with the note on evicted calls if there were any."""
    return with_eviction_note(render_call_tree(snapshot, show_timings), snapshot.get("evicted_note", ""))


class LiveView(anywidget.AnyWidget):
    """A widget whose state follows a changing source on a throttle and that leaves a static copy behind.

    Subclasses implement `_sync()` (set the synced traits from the source), `to_text()` and `to_html()`; they may
    override `_keeps_changing()` (poll while the view changes without events: text streams in, a clock runs) and
    `_is_settled()` (no more events
    will come: the displayed static copies are refreshed once more when the state stops changing). A subclass sets
    what `_sync()` reads before calling this `__init__`.
    """

    _css = _asset("widgets.css") + widget_css_variables()

    def __init__(self, *, throttle_interval: float = 0.1, **kwargs: Any) -> None:
        self._sync()  # the first state travels with the message that opens the widget
        super().__init__(**kwargs)
        self._throttle = UpdateThrottle(self._scheduled_update, interval=throttle_interval)
        self._throttle.sent_just_now()
        self._display_handles: list[Any] = []
        self._displays_are_current = False
        if self._keeps_changing():
            self._throttle.request()  # no event may come for a while, and the view changes anyway

    def request_update(self) -> None:
        """Schedule a state update (cheap: call it from event handlers as often as you like)."""
        self._displays_are_current = False
        self._throttle.request()

    def flush(self) -> None:
        """Send the current state now, and refresh the static copy in every output showing this view."""
        self._throttle.flush_now()
        if not self._displays_are_current:
            self._update_displays()

    def _scheduled_update(self) -> None:
        self._sync_state()
        if self._keeps_changing():
            self._throttle.request()
        elif self._is_settled() and not self._displays_are_current:
            self._update_displays()

    def _sync_state(self) -> None:
        with self.hold_sync():
            if self._sync():
                self._displays_are_current = False

    def _sync(self) -> bool:
        """Set the synced traits from the source (only what changed); whether anything did."""
        raise NotImplementedError

    def to_text(self) -> str:
        """The view's deterministic `text/plain` form (no ids, no timings: nbval compares it)."""
        raise NotImplementedError

    def to_html(self) -> str:
        """The view as it is now, as self-contained static HTML (what saved notebooks show without a kernel)."""
        raise NotImplementedError

    def _keeps_changing(self) -> bool:
        return False

    def _is_settled(self) -> bool:
        return False

    def get_state(self, key: Any = None, drop_defaults: bool = False) -> dict[str, Any]:
        # the state goes to the front end as UTF-8 JSON, which half a character (a lone surrogate) cannot be part of
        return replace_lone_surrogates_in(super().get_state(key, drop_defaults))

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        self._sync_state()
        data, metadata = super()._repr_mimebundle_(**kwargs)  # the widget view
        return {**data, "text/plain": replace_lone_surrogates(self.to_text()), "text/html": self.to_html()}, metadata

    def _ipython_display_(self) -> None:
        # in a kernel, shown with a display id so that the static copy can be replaced by the final one when the
        # calls finish (a terminal would print it again instead)
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        in_kernel = getattr(shell, "kernel", None) is not None
        data, metadata = self._repr_mimebundle_()
        handle = display(data, metadata=metadata, raw=True, display_id=in_kernel or None)
        if in_kernel and handle is not None:
            self._display_handles.append(handle)
            self._displays_are_current = True
            _displayed_views.add(self)
            _hook_cell_end(shell)

    @property
    def is_current(self) -> bool:
        """Whether every output showing this view shows its current state (no update is pending)."""
        return self._displays_are_current and not self._throttle.is_pending

    def _update_displays(self) -> None:
        if not self._display_handles:
            return
        data, metadata = self._repr_mimebundle_()
        for handle in self._display_handles:
            as_current_cell(handle.update, data, metadata=metadata, raw=True)
        self._displays_are_current = True

    def close(self) -> None:
        self._throttle.cancel()
        _displayed_views.discard(self)
        super().close()


class CallTreeModelView(LiveView):
    """A live view of the calls in a `CallTreeModel` (the call tree, the timeline); it follows the model's changes.

    Parents with more than `child_limit` children show the first ones; at most `max_rows` rows are shown. When the
    model evicted older calls (`CallTreeModel(max_calls=...)`), the view says how many.
    """

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
        super().__init__(throttle_interval=throttle_interval, **kwargs)
        model.add_listener(self.request_update)

    def _is_settled(self) -> bool:
        return self.model.is_finished

    def _keeps_changing(self) -> bool:
        return not self.model.is_finished  # the durations of unfinished calls grow

    def _clock(self) -> int | None:
        """Changes every `CLOCK_INTERVAL` while some call is unfinished (its duration and bar grow), else `None`."""
        return None if self.model.is_finished else int(time.monotonic() / CLOCK_INTERVAL)

    def to_text(self) -> str:
        return self.model.as_text(self.child_limit, self.max_rows)

    def close(self) -> None:
        self.model.remove_listener(self.request_update)
        super().close()


class CallTree(CallTreeModelView):
    """Every agent call under the call that made it: status, kwargs, message counts, duration, reply preview.

    Selecting a call shows its input messages and replies (live while they stream) and, on error, the traceback.
    Parents with more than `child_limit` children show the first ones and a "… N more" row that expands on click; a
    tree cut at `max_rows` rows ends with one too (each click shows `EXPANSION_ROWS` more).
    Usually made by `trace.call_tree()`; `model` is a `CallTreeModel` fed with lifecycle events.
    `static_timings=False` leaves durations out of the static HTML copy (for notebooks that nbval compares).
    """

    _esm = _asset("common.js") + _asset("call_tree.js")

    tree = traitlets.Dict().tag(sync=True)
    details = traitlets.Dict().tag(sync=True)
    selected = traitlets.Int(None, allow_none=True).tag(sync=True)
    child_limits = traitlets.Dict().tag(sync=True)
    """Parent call id (as a string; `"-1"` for the roots) → how many children to show; the view raises them."""
    row_expansions = traitlets.Int(0).tag(sync=True)
    """How many times the "… N more" row at the end of a tree cut at `max_rows` was clicked: each shows
    `EXPANSION_ROWS` more rows."""

    EXPANSION_ROWS = 1000

    _synced_key: Any = None
    _synced_clock: int | None = None

    def __init__(self, model: CallTreeModel, *, static_timings: bool = True, **options: Any) -> None:
        self.static_timings = static_timings
        super().__init__(model, **options)
        self.observe(self._on_selected_changed, names=["selected"])
        self.observe(lambda _change: self.flush(), names=["child_limits", "row_expansions"])

    def _max_rows(self) -> int:
        return self.max_rows + self.EXPANSION_ROWS * self.row_expansions

    def _limits(self) -> dict[int, int]:
        return {int(parent): int(limit) for parent, limit in self.child_limits.items()}

    def _change_key(self) -> Any:
        selected_pieces = 0
        call = self.model.calls.get(self.selected) if self.selected is not None else None
        if call is not None and self.model.is_call_streaming(call.call_id):
            promises = [*call.input_promises.values(), *call.reply_promises.values()]
            selected_pieces = sum(text_so_far(promise).pieces for promise in promises)
        return (
            self.model.version,
            self.model.streaming_signature(),
            self.selected,
            selected_pieces,
            tuple(sorted(self.child_limits.items())),
            self.row_expansions,
        )

    def _sync(self) -> bool:
        key = self._change_key()
        clock = self._clock()
        if key == self._synced_key and clock == self._synced_clock:
            return False
        now = time.time()
        self.tree = self.model.tree_snapshot(now, self._limits(), self.child_limit, self._max_rows())
        if self.selected is not None and key != self._synced_key:  # the clock alone leaves the details as they are
            self.details = self.model.call_details(self.selected, now, self.child_limit)
        self._synced_key, self._synced_clock = key, clock
        return True

    def _on_selected_changed(self, change: dict[str, Any]) -> None:
        selected = change["new"]
        self.details = {} if selected is None else self.model.call_details(selected, time.time(), self.child_limit)
        if selected is not None and self.model.is_call_streaming(selected):
            self.request_update()

    def _keeps_changing(self) -> bool:
        return (
            super()._keeps_changing()
            or self.model.is_streaming
            or (self.selected is not None and self.model.is_call_streaming(self.selected))
        )

    def to_html(self) -> str:
        snapshot = self.model.tree_snapshot(time.time(), self._limits(), self.child_limit, self._max_rows())
        return render_call_tree_html(snapshot, show_timings=self.static_timings)

    def to_mermaid(self) -> str:
        """The tree as Mermaid text (see `miniagents_notebook.mermaid`)."""
        return call_tree_to_mermaid(self.model, self.child_limit)
