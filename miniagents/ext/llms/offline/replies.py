"""Deterministic reply text for the offline stand-in.

A reply is a pure function of the request (no randomness, no clock), so notebooks and tests re-run to the same
output, and it echoes the gist of the prompt so that a tutorial still reads sensibly without a real model.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from miniagents.ext.llms.offline.faults import INVALID_OUTPUT_ONCE_MODEL, TOOL_LOOP_MODEL
from miniagents.ext.llms.offline.schema_examples import example_for_schema

_QUESTION_PREVIEW_CHARS = 200
_INSTRUCTIONS_PREVIEW_CHARS = 80
_TOOL_RESULT_PREVIEW_CHARS = 120
_TOKEN_PATTERN = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True)
class Prompt:
    """What a reply depends on, extracted from either provider's request body."""

    model: str
    system: str
    user: str
    earlier_message_count: int
    prompt_token_count: int
    api_key_env_var: str
    json_schema: Mapping[str, Any] | None = None
    wants_json_object: bool = False
    tools: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    """The tools offered (name, parameters schema); only the forced one when the request forces a tool."""
    tool_results: tuple[str, ...] = ()
    """The texts of the tool results the request ends with (after the model called tools)."""


@dataclass(frozen=True)
class Reply:
    """The reply text and the tokens it is streamed in (``"".join(tokens) == text``), or the tools it calls."""

    text: str
    tokens: tuple[str, ...]
    tool_calls: tuple[tuple[str, str, Any], ...] = ()
    """(id, tool name, arguments) of each tool call, all at once (parallel tool calls)."""


def split_astral_characters(reply: Reply) -> Reply:
    """The same reply streamed with every astral character (emoji, …) cut into its two UTF-16 halves, one per token."""
    tokens: list[str] = []
    for token in reply.tokens:
        piece = ""
        for character in token:
            if ord(character) > 0xFFFF:
                units = character.encode("utf-16-le")
                high = units[:2].decode("utf-16-le", "surrogatepass")
                low = units[2:].decode("utf-16-le", "surrogatepass")
                tokens.extend([piece + high, low])
                piece = ""
            else:
                piece += character
        if piece:
            tokens.append(piece)
    return Reply(text=reply.text, tokens=tuple(tokens))


def tokenize(text: str) -> tuple[str, ...]:
    """Split into word-ish tokens with their surrounding whitespace attached, so streaming is visible and lossless."""
    return tuple(_TOKEN_PATTERN.findall(text))


def content_to_text(content: Any) -> str:
    """Flatten message content — a string or a list of content parts, in either provider's shape — into text.

    Non-text parts (images, files) become a short placeholder so the reply still acknowledges them.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        content = [content]
    if not isinstance(content, list):
        return str(content)
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping):
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif "content" in part:
                texts.append(content_to_text(part["content"]))
            elif part.get("type"):
                texts.append(f"[{part['type']}]")
    return "\n".join(texts)


def split_latest_user_turn(dialog: list[tuple[str, str]]) -> tuple[str, int]:
    """The latest user turn's text and how many dialog messages came before it.

    ``dialog`` holds ``(role, text)`` pairs without system messages. Consecutive user messages at the end form one
    turn (agents often send a question and its context as separate messages), so they are joined.
    """
    roles = [role for role, _ in dialog]
    if "user" not in roles:
        return "", len(dialog)
    turn_end = len(roles) - roles[::-1].index("user")
    turn_start = turn_end
    while turn_start > 0 and roles[turn_start - 1] == "user":
        turn_start -= 1
    return "\n".join(text for _, text in dialog[turn_start:turn_end]), turn_start


def compose_reply(prompt: Prompt) -> Reply:
    """Build the reply: calls to every offered tool (until their results are in), JSON when the request asked for
    structured output, otherwise an echo of the prompt (with the tool results, if any)."""
    if prompt.tools and (not prompt.tool_results or prompt.model == TOOL_LOOP_MODEL):
        tool_calls = tuple(
            (
                f"call_{prompt.earlier_message_count}_{index}",
                name,
                example_for_schema(schema, question=prompt.user) if schema else {},
            )
            for index, (name, schema) in enumerate(prompt.tools)
        )
        return Reply(text="", tokens=(), tool_calls=tool_calls)
    if (
        prompt.json_schema is not None
        and prompt.model == INVALID_OUTPUT_ONCE_MODEL
        and prompt.earlier_message_count == 0
    ):
        text = json.dumps({"note": "this misses the schema on purpose"})
    elif prompt.json_schema is not None:
        value = example_for_schema(prompt.json_schema, question=prompt.user)
        text = json.dumps(value, ensure_ascii=False)
    elif prompt.wants_json_object:
        text = json.dumps({"answer": _echo_text(prompt), "offline": True}, ensure_ascii=False)
    else:
        text = _echo_text(prompt)
    return Reply(text=text, tokens=tokenize(text))


def _echo_text(prompt: Prompt) -> str:
    parts = [f"[offline {prompt.model}]"]
    if prompt.user.strip():
        parts.append(f"You asked: «{_preview(prompt.user, _QUESTION_PREVIEW_CHARS)}».")
    else:
        parts.append("No user message was given.")
    if prompt.system.strip():
        parts.append(f"(Instructions: «{_preview(prompt.system, _INSTRUCTIONS_PREVIEW_CHARS)}».)")
    if prompt.tool_results:
        previews = " ".join(f"«{_preview(result, _TOOL_RESULT_PREVIEW_CHARS)}»" for result in prompt.tool_results)
        parts.append(f"Tool results: {previews}.")
    if prompt.earlier_message_count == 1:
        parts.append("I can see 1 earlier message in this conversation.")
    elif prompt.earlier_message_count > 1:
        parts.append(f"I can see {prompt.earlier_message_count} earlier messages in this conversation.")
    parts.append(f"This answer comes from the offline stand-in; set {prompt.api_key_env_var} to use the real model.")
    return " ".join(parts)


def _preview(text: str, limit: int) -> str:
    """Collapse whitespace (prompts are often multi-line templates) and cut at a word boundary."""
    collapsed = " ".join(text.split())
    if len(collapsed) <= limit:
        return collapsed
    cut = collapsed[:limit].rsplit(" ", 1)[0] or collapsed[:limit]
    return f"{cut}…"
