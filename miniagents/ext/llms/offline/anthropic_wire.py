"""The Anthropic messages protocol (``POST /v1/messages``), as the ``anthropic`` SDK expects it."""

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

        dialog = [(str(message.get("role")), content_to_text(message.get("content"))) for message in messages]
        user_text, earlier_message_count = split_latest_user_turn(dialog)
        system_text = content_to_text(body.get("system"))
        return Prompt(
            model=model,
            system=system_text,
            user=user_text,
            earlier_message_count=earlier_message_count,
            prompt_token_count=count_prompt_tokens(system_text, *(text for _, text in dialog)),
            api_key_env_var=self.api_key_env_var,
            json_schema=_requested_json_schema(body),
        )

    def response_body(self, body: dict[str, Any], prompt: Prompt, reply: Reply, response_id: str) -> dict[str, Any]:
        return {
            **_message_envelope(prompt, response_id),
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": prompt.prompt_token_count, "output_tokens": len(reply.tokens)},
        }

    def stream_plan(self, body: dict[str, Any], prompt: Prompt, reply: Reply, response_id: str) -> StreamPlan:
        message_start = {
            **_message_envelope(prompt, response_id),
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": prompt.prompt_token_count, "output_tokens": 1},
        }
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
