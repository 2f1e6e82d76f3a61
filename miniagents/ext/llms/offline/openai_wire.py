"""The OpenAI chat-completions protocol (``POST /v1/chat/completions``), as the ``openai`` SDK expects it."""

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
        return {
            "id": response_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": prompt.model,
            "system_fingerprint": "offline",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
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

        closing = [chunk({}, finish_reason="stop")]
        if include_usage:
            closing.append(sse_frame({**envelope, "choices": [], "usage": _usage(prompt, reply)}))
        closing.append(sse_frame("[DONE]"))
        return StreamPlan(
            opening_frames=(chunk({"role": "assistant", "content": "", "refusal": None}),),
            token_frames=tuple(chunk({"content": token}) for token in reply.tokens),
            closing_frames=tuple(closing),
        )

    def malformed_frame(self) -> bytes:
        return b'data: {"id": "chatcmpl-offline-malformed", "choices": [{"delta": {"content": "trunc\n\n'

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        error_type, code = _ERROR_TYPE_AND_CODE.get(status, ("server_error", "server_error"))
        return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def _usage(prompt: Prompt, reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": prompt.prompt_token_count,
        "completion_tokens": len(reply.tokens),
        "total_tokens": prompt.prompt_token_count + len(reply.tokens),
    }
