"""Snapshots of promises as they are right now — what a display shows of something that may still be streaming.

Everything here reads promises through their public, synchronous state (`pieces_so_far`, `is_streamed`,
`is_resolved`, `known_beforehand`), so taking a snapshot never waits and never changes the promise.
"""

from typing import Any

from miniagents import Message, MessagePromise, MessageSequencePromise, StreamedPromise
from miniagents_notebook.rendering import MessageView, message_view

__all__ = ["is_complete", "message_promise_view", "resolved_outcome", "streamed_promise_view"]

_TEXT_FIELDS = ("content", "content_template", "text")


def resolved_outcome(promise: Any) -> tuple[Any, BaseException | None]:
    """The value (or error) of a promise that `is_resolved`, read without an event loop.

    Awaiting a resolved promise never suspends, so driving `aresolve()` by hand completes in one step.
    """
    coroutine = promise.aresolve()
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value, None
    except BaseException as error:  # the promise's own error is its outcome
        return None, error
    coroutine.close()
    raise RuntimeError(f"{type(promise).__name__} is not resolved yet; check `is_resolved` first.")


def _first_error(pieces: tuple[Any, ...]) -> BaseException | None:
    return next((piece for piece in pieces if isinstance(piece, BaseException)), None)


def _joined_text(pieces: tuple[Any, ...]) -> str:
    return "".join(str(piece) for piece in pieces if not isinstance(piece, BaseException))


def message_promise_view(promise: MessagePromise) -> MessageView:
    """The whole message once it resolved; before that, its early fields and the tokens streamed so far."""
    tokens = promise.pieces_so_far
    error = _first_error(tokens)
    if promise.is_resolved and error is None:
        message, error = resolved_outcome(promise)
        if error is None:
            return message_view(message)
    fields = tuple(
        (name, value)
        for name, value in promise.known_beforehand.frozen_fields_and_values().items()
        if name not in _TEXT_FIELDS and value is not None
    )
    return MessageView(promise.message_class.__name__, fields, _joined_text(tokens), promise.is_streamed, error)


def streamed_promise_view(promise: StreamedPromise[Any, Any]) -> MessageView:
    """Any other streamed promise: its pieces joined as text."""
    pieces = promise.pieces_so_far
    return MessageView(type(promise).__name__, (), _joined_text(pieces), promise.is_streamed, _first_error(pieces))


def is_complete(source: StreamedPromise[Any, Any] | Message) -> bool:
    """Whether nothing more will be streamed: every piece (and, for a sequence, every message) is in."""
    if isinstance(source, Message):
        return True
    if not source.is_streamed:
        return False
    if isinstance(source, MessageSequencePromise):
        return all(isinstance(item, BaseException) or item.is_streamed for item in source.pieces_so_far)
    return True
