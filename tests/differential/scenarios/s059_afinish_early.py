"""afinish_early ends the replies while the function continues."""

import asyncio

from miniagents import MiniAgents, miniagent

after = []


@miniagent
async def agent(ctx):
    ctx.reply("early")
    await ctx.afinish_early()
    await asyncio.sleep(0.01)
    after.append("later")


async def main():
    print([str(m) for m in await agent.trigger()])


MiniAgents().run(main())
print(after)
