"""`LLMAgent`: the one seam between MiniAgents and an LLM provider.

An `LLMProvider` knows one provider's protocol: how to turn the input messages into a request, and how to read the
response (streamed or not) back as text tokens plus metadata. `LLMAgent(provider)` is the agent around it, and
everything that is the same for every provider lives here, once:

- the model is required, `stream` defaults to `MiniAgents.stream_llm_tokens_by_default`;
- provider errors become one `LLMError` family naming agent, provider, model and status (the SDK error chained);
- retries with exponential backoff and jitter for the retryable ones (429, 5xx, timeouts, connection errors),
  honouring `retry-after`, and only before the first token (a retry never repeats streamed text); the SDK's own
  retries are switched off per request, so nothing is retried twice;
- a default request timeout (`DEFAULT_LLM_TIMEOUT`) instead of the SDKs' 600 s, unless the client has its own;
- a concurrency limit per provider and model (`max_concurrency=`), shared by every call in the event loop;
- a stream that ends without a finish / stop reason is an `LLMIncompleteResponseError`, not a complete reply.

`OpenAIAgent` and `AnthropicAgent` are `LLMAgent(OpenAIProvider())` and `LLMAgent(AnthropicProvider())`; any
OpenAI-compatible server is `openai_compatible_agent(base_url=...)` (`miniagents.ext.llms.openai_compatible`).
"""

import asyncio
import logging
import random
import time
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from miniagents.agents import InteractionContext, MiniAgent
from miniagents.errors import (
    LLMConnectionError,
    LLMError,
    LLMIncompleteResponseError,
    LLMOutputValidationError,
    LLMRateLimitError,
    LLMServerError,
    LLMStatusError,
    LLMTimeoutError,
    LLMToolRoundsError,
)
from miniagents.ext.llms.llm_call import arun_llm_call, choose_stream, pick_response_metadata, require_model
from miniagents.ext.llms.tools import ToolResult, ToolSpec, arun_tool_calls, tool_specs
from miniagents.ext.llms.usage import (
    QUEUED_SECONDS_FIELD,
    check_token_prices,
    normalized_usage,
    priced_usage_usd,
    usage_cost_usd,
)
from miniagents.messages import Message
from miniagents.runtime import MiniAgents

__all__ = [
    "DEFAULT_LLM_MAX_RETRIES",
    "DEFAULT_LLM_TIMEOUT",
    "DEFAULT_MAX_TOOL_ROUNDS",
    "DEFAULT_MAX_VALIDATION_RETRIES",
    "LLMAgent",
    "LLMProvider",
    "LLMRequest",
    "configure_llm_limits",
    "wrap_provider_error",
]

DEFAULT_LLM_TIMEOUT = 120.0
"""Seconds a request may wait for the provider (for a stream: between two chunks), unless the client or the call
sets its own `timeout`. The SDKs' default is 600 s, far too long for a stalled provider."""

DEFAULT_LLM_MAX_RETRIES = 2
"""Retries after the first attempt for retryable errors (429, 5xx, timeouts, connection errors)."""

DEFAULT_MAX_TOOL_ROUNDS = 10
"""Rounds of tool calls an LLM call may make before it is an `LLMToolRoundsError`."""

DEFAULT_MAX_VALIDATION_RETRIES = 2
"""Times a typed-output validation error goes back to the model before it is an `LLMOutputValidationError`."""

_LOGGER = logging.getLogger(__name__)

_BACKOFF_BASE_SECONDS = 0.5
_BACKOFF_MAX_SECONDS = 30.0
_RETRY_AFTER_MAX_SECONDS = 120.0


@dataclass
class LLMRequest:
    """What a provider sends: the SDK keyword arguments, and the role/content dicts (for the LLM log)."""

    sdk_kwargs: dict[str, Any]
    message_dicts: list[dict[str, Any]]


class LLMProvider(ABC):
    """One provider's protocol. Subclass it (and wrap it in `LLMAgent`) to add a provider."""

    name: ClassVar[str] = "llm"
    """Provider name in errors, logs and usage (`openai`, `anthropic`, …)."""
    example_model: ClassVar[str] = "some-model"
    """Shown in the error that asks for a model."""
    message_class: ClassVar[type[Message]]
    """The class of the reply message."""
    finish_field: ClassVar[str] = "finish_reason"
    """The reply field that says why the response ended; a stream without it is incomplete."""

    @abstractmethod
    def default_client(self) -> Any:
        """The SDK client used when the call passes no `async_client`."""

    @abstractmethod
    async def aprepare_request(
        self, ctx: InteractionContext, model: str, system: str | None, options: dict[str, Any]
    ) -> LLMRequest:
        """The request for the input messages; `options` are the call's other keyword arguments (already thawed):
        take out the ones that are this provider's own and pass the rest to the SDK."""

    @abstractmethod
    def astream_response(
        self, client: Any, request: dict[str, Any], stream: bool, response_fields: dict[str, Any]
    ) -> AsyncIterator[str]:
        """Yield the response's text tokens (one piece when not streaming); put its metadata — including
        `finish_field` when the provider sent one — into `response_fields`."""

    def sdk_default_timeout(self) -> Any:
        """The SDK's own default timeout: a client still using it gets `DEFAULT_LLM_TIMEOUT` instead."""
        return None

    def tools_kwargs(self, specs: "list[ToolSpec]") -> dict[str, Any]:
        """The SDK keyword arguments that offer `specs` to the model."""
        raise NotImplementedError(f"{type(self).__name__} does not support tools yet.")

    def tool_round_messages(self, text: str, results: "list[ToolResult]") -> list[dict[str, Any]]:
        """The messages to append after a round in which the model called tools: its turn, then the results."""
        raise NotImplementedError(f"{type(self).__name__} does not support tools yet.")

    def response_format_kwargs(self, output_type: type[BaseModel]) -> dict[str, Any]:
        """The SDK keyword arguments that ask for JSON matching `output_type`'s schema."""
        raise NotImplementedError(f"{type(self).__name__} does not support typed output yet.")


class LLMAgent(MiniAgent):
    """An agent that answers its input messages with one reply of `provider`'s model, streamed token by token.

    OpenAIAgent = LLMAgent(OpenAIProvider(), alias="OpenAIAgent")
    reply_sequence = OpenAIAgent.trigger("Hi", model="gpt-4o-mini", max_retries=3, max_concurrency=8)
    """

    def __init__(
        self,
        provider: LLMProvider,
        alias: str | None = None,
        description: str | None = None,
        non_freezable_kwargs: Mapping[str, Any] | None = None,
        **kwargs_to_freeze: Any,
    ) -> None:
        self.provider = provider
        super().__init__(
            _llm_agent_function(provider),
            alias=alias or f"{type(provider).__name__.removesuffix('Provider')}Agent",
            description=description,
            # tools (agents, functions) and output types (classes) are passed as they are, never frozen
            non_freezable_kwargs={"tools": None, "response_format": None, **(non_freezable_kwargs or {})},
            **kwargs_to_freeze,
        )


def _llm_agent_function(provider: LLMProvider) -> Any:
    async def llm_agent(
        ctx: InteractionContext,
        model: str | None = None,
        system: str | None = None,
        stream: bool | None = None,
        response_metadata: Mapping[str, Any] | None = None,
        async_client: Any = None,
        max_retries: int = DEFAULT_LLM_MAX_RETRIES,
        max_concurrency: int | None = None,
        requests_per_minute: int | None = None,
        tools: Any = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        tool_errors: str = "to_model",
        response_format: Any = None,
        max_validation_retries: int = DEFAULT_MAX_VALIDATION_RETRIES,
        reply_metadata: Mapping[str, Any] | None = None,
        usd_per_million_tokens: Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Answer the input messages with one reply of the model, streamed token by token.

        `model` is required; `system` is the system prompt; `stream` defaults to
        `MiniAgents.stream_llm_tokens_by_default`; `response_metadata` fields are added to the reply message (and are
        known before it completes); `max_retries` retries 429s, 5xx, timeouts and connection errors with backoff;
        `max_concurrency` / `requests_per_minute` limit the requests to this provider and model (the reply's
        `queued_seconds` says how long it waited for a slot); `tools` (agents or
        `async def` functions) may be called by the model, each call a child agent call, for up to
        `max_tool_rounds` rounds (a `tool_choice` applies to the first round only);
        `response_format=SomePydanticModel` asks for JSON of that schema, validated (the reply's `parsed` field),
        the validation error going back to the model up to `max_validation_retries` times;
        `usd_per_million_tokens={"input": …, "output": …, "cached_input": …}` prices the replies `genai-prices` cannot
        (a local or self-hosted model, the offline stand-in: the reply's `cost_usd`); other keyword arguments
        (`temperature`, `max_tokens`, `timeout`, …) go to the provider's SDK as they are.
        """
        from miniagents.ext.llms.prepare import thaw_value

        agent_alias = ctx.this_agent.alias
        model = require_model(model, agent_alias, example=provider.example_model)
        if tool_errors not in ("to_model", "raise"):
            raise ValueError(f"`tool_errors` must be 'to_model' or 'raise', got {tool_errors!r}.")
        stream = choose_stream(stream)
        response_metadata = pick_response_metadata(response_metadata, reply_metadata)
        token_prices = check_token_prices(usd_per_million_tokens)
        client = _request_client(provider, async_client or provider.default_client())
        request = await provider.aprepare_request(ctx, model, system, thaw_value(kwargs))
        if max_concurrency is None and requests_per_minute is None:
            max_concurrency, requests_per_minute = _configured_limits(provider.name, model)
        limiter = _request_limiter(provider.name, model, max_concurrency, requests_per_minute)
        specs = tool_specs(tools)
        output_type = (
            response_format if isinstance(response_format, type) and issubclass(response_format, BaseModel) else None
        )
        base_kwargs = dict(request.sdk_kwargs)
        if specs:
            base_kwargs.update(provider.tools_kwargs(specs))
        if output_type is not None:
            base_kwargs.update(provider.response_format_kwargs(output_type))
        elif response_format is not None:
            base_kwargs["response_format"] = thaw_value(response_format)
        call = _LLMCall(
            provider=provider,
            client=client,
            model=model,
            agent_alias=agent_alias,
            stream=stream,
            base_kwargs=base_kwargs,
            limiter=limiter,
            max_retries=max_retries,
            specs=specs,
            max_tool_rounds=max_tool_rounds,
            tool_errors=tool_errors,
            output_type=output_type,
            max_validation_retries=max_validation_retries,
            token_prices=token_prices,
        )
        await arun_llm_call(
            ctx,
            message_class=provider.message_class,
            response_streamer=call.astream_response,
            known_beforehand={"role": "assistant", "model": model, "agent_alias": agent_alias},
            response_metadata=response_metadata,
            request_dicts=request.message_dicts,
            request_metadata={
                "agent": agent_alias,
                "provider": provider.name,
                "stream": stream,
                **{
                    name: value
                    for name, value in request.sdk_kwargs.items()
                    if name not in ("messages", "system", "stream")
                },
            },
        )

    llm_agent.llm_provider = provider  # type: ignore[attr-defined]  # how observers tell LLM calls (usage totals)
    return llm_agent


class _LLMCall:
    """One LLM call's requests: retried, limited, tool rounds and typed output, streamed as the reply's tokens.

    A plain object with slots, not closures in the agent function: a thousand calls in flight then hold a thousand
    small objects rather than a thousand sets of closure cells and functions (less for the garbage collector).
    """

    __slots__ = (
        "agent_alias",
        "base_kwargs",
        "client",
        "limiter",
        "max_retries",
        "max_tool_rounds",
        "max_validation_retries",
        "model",
        "output_type",
        "provider",
        "queued_seconds",
        "specs",
        "stream",
        "token_prices",
        "tool_errors",
    )

    def __init__(
        self,
        *,
        provider: LLMProvider,
        client: Any,
        model: str,
        agent_alias: str,
        stream: bool,
        base_kwargs: dict[str, Any],
        limiter: "_RequestLimiter",
        max_retries: int,
        specs: "list[ToolSpec]",
        max_tool_rounds: int,
        tool_errors: str,
        output_type: type[BaseModel] | None,
        max_validation_retries: int,
        token_prices: Mapping[str, float] | None,
    ) -> None:
        self.provider = provider
        self.client = client
        self.model = model
        self.agent_alias = agent_alias
        self.stream = stream
        self.base_kwargs = base_kwargs
        self.limiter = limiter
        self.max_retries = max_retries
        self.specs = specs
        self.max_tool_rounds = max_tool_rounds
        self.tool_errors = tool_errors
        self.output_type = output_type
        self.max_validation_retries = max_validation_retries
        self.token_prices = token_prices
        self.queued_seconds = 0.0

    @property
    def _where(self) -> str:
        return f"`{self.agent_alias}` ({self.provider.name}, model {self.model!r})"

    @property
    def _common(self) -> dict[str, str]:
        return {"agent": self.agent_alias, "provider": self.provider.name, "model": self.model}

    async def _aone_round(
        self, sdk_kwargs: dict[str, Any], round_fields: dict[str, Any], response_fields: dict[str, Any]
    ) -> AsyncIterator[str]:
        """One request, retried (with backoff) while it has yielded nothing; the time it waits for a slot goes into
        `response_fields` at once (so the reply knows it beforehand)."""
        provider, limiter = self.provider, self.limiter
        retry_number = 0
        while True:
            round_fields.clear()
            yielded = False
            try:
                if limiter is not _NO_LIMIT:
                    self.queued_seconds += await limiter.acquire()
                    response_fields[QUEUED_SECONDS_FIELD] = round(self.queued_seconds, 3)
                try:
                    async for token in provider.astream_response(self.client, sdk_kwargs, self.stream, round_fields):
                        yielded = True
                        yield token
                except LLMError:
                    raise
                except Exception as error:
                    wrapped = wrap_provider_error(error, **self._common)
                    if wrapped is None:
                        raise
                    raise wrapped from error
                finally:
                    limiter.release()
                if self.stream and not round_fields.get(provider.finish_field):
                    raise LLMIncompleteResponseError(
                        f"{self._where}: the response stream ended without a `{provider.finish_field}`, so the "
                        "reply may be cut short (a dropped connection or a proxy that closed the stream). Retry the "
                        "call.",
                        **self._common,
                    )
                return
            except Exception as error:
                retry_number += 1
                delay = None if yielded else _retry_delay(error, retry_number, self.max_retries)
                if delay is None:
                    raise
                _LOGGER.info("%s: %s; retry %d in %.2f s", self.agent_alias, error, retry_number, delay)
                await asyncio.sleep(delay)

    async def astream_response(self, response_fields: dict[str, Any]) -> AsyncIterator[str]:
        """The reply's tokens over every round (tool calls, typed-output retries); its fields into
        `response_fields`."""
        provider, base_kwargs, output_type = self.provider, self.base_kwargs, self.output_type
        messages = list(base_kwargs.get("messages") or [])
        total_usage: dict[str, int] | None = None
        replied_text = False
        tool_rounds = 0
        validation_failures = 0
        # the text is kept only where it goes back to the model (tool rounds, typed output)
        keep_text = bool(self.specs) or output_type is not None
        while True:
            round_fields: dict[str, Any] = {}
            text_parts: list[str] = []
            async for token in self._aone_round({**base_kwargs, "messages": messages}, round_fields, response_fields):
                if output_type is None:  # typed output is sent once it validates
                    if not text_parts and replied_text:
                        yield "\n\n"  # what the model said before calling tools, then its answer
                    yield token
                if keep_text:
                    text_parts.append(token)
            replied_text = replied_text or bool(text_parts)
            text = "".join(text_parts)
            tool_calls = round_fields.pop("tool_calls", None)
            response_fields.update(round_fields)
            usage = normalized_usage(round_fields.get("usage"))
            if usage is not None:
                total_usage = _added(total_usage, usage)
                response_fields["token_usage"] = total_usage
                cost = (
                    None
                    if _from_offline_stand_in(round_fields)
                    else usage_cost_usd(total_usage, model=self.model, provider=provider.name)
                )
                if cost is None and self.token_prices is not None:
                    cost = priced_usage_usd(total_usage, self.token_prices)
                if cost is not None:
                    response_fields["cost_usd"] = cost
            if tool_calls and self.specs:
                tool_rounds += 1
                if tool_rounds > self.max_tool_rounds:
                    raise LLMToolRoundsError(
                        f"{self._where} was still calling tools after {self.max_tool_rounds} rounds "
                        f"(`max_tool_rounds={self.max_tool_rounds}`); it last called "
                        f"{', '.join(call.name for call in tool_calls)}. Raise `max_tool_rounds` or make the "
                        "tools' results say when to stop.",
                        **self._common,
                    )
                results = await arun_tool_calls(tool_calls, self.specs, raise_errors=self.tool_errors == "raise")
                messages.extend(provider.tool_round_messages(text, results))
                base_kwargs.pop("tool_choice", None)  # a forced tool choice is for the first round only
                response_fields["tool_rounds"] = tool_rounds
                continue
            if output_type is None:
                return
            try:
                parsed = output_type.model_validate_json(text)
            except ValidationError as error:
                validation_failures += 1
                if validation_failures > self.max_validation_retries:
                    raise LLMOutputValidationError(
                        f"{self._where} did not reply with a valid {output_type.__name__} after "
                        f"{validation_failures} attempts: {error}",
                        **self._common,
                    ) from error
                messages.extend(_validation_retry_messages(text, output_type, error))
                continue
            response_fields["parsed"] = parsed.model_dump(mode="json")
            response_fields["validation_retries"] = validation_failures
            yield text
            return


def _from_offline_stand_in(response_fields: dict[str, Any]) -> bool:
    """The offline stand-in's replies cost nothing (and notebooks must not depend on `genai-prices` being there)."""
    return "offline" in str(response_fields.get("id", ""))


def _added(total: dict[str, int] | None, usage: dict[str, int]) -> dict[str, int]:
    if total is None:
        return dict(usage)
    return {key: total.get(key, 0) + value for key, value in usage.items()}


def _validation_retry_messages(
    text: str, output_type: type[BaseModel], error: ValidationError
) -> list[dict[str, Any]]:
    return [
        {"role": "assistant", "content": text},
        {
            "role": "user",
            "content": f"That reply is not a valid {output_type.__name__}: {error}\n"
            "Reply again with only the JSON object, matching the schema.",
        },
    ]


def _request_client(provider: LLMProvider, client: Any) -> Any:
    """The client for one request: the SDK's own retries off (ours apply), our default timeout if it has the SDK's.

    Made once per client and reused (`with_options` copies the client, which is not free per call).
    """
    with_options = getattr(client, "with_options", None)
    if with_options is None:
        return client
    options: dict[str, Any] = {"max_retries": 0}
    sdk_default_timeout = provider.sdk_default_timeout()
    if sdk_default_timeout is not None and getattr(client, "timeout", None) == sdk_default_timeout:
        options["timeout"] = DEFAULT_LLM_TIMEOUT
    try:
        cached = _request_clients.get(client)
    except TypeError:  # not weakly referenceable (or unhashable): made anew each time
        return with_options(**options)
    if cached is not None and cached[0] == options:
        return cached[1]
    request_client = with_options(**options)
    _request_clients[client] = (options, request_client)
    return request_client


_request_clients: "weakref.WeakKeyDictionary[Any, tuple[dict[str, Any], Any]]" = weakref.WeakKeyDictionary()


def _retry_delay(error: Exception, retry_number: int, max_retries: int) -> float | None:
    """Seconds to wait before retry number `retry_number` (1, 2, …), or None when `error` is not to be retried."""
    if not isinstance(error, LLMError) or not error.retryable or retry_number > max_retries:
        return None
    if error.retry_after is not None:
        return min(error.retry_after, _RETRY_AFTER_MAX_SECONDS)
    backoff = min(_BACKOFF_MAX_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (retry_number - 1))
    return backoff * random.uniform(0.5, 1.0)


def wrap_provider_error(error: BaseException, *, agent: str, provider: str, model: str) -> LLMError | None:
    """The `LLMError` for an SDK error (recognised by shape, so any httpx-based SDK works), or None if not one."""
    status = getattr(error, "status_code", None)
    names = {cls.__name__ for cls in type(error).__mro__}
    where = f"`{agent}` ({provider}, model {model!r})"
    detail = (getattr(error, "message", None) or str(error) or type(error).__name__).rstrip(".")
    common = {"agent": agent, "provider": provider, "model": model}
    if isinstance(status, int):
        retry_after = _retry_after_seconds(getattr(error, "response", None))
        if status == 429:
            wait = f" The provider asked to wait {retry_after:g} s." if retry_after is not None else ""
            return LLMRateLimitError(
                f"{where} was rate limited (HTTP 429): {detail}.{wait} Lower `max_concurrency`, or raise "
                "`max_retries`.",
                status=status,
                retry_after=retry_after,
                **common,
            )
        if status >= 500 or status in (408, 409):
            return LLMServerError(
                f"{where} failed on the provider's side (HTTP {status}): {detail}. It is retried "
                "(`max_retries`); if it persists, check the provider's status page.",
                status=status,
                retry_after=retry_after,
                **common,
            )
        return LLMStatusError(f"{where} was refused (HTTP {status}): {detail}", status=status, **common)
    if "APITimeoutError" in names or isinstance(error, TimeoutError) or "TimeoutException" in names:
        return LLMTimeoutError(
            f"{where} timed out: no response within the request timeout. Pass `timeout=` (seconds) to the call or "
            "the client to wait longer.",
            **common,
        )
    if "APIConnectionError" in names or "TransportError" in names or isinstance(error, ConnectionError):
        return LLMConnectionError(
            f"{where} could not reach the provider: {detail} (check the base URL, the network or the proxy).",
            **common,
        )
    return None


def _retry_after_seconds(response: Any) -> float | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    seconds = headers.get("retry-after")
    if not seconds:
        return None
    try:
        return max(0.0, float(seconds))
    except ValueError:
        pass
    try:
        from datetime import datetime

        moment = parsedate_to_datetime(seconds)
        return max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds())
    except (TypeError, ValueError):
        return None


_RATE_WINDOW_SECONDS = 60.0


class _RequestLimiter:
    """At most `max_concurrency` requests at once and `requests_per_minute` starts in any 60 s (each if not None)."""

    def __init__(self, max_concurrency: int | None, requests_per_minute: int | None) -> None:
        self._semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency is not None else None
        self._requests_per_minute = requests_per_minute
        self._starts: deque[float] = deque()
        self._rate_lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Take a slot for one request (give it back with `release()`); the seconds spent waiting for it."""
        waiting_since = time.monotonic()
        if self._semaphore is not None:
            await self._semaphore.acquire()
        try:
            if self._requests_per_minute is not None:
                await self._await_rate()
        except BaseException:
            self.release()
            raise
        return time.monotonic() - waiting_since

    def release(self) -> None:
        """Give back the slot of a request that `acquire()` let start."""
        if self._semaphore is not None:
            self._semaphore.release()

    async def _await_rate(self) -> None:
        assert self._requests_per_minute is not None
        async with self._rate_lock:
            while True:
                now = time.monotonic()
                while self._starts and now - self._starts[0] >= _RATE_WINDOW_SECONDS:
                    self._starts.popleft()
                if len(self._starts) < self._requests_per_minute:
                    break
                await asyncio.sleep(_RATE_WINDOW_SECONDS - (now - self._starts[0]))
            self._starts.append(time.monotonic())


_NO_LIMIT = _RequestLimiter(None, None)
_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], _RequestLimiter]]" = (
    weakref.WeakKeyDictionary()
)


def _request_limiter_check(max_concurrency: int | None, requests_per_minute: int | None) -> None:
    for name, value in (("max_concurrency", max_concurrency), ("requests_per_minute", requests_per_minute)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"`{name}` must be a positive number of requests, got {value!r}.")


def _request_limiter(
    provider: str, model: str, max_concurrency: int | None, requests_per_minute: int | None
) -> _RequestLimiter:
    """One limiter per provider, model and limits in this event loop, shared by every call that asks for it."""
    _request_limiter_check(max_concurrency, requests_per_minute)
    if max_concurrency is None and requests_per_minute is None:
        return _NO_LIMIT
    by_key = _limiters.setdefault(asyncio.get_running_loop(), {})
    key = (provider, model, max_concurrency, requests_per_minute)
    if key not in by_key:
        by_key[key] = _RequestLimiter(max_concurrency, requests_per_minute)
    return by_key[key]


_LimitSettings = dict[tuple[str | None, str | None], tuple[int | None, int | None]]
_configured: "weakref.WeakKeyDictionary[MiniAgents, _LimitSettings]" = weakref.WeakKeyDictionary()


def configure_llm_limits(
    mini_agents: MiniAgents | None = None,
    *,
    provider: str | None = None,
    model: str | None = None,
    max_concurrency: int | None = None,
    requests_per_minute: int | None = None,
) -> None:
    """Limit the LLM requests of every call under `mini_agents` (the active one by default): for one provider
    (`"openai"`, `"anthropic"`, …) and model, one provider's every model, or (neither given) every provider.

        async with MiniAgents() as mini_agents:
            configure_llm_limits(mini_agents, provider="openai", max_concurrency=8, requests_per_minute=500)

    A call's own `max_concurrency=` / `requests_per_minute=` win; otherwise the most specific setting applies. Calls
    with the same provider, model and limits share their slots.
    """
    _request_limiter_check(max_concurrency, requests_per_minute)
    target = mini_agents if mini_agents is not None else MiniAgents.get_current()
    _configured.setdefault(target, {})[(provider, model)] = (max_concurrency, requests_per_minute)


def _configured_limits(provider: str, model: str) -> tuple[int | None, int | None]:
    settings = _configured.get(MiniAgents.get_current())
    if not settings:
        return None, None
    for key in ((provider, model), (provider, None), (None, model), (None, None)):
        if key in settings:
            return settings[key]
    return None, None
