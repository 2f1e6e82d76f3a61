"""Errors raised by the agent layer. Each one names the culprit and says how to fix it."""

from miniagents.promising.errors import PromisingError

__all__ = [
    "AgentCallFinishedError",
    "AgentFunctionError",
    "CallDepthError",
    "InvalidAgentKwargError",
    "MiniAgentsError",
    "UnsupportedMessageTypeError",
]


class MiniAgentsError(PromisingError):
    """Base class of the errors raised by the agent layer."""


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
