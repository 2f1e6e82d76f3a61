"""`stream()` / `StreamView` and `UpdateThrottle`: live views of streamed promises, batched front-end updates.

Most tests run the view with `live=True` on the test's event loop (ipywidgets then talks to a dummy comm); the
kernel test at the end counts the comm messages a real kernel sends to the front end.
"""

import asyncio
import itertools
import time

import pytest
from notebook_helpers import EXTENSION, ExecutedNotebook, loaded_shell, run_cell

from miniagents import MiniAgents, StreamedPromise, TextMessage, miniagent
from miniagents_notebook import StreamView, stream
from miniagents_notebook.stream_view import STREAMING_TAIL_CHARS, WIDGET_VIEW_MIMETYPE
from miniagents_notebook.throttle import UpdateThrottle

TOKENS = 10_000


class FakeHandle:
    def __init__(self, when: float, callback) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Just what `UpdateThrottle` uses of an event loop, with a clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.handles: list[FakeHandle] = []

    def time(self) -> float:
        return self.now

    def call_soon(self, callback) -> FakeHandle:
        return self.call_later(0.0, callback)

    def call_later(self, delay: float, callback) -> FakeHandle:
        handle = FakeHandle(self.now + delay, callback)
        self.handles.append(handle)
        return handle

    def run_due(self) -> None:
        due = [handle for handle in self.handles if handle.when <= self.now]
        self.handles = [handle for handle in self.handles if handle.when > self.now]
        for handle in due:
            if not handle.cancelled:
                handle.callback()


# --- the throttle ----------------------------------------------------------------------------------------------------


def test_throttle_coalesces_requests_and_keeps_the_rate_limit() -> None:
    loop = FakeLoop()
    flushes: list[float] = []
    throttle = UpdateThrottle(lambda: flushes.append(loop.now), interval=0.05, loop=loop)  # type: ignore[arg-type]
    for _ in range(1000):
        throttle.request()
    assert flushes == []  # never inline: event handlers stay cheap
    loop.run_due()
    assert flushes == [100.0]  # a thousand requests in one tick: one flush, at once
    throttle.request()
    throttle.request()
    loop.run_due()
    assert flushes == [100.0]  # too soon after the last flush: it waits
    loop.now += 0.049
    loop.run_due()
    assert len(flushes) == 1
    loop.now += 0.001
    loop.run_due()
    assert flushes == [100.0, pytest.approx(100.05)]


def test_throttle_honours_the_last_of_a_steady_stream_of_requests() -> None:
    loop = FakeLoop()
    flushes: list[float] = []
    throttle = UpdateThrottle(lambda: flushes.append(loop.now), interval=0.1, loop=loop)  # type: ignore[arg-type]
    for _ in range(50):  # a request every 40 ms for 2 s
        last_request = loop.now
        throttle.request()
        loop.now += 0.04
        loop.run_due()
    loop.now += 1
    loop.run_due()
    assert 10 <= len(flushes) <= 2 / 0.1 + 1
    assert all(later - earlier >= 0.1 - 1e-9 for earlier, later in itertools.pairwise(flushes))
    assert flushes[-1] >= last_request
    assert not throttle.is_due and not [handle for handle in loop.handles if not handle.cancelled]


def test_throttle_waits_a_full_interval_after_a_state_sent_some_other_way() -> None:
    loop = FakeLoop()
    flushes: list[float] = []
    throttle = UpdateThrottle(lambda: flushes.append(loop.now), interval=0.1, loop=loop)  # type: ignore[arg-type]
    throttle.sent_just_now()  # e.g. with the message that opened the widget
    throttle.request()
    loop.run_due()
    assert flushes == []
    loop.now += 0.1
    loop.run_due()
    assert flushes == [pytest.approx(100.1)]


def test_throttle_flush_now_sends_the_final_state_at_once() -> None:
    loop = FakeLoop()
    flushes: list[float] = []
    throttle = UpdateThrottle(lambda: flushes.append(loop.now), loop=loop)  # type: ignore[arg-type]
    throttle.request()
    loop.run_due()
    throttle.request()
    throttle.flush_now()
    assert flushes == [100.0, 100.0]
    loop.now += 1
    loop.run_due()
    assert len(flushes) == 2  # the pending flush was cancelled: the final state went out already


def test_throttle_slows_down_for_big_updates() -> None:
    loop = FakeLoop()
    flushes: list[float] = []

    def flush() -> int:
        flushes.append(loop.now)
        return 500_000

    throttle = UpdateThrottle(flush, interval=0.05, bytes_per_second=1_000_000, loop=loop)  # type: ignore[arg-type]
    throttle.request()
    loop.run_due()
    throttle.request()
    loop.now += 0.2
    loop.run_due()
    assert len(flushes) == 1  # half a megabyte at one megabyte a second: the next flush waits half a second
    loop.now += 0.3
    loop.run_due()
    assert flushes == [100.0, 100.5]


def test_a_flush_that_requests_again_polls_once_per_interval() -> None:
    loop = FakeLoop()
    flushes: list[float] = []

    def poll() -> None:
        flushes.append(loop.now)
        if len(flushes) < 4:
            throttle.request()  # something still changes without telling anyone: look again later

    throttle = UpdateThrottle(poll, interval=0.1, loop=loop)  # type: ignore[arg-type]
    throttle.request()
    for _ in range(100):
        loop.run_due()
        loop.now += 0.01
    assert flushes == pytest.approx([100.0, 100.1, 100.2, 100.3])


def test_throttle_without_an_event_loop_only_remembers_the_request() -> None:
    flushes: list[int] = []
    throttle = UpdateThrottle(lambda: flushes.append(1))
    throttle.request()
    assert flushes == [] and throttle.is_due
    throttle.flush_now()
    assert flushes == [1] and not throttle.is_due


def test_throttle_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        UpdateThrottle(lambda: 0, interval=0)
    with pytest.raises(ValueError, match="max_updates_per_second must be positive"):
        StreamView(TextMessage("x"), max_updates_per_second=0)


# --- the view --------------------------------------------------------------------------------------------------------


def _token_promise(count: int, produced: list[int] | None = None, start_soon: bool = True):
    async def tokens(metadata: dict):
        if produced is not None:
            produced.append(1)
        for index in range(count):
            yield f"t{index} "
            if index % 10 == 0:
                await asyncio.sleep(0)

    return TextMessage.promise(message_token_streamer=tokens, start_soon=start_soon)


async def test_live_view_of_a_long_stream_sends_few_updates_and_the_full_final_text() -> None:
    async with MiniAgents():
        promise = _token_promise(TOKENS)
        view = stream(promise, live=True)
        values: list[str] = []
        view.widget.observe(lambda change: values.append(change["new"]), names="value")
        started = time.monotonic()
        await view
        elapsed = time.monotonic() - started
        full_text = "".join(f"t{index} " for index in range(TOKENS))
        assert str(await promise) == full_text
        assert view.text == f"TextMessage\n{full_text}"
        assert values[-1] == view.widget.value == view.html
        assert len(values) == view.updates_sent
        assert 1 <= view.updates_sent <= 2 + 20 * elapsed  # at most 20 a second, plus the final one
        assert view.updates_sent < TOKENS / 20


async def test_a_live_view_looks_at_a_stream_only_when_it_sends_an_update() -> None:
    class CountingPromise(StreamedPromise):
        looks = 0

        @property
        def pieces_so_far(self) -> tuple:
            self.looks += 1
            return super().pieces_so_far

    async def pieces(_promise):
        for index in range(TOKENS):
            yield f"t{index} "
            await asyncio.sleep(0)  # every token in an event loop turn of its own

    async with MiniAgents():
        promise = CountingPromise(streamer=pieces)
        view = stream(promise, live=True, max_updates_per_second=50)
        await view
    assert view.text == "CountingPromise\n" + "".join(f"t{index} " for index in range(TOKENS))
    assert 1 <= view.updates_sent < TOKENS / 100
    assert promise.looks <= 2 * view.updates_sent + 5  # no work per token: a look per update, and a few more


async def test_a_long_message_shows_only_its_end_while_it_streams_and_all_of_it_when_complete() -> None:
    release = asyncio.Event()
    beginning = "x" * STREAMING_TAIL_CHARS + "END"

    async def tokens(metadata: dict):
        yield beginning
        await release.wait()
        yield " and more"

    async with MiniAgents():
        promise = TextMessage.promise(message_token_streamer=tokens)
        view = stream(promise, live=True)
        while not promise.pieces_so_far:
            await asyncio.sleep(0)
        while_streaming = view.text
        release.set()
        await view
    assert while_streaming == "TextMessage (streaming…)\n…" + beginning[-STREAMING_TAIL_CHARS:]
    assert view.text == f"TextMessage\n{beginning} and more"
    assert view.widget.value == view.html  # shown as a widget only: its last update is the final state


async def test_several_views_of_one_promise_replay_it_independently() -> None:
    async with MiniAgents():
        produced: list[int] = []
        promise = _token_promise(200, produced)
        first = stream(promise, live=True)
        second = stream(promise, live=True)
        await asyncio.gather(first.wait(), second.wait())
        late = stream(promise, live=True)  # a view of a finished promise: the whole message at once
        assert produced == [1]
        assert first.widget.value == second.widget.value == late.html
        assert late.widget is None
        assert late.is_finished


async def test_a_view_starts_a_lazy_producer() -> None:
    async with MiniAgents():
        produced: list[int] = []
        promise = _token_promise(3, produced, start_soon=False)
        await asyncio.sleep(0)
        assert produced == []
        view = StreamView(promise, live=False)
        assert view.text == "TextMessage (streaming…)"
        await view
        assert produced == [1]
        assert view.text == "TextMessage\nt0 t1 t2 "


async def test_sequence_view_shows_messages_streaming_side_by_side_and_errors_inline() -> None:
    async with MiniAgents():
        second_may_finish = asyncio.Event()

        async def slow_tokens(metadata: dict):
            yield "second starts"
            await second_may_finish.wait()
            yield ", then ends"

        @miniagent
        async def agent(ctx) -> None:
            ctx.reply("first")
            ctx.reply(TextMessage.promise(message_token_streamer=slow_tokens, role="assistant"))
            ctx.reply("third")
            await second_may_finish.wait()
            raise ValueError("failed at the end")

        view = stream(agent.trigger(), live=True)
        try:
            while "third" not in view.text or "second starts" not in view.text:
                await asyncio.sleep(0)
            while_streaming = view.text
        finally:
            second_may_finish.set()  # never leave the agent waiting, or the context would wait for it forever
        await view
        assert while_streaming == (
            "TextMessage\nfirst\n\nTextMessage role='assistant' (streaming…)\nsecond starts\n\nTextMessage\nthird\n\n…"
        )
        assert view.text == (
            "TextMessage\nfirst\n\nTextMessage role='assistant'\nsecond starts, then ends\n\nTextMessage\nthird"
            "\n\n!! ValueError: failed at the end"
        )
        assert view.widget.value == view.html


async def test_view_of_a_generic_streamed_promise_joins_its_pieces() -> None:
    async with MiniAgents():

        async def pieces(_promise):
            for piece in ("a", "b", "c"):
                yield piece

        view = stream(StreamedPromise(streamer=pieces), live=True)
        await view
        assert view.text == "StreamedPromise\nabc"


def test_stream_refuses_what_it_cannot_show() -> None:
    with pytest.raises(TypeError, match=r"stream\(\) shows a MessagePromise.*got list"):
        stream(["not", "a", "promise"])  # type: ignore[arg-type]


def test_displayed_live_view_is_replaced_by_its_static_snapshot_at_the_end() -> None:
    with loaded_shell() as shell:
        shell.run_cell("from miniagents import TextMessage\nfrom miniagents_notebook import stream")
        result, captured = run_cell(
            shell,
            "import asyncio\nrelease = asyncio.Event()\n"
            "async def tokens(metadata):\n    yield 'live '\n    await release.wait()\n    yield 'and done'\n"
            "view = stream(TextMessage.promise(message_token_streamer=tokens), live=True)\n"
            "display(view)\nrelease.set()\n_ = await view",
        )
        assert result.success
        shown, final = captured.outputs
        display_id = shown.transient["display_id"]
        assert WIDGET_VIEW_MIMETYPE in shown.data
        assert shown.data["text/plain"] == "TextMessage (streaming…)"
        assert final.update and final.transient["display_id"] == display_id
        assert final.data == {"text/plain": "TextMessage\nlive and done", "text/html": shell.user_ns["view"].html}


# --- in a kernel -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_notebook() -> ExecutedNotebook:
    return ExecutedNotebook(
        [
            ("load", f"%load_ext {EXTENSION}"),
            (
                "long",
                "import asyncio, time\nfrom miniagents import TextMessage\nfrom miniagents_notebook import stream\n"
                "async def tokens(metadata):\n"
                f"    for index in range({TOKENS}):\n"
                "        yield f't{index} '\n"
                "        if index % 100 == 0:\n"
                "            await asyncio.sleep(0.005)  # the tokens arrive over about half a second\n"
                "promise = TextMessage.promise(message_token_streamer=tokens)\n"
                "started = time.monotonic()\n"
                "view = stream(promise)\n"
                "display(view)\n"
                "await view\n"
                "print(view.widget.model_id, view.updates_sent, time.monotonic() - started)",
            ),
            (
                "two views",
                "promise = TextMessage.promise(message_token_streamer=tokens)\n"
                "first, second = stream(promise), stream(promise)\n"
                "display(first, second)\n"
                "await asyncio.gather(first.wait(), second.wait())\n"
                "print(first.widget.model_id, second.widget.model_id)",
            ),
        ]
    )


def test_kernel_sends_a_bounded_number_of_updates_and_the_full_text_once(kernel_notebook) -> None:
    kernel_notebook.assert_no_errors("load", "long")
    model_id, updates_sent, elapsed = kernel_notebook.stdout("long").split()
    values = kernel_notebook.client.state_updates(model_id, "value")
    updates = values[1:]  # values[0] is the state the widget opened with
    assert len(updates) == int(updates_sent)
    assert len(updates) <= 2 + 20 * float(elapsed)
    assert all(len(earlier) <= len(later) for earlier, later in itertools.pairwise(updates))  # the text grows
    full_text = "".join(f"t{index} " for index in range(TOKENS))
    # the live output was swapped for the static snapshot once the stream ended (while its cell still ran): that is
    # how the final state reached the front end
    (shown,) = kernel_notebook.data_outputs("long")
    assert WIDGET_VIEW_MIMETYPE not in shown
    assert shown["text/plain"] == f"TextMessage\n{full_text}"
    assert f"<p>{full_text.strip()}</p>" in shown["text/html"]


def test_kernel_runs_several_views_of_one_promise_at_once(kernel_notebook) -> None:
    kernel_notebook.assert_no_errors("two views")
    first_id, second_id = kernel_notebook.stdout("two views").split()
    assert first_id != second_id
    first, second = kernel_notebook.data_outputs("two views")
    assert first == second
    assert WIDGET_VIEW_MIMETYPE not in first and "t9999" in first["text/html"]
