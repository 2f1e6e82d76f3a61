"""console_user_agent with MiniAgents' output_agent / input_agent / history_agent: who gets what, what it replies."""

import asyncio

from miniagents import InteractionContext, MiniAgents, miniagent
from miniagents.ext import console_user_agent

received = []


@miniagent
async def show(ctx: InteractionContext, **kwargs) -> None:
    received.append(("show", [str(message) for message in await ctx.message_promises], kwargs))


@miniagent
async def ask(ctx: InteractionContext, **kwargs) -> None:
    received.append(("ask", [str(message) for message in await ctx.message_promises], kwargs))
    ctx.reply("the user's answer")


@miniagent
async def remember(ctx: InteractionContext, **kwargs) -> None:
    received.append(("remember", [str(message) for message in await ctx.message_promises], kwargs))
    ctx.reply(["earlier turn", ctx.message_promises])


async def main() -> None:
    async with MiniAgents():
        replies = await console_user_agent.trigger(
            ["question 1", "question 2"], output_agent=show, input_agent=ask, history_agent=remember
        )
    print([(type(message).__name__, str(message)) for message in replies])
    for entry in received:
        print(entry)


asyncio.run(main())
