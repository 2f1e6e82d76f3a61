"""Generic async primitives: replayable promises and streams. Knows nothing of messages or agents.

The names below are imported on first use, so `import miniagents.promising.sentinels` (say) loads only what it needs.
"""

from typing import TYPE_CHECKING

from miniagents.promising._lazy import lazy_exports

if TYPE_CHECKING:
    from miniagents.promising.context import PromisingContext
    from miniagents.promising.promising import Promise, StreamAppender, StreamedPromise
    from miniagents.promising.sequence import FlatSequence

__all__ = ["FlatSequence", "Promise", "PromisingContext", "StreamAppender", "StreamedPromise"]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "miniagents.promising.context": ["PromisingContext"],
        "miniagents.promising.promising": ["Promise", "StreamAppender", "StreamedPromise"],
        "miniagents.promising.sequence": ["FlatSequence"],
    },
)
