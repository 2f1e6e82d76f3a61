"""`stream()` / `StreamView`: replay a streamed promise into a notebook output, live.

A view is one more consumer of the promise: it replays what was produced already at once and then follows the
stream (starting a lazy producer if nobody has yet), so any number of views of one promise can run side by side
without disturbing each other or the agents. In a kernel it shows an ipywidgets `HTML` widget updated through an
`UpdateThrottle` — at most about 20 front-end updates a second, the final state always — so a stream of 100k tokens
costs the browser a few updates, each of them small: while a message streams, only its last `STREAMING_TAIL_CHARS`
characters are shown. Following costs nothing per token either: the view wakes up once per message (when
it appears and when it is complete) and otherwise looks at the text streamed so far only when it sends an update,
joining just the tokens that arrived since the last look and rendering the HTML only then. Its `text/html` form is a
static snapshot that renders without a kernel and its `text/plain` form is deterministic (no ids, no timings),
which is what nbval compares. A view displayed by itself ends as that snapshot, which replaces its live output while
the cell runs: the final state, however long, goes out to the front end once.
"""

import asyncio
import dataclasses
from typing import Any, Self

from miniagents import Message, MessagePromise, MessageSequencePromise, StreamedPromise
from miniagents_notebook.kernel import as_current_cell, in_kernel, running_loop_or_none
from miniagents_notebook.rendering import (
    MessageView,
    item_html,
    item_text,
    join_html,
    join_text,
    message_html,
    message_text,
    message_view,
)
from miniagents_notebook.snapshot import is_complete, streamed_view
from miniagents_notebook.throttle import UpdateThrottle

__all__ = ["STREAMING_TAIL_CHARS", "WIDGET_VIEW_MIMETYPE", "StreamView", "stream"]

WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"

STREAMING_TAIL_CHARS = 20_000
"""How much of a message that is still streaming a view shows (its end): every live update stays small, however long
the message grows; the whole message is shown once it is complete."""

_running_consumers: set["asyncio.Task[None]"] = set()  # asyncio keeps only weak references to tasks


class _ShownPromise:
    """One streamed promise of a view: re-rendered only when it changed, and at most once per form and change."""

    __slots__ = ("_forms", "_state", "is_final", "promise", "view")

    def __init__(self, promise: StreamedPromise[Any, Any]) -> None:
        self.promise = promise
        self.view: MessageView | None = None
        self.is_final = False
        """Whether the promise is complete (streamed to the end and, for a message, resolved)."""
        self._state: tuple[Any, ...] | None = None
        self._forms: dict[bool, str] = {}

    def refresh(self) -> bool:
        """Take in what the promise produced since the last refresh; whether that changes what is shown."""
        if self.is_final:
            return False
        promise = self.promise
        view = streamed_view(promise)
        state = (view.content, view.complete, view.error, promise.is_resolved)
        if state == self._state:
            return False
        self._state = state
        if not view.complete and view.content and len(view.content) > STREAMING_TAIL_CHARS:
            view = dataclasses.replace(view, content="…" + view.content[-STREAMING_TAIL_CHARS:])
        self.view = view
        self._forms.clear()
        self.is_final = promise.is_resolved if isinstance(promise, MessagePromise) else promise.is_streamed
        return True

    def render(self, html: bool) -> str:
        """The HTML or text form of the state the last `refresh()` took in."""
        form = self._forms.get(html)
        if form is None:
            assert self.view is not None, "refresh() first"
            form = self._forms[html] = message_html(self.view) if html else message_text(self.view)
        return form


class StreamView:
    """A live view of a `MessagePromise`, a `MessageSequencePromise` (e.g. an agent's replies) or any StreamedPromise.

    `live=None` (the default) means live in a Jupyter kernel and a static snapshot elsewhere; `live=True` asks for
    the widget whenever an event loop is running. `await view` waits until the stream is complete and its final
    state was sent, then returns the view (so `await stream(replies)` as a cell's last line shows the whole thing).
    A source that is already complete is shown whole at once, without a widget.
    """

    def __init__(
        self,
        source: StreamedPromise[Any, Any] | Message,
        live: bool | None = None,
        max_updates_per_second: float = 20.0,
    ) -> None:
        if not isinstance(source, (StreamedPromise, Message)):
            raise TypeError(
                f"stream() shows a MessagePromise, a MessageSequencePromise (such as `agent.trigger(...)`), another "
                f"StreamedPromise or a Message; got {type(source).__name__}."
            )
        if max_updates_per_second <= 0:
            raise ValueError(f"max_updates_per_second must be positive, got {max_updates_per_second!r}.")
        self.source = source
        self.widget: Any = None
        self.updates_sent = 0
        self._shown: list[_ShownPromise | BaseException] = []
        """The sequence's messages (or errors) in order; the single promise otherwise."""
        self._sequence_streamed = False
        self._version = 0
        self._sent_version = -1
        self._display_id: str | None = None
        self.show_when_awaited = True
        """Whether `await view` shows the live widget when no output shows the view yet (`False` for a widget embedded
        in another view, such as a `%%miniagent` run's)."""
        self._shown_while_awaited = False
        """Whether `await view` put the live widget in the cell's output (it had not been displayed)."""
        self._cell_over = False
        """Whether the cell that awaited the view has ended (set only when `_shown_while_awaited`)."""
        self._result_shown = False
        """Whether the view was displayed as a static result (e.g. as the last line of the cell that awaited it)."""
        self._throttle: UpdateThrottle | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._finished = False
        if isinstance(source, StreamedPromise) and not isinstance(source, MessageSequencePromise):
            self._shown.append(_ShownPromise(source))
        loop = running_loop_or_none()
        wants_live = in_kernel() if live is None else live
        if wants_live and loop is not None and not is_complete(source):
            import ipywidgets

            self.widget = ipywidgets.HTML(value=self.html)
            self._sent_version = self._version
            self._throttle = UpdateThrottle(self._flush, interval=1 / max_updates_per_second, loop=loop)
            self._throttle.sent_just_now()
            self._consumer = self._start_consumer(loop)

    # --- the state, rendered ---------------------------------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        """Whether the stream is complete and the view has sent its final state."""
        return self._finished or (self._consumer is None and is_complete(self.source))

    @property
    def text(self) -> str:
        """The deterministic plain-text form of what has been streamed so far."""
        return self._render(html=False)

    @property
    def html(self) -> str:
        """The static HTML snapshot of what has been streamed so far."""
        return self._render(html=True)

    def _refresh(self) -> None:
        """Take in what the source produced since the last look (new messages, new tokens, ends)."""
        changed = False
        source = self.source
        if isinstance(source, MessageSequencePromise):
            streamed = source.is_streamed  # read first: pieces that come with the end are then surely taken in
            pieces = source.pieces_so_far
            if len(pieces) > len(self._shown) or streamed != self._sequence_streamed:
                changed = True
                self._sequence_streamed = streamed
                self._shown += [
                    piece if isinstance(piece, BaseException) else _ShownPromise(piece)
                    for piece in pieces[len(self._shown) :]
                ]
        for shown in self._shown:
            if isinstance(shown, _ShownPromise) and shown.refresh():
                changed = True
        if changed:
            self._version += 1

    def _render(self, html: bool) -> str:
        if isinstance(self.source, Message):
            view = message_view(self.source)
            return message_html(view) if html else message_text(view)
        self._refresh()
        return self._rendered(html)

    def _rendered(self, html: bool) -> str:
        """The state the last `_refresh()` took in, rendered (a promise only if it changed since it was rendered)."""
        if not isinstance(self.source, MessageSequencePromise):
            return self._shown[0].render(html)  # type: ignore[union-attr]
        parts = [
            shown.render(html) if isinstance(shown, _ShownPromise) else item_html(shown) if html else item_text(shown)
            for shown in self._shown
        ]
        return join_html(parts, self._sequence_streamed) if html else join_text(parts, self._sequence_streamed)

    def _is_streaming(self) -> bool:
        """Whether some promise shown can get more text without anyone saying so (it is polled while it can)."""
        return any(isinstance(shown, _ShownPromise) and not shown.is_final for shown in self._shown)

    # --- following the stream --------------------------------------------------------------------------------------

    def _start_consumer(self, loop: asyncio.AbstractEventLoop) -> "asyncio.Task[None]":
        consumer = loop.create_task(self._aconsume())
        _running_consumers.add(consumer)
        consumer.add_done_callback(_running_consumers.discard)
        return consumer

    async def _aconsume(self) -> None:
        try:
            if isinstance(self.source, MessageSequencePromise):
                await self._afollow_sequence(self.source)
            elif isinstance(self.source, StreamedPromise):
                await self._afollow(self.source)
        finally:
            self._finished = True
            self._send_final_state()

    async def _afollow_sequence(self, sequence: MessageSequencePromise) -> None:
        followers = []
        iterator = sequence.__aiter__()
        while True:
            try:
                message_promise = await iterator.__anext__()
            except StopAsyncIteration:
                break
            except Exception:  # an error at this position: shown inline, the stream goes on
                self._changed()
                continue
            followers.append(asyncio.ensure_future(self._afollow(message_promise)))
        await asyncio.gather(*followers)

    async def _afollow(self, promise: StreamedPromise[Any, Any]) -> None:
        """Wait for the end of `promise` (starting a lazy producer), waking once rather than once per piece.

        A message promise resolves when its last token is in; any other streamed promise collects its pieces. The
        text in between is picked up by the throttled updates, which poll it while it streams.
        """
        self._changed()  # it appeared
        try:
            await promise
        except Exception:  # the error stays in the promise and is rendered from there
            pass
        if not promise.is_streamed:  # resolved by a resolver of its own before its stream ended
            try:
                async for _ in promise:
                    pass
            except Exception:
                pass
        self._changed()

    def _changed(self) -> None:
        if self._throttle is not None:
            self._throttle.request()

    def _flush(self) -> int:
        if self.widget is None or (not self._finished and is_complete(self.source)):
            return 0  # complete: the consumer is about to send the final state, once
        self._refresh()
        if not self._finished and self._is_streaming():
            self._changed()  # look again one interval later: tokens arrive without anyone saying so
        if self._version == self._sent_version:
            return 0
        self._sent_version = self._version
        html = self._rendered(html=True)
        self.widget.value = html
        self.updates_sent += 1
        return len(html)

    def _send_final_state(self) -> None:
        """Send the final state once: as the static snapshot that replaces the outputs showing this view (front ends
        apply it while their cell runs), or, for a widget shown some other way, as its last update."""
        if self._throttle is None:
            return
        if self._display_id is None:
            self._throttle.flush_now()
            return
        self._throttle.cancel()
        from IPython.display import update_display

        # awaited in a cell that goes on: the cell's result is the view, shown once, so the live output steps aside
        awaited_result_follows = self._shown_while_awaited and not self._cell_over
        bundle = {} if awaited_result_follows else self._static_bundle()
        as_current_cell(update_display, bundle, raw=True, display_id=self._display_id)

    async def wait(self) -> Self:
        """Wait until the stream is complete and the final state was sent (driving the stream if nothing does).

        In a kernel, a live view that no output shows yet shows itself while it is awaited, so that `await
        stream(replies)` streams as it runs; at the end that live output makes way for the cell's result (the view,
        static), or, if the cell does not show the view, becomes its static snapshot when the cell ends.
        """
        if self._consumer is None:
            if is_complete(self.source):
                self._finished = True
                return self
            self._consumer = self._start_consumer(asyncio.get_running_loop())
        self._show_while_awaited()
        await asyncio.shield(self._consumer)
        return self

    def _show_while_awaited(self) -> None:
        shows_elsewhere = not self.show_when_awaited or self._display_id is not None
        if shows_elsewhere or self.widget is None or self._finished or not in_kernel():
            return
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        self._display_id = f"miniagents-stream-{self.widget.model_id}"
        self._shown_while_awaited = True
        # only the widget: a first-shown partial `text/plain` would be what nbval compares
        display(
            {WIDGET_VIEW_MIMETYPE: self.widget._repr_mimebundle_()[WIDGET_VIEW_MIMETYPE]},
            raw=True,
            display_id=self._display_id,
        )

        def cell_ended(*_: Any) -> None:
            shell.events.unregister("post_execute", cell_ended)
            self._cell_over = True
            if self._finished and not self._result_shown:
                from IPython.display import update_display

                as_current_cell(update_display, self._static_bundle(), raw=True, display_id=self._display_id)

        shell.events.register("post_execute", cell_ended)

    def __await__(self) -> Any:
        return self.wait().__await__()

    def close(self) -> None:
        """Stop updating and close the widget (its output disappears from the front end)."""
        if self._throttle is not None:
            self._throttle.cancel()
            self._throttle = None
        if self.widget is not None:
            self.widget.close()

    # --- display ---------------------------------------------------------------------------------------------------

    def _static_bundle(self) -> dict[str, Any]:
        return {"text/plain": self.text, "text/html": self.html}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = self._static_bundle()
        if self.widget is not None and not self._finished:
            bundle[WIDGET_VIEW_MIMETYPE] = self.widget._repr_mimebundle_()[WIDGET_VIEW_MIMETYPE]
        return bundle

    def _ipython_display_(self) -> None:
        """Display with a display id, so that the live output can be swapped for the static snapshot at the end."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        if WIDGET_VIEW_MIMETYPE not in bundle:
            display(bundle, raw=True)
            self._result_shown = True
            return
        if self._display_id is None:
            self._display_id = f"miniagents-stream-{self.widget.model_id}"
        display(bundle, raw=True, display_id=self._display_id)

    def __repr__(self) -> str:
        state = "finished" if self.is_finished else "streaming"
        return f"<StreamView of {type(self.source).__name__}, {state}>"


def stream(
    source: StreamedPromise[Any, Any] | Message, live: bool | None = None, max_updates_per_second: float = 20.0
) -> StreamView:
    """Replay `source` — a `MessagePromise`, a `MessageSequencePromise` such as `agent.trigger(...)`, any other
    `StreamedPromise`, or a `Message` — into a view that shows it live (display it, or make it a cell's last line).

    `await stream(source)` shows it live too while it waits for the end, then leaves the whole result as the cell's
    output (what a saved notebook and nbval see: the live output is a widget, which nbval does not compare).
    """
    return StreamView(source, live=live, max_updates_per_second=max_updates_per_second)
