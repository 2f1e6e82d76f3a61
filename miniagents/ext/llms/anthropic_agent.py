"""`AnthropicAgent`: an agent that answers its input messages with a Claude response, streamed token by token.

    reply_sequence = AnthropicAgent.trigger("How are you?", model="claude-3-5-haiku-latest", system="Be brief.")

Anthropic's API takes the system prompt as a parameter, wants user and assistant turns to alternate and the first
one to be the user's: the agent arranges the messages accordingly (see `aprepare_dicts_for_anthropic`).
Without `ANTHROPIC_API_KEY` the agent talks to the offline stand-in (see `miniagents.ext.llms.clients`); set the key
to use the real Anthropic API, nothing else changes. A client of your own goes in through
`AnthropicAgent.fork(non_freezable_kwargs={"async_client": AsyncAnthropic(...)})`.
"""

from typing import TYPE_CHECKING, Any

from miniagents.agents import InteractionContext, MiniAgent
from miniagents.ext.llms.clients import default_anthropic_client
from miniagents.ext.llms.llm_call import (
    arun_llm_call,
    choose_stream,
    fit_to_sdk_method,
    pick_response_metadata,
    require_model,
)
from miniagents.ext.llms.messages import AnthropicMessage
from miniagents.ext.llms.prepare import aprepare_dicts_for_anthropic, thaw_value

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    import anthropic

__all__ = ["DEFAULT_ANTHROPIC_MAX_TOKENS", "AnthropicAgent"]

DEFAULT_ANTHROPIC_MAX_TOKENS = 4096
"""Anthropic requires `max_tokens`; this is used when none is given (every current Claude model accepts it)."""

_EXCLUDED_RESPONSE_FIELDS = {"content", "role", "type"}


async def _anthropic_agent(
    ctx: InteractionContext,
    model: str | None = None,
    system: str | None = None,
    stream: bool | None = None,
    response_metadata: "Mapping[str, Any] | None" = None,
    max_tokens: int = DEFAULT_ANTHROPIC_MAX_TOKENS,
    fake_first_user_message: str = "/start",
    message_delimiter_for_same_role: str = "\n\n",
    async_client: "anthropic.AsyncAnthropic | None" = None,
    reply_metadata: "Mapping[str, Any] | None" = None,
    **kwargs: Any,
) -> None:
    """Answer the input messages with an Anthropic response (one reply message, streamed token by token).

    `model` is required; `system` (plus any system messages of the input) goes into the `system` parameter;
    `stream` defaults to `MiniAgents.stream_llm_tokens_by_default`; `response_metadata` fields are added to the
    reply message (and are known before it completes); other keyword arguments (`temperature`, …) go to
    `client.messages.create()` as they are.
    """
    model = require_model(model, "AnthropicAgent", example="claude-3-5-haiku-latest")
    stream = choose_stream(stream)
    response_metadata = pick_response_metadata(response_metadata, reply_metadata)
    client = async_client or default_anthropic_client()

    prepared = await aprepare_dicts_for_anthropic(
        ctx.message_promises,
        system=system,
        fake_first_user_message=fake_first_user_message,
        message_delimiter_for_same_role=message_delimiter_for_same_role,
    )
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        **prepared.as_kwargs(),
        **thaw_value(kwargs),
    }

    async def stream_response(response_fields: dict[str, Any]) -> "AsyncIterator[str]":
        if stream:
            async with client.messages.stream(**fit_to_sdk_method(client.messages.stream, request)) as events:
                async for token in events.text_stream:
                    yield token
                final_message = await events.get_final_message()
        else:
            final_message = await client.messages.create(**fit_to_sdk_method(client.messages.create, request))
            text = "".join(block.text for block in final_message.content if block.type == "text")
            if text:
                yield text
        response_fields.update(final_message.model_dump(exclude=_EXCLUDED_RESPONSE_FIELDS, exclude_none=True))

    system_dicts = [] if prepared.system is None else [{"role": "system", "content": prepared.system}]
    await arun_llm_call(
        ctx,
        message_class=AnthropicMessage,
        response_streamer=stream_response,
        known_beforehand={"role": "assistant", "model": model, "agent_alias": ctx.this_agent.alias},
        response_metadata=response_metadata,
        request_dicts=[*system_dicts, *prepared],
        request_metadata={
            "agent": ctx.this_agent.alias,
            "provider": "anthropic",
            "stream": stream,
            **{name: value for name, value in request.items() if name not in ("messages", "system")},
        },
    )


AnthropicAgent: MiniAgent = MiniAgent(_anthropic_agent, alias="AnthropicAgent")
