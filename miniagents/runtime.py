"""`MiniAgents`: the context every agent runs in — its settings, its records and its lifecycle events."""

import inspect
import itertools
import logging
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from miniagents.lifecycle import AgentCallEvent, CallEventHandler
from miniagents.messages import Message
from miniagents.miniagent_typing import MessageType, PersistMessagesEventHandler
from miniagents.promising._deprecation import warn_deprecated
from miniagents.promising.context import PromisingContext, handler_list
from miniagents.promising.sentinels import DEFAULT

if TYPE_CHECKING:
    from miniagents.agents import AgentCall, MiniAgent

__all__ = ["MiniAgents"]

logger = logging.getLogger(__name__)


class MiniAgents(PromisingContext):
    """The context in which agents run: `async with MiniAgents(): ...` or `MiniAgents().run(main())`.

    - `errors_as_messages`: an exception inside an agent becomes an `ErrorMessage` in its replies instead of being
      raised to whoever consumes them (each call can override it with `trigger(errors_as_messages=...)`).
    - `stream_llm_tokens_by_default`: LLM agents stream token by token unless told otherwise.
    - `llm_logger_agent`: `True` writes every LLM request and response as a markdown file into `llm_logs_folder`
      (or pass an agent of your own that receives them).
    - `on_persist_messages`: handlers that receive every complete message once, including the `AgentCallNode` /
      `AgentReplyNode` record of every call.
    - `on_call_event`: handlers of the lifecycle events (see `miniagents.lifecycle`).
    - `persisted_hash_keys_limit`: how many distinct messages are remembered as already persisted (see
      `persist_message`); bounds the memory a long session spends on that.
    - `max_call_depth`: how deeply calls may nest (an agent calling an agent calling …); a call beyond it fails with
      `CallDepthError` naming the call chain, so an agent that calls itself without end stops instead of eating
      memory. 1,000 by default.
    - `cancel_grace_seconds`: when the context exits with an exception, how long its cancelled background tasks get
      to stop before they are abandoned with a warning.
    """

    def __init__(
        self,
        stream_llm_tokens_by_default: bool = True,
        llm_logger_agent: "bool | MiniAgent" = False,
        llm_logs_folder: str | Path = "llm_logs",
        errors_as_messages: bool = False,
        on_persist_messages: PersistMessagesEventHandler | Iterable[PersistMessagesEventHandler] = (),
        on_call_event: CallEventHandler | Iterable[CallEventHandler] = (),
        on_persist_message: Any = DEFAULT,
        max_call_depth: int = 1000,
        persisted_hash_keys_limit: int = 10_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stream_llm_tokens_by_default = stream_llm_tokens_by_default
        self.llm_logger_agent = llm_logger_agent
        self.llm_logs_folder = Path(llm_logs_folder)
        self.errors_as_messages = errors_as_messages
        if not isinstance(max_call_depth, int) or max_call_depth < 1:
            raise ValueError(f"`max_call_depth` must be a positive int, got {max_call_depth!r}.")
        self.max_call_depth = max_call_depth
        self.on_persist_messages_handlers: list[PersistMessagesEventHandler] = handler_list(on_persist_messages)
        if on_persist_message is not DEFAULT:
            warn_deprecated("MiniAgents(on_persist_message=...)", "MiniAgents(on_persist_messages=...)")
            self.on_persist_messages_handlers.extend(handler_list(on_persist_message))
        self.call_event_handlers: list[CallEventHandler] = handler_list(on_call_event)
        self.persisted_hash_keys_limit = persisted_hash_keys_limit
        self._persisted_hash_keys: OrderedDict[str, None] = OrderedDict()
        self._call_ids = itertools.count(1)
        self._open_calls: set[AgentCall] = set()

    # --- records -----------------------------------------------------------------------------------------------

    def on_persist_messages(self, handler: PersistMessagesEventHandler) -> PersistMessagesEventHandler:
        """Decorator: `handler(promise, message)` gets every complete message once (nested ones first)."""
        self.on_persist_messages_handlers.append(handler)
        return handler

    def on_persist_message(self, handler: PersistMessagesEventHandler) -> PersistMessagesEventHandler:
        """Deprecated name of `on_persist_messages`."""
        warn_deprecated("MiniAgents.on_persist_message", "MiniAgents.on_persist_messages")
        return self.on_persist_messages(handler)

    def _promise_resolved(self, promise: Any, result: Any) -> None:
        super()._promise_resolved(promise, result)
        if self.on_persist_messages_handlers and isinstance(result, Message):
            self.persist_message(result, promise)

    def persist_message(self, message: Message, promise: Any = None) -> None:
        """Hand `message` and every message nested in it to the persist handlers, each hash key only once.

        "Once" is remembered for the last `persisted_hash_keys_limit` distinct messages, so memory stays bounded in a
        long session; a message persisted again after that many others reaches the handlers again (handlers should
        be idempotent, as the SQLite store is). Never raises: what fails here is logged, the agents go on.
        """
        try:
            for sub_message in message.sub_messages():
                self._persist_one(sub_message, promise)
            self._persist_one(message, promise)
        except Exception:
            logger.log(self.log_level_for_errors, "A message could not be persisted", exc_info=True)

    def _persist_one(self, message: Message, promise: Any) -> None:
        hash_key = message.hash_key
        persisted = self._persisted_hash_keys
        if hash_key in persisted:
            return
        persisted[hash_key] = None
        if len(persisted) > self.persisted_hash_keys_limit:
            persisted.popitem(last=False)  # forget the oldest
        for handler in self.on_persist_messages_handlers:
            try:
                outcome = handler(promise, message)
            except Exception:  # a failing handler must not break the agents
                logger.log(self.log_level_for_errors, "An on_persist_messages handler failed", exc_info=True)
                continue
            if inspect.isawaitable(outcome):
                self.start_soon(outcome)

    # --- lifecycle events --------------------------------------------------------------------------------------

    def on_call_event(self, handler: CallEventHandler) -> CallEventHandler:
        """Decorator: call `handler(event)` for every lifecycle event (see `miniagents.lifecycle`)."""
        self.call_event_handlers.append(handler)
        return handler

    def remove_call_event_handler(self, handler: CallEventHandler) -> None:
        """Stop sending events to `handler` (no error if it was not subscribed)."""
        if handler in self.call_event_handlers:
            self.call_event_handlers.remove(handler)

    def _emit_call_event(self, event: AgentCallEvent) -> None:
        for handler in tuple(self.call_event_handlers):
            try:
                handler(event)
            except Exception:  # an observer must never break the agents it observes
                logger.log(self.log_level_for_errors, "An on_call_event handler failed", exc_info=True)

    def _next_call_id(self) -> int:
        return next(self._call_ids)

    # --- running -----------------------------------------------------------------------------------------------

    def _before_finalize(self) -> None:
        # calls initiated outside any agent and never finished would keep their agents waiting for input forever
        for call in list(self._open_calls):
            call.finish()

    def run_agent(self, agent: "MiniAgent", messages: MessageType | None = None, **kwargs: Any) -> tuple[Message, ...]:
        """Trigger `agent` in this context (blocking, in a new event loop) and return its reply messages."""
        return self.run(self._areplies_of(agent, messages, kwargs))

    async def arun_agent(
        self, agent: "MiniAgent", messages: MessageType | None = None, **kwargs: Any
    ) -> tuple[Message, ...]:
        """Trigger `agent` in this context, wait for it (and everything it started) and return its reply messages."""
        return await self.arun(self._areplies_of(agent, messages, kwargs))

    @staticmethod
    async def _areplies_of(agent: "MiniAgent", messages: MessageType | None, kwargs: dict[str, Any]) -> Any:
        return await agent.trigger(messages, **kwargs)
