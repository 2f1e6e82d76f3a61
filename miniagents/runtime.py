"""`MiniAgents`: the context every agent runs in — its settings, its records and its lifecycle events."""

import asyncio
import inspect
import itertools
import logging
import warnings
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from miniagents.lifecycle import CALL_EVENT_TYPES, AgentCallEvent, CallEventHandler
from miniagents.messages import Message
from miniagents.miniagent_typing import MessageType, PersistMessagesEventHandler
from miniagents.observers import MiniAgentsObserver
from miniagents.promising._deprecation import REMOVED_IN, warn_deprecated
from miniagents.promising.context import PromisingContext, handler_list
from miniagents.promising.ext.frozen import holds_nested_models, holds_nested_values
from miniagents.promising.runner import run_blocking
from miniagents.promising.sentinels import DEFAULT
from miniagents.records import AgentCallNode, AgentReplyNode

if TYPE_CHECKING:
    from miniagents.agents import AgentCall, MiniAgent
    from miniagents.message_sequence import MessageSequencePromise

__all__ = ["MiniAgents"]

logger = logging.getLogger(__name__)

_Observer = TypeVar("_Observer", bound=MiniAgentsObserver)


class MiniAgents(PromisingContext):
    """The context in which agents run: `async with MiniAgents(): ...` or `MiniAgents().run(main())`.

    - `errors_as_messages`: an exception inside an agent becomes an `ErrorMessage` in its replies instead of being
      raised to whoever consumes them (each call can override it with `trigger(errors_as_messages=...)`).
    - `stream_llm_tokens_by_default`: LLM agents stream token by token unless told otherwise.
    - `llm_logger_agent`: `True` writes every LLM request and response as a markdown file into `llm_logs_folder`
      (or pass an agent of your own that receives them).
    - `on_persist_messages`: handlers that receive every complete message once, including the `AgentCallNode` /
      `AgentReplyNode` record of every call. As in MiniAgents, `handler(messages)` gets a list of messages; a handler
      with two parameters, `handler(promise, message)` (the older form, also what observers implement), gets one
      message with the promise it came from.
    - `await_reply_persistence_before_agent_finish`: an agent's call finishes only once its replies have reached the
      persist handlers (and their coroutines have completed); each agent can ask for this on its own with
      `@miniagent(await_reply_persistence=True)`.
    - `on_call_event`: handlers of the lifecycle events (see `miniagents.lifecycle`).
    - `observers`: observers to `attach` (see `miniagents.observers`): they get the lifecycle events and, if they ask
      for them, the persisted messages, and are flushed whenever this context finalizes.
    - `persisted_hash_keys_limit`: deprecated and ignored: a message persisted is marked on itself (see
      `persist_message`), so the context remembers nothing and its memory does not grow with a session.
    - `max_call_depth`: how deeply calls may nest (an agent calling an agent calling …); a call beyond it fails with
      `CallDepthError` naming the call chain, so an agent that calls itself without end stops instead of eating
      memory. 1,000 by default.
    - `cancel_grace_seconds`: when the context exits with an exception, how long its cancelled background tasks get
      to stop before they are abandoned with a warning.
    - `error_tracebacks_in_messages`: with `errors_as_messages`, an `ErrorMessage` carries the error's traceback too.
    - `log_reduced_tracebacks`, `logger`: accepted as in MiniAgents (`logger` is kept as `self.logger`); errors are
      logged at `log_level_for_errors` with their full tracebacks.
    """

    def __init__(
        self,
        stream_llm_tokens_by_default: bool = True,
        llm_logger_agent: "bool | MiniAgent" = False,
        llm_logs_folder: str | Path = "llm_logs",
        errors_as_messages: bool = False,
        on_persist_messages: PersistMessagesEventHandler | Iterable[PersistMessagesEventHandler] = (),
        on_call_event: CallEventHandler | Iterable[CallEventHandler] = (),
        observers: Iterable[MiniAgentsObserver] = (),
        on_persist_message: Any = DEFAULT,
        max_call_depth: int = 1000,
        persisted_hash_keys_limit: Any = DEFAULT,
        await_reply_persistence_before_agent_finish: bool = False,
        error_tracebacks_in_messages: bool = False,
        log_reduced_tracebacks: bool = True,
        logger: logging.Logger | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.error_tracebacks_in_messages = error_tracebacks_in_messages
        self.log_reduced_tracebacks = log_reduced_tracebacks
        self.logger = logger if logger is not None else logging.getLogger("miniagents")
        self.await_reply_persistence_before_agent_finish = await_reply_persistence_before_agent_finish
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
        for handler in self.call_event_handlers:
            _wanted_event_types(handler)  # a malformed `call_event_types` is refused here
        self._call_event_routes_of: list[CallEventHandler] = []
        self._call_event_routes_cache: dict[type[AgentCallEvent], tuple[CallEventHandler, ...]] = _routes([])
        if persisted_hash_keys_limit is not DEFAULT:
            warnings.warn(
                "`MiniAgents(persisted_hash_keys_limit=...)` is deprecated and ignored: a persisted message is marked "
                "on itself, so the context keeps no memory of them to bound; leave it out. It will be removed in "
                f"MiniAgents {REMOVED_IN}.",
                DeprecationWarning,
                stacklevel=2,
            )
        else:
            persisted_hash_keys_limit = 10_000
        self.persisted_hash_keys_limit = persisted_hash_keys_limit  # still readable; nothing reads it any more
        # what a message handed to this context's persist handlers is marked with: a token of its own rather than the
        # context itself, so that a message outliving the context does not keep it alive
        self._persisted_mark = object()
        self._persist_targets_of: list[PersistMessagesEventHandler] = []
        self._persist_targets_cache: list[tuple[PersistMessagesEventHandler, bool]] = []
        self._persistence_tasks: set[asyncio.Future[Any]] = set()
        self._call_ids = itertools.count(1)
        self._open_calls: set[AgentCall] = set()
        self._empty_input: MessageSequencePromise | None = None
        self._observers: dict[int, _Subscription] = {}
        for observer in observers:
            self.attach(observer)

    # --- records -----------------------------------------------------------------------------------------------

    def on_persist_messages(self, handler: PersistMessagesEventHandler) -> PersistMessagesEventHandler:
        """Decorator: `handler(messages)` gets every complete message once (nested ones first), in lists.

        A handler with two parameters is called as `handler(promise, message)` instead (see `MiniAgents`)."""
        self.on_persist_messages_handlers.append(handler)
        return handler

    def on_persist_message(self, handler: PersistMessagesEventHandler) -> PersistMessagesEventHandler:
        """Deprecated name of `on_persist_messages`."""
        warn_deprecated("MiniAgents.on_persist_message", "MiniAgents.on_persist_messages")
        return self.on_persist_messages(handler)

    def remove_persist_messages_handler(self, handler: PersistMessagesEventHandler) -> None:
        """Stop sending persisted messages to `handler` (no error if it was not subscribed).

        Once no persist handler is left, the engine stops building the records of calls that finish from now on.
        """
        _unsubscribe(self.on_persist_messages_handlers, handler)

    @property
    def records_calls(self) -> bool:
        """Whether the `AgentCallNode` / `AgentReplyNode` records of calls are built (and `CallRecorded` announced):
        while some persist handler (or observer with `on_persist_message`) is subscribed."""
        return bool(self.on_persist_messages_handlers)

    def _promise_resolved(self, promise: Any, result: Any) -> None:
        super()._promise_resolved(promise, result)
        if self.on_persist_messages_handlers and isinstance(result, Message):
            self.persist_message(result, promise)

    def persist_message(self, message: Message, promise: Any = None) -> None:
        """Hand `message` and every message nested in it to the persist handlers, each message object only once.

        As in MiniAgents, "once" is per message object, marked on the message itself: the context keeps no memory
        of what it persisted, and nothing is hashed for it (a handler that needs `hash_key` computes it). Equal
        messages made separately (the same text replied twice) each reach the handlers, so handlers should be
        idempotent, as the SQLite store is. Never raises: what fails here is logged, the agents go on.
        """
        try:
            if holds_nested_models(message):  # most messages hold only text and numbers: nothing nested to persist
                for sub_message in message.sub_messages():
                    self._persist_one(sub_message, promise)
            self._persist_one(message, promise)  # marked last: a marked message had its nested ones persisted
        except Exception:
            logger.log(self.log_level_for_errors, "A message could not be persisted", exc_info=True)

    def _persist_call_records(self, call_node: AgentCallNode, reply_node: AgentReplyNode) -> None:
        """Hand the records of a finished call to the persist handlers: the call's, then the reply's.

        The input and reply messages in them reached the handlers as they resolved (each is marked on itself, after
        the messages nested in it), unless a handler was subscribed only later or a message belongs to another
        context; when all of them did, and the rest of the records (keyword arguments, metadata) holds no messages,
        only the two records are handed: walking the messages again would cost as much as persisting them did the
        first time, for every call. Never raises, like `persist_message`.
        """
        mark = self._persisted_mark
        if (
            _extra_holds_models(call_node)  # the call's keyword arguments and its agent's metadata
            or _extra_holds_models(reply_node)  # the metadata (a keyword argument of its name hides it in the call's)
            or not all(
                message.__dict__.get(_PERSISTED_BY) is mark for message in (*call_node.messages, *reply_node.replies)
            )
        ):
            self.persist_message(reply_node)
            return
        try:
            self._persist_one(call_node, None)
            self._persist_one(reply_node, None)
        except Exception:
            logger.log(self.log_level_for_errors, "A message could not be persisted", exc_info=True)

    def _persist_one(self, message: Message, promise: Any) -> None:
        marks = message.__dict__  # a frozen model: the mark goes where its computed values are cached
        if marks.get(_PERSISTED_BY) is self._persisted_mark:
            return
        marks[_PERSISTED_BY] = self._persisted_mark
        self._hand_to_handlers(message, promise)

    def _persist_targets(self) -> list[tuple[PersistMessagesEventHandler, bool]]:
        """The persist handlers, each with whether it takes a list of messages (worked out once per handler set)."""
        handlers = self.on_persist_messages_handlers
        if self._persist_targets_of != handlers:
            self._persist_targets_of = list(handlers)
            self._persist_targets_cache = [(handler, _takes_message_list(handler)) for handler in handlers]
        return self._persist_targets_cache

    def _hand_to_handlers(self, message: Message, promise: Any) -> None:
        for handler, takes_list in self._persist_targets():
            try:
                outcome = handler([message]) if takes_list else handler(promise, message)
            except Exception:  # a failing handler must not break the agents
                logger.log(self.log_level_for_errors, "An on_persist_messages handler failed", exc_info=True)
                continue
            if outcome is not None and inspect.isawaitable(outcome):
                task = self.start_soon(outcome)
                self._persistence_tasks.add(task)
                task.add_done_callback(self._persistence_tasks.discard)

    async def apersist_messages(self, messages: Iterable[Message]) -> None:
        """Hand `messages` (and the messages nested in them, first) to the persist handlers now, and wait for them.

        Unlike the automatic persistence of replies, this persists the messages even if they were persisted before.
        """
        for message in messages:
            for sub_message in message.sub_messages():
                self._hand_to_handlers(sub_message, None)
            self._hand_to_handlers(message, None)
        await self.await_persistence()

    async def await_persistence(self) -> None:
        """Wait until every persist handler's coroutine started so far has finished (their errors are logged)."""
        while self._persistence_tasks:
            await asyncio.gather(*self._persistence_tasks, return_exceptions=True)

    # --- lifecycle events --------------------------------------------------------------------------------------

    def on_call_event(self, handler: CallEventHandler) -> CallEventHandler:
        """Decorator: call `handler(event)` for every lifecycle event (see `miniagents.lifecycle`), or for those of
        the kinds its `call_event_types` names."""
        _wanted_event_types(handler)  # a malformed `call_event_types` is refused here, where it was written
        self.call_event_handlers.append(handler)
        return handler

    def remove_call_event_handler(self, handler: CallEventHandler) -> None:
        """Stop sending events to `handler` (no error if it was not subscribed)."""
        _unsubscribe(self.call_event_handlers, handler)

    def announces(self, event_type: type[AgentCallEvent]) -> bool:
        """Whether some subscribed handler wants events of `event_type` (else the engine builds none of them)."""
        return bool(self._call_event_routes()[event_type])

    def _call_event_routes(self) -> dict[type[AgentCallEvent], tuple[CallEventHandler, ...]]:
        """For each kind of event, the handlers that want it (see `call_event_types` in `miniagents.lifecycle`),
        worked out again only when the handlers change."""
        handlers = self.call_event_handlers
        if self._call_event_routes_of != handlers:
            self._call_event_routes_of = list(handlers)
            self._call_event_routes_cache = _routes(handlers)
        return self._call_event_routes_cache

    def _emit_call_event(self, event: AgentCallEvent) -> None:
        for handler in self._call_event_routes()[event.__class__]:  # a tuple: a handler may (un)subscribe handlers
            try:
                handler(event)
            except Exception:  # an observer must never break the agents it observes
                logger.log(self.log_level_for_errors, "An on_call_event handler failed", exc_info=True)

    def _next_call_id(self) -> int:
        return next(self._call_ids)

    # --- observers ---------------------------------------------------------------------------------------------

    def attach(self, observer: _Observer) -> _Observer:
        """Subscribe `observer` (see `miniagents.observers`) and return it; attaching it again does nothing.

        Its `on_call_event` becomes a lifecycle event handler and its `on_persist_message`, if it has one (not
        `None`), a persist handler — each unless an equal handler is subscribed already, so that `detach` removes
        exactly what `attach` added. Attach before running agents: calls already under way are seen only in part.
        """
        if id(observer) in self._observers:
            return observer
        if not isinstance(observer, MiniAgentsObserver):
            missing = [name for name in ("on_call_event", "aflush", "aclose") if not hasattr(observer, name)]
            raise TypeError(
                f"MiniAgents.attach() needs an observer (on_call_event, aflush, aclose; see miniagents.observers), "
                f"got {type(observer).__name__} without {', '.join(missing)}; for a single function, use "
                "`on_call_event=` / `on_persist_messages=` handlers instead."
            )
        _wanted_event_types(observer.on_call_event)  # a malformed `call_event_types` is refused here
        subscription = _Subscription(observer)
        subscription.call_event_handler = _subscribe(self.call_event_handlers, observer.on_call_event)
        persist_handler = getattr(observer, "on_persist_message", None)
        if persist_handler is not None:
            subscription.persist_handler = _subscribe(self.on_persist_messages_handlers, persist_handler)
        self._observers[id(observer)] = subscription
        return observer

    def detach(self, observer: MiniAgentsObserver) -> None:
        """Unsubscribe `observer` (no error if it was not attached); it is neither flushed nor closed here."""
        subscription = self._observers.pop(id(observer), None)
        if subscription is None:
            return
        if subscription.call_event_handler is not None:
            _unsubscribe(self.call_event_handlers, subscription.call_event_handler)
        if subscription.persist_handler is not None:
            _unsubscribe(self.on_persist_messages_handlers, subscription.persist_handler)

    @property
    def observers(self) -> tuple[MiniAgentsObserver, ...]:
        """The attached observers, in the order they were attached."""
        return tuple(subscription.observer for subscription in self._observers.values())

    async def aflush_observers(self) -> None:
        """Await `aflush()` of every attached observer, one after another; a failing one is logged, not raised."""
        for observer in self.observers:
            try:
                await observer.aflush()
            except Exception:  # an observer must never break the agents it observes
                logger.log(self.log_level_for_errors, "Flushing the observer %r failed", observer, exc_info=True)

    # --- running -----------------------------------------------------------------------------------------------

    def _empty_sequence_promise(self) -> "MessageSequencePromise":
        """The input of calls triggered without messages: one complete, empty, replayable promise shared by all."""
        if self._empty_input is None:
            from miniagents.message_sequence import MessageSequencePromise  # it builds on this module

            self._empty_input = MessageSequencePromise(prefill_pieces=(), prefill_result=())
        return self._empty_input

    def _before_finalize(self) -> None:
        # calls initiated outside any agent and never finished would keep their agents waiting for input forever
        for call in list(self._open_calls):
            call.finish()

    async def afinalize(self, cancel_tasks: bool = False) -> None:
        """Finalize the context (see `PromisingContext.afinalize`), then flush the attached observers, so that what
        the agents produced has reached them (a store: committed) when `async with` / `run` returns."""
        await super().afinalize(cancel_tasks=cancel_tasks)
        await self.aflush_observers()

    def run_agent(self, agent: "MiniAgent", messages: MessageType | None = None, **kwargs: Any) -> tuple[Message, ...]:
        """Trigger `agent` in this context, blocking (see `miniagents.promising.runner`), and return its replies."""
        return run_blocking(
            lambda: self.arun_agent(agent, messages, **kwargs),
            blocking_call=f"{type(self).__name__}.run_agent()",
            async_alternative=f"await {type(self).__name__}().arun_agent(...)",
        )

    async def arun_agent(
        self, agent: "MiniAgent", messages: MessageType | None = None, **kwargs: Any
    ) -> tuple[Message, ...]:
        """Trigger `agent` in this context, wait for it (and everything it started) and return its reply messages."""
        return await self.arun(self._areplies_of(agent, messages, kwargs))

    @staticmethod
    async def _areplies_of(agent: "MiniAgent", messages: MessageType | None, kwargs: dict[str, Any]) -> Any:
        return await agent.trigger(messages, **kwargs)


class _Subscription:
    """An attached observer and the handlers `attach` subscribed for it (`None`: none, or one was there already)."""

    __slots__ = ("call_event_handler", "observer", "persist_handler")

    def __init__(self, observer: MiniAgentsObserver) -> None:
        self.observer = observer
        self.call_event_handler: CallEventHandler | None = None
        self.persist_handler: PersistMessagesEventHandler | None = None


def _extra_holds_models(record: Message) -> bool:
    extra = record.__pydantic_extra__
    return bool(extra) and holds_nested_values(extra.values())


def _takes_message_list(handler: Any) -> bool:
    """Whether a persist handler is of the `handler(messages)` form: it takes one positional argument, not two."""
    try:
        return _HANDLER_FORMS[handler]
    except KeyError:
        takes_list = _HANDLER_FORMS[handler] = _inspect_takes_message_list(handler)
        return takes_list
    except TypeError:  # neither hashable nor weakly referable: inspected each time
        return _inspect_takes_message_list(handler)


_HANDLER_FORMS: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


def _inspect_takes_message_list(handler: Any) -> bool:
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: the older form
        return False
    positional = [
        parameter
        for parameter in parameters
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    if any(parameter.kind == parameter.VAR_POSITIONAL for parameter in parameters):
        return False
    required = [parameter for parameter in positional if parameter.default is parameter.empty]
    return len(required) <= 1 and len(positional) < 2


_PERSISTED_BY = "_persisted_by"


def _wanted_event_types(handler: CallEventHandler) -> tuple[type[AgentCallEvent], ...]:
    """The kinds of events `handler` asked for: its `call_event_types`, or its observer's (the object whose bound
    method it is); all kinds if neither says."""
    wanted = getattr(handler, "call_event_types", None)
    if wanted is None:
        wanted = getattr(getattr(handler, "__self__", None), "call_event_types", None)
    if wanted is None:
        return (AgentCallEvent,)
    wanted = (wanted,) if isinstance(wanted, type) else tuple(wanted)
    if not all(isinstance(kind, type) and issubclass(kind, AgentCallEvent) for kind in wanted):
        raise TypeError(
            f"`call_event_types` of {handler!r} must be a tuple of lifecycle event classes (miniagents.lifecycle), "
            f"got {wanted!r}"
        )
    return wanted


def _routes(handlers: list[CallEventHandler]) -> dict[type[AgentCallEvent], tuple[CallEventHandler, ...]]:
    wanted = []
    for handler in handlers:
        try:
            kinds = _wanted_event_types(handler)
        except TypeError:  # put in `call_event_handlers` directly: it gets every event, as if it had not said
            logger.exception("An on_call_event handler asks for events in a way not understood")
            kinds = (AgentCallEvent,)
        wanted.append((handler, kinds))
    return {
        event_type: tuple(handler for handler, kinds in wanted if issubclass(event_type, kinds))
        for event_type in CALL_EVENT_TYPES
    }


def _subscribe(handlers: list[Any], handler: Any) -> Any:
    """Append `handler` unless an equal one is subscribed already; the handler appended, or `None`."""
    if handler in handlers:
        return None
    handlers.append(handler)
    return handler


def _unsubscribe(handlers: list[Any], handler: Any) -> None:
    if handler in handlers:
        handlers.remove(handler)
