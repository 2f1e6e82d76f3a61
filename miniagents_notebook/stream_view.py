"""`stream()` / `StreamView`: replay a streamed promise into a notebook output, live.

A view is one more consumer of the promise: it replays what was produced already at once and then follows the
stream (starting a lazy producer if nobody has yet), so any number of views of one promise can run side by side
without disturbing each other or the agents. In a kernel it shows an ipywidgets `HTML` widget updated by an
`UpdateThrottle` — at most about 20 front-end updates a second, the final state always — so a stream of 100k tokens
costs the browser a few dozen updates. Its `text/html` form is a static snapshot that renders without a kernel and
its `text/plain` form is deterministic (no ids, no timings), which is what nbval compares.
"""

import asyncio
from typing import Any, Self

from miniagents import Message, MessagePromise, MessageSequencePromise, StreamedPromise
from miniagents_notebook.kernel import in_kernel, running_loop_or_none
from miniagents_notebook.rendering import (
    item_html,
    item_text,
    join_html,
    join_text,
    message_html,
    message_text,
    message_view,
)
from miniagents_notebook.snapshot import is_complete, message_promise_view, streamed_promise_view
from miniagents_notebook.throttle import UpdateThrottle

__all__ = ["WIDGET_VIEW_MIMETYPE", "StreamView", "stream"]

WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"

_running_consumers: set["asyncio.Task[None]"] = set()  # asyncio keeps only weak references to tasks


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
        self.source = source
        self.widget: Any = None
        self.updates_sent = 0
        self._complete_items: dict[MessagePromise, tuple[str, str]] = {}
        self._display_id: str | None = None
        self._throttle: UpdateThrottle | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._finished = False
        self._flushed_key: tuple[Any, ...] | None = None
        loop = running_loop_or_none()
        wants_live = in_kernel() if live is None else live
        if wants_live and loop is not None and not is_complete(source):
            import ipywidgets

            self.widget = ipywidgets.HTML(value=self.html)
            self._throttle = UpdateThrottle(self._flush, loop, max_per_second=max_updates_per_second)
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

    def _render(self, html: bool) -> str:
        source = self.source
        if isinstance(source, Message):
            view = message_view(source)
            return message_html(view) if html else message_text(view)
        if isinstance(source, MessagePromise):
            view = message_promise_view(source)
            return message_html(view) if html else message_text(view)
        if isinstance(source, MessageSequencePromise):
            parts = [self._render_item(item, html) for item in source.pieces_so_far]
            return join_html(parts, source.is_streamed) if html else join_text(parts, source.is_streamed)
        view = streamed_promise_view(source)
        return message_html(view) if html else message_text(view)

    def _render_item(self, item: MessagePromise | BaseException, html: bool) -> str:
        if isinstance(item, BaseException):
            return item_html(item) if html else item_text(item)
        cached = self._complete_items.get(item)
        if cached is None:
            view = message_promise_view(item)
            if not item.is_streamed:
                return item_html(view) if html else item_text(view)
            cached = self._complete_items[item] = (item_text(view), item_html(view))
        return cached[1] if html else cached[0]

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
            if self._throttle is not None:
                self._throttle.flush_now()
            self._publish_final_snapshot()

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
            self._changed()
            followers.append(asyncio.ensure_future(self._afollow(message_promise)))
        await asyncio.gather(*followers)

    async def _afollow(self, promise: StreamedPromise[Any, Any]) -> None:
        """Follow `promise` to its end without costing anything per piece while live.

        The first piece is awaited like any consumer would (which starts a lazy producer). After that a live view
        only looks at the promise once per front-end update, so however fast tokens come, the view wakes up at most
        about `max_updates_per_second` times a second; a view that is not live just replays the pieces to the end.
        """
        iterator = promise.__aiter__()
        while not promise.is_streamed:
            if self._throttle is not None and promise.pieces_so_far:
                self._changed()
                await self._throttle.wait_for_flush()
                continue
            try:
                await iterator.__anext__()
            except StopAsyncIteration:
                break
            except Exception:  # the error stays in the promise and is rendered from there
                pass
            self._changed()

    def _changed(self) -> None:
        if self._throttle is not None:
            self._throttle.request()

    def _change_key(self) -> tuple[Any, ...]:
        """Cheap to compute and different whenever the rendering would be (so unchanged states are not rendered)."""
        source = self.source
        if not isinstance(source, StreamedPromise):
            return ()
        items = source.pieces_so_far
        if not isinstance(source, MessageSequencePromise):
            return len(items), source.is_streamed, source.is_resolved
        return (
            len(items),
            source.is_streamed,
            *(
                -1 if isinstance(item, BaseException) or item.is_streamed else len(item.pieces_so_far)
                for item in items
            ),
        )

    def _flush(self) -> int:
        key = self._change_key()
        if self.widget is None or key == self._flushed_key:
            return 0
        self._flushed_key = key
        html = self.html
        if self.widget.value == html:
            return 0
        self.widget.value = html
        self.updates_sent += 1
        return len(html)

    def _publish_final_snapshot(self) -> None:
        """Replace live outputs of this view by the static snapshot (front ends apply it while their cell runs)."""
        if self._display_id is not None:
            from IPython.display import update_display

            update_display(self._static_bundle(), raw=True, display_id=self._display_id)

    async def wait(self) -> Self:
        """Wait until the stream is complete and the final state was sent (driving the stream if nothing does)."""
        if self._consumer is None:
            if is_complete(self.source):
                self._finished = True
                return self
            self._consumer = self._start_consumer(asyncio.get_running_loop())
        await asyncio.shield(self._consumer)
        return self

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

    `await stream(source)` waits for the end and shows the whole result, which is what a notebook validated by
    nbval should do (a live output is compared as it was when it was first shown).
    """
    return StreamView(source, live=live, max_updates_per_second=max_updates_per_second)
