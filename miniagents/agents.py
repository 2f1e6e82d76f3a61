"""Agents: `@miniagent`, `MiniAgent`, the `InteractionContext` an agent works with, and `AgentCall`.

Every call of an agent owns two message sequences: its input (fed by `AgentCall.send_message`) and its replies
(fed by `ctx.reply`). The agent function runs in its own task — right away with `start_soon=True` (the default),
or when someone first reads the replies — so triggering many agents runs them in parallel.
"""

import asyncio
import contextlib
import inspect
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Coroutine, Mapping
from contextvars import ContextVar
from typing import Any, Self

from miniagents.errors import (
    AgentCallFinishedError,
    AgentFunctionError,
    CallDepthError,
    InvalidAgentKwargError,
    NoActiveContextError,
)
from miniagents.lifecycle import (
    CallFinished,
    CallInitiated,
    CallRecorded,
    CallStarted,
    InputMessageAppeared,
    ReplyMessageAppeared,
    ReplyMessageResolved,
)
from miniagents.message_sequence import MessageSequence, MessageSequencePromise
from miniagents.messages import Message, MessagePromise
from miniagents.miniagent_typing import MessageType
from miniagents.promising._deprecation import pick_renamed_argument, warn_deprecated
from miniagents.promising.context import ProducerCoroutine
from miniagents.promising.ext.frozen import Frozen, freeze_value, normalize_text, register_frozen_type
from miniagents.promising.promising import Promise, cancelled_error
from miniagents.promising.sentinels import DEFAULT, NO_VALUE, Sentinel, is_default
from miniagents.records import AgentCallNode, AgentReplyNode, construct_record
from miniagents.redaction import redact_secrets
from miniagents.runtime import MiniAgents

__all__ = ["AgentCall", "InteractionContext", "MiniAgent", "miniagent"]

logger = logging.getLogger(__name__)

_current_call: ContextVar["_AgentCallRun | None"] = ContextVar("miniagents_current_call", default=None)


def miniagent(
    func: Any = None,
    /,
    alias: str | None = None,
    description: str | None = None,
    uppercase_func_name: bool = False,
    normalize_spaces_in_docstring: bool = True,
    interaction_metadata: Mapping[str, Any] | None = None,
    non_freezable_kwargs: Mapping[str, Any] | None = None,
    await_reply_persistence: bool = False,
    normalize_func_or_class_name: bool | Sentinel = DEFAULT,
    **kwargs_to_freeze: Any,
) -> Any:
    """Turn an `async def agent(ctx, **kwargs)` (or a class with `async def __call__`) into a `MiniAgent`.

    Use bare (`@miniagent`) or with options (`@miniagent(alias="WRITER", model="gpt-4o")`); extra keyword
    arguments are frozen and passed to every call (`non_freezable_kwargs` are passed as they are, unfrozen).
    Without `alias` the agent is named after the function or class as written; `normalize_func_or_class_name=True`
    names it as MiniAgents does by default (`research_agent` → `RESEARCH_AGENT`, `OpenAIAgent` → `OPENAI_AGENT`).
    """

    def decorate(function: Any) -> MiniAgent:
        return MiniAgent(
            function,
            alias=alias,
            description=description,
            uppercase_func_name=uppercase_func_name,
            normalize_spaces_in_docstring=normalize_spaces_in_docstring,
            interaction_metadata=interaction_metadata,
            non_freezable_kwargs=non_freezable_kwargs,
            await_reply_persistence=await_reply_persistence,
            normalize_func_or_class_name=normalize_func_or_class_name,
            **kwargs_to_freeze,
        )

    return decorate if func is None else decorate(func)


def _check_agent_function(func: Any) -> None:
    name = getattr(func, "__name__", type(func).__name__)
    if inspect.isclass(func):
        if not inspect.iscoroutinefunction(getattr(func, "__call__", None)):  # noqa: B004 - the class's method
            raise AgentFunctionError(
                f"Class `{name}` cannot be an agent: define `async def __call__(self)` on it "
                "(the instance is created per call as `{name}(ctx, **kwargs)`)."
            )
        return
    if inspect.isasyncgenfunction(func):
        raise AgentFunctionError(
            f"`{name}` is an async generator: agents reply with `ctx.reply(...)` instead of `yield`."
        )
    if inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None)):  # noqa: B004
        return
    raise AgentFunctionError(
        f"`{name}` is not an async function: declare it as `async def {name}(ctx: InteractionContext, ...)` "
        "to use it as a miniagent."
    )


def _call_depth_message(run: "_AgentCallRun") -> str:
    aliases: list[str] = []
    current: _AgentCallRun | None = run
    while current is not None:
        aliases.append(current.agent.alias)
        current = current.parent
    aliases.reverse()
    chain: list[str] = []
    for alias, group in itertools.groupby(aliases):
        count = len(list(group))
        chain.append(f"`{alias}`" if count == 1 else f"`{alias}` x{count}")
    limit = run.mini_agents.max_call_depth
    return (
        f"The call to `{run.agent.alias}` would be {run.depth:,} calls deep, more than the limit of {limit:,} "
        f"(an agent that calls itself without end?). The call chain, outermost first: {' → '.join(chain)}. "
        "Raise the limit with `MiniAgents(max_call_depth=...)` if the depth is intended."
    )


def _agent_as_json(agent: "MiniAgent") -> dict[str, Any]:
    return {
        "class_": "MiniAgent",
        "alias": agent.alias,
        "description": agent.description,
        "interaction_metadata": agent.interaction_metadata.serialize(),
    }


_WORD_BOUNDARY = re.compile(r"(?<=[a-zA-Z])(?=[A-Z][a-z])")


def _normalized_name(name: str) -> str:
    """MiniAgents' agent names: upper snake case, words split where a capital starts one (`OpenAIAgent`)."""
    return _WORD_BOUNDARY.sub("_", name).upper()


def _checked_alias(alias: Any) -> str:
    if not isinstance(alias, str):
        raise TypeError(f"An agent alias must be a str, got {type(alias).__name__}.")
    alias = normalize_text(alias)
    if not alias.isascii() and any("\ud800" <= character <= "\udfff" for character in alias):
        raise ValueError(f"The agent alias {alias!r} contains half a character (a lone surrogate); use valid text.")
    return alias


def _freeze_kwargs(kwargs: Mapping[str, Any], alias: str) -> dict[str, Any]:
    frozen = {}
    for name, value in kwargs.items():
        try:
            frozen[name] = freeze_value(value, name)
        except ValueError as error:
            raise InvalidAgentKwargError(
                f"Keyword argument `{name}` of agent `{alias}` cannot be frozen: it is a {type(value).__name__}. "
                "Agent arguments must be immutable (str, numbers, tuples, dicts/lists of those, messages). To pass "
                f"a mutable object on purpose, use `{alias}.fork(non_freezable_kwargs={{'{name}': ...}})`."
            ) from error
    return frozen


class MiniAgent:
    """An agent: call it with `trigger(...)` (returns its replies as a promise at once) or `initiate_call(...)`."""

    def __init__(
        self,
        func: Any,
        alias: str | None = None,
        description: str | None = None,
        uppercase_func_name: bool = False,
        normalize_spaces_in_docstring: bool = True,
        interaction_metadata: Mapping[str, Any] | None = None,
        non_freezable_kwargs: Mapping[str, Any] | None = None,
        await_reply_persistence: bool = False,
        normalize_func_or_class_name: bool | Sentinel = DEFAULT,
        **kwargs_to_freeze: Any,
    ) -> None:
        _check_agent_function(func)
        self.func = func
        self.await_reply_persistence = await_reply_persistence
        self._is_class = inspect.isclass(func)
        if alias is None:
            alias = getattr(func, "__name__", type(func).__name__)
            if not is_default(normalize_func_or_class_name) and normalize_func_or_class_name:
                alias = _normalized_name(alias)
            elif uppercase_func_name:
                alias = alias.upper()
        self.alias: str = _checked_alias(alias)
        if description is None:
            description = inspect.getdoc(func) if self._is_class else func.__doc__
            if description and normalize_spaces_in_docstring:
                description = " ".join(description.split())
        if description:
            description = description.replace("{AGENT_ALIAS}", alias)
        self.description: str | None = description
        self.interaction_metadata = Frozen(**(interaction_metadata or {}))
        self._frozen_kwargs = _freeze_kwargs(kwargs_to_freeze, alias)
        self._non_freezable_kwargs = dict(non_freezable_kwargs or {})
        self.__name__ = alias
        self.__doc__ = description

    @property
    def wrapped_func_or_class(self) -> Any:
        """The function (or class) this agent runs: what `@miniagent` was applied to."""
        return self.func

    @property
    def signature(self) -> inspect.Signature:
        """The agent function's signature without `ctx` (what `trigger` accepts as keyword arguments)."""
        target = self.func.__init__ if self._is_class else self.func
        parameters = list(inspect.signature(target).parameters.values())
        skip = 2 if self._is_class else 1
        return inspect.Signature(parameters[skip:])

    @property
    def bound_kwargs(self) -> dict[str, Any]:
        """The keyword arguments fixed by the decorator or by `fork` (frozen and non-freezable ones)."""
        return {**self._frozen_kwargs, **self._non_freezable_kwargs}

    def trigger(
        self,
        messages: MessageType | None = None,
        start_soon: bool | Sentinel = DEFAULT,
        errors_as_messages: bool | Sentinel = DEFAULT,
        start_asap: bool | Sentinel = DEFAULT,
        **kwargs: Any,
    ) -> MessageSequencePromise:
        """Call the agent with `messages` and return the promise of its replies at once (nothing blocks)."""
        start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
        run = _AgentCallRun(self, kwargs, start_soon, errors_as_messages)
        run.send_input_and_finish(messages)
        return run.replies.sequence_promise

    def initiate_call(
        self,
        start_soon: bool | Sentinel = DEFAULT,
        errors_as_messages: bool | Sentinel = DEFAULT,
        start_asap: bool | Sentinel = DEFAULT,
        **kwargs: Any,
    ) -> "AgentCall":
        """Start a call whose input you send piece by piece (`send_message`) before finishing it."""
        start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
        return AgentCall(_AgentCallRun(self, kwargs, start_soon, errors_as_messages))

    def fork(
        self,
        alias: str | None = None,
        description: str | None = None,
        interaction_metadata: Mapping[str, Any] | None = None,
        non_freezable_kwargs: Mapping[str, Any] | None = None,
        **kwargs_to_freeze: Any,
    ) -> "MiniAgent":
        """A copy of this agent with more keyword arguments fixed (and, optionally, another alias or description).

        A keyword argument that is already non-freezable for this agent stays so: `fork(chat_history=history)` passes
        `history` on as it is when `chat_history` was declared in `non_freezable_kwargs` (even as `None`).
        """
        kwargs_to_freeze, unfrozen = self._split_non_freezable(kwargs_to_freeze)
        return MiniAgent(
            self.func,
            alias=alias or self.alias,
            description=description or self.description,
            normalize_spaces_in_docstring=False,
            interaction_metadata={
                **self.interaction_metadata.frozen_fields_and_values(),
                **(interaction_metadata or {}),
            },
            non_freezable_kwargs={**self._non_freezable_kwargs, **unfrozen, **(non_freezable_kwargs or {})},
            await_reply_persistence=self.await_reply_persistence,
            **{**self._frozen_kwargs, **kwargs_to_freeze},
        )

    def _split_non_freezable(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(kwargs to freeze, kwargs to pass as they are): the latter are the names declared non-freezable."""
        if not self._non_freezable_kwargs:
            return kwargs, {}
        to_freeze = {name: value for name, value in kwargs.items() if name not in self._non_freezable_kwargs}
        unfrozen = {name: value for name, value in kwargs.items() if name in self._non_freezable_kwargs}
        return to_freeze, unfrozen

    def inquire(self, messages: MessageType | None = None, **kwargs: Any) -> MessageSequencePromise:
        """Deprecated name of `trigger`."""
        warn_deprecated("MiniAgent.inquire()", "MiniAgent.trigger()")
        return self.trigger(messages, **kwargs)

    def initiate_inquiry(self, **kwargs: Any) -> "AgentCall":
        """Deprecated name of `initiate_call`."""
        warn_deprecated("MiniAgent.initiate_inquiry()", "MiniAgent.initiate_call()")
        return self.initiate_call(**kwargs)

    def __repr__(self) -> str:
        return f"<MiniAgent {self.alias}>"


# agents are immutable: they can be passed to other agents (`trigger(helper=agent)`), as in MiniAgents
register_frozen_type(MiniAgent, _agent_as_json)


class _AgentCallRun(ProducerCoroutine):
    """The state of one call: its sequences, its function task, its place in the call tree and its events.

    It is also the coroutine of its function's task (`ProducerCoroutine`): a fan-out keeps many calls pending at
    once, and that is one object fewer per call for the cyclic garbage collector to traverse.
    """

    def __init__(
        self,
        agent: MiniAgent,
        kwargs: dict[str, Any],
        start_soon: bool | Sentinel,
        errors_as_messages: bool | Sentinel,
    ) -> None:
        mini_agents = MiniAgents.get_current()
        self.mini_agents = mini_agents
        self.agent = agent
        kwargs, unfrozen = agent._split_non_freezable(kwargs)  # noqa: SLF001 - a call run reads its agent's settings
        frozen_kwargs = _freeze_kwargs(kwargs, agent.alias)
        if agent._frozen_kwargs:  # noqa: SLF001 - a call run reads its agent's settings
            frozen_kwargs = {**agent._frozen_kwargs, **frozen_kwargs}  # noqa: SLF001 - a call run reads its agent's settings
        self.frozen_kwargs = frozen_kwargs
        if agent._non_freezable_kwargs or unfrozen:  # noqa: SLF001 - a call run reads its agent's settings
            self.function_kwargs = {**frozen_kwargs, **agent._non_freezable_kwargs, **unfrozen}  # noqa: SLF001 - a call run reads its agent's settings
        else:
            self.function_kwargs = frozen_kwargs  # the same dict: neither is ever changed
        self.parent = _current_call.get()
        self.call_id = mini_agents._next_call_id()  # noqa: SLF001 - a call registers with the MiniAgents it runs in
        self.errors_as_messages = (
            mini_agents.errors_as_messages if is_default(errors_as_messages) else bool(errors_as_messages)
        )
        self.error: BaseException | None = None
        self.depth: int = self.parent.depth + 1 if self.parent is not None else 1
        self.open_child_calls: set[AgentCall] | None = None  # made by the first `initiate_call` inside this call
        self._waits: list[Awaitable[Any]] | None = None
        self._function_started = False
        self._failed_before_start = False
        # which events this call announces is settled now, from the handlers subscribed when it was made
        routes = mini_agents._call_event_routes() if mini_agents.call_event_handlers else None  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
        self._announces_calls = routes is not None and bool(
            routes[CallStarted] or routes[CallFinished] or routes[CallRecorded]
        )
        listening_to_replies = routes is not None and bool(
            routes[ReplyMessageAppeared] or routes[ReplyMessageResolved]
        )
        self._listening_to_input = routes is not None and bool(routes[InputMessageAppeared])
        self._input: MessageSequence | None = None  # made when there is input (most fan-out calls have none)
        self.replies = MessageSequence(
            appender_capture_errors=True,
            appender_open=True,
            start_soon=start_soon,
            errors_as_messages=self.errors_as_messages,
            owner=self,
            on_message=_AgentCallRun._on_reply_message if listening_to_replies else None,
            on_finished=_AgentCallRun._on_replies_finished,
            on_demand=_AgentCallRun._start_function,
        )
        if routes is not None and routes[CallInitiated]:
            mini_agents._emit_call_event(  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
                CallInitiated(
                    call_id=self.call_id,
                    time=time.time(),
                    parent_call_id=self.parent.call_id if self.parent else None,
                    agent=agent,
                    agent_alias=agent.alias,
                    kwargs=redact_secrets(self.function_kwargs),  # credentials reach the function only
                    replies=self.replies.sequence_promise,
                )
            )
        self._input_finished = False
        if self.depth > mini_agents.max_call_depth:
            self.fail_before_start(CallDepthError(_call_depth_message(self)))

    @property
    def input(self) -> MessageSequence:
        """The sequence the call's input is sent into (made on first use)."""
        if self._input is None:
            self._input = MessageSequence(
                appender_capture_errors=True,
                appender_open=True,
                start_soon=False,
                errors_as_messages=self.errors_as_messages,
                owner=self,
                on_message=_AgentCallRun._on_input_message if self._listening_to_input else None,
            )
            if self._input_finished:
                self._input.message_appender.close()
        return self._input

    @property
    def input_promise(self) -> MessageSequencePromise:
        """The promise of the call's input: an empty complete one, shared, when the call was given none."""
        if self._input is None and self._input_finished:
            return self.mini_agents._empty_sequence_promise()  # noqa: SLF001 - a call run uses its MiniAgents' shared empty sequence
        return self.input.sequence_promise

    def is_input_finished(self) -> bool:
        return self._input_finished

    def finish_input(self) -> None:
        self._input_finished = True
        if self._input is not None:
            self._input.message_appender.close()

    def send_input_and_finish(self, messages: MessageType | None) -> None:
        """Append the whole input of a `trigger()` call; if that fails, the call fails and the error is raised."""
        if self._input_finished:  # the call failed before it started (e.g. too deep)
            return
        try:
            if messages is not None:
                self.input.message_appender.append(messages)
        except BaseException as error:
            self.fail_before_start(error)
            error.add_note(f"(while sending the input of a call to `{self.agent.alias}`)")
            raise
        self.finish_input()

    def fail_before_start(self, error: BaseException) -> None:
        """Fail the call with `error` without running the agent function: its replies carry the error, all closes."""
        self._function_started = True
        self._failed_before_start = True
        self._fail(error)
        self._close_everything()

    def _start_function(self) -> None:
        if not self._function_started:
            self._function_started = True
            self.mini_agents.start_producer_coroutine(self)

    def _aproduce_in_task(self) -> Coroutine[Any, Any, None]:
        return self._arun_function()

    def _on_cancelled_before_start(self) -> None:
        if self._failed_before_start:
            return
        self._fail(cancelled_error(self.replies.sequence_promise, asyncio.CancelledError()))
        self._close_everything()

    async def _arun_function(self) -> None:
        if self._failed_before_start:  # the task was already scheduled when the call failed
            return
        _current_call.set(self)
        if self._announces_calls and self.mini_agents.announces(CallStarted):
            self.mini_agents._emit_call_event(CallStarted(call_id=self.call_id, time=time.time()))  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
        ctx = InteractionContext(self)
        self.context: InteractionContext | None = ctx
        try:
            if self.agent._is_class:  # noqa: SLF001 - a call run reads its agent's settings
                await self.agent.func(ctx, **self.function_kwargs)()
            else:
                await self.agent.func(ctx, **self.function_kwargs)
            await self.await_waits()
            if self.agent.await_reply_persistence or self.mini_agents.await_reply_persistence_before_agent_finish:
                await self._await_reply_persistence()
        except asyncio.CancelledError as error:
            self._fail(cancelled_error(self.replies.sequence_promise, error))
            raise
        except BaseException as error:  # delivered to the consumers of the replies
            self._fail(error)
        finally:
            self._close_everything()
            self.context = None  # the call is over (and `ctx` refers to this run: no cycle left behind)

    def _close_everything(self) -> None:
        if self.open_child_calls:
            for call in list(self.open_child_calls):
                call.finish()
        self.finish_input()
        self.replies.message_appender.close()

    def _fail(self, error: BaseException) -> None:
        self.error = error
        if self.replies.message_appender.is_closed:
            # the replies were finished early (`afinish_early`), so there is nowhere to put the error but the log
            logger.log(
                self.mini_agents.log_level_for_errors,
                "`%s` raised after finishing its replies early",
                self.agent.alias,
                exc_info=error,
            )
        else:
            self.replies.append_in_order(error)

    async def _await_reply_persistence(self) -> None:
        """Wait for the replies so far to resolve and for the persist handlers to be done with them."""
        for message_promise in self.replies.sequence_promise.pieces_so_far:
            with contextlib.suppress(Exception):  # an error in the replies is the consumers' business
                await message_promise
        await self.mini_agents.await_persistence()

    async def await_waits(self) -> None:
        while self._waits:
            await self._waits.pop(0)

    def add_wait(self, awaitable: Awaitable[Any]) -> None:
        if asyncio.iscoroutine(awaitable):
            awaitable = self.mini_agents.start_soon(awaitable, suppress_errors=False)
        if self._waits is None:
            self._waits = []
        self._waits.append(awaitable)

    def child_call_registry(self) -> "set[AgentCall]":
        """The open calls this call initiated (`initiate_call`): finished for it when its function ends."""
        if self.open_child_calls is None:
            self.open_child_calls = set()
        return self.open_child_calls

    def _on_input_message(self, index: int, message_promise: MessagePromise) -> None:
        self.mini_agents._emit_call_event(  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
            InputMessageAppeared(call_id=self.call_id, time=time.time(), index=index, message_promise=message_promise)
        )

    def _on_reply_message(self, index: int, message_promise: MessagePromise) -> None:
        mini_agents = self.mini_agents
        outcome = message_promise._result  # noqa: SLF001 - once per message per listened call: `done()` + `result()`
        if outcome is not NO_VALUE:  # the common case: complete already, one event says it all
            failed = not isinstance(outcome, Message)  # a stored failure
            mini_agents._emit_call_event(  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
                ReplyMessageAppeared(
                    call_id=self.call_id,
                    time=time.time(),
                    index=index,
                    message_promise=message_promise,
                    message=None if failed else outcome,
                    error=message_promise.exception() if failed else None,
                )
            )
            return
        mini_agents._emit_call_event(  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
            ReplyMessageAppeared(call_id=self.call_id, time=time.time(), index=index, message_promise=message_promise)
        )

        def announce_resolved(promise: Promise[Any]) -> None:
            error = promise.exception()
            mini_agents._emit_call_event(  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
                ReplyMessageResolved(
                    call_id=self.call_id,
                    time=time.time(),
                    index=index,
                    message=None if error is not None else promise.result(),
                    error=error,
                )
            )

        message_promise.add_done_callback(announce_resolved)

    def _on_replies_finished(self) -> None:
        if self._announces_calls and self.mini_agents.announces(CallFinished):
            self.mini_agents._emit_call_event(  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
                CallFinished(
                    call_id=self.call_id,
                    time=time.time(),
                    error=self.error,
                    reply_count=self.replies.message_count,
                    replies=self.replies.sequence_promise,
                )
            )
        if self.mini_agents.on_persist_messages_handlers:
            inputs = _resolved_now(self.input_promise)
            replies = _resolved_now(self.replies.sequence_promise)
            if inputs is not None and replies is not None:  # the common case: no need to wait in a task
                try:
                    self._record(inputs, replies)
                except Exception:  # as in the task below: logged, the agents go on
                    logger.log(self.mini_agents.log_level_for_errors, "A call could not be recorded", exc_info=True)
            else:
                self.mini_agents.start_soon(self._arecord())

    async def _arecord(self) -> None:
        inputs = await _resolved_messages(self.input_promise)
        self._record(inputs, await _resolved_messages(self.replies.sequence_promise))

    def _record(self, inputs: tuple[Message, ...], replies: tuple[Message, ...]) -> None:
        metadata = self.agent.interaction_metadata.frozen_fields_and_values()
        extra = {**metadata, **redact_secrets(self.frozen_kwargs)}  # credentials are never recorded
        alias = self.agent.alias
        if extra.keys().isdisjoint(_RECORD_FIELDS) and all(name.isascii() for name in extra):
            # every value is frozen already (messages, frozen kwargs, the agent's metadata) and every name is plain:
            # validating them again would build the same records, at several times the cost, for every call
            call_node = construct_record(
                AgentCallNode, {"class_": AgentCallNode.__name__, "agent_alias": alias, "messages": inputs}, extra
            )
            reply_node = construct_record(
                AgentReplyNode,
                {"class_": AgentReplyNode.__name__, "agent_alias": alias, "agent_call": call_node, "replies": replies},
                metadata,
            )
        else:  # names to normalise or check (or that clash with the records' own): through validation
            call_node = AgentCallNode(**extra, agent_alias=alias, messages=inputs)
            reply_node = AgentReplyNode(**metadata, agent_alias=alias, agent_call=call_node, replies=replies)
        self.mini_agents._persist_call_records(call_node, reply_node)  # noqa: SLF001 - a call run records itself through its MiniAgents
        if self._announces_calls and self.mini_agents.announces(CallRecorded):
            self.mini_agents._emit_call_event(  # noqa: SLF001 - the engine's call machinery announces through its MiniAgents
                CallRecorded(call_id=self.call_id, time=time.time(), call_node=call_node, reply_node=reply_node)
            )


_RECORD_FIELDS = frozenset({*AgentCallNode.__pydantic_fields__, *AgentReplyNode.__pydantic_fields__})


def _resolved_now(sequence_promise: MessageSequencePromise) -> tuple[Message, ...] | None:
    """What `_resolved_messages` would give, if the sequence and all its messages are complete already; else None."""
    if not sequence_promise.is_streamed:
        return None
    messages = []
    for piece in sequence_promise.pieces_so_far:
        if isinstance(piece, BaseException):
            continue
        outcome = piece._result  # noqa: SLF001 - a hot path (every message of every call); `done()` + `result()`
        if outcome is NO_VALUE:
            return None
        if isinstance(outcome, Message):  # not a failure
            messages.append(outcome)
    return tuple(messages)


async def _resolved_messages(sequence_promise: MessageSequencePromise) -> tuple[Message, ...]:
    """The messages of a sequence that resolved successfully (errors are skipped: records hold messages only)."""
    messages = []
    iterator = sequence_promise.__aiter__()
    while True:
        try:
            message_promise = await iterator.__anext__()
        except StopAsyncIteration:
            return tuple(messages)
        except Exception:  # an error position in the sequence: not a message
            continue
        try:
            messages.append(await message_promise)
        except Exception:  # a message that failed while streaming
            continue


class InteractionContext:
    """What an agent function gets as `ctx`: its input (`message_promises`) and the means to reply."""

    def __init__(self, run: _AgentCallRun) -> None:
        self._run = run
        self.this_agent: MiniAgent = run.agent
        self.message_promises: MessageSequencePromise = run.input_promise

    @classmethod
    def get_current(cls) -> "InteractionContext":
        """The context of the agent call the calling code runs in; `NoActiveContextError` outside of any agent."""
        run = _current_call.get()
        context = getattr(run, "context", None)
        if context is None:
            raise NoActiveContextError(
                "No agent call is running here: `InteractionContext.get_current()` works only inside an agent "
                "function (or code it calls)."
            )
        return context

    @property
    def miniagents(self) -> MiniAgents:
        """The `MiniAgents` context this call runs in."""
        return self._run.mini_agents

    @property
    def messages(self) -> MessageSequencePromise:
        """Deprecated name of `message_promises`."""
        warn_deprecated("InteractionContext.messages", "InteractionContext.message_promises")
        return self.message_promises

    @property
    def call_id(self) -> int:
        """The id of this call in the lifecycle events."""
        return self._run.call_id

    def _reply_appender(self) -> Any:
        appender = self._run.replies.message_appender
        if appender.is_closed:
            raise AgentCallFinishedError(
                f"`{self.this_agent.alias}` already finished its replies (the agent returned or called "
                "`afinish_early()`), so nothing more can be replied; reply before finishing."
            )
        return appender

    def reply(self, messages: MessageType) -> None:
        """Add `messages` (any `MessageType`, e.g. another agent's replies) to this agent's replies, in order."""
        self._reply_appender().append(messages)

    def reply_out_of_order(self, messages: MessageType) -> None:
        """Add `messages` to the replies as soon as each becomes available, ahead of earlier ones still pending."""
        self._reply_appender().append_out_of_order(messages)

    def make_sure_to_wait(self, awaitable: Awaitable[Any]) -> None:
        """Keep this call open until `awaitable` is done (a coroutine starts running at once, in the background)."""
        self._run.add_wait(awaitable)

    async def await_now(self) -> None:
        """Wait, right now, for everything passed to `make_sure_to_wait` so far (its errors are raised here)."""
        await self._run.await_waits()

    async def afinish_early(self) -> None:
        """Finish the replies now (after the `make_sure_to_wait` items); the function may go on with other work."""
        await self._run.await_waits()
        self._run.replies.message_appender.close()

    def finish_early(self) -> None:
        """Deprecated: use `await ctx.afinish_early()`."""
        warn_deprecated("InteractionContext.finish_early()", "await InteractionContext.afinish_early()")
        self._run.replies.message_appender.close()

    def get_agent_trace(self) -> tuple[MiniAgent, ...]:
        """The agents of the current call chain, this one first and the outermost caller last."""
        trace = []
        run: _AgentCallRun | None = self._run
        while run is not None:
            trace.append(run.agent)
            run = run.parent
        return tuple(trace)


class AgentCall:
    """A call whose input is sent piece by piece: `send_message(...)`, then `reply_sequence()` (or `finish()`).

    A call left open when the agent that initiated it returns (or when `MiniAgents` closes) is finished
    automatically, so a forgotten `finish()` never leaves the called agent waiting for input forever.
    """

    def __init__(self, run: _AgentCallRun) -> None:
        self._run = run
        self._registry = run.parent.child_call_registry() if run.parent is not None else run.mini_agents._open_calls  # noqa: SLF001 - a call registers with the MiniAgents it runs in
        self._registry.add(self)

    @property
    def agent(self) -> MiniAgent:
        """The agent being called."""
        return self._run.agent

    @property
    def is_finished(self) -> bool:
        """Whether the input is complete (no more messages can be sent)."""
        return self._run.is_input_finished()

    def _input_appender(self) -> Any:
        if isinstance(self._run.error, CallDepthError):
            raise self._run.error
        if self.is_finished:
            raise AgentCallFinishedError(
                f"This call to `{self._run.agent.alias}` is already finished, so it takes no more messages; "
                f"start another one with `{self._run.agent.alias}.initiate_call()`."
            )
        return self._run.input.message_appender

    def send_message(self, messages: MessageType) -> Self:
        """Send `messages` (any `MessageType`) to the agent, in order."""
        self._input_appender().append(messages)
        return self

    def send_out_of_order(self, messages: MessageType) -> Self:
        """Send `messages` to the agent as soon as each becomes available."""
        self._input_appender().append_out_of_order(messages)
        return self

    def reply_sequence(self, finish_call: bool = True) -> MessageSequencePromise:
        """The promise of the agent's replies; finishes the call first unless `finish_call=False`."""
        if finish_call:
            self.finish()
        return self._run.replies.sequence_promise

    def finish(self) -> Self:
        """Tell the agent that no more input will come (idempotent)."""
        self._run.finish_input()
        self._registry.discard(self)
        return self
