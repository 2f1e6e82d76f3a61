"""Send every run to the observability tools teams already use: OpenTelemetry spans with the GenAI conventions.

    from miniagents.ext.otel import instrument

    async with MiniAgents() as mini_agents:
        instrument(mini_agents)          # or MiniAgents(observers=[OpenTelemetryObserver()])
        await research_agent.trigger("question")

Each agent call becomes a span (`invoke_agent <alias>`) whose parent is the span of the call that made it, so the
call tree is the trace tree. A call whose reply comes from an LLM becomes a `chat <model>` span with the model, the
token usage and the finish reason (`gen_ai.*` attributes of the OpenTelemetry GenAI semantic conventions); a tool the
model calls (an agent call made by an LLM call given `tools=`) is an `execute_tool <name>` span under it. Errors and
cancellations set the span's status and record the exception. Each span counts its replies
(`miniagents.reply_count`); with `message_events=True` its start and every message appearing and resolving are also
span events (they cost the most: off by default, and then the observer listens to the start and end of calls only).

Spans go to the tracer provider you give, else to the global one (`opentelemetry.trace.set_tracer_provider`), so
any exporter works: OTLP/HTTP to Langfuse, Phoenix, Jaeger, Tempo, your vendor's. A span that is current when a
top-level call is triggered (a web request, a notebook cell's own span) becomes its parent.

Message contents are not recorded unless `capture_content=True` (privacy); even then, values of fields whose names
look like credentials (`api_key`, `authorization`, `token`, …) are replaced by `[redacted]`.

Needs the optional extra: `pip install "miniagents-notebook[otel]"` (opentelemetry-api and -sdk).
"""

import asyncio
import re
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from miniagents.lifecycle import (
    AgentCallEvent,
    CallFinished,
    CallInitiated,
    CallStarted,
    InputMessageAppeared,
    ReplyMessageAppeared,
    ReplyMessageResolved,
)
from miniagents.runtime import MiniAgents

__all__ = ["OpenTelemetryObserver", "instrument"]

_SECRET_NAME = re.compile(r"(api[_-]?key|authori[sz]ation|token|secret|password|credential|auth)", re.IGNORECASE)
_CONTENT_LIMIT = 4_000
_PROVIDERS = {"openaimessage": "openai", "anthropicmessage": "anthropic"}


def _nanoseconds(seconds: float) -> int:
    return int(seconds * 1e9)


def _attribute_value(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _redacted(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: "[redacted]" if _SECRET_NAME.search(name) else _attribute_value(value)
        for name, value in kwargs.items()
        if value is not None
    }


def _is_cancellation(error: BaseException) -> bool:
    from miniagents.errors import ProducerCancelledError

    return isinstance(error, ProducerCancelledError) or type(error).__name__ == "CancelledError"


_CALL_EVENTS = (CallInitiated, CallFinished)
_SPANS_PER_BATCH = 256
_SPANS_DELAY_SECONDS = 0.5


class _Call:
    """What the observer knows of a call whose span may not exist yet: a span is made when first needed — when the
    call ends, or when a sub-call's span needs it as parent, or for a span event — so that the objects of a span live
    only as long as they must (a fan-out of a thousand running calls does not keep a thousand spans alive)."""

    __slots__ = (
        "alias",
        "as_parent",
        "attributes",
        "finished",
        "open_children",
        "parent",
        "parent_context",
        "span",
        "start_time",
    )

    def __init__(
        self, alias: str, attributes: dict[str, Any], start_time: int, parent: "_Call | None", parent_context: Any
    ) -> None:
        self.alias = alias
        self.attributes = attributes
        self.start_time = start_time
        self.parent = parent
        self.parent_context = parent_context  # a top-level call's: what was current where it was triggered
        self.span: Span | None = None
        self.as_parent: Any = None  # the context that makes the span the parent of the spans of sub-calls
        self.open_children = 0
        self.finished = False


class OpenTelemetryObserver:
    """A `MiniAgentsObserver` that turns agent calls into OpenTelemetry spans (see the module docstring).

    It keeps only what it knows of calls still running (and of finished ones whose sub-calls still run), so memory
    does not grow with the length of a session. Unless asked for message events or content, it subscribes to the
    start and the end of calls only (`call_event_types`): the engine then builds no per-message event for it, which
    is most of what watching costs.
    """

    on_persist_message = None  # spans come from lifecycle events alone: no records need to be built for this

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        capture_content: bool = False,
        message_events: bool = False,
    ) -> None:
        from miniagents import __version__

        self._tracer_provider = tracer_provider
        self._tracer = trace.get_tracer("miniagents", __version__, tracer_provider=tracer_provider)
        self.capture_content = capture_content
        self.message_events = message_events
        self.call_event_types: tuple[type[AgentCallEvent], ...] = (
            (AgentCallEvent,) if message_events or capture_content else _CALL_EVENTS
        )
        self._calls: dict[int, _Call] = {}
        self._ended: list[tuple[_Call, int, int]] = []  # calls that ended well, their spans not made yet
        self._making_soon: asyncio.TimerHandle | None = None
        self._offering_tools: set[int] = set()  # running LLM calls that were given tools
        self._model_calls: set[int] = set()  # running calls made with a `model` (LLM calls, most likely)

    # --- the observer protocol -----------------------------------------------------------------------------------

    def on_call_event(self, event: AgentCallEvent) -> None:
        kind = event.__class__
        if kind is CallInitiated:
            self._initiated(event)  # type: ignore[arg-type]
            return
        call = self._calls.get(event.call_id)
        if call is None:
            return
        if kind is CallFinished:
            self._finish(call, event)  # type: ignore[arg-type]
        elif kind is CallStarted:
            self._span(call).add_event("call started", timestamp=_nanoseconds(event.time))
        elif kind is ReplyMessageResolved:
            self._reply_event(call, event)  # type: ignore[arg-type]
        elif kind in (InputMessageAppeared, ReplyMessageAppeared):
            if self.message_events:
                name = "input message appeared" if kind is InputMessageAppeared else "reply message appeared"
                self._span(call).add_event(name, {"index": event.index}, timestamp=_nanoseconds(event.time))  # type: ignore[attr-defined]
            if kind is ReplyMessageAppeared and event.is_resolved:  # type: ignore[attr-defined] # complete already
                self._reply_event(call, event)  # type: ignore[arg-type]

    async def aflush(self) -> None:
        self._make_ended_spans()
        provider = self._tracer_provider or trace.get_tracer_provider()
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush()

    async def aclose(self) -> None:
        await self.aflush()
        self._calls.clear()
        self._model_calls.clear()
        self._offering_tools.clear()

    # --- spans ----------------------------------------------------------------------------------------------------

    def _initiated(self, event: CallInitiated) -> None:
        call_id, parent_id, alias = event.call_id, event.parent_call_id, event.agent_alias
        parent = self._calls.get(parent_id) if parent_id is not None else None
        # a call made by an LLM call that was offered tools is the execution of a tool the model called
        is_tool = parent_id in self._offering_tools
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool" if is_tool else "invoke_agent",
            "gen_ai.agent.name": alias,
            "miniagents.call_id": call_id,
        }
        if is_tool:
            attributes["gen_ai.tool.name"] = alias
        kwargs = event.kwargs
        if kwargs:
            if kwargs.get("tools"):
                self._offering_tools.add(call_id)
            model = kwargs.get("model")
            if isinstance(model, str):
                attributes["gen_ai.request.model"] = model
                self._model_calls.add(call_id)
            if self.capture_content:
                attributes.update({f"miniagents.kwargs.{name}": value for name, value in _redacted(kwargs).items()})
        if parent is not None:
            parent.open_children += 1
        # a top-level call nests under whatever span is current where it was triggered (the caller's request, …)
        parent_context = None if parent is not None else otel_context.get_current()
        self._calls[call_id] = _Call(alias, attributes, _nanoseconds(event.time), parent, parent_context)

    def _span(self, call: _Call) -> Span:
        """The call's span, made now (and its ancestors' before it, outermost first) if it does not exist yet."""
        if call.span is not None:
            return call.span
        chain = [call]
        while chain[-1].parent is not None and chain[-1].parent.span is None:
            chain.append(chain[-1].parent)  # type: ignore[arg-type]
        for pending in reversed(chain):
            parent = pending.parent
            if parent is None:
                context = pending.parent_context
            else:
                if parent.as_parent is None:  # made once for all its sub-calls
                    parent.as_parent = trace.set_span_in_context(parent.span)  # type: ignore[arg-type]
                context = parent.as_parent
            attributes = pending.attributes
            pending.span = self._tracer.start_span(
                f"{attributes['gen_ai.operation.name']} {pending.alias}",
                context=context,
                kind=SpanKind.INTERNAL,
                attributes=attributes,
                start_time=pending.start_time,
            )
        return call.span  # type: ignore[return-value]

    def _reply_event(self, call: _Call, event: ReplyMessageResolved | ReplyMessageAppeared) -> None:
        message = event.message
        if message is None:
            return
        attributes: dict[str, Any] = {"index": event.index, "message.class": type(message).__name__}
        if self.capture_content:
            attributes["message.content"] = str(message)[:_CONTENT_LIMIT]
        self._span(call).add_event("reply message resolved", attributes, timestamp=_nanoseconds(event.time))

    def _maybe_chat(self, span: Span, alias: str, message: Any) -> None:
        model = message.get("model")
        usage = message.get("token_usage")
        made_here = message.get("agent_alias") == alias  # not relayed from a sub-call
        if isinstance(model, str) and usage is not None and made_here:
            span.update_name(f"chat {model}")
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.response.model", model)
            provider = message.get("provider") or _PROVIDERS.get(type(message).__name__.lower())
            if provider:
                span.set_attribute("gen_ai.provider.name", provider)
            for kind in ("input", "output"):
                tokens = usage.get(f"{kind}_tokens")
                if isinstance(tokens, int):
                    span.set_attribute(f"gen_ai.usage.{kind}_tokens", tokens)
            finish_reason = message.get("finish_reason") or message.get("stop_reason")
            if isinstance(finish_reason, str):
                span.set_attribute("gen_ai.response.finish_reasons", (finish_reason,))
            response_id = message.get("id")
            if isinstance(response_id, str):
                span.set_attribute("gen_ai.response.id", response_id)

    def _finish(self, call: _Call, event: CallFinished) -> None:
        call_id = event.call_id
        self._offering_tools.discard(call_id)
        error = event.error
        if error is None and call_id not in self._model_calls:  # the common case: made later, with others
            self._ended.append((call, _nanoseconds(event.time), event.reply_count))
            if call.parent is None or len(self._ended) >= _SPANS_PER_BATCH:  # a whole run ended, or a batch is full
                self._make_ended_spans()
            elif len(self._ended) == 1:
                self._make_ended_spans_soon()
            return
        span = self._ended_span(call, event.reply_count)
        self._forget(call)
        if error is not None:
            cancelled = _is_cancellation(error)
            span.set_attribute("error.type", "cancelled" if cancelled else type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, "cancelled" if cancelled else f"{type(error).__name__}: {error}"))
            span.record_exception(error, timestamp=_nanoseconds(event.time))
        if call_id not in self._model_calls:
            span.end(end_time=_nanoseconds(event.time))
            return
        # called with a `model`: its own LLM reply (usage, finish reason) makes it a chat; read once the call is over
        self._model_calls.discard(call_id)
        replies = [piece for piece in event.replies.pieces_so_far if not isinstance(piece, BaseException)]
        _ChatEnding(self, span, call.alias, replies, _nanoseconds(event.time))

    def _ended_span(self, call: _Call, reply_count: int) -> Span:
        if call.span is None:  # made at its end, with every attribute at once
            call.attributes["miniagents.reply_count"] = reply_count
            return self._span(call)
        call.span.set_attribute("miniagents.reply_count", reply_count)
        return call.span

    def _make_ended_spans_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to come back later: now
            self._make_ended_spans()
            return
        self._making_soon = loop.call_later(_SPANS_DELAY_SECONDS, self._make_ended_spans)

    def _make_ended_spans(self) -> None:
        """Make and end the spans of the calls that ended well since the last time, in one go: when a top-level call
        ends, when 256 are waiting, half a second after the first of them ended, and when the observer is flushed.

        Made one by one, interleaved with the agents' work, a span costs the SDK about half as much again as in a row
        (measured: `benchmarks/otel_overhead.py`); exporters see them no later than with a `BatchSpanProcessor` anyway.
        """
        if self._making_soon is not None:
            self._making_soon.cancel()
            self._making_soon = None
        ended, self._ended = self._ended, []
        for call, end_time, reply_count in ended:
            self._ended_span(call, reply_count).end(end_time=end_time)
            self._forget(call)

    def _forget(self, call: _Call) -> None:
        """Drop a finished call, unless sub-calls of it still run (their spans will need its span as parent); then
        its parent, if that was waiting only for this call."""
        call.finished = True
        while call.finished and call.open_children == 0:
            self._calls.pop(call.attributes["miniagents.call_id"], None)
            parent = call.parent
            if parent is None:
                return
            call.parent = None
            parent.open_children -= 1
            call = parent


class _ChatEnding:
    """Ends the span of a call made with a `model` once each of its replies is complete (an LLM reply may still be
    streaming when the agent function returns), after reading the chat attributes from them."""

    __slots__ = ("_alias", "_end_time", "_observer", "_replies", "_span", "_waiting")

    def __init__(self, observer: OpenTelemetryObserver, span: Span, alias: str, replies: list[Any], end: int) -> None:
        self._observer, self._span, self._alias, self._replies, self._end_time = observer, span, alias, replies, end
        pending = [reply for reply in replies if not reply.done()]
        self._waiting = len(pending)
        if not pending:
            self._end()
        for reply in pending:
            reply.add_done_callback(self._one_done)

    def _one_done(self, _: Any) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            self._end_time = max(self._end_time, time.time_ns())
            self._end()

    def _end(self) -> None:
        for reply in self._replies:
            if reply.exception() is None:
                self._observer._maybe_chat(self._span, self._alias, reply.result())  # noqa: SLF001 - its own helper
        self._span.end(end_time=self._end_time)


def instrument(
    mini_agents: MiniAgents | None = None,
    tracer_provider: TracerProvider | None = None,
    capture_content: bool = False,
    message_events: bool = False,
) -> OpenTelemetryObserver:
    """Attach an `OpenTelemetryObserver` to `mini_agents` (default: the active one) and return it."""
    mini_agents = mini_agents if mini_agents is not None else MiniAgents.get_current()
    observer = OpenTelemetryObserver(tracer_provider, capture_content=capture_content, message_events=message_events)
    return mini_agents.attach(observer)
