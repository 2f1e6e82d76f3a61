"""The seeds' conversation example: chat with an assistant in the terminal; the chat is kept in a markdown file.

    python examples/conversation.py [--chat-md PATH] [--model MODEL] [--echo]

The assistant is `OpenAIAgent` from `miniagents.ext.llms` (with no OpenAI API key it answers from the offline
stand-in server, so this runs without internet). With `--echo`, or if `miniagents.ext.llms` is not available, a
local echo assistant answers instead. The conversation goes to `--chat-md` (or `$MINIAGENTS_CHAT_MD`, default
`CHAT.md`); run the example again with the same file and the assistant sees the earlier conversation too.

Enter sends, Ctrl+Space or Alt+Enter inserts a newline, Ctrl+D ends the chat.
"""

import argparse
import logging
import os
import re
from collections.abc import AsyncIterator
from typing import Any

from miniagents import InteractionContext, MiniAgent, MiniAgents, TextMessage, miniagent
from miniagents.ext.chat_history_md import ChatHistoryMD
from miniagents.ext.console_user_agent import console_user_agent
from miniagents.utils import adialog_loop


@miniagent
async def echo_assistant(ctx: InteractionContext) -> None:
    """An offline assistant that repeats the user's last message, word by word, to show streaming."""
    conversation = await ctx.message_promises
    last_user_message = next((str(message) for message in reversed(conversation) if message.get("role") == "user"), "")

    async def stream_words(_: dict[str, Any]) -> AsyncIterator[str]:
        for word in re.findall(r"\S+\s*", f"You said: {last_user_message}"):
            yield word

    ctx.reply(TextMessage.promise(message_token_streamer=stream_words, role="assistant", model="echo"))


def make_assistant(model: str, echo: bool) -> MiniAgent:
    """`OpenAIAgent` for `model`, or the echo assistant when asked for or when the LLM agents are not available."""
    if not echo:
        try:
            from miniagents.ext.llms import OpenAIAgent
        except ImportError:
            print("(miniagents.ext.llms is not available: the echo assistant answers instead)")
        else:
            return OpenAIAgent.fork(model=model)
    return echo_assistant


async def amain(chat_md: str, model: str, echo: bool) -> None:
    """The conversation loop: it ends when the user presses Ctrl+D."""
    chat_history = ChatHistoryMD(chat_md)
    print(f"Chatting (history in {chat_md}). Enter sends, Ctrl+Space or Alt+Enter: newline, Ctrl+D: end.\n")
    await adialog_loop(
        user_agent=console_user_agent.fork(chat_history=chat_history),
        assistant_agent=make_assistant(model, echo),
    )
    print("Bye!")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chat-md", default=os.environ.get("MINIAGENTS_CHAT_MD", "CHAT.md"), help="the chat file")
    parser.add_argument("--model", default="gpt-4o-mini", help="the OpenAI model of the assistant")
    parser.add_argument("--echo", action="store_true", help="use the offline echo assistant")
    args = parser.parse_args()

    logging.basicConfig(level=logging.WARNING)
    try:
        MiniAgents().run(amain(args.chat_md, args.model, args.echo))
    except KeyboardInterrupt:
        print()


if __name__ == "__main__":
    main()
