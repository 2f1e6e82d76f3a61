"""`ChatHistoryMD`: a chat history kept in a markdown file that a person can read, edit and keep.

Every message is a section under a heading with its role (and the model that wrote it, if known):

    user
    ========================================
    What is the capital of France?

    assistant / gpt-4o-mini
    ========================================
    Paris.

Messages are appended token by token while they stream, so the file shows a reply as it is being written. The file
is parsed without any markdown library: headings inside fenced code blocks do not count, ATX headings
(`# user`) are accepted too, and only the configured roles make a heading a role heading.
"""

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from miniagents.agents import InteractionContext
from miniagents.chat_history import ChatHistory, iterate_message_promises
from miniagents.errors import ChatHistoryFileError
from miniagents.messages import Message, MessagePromise, TextMessage

__all__ = ["ChatHistoryFileError", "ChatHistoryMD", "parse_chat_markdown"]

logger = logging.getLogger(__name__)

_UNDERLINE = "=" * 40
_SETEXT_UNDERLINE = re.compile(r" {0,3}=+[ \t]*")
_ATX_HEADING = re.compile(r" {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*")
_FENCE_OPENING = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


class ChatHistoryMD(ChatHistory):
    """A chat history in a markdown file: appended to as messages stream, parsed back into messages on load.

    `default_role` is used for messages without a role (or with one not in `roles`) and for any text before the
    first role heading of the file. Loaded messages are `TextMessage(content=..., role=..., model=...)` (`model`
    only when the heading names one); blank lines around a message's text are not kept. A message whose stream
    fails keeps the text that was written before the failure.
    """

    def __init__(
        self,
        chat_md_file: str | Path,
        default_role: str = "assistant",
        roles: Iterable[str] = ("user", "assistant", "system"),
    ) -> None:
        self.chat_md_file = Path(chat_md_file)
        if self.chat_md_file.is_dir():
            raise ValueError(f"The chat history file {str(self.chat_md_file)!r} is a directory; pass a file path.")
        self.roles = tuple(role.lower() for role in roles)
        self.default_role = default_role.lower()
        if self.default_role not in self.roles:
            raise ValueError(f"`default_role` {default_role!r} must be one of the roles {self.roles}.")

    async def _logging_agent(self, ctx: InteractionContext) -> None:
        self.chat_md_file.parent.mkdir(parents=True, exist_ok=True)
        with self.chat_md_file.open("a", encoding="utf-8") as chat_md:
            async for message_promise in iterate_message_promises(ctx.message_promises):
                await self._awrite_message(chat_md, message_promise)

    async def _awrite_message(self, chat_md: TextIO, message_promise: MessagePromise) -> None:
        chat_md.flush()
        chat_md.write(_separator_before_heading(self.chat_md_file) + self._heading(message_promise.known_beforehand))
        chat_md.flush()
        try:
            async for token in message_promise:
                chat_md.write(str(token))
                chat_md.flush()
        except Exception:  # the consumers of the message get the error; the file keeps the text
            logger.debug("A message failed while ChatHistoryMD was writing it", exc_info=True)
        chat_md.write("\n")
        chat_md.flush()

    def _heading(self, known_beforehand: Any) -> str:
        role = known_beforehand.get("role")
        role = role.lower() if isinstance(role, str) and role.lower() in self.roles else self.default_role
        model = known_beforehand.get("model")
        model_part = f" / {model}" if isinstance(model, str) and model and not _has_space(model) else ""
        return f"{role}{model_part}\n{_UNDERLINE}\n"

    async def aload_chat_history(self) -> tuple[Message, ...]:
        """The conversation in the file (empty if the file does not exist yet)."""
        try:
            md_content = self.chat_md_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ()
        except UnicodeDecodeError as error:
            raise ChatHistoryFileError(
                f"The chat history file {str(self.chat_md_file)!r} is not UTF-8 text ({error}); fix its encoding "
                "or point ChatHistoryMD at another file."
            ) from error
        return parse_chat_markdown(md_content, roles=self.roles, default_role=self.default_role)


def parse_chat_markdown(
    md_content: str, roles: Iterable[str] = ("user", "assistant", "system"), default_role: str = "assistant"
) -> tuple[TextMessage, ...]:
    """Parse markdown with role headings into messages (best effort: any text parses, nothing is dropped)."""
    roles = tuple(roles)
    lines = md_content.replace("\r\n", "\n").split("\n")
    in_code = _fenced_code_lines(lines)
    sections: list[tuple[str, str | None, int, int]] = []  # role, model, heading start, content start
    index = 0
    while index < len(lines):
        heading = None if in_code[index] else _role_heading(lines, index, in_code, roles)
        if heading is None:
            index += 1
            continue
        role, model, heading_length = heading
        sections.append((role, model, index, index + heading_length))
        index += heading_length

    messages = []
    preamble = _trim_blank_lines(lines[: sections[0][2] if sections else len(lines)])
    if preamble:
        messages.append(TextMessage(content=preamble, role=default_role))
    for position, (role, model, _, content_start) in enumerate(sections):
        content_end = sections[position + 1][2] if position + 1 < len(sections) else len(lines)
        fields = {"role": role} if model is None else {"role": role, "model": model}
        messages.append(TextMessage(content=_trim_blank_lines(lines[content_start:content_end]), **fields))
    return tuple(messages)


def _role_heading(
    lines: list[str], index: int, in_code: list[bool], roles: tuple[str, ...]
) -> tuple[str, str | None, int] | None:
    """(role, model, number of lines) if a role heading starts at `lines[index]`, else None."""
    atx = _ATX_HEADING.fullmatch(lines[index])
    if atx:
        parsed = _parse_heading_text(atx.group(1), roles)
        return None if parsed is None else (*parsed, 1)
    is_setext = (
        index + 1 < len(lines)
        and not in_code[index + 1]
        and _SETEXT_UNDERLINE.fullmatch(lines[index + 1]) is not None
        and (index == 0 or not lines[index - 1].strip() or in_code[index - 1])  # a heading starts a block
    )
    if not is_setext:
        return None
    parsed = _parse_heading_text(lines[index], roles)
    return None if parsed is None else (*parsed, 2)


def _parse_heading_text(text: str, roles: tuple[str, ...]) -> tuple[str, str | None] | None:
    role_part, slash, model_part = text.partition("/")
    role = role_part.strip().lower()
    if role not in roles:
        return None
    if not slash:
        return role, None
    model = model_part.strip()
    if not model or _has_space(model):
        return None  # "user / some words" reads like prose, not like a role and a model name
    return role, model


def _fenced_code_lines(lines: list[str]) -> list[bool]:
    """Which lines belong to a closed fenced code block (fences included).

    A fence that is never closed is treated as plain text, so a message cut off inside a code block does not hide
    the headings of every message after it.
    """
    in_code = [False] * len(lines)
    index = 0
    while index < len(lines):
        opening = _FENCE_OPENING.fullmatch(lines[index])
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence = opening.group(1)
            closing = re.compile(r" {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*")
            closing_index = next(
                (later for later in range(index + 1, len(lines)) if closing.fullmatch(lines[later])), None
            )
            if closing_index is not None:
                for inside in range(index, closing_index + 1):
                    in_code[inside] = True
                index = closing_index + 1
                continue
        index += 1
    return in_code


def _trim_blank_lines(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def _has_space(text: str) -> bool:
    return any(char.isspace() for char in text)


def _separator_before_heading(path: Path) -> str:
    """What makes the next heading start after a blank line, whatever the file ends with (nothing if it is empty)."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return ""
    with path.open("rb") as chat_md:
        chat_md.seek(max(0, size - 2))
        tail = chat_md.read()
    if tail.endswith(b"\n\n"):
        return ""
    return "\n" if tail.endswith(b"\n") else "\n\n"
