"""`MessageSequence`: flattens anything of `MessageType`, nested to any depth, into one flat sequence of messages.

Ready items (strings, dicts, pydantic models, messages, message promises, complete sequences) are flattened the
moment they are appended, with no task involved. Items that have to be awaited (sequences still streaming, async
iterables, promises) are flattened in order by one background task that exists only while such items wait.
Out-of-order items bypass that queue: each is flattened by its own task and its messages go out as they come.
"""

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any, Self

from pydantic import BaseModel

from miniagents.errors import UnsupportedMessageTypeError
from miniagents.messages import ErrorMessage, Message, MessagePromise, TextMessage, plain_text_message
from miniagents.miniagent_typing import MessageType
from miniagents.promising._deprecation import pick_renamed_argument, warn_deprecated
from miniagents.promising.context import PromisingContext
from miniagents.promising.promising import (
    AppenderBase,
    Promise,
    StreamedPromise,
    cancelled_error,
    wait_for_wake_up,
    wake_waiters,
)
from miniagents.promising.sentinels import DEFAULT, NO_VALUE, Sentinel, is_default

__all__ = ["MessageSequence", "MessageSequenceAppender", "MessageSequencePromise", "join_messages"]

logger = logging.getLogger(__name__)

_READY_SINGLE_TYPES = (str, dict, BaseModel, MessagePromise, BaseException)


def _leaves(item: list[Any] | tuple[Any, ...]) -> Iterator[Any]:
    """The items of nested lists/tuples that are not lists/tuples themselves, in order, at any depth.

    Walked with an explicit stack rather than recursion, so that nesting depth costs neither stack nor time per
    level (each container is entered once); a list that contains itself would never end, so it is refused.
    """
    stack = [iter(item)]
    open_lists = _OpenLists(item)
    while stack:
        for sub_item in stack[-1]:
            if isinstance(sub_item, (list, tuple)):
                open_lists.enter(sub_item)
                stack.append(iter(sub_item))
                break
            yield sub_item
        else:
            stack.pop()
            open_lists.leave()


class _OpenLists:
    """The lists (and tuples) being walked, innermost last: entering one that is already open means it holds itself."""

    __slots__ = ("_ids", "_stack")

    def __init__(self, outermost: Any = None) -> None:
        self._stack: list[int | None] = [None if outermost is None else id(outermost)]
        self._ids: set[int | None] = set(self._stack)

    def enter(self, container: Any) -> None:
        if isinstance(container, (list, tuple)):
            container_id = id(container)
            if container_id in self._ids:
                raise ValueError(
                    "A list of messages contains itself, so it can never be flattened; send a copy instead."
                )
        else:
            container_id = None
        self._stack.append(container_id)
        self._ids.add(container_id)

    def leave(self) -> None:
        container_id = self._stack.pop()
        if container_id is not None:
            self._ids.discard(container_id)


def _is_ready_single(item: Any) -> bool:
    return isinstance(item, _READY_SINGLE_TYPES) or (isinstance(item, MessageSequencePromise) and item.is_streamed)


def _is_ready(item: Any) -> bool:
    if isinstance(item, (list, tuple)):
        return all(_is_ready_single(leaf) for leaf in _leaves(item))
    return _is_ready_single(item)


def _unsupported(item: Any) -> UnsupportedMessageTypeError:
    hint = " (a coroutine: did you forget `await`?)" if asyncio.iscoroutine(item) else ""
    return UnsupportedMessageTypeError(
        f"{type(item).__name__} is not a supported message type{hint}. Send or reply str, dict, a pydantic model, "
        "a Message, a MessagePromise, a MessageSequencePromise, an exception, or (async) iterables of these."
    )


def _is_plain_iterable(item: Any) -> bool:
    """A list, tuple, generator or other sync iterable whose items are flattened (not a message, str or dict)."""
    if isinstance(item, (list, tuple)):
        return True
    if isinstance(item, (_READY_SINGLE_TYPES, Promise, bytes, bytearray)) or hasattr(item, "__aiter__"):
        return False
    return hasattr(item, "__iter__")


def _check_supported_single(item: Any) -> None:
    if isinstance(item, (_READY_SINGLE_TYPES, Promise)) or hasattr(item, "__aiter__"):
        return
    if hasattr(item, "__iter__") and not isinstance(item, (bytes, bytearray)):
        return  # a generator or another iterable: its items are checked as they come
    raise _unsupported(item)


def _check_supported(item: Any) -> None:
    if isinstance(item, (list, tuple)):
        for leaf in _leaves(item):
            _check_supported_single(leaf)
    else:
        _check_supported_single(item)


def message_from_dict(fields: dict[str, Any]) -> Message:
    """A plain `Message` with the dict's fields (as in MiniAgents, also when the dict has `content`)."""
    return Message(**fields)


def _message_from_model(model: BaseModel) -> Message:
    fields = model.model_dump()
    fields.pop("class_", None)
    return message_from_dict(fields)


class _ErrorsAsMessagePromise(MessagePromise):
    """Relays a message still streaming; if it fails, it ends as an `ErrorMessage` instead of raising.

    This is how `errors_as_messages=True` reaches messages that break midway (a token streamer that raises): the
    text streamed so far is kept, the error is appended to it as a last token, and the message resolves to an
    `ErrorMessage` with that text. A message that completes resolves to the original message itself.
    """

    def __init__(self, original: MessagePromise) -> None:
        self._original = original
        self._failure: Exception | None = None
        super().__init__(
            start_soon=original.production_started,
            message_token_streamer=self._arelay,
            message_class=original.message_class,
            **original.known_beforehand,
        )

    async def _arelay(self, _: dict[str, Any]) -> AsyncIterator[Any]:
        streamed_any = False
        try:
            async for token in self._original:
                streamed_any = True
                yield token
        except Exception as error:  # becomes the end of an ErrorMessage (see `_on_stream_finished`)
            self._failure = error
            logger.log(self._context.log_level_for_errors, "A streamed message failed midway", exc_info=error)
            separator = "\n\n" if streamed_any else ""
            yield f"{separator}{type(error).__name__}: {error}"

    def _on_stream_finished(self) -> None:
        if self.is_resolved:
            return
        original = self._original
        if self._failure is None and original.done() and original.exception() is None:
            self._set_result(original.result())  # the very same message: same hash key, same record
        elif self._failure is not None:
            text = "".join(str(piece) for piece in self._pieces)
            self._set_result(ErrorMessage(content=text, error_class=type(self._failure).__name__))
        else:
            super()._on_stream_finished()


def _tolerating_errors(message_promise: MessagePromise) -> MessagePromise:
    if isinstance(message_promise, _ErrorsAsMessagePromise) or (
        message_promise.done() and message_promise.exception() is None
    ):
        return message_promise
    return _ErrorsAsMessagePromise(message_promise)


class MessageSequencePromise(StreamedPromise[MessagePromise, tuple[Message, ...]]):
    """A promise of a sequence of messages: `async for message_promise in it`, or `await it` for all messages."""

    def __init__(self, *args: Any, fed_by: "MessageSequence | None" = None, **kwargs: Any) -> None:
        """Like `StreamedPromise`; `fed_by` is the `MessageSequence` that pushes the messages (if any)."""
        self._sequence = fed_by
        super().__init__(*args, **kwargs)

    def _produce(self) -> None:
        if self._sequence is not None:  # a `MessageSequence` pushes the messages; demand starts its async part
            self._sequence.on_demand()
            return
        super()._produce()

    def detach_feeder(self) -> None:
        """Forget the `MessageSequence` that fed this promise (called by it when it finished: nothing more comes)."""
        self._sequence = None

    async def _aresolve_value(self) -> tuple[Message, ...]:
        if getattr(self, "_resolver_function", None) is not None:
            return await super()._aresolve_value()
        return tuple([await message_promise async for message_promise in self])

    async def aresolve(self) -> tuple[Message, ...]:
        """Wait for every message of the sequence and return them all (or raise the first error in it)."""
        if getattr(self, "_resolver_function", None) is None:
            # Collecting replayable messages is idempotent, so one awaiter does it inline (no task) while the others
            # wait; if that awaiter is cancelled, the waiters wake up and one of them takes over.
            while self._result is NO_VALUE:
                if self._resolving:
                    await wait_for_wake_up(self._waiters_for_result())
                    continue
                self._resolving = True
                try:
                    messages = await self._aresolve_value()
                except asyncio.CancelledError:
                    self._resolving = False
                    if self._result_waiters:
                        wake_waiters(self._result_waiters)
                    raise
                except BaseException as error:  # stored: every awaiter gets the same error
                    self._set_failure(error)
                else:
                    self._set_result(messages)
        return await super().aresolve()

    async def aresolve_messages(self) -> tuple[Message, ...]:
        """Deprecated: `await sequence_promise` does the same."""
        warn_deprecated("MessageSequencePromise.aresolve_messages()", "await message_sequence_promise")
        return await self

    def as_single_text_promise(
        self,
        delimiter: str | None = "\n\n",
        strip_leading_newlines: bool = False,
        start_soon: bool | Sentinel = DEFAULT,
        reference_original_messages: bool = False,
        **message_fields: Any,
    ) -> MessagePromise:
        """One text message joining the texts of all messages of the sequence (streamed as they arrive).

        As in MiniAgents, the joined message has the fields of the messages it joins (the later ones winning, the
        ones given here above all). With `reference_original_messages=True` (MiniAgents' default) it also refers to
        them in `original_messages`; by default it does not, so records and stores keep only what was said.
        """
        return self._join(reference_original_messages, delimiter, strip_leading_newlines, start_soon, message_fields)

    def as_single_promise(
        self,
        delimiter: str | None = "\n\n",
        strip_leading_newlines: bool = False,
        start_soon: bool | Sentinel = DEFAULT,
        **message_fields: Any,
    ) -> MessagePromise:
        """Like `as_single_text_promise`; the joined message also references the originals (`original_messages`)."""
        return self._join(True, delimiter, strip_leading_newlines, start_soon, message_fields)

    def _join(
        self,
        reference_original_messages: bool,
        delimiter: str | None,
        strip_leading_newlines: bool,
        start_soon: bool | Sentinel,
        message_fields: dict[str, Any],
    ) -> MessagePromise:
        return join_messages(
            self,
            delimiter=delimiter,
            strip_leading_newlines=strip_leading_newlines,
            reference_original_messages=reference_original_messages,
            start_soon=start_soon,
            **message_fields,
        )

    def __repr__(self) -> str:
        state = "complete" if self.is_streamed else "streaming" if self.production_started else "pending"
        return f"<{type(self).__name__} {len(self._pieces)} message(s) so far, {state}>"


class MessageSequenceAppender(AppenderBase[MessageType]):
    """Appender of a `MessageSequence`: `append()` keeps order, `append_out_of_order()` lets messages jump ahead.

    Whatever is appended is checked at once (an unsupported type raises here, at the call site) and flattened by
    the sequence.
    """

    def __init__(self, sequence: "MessageSequence", capture_errors: bool | Sentinel = DEFAULT) -> None:
        super().__init__(capture_errors=capture_errors)
        self._sequence = sequence

    def append(self, piece: MessageType) -> Self:
        self._check_open()
        _check_supported(piece)
        self._sequence.append_in_order(piece)
        return self

    def append_out_of_order(self, piece: MessageType) -> Self:
        """Append messages that are delivered as soon as each is available, ahead of earlier ones still pending."""
        self._check_open()
        _check_supported(piece)
        self._sequence.append_out_of_order(piece)
        return self

    def _deliver(self, piece: Any) -> None:  # an error captured by the `with` block
        self._sequence.append_in_order(piece)

    def detach_sequence(self) -> None:
        """Forget the sequence (called by it once finished: this appender is closed, nothing can be appended)."""
        self._sequence = None  # type: ignore[assignment]

    def _on_close(self) -> None:
        self._sequence.close_input()


class MessageSequence:
    """Flattens what is appended to `message_appender` into `sequence_promise`, a flat `MessageSequencePromise`.

    With `errors_as_messages=True` an error met while flattening becomes an `ErrorMessage` at its position;
    otherwise it is stored there and raised to consumers when they reach it (the rest of the sequence still follows).

    The callbacks are plain functions called with `owner` first (`on_finished(owner)`), not bound methods, and the
    appender is made on first use (`appender_open=True` makes it open, for a producer that appends over time
    without a `with` block): a big fan-out keeps many sequences pending at once, and every object each one holds
    is one more for the cyclic garbage collector to traverse.
    """

    def __init__(
        self,
        appender_capture_errors: bool | Sentinel = DEFAULT,
        start_soon: bool | Sentinel = DEFAULT,
        errors_as_messages: bool = False,
        on_message: Callable[[Any, int, MessagePromise], None] | None = None,
        on_finished: Callable[[Any], None] | None = None,
        on_demand: Callable[[Any], None] | None = None,
        start_asap: bool | Sentinel = DEFAULT,
        owner: Any = None,
        appender_open: bool = False,
    ) -> None:
        start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
        self._context = PromisingContext.get_current()
        self._errors_as_messages = errors_as_messages
        self._owner = owner
        self._on_message = on_message
        self._on_finished = on_finished
        self._on_demand_callback = on_demand
        # made when first needed: most sequences only ever get ready items, flattened at once
        self._queue: deque[Any] | None = None
        self._deferred_out_of_order: list[Any] | None = None
        self._flattening = False
        self._feeders = 0
        self._demanded = False
        self._input_closed = False
        self._finished = False
        self._emitted = 0  # pieces appended to `sequence_promise` so far (the index of the next one)
        self._errors = 0  # how many of them are errors (not messages)
        self._appender: MessageSequenceAppender | None = None
        self._appender_capture_errors = (
            self._context.appenders_capture_errors_by_default
            if is_default(appender_capture_errors)
            else bool(appender_capture_errors)
        )
        self._appender_open = appender_open
        self.sequence_promise = MessageSequencePromise(start_soon=start_soon, fed_by=self)

    @property
    def message_count(self) -> int:
        """How many messages `sequence_promise` holds so far (errors at positions not counted), without copying its
        pieces."""
        return self._emitted - self._errors

    @property
    def message_appender(self) -> "MessageSequenceAppender":
        """The appender whose pieces this sequence flattens (the same one every time)."""
        if self._appender is None:
            self._appender = MessageSequenceAppender(self, capture_errors=self._appender_capture_errors)
            if self._appender_open:
                self._appender.open()
            if self._finished:  # the sequence finished before anyone asked for its appender: a closed one
                self._appender.close()
                self._appender.detach_sequence()
        return self._appender

    @classmethod
    def turn_into_sequence_promise(cls, messages: MessageType) -> MessageSequencePromise:
        """Flatten `messages` (any `MessageType`) into a `MessageSequencePromise` (lazily, nothing starts early)."""
        sequence = cls(appender_capture_errors=True, start_soon=False)
        with sequence.message_appender:
            sequence.message_appender.append(messages)
        return sequence.sequence_promise

    @classmethod
    async def aresolve_messages(cls, messages: MessageType) -> tuple[Message, ...]:
        """Flatten `messages` and wait for all of them: the resulting tuple of `Message` objects."""
        return await cls.turn_into_sequence_promise(messages)

    # --- producing ---------------------------------------------------------------------------------------------

    def append_in_order(self, item: Any) -> None:
        """Flatten `item` after everything appended before it (ready items at once, others by one task)."""
        if not self._queue and not self._flattening and _is_ready(item):
            self._emit_ready(item)
            return
        if self._queue is None:
            self._queue = deque()
        self._queue.append(item)
        self._start_flattening()

    def append_out_of_order(self, item: Any) -> None:
        """Flatten `item` on its own, its messages going out as soon as each is ready."""
        if _is_ready(item):
            self._emit_ready(item)
        elif self._demanded:
            self._start_feeder(item)
        else:
            if self._deferred_out_of_order is None:
                self._deferred_out_of_order = []
            self._deferred_out_of_order.append(item)

    def close_input(self) -> None:
        """Nothing more will be appended: the sequence finishes once what was appended is flattened."""
        self._input_closed = True
        self._maybe_finish()

    def on_demand(self) -> None:
        """The first consumer asked (or `start_soon`): start flattening what must be awaited, and `on_demand`."""
        self._demanded = True
        if self._on_demand_callback is not None:
            callback, self._on_demand_callback = self._on_demand_callback, None
            callback(self._owner)
        self._start_flattening()
        deferred, self._deferred_out_of_order = self._deferred_out_of_order or (), None
        for item in deferred:
            self._start_feeder(item)

    def _start_flattening(self) -> None:
        if self._demanded and self._queue and not self._flattening:
            self._flattening = True
            self._context.start_producer(
                self, MessageSequence._aflatten_queue, MessageSequence._on_flattening_cancelled_early
            )

    def _start_feeder(self, item: Any) -> None:
        self._feeders += 1
        self._context.start_producer(
            self, partial(MessageSequence._afeed, item=item), MessageSequence._on_feeder_cancelled_early
        )

    def _on_flattening_cancelled_early(self) -> None:
        self._queue = None
        self._emit_error(cancelled_error(self.sequence_promise, asyncio.CancelledError()))
        self._flattening = False
        self._maybe_finish()

    def _on_feeder_cancelled_early(self) -> None:
        self._emit_error(cancelled_error(self.sequence_promise, asyncio.CancelledError()))
        self._feeders -= 1
        self._maybe_finish()

    async def _aflatten_queue(self) -> None:
        try:
            while self._queue:
                await self._aflatten_item(self._queue.popleft())
        except asyncio.CancelledError as error:
            self._queue = None
            self._emit_error(cancelled_error(self.sequence_promise, error))
            raise
        finally:
            self._flattening = False
            self._maybe_finish()

    async def _afeed(self, item: Any) -> None:
        try:
            await self._aflatten_item(item)
        except asyncio.CancelledError as error:
            self._emit_error(cancelled_error(self.sequence_promise, error))
            raise
        finally:
            self._feeders -= 1
            self._maybe_finish()

    def _maybe_finish(self) -> None:
        if (
            self._input_closed
            and not self._finished
            and not self._flattening
            and not self._queue
            and not self._feeders
            and not self._deferred_out_of_order
        ):
            self._finished = True
            self.sequence_promise.finish_stream()
            owner, on_finished = self._owner, self._on_finished
            # nothing more can happen: drop the links back to whoever made this sequence (an agent call) and from
            # the promise and the appender back here, so that a finished call is freed by reference counting alone
            self._owner = self._on_message = self._on_finished = self._on_demand_callback = None
            self.sequence_promise.detach_feeder()
            if self._appender is not None:
                self._appender.detach_sequence()
            if on_finished is not None:
                on_finished(owner)

    # --- flattening --------------------------------------------------------------------------------------------

    def _emit(self, message_promise: MessagePromise) -> None:
        if self._errors_as_messages:
            message_promise = _tolerating_errors(message_promise)
        self.sequence_promise.append_piece(message_promise)
        if self._on_message is not None:
            self._on_message(self._owner, self._emitted, message_promise)
        self._emitted += 1

    def _emit_error(self, error: BaseException) -> None:
        if self._errors_as_messages and isinstance(error, Exception):
            logger.log(self._context.log_level_for_errors, "An error became an ErrorMessage", exc_info=error)
            self._emit(ErrorMessage.from_error(error).as_promise)
        else:
            self.sequence_promise.append_piece(error)
            self._emitted += 1
            self._errors += 1

    def _emit_ready(self, item: Any) -> None:
        if isinstance(item, (list, tuple)):
            for leaf in _leaves(item):
                self._emit_ready_single(leaf)
        else:
            self._emit_ready_single(item)

    def _emit_ready_single(self, item: Any) -> None:
        if isinstance(item, MessagePromise):
            self._emit(item)
        elif isinstance(item, Message):
            self._emit(item.as_promise)
        elif isinstance(item, str):
            self._emit(plain_text_message(item).as_promise)
        elif isinstance(item, dict):
            self._emit(message_from_dict(item).as_promise)
        elif isinstance(item, BaseModel):
            self._emit(_message_from_model(item).as_promise)
        elif isinstance(item, BaseException):
            self._emit_error(item)
        else:  # a complete MessageSequencePromise
            for piece in item.pieces_so_far:
                if isinstance(piece, BaseException):
                    self._emit_error(piece)
                else:
                    self._emit(piece)

    async def _aflatten_item(self, item: Any) -> None:
        """Flatten one appended item; whatever goes wrong with it becomes an error at its position, never a hang.

        Nested (sync) iterables — lists, tuples, generators — are walked with an explicit stack, so nesting depth
        costs neither Python stack nor extra time per level; only async iterables and promises are awaited.
        """
        iterators: list[Iterator[Any]] = [iter((item,))]
        open_lists = _OpenLists()
        while iterators:
            try:
                sub_item = next(iterators[-1])
            except StopIteration:
                iterators.pop()
                open_lists.leave()
                continue
            except Exception as error:  # a failing generator: stored at this position, the rest of it is lost
                self._emit_error(error)
                iterators.pop()
                open_lists.leave()
                continue
            if _is_plain_iterable(sub_item):
                try:
                    open_lists.enter(sub_item)
                except ValueError as error:
                    self._emit_error(error)
                    continue
                try:
                    iterators.append(iter(sub_item))
                except Exception as error:  # e.g. an iterable whose iter() fails
                    open_lists.leave()
                    self._emit_error(error)
            else:
                await self._aflatten_single(sub_item)

    async def _aflatten_single(self, item: Any) -> None:
        try:
            if _is_ready_single(item):
                self._emit_ready_single(item)
            elif hasattr(item, "__aiter__"):
                await self._aflatten_async_iterable(item)
            elif isinstance(item, Promise):
                await self._aflatten_item(await item)
            else:
                self._emit_error(_unsupported(item))
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # e.g. an unfreezable dict, or an async iterable whose aiter() fails
            self._emit_error(error)

    async def _aflatten_async_iterable(self, iterable: Any) -> None:
        replayable = isinstance(iterable, StreamedPromise)  # our iterators go on after an error, others stop
        iterator: AsyncIterator[Any] = iterable.__aiter__()
        while True:
            try:
                sub_item = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                raise
            except BaseException as error:  # stored at this position
                self._emit_error(error)
                if replayable:
                    continue
                return
            if replayable and isinstance(sub_item, MessagePromise):
                self._emit(sub_item)
            else:
                await self._aflatten_item(sub_item)


_NOT_INHERITED_BY_JOINED = ("content", "content_template", "original_messages")


def join_messages(
    messages: MessageType,
    delimiter: str | None = "\n\n",
    strip_leading_newlines: bool = False,
    reference_original_messages: bool = True,
    start_soon: bool | Sentinel = DEFAULT,
    start_asap: bool | Sentinel = DEFAULT,
    **message_fields: Any,
) -> MessagePromise:
    """Join the texts of `messages` into one streamed `TextMessage`, `delimiter` between them.

    `strip_leading_newlines` removes newlines an LLM may put at the start of each message;
    `reference_original_messages` keeps the originals in the `original_messages` field of the joined message. The
    joined message has the other fields of the originals too (a later message's field wins over an earlier one's,
    `message_fields` over both), as in MiniAgents: a user message and an assistant message joined keep a role.
    """
    start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")

    async def stream_tokens(metadata_so_far: dict[str, Any]) -> AsyncIterator[Any]:
        originals: list[Message] = []
        inherited: dict[str, Any] = {}
        first = True
        async for message_promise in MessageSequence.turn_into_sequence_promise(messages):
            if delimiter and not first:
                yield delimiter
            first = False
            stripping = strip_leading_newlines
            async for token in message_promise:
                if stripping:
                    token = str(token).lstrip("\r\n")
                    if not token:
                        continue
                    stripping = False
                yield token
            original = await message_promise
            inherited.update(original.frozen_fields_and_values())
            if reference_original_messages:
                originals.append(original)
        for field in _NOT_INHERITED_BY_JOINED:
            inherited.pop(field, None)
        for field, value in inherited.items():
            if field not in message_fields:
                metadata_so_far[field] = value
        if reference_original_messages:
            metadata_so_far["original_messages"] = tuple(originals)

    return TextMessage.promise(start_soon=start_soon, message_token_streamer=stream_tokens, **message_fields)
