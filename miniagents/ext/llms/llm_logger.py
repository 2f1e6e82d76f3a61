"""Logging of LLM calls as readable markdown files: `MiniAgents(llm_logger_agent=True)`.

Every LLM agent call, once its response is complete (or has failed), triggers the logger agent with the request
messages followed by the response message (or an `ErrorMessage`) and a `request_metadata` keyword argument (agent,
model, stream, the SDK parameters, start time, duration). The default logger, `markdown_llm_logger_agent`, writes
one markdown file per call into `MiniAgents.llm_logs_folder` (default `llm_logs/`) on a worker thread, so logging
never delays the call or its tokens. Pass `llm_logger_agent=your_agent` to receive the same messages yourself.
"""

import asyncio
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from miniagents.agents import InteractionContext, miniagent
from miniagents.ext.llms.messages import AssistantMessage, SystemMessage, UserMessage
from miniagents.ext.llms.prepare import thaw_value
from miniagents.messages import ErrorMessage, Message, TextMessage
from miniagents.runtime import MiniAgents

__all__ = ["jsonable_value", "markdown_llm_logger_agent", "render_llm_log", "request_messages"]

_MESSAGE_CLASS_BY_ROLE: dict[str, type[TextMessage]] = {
    "user": UserMessage,
    "system": SystemMessage,
    "assistant": AssistantMessage,
}
_UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def request_messages(request_dicts: Iterable[Mapping[str, Any]]) -> list[Message]:
    """The role/content dicts sent to a provider, as messages (`UserMessage`, `SystemMessage`, …)."""
    messages: list[Message] = []
    for request_dict in request_dicts:
        role = str(request_dict.get("role", "user"))
        content = request_dict.get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=repr)
        message_class = _MESSAGE_CLASS_BY_ROLE.get(role)
        messages.append(message_class(text) if message_class else TextMessage(text, role=role))
    return messages


def jsonable_value(value: Any) -> Any:
    """`value` reduced to JSON types (anything else becomes its repr), so it can be an agent's frozen kwarg."""
    return json.loads(json.dumps(thaw_value(value), ensure_ascii=False, default=repr))


def render_llm_log(
    messages: Iterable[Message], response: Message, request_metadata: Mapping[str, Any] | None = None
) -> str:
    """The markdown text of one LLM call: its parameters, the request messages, then the response and its metadata."""
    metadata = thaw_value(request_metadata or {})
    title = " · ".join(str(metadata[key]) for key in ("agent", "model") if metadata.get(key)) or "LLM call"
    lines = [f"# {title}", ""]
    lines.extend(f"- **{key}:** {_inline(value)}" for key, value in metadata.items())
    lines.extend(["", "## Request", ""])
    for message in messages:
        lines.extend([f"### {message.get('role') or 'user'}", "", str(message), ""])
    if isinstance(response, ErrorMessage):
        lines.extend(["## Response: ERROR", "", "```text", str(response), "```", ""])
        return "\n".join(lines)
    lines.extend([f"## Response ({response.get('role') or 'assistant'})", "", str(response), ""])
    response_fields = {
        name: value
        for name, value in thaw_value(response).items()
        if name not in ("content", "content_template", "role")
    }
    if response_fields:
        lines.extend(["### Response metadata", "", "```json", _json(response_fields), "```", ""])
    return "\n".join(lines)


@miniagent
async def markdown_llm_logger_agent(
    ctx: InteractionContext, request_metadata: Mapping[str, Any] | None = None, log_folder: str | None = None
) -> None:
    """Write the LLM call it receives (request messages, then the response) as a markdown file in `log_folder`.

    `log_folder` defaults to `llm_logs_folder` of the active `MiniAgents`. Nothing is replied.
    """
    messages = await ctx.message_promises
    if not messages:
        return
    *request, response = messages
    folder = Path(log_folder) if log_folder is not None else MiniAgents.get_current().llm_logs_folder
    metadata = thaw_value(request_metadata or {})
    stem = "_".join(
        _UNSAFE_FILENAME_CHARACTERS.sub("-", str(part)).strip("-")
        for part in (_file_time(metadata.get("started_at")), metadata.get("agent") or "llm")
    )
    text = render_llm_log(request, response, metadata)
    await asyncio.to_thread(_write_new_file, folder, stem, text)


def _file_time(started_at: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(started_at))
    except ValueError:
        moment = datetime.now()
    return moment.strftime("%Y%m%d_%H%M%S_%f")


def _write_new_file(folder: Path, stem: str, text: str) -> Path:
    """Write `text` to `<stem>.md` in `folder`, never overwriting a log (a number is added when the name is taken)."""
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        path = folder / (f"{stem}.md" if number == 1 else f"{stem}_{number}.md")
        try:
            with path.open("x", encoding="utf-8") as log_file:
                log_file.write(text)
        except FileExistsError:
            number += 1
            continue
        return path


def _inline(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=repr)
