"""Snapshots of promises as they are right now — what a view shows of something that may still be streaming.

Everything here reads promises through their public, synchronous state (`pieces_so_far`, `is_streamed`, `done()`,
`result()`, `known_beforehand`), so taking a snapshot never waits and never starts or changes the promise.
The text a promise streamed so far is joined incrementally and shared (`text_so_far`): however many views look at a
stream of 100,000 tokens, and however often, each token is joined once.
"""

from typing import Any
from weakref import WeakKeyDictionary

from miniagents import Message, MessagePromise, MessageSequencePromise, StreamedPromise
from miniagents_notebook.rendering import MessageView, header_fields, message_view

__all__ = ["StreamedText", "is_complete", "streamed_view", "text_so_far"]


class StreamedText:
    """The text of the pieces a promise produced so far, and the first error among them."""

    __slots__ = ("error", "is_complete", "pieces", "text")

    def __init__(self) -> None:
        self.text = ""
        self.error: BaseException | None = None
        self.pieces = 0
        """How many pieces are in `text` (errors included)."""
        self.is_complete = False
        """Whether `text` has every piece: the promise streamed to its end (it is not looked at again)."""

    def catch_up(self, promise: StreamedPromise[Any, Any]) -> "StreamedText":
        """Join the pieces `promise` produced since the last call (nothing more once `is_complete`); returns self."""
        if self.is_complete:
            return self
        is_streamed = promise.is_streamed  # read first: the pieces taken next are then surely all of them
        self._join(promise.pieces_so_far)
        self.is_complete = is_streamed
        return self

    def _join(self, pieces: tuple[Any, ...]) -> None:
        new_pieces = pieces[self.pieces :]
        if not new_pieces:
            return
        self.pieces = len(pieces)
        try:
            self.text += "".join(new_pieces)
        except TypeError:  # not only strings: an error at this position, or tokens of another type
            self.text += "".join(str(piece) for piece in new_pieces if not isinstance(piece, BaseException))
            if self.error is None:
                self.error = next((piece for piece in new_pieces if isinstance(piece, BaseException)), None)


_shared_texts: "WeakKeyDictionary[StreamedPromise[Any, Any], StreamedText]" = WeakKeyDictionary()


def text_so_far(promise: StreamedPromise[Any, Any]) -> StreamedText:
    """The text `promise` streamed so far, brought up to date by joining only the pieces that arrived since the last
    look (shared by everything that looks at the promise, and forgotten with it)."""
    text = _shared_texts.get(promise)
    if text is None:
        text = _shared_texts[promise] = StreamedText()
    return text.catch_up(promise)


def streamed_view(promise: StreamedPromise[Any, Any]) -> MessageView:
    """A message promise: the whole message once it resolved; before that, its early fields and the text so far.
    Any other streamed promise: its pieces joined as text."""
    if not isinstance(promise, MessagePromise):
        text = text_so_far(promise)
        return MessageView(type(promise).__name__, (), text.text, promise.is_streamed, text.error)
    error = None
    if promise.done():  # the message has its text joined already
        error = promise.exception()
        if error is None:
            return message_view(promise.result())
    text = text_so_far(promise)
    fields = header_fields(promise.known_beforehand, without_text=True)
    return MessageView(promise.message_class.__name__, fields, text.text, promise.is_streamed, text.error or error)


def is_complete(source: StreamedPromise[Any, Any] | Message) -> bool:
    """Whether nothing more will be streamed: every piece (and, for a sequence, every message) is in."""
    if isinstance(source, Message):
        return True
    if not source.is_streamed:
        return False
    if isinstance(source, MessageSequencePromise):
        return all(isinstance(item, BaseException) or item.is_streamed for item in source.pieces_so_far)
    return True
