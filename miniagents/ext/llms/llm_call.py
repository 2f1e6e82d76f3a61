"""What `OpenAIAgent` and `AnthropicAgent` share: streaming one LLM response as a reply, its errors and its logging.

How one call goes, and why:

1. The agent reads the provider's response up to its first token (the whole text when not streaming). A failure
   before it — bad key, rate limit, server error, connection refused, timeout — is raised by the agent function, so
   the core delivers it the way the call asks: an exception for whoever consumes the replies, or an `ErrorMessage`
   with `errors_as_messages=True`. No half-made message is left behind in the replies.
2. Then the reply message is added to the replies and streams live, token by token: the rest of the response is read
   by the message promise's own producer (started at once), so tokens keep arriving whatever the consumers do, and
   each token goes from the response into the message with no promise in between. Its known-beforehand fields are
   the model, the agent alias, the role, `queued_seconds` when the call waited under a limit (see
   `miniagents.ext.llms.usage`) and `response_metadata`; when the response completes, the provider's metadata
   (finish / stop reason, usage, …) is added to its fields, and `response_metadata` wins over it.
3. If the stream breaks midway, the message ends where the text ended (it never raises, so `errors_as_messages`
   consumers never see an exception) and the agent function raises the error right after it: an exception in the
   sequence, or an `ErrorMessage` following the truncated message.
4. The agent function returns only when the response is complete, so the call's status and duration in the call tree
   are those of the LLM request. Then, if `MiniAgents(llm_logger_agent=...)` is set, the request and the response
   (or the error) are handed to the logger agent, which writes in the background.
"""

import functools
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

from miniagents.agents import InteractionContext, MiniAgent
from miniagents.errors import LLMResponseError
from miniagents.ext.llms.usage import QUEUED_SECONDS_FIELD
from miniagents.messages import ErrorMessage, Message
from miniagents.promising._deprecation import pick_renamed_argument
from miniagents.promising.ext.frozen import Frozen
from miniagents.redaction import redact_secrets
from miniagents.runtime import MiniAgents

__all__ = [
    "LLMResponseError",
    "ResponseStreamer",
    "arun_llm_call",
    "choose_stream",
    "fit_to_sdk_method",
    "pick_response_metadata",
    "require_model",
]

ResponseStreamer = Callable[[dict[str, Any]], AsyncIterator[str]]
"""`streamer(response_fields)` yields the response's text tokens and, at the end, puts its metadata in the dict."""


def require_model(model: str | None, agent_name: str, example: str) -> str:
    """The model name, or an error saying how to give one (an LLM agent cannot guess it)."""
    if not model:
        raise ValueError(
            f"{agent_name} needs a model: `{agent_name}.trigger(..., model={example!r})` or "
            f"`{agent_name}.fork(model={example!r})`."
        )
    return model


def choose_stream(stream: bool | None) -> bool:
    """`stream` if given, else the `stream_llm_tokens_by_default` setting of the active `MiniAgents`."""
    return MiniAgents.get_current().stream_llm_tokens_by_default if stream is None else bool(stream)


def pick_response_metadata(response_metadata: Any, reply_metadata: Any) -> dict[str, Any]:
    """`response_metadata` as a dict of fields, accepting its older name `reply_metadata` (with a warning)."""
    chosen = pick_renamed_argument(
        response_metadata, reply_metadata, old="reply_metadata", new="response_metadata", default=None
    )
    if chosen is None:
        return {}
    if isinstance(chosen, Frozen):  # a dict passed to `trigger` or `fork` arrives frozen
        return chosen.frozen_fields_and_values()
    if isinstance(chosen, Mapping):
        return dict(chosen)
    raise TypeError(f"`response_metadata` must be a dict of message fields, got {type(chosen).__name__}.")


def fit_to_sdk_method(sdk_method: Callable[..., Any], request: dict[str, Any]) -> dict[str, Any]:
    """`request` with the parameters `sdk_method` does not declare moved into its `extra_body`.

    SDK versions differ in which parameters they declare (e.g. recent `anthropic` versions dropped `temperature`);
    `extra_body` is the SDKs' own way to send any other parameter, so a parameter the API accepts is never lost.
    """
    function = getattr(sdk_method, "__func__", sdk_method)
    try:
        declared = _declared_parameters(function)
    except TypeError:  # an unhashable callable: not cached
        declared = _declared_parameters.__wrapped__(function)
    if declared is None:
        return request
    if all(name in declared for name in request):
        return request
    fitted = {name: value for name, value in request.items() if name in declared}
    undeclared = {name: value for name, value in request.items() if name not in declared}
    fitted["extra_body"] = {**undeclared, **(request.get("extra_body") or {})}
    return fitted


@functools.lru_cache(maxsize=128)
def _declared_parameters(function: Callable[..., Any]) -> frozenset[str] | None:
    """The parameter names `function` declares (None if it takes `**kwargs`): once per SDK method, not per call."""
    parameters = inspect.signature(function).parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return None
    return frozenset(parameter.name for parameter in parameters)


async def arun_llm_call(
    ctx: InteractionContext,
    message_class: type[Message],
    response_streamer: ResponseStreamer,
    known_beforehand: dict[str, Any],
    response_metadata: dict[str, Any],
    request_dicts: list[dict[str, Any]],
    request_metadata: dict[str, Any],
) -> None:
    """Reply with the LLM's response as one streamed `message_class` message (see the module docstring)."""
    started_at = time.time()  # made a local datetime only if the call is logged
    started = time.perf_counter()
    response_fields: dict[str, Any] = {}
    response = response_streamer(response_fields)
    try:
        first_token = await anext(response, _NO_TOKEN)
    except Exception as error:
        _log_llm_call(request_dicts, request_metadata, ErrorMessage.from_error(error), started_at, started)
        _raise_as_response_error_if_malformed(ctx, error, request_metadata)
        raise
    queued = {name: response_fields[name] for name in (QUEUED_SECONDS_FIELD,) if name in response_fields}
    try:
        rest_of_response = _RestOfResponse(first_token, response, response_fields, response_metadata)
        reply = message_class.promise(
            start_soon=True,
            message_token_streamer=rest_of_response,
            **{**known_beforehand, **queued, **response_metadata},
        )
        ctx.reply(reply)
        result: Message = await reply
        if rest_of_response.midway_error is not None:  # what broke the stream (the message just ended there)
            raise rest_of_response.midway_error
    except Exception as error:
        _log_llm_call(request_dicts, request_metadata, ErrorMessage.from_error(error), started_at, started)
        _raise_as_response_error_if_malformed(ctx, error, request_metadata)
        raise
    _log_llm_call(request_dicts, request_metadata, result, started_at, started)


def _raise_as_response_error_if_malformed(
    ctx: InteractionContext, error: Exception, request_metadata: dict[str, Any]
) -> None:
    if isinstance(error, json.JSONDecodeError):
        provider = request_metadata.get("provider")
        model = request_metadata.get("model")
        raise LLMResponseError(
            f"`{ctx.this_agent.alias}` got a malformed response from {provider} (model {model!r}) that could not be "
            f"parsed: {error}. Retry the call, and if it keeps happening check what sits between you and the "
            "provider (base URL, proxy).",
            agent=ctx.this_agent.alias,
            provider=provider,
            model=model,
        ) from error


_NO_TOKEN: Any = object()
"""What reading the first token gives for an empty response (still an empty reply message)."""


class _RestOfResponse:
    """The reply message's token streamer: the first token (read by the agent), then the rest of the response; an
    error midway ends the message there and is kept for the agent to raise. A small object rather than a closure."""

    __slots__ = ("first_token", "midway_error", "response", "response_fields", "response_metadata")

    def __init__(
        self,
        first_token: Any,
        response: AsyncIterator[str],
        response_fields: dict[str, Any],
        response_metadata: dict[str, Any],
    ) -> None:
        self.first_token = first_token
        self.response = response
        self.response_fields = response_fields
        self.response_metadata = response_metadata
        self.midway_error: Exception | None = None

    async def __call__(self, metadata_so_far: dict[str, Any]) -> AsyncIterator[str]:
        if self.first_token is not _NO_TOKEN:
            yield self.first_token
            try:
                async for token in self.response:
                    yield token
            except Exception as error:  # the agent function raises it right after this message
                self.midway_error = error
                return
        metadata_so_far.update(self.response_fields)
        metadata_so_far.update(self.response_metadata)


def _log_llm_call(
    request_dicts: list[dict[str, Any]],
    request_metadata: dict[str, Any],
    response: Message,
    started_at: float,
    started: float,
) -> None:
    logger_agent = _llm_logger_agent()
    if logger_agent is None:
        return
    from miniagents.ext.llms.llm_logger import jsonable_value, request_messages

    metadata = jsonable_value(
        {
            **redact_secrets(request_metadata),  # `extra_headers` and the like may hold keys
            "started_at": datetime.fromtimestamp(started_at).astimezone().isoformat(timespec="milliseconds"),
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )
    # errors_as_messages: a failing logger is logged by the core instead of vanishing in replies no one reads
    logger_agent.trigger(
        [*request_messages(request_dicts), response], request_metadata=metadata, errors_as_messages=True
    )


def _llm_logger_agent() -> MiniAgent | None:
    setting = MiniAgents.get_current().llm_logger_agent
    if setting is True:
        from miniagents.ext.llms.llm_logger import markdown_llm_logger_agent

        return markdown_llm_logger_agent
    if not setting:
        return None
    if not isinstance(setting, MiniAgent):
        raise TypeError(
            f"MiniAgents(llm_logger_agent=...) must be True, False or a MiniAgent, got {type(setting).__name__}."
        )
    return setting
