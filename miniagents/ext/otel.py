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
(`miniagents.reply_count`); with `message_events=True` every message appearing and resolving is also a span event
(they cost the most: off by default).

Spans go to the tracer provider you give, else to the global one (`opentelemetry.trace.set_tracer_provider`), so
any exporter works: OTLP/HTTP to Langfuse, Phoenix, Jaeger, Tempo, your vendor's. A span that is current when a
top-level call is triggered (a web request, a notebook cell's own span) becomes its parent.

Message contents are not recorded unless `capture_content=True` (privacy); even then, values of fields whose names
look like credentials (`api_key`, `authorization`, `token`, …) are replaced by `[redacted]`.

Needs the optional extra: `pip install "miniagents-notebook[otel]"` (opentelemetry-api and -sdk).
"""

import re
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


_MESSAGE_EVENTS = frozenset({InputMessageAppeared, ReplyMessageAppeared, ReplyMessageResolved})


class OpenTelemetryObserver:
    """A `MiniAgentsObserver` that turns agent calls into OpenTelemetry spans (see the module docstring).

    It keeps only the spans of calls still running, so memory does not grow with the length of a session.
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
        self._spans: dict[int, Span] = {}
        self._aliases: dict[int, str] = {}
        self._offering_tools: set[int] = set()  # running LLM calls that were given tools
        self._model_calls: set[int] = set()  # running calls made with a `model` (LLM calls, most likely)

    # --- the observer protocol -----------------------------------------------------------------------------------

    def on_call_event(self, event: AgentCallEvent) -> None:
        kind = event.__class__
        if kind is CallInitiated:
            self._start(event)  # type: ignore[arg-type]
            return
        if (
            kind in _MESSAGE_EVENTS
            and not (self.message_events or self.capture_content)
            and event.call_id not in self._model_calls
        ):
            return  # the common case, once per message: nothing to record (CallFinished counts the replies)
        span = self._spans.get(event.call_id)
        if span is None:
            return
        if kind is ReplyMessageResolved:
            self._reply_resolved(span, event)  # type: ignore[arg-type]
        elif kind is CallFinished:
            self._finish(span, event)  # type: ignore[arg-type]
        elif kind is CallStarted:
            span.add_event("call started", timestamp=_nanoseconds(event.time))
        elif kind in (InputMessageAppeared, ReplyMessageAppeared):
            if self.message_events:
                name = "input message appeared" if kind is InputMessageAppeared else "reply message appeared"
                span.add_event(name, {"index": event.index}, timestamp=_nanoseconds(event.time))  # type: ignore[attr-defined]
            if kind is ReplyMessageAppeared and event.is_resolved:  # type: ignore[attr-defined] # complete already
                self._reply_resolved(span, event)  # type: ignore[arg-type]

    async def aflush(self) -> None:
        provider = self._tracer_provider or trace.get_tracer_provider()
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush()

    async def aclose(self) -> None:
        await self.aflush()
        self._spans.clear()
        self._aliases.clear()
        self._model_calls.clear()
        self._offering_tools.clear()

    # --- spans ----------------------------------------------------------------------------------------------------

    def _start(self, event: CallInitiated) -> None:
        parent = self._spans.get(event.parent_call_id) if event.parent_call_id is not None else None
        # a top-level call nests under whatever span is current where it was triggered (the caller's request, …)
        parent_context = trace.set_span_in_context(parent) if parent is not None else otel_context.get_current()
        # a call made by an LLM call that was offered tools is the execution of a tool the model called
        is_tool = event.parent_call_id in self._offering_tools
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool" if is_tool else "invoke_agent",
            "gen_ai.agent.name": event.agent_alias,
            "miniagents.call_id": event.call_id,
        }
        if is_tool:
            attributes["gen_ai.tool.name"] = event.agent_alias
        if event.kwargs.get("tools"):
            self._offering_tools.add(event.call_id)
        model = event.kwargs.get("model")
        if isinstance(model, str):
            attributes["gen_ai.request.model"] = model
            self._model_calls.add(event.call_id)
        if self.capture_content:
            attributes.update({f"miniagents.kwargs.{name}": value for name, value in _redacted(event.kwargs).items()})
        self._aliases[event.call_id] = event.agent_alias
        self._spans[event.call_id] = self._tracer.start_span(
            f"{attributes['gen_ai.operation.name']} {event.agent_alias}",
            context=parent_context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_nanoseconds(event.time),
        )

    def _reply_resolved(self, span: Span, event: ReplyMessageResolved | ReplyMessageAppeared) -> None:
        message = event.message
        if message is None:
            return
        if event.call_id in self._model_calls:  # called with a `model`: its own LLM reply makes it a chat
            self._maybe_chat(span, event.call_id, message)
        if self.message_events or self.capture_content:
            attributes: dict[str, Any] = {"index": event.index, "message.class": type(message).__name__}
            if self.capture_content:
                attributes["message.content"] = str(message)[:_CONTENT_LIMIT]
            span.add_event("reply message resolved", attributes, timestamp=_nanoseconds(event.time))

    def _maybe_chat(self, span: Span, call_id: int, message: Any) -> None:
        model = message.get("model")
        usage = message.get("token_usage")
        made_here = message.get("agent_alias") == self._aliases.get(call_id)  # not relayed from a sub-call
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

    def _finish(self, span: Span, event: CallFinished) -> None:
        del self._spans[event.call_id], self._aliases[event.call_id]
        self._offering_tools.discard(event.call_id)
        self._model_calls.discard(event.call_id)
        span.set_attribute("miniagents.reply_count", event.reply_count)
        error = event.error
        if error is not None:
            cancelled = _is_cancellation(error)
            span.set_attribute("error.type", "cancelled" if cancelled else type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, "cancelled" if cancelled else f"{type(error).__name__}: {error}"))
            span.record_exception(error, timestamp=_nanoseconds(event.time))
        span.end(end_time=_nanoseconds(event.time))


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
