"""`OpenAIAgent`: an agent that answers its input messages with an OpenAI chat completion, streamed token by token.

    reply_sequence = OpenAIAgent.trigger("How are you?", model="gpt-4o-mini", system="Be brief.", temperature=0)
    smart_agent = OpenAIAgent.fork(model="o4-mini")

It is `LLMAgent(OpenAIProvider())` (see `miniagents.ext.llms.llm_agent` for what every LLM agent shares: retries,
timeouts, limits, errors). Without `OPENAI_API_KEY` the agent talks to the offline stand-in (see
`miniagents.ext.llms.clients`); set the key to use the real OpenAI API, nothing else changes. A client of your own goes
in through `OpenAIAgent.fork(non_freezable_kwargs={"async_client": AsyncOpenAI(...)})`.
"""

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

from pydantic import BaseModel

from miniagents.agents import InteractionContext
from miniagents.ext.llms.clients import default_openai_client
from miniagents.ext.llms.llm_agent import LLMAgent, LLMProvider, LLMRequest
from miniagents.ext.llms.llm_call import fit_to_sdk_method
from miniagents.ext.llms.messages import OpenAIMessage
from miniagents.ext.llms.prepare import aprepare_dicts_for_openai
from miniagents.ext.llms.tools import ToolCall, ToolResult, ToolSpec, parse_arguments
from miniagents.messages import Message

__all__ = ["OpenAIAgent", "OpenAIProvider"]

_RESPONSE_FIELDS = {"id", "created", "model", "system_fingerprint", "service_tier", "usage"}
_CHUNK_FIELDS = ("id", "created", "model", "system_fingerprint", "service_tier")


class OpenAIProvider(LLMProvider):
    """The OpenAI chat-completions protocol; `client_factory` makes the default client (OpenAI's, or any server's
    that speaks the same protocol: see `miniagents.ext.llms.openai_compatible`)."""

    name: ClassVar[str] = "openai"
    example_model: ClassVar[str] = "gpt-4o-mini"
    message_class: ClassVar[type[Message]] = OpenAIMessage
    finish_field: ClassVar[str] = "finish_reason"

    def __init__(
        self,
        client_factory: Callable[[], Any] | None = None,
        name: str | None = None,
        schema_format: str = "json_schema",
    ) -> None:
        """`schema_format` is how typed output asks for JSON: `"json_schema"` (OpenAI's `response_format`) or
        `"json_object"` (`{"type": "json_object", "schema": ...}`, what llama.cpp's server takes)."""
        if schema_format not in ("json_schema", "json_object"):
            raise ValueError(f"`schema_format` must be 'json_schema' or 'json_object', got {schema_format!r}.")
        self._client_factory = client_factory or default_openai_client
        self.schema_format = schema_format
        if name is not None:
            self.name = name

    def default_client(self) -> Any:
        return self._client_factory()

    def sdk_default_timeout(self) -> Any:
        import openai

        return openai.DEFAULT_TIMEOUT

    async def aprepare_request(
        self, ctx: InteractionContext, model: str, system: str | None, options: dict[str, Any]
    ) -> LLMRequest:
        if options.get("n", 1) != 1:
            raise ValueError(f"OpenAIAgent replies with exactly one message, so `n` must be 1 (got n={options['n']}).")
        options.pop("n", None)
        message_dicts = await aprepare_dicts_for_openai(ctx.message_promises, system=system)
        return LLMRequest(
            sdk_kwargs={"model": model, "messages": message_dicts, **options}, message_dicts=message_dicts
        )

    def tools_kwargs(self, specs: list[ToolSpec]) -> dict[str, Any]:
        return {
            "tools": [
                {
                    "type": "function",
                    "function": {"name": spec.name, "description": spec.description, "parameters": spec.parameters},
                }
                for spec in specs
            ]
        }

    def tool_round_messages(self, text: str, results: list[ToolResult]) -> list[dict[str, Any]]:
        assistant_turn = {
            "role": "assistant",
            "content": text,  # "" rather than None: some compatible servers require a string
            "tool_calls": [
                {
                    "id": result.call.id,
                    "type": "function",
                    "function": {"name": result.call.name, "arguments": _arguments_text(result.call.arguments)},
                }
                for result in results
            ],
        }
        tool_turns = [{"role": "tool", "tool_call_id": result.call.id, "content": result.text} for result in results]
        return [assistant_turn, *tool_turns]

    def response_format_kwargs(self, output_type: type[BaseModel]) -> dict[str, Any]:
        if self.schema_format == "json_object":
            return {"response_format": {"type": "json_object", "schema": output_type.model_json_schema()}}
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": output_type.__name__, "schema": output_type.model_json_schema()},
            }
        }

    async def astream_response(
        self, client: Any, request: dict[str, Any], stream: bool, response_fields: dict[str, Any]
    ) -> AsyncIterator[str]:
        create = client.chat.completions.create
        if not stream:
            completion = await create(**fit_to_sdk_method(create, request))
            choice = _single_choice(completion.choices)
            response_fields.update(completion.model_dump(include=_RESPONSE_FIELDS, exclude_none=True))
            response_fields["finish_reason"] = choice.finish_reason
            if choice.message.tool_calls:
                response_fields["tool_calls"] = [
                    ToolCall(call.id, call.function.name, parse_arguments(call.function.arguments))
                    for call in choice.message.tool_calls
                ]
            if choice.message.content:
                yield choice.message.content
            return
        request = {**request, "stream": True}
        request.setdefault("stream_options", {"include_usage": True})  # usage arrives in the last chunk
        tool_call_parts: dict[int, dict[str, str]] = {}
        chunks = await create(**fit_to_sdk_method(create, request))
        async with chunks:  # closes the HTTP response even if the stream breaks midway
            first_chunk = True
            async for chunk in chunks:
                # this runs for every token: the response's fields come from its first chunk and the one with the
                # usage (the last), read as plain attributes, not with `model_dump()`
                usage = getattr(chunk, "usage", None)
                if first_chunk or usage is not None:
                    first_chunk = False
                    for name in _CHUNK_FIELDS:
                        value = getattr(chunk, name, None)
                        if value is not None:
                            response_fields[name] = value
                    if usage is not None:
                        response_fields["usage"] = usage.model_dump(exclude_none=True)
                choices = chunk.choices
                if choices:
                    choice = choices[0] if len(choices) == 1 else _single_choice(choices)
                    if choice.finish_reason:
                        response_fields["finish_reason"] = choice.finish_reason
                    for call_delta in choice.delta.tool_calls or ():
                        parts = tool_call_parts.setdefault(call_delta.index, {"id": "", "name": "", "arguments": ""})
                        parts["id"] = call_delta.id or parts["id"]
                        if call_delta.function is not None:
                            parts["name"] = call_delta.function.name or parts["name"]  # some servers repeat it
                            parts["arguments"] += call_delta.function.arguments or ""
                    if choice.delta.content:
                        yield choice.delta.content
        if tool_call_parts:
            response_fields["tool_calls"] = [
                ToolCall(parts["id"], parts["name"], parse_arguments(parts["arguments"]))
                for _, parts in sorted(tool_call_parts.items())
            ]


def _arguments_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _single_choice(choices: list[Any]) -> Any:
    if len(choices) != 1:
        raise RuntimeError(f"OpenAI returned {len(choices)} choices where exactly one was expected.")
    return choices[0]


OpenAIAgent: LLMAgent = LLMAgent(OpenAIProvider(), alias="OpenAIAgent")
