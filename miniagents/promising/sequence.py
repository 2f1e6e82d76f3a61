"""`FlatSequence`: turns a stream of items into a flat stream, each item expanded into zero or more output items."""

from collections.abc import AsyncIterator
from typing import Any, Generic

from miniagents.promising._deprecation import pick_renamed_argument
from miniagents.promising.errors import FunctionNotProvidedError
from miniagents.promising.promise_typing import IN, OUT, PromiseStreamer
from miniagents.promising.promising import StreamedPromise
from miniagents.promising.sentinels import DEFAULT, Sentinel

__all__ = ["FlatSequence"]


class FlatSequence(Generic[IN, OUT]):
    """Streams `flattener(self, item)` for every item of `incoming_streamer`, in order, as `sequence_promise`.

    The result is an ordinary `StreamedPromise`: replayable, with the flattener running once per item.
    """

    def __init__(
        self,
        incoming_streamer: PromiseStreamer[IN],
        flattener: Any = None,
        start_soon: bool | Sentinel = DEFAULT,
        sequence_promise_class: type[StreamedPromise[OUT, tuple[OUT, ...]]] = StreamedPromise,
        start_asap: bool | Sentinel = DEFAULT,
    ) -> None:
        start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
        self._incoming_streamer = incoming_streamer
        if flattener is not None:
            self._flattener_function = flattener
        self.sequence_promise = sequence_promise_class(streamer=self._astream, start_soon=start_soon)

    def _flattener(self, item: IN) -> AsyncIterator[OUT]:
        flattener = getattr(self, "_flattener_function", None)
        if flattener is None:
            raise FunctionNotProvidedError("Pass `flattener=` to FlatSequence or override `_flattener()`.")
        return flattener(self, item)

    async def _astream(self, _: Any) -> AsyncIterator[OUT]:
        async for item in self._incoming_streamer(self):  # type: ignore[arg-type]
            async for flat_item in self._flattener(item):
                yield flat_item
