"""`UpdateThrottle`: coalesces many "something changed" signals into a few front-end updates.

Every live view (the stream view, the call tree, the timeline, the history inspector) is told about changes far more
often than a browser needs to hear about them. A throttle turns those requests into at most one flush per `interval`
— fewer when a flush is expensive (its cost is kept under a tenth of the time) or sends much data (at most
`bytes_per_second`) — and `flush_now()` always sends the final state. A request never flushes inline (event
handlers must stay cheap): the flush is scheduled on the event loop. Without a running loop a request is only
remembered (`is_due`) until someone flushes by hand.
"""

import asyncio
import time
from collections.abc import Callable

from miniagents_notebook.kernel import running_loop_or_none

__all__ = ["UpdateThrottle"]


class UpdateThrottle:
    """Calls `flush()` (which may return how many bytes it sent) soon after `request()`, but never too often.

    `flush` may call `request()` itself, to poll something that changes without telling anyone (text that streams
    in): the next flush then comes one interval later. `loop` is the running loop at the first request unless given.
    """

    def __init__(
        self,
        flush: Callable[[], int | None],
        interval: float = 0.05,
        bytes_per_second: float = 2_000_000.0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"The update interval must be positive, got {interval!r} seconds.")
        self._flush_function = flush
        self.interval = interval
        self._bytes_per_second = bytes_per_second
        self._loop = loop
        self._next_allowed = float("-inf")
        self._handle: asyncio.Handle | None = None
        self._flushing = False
        self._requested_while_flushing = False
        self.is_due = False
        """Whether a request came since the last flush."""

    def request(self) -> None:
        """Ask for a flush: at the next loop iteration if the last one was long enough ago, else when it is."""
        self.is_due = True
        if self._flushing:
            self._requested_while_flushing = True
            return
        if self._handle is not None:
            return
        if self._loop is None:
            self._loop = running_loop_or_none()
            if self._loop is None:
                return
        delay = self._next_allowed - self._loop.time()
        self._handle = self._loop.call_later(delay, self._flush) if delay > 0 else self._loop.call_soon(self._flush)

    def sent_just_now(self) -> None:
        """The state just went out some other way (with the message that opened the widget): the next flush waits a
        full interval, like after a flush."""
        self._next_allowed = self._now() + self.interval

    @property
    def is_pending(self) -> bool:
        """Whether a flush is scheduled (requested and not yet done)."""
        return self._handle is not None

    def flush_now(self) -> None:
        """Flush right away (the final state, or an answer to the user), cancelling a pending flush."""
        self.cancel()
        self._flush()

    def cancel(self) -> None:
        """Drop a pending flush, if any."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _now(self) -> float:
        return self._loop.time() if self._loop is not None else time.monotonic()

    def _flush(self) -> None:
        self._handle = None
        self.is_due = False
        self._flushing = True
        started = time.perf_counter()
        try:
            sent_bytes = self._flush_function() or 0
        finally:
            self._flushing = False
        cost = time.perf_counter() - started
        self._next_allowed = self._now() + max(self.interval, 10 * cost, sent_bytes / self._bytes_per_second)
        if self._requested_while_flushing:
            self._requested_while_flushing = False
            self.request()
