"""make_sure_to_wait keeps the call open until the awaited work ends."""

import asyncio

from miniagents import MiniAgents, miniagent

done = []


async def work():
    await asyncio.sleep(0.01)
    done.append("work")


@miniagent
async def agent(ctx):
    ctx.make_sure_to_wait(asyncio.ensure_future(work()))
    ctx.reply("replied")


async def main():
    print([str(m) for m in await agent.trigger()], done)


MiniAgents().run(main())
