"""`MarkdownHistoryAgent`: a chat history kept in a markdown file, as an agent (as MiniAgents offers it).

Every message the agent gets is appended to the file under a heading naming its role:

    user
    ========================================
    What is MiniAgents?

The agent replies with the messages it got or, with `return_full_history=True`, with every message in the file (empty
ones left out with `skip_empty`; an existing file may have been written by hand: text before the first heading is
ignored, a heading is a line underlined with `=`). For a history object used by other agents, see
`miniagents.ext.chat_history_md.ChatHistoryMD`.
"""

import re
from collections.abc import Callable
from pathlib import Path

from miniagents.agents import InteractionContext, miniagent
from miniagents.messages import Message, TextMessage

__all__ = ["MarkdownHistoryAgent"]

_UNDERLINE = "=" * 40
_HEADING_UNDERLINE = re.compile(r"^=+\s*$")


def _parse_history(text: str) -> list[tuple[str, str]]:
    """(role, content) of every message in a history file, in order."""
    lines = text.splitlines()
    entries: list[tuple[str, list[str]]] = []
    index = 0
    while index < len(lines):
        is_heading = index + 1 < len(lines) and lines[index].strip() and _HEADING_UNDERLINE.match(lines[index + 1])
        if is_heading:
            entries.append((lines[index].strip(), []))
            index += 2
            continue
        if entries:
            entries[-1][1].append(lines[index])
        index += 1
    return [(role, "\n".join(content).strip()) for role, content in entries]


@miniagent(alias="MARKDOWN_HISTORY_AGENT")
class MarkdownHistoryAgent:
    """Append the incoming messages to a markdown chat history file; reply with them (or with the whole history)."""

    def __init__(
        self,
        ctx: InteractionContext,
        history_md_file: str = "CHAT.md",
        default_role: str = "assistant",
        return_full_history: bool = False,
        history_message_factory: Callable[..., Message] = TextMessage,
        append: bool = True,
        skip_empty: bool = True,
        ignore_no_history: bool = False,
    ) -> None:
        self.ctx = ctx
        self.history_md_file = Path(history_md_file)
        self.default_role = default_role
        self.return_full_history = return_full_history
        self.history_message_factory = history_message_factory
        self.append = append
        self.skip_empty = skip_empty
        self.ignore_no_history = ignore_no_history

    async def __call__(self) -> None:
        messages = await self.ctx.message_promises
        entries = []
        for message in messages:
            role = message.get("role")
            heading = role if isinstance(role, str) and role else self.default_role
            entries.append(f"\n{heading}\n{_UNDERLINE}\n{message}\n")
        mode = "a" if self.append else "w"
        with self.history_md_file.open(mode, encoding="utf-8") as history_file:
            history_file.write("".join(entries))
        if not self.return_full_history:
            self.ctx.reply(messages)
            return
        history = _parse_history(self.history_md_file.read_text(encoding="utf-8"))
        self.ctx.reply(
            self.history_message_factory(role=role, content=content)
            for role, content in history
            if not (self.skip_empty and not content)
        )
