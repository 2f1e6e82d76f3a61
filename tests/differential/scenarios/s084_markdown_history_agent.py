"""MarkdownHistoryAgent writes a markdown chat history and replies with the messages or the whole history."""

import tempfile
from pathlib import Path

from miniagents import MiniAgents, TextMessage
from miniagents.ext import MarkdownHistoryAgent

folder = Path(tempfile.mkdtemp())
chat, hand = str(folder / "CHAT.md"), folder / "HAND.md"


def read(path):
    return Path(path).read_text()


def write(path, text):
    Path(path).write_text(text)


def exists(path):
    return Path(path).exists()


async def main():
    messages = [TextMessage("hi", role="user"), TextMessage("hello\n\nthere", role="assistant"), "plain"]
    replies = await MarkdownHistoryAgent.trigger(messages, history_md_file=chat)
    print([(type(m).__name__, str(m), m.get("role")) for m in replies])
    replies = await MarkdownHistoryAgent.trigger(["more"], history_md_file=chat, return_full_history=True)
    print([(type(m).__name__, str(m), m.get("role")) for m in replies])
    print(repr(read(chat)))
    replies = await MarkdownHistoryAgent.trigger(["", " ", "y"], history_md_file=chat, append=False)
    print([str(m) for m in replies])
    replies = await MarkdownHistoryAgent.trigger([], history_md_file=chat, return_full_history=True)
    print([str(m) for m in replies], repr(read(chat)))
    write(hand, "some preamble\n\nuser\n===\nq\n\nassistant\n=====\na\n  \n")
    replies = await MarkdownHistoryAgent.trigger([], history_md_file=str(hand), return_full_history=True)
    print([(str(m), m.role) for m in replies])
    missing = folder / "MISSING.md"
    print([str(m) for m in await MarkdownHistoryAgent.trigger([], history_md_file=str(missing))], exists(missing))


MiniAgents().run(main())
