"""`UpdateThrottle`: coalesces many "something changed" signals into a few front-end updates.

A stream view is told about every token, but the browser only needs to hear about them a few times a second: at most
`max_per_second` flushes happen, fewer when a flush is expensive (its cost is kept under a tenth of the time) or sends
much data (at most `bytes_per_second`), and `flush_now()` always sends the final state.
"""

import asyncio
import time
from collections.abc import Callable

__all__ = ["UpdateThrottle"]


class UpdateThrottle:
    """Calls `flush()` (which returns how many bytes it sent) soon after `request()`, but never too often."""

    def __init__(
        self,
        flush: Callable[[], int],
        loop: asyncio.AbstractEventLoop,
        max_per_second: float = 20.0,
        bytes_per_second: float = 2_000_000.0,
    ) -> None:
        if max_per_second <= 0:
            raise ValueError(f"max_per_second must be positive, got {max_per_second!r}")
        self._flush_function = flush
        self._loop = loop
        self._min_interval = 1.0 / max_per_second
        self._bytes_per_second = bytes_per_second
        self._next_allowed = 0.0
        self._handle: asyncio.Handle | None = None
        self._flushed: asyncio.Future[None] | None = None

    def request(self) -> None:
        """Ask for a flush: at once (next loop iteration) if the last one was long enough ago, else when it is."""
        if self._handle is not None:
            return
        delay = self._next_allowed - self._loop.time()
        if delay > 0:
            self._handle = self._loop.call_later(delay, self._flush)
        else:
            self._handle = self._loop.call_soon(self._flush)

    def flush_now(self) -> None:
        """Flush right away (the final state), cancelling a pending flush."""
        self.cancel()
        self._flush()

    async def wait_for_flush(self) -> None:
        """Wait until the pending flush (if any) has run.

        A consumer that waits here after each piece wakes about once per flush instead of once per piece: the pieces
        that arrived meanwhile are already there when it looks again, so it takes them without waiting.
        """
        if self._handle is None:
            return
        if self._flushed is None:
            self._flushed = self._loop.create_future()
        await self._flushed

    def cancel(self) -> None:
        """Drop a pending flush, if any (whoever waits for it is released)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._release_waiters()

    def _release_waiters(self) -> None:
        if self._flushed is not None:
            if not self._flushed.done():
                self._flushed.set_result(None)
            self._flushed = None

    def _flush(self) -> None:
        self._handle = None
        self._release_waiters()
        started = time.perf_counter()
        sent_bytes = self._flush_function()
        cost = time.perf_counter() - started
        interval = max(self._min_interval, 10 * cost, sent_bytes / self._bytes_per_second)
        self._next_allowed = self._loop.time() + interval
