"""Errors raised by the promising layer, and `MiniAgentsError`, the root of every MiniAgents error.

The root lives here, in the lowest layer, so that the promising layer's own errors can derive from it without
depending on the agent layer; `miniagents.errors` re-exports it with every other error (import from there).
Each message says what went wrong and how to fix it.
"""

__all__ = [
    "AppenderClosedError",
    "AppenderNotOpenError",
    "FunctionNotProvidedError",
    "MiniAgentsError",
    "NestingDepthError",
    "NoActiveContextError",
    "ProducerCancelledError",
    "PromisingError",
    "WrongContextTypeError",
]


class MiniAgentsError(Exception):
    """The root of every error MiniAgents raises: `except MiniAgentsError` catches them all.

    Errors that are also a kind of builtin error derive from that builtin too (`InvalidAgentKwargError` is a
    `ValueError`, `NoActiveContextError` a `RuntimeError`, ...), so code that catches the builtin keeps working.
    """


PromisingError = MiniAgentsError
"""The root's older name, from before the promising layer and the agent layer shared one root.

Every MiniAgents error already was a `PromisingError` (the agent layer's, the store's and the LLM agents' included),
so the name stays the root itself: `except PromisingError` still catches exactly what it caught.
"""


class FunctionNotProvidedError(PromisingError):
    """A resolver or streamer was neither passed to the constructor nor implemented by a subclass."""


class AppenderNotOpenError(PromisingError):
    """`append()` was called on a `StreamAppender` that was never opened."""


class AppenderClosedError(PromisingError):
    """`append()` or `open()` was called on a `StreamAppender` that is already closed."""


class NoActiveContextError(PromisingError, RuntimeError):
    """A promise (or an agent) was used while no `PromisingContext` / `MiniAgents` was active."""


class WrongContextTypeError(PromisingError, TypeError):
    """A context of one type is active where a context of another type was required."""


class ProducerCancelledError(PromisingError):
    """The task producing a promise was cancelled before it finished; consumers get this instead of hanging.

    A plain `CancelledError` would make the consumer look cancelled itself, so cancellation of the producer is
    reported with this error (its `__cause__` is the original `CancelledError`).
    """


class NestingDepthError(PromisingError, RecursionError):
    """A value or a message is nested deeper than `MAX_NESTING_DEPTH` levels (sequences of messages nest freely).

    Such structures would otherwise fail somewhere deep inside hashing, serialising or rendering with a bare
    `RecursionError` that names nothing; this error says what was too deep instead.
    """
