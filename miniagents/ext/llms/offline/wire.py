"""What the HTTP server needs from a provider protocol, and the SSE framing both providers share.

Each provider module turns a request body into a :class:`~miniagents.ext.llms.offline.replies.Prompt` and a
:class:`~miniagents.ext.llms.offline.replies.Reply` into that provider's response bodies and stream events; the
server only moves bytes, paces tokens and injects failures.
"""

import json
from dataclasses import dataclass
from typing import Any, Protocol

from miniagents.ext.llms.offline.replies import Prompt, Reply


class BadRequestError(ValueError):
    """The request body cannot be answered; the message is sent back as a 400 in the provider's error shape."""


@dataclass(frozen=True)
class StreamPlan:
    """A streamed reply split so the server can pace it: ``token_frames`` hold one reply token each."""

    opening_frames: tuple[bytes, ...]
    token_frames: tuple[bytes, ...]
    closing_frames: tuple[bytes, ...]


class ProviderWire(Protocol):
    """One provider's HTTP protocol, minus the transport."""

    api_key_env_var: str

    def prompt_from(self, body: dict[str, Any]) -> Prompt:
        """Raise :class:`BadRequestError` when the body lacks what the provider requires."""
        ...

    def response_body(self, body: dict[str, Any], prompt: Prompt, reply: Reply, response_id: str) -> dict[str, Any]:
        """The non-streaming response."""
        ...

    def stream_plan(self, body: dict[str, Any], prompt: Prompt, reply: Reply, response_id: str) -> StreamPlan:
        """The streaming response as SSE frames."""
        ...

    def malformed_frame(self) -> bytes:
        """An SSE frame the SDK will fail to decode (for the ``offline-malformed-stream`` model)."""
        ...

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        """The provider's JSON error body for an HTTP status."""
        ...


def sse_frame(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    """Encode one server-sent event; ``data`` dicts become compact JSON on a single ``data:`` line."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if not payload.isascii() and not isinstance(data, str):
        try:
            payload.encode()
        except UnicodeEncodeError:  # half a character (``offline-split-characters``): JSON escapes keep it
            payload = json.dumps(data, separators=(",", ":"))
    event_line = f"event: {event}\n" if event else ""
    return f"{event_line}data: {payload}\n\n".encode()


def count_prompt_tokens(*texts: str) -> int:
    """A rough token count for ``usage``: whitespace-separated words, like the reply's tokens."""
    return sum(len(text.split()) for text in texts)
