"""`console_output_agent`: prints the messages it gets to the terminal, token by token as they stream.

Each message is headed by who says it (its `agent_alias` or, failing that, its role, upper-cased) and followed by a
blank line, in the ANSI style `assistant_style` (`"92;1"`, bright green bold, by default), as in MiniAgents.
"""

import sys
from typing import Any

from miniagents.agents import InteractionContext, miniagent

__all__ = ["console_output_agent"]


def _speaker(known_beforehand: Any, mention_aliases: bool, default_role: str) -> str:
    alias = known_beforehand.get("agent_alias") if mention_aliases else None
    if isinstance(alias, str) and alias:
        return alias
    role = known_beforehand.get("role")
    return (role if isinstance(role, str) and role else default_role).upper()


@miniagent(normalize_spaces_in_docstring=True)
async def console_output_agent(
    ctx: InteractionContext,
    assistant_style: str | int = "92;1",
    mention_aliases: bool = True,
    default_role: str = "assistant",
) -> None:
    """Print every incoming message to the console, token by token, headed by its speaker."""
    start, end = f"\033[{assistant_style}m", "\033[0m"
    async for message_promise in ctx.message_promises:
        speaker = _speaker(message_promise.known_beforehand, mention_aliases, default_role)
        sys.stdout.write(f"{start}{speaker}: {end}")
        async for token in message_promise:
            sys.stdout.write(f"{start}{token}{end}")
            sys.stdout.flush()
        sys.stdout.write("\n\n")
        sys.stdout.flush()
