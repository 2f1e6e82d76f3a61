"""`OpenAIAgent`: an agent that answers its input messages with an OpenAI chat completion, streamed token by token.

    reply_sequence = OpenAIAgent.trigger("How are you?", model="gpt-4o-mini", system="Be brief.", temperature=0)
    smart_agent = OpenAIAgent.fork(model="o4-mini")

Without `OPENAI_API_KEY` the agent talks to the offline stand-in (see `miniagents.ext.llms.clients`); set the key to
use the real OpenAI API, nothing else changes. A client of your own goes in through
`OpenAIAgent.fork(non_freezable_kwargs={"async_client": AsyncOpenAI(...)})`.
"""

from typing import TYPE_CHECKING, Any

from miniagents.agents import InteractionContext, MiniAgent
from miniagents.ext.llms.clients import default_openai_client
from miniagents.ext.llms.llm_call import (
    arun_llm_call,
    choose_stream,
    fit_to_sdk_method,
    pick_response_metadata,
    require_model,
)
from miniagents.ext.llms.messages import OpenAIMessage
from miniagents.ext.llms.prepare import aprepare_dicts_for_openai, thaw_value

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    import openai

__all__ = ["OpenAIAgent"]

_RESPONSE_FIELDS = {"id", "created", "model", "system_fingerprint", "service_tier", "usage"}


async def _openai_agent(
    ctx: InteractionContext,
    model: str | None = None,
    system: str | None = None,
    stream: bool | None = None,
    response_metadata: "Mapping[str, Any] | None" = None,
    async_client: "openai.AsyncOpenAI | None" = None,
    n: int = 1,
    reply_metadata: "Mapping[str, Any] | None" = None,
    **kwargs: Any,
) -> None:
    """Answer the input messages with an OpenAI chat completion (one reply message, streamed token by token).

    `model` is required; `system` becomes the first (system) message; `stream` defaults to
    `MiniAgents.stream_llm_tokens_by_default`; `response_metadata` fields are added to the reply message (and are
    known before it completes); other keyword arguments (`temperature`, `max_tokens`, …) go to
    `client.chat.completions.create()` as they are.
    """
    model = require_model(model, "OpenAIAgent", example="gpt-4o-mini")
    if n != 1:
        raise ValueError(f"OpenAIAgent replies with exactly one message, so `n` must be 1 (got n={n}).")
    stream = choose_stream(stream)
    response_metadata = pick_response_metadata(response_metadata, reply_metadata)
    client = async_client or default_openai_client()

    message_dicts = await aprepare_dicts_for_openai(ctx.message_promises, system=system)
    request: dict[str, Any] = {"model": model, "messages": message_dicts, **thaw_value(kwargs)}
    if stream:
        request["stream"] = True
        request.setdefault("stream_options", {"include_usage": True})  # usage arrives in the last chunk

    async def stream_response(response_fields: dict[str, Any]) -> "AsyncIterator[str]":
        if stream:
            async for token in _astream_completion(client, request, response_fields):
                yield token
        else:
            completion = await client.chat.completions.create(
                **fit_to_sdk_method(client.chat.completions.create, request)
            )
            choice = _single_choice(completion.choices)
            response_fields.update(completion.model_dump(include=_RESPONSE_FIELDS, exclude_none=True))
            response_fields["finish_reason"] = choice.finish_reason
            if choice.message.content:
                yield choice.message.content

    await arun_llm_call(
        ctx,
        message_class=OpenAIMessage,
        response_streamer=stream_response,
        known_beforehand={"role": "assistant", "model": model, "agent_alias": ctx.this_agent.alias},
        response_metadata=response_metadata,
        request_dicts=message_dicts,
        request_metadata={
            "agent": ctx.this_agent.alias,
            "provider": "openai",
            "stream": stream,
            **{name: value for name, value in request.items() if name not in ("messages", "stream")},
        },
    )


async def _astream_completion(
    client: "openai.AsyncOpenAI", request: dict[str, Any], response_fields: dict[str, Any]
) -> "AsyncIterator[str]":
    chunks = await client.chat.completions.create(**fit_to_sdk_method(client.chat.completions.create, request))
    async with chunks:  # closes the HTTP response even if the stream breaks midway
        async for chunk in chunks:
            response_fields.update(chunk.model_dump(include=_RESPONSE_FIELDS, exclude_none=True))
            if chunk.choices:
                choice = _single_choice(chunk.choices)
                if choice.finish_reason:
                    response_fields["finish_reason"] = choice.finish_reason
                if choice.delta.content:
                    yield choice.delta.content


def _single_choice(choices: list[Any]) -> Any:
    if len(choices) != 1:
        raise RuntimeError(f"OpenAI returned {len(choices)} choices where exactly one was expected.")
    return choices[0]


OpenAIAgent: MiniAgent = MiniAgent(_openai_agent, alias="OpenAIAgent")
