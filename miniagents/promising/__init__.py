"""Generic async primitives: replayable promises and streams. Knows nothing of messages or agents."""

from miniagents.promising.context import PromisingContext
from miniagents.promising.promising import Promise, StreamAppender, StreamedPromise
from miniagents.promising.sequence import FlatSequence

__all__ = ["FlatSequence", "Promise", "PromisingContext", "StreamAppender", "StreamedPromise"]
