"""Every error MiniAgents raises, in one place: `from miniagents.errors import ...`.

All of them derive from `MiniAgentsError`, so `except MiniAgentsError` catches any of them; one that is also a kind of
builtin error derives from that builtin too (`except ValueError` still catches `InvalidAgentKwargError`).

Where each is defined:

- the promising layer's errors (`NoActiveContextError`, `ProducerCancelledError`, ...) and the root
  `MiniAgentsError` itself are defined in `miniagents.promising.errors` — that layer must not depend on the ones
  below it — and re-exported here;
- the agent layer's errors and those of the optional parts (`miniagents.ext`: the message store, the markdown chat
  history, the LLM agents) are defined here. The optional parts import them from here and re-export them, so their
  older import paths (`miniagents.ext.persistence.StoreError`, `miniagents.ext.llms.LLMResponseError`,
  `miniagents.ext.chat_history_md.ChatHistoryFileError`) keep working. Defining them here costs nothing: this module
  imports no optional dependency.

Each error's message names the culprit and says how to fix it.
"""

from miniagents.promising.errors import (
    AppenderClosedError,
    AppenderNotOpenError,
    FunctionNotProvidedError,
    MiniAgentsError,
    NestingDepthError,
    NoActiveContextError,
    ProducerCancelledError,
    PromisingError,
    WrongContextTypeError,
)

__all__ = [
    "AgentCallFinishedError",
    "AgentFunctionError",
    "AmbiguousCallError",
    "AppenderClosedError",
    "AppenderNotOpenError",
    "CallDepthError",
    "ChatHistoryFileError",
    "FunctionNotProvidedError",
    "InvalidAgentKwargError",
    "LLMConnectionError",
    "LLMError",
    "LLMIncompleteResponseError",
    "LLMOutputValidationError",
    "LLMRateLimitError",
    "LLMResponseError",
    "LLMServerError",
    "LLMStatusError",
    "LLMTimeoutError",
    "LLMToolRoundsError",
    "MessageNotFoundError",
    "MiniAgentsError",
    "NestingDepthError",
    "NoActiveContextError",
    "ProducerCancelledError",
    "PromisingError",
    "StoreClosedError",
    "StoreError",
    "StoreWriteError",
    "UnsupportedMessageTypeError",
    "WrongContextTypeError",
]

# --- the agent layer -------------------------------------------------------------------------------------------------


class AgentFunctionError(MiniAgentsError, TypeError):
    """`@miniagent` was applied to something that cannot be an agent (e.g. a regular, non-async function)."""


class InvalidAgentKwargError(MiniAgentsError, ValueError):
    """A keyword argument of an agent call cannot be frozen (it is mutable or not serialisable)."""


class UnsupportedMessageTypeError(MiniAgentsError, TypeError):
    """Something that is not a `MessageType` was sent or replied as a message."""


class AgentCallFinishedError(MiniAgentsError):
    """A message was sent to an `AgentCall` (or replied by an agent) after it was finished."""


class CallDepthError(MiniAgentsError, RecursionError):
    """A call would nest deeper than `MiniAgents(max_call_depth=...)` allows (usually an agent calling itself)."""


# --- miniagents.ext.llms ---------------------------------------------------------------------------------------------


class LLMError(MiniAgentsError):
    """A request to an LLM provider failed. The message names the agent, provider, model and HTTP status (if any);
    the SDK's own error is chained as `__cause__`. `retryable` says whether trying again may help."""

    def __init__(
        self,
        message: str,
        *,
        agent: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.agent = agent
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after

    retryable: bool = False


class LLMStatusError(LLMError):
    """The provider answered with an HTTP error status (`status`) that trying again will not fix (400, 401, 404, …)."""


class LLMRateLimitError(LLMStatusError):
    """HTTP 429: too many requests or tokens; `retry_after` is the wait the provider asked for (seconds), if any."""

    retryable = True


class LLMServerError(LLMStatusError):
    """HTTP 5xx (or 408/409): the provider failed or is overloaded."""

    retryable = True


class LLMTimeoutError(LLMError, TimeoutError):
    """No answer (or no next token) within the request timeout."""

    retryable = True


class LLMConnectionError(LLMError, ConnectionError):
    """The provider could not be reached (connection refused, DNS, TLS, a dropped connection)."""

    retryable = True


class LLMIncompleteResponseError(LLMError):
    """The response stream ended without a finish / stop reason: the reply may be cut short."""


class LLMToolRoundsError(LLMError):
    """The model kept calling tools past `max_tool_rounds`."""


class LLMOutputValidationError(LLMError, ValueError):
    """Typed output (`response_format=SomeModel`) still failed validation after `max_validation_retries`."""


class LLMResponseError(LLMError, ValueError):
    """The provider's response (or response stream) could not be parsed; its `__cause__` is the parsing error."""


# --- miniagents.ext.chat_history_md ----------------------------------------------------------------------------------


class ChatHistoryFileError(MiniAgentsError, ValueError):
    """The chat history file cannot be read as a conversation (e.g. it is not UTF-8 text)."""


# --- miniagents.ext.persistence --------------------------------------------------------------------------------------


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
