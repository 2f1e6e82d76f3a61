"""`AnthropicAgent`: an agent that answers its input messages with a Claude response, streamed token by token.

    reply_sequence = AnthropicAgent.trigger("How are you?", model="claude-3-5-haiku-latest", system="Be brief.")

It is `LLMAgent(AnthropicProvider())` (see `miniagents.ext.llms.llm_agent`). Anthropic's API takes the system prompt
as a parameter, wants user and assistant turns to alternate and the first one to be the user's: the provider arranges
the messages accordingly (see `aprepare_dicts_for_anthropic`); its own keyword arguments are `max_tokens` (default
`DEFAULT_ANTHROPIC_MAX_TOKENS`), `fake_first_user_message` and `message_delimiter_for_same_role`.
Without `ANTHROPIC_API_KEY` the agent talks to the offline stand-in (see `miniagents.ext.llms.clients`); set the key
to use the real Anthropic API, nothing else changes. A client of your own goes in through
`AnthropicAgent.fork(non_freezable_kwargs={"async_client": AsyncAnthropic(...)})`.
"""

from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

from pydantic import BaseModel

from miniagents.agents import InteractionContext
from miniagents.ext.llms.clients import default_anthropic_client
from miniagents.ext.llms.llm_agent import LLMAgent, LLMProvider, LLMRequest
from miniagents.ext.llms.llm_call import fit_to_sdk_method
from miniagents.ext.llms.messages import AnthropicMessage
from miniagents.ext.llms.prepare import aprepare_dicts_for_anthropic
from miniagents.ext.llms.tools import ToolCall, ToolResult, ToolSpec, parse_arguments
from miniagents.messages import Message

__all__ = ["DEFAULT_ANTHROPIC_MAX_TOKENS", "AnthropicAgent", "AnthropicProvider"]

DEFAULT_ANTHROPIC_MAX_TOKENS = 4096
"""Anthropic requires `max_tokens`; this is used when none is given (every current Claude model accepts it)."""

_EXCLUDED_RESPONSE_FIELDS = {"content", "role", "type"}


class AnthropicProvider(LLMProvider):
    """The Anthropic messages protocol."""

    name: ClassVar[str] = "anthropic"
    example_model: ClassVar[str] = "claude-3-5-haiku-latest"
    message_class: ClassVar[type[Message]] = AnthropicMessage
    finish_field: ClassVar[str] = "stop_reason"

    def __init__(self, client_factory: Callable[[], Any] | None = None) -> None:
        self._client_factory = client_factory or default_anthropic_client

    def default_client(self) -> Any:
        return self._client_factory()

    def sdk_default_timeout(self) -> Any:
        import anthropic

        return anthropic.DEFAULT_TIMEOUT

    async def aprepare_request(
        self, ctx: InteractionContext, model: str, system: str | None, options: dict[str, Any]
    ) -> LLMRequest:
        max_tokens = options.pop("max_tokens", DEFAULT_ANTHROPIC_MAX_TOKENS)
        prepared = await aprepare_dicts_for_anthropic(
            ctx.message_promises,
            system=system,
            fake_first_user_message=options.pop("fake_first_user_message", "/start"),
            message_delimiter_for_same_role=options.pop("message_delimiter_for_same_role", "\n\n"),
        )
        system_dicts = [] if prepared.system is None else [{"role": "system", "content": prepared.system}]
        return LLMRequest(
            sdk_kwargs={"model": model, "max_tokens": max_tokens, **prepared.as_kwargs(), **options},
            message_dicts=[*system_dicts, *prepared],
        )

    def tools_kwargs(self, specs: list[ToolSpec]) -> dict[str, Any]:
        return {
            "tools": [
                {"name": spec.name, "description": spec.description, "input_schema": spec.parameters} for spec in specs
            ]
        }

    def tool_round_messages(self, text: str, results: list[ToolResult]) -> list[dict[str, Any]]:
        text_blocks = [{"type": "text", "text": text}] if text else []
        tool_uses = [
            {"type": "tool_use", "id": result.call.id, "name": result.call.name, "input": _arguments_object(result)}
            for result in results
        ]
        tool_results = [
            {"type": "tool_result", "tool_use_id": result.call.id, "content": result.text, "is_error": result.is_error}
            for result in results
        ]
        return [
            {"role": "assistant", "content": [*text_blocks, *tool_uses]},
            {"role": "user", "content": tool_results},
        ]

    def response_format_kwargs(self, output_type: type[BaseModel]) -> dict[str, Any]:
        schema = output_type.model_json_schema()
        return {"output_config": {"format": {"type": "json_schema", "schema": schema}}}

    async def astream_response(
        self, client: Any, request: dict[str, Any], stream: bool, response_fields: dict[str, Any]
    ) -> AsyncIterator[str]:
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
        tool_calls = [
            ToolCall(block.id, block.name, parse_arguments(block.input))
            for block in final_message.content
            if block.type == "tool_use"
        ]
        if tool_calls:
            response_fields["tool_calls"] = tool_calls


def _arguments_object(result: ToolResult) -> dict[str, Any]:
    return result.call.arguments if isinstance(result.call.arguments, dict) else {}


AnthropicAgent: LLMAgent = LLMAgent(AnthropicProvider(), alias="AnthropicAgent")
