"""`console_user_agent`: the user's side of a terminal chat.

It prints the messages it gets (token by token, as they stream), asks the user for the next utterance and replies
with the whole conversation so far, kept in a `ChatHistory` (so a stateless assistant sees everything said):

    chat_history = ChatHistoryMD("CHAT.md")
    await adialog_loop(console_user_agent.fork(chat_history=chat_history), assistant_agent)

In a real terminal the input line is a prompt_toolkit prompt (the `console` extra): Enter sends, Ctrl+Space or
Alt+Enter inserts a newline. Without a terminal (piped input) or without prompt_toolkit, plain `input()` is used.
Ctrl+D (end of input) or Ctrl+C at the prompt ends the chat: the agent replies `StopLoop`, which ends the loop.
`NO_COLOR` in the environment turns colours off.

The same agent takes MiniAgents' (0.0.35) keyword arguments too, so code written for it runs unchanged: any of
`output_agent` (shows the messages; its replies go to the input agent), `input_agent` (its replies are the user's
utterance) and `history_agent` (gets the utterance with `return_full_history=True`; its replies are this agent's
reply) replaces the built-in part of the same job:

    await adialog_loop(console_user_agent.fork(history_agent=my_history_agent), assistant_agent)

It is importable both as `from miniagents.ext import console_user_agent` (MiniAgents' path) and
`from miniagents.ext.console_user_agent import console_user_agent` (the older one): the same agent.
"""

import asyncio
import importlib.util
import os
import sys
from collections.abc import Mapping
from functools import cache
from typing import Any

from miniagents.agents import InteractionContext, MiniAgent
from miniagents.chat_history import ChatHistory, InMemoryChatHistory
from miniagents.message_sequence import MessageSequencePromise
from miniagents.messages import TextMessage
from miniagents.utils import StopLoop

__all__ = ["GLOBAL_CHAT_HISTORY", "console_user_agent"]

GLOBAL_CHAT_HISTORY = InMemoryChatHistory()
"""The history `console_user_agent` uses when it is given none (one conversation per process)."""

_USER_PROMPT = "USER: "
_ASSISTANT_COLOUR = "\033[92;1m"
_RESET_COLOUR = "\033[0m"


async def _console_user_agent(
    ctx: InteractionContext,
    chat_history: ChatHistory | None = None,
    output_agent: MiniAgent | None = None,
    input_agent: MiniAgent | None = None,
    history_agent: MiniAgent | None = None,
) -> None:
    """The user at the terminal: shows the messages it gets, asks for a reply and replies with the whole chat."""
    if chat_history is not None and history_agent is not None:
        raise TypeError(
            "console_user_agent keeps the chat in either `chat_history` (a ChatHistory) or `history_agent` (an "
            "agent, as in MiniAgents), not both: pass one of them."
        )
    history = GLOBAL_CHAT_HISTORY if chat_history is None else chat_history

    # reading the logging agent's replies (the same messages) rather than `ctx.message_promises` means that, once
    # they are all printed, they are also all written to the history
    to_show = (
        ctx.message_promises if history_agent is not None else history.logging_agent.trigger(ctx.message_promises)
    )
    if output_agent is None:
        await _aprint_messages(to_show)
        shown: Any = ()
    else:
        shown = output_agent.trigger(to_show)
        await shown
        await to_show  # shown and, without a history agent, written to the chat history

    if input_agent is None:
        user_input = await _aread_user_input()
        if user_input is None:
            ctx.reply(StopLoop(content="The user ended the chat."))
            return
        utterance: Any = TextMessage(content=user_input, role="user")
    else:
        utterance = input_agent.trigger(shown)

    if history_agent is not None:
        ctx.reply(history_agent.trigger(utterance, return_full_history=True))
        return
    await history.logging_agent.trigger(utterance)
    ctx.reply(await history.aload_chat_history())


async def _aprint_messages(message_promises: MessageSequencePromise) -> None:
    colour, reset = (_ASSISTANT_COLOUR, _RESET_COLOUR) if _use_colour() else ("", "")
    async for message_promise in message_promises:
        print(f"\n{colour}{_speaker(message_promise.known_beforehand)}: {reset}", end="", flush=True)
        async for token in message_promise:
            print(f"{colour}{token}{reset}", end="", flush=True)
        print("\n", flush=True)


def _speaker(known_beforehand: Any) -> str:
    alias = known_beforehand.get("agent_alias")
    if isinstance(alias, str) and alias:
        return alias
    role = known_beforehand.get("role")
    return role.upper() if isinstance(role, str) and role else "ASSISTANT"


def _use_colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


async def _aread_user_input() -> str | None:
    """The user's next non-blank utterance, or None when the user ends the chat (Ctrl+D / Ctrl+C)."""
    while True:
        try:
            if _is_interactive_terminal():
                user_input = await _prompt_session().prompt_async(**_prompt_options())
            else:
                user_input = await asyncio.to_thread(input, _USER_PROMPT)
        except (EOFError, KeyboardInterrupt):
            print(flush=True)
            return None
        if user_input.strip():
            return user_input


def _is_interactive_terminal() -> bool:
    """A real terminal on both ends, and prompt_toolkit (the `console` extra) installed."""
    return sys.stdin.isatty() and sys.stdout.isatty() and importlib.util.find_spec("prompt_toolkit") is not None


@cache
def _prompt_session() -> Any:
    """One prompt_toolkit session per process, so Up/Down recall earlier utterances."""
    from prompt_toolkit import PromptSession

    return PromptSession()


def _prompt_options() -> Mapping[str, Any]:
    from prompt_toolkit.formatted_text import FormattedText
    from prompt_toolkit.key_binding import KeyBindings

    bindings = KeyBindings()

    @bindings.add("enter")
    def _send(event: Any) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("c-space")
    @bindings.add("escape", "enter")
    def _newline(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    style = "" if os.environ.get("NO_COLOR") else "fg:ansibrightyellow bold"
    return {
        "message": FormattedText([(style, _USER_PROMPT)]),
        "multiline": True,
        "key_bindings": bindings,
        "prompt_continuation": " " * len(_USER_PROMPT),
    }


# `chat_history` is a mutable object: declared non-freezable, so `console_user_agent.fork(chat_history=history)` and
# `trigger(..., chat_history=history)` pass it on as it is, as in the seeds
console_user_agent = MiniAgent(
    _console_user_agent, alias="console_user_agent", non_freezable_kwargs={"chat_history": None}
)
