"""Errors of the message store. Each one says what went wrong and what to do about it."""

from miniagents.errors import MiniAgentsError

__all__ = [
    "AmbiguousCallError",
    "MessageNotFoundError",
    "StoreClosedError",
    "StoreError",
    "StoreWriteError",
]


class StoreError(MiniAgentsError):
    """Base class of the errors raised by `miniagents.ext.persistence`."""


class StoreClosedError(StoreError):
    """The store was used after `close()`; open a new `SQLiteMessageStore` on the same file instead."""


class StoreWriteError(StoreError):
    """Messages handed to the store could not be written; raised by the next `flush()` / `aflush()` / `close()`."""


class MessageNotFoundError(StoreError, LookupError):
    """A hash key (or a message it references) is not in the store."""


class AmbiguousCallError(StoreError, ValueError):
    """The same call (same agent, input and arguments) was answered more than once; pick one of its reply nodes."""
