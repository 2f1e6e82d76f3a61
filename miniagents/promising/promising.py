"""Promises whose producers run once and whose results and pieces can be replayed by any number of consumers.

`Promise` resolves one value; `StreamedPromise` additionally streams the pieces the value is made of (tokens of a
message, messages of a sequence). Pieces are kept, so a consumer that arrives late replays them from the start, and
an error is kept at the position where it happened and replayed there too. `StreamAppender` is the push side: code
appends pieces to it and a `StreamedPromise` streams them.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any, Generic, Self

from miniagents.promising._deprecation import pick_renamed_argument
from miniagents.promising.context import PromisingContext
from miniagents.promising.errors import (
    AppenderClosedError,
    AppenderNotOpenError,
    FunctionNotProvidedError,
    ProducerCancelledError,
)
from miniagents.promising.promise_typing import PIECE, WHOLE, PromiseResolver, PromiseStreamer, T
from miniagents.promising.sentinels import DEFAULT, NO_VALUE, Sentinel, is_default

__all__ = ["AppenderBase", "Promise", "PromisingContext", "StreamAppender", "StreamedPromise"]


class _Failure:
    """Marks a stored error as the outcome of a promise (so that an exception can still be a legitimate value)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def cancelled_error(producer: object, error: BaseException) -> ProducerCancelledError:
    """The error stored for consumers when the task producing `producer` was cancelled."""
    replacement = ProducerCancelledError(
        f"The producer of {type(producer).__name__} was cancelled before it finished."
    )
    replacement.__cause__ = error
    return replacement


def wake_waiters(waiters: list["asyncio.Future[None]"]) -> None:
    """Wake every task waiting on these futures (each waiter has its own future, see `wait_for_wake_up`)."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    waiters.clear()


async def wait_for_wake_up(waiters: list["asyncio.Future[None]"]) -> None:
    # one future per waiting consumer: cancelling one consumer never cancels the others
    waiter = asyncio.get_running_loop().create_future()
    waiters.append(waiter)
    await waiter


class Promise(Generic[T]):
    """A value that will be computed once, by `resolver`, and then returned (or raised) to every awaiter.

    `await promise` starts the resolver if nothing has yet (`start_soon=False`); with `start_soon=True` (the
    default of the active context) it starts at the next task switch. The resolver runs in its own task, so a
    cancelled awaiter never interrupts it, and every awaiter gets the same result instance or the same exception.
    """

    def __init__(
        self,
        resolver: PromiseResolver[T] | None = None,
        prefill_result: T | Sentinel = NO_VALUE,
        start_soon: bool | Sentinel = DEFAULT,
        start_asap: bool | Sentinel = DEFAULT,
    ) -> None:
        if start_asap is not DEFAULT:
            start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
        self._context = PromisingContext.get_current()
        if resolver is not None:
            self._resolver_function = resolver
        self._result: Any = NO_VALUE
        self._result_waiters: list[asyncio.Future[None]] | None = None  # made when someone waits (most never do)
        self._resolving = False
        self._done_callbacks: list[Callable[[Promise[T]], None]] | None = None
        if prefill_result is not NO_VALUE:
            self._resolving = True
            self._set_result(prefill_result)
        elif self._start_soon(start_soon):
            self._start_resolving()

    def _start_soon(self, start_soon: bool | Sentinel) -> bool:
        return self._context.start_everything_soon_by_default if is_default(start_soon) else bool(start_soon)

    @property
    def is_resolved(self) -> bool:
        """Whether the value (or error) is already known, i.e. `await` will not wait."""
        return self._result is not NO_VALUE

    def done(self) -> bool:
        """Whether the promise has resolved (to a value or an error), like `asyncio.Future.done()`."""
        return self._result is not NO_VALUE

    def result(self) -> T:
        """The value of a resolved promise (its error is raised); `asyncio.InvalidStateError` if it has not resolved.

        For code that must not wait — an observer, a display — once `done()` says the promise has resolved.
        """
        outcome = self._outcome()
        if outcome.__class__ is _Failure:
            raise outcome.error
        return outcome

    def exception(self) -> BaseException | None:
        """The error of a promise that failed, `None` if it resolved to a value; `InvalidStateError` if not done."""
        outcome = self._outcome()
        return outcome.error if outcome.__class__ is _Failure else None

    def _outcome(self) -> Any:
        if self._result is NO_VALUE:
            raise asyncio.InvalidStateError(
                f"This {type(self).__name__} has not resolved yet: `await` it, or check `done()` first."
            )
        return self._result

    def add_done_callback(self, callback: "Callable[[Promise[T]], None]") -> None:
        """Call `callback(promise)` (synchronously) once the promise resolves or fails; at once if it already has."""
        if self._result is not NO_VALUE:
            callback(self)
            return
        if self._done_callbacks is None:
            self._done_callbacks = []
        self._done_callbacks.append(callback)

    async def _aresolve_value(self) -> T:
        resolver = getattr(self, "_resolver_function", None)
        if resolver is None:
            raise FunctionNotProvidedError(
                f"{type(self).__name__} has nothing to resolve with: pass `resolver=` or override `_aresolve_value()`."
            )
        return await resolver(self)

    def _start_resolving(self) -> None:
        if not self._resolving:
            self._resolving = True
            self._context.start_producer(self, Promise._arun_resolver, Promise._on_resolver_cancelled_early)

    def _on_resolver_cancelled_early(self) -> None:
        if self._result is NO_VALUE:
            self._set_failure(cancelled_error(self, asyncio.CancelledError()))

    async def _arun_resolver(self) -> None:
        try:
            value = await self._aresolve_value()
        except asyncio.CancelledError as error:
            self._set_failure(cancelled_error(self, error))
            raise
        except BaseException as error:  # every error, KeyboardInterrupt too, goes to the awaiters
            self._set_failure(error)
        else:
            self._set_result(value)

    def _set_result(self, value: T) -> None:
        self._result = value
        self._after_resolution()
        self._context._promise_resolved(self, value)  # noqa: SLF001 - the context's hook for its own promises

    def _set_failure(self, error: BaseException) -> None:
        self._result = _Failure(error)
        self._after_resolution()

    def _after_resolution(self) -> None:
        if self._result_waiters:
            wake_waiters(self._result_waiters)
        if self._done_callbacks:
            callbacks, self._done_callbacks = self._done_callbacks, None
            for callback in callbacks:
                callback(self)

    async def aresolve(self) -> T:
        """Wait for the value and return it (or raise the error the resolver raised)."""
        if self._result is NO_VALUE:
            self._start_resolving()
            while self._result is NO_VALUE:
                await wait_for_wake_up(self._waiters_for_result())
        result = self._result
        if result.__class__ is _Failure:
            raise result.error
        return result

    def __await__(self) -> Any:
        return self.aresolve().__await__()

    def _waiters_for_result(self) -> list["asyncio.Future[None]"]:
        if self._result_waiters is None:
            self._result_waiters = []
        return self._result_waiters


class StreamedPromise(Promise[WHOLE], Generic[PIECE, WHOLE]):
    """A promise of a whole value that is also streamed piece by piece, replayable from the start by any consumer.

    The producer (`streamer`, an async iterator factory, or a `StreamAppender`) runs once. Every `async for` over
    the promise starts from the first piece; pieces already produced are replayed without waiting, later ones are
    awaited. An error from the producer is stored at its position and raised there to every consumer. With
    `start_soon=False` production begins only when the first consumer asks for a piece.

    `await promise` gives the whole value: `resolver(promise)` if one is given, else the tuple of all pieces.
    """

    def __init__(
        self,
        streamer: PromiseStreamer[PIECE] | None = None,
        prefill_pieces: Iterable[PIECE] | Sentinel = NO_VALUE,
        resolver: PromiseResolver[WHOLE] | None = None,
        prefill_result: WHOLE | Sentinel = NO_VALUE,
        start_soon: bool | Sentinel = DEFAULT,
        start_asap: bool | Sentinel = DEFAULT,
    ) -> None:
        if start_asap is not DEFAULT:
            start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
        super().__init__(resolver=resolver, prefill_result=prefill_result, start_soon=False)
        if streamer is not None:
            self._streamer_function = streamer
        # no list until the first piece: a big fan-out keeps many sequences pending at once, each list one more object
        # for the cyclic garbage collector to traverse (and a ready message's token list is made only if asked for)
        self._pieces: list[Any] | tuple[()] = ()
        self._piece_waiters: list[asyncio.Future[None]] | None = None  # made when a consumer has to wait
        if prefill_pieces is NO_VALUE:
            self._stream_done = False
            self._producing = False
            if self._start_soon(start_soon):
                self._start_producing()
        else:
            self._pieces = list(prefill_pieces)
            self._stream_done = True
            self._producing = True

    @property
    def is_streamed(self) -> bool:
        """Whether every piece has been produced (the stream is complete, successfully or not)."""
        return self._stream_done

    @property
    def pieces_so_far(self) -> tuple[Any, ...]:
        """The pieces produced so far, errors included (a snapshot; useful for displays and debugging)."""
        return tuple(self._pieces)

    @property
    def production_started(self) -> bool:
        """Whether production has begun (at once with `start_soon`, else when the first consumer asked)."""
        return self._producing

    def _start_producing(self) -> None:
        """Begin production, once: the one entry point, whatever the producer (see `_produce`)."""
        if not self._producing:
            self._producing = True
            self._produce()

    def _produce(self) -> None:
        """How production begins; the hook subclasses whose pieces come from elsewhere override.

        By default the streamer runs in a background task, or a `StreamAppender` given as the streamer delivers its
        pieces straight into this promise (no task). Push-style producers call `append_piece` / `finish_stream`.
        """
        streamer = getattr(self, "_streamer_function", None)
        if isinstance(streamer, StreamAppender) and streamer.feed_into(self):
            return
        self._context.start_producer(self, StreamedPromise._aproduce, StreamedPromise._on_producer_cancelled_early)

    def _on_producer_cancelled_early(self) -> None:
        if not self._stream_done:
            self.append_piece(cancelled_error(self, asyncio.CancelledError()))
            self.finish_stream()

    def _streamer(self) -> AsyncIterator[PIECE]:
        streamer = getattr(self, "_streamer_function", None)
        if streamer is None:
            raise FunctionNotProvidedError(
                f"{type(self).__name__} has nothing to stream: pass `streamer=` or override `_streamer()`."
            )
        return streamer(self)

    async def _aproduce(self) -> None:
        try:
            iterator = self._streamer()
            if not hasattr(iterator, "__anext__"):
                if hasattr(iterator, "close"):
                    iterator.close()  # e.g. a coroutine from an `async def` that forgot to `yield`
                raise TypeError(f"A streamer must return an async iterator, got {type(iterator).__name__}.")
            async for piece in iterator:
                self.append_piece(piece)
        except asyncio.CancelledError as error:
            self.append_piece(cancelled_error(self, error))
            self.finish_stream()
            raise
        except BaseException as error:  # stored and replayed to consumers at this position
            self.append_piece(error)
        self.finish_stream()

    def append_piece(self, piece: Any) -> None:
        """Producer side: store a piece (an exception is stored as an error at this position), wake the consumers.

        For push-style producers (`StreamAppender`, `MessageSequence`); consumers never call it.
        """
        pieces = self._pieces
        if isinstance(pieces, list):
            pieces.append(piece)
        else:
            self._pieces = [piece]
        if self._piece_waiters:
            wake_waiters(self._piece_waiters)

    def finish_stream(self) -> None:
        """Producer side: no more pieces will come (idempotent)."""
        if self._stream_done:
            return
        self._stream_done = True
        if self._piece_waiters:
            wake_waiters(self._piece_waiters)
        self._on_stream_finished()

    def _on_stream_finished(self) -> None:
        """Hook for subclasses that can compute the whole value as soon as the last piece is in."""

    async def _aresolve_value(self) -> WHOLE:
        if getattr(self, "_resolver_function", None) is not None:
            return await super()._aresolve_value()
        return tuple([piece async for piece in self])  # type: ignore[return-value]

    def __aiter__(self) -> AsyncIterator[PIECE]:
        """Replay the stream from the first piece, then follow it live."""
        return _ReplayIterator(self)

    def __call__(self, *_: Any, **__: Any) -> AsyncIterator[PIECE]:
        """Let a promise serve as the streamer of another promise."""
        return _ReplayIterator(self)


class _ReplayIterator(AsyncIterator[PIECE]):
    __slots__ = ("_index", "_promise")

    def __init__(self, promise: StreamedPromise[PIECE, Any]) -> None:
        self._promise = promise
        self._index = 0

    def __aiter__(self) -> Self:
        return self

    # Part of `StreamedPromise` (its consumer side), kept as a slotted class of its own because it is the hottest
    # path of the engine: it reads the promise's state directly.
    async def __anext__(self) -> PIECE:
        promise = self._promise
        while self._index >= len(promise._pieces):  # noqa: SLF001 - see above (re-read: the first piece makes the list)
            if promise._stream_done:  # noqa: SLF001 - see above
                raise StopAsyncIteration
            if not promise._producing:  # noqa: SLF001 - see above
                promise._start_producing()  # noqa: SLF001 - may produce synchronously, so look again before waiting
                continue
            if promise._piece_waiters is None:  # noqa: SLF001 - see above
                promise._piece_waiters = []  # noqa: SLF001 - see above
            await wait_for_wake_up(promise._piece_waiters)  # noqa: SLF001 - see above
        piece = promise._pieces[self._index]  # noqa: SLF001 - see above
        self._index += 1
        if isinstance(piece, BaseException):
            raise piece
        return piece


class AppenderBase(Generic[PIECE]):
    """What every appender shares: it is opened, takes pieces, and is closed — best as a `with` block.

    Use it as a `with` block so it is always closed (an unclosed appender leaves its consumers waiting). With
    `capture_errors=True` an exception raised inside the block is appended as an error piece (consumers see it at that
    position) instead of propagating out of the block. Subclasses say where pieces go (`_deliver`) and what closing
    means (`_on_close`).
    """

    def __init__(self, capture_errors: bool | Sentinel = DEFAULT) -> None:
        if is_default(capture_errors):
            context = PromisingContext.get_current_or_none()
            capture_errors = context.appenders_capture_errors_by_default if context is not None else False
        self.capture_errors = bool(capture_errors)
        self._is_open = False
        self._is_closed = False

    @property
    def is_open(self) -> bool:
        """Whether pieces can be appended right now."""
        return self._is_open and not self._is_closed

    @property
    def is_closed(self) -> bool:
        """Whether the appender was closed (no more pieces will come)."""
        return self._is_closed

    def open(self) -> Self:
        """Open for appending; prefer the `with` block, which also closes it."""
        if self._is_closed:
            raise AppenderClosedError(
                f"This {type(self).__name__} is already closed and cannot be reopened; create a new one."
            )
        self._is_open = True
        return self

    def close(self) -> None:
        """Signal that no more pieces will come (idempotent)."""
        if self._is_closed:
            return
        self._is_closed = True
        self._on_close()

    def append(self, piece: PIECE) -> Self:
        """Append a piece (an exception instance is delivered as an error at this position)."""
        self._check_open()
        self._deliver(piece)
        return self

    def _check_open(self) -> None:
        if self._is_closed:
            raise AppenderClosedError(
                f"This {type(self).__name__} is already closed; pieces can no longer be appended."
            )
        if not self._is_open:
            raise AppenderNotOpenError(
                f"Open the {type(self).__name__} before appending: use `with appender: ...` or call `appender.open()`."
            )

    def _deliver(self, piece: Any) -> None:
        raise NotImplementedError

    def _on_close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        capture = exc is not None and self.capture_errors and not isinstance(exc, AppenderClosedError)
        if capture and not self._is_closed:
            self._deliver(exc)
        self.close()
        return capture


class StreamAppender(AppenderBase[PIECE], AsyncIterator[PIECE]):
    """The push side of a stream: `append()` pieces to it while a `StreamedPromise` streams them to consumers.

        with StreamAppender() as appender:
            appender.append("piece")

    Given as the `streamer` of a `StreamedPromise`, it delivers its pieces straight into that promise (no task);
    it can also be iterated directly (`async for piece in appender`), once, by one consumer.
    """

    def __init__(self, capture_errors: bool | Sentinel = DEFAULT) -> None:
        super().__init__(capture_errors=capture_errors)
        self._buffer: deque[Any] = deque()
        self._sink: StreamedPromise[PIECE, Any] | None = None
        self._iterated = False
        self._waiters: list[asyncio.Future[None]] = []

    def _on_close(self) -> None:
        if self._sink is not None:
            self._sink.finish_stream()
        else:
            wake_waiters(self._waiters)

    def _deliver(self, piece: Any) -> None:
        if self._sink is not None:
            self._sink.append_piece(piece)
        else:
            self._buffer.append(piece)
            if self._waiters:
                wake_waiters(self._waiters)

    def feed_into(self, sink: StreamedPromise[PIECE, Any]) -> bool:
        """Deliver pieces straight into `sink` from now on (no queue, no task); False if someone iterates already."""
        if self._iterated or self._sink is not None:
            return False
        self._sink = sink
        while self._buffer:
            sink.append_piece(self._buffer.popleft())
        if self._is_closed:
            sink.finish_stream()
        return True

    def __call__(self, *_: Any, **__: Any) -> AsyncIterator[PIECE]:
        return self

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> PIECE:
        if self._sink is not None:
            raise TypeError("This StreamAppender already feeds a StreamedPromise; iterate that promise instead.")
        self._iterated = True
        while not self._buffer:
            if self._is_closed:
                raise StopAsyncIteration
            await wait_for_wake_up(self._waiters)
        piece = self._buffer.popleft()
        if isinstance(piece, BaseException):
            raise piece
        return piece
