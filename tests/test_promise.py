"""Promises, streamed promises, appenders and the promising context, through the public API."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from miniagents.promising import FlatSequence, Promise, PromisingContext, StreamAppender, StreamedPromise
from miniagents.promising.errors import AppenderClosedError, AppenderNotOpenError, NoActiveContextError
from miniagents.promising.sentinels import DEFAULT

START_SOON_VARIANTS = [False, True, DEFAULT]


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_resolver_runs_once_and_returns_the_same_instance(start_soon: Any) -> None:
    calls = 0

    async def resolver(_: Promise[list[int]]) -> list[int]:
        nonlocal calls
        calls += 1
        return [1, 2]

    async with PromisingContext():
        promise = Promise(resolver=resolver, start_soon=start_soon)
        first, second = await asyncio.gather(promise, promise)
        third = await promise

    assert calls == 1
    assert first is second is third


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_resolver_error_is_the_same_instance_every_time(start_soon: Any) -> None:
    async def resolver(_: Promise[int]) -> int:
        raise ValueError("boom")

    async with PromisingContext():
        promise = Promise(resolver=resolver, start_soon=start_soon)
        with pytest.raises(ValueError, match="boom") as first:
            await promise
        with pytest.raises(ValueError, match="boom") as second:
            await promise

    assert first.value is second.value


async def test_eager_promise_starts_without_an_awaiter_and_lazy_one_does_not() -> None:
    events: list[str] = []

    def make_resolver(name: str) -> Any:
        async def resolver(_: Promise[str]) -> str:
            events.append(name)
            return name

        return resolver

    async with PromisingContext():
        Promise(resolver=make_resolver("eager"), start_soon=True)
        lazy = Promise(resolver=make_resolver("lazy"), start_soon=False)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert events == ["eager"]
        assert await lazy == "lazy"
    assert events == ["eager", "lazy"]


async def test_cancelled_awaiter_does_not_disturb_the_resolution() -> None:
    gate = asyncio.Event()

    async def resolver(_: Promise[str]) -> str:
        await gate.wait()
        return "done"

    async with PromisingContext():
        promise = Promise(resolver=resolver, start_soon=False)
        impatient = asyncio.ensure_future(promise.aresolve())
        patient = asyncio.ensure_future(promise.aresolve())
        await asyncio.sleep(0)
        impatient.cancel()
        gate.set()
        assert await patient == "done"
        assert await promise == "done"


class _GatedStreamer:
    """A streamer that produces one piece each time the test opens the gate, and counts its runs."""

    def __init__(self, pieces: list[Any]) -> None:
        self.pieces = pieces
        self.runs = 0
        self.produced = 0
        self.gate = asyncio.Semaphore(0)

    async def __call__(self, _: StreamedPromise[Any, Any]) -> AsyncIterator[Any]:
        self.runs += 1
        for piece in self.pieces:
            await self.gate.acquire()
            self.produced += 1
            if isinstance(piece, BaseException):
                raise piece
            yield piece


async def _collect(promise: StreamedPromise[Any, Any]) -> list[Any]:
    collected: list[Any] = []
    iterator = promise.__aiter__()
    while True:
        try:
            collected.append(await iterator.__anext__())
        except StopAsyncIteration:
            return collected
        except Exception as error:  # the test records errors at their positions
            collected.append(f"error: {error}")


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_consumers_before_during_and_after_production_see_the_same_pieces(start_soon: Any) -> None:
    streamer = _GatedStreamer(["a", "b", "c", "d"])
    async with PromisingContext():
        promise = StreamedPromise(streamer=streamer, start_soon=start_soon)
        before = asyncio.ensure_future(_collect(promise))
        streamer.gate.release()
        streamer.gate.release()
        while streamer.produced < 2:
            await asyncio.sleep(0)
        during = asyncio.ensure_future(_collect(promise))
        streamer.gate.release()
        streamer.gate.release()
        results = await asyncio.gather(before, during)
        after = await _collect(promise)

    assert results == [["a", "b", "c", "d"], ["a", "b", "c", "d"]]
    assert after == ["a", "b", "c", "d"]
    assert streamer.runs == 1


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_error_is_replayed_at_its_position(start_soon: Any) -> None:
    async def streamer(_: StreamedPromise[int, Any]) -> AsyncIterator[int]:
        yield 1
        yield 2
        raise ValueError("third piece failed")

    async with PromisingContext():
        promise = StreamedPromise(streamer=streamer, start_soon=start_soon)
        first = await _collect(promise)
        second = await _collect(promise)
        with pytest.raises(ValueError, match="third piece failed"):
            await promise

    assert first == second == [1, 2, "error: third piece failed"]


async def _not_a_generator(_: Any) -> None:
    return None


@pytest.mark.parametrize("broken_streamer", [lambda _: iter([]), _not_a_generator])
@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_broken_streamer_raises_instead_of_hanging(broken_streamer: Any, start_soon: Any) -> None:
    async with PromisingContext():
        promise = StreamedPromise(streamer=broken_streamer, start_soon=start_soon)
        for _ in range(2):
            iterator = promise.__aiter__()
            with pytest.raises(TypeError, match="async iterator"):
                await iterator.__anext__()
            with pytest.raises(StopAsyncIteration):
                await iterator.__anext__()


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_lazy_stream_starts_only_when_consumed(start_soon: Any) -> None:
    streamer = _GatedStreamer(["x"])
    streamer.gate.release()
    async with PromisingContext(start_everything_soon_by_default=True):
        promise = StreamedPromise(streamer=streamer, start_soon=start_soon)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert streamer.runs == (0 if start_soon is False else 1)
        assert [piece async for piece in promise] == ["x"]
    assert streamer.runs == 1


@pytest.mark.parametrize("start_soon", START_SOON_VARIANTS)
async def test_stream_appender_feeds_a_streamed_promise(start_soon: Any) -> None:
    async with PromisingContext():
        appender = StreamAppender[int]()
        promise = StreamedPromise(streamer=appender, start_soon=start_soon)
        consumer = asyncio.ensure_future(_collect(promise))
        with appender:
            for number in range(5):
                appender.append(number)
                await asyncio.sleep(0)
        assert await consumer == [0, 1, 2, 3, 4]
        assert await promise == (0, 1, 2, 3, 4)


async def test_stream_appender_captures_errors_when_asked() -> None:
    with StreamAppender(capture_errors=True) as appender:
        appender.append(1)
        raise ValueError("inside the block")

    with pytest.raises(ValueError, match="not captured"), StreamAppender(capture_errors=False) as other:
        other.append(1)
        raise ValueError("not captured")

    async with PromisingContext():
        assert await _collect(StreamedPromise(streamer=appender)) == [1, "error: inside the block"]
        assert await _collect(StreamedPromise(streamer=other)) == [1]


async def test_stream_appender_refuses_appends_when_not_open_or_closed() -> None:
    appender = StreamAppender[int]()
    with pytest.raises(AppenderNotOpenError, match="with appender"):
        appender.append(1)
    with appender:
        appender.append(1)
    with pytest.raises(AppenderClosedError, match="already closed"):
        appender.append(2)
    with pytest.raises(AppenderClosedError):
        appender.open()


async def test_on_promise_resolved_handlers_see_every_resolution() -> None:
    seen: list[Any] = []

    async def handler(_: Promise[Any], result: Any) -> None:
        seen.append(result)

    async def resolver(_: Promise[str]) -> str:
        return "computed"

    async with PromisingContext(on_promise_resolved=handler):
        Promise(prefill_result="prefilled")
        await Promise(resolver=resolver)
    assert sorted(seen) == ["computed", "prefilled"]


async def test_finalisation_waits_for_background_work() -> None:
    finished: list[str] = []

    async def slow(_: Promise[None]) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        finished.append("slow")

    async with PromisingContext():
        Promise(resolver=slow, start_soon=True)
    assert finished == ["slow"]


async def test_using_a_promise_without_a_context_says_how_to_open_one() -> None:
    with pytest.raises(NoActiveContextError, match="async with PromisingContext"):
        Promise(prefill_result=1)


async def test_flat_sequence_expands_each_item() -> None:
    async def flattener(_: Any, number: int) -> AsyncIterator[int]:
        for _ in range(number):
            yield number

    async with PromisingContext():
        appender = StreamAppender[int](capture_errors=True)
        sequence = FlatSequence[int, int](incoming_streamer=appender, flattener=flattener)
        with appender:
            for number in range(4):
                appender.append(number)
        assert await sequence.sequence_promise == (1, 2, 2, 3, 3, 3)
        assert [item async for item in sequence.sequence_promise] == [1, 2, 2, 3, 3, 3]
