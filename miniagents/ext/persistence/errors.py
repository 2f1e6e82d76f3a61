"""Errors of the message store (defined, with every other MiniAgents error, in `miniagents.errors`)."""

from miniagents.errors import AmbiguousCallError, MessageNotFoundError, StoreClosedError, StoreError, StoreWriteError

__all__ = [
    "AmbiguousCallError",
    "MessageNotFoundError",
    "StoreClosedError",
    "StoreError",
    "StoreWriteError",
]
