"""`AgentRun`: one run of an agent started from a cell — its replies streaming live and, collapsed below them, the
calls the run made.

While the run goes on, a live widget shows it (in a kernel). When it ends, that live output is emptied and the run
itself becomes the cell's result, shown as a static snapshot. A notebook saved afterwards therefore holds the whole
run as plain HTML and text, and nbval — which compares outputs as they were first shown and ignores display
updates — sees exactly what a front end saved: an empty output (widget views are not compared) and the result.
An interrupted run leaves the static copy of what it showed until then in place of the live widget.
"""

import asyncio
from collections.abc import Mapping
from typing import Any, Self

from miniagents import Message, MessageType, MiniAgent
from miniagents_notebook.calls_view import make_calls_view
from miniagents_notebook.kernel import as_current_cell, in_kernel
from miniagents_notebook.stream_view import WIDGET_VIEW_MIMETYPE, StreamView
from miniagents_notebook.trace import Trace

__all__ = ["AgentRun"]

_DETAILS_STYLE = "margin:6px 0;opacity:0.9"

_refreshing: set["asyncio.Task[None]"] = set()  # asyncio keeps only weak references to tasks


class AgentRun:
    """Triggers `agent` with `messages` and `kwargs` at once and follows the run: `await run.wait()` for its end.

    After the end, `messages` holds the reply messages and `error` what the run raised (with `errors_as_messages`
    an agent's error is a reply instead, and `error` stays `None`). `trace` holds the calls the run made (the
    call and every call under it): `run.trace.timeline()`, `run.trace.to_mermaid()`, ...
    """

    def __init__(
        self,
        agent: MiniAgent,
        messages: MessageType | None = None,
        kwargs: Mapping[str, Any] | None = None,
        live: bool | None = None,
    ) -> None:
        self.agent = agent
        self.trace = Trace(record_history=False)  # the session's history already keeps the records
        with self.trace:
            self.replies = agent.trigger(messages, **(kwargs or {}))
        live = in_kernel() if live is None else live
        self.reply_view = StreamView(self.replies, live=live)
        self.reply_view.show_when_awaited = False  # its widget is part of the run's own live output
        self.calls_view = make_calls_view(self.trace, live=live)
        self.messages: tuple[Message, ...] = ()
        self.error: BaseException | None = None
        self.is_finished = False
        self._live_widget: Any = None
        self._live_display: Any = None

    def show_live(self) -> None:
        """Display the live widget (only in a kernel; elsewhere the static result at the end says it all)."""
        if self.reply_view.widget is None or self.calls_view.widget is None:
            return
        import ipywidgets
        from IPython.display import display

        calls = ipywidgets.Accordion(children=[self.calls_view.widget], titles=("Calls",), selected_index=None)
        self._live_widget = ipywidgets.VBox([self.reply_view.widget, calls])
        bundle = {WIDGET_VIEW_MIMETYPE: self._live_widget._repr_mimebundle_()[WIDGET_VIEW_MIMETYPE]}
        self._live_display = display(bundle, raw=True, display_id=True)

    async def wait(self) -> Self:
        """Wait for the replies and for every call the run started to finish; then empty the live output."""
        __tracebackhide__ = True
        try:
            self.messages = await self.replies
        except Exception as error:  # kept for whoever shows the run: see `error`
            self.error = error
        except BaseException:  # interrupted: the output keeps what the run showed, as a static copy
            self._leave_static_copy()
            refresh = asyncio.get_running_loop().create_task(self._aleave_final_copy())
            _refreshing.add(refresh)
            refresh.add_done_callback(_refreshing.discard)
            raise
        await self.trace.wait_settled()
        await self.reply_view.wait()
        self.calls_view.flush()
        self.is_finished = True
        if self._live_display is not None:
            as_current_cell(self._live_display.update, {}, raw=True)
        return self

    async def _aleave_final_copy(self) -> None:
        """Once the calls of an interrupted run are over (cancelled, usually), its static copy says how they ended."""
        await self.trace.wait_settled()
        self._leave_static_copy()

    def _leave_static_copy(self) -> None:
        if self._live_display is not None:
            self.calls_view.flush()
            as_current_cell(self._live_display.update, {"text/plain": self.text, "text/html": self.html}, raw=True)

    # --- display ---------------------------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The deterministic plain-text form: the replies, then the calls."""
        return f"{self.reply_view.text}\n\nCalls:\n{self.calls_view.to_text()}"

    @property
    def html(self) -> str:
        """The static HTML form: the replies, then the calls in a collapsed `<details>` block."""
        calls = (
            f'<details style="{_DETAILS_STYLE}"><summary style="cursor:pointer">Calls</summary>'
            f"{self.calls_view.to_html()}</details>"
        )
        return f'<div class="miniagents-run">{self.reply_view.html}{calls}</div>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self.text, "text/html": self.html}
        if self._live_widget is not None and not self.is_finished:
            bundle[WIDGET_VIEW_MIMETYPE] = self._live_widget._repr_mimebundle_()[WIDGET_VIEW_MIMETYPE]
        return bundle

    def __repr__(self) -> str:
        return f"<AgentRun of {self.agent.alias}, {'finished' if self.is_finished else 'running'}>"
