"""Type variables and callback protocols shared by the promising layer."""

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from miniagents.promising.promising import Promise, StreamedPromise

__all__ = [
    "IN",
    "OUT",
    "PIECE",
    "WHOLE",
    "PromiseResolvedEventHandler",
    "PromiseResolver",
    "PromiseStreamer",
    "T",
]

T = TypeVar("T")
PIECE = TypeVar("PIECE")
WHOLE = TypeVar("WHOLE")
IN = TypeVar("IN")
OUT = TypeVar("OUT")


class PromiseResolver(Protocol[T]):
    """Computes the value of a `Promise`; receives the promise itself."""

    async def __call__(self, promise: "Promise[T]") -> T: ...


class PromiseStreamer(Protocol[PIECE]):
    """Produces the pieces of a `StreamedPromise`; receives the promise itself."""

    def __call__(self, streamed_promise: "StreamedPromise[PIECE, Any]") -> AsyncIterator[PIECE]: ...


class PromiseResolvedEventHandler(Protocol):
    """Called (as a background task) after any promise in the context resolves."""

    async def __call__(self, promise: "Promise[Any]", result: Any) -> None: ...
