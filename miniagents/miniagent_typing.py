"""Type aliases and callback protocols of the agent layer."""

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, Union

from pydantic import BaseModel

if TYPE_CHECKING:
    from miniagents.message_sequence import MessageSequencePromise
    from miniagents.messages import Message, MessagePromise
    from miniagents.miniagents import InteractionContext

__all__ = ["AgentFunction", "MessageType", "PersistMessagesEventHandler", "SingleMessageType"]

# Union with forward references (not `|`): the alias is recursive and must also work at runtime in annotations
SingleMessageType = Union[str, dict[str, Any], BaseModel, "Message", "MessagePromise", BaseException]
MessageType = Union[SingleMessageType, "MessageSequencePromise", Iterable["MessageType"], AsyncIterable["MessageType"]]


class AgentFunction(Protocol):
    """An agent: an `async def` taking the interaction context and keyword arguments."""

    async def __call__(self, ctx: "InteractionContext", **kwargs: Any) -> None: ...


class PersistMessagesEventHandler(Protocol):
    """Receives every message (and every nested message) once, when it is complete; may be sync or async.

    As in MiniAgents, `handler(messages)` gets a list of messages; a handler with two parameters is called as
    `handler(promise, message)` (the form observers implement).
    """

    def __call__(self, messages: "list[Message]") -> Any: ...
