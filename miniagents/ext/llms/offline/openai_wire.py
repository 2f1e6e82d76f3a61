"""The OpenAI chat-completions protocol (``POST /v1/chat/completions``), as the ``openai`` SDK expects it."""

import json
import time
from collections.abc import Mapping
from typing import Any

from miniagents.ext.llms.offline.replies import Prompt, Reply, content_to_text, split_latest_user_turn
from miniagents.ext.llms.offline.wire import BadRequestError, StreamPlan, count_prompt_tokens, sse_frame

_SYSTEM_ROLES = ("system", "developer")
_ERROR_TYPE_AND_CODE: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "unknown_url"),
    429: ("requests", "rate_limit_exceeded"),
}


class OpenAIWire:
    """Chat completions, streamed (``chat.completion.chunk`` SSE ending in ``[DONE]``) or not."""

    api_key_env_var = "OPENAI_API_KEY"

    def prompt_from(self, body: dict[str, Any]) -> Prompt:
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            raise BadRequestError("`model` is required and must be a non-empty string")
        if not isinstance(messages, list) or not all(isinstance(message, Mapping) for message in messages):
            raise BadRequestError("`messages` is required and must be a list of message objects")

        system_texts = [
            content_to_text(message.get("content")) for message in messages if message.get("role") in _SYSTEM_ROLES
        ]
        dialog = [
            (str(message.get("role")), content_to_text(message.get("content")))
            for message in messages
            if message.get("role") not in _SYSTEM_ROLES
        ]
        user_text, earlier_message_count = split_latest_user_turn(dialog)

        json_schema: Mapping[str, Any] | None = None
        wants_json_object = False
        response_format = body.get("response_format")
        if isinstance(response_format, Mapping):
            if response_format.get("type") == "json_schema":
                schema_holder = response_format.get("json_schema")
                schema = schema_holder.get("schema") if isinstance(schema_holder, Mapping) else None
                json_schema = schema if isinstance(schema, Mapping) else {}
            elif response_format.get("type") == "json_object":
                wants_json_object = True

        return Prompt(
            tools=_offered_tools(body),
            tool_results=_trailing_tool_results(messages),
            model=model,
            system="\n".join(system_texts),
            user=user_text,
            earlier_message_count=earlier_message_count,
            prompt_token_count=count_prompt_tokens(*system_texts, *(text for _, text in dialog)),
            api_key_env_var=self.api_key_env_var,
            json_schema=json_schema,
            wants_json_object=wants_json_object,
        )

    def response_body(self, body: dict[str, Any], prompt: Prompt, reply: Reply, response_id: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if reply.tool_calls:
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": _tool_calls(reply)}
        return {
            "id": response_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": prompt.model,
            "system_fingerprint": "offline",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": _usage(prompt, reply),
        }

    def stream_plan(self, body: dict[str, Any], prompt: Prompt, reply: Reply, response_id: str) -> StreamPlan:
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, Mapping) and stream_options.get("include_usage") is True
        envelope: dict[str, Any] = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": prompt.model,
            "system_fingerprint": "offline",
        }
        if include_usage:
            envelope["usage"] = None

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return sse_frame({**envelope, "choices": [choice]})

        closing = [chunk({}, finish_reason="tool_calls" if reply.tool_calls else "stop")]
        if include_usage:
            closing.append(sse_frame({**envelope, "choices": [], "usage": _usage(prompt, reply)}))
        closing.append(sse_frame("[DONE]"))
        return StreamPlan(
            opening_frames=(chunk({"role": "assistant", "content": "", "refusal": None}),),
            token_frames=tuple(chunk({"content": token}) for token in reply.tokens)
            + tuple(
                chunk({"tool_calls": [{"index": index, **tool_call}]})
                for index, tool_call in enumerate(_tool_calls(reply))
            ),
            closing_frames=tuple(closing),
        )

    def malformed_frame(self) -> bytes:
        return b'data: {"id": "chatcmpl-offline-malformed", "choices": [{"delta": {"content": "trunc\n\n'

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        error_type, code = _ERROR_TYPE_AND_CODE.get(status, ("server_error", "server_error"))
        return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def _offered_tools(body: dict[str, Any]) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return ()
    offered = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            offered.append((function["name"], parameters if isinstance(parameters, Mapping) else {}))
    tool_choice = body.get("tool_choice")
    if isinstance(tool_choice, Mapping) and isinstance(tool_choice.get("function"), Mapping):
        forced = tool_choice["function"].get("name")
        offered = [tool for tool in offered if tool[0] == forced]
    if tool_choice == "none":
        return ()
    return tuple(offered)


def _trailing_tool_results(messages: list[Any]) -> tuple[str, ...]:
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, content_to_text(message.get("content")))
    return tuple(results)


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        for call_id, name, arguments in reply.tool_calls
    ]


def _usage(prompt: Prompt, reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": prompt.prompt_token_count,
        "completion_tokens": len(reply.tokens) + len(reply.tool_calls),
        "total_tokens": prompt.prompt_token_count + len(reply.tokens) + len(reply.tool_calls),
    }
