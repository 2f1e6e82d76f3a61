"""Chat histories: where a conversation is kept between the turns of a dialog (in memory, or in a file).

A history records messages through its `logging_agent` (which also replies with the messages it got, so it can sit
in a chain of agents) and gives the whole conversation back with `aload_chat_history()`.
"""

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable
from functools import cached_property

from miniagents.agents import InteractionContext, MiniAgent
from miniagents.message_sequence import MessageSequencePromise
from miniagents.messages import Message, MessagePromise

__all__ = ["ChatHistory", "InMemoryChatHistory", "iterate_message_promises"]

logger = logging.getLogger(__name__)


async def iterate_message_promises(message_promises: MessageSequencePromise) -> AsyncIterator[MessagePromise]:
    """The message promises of a sequence, skipping the positions where the sequence holds an error.

    A history records what was said; an error in the sequence was not said by anyone. Whoever consumes the
    sequence itself still gets the error there (the sequence replays it).
    """
    iterator = message_promises.__aiter__()
    while True:
        try:
            message_promise = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except Exception:  # an error position, not a message
            logger.debug("A chat history skipped an error in a message sequence", exc_info=True)
            continue
        yield message_promise


class ChatHistory(ABC):
    """Loads a conversation from a storage and writes new messages to it.

    Subclasses implement `_logging_agent(ctx)` (write `ctx.message_promises` to the storage) and
    `aload_chat_history()` (read the conversation back).
    """

    @cached_property
    def logging_agent(self) -> MiniAgent:
        """An agent that writes the messages it gets to the history and replies with the same messages.

        `await history.logging_agent.trigger(messages)` returns once they are written; since it replies with its
        input, it can also be put in front of another agent that should see the messages.
        """
        return MiniAgent(self._log_and_pass_on, alias=f"{type(self).__name__}_LOGGER")

    async def _log_and_pass_on(self, ctx: InteractionContext) -> None:
        """Write the input messages to the chat history and reply with them."""
        ctx.reply(ctx.message_promises)
        await self._logging_agent(ctx)

    @abstractmethod
    async def _logging_agent(self, ctx: InteractionContext) -> None:
        """Write `ctx.message_promises` to the storage (returning when they are written)."""

    @abstractmethod
    async def aload_chat_history(self) -> tuple[Message, ...]:
        """The whole conversation, oldest message first."""


class InMemoryChatHistory(ChatHistory):
    """A chat history kept in memory for the life of the process.

    A message whose stream fails is left out: it never became a message anyone could read back.
    """

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        self._messages: list[Message] = list(messages)

    async def _logging_agent(self, ctx: InteractionContext) -> None:
        async for message_promise in iterate_message_promises(ctx.message_promises):
            try:
                self._messages.append(await message_promise)
            except Exception:  # see the class docstring
                logger.debug("InMemoryChatHistory left out a message that failed", exc_info=True)

    async def aload_chat_history(self) -> tuple[Message, ...]:
        return tuple(self._messages)
