"""The Anthropic messages protocol (``POST /v1/messages``), as the ``anthropic`` SDK expects it."""

import json
from collections.abc import Mapping
from typing import Any

from miniagents.ext.llms.offline.replies import Prompt, Reply, content_to_text, split_latest_user_turn
from miniagents.ext.llms.offline.wire import BadRequestError, StreamPlan, count_prompt_tokens, sse_frame

_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class AnthropicWire:
    """Messages, streamed (the real ``message_start`` … ``message_stop`` event sequence) or not."""

    api_key_env_var = "ANTHROPIC_API_KEY"

    def prompt_from(self, body: dict[str, Any]) -> Prompt:
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            raise BadRequestError("`model` is required and must be a non-empty string")
        if not isinstance(messages, list) or not all(isinstance(message, Mapping) for message in messages):
            raise BadRequestError("`messages` is required and must be a list of message objects")

        tool_results = _trailing_tool_results(messages)
        dialog = [
            (str(message.get("role")), content_to_text(message.get("content")))
            for message in (messages[:-1] if tool_results else messages)  # the question is the turn before them
        ]
        user_text, earlier_message_count = split_latest_user_turn(dialog)
        system_text = content_to_text(body.get("system"))
        return Prompt(
            tools=_offered_tools(body),
            tool_results=tool_results,
            model=model,
            system=system_text,
            user=user_text,
            earlier_message_count=earlier_message_count,
            prompt_token_count=count_prompt_tokens(system_text, *(text for _, text in dialog)),
            api_key_env_var=self.api_key_env_var,
            json_schema=_requested_json_schema(body),
        )

    def response_body(self, body: dict[str, Any], prompt: Prompt, reply: Reply, response_id: str) -> dict[str, Any]:
        content = _tool_uses(reply) if reply.tool_calls else [{"type": "text", "text": reply.text}]
        return {
            **_message_envelope(prompt, response_id),
            "content": content,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "usage": {"input_tokens": prompt.prompt_token_count, "output_tokens": _output_tokens(reply)},
        }

    def stream_plan(self, body: dict[str, Any], prompt: Prompt, reply: Reply, response_id: str) -> StreamPlan:
        message_start = {
            **_message_envelope(prompt, response_id),
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": prompt.prompt_token_count, "output_tokens": 1},
        }
        if reply.tool_calls:
            return _tool_use_stream_plan(message_start, reply)
        return StreamPlan(
            opening_frames=(
                sse_frame({"type": "message_start", "message": message_start}, event="message_start"),
                sse_frame(
                    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                    event="content_block_start",
                ),
                sse_frame({"type": "ping"}, event="ping"),
            ),
            token_frames=tuple(
                sse_frame(
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}},
                    event="content_block_delta",
                )
                for token in reply.tokens
            ),
            closing_frames=(
                sse_frame({"type": "content_block_stop", "index": 0}, event="content_block_stop"),
                sse_frame(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": len(reply.tokens)},
                    },
                    event="message_delta",
                ),
                sse_frame({"type": "message_stop"}, event="message_stop"),
            ),
        )

    def malformed_frame(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {"tru\n\n'

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        error_type = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": error_type, "message": message}}


def _tool_use_stream_plan(message_start: dict[str, Any], reply: Reply) -> StreamPlan:
    frames: list[bytes] = []
    for index, tool_use in enumerate(_tool_uses(reply)):
        frames.append(
            sse_frame(
                {"type": "content_block_start", "index": index, "content_block": {**tool_use, "input": {}}},
                event="content_block_start",
            )
        )
        delta = {"type": "input_json_delta", "partial_json": json.dumps(tool_use["input"])}
        frames.append(
            sse_frame({"type": "content_block_delta", "index": index, "delta": delta}, event="content_block_delta")
        )
        frames.append(sse_frame({"type": "content_block_stop", "index": index}, event="content_block_stop"))
    return StreamPlan(
        opening_frames=(sse_frame({"type": "message_start", "message": message_start}, event="message_start"),),
        token_frames=tuple(frames),
        closing_frames=(
            sse_frame(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                    "usage": {"output_tokens": _output_tokens(reply)},
                },
                event="message_delta",
            ),
            sse_frame({"type": "message_stop"}, event="message_stop"),
        ),
    )


def _tool_uses(reply: Reply) -> list[dict[str, Any]]:
    return [
        {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
        for call_id, name, arguments in reply.tool_calls
    ]


def _output_tokens(reply: Reply) -> int:
    return len(reply.tokens) + len(reply.tool_calls)


def _offered_tools(body: dict[str, Any]) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return ()
    offered = [
        (tool["name"], tool.get("input_schema") if isinstance(tool.get("input_schema"), Mapping) else {})
        for tool in tools
        if isinstance(tool, Mapping) and isinstance(tool.get("name"), str)
    ]
    tool_choice = body.get("tool_choice")
    if isinstance(tool_choice, Mapping) and tool_choice.get("type") == "tool":
        offered = [tool for tool in offered if tool[0] == tool_choice.get("name")]
    if isinstance(tool_choice, Mapping) and tool_choice.get("type") == "none":
        return ()
    return tuple(offered)


def _trailing_tool_results(messages: list[Any]) -> tuple[str, ...]:
    if not messages or messages[-1].get("role") != "user" or not isinstance(messages[-1].get("content"), list):
        return ()
    parts = messages[-1]["content"]
    if not parts or not all(isinstance(part, Mapping) and part.get("type") == "tool_result" for part in parts):
        return ()
    return tuple(content_to_text(part.get("content")) for part in parts)


def _message_envelope(prompt: Prompt, response_id: str) -> dict[str, Any]:
    return {"id": response_id, "type": "message", "role": "assistant", "model": prompt.model, "stop_sequence": None}


def _requested_json_schema(body: dict[str, Any]) -> Mapping[str, Any] | None:
    """Structured output arrives as ``output_config.format`` (current SDKs) or ``output_format`` (the older beta)."""
    output_config = body.get("output_config")
    candidates = [
        output_config.get("format") if isinstance(output_config, Mapping) else None,
        body.get("output_format"),
    ]
    for output_format in candidates:
        if isinstance(output_format, Mapping) and output_format.get("type") == "json_schema":
            schema = output_format.get("schema")
            return schema if isinstance(schema, Mapping) else {}
    return None
