"""`agent_loop` and `dialog_loop` as agents, the way MiniAgents offers them (`from miniagents.ext import ...`).

    await dialog_loop.trigger("Be brief.", user_agent=user, assistant_agent=assistant)
    await agent_loop.trigger(agents=[user_agent, AWAIT, assistant_agent])

`miniagents.utils` has the same loops as plain functions (`achain_loop`, `adialog_loop`) with a turn limit and
`StopLoop`; these agents run until an agent raises (Ctrl+C raises `KeyboardInterrupt`), as MiniAgents' do.
"""

from collections.abc import Iterable
from typing import Any

from miniagents.agents import InteractionContext, MiniAgent, miniagent
from miniagents.message_sequence import MessageSequence
from miniagents.messages import Message
from miniagents.promising import sentinels

__all__ = ["AWAIT", "CLEAR", "agent_loop", "dialog_loop"]

AWAIT = "AWAIT"
"""In `agents` of `agent_loop`: wait here until the messages so far are complete. A string, as in MiniAgents, so that
it can be passed in an agent's (frozen) keyword arguments; the sentinel `miniagents.utils.AWAIT` works too."""
CLEAR = "CLEAR"
"""In `agents` of `agent_loop`: the next agent gets no input (the messages so far are dropped)."""


def _is_marker(step: Any, marker: str) -> bool:
    return step == marker if isinstance(step, str) else step is getattr(sentinels, marker)


async def _arun_loop(messages: Any, steps: tuple[Any, ...], raise_keyboard_interrupt: bool) -> None:
    try:
        while True:
            for step in steps:
                if step is None:
                    continue
                if _is_marker(step, AWAIT):
                    messages = await MessageSequence.turn_into_sequence_promise(messages)
                elif _is_marker(step, CLEAR):
                    messages = ()
                elif isinstance(step, MiniAgent):
                    messages = step.trigger(messages)
                else:
                    raise TypeError(
                        f"`agents` of agent_loop holds {step!r}; use agents, None, AWAIT or CLEAR "
                        "(from miniagents.ext)."
                    )
    except KeyboardInterrupt:
        if raise_keyboard_interrupt:
            raise


@miniagent(normalize_spaces_in_docstring=True)
async def agent_loop(
    ctx: InteractionContext, agents: Iterable[MiniAgent | str | None], raise_keyboard_interrupt: bool = True
) -> None:
    """Chain `agents` in a loop, each one's replies the next one's input, for ever (until an agent raises).

    The first agent gets this agent's input. `AWAIT` waits there until the messages so far are complete (at least one
    is needed: without it the loop would only ever start new calls, never wait for one); `CLEAR` empties them.
    """
    steps = tuple(agents)
    if not any(_is_marker(step, AWAIT) for step in steps):
        raise ValueError(
            "agent_loop needs at least one AWAIT among `agents` (e.g. `agents=[user_agent, AWAIT, assistant_agent]`): "
            "without it the loop would start calls for ever without waiting for any."
        )
    await _arun_loop(ctx.message_promises, steps, raise_keyboard_interrupt)


@miniagent(normalize_spaces_in_docstring=True)
async def dialog_loop(
    ctx: InteractionContext,
    user_agent: MiniAgent | None,
    assistant_agent: MiniAgent | None,
    prompt_at_the_end: bool = True,
) -> None:
    """A dialog: the user agent speaks first, the assistant answers, and so on until an agent raises (Ctrl+C ends it).

    This agent's own input is a prompt for the assistant: it is sent with every turn of the user (after it, or before
    it with `prompt_at_the_end=False`) and never shown to the user agent.
    """
    prompt: tuple[Message, ...] = await ctx.message_promises

    @miniagent(alias="DIALOG_PROMPT")
    async def with_prompt(inner_ctx: InteractionContext) -> None:
        if prompt_at_the_end:
            inner_ctx.reply([inner_ctx.message_promises, prompt])
        else:
            inner_ctx.reply([prompt, inner_ctx.message_promises])

    steps = (user_agent, AWAIT, with_prompt if assistant_agent is not None else None, assistant_agent, AWAIT)
    await _arun_loop((), steps, raise_keyboard_interrupt=False)
