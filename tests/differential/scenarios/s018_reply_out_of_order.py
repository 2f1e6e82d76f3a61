"""reply_out_of_order lets a message jump ahead of slow ones."""

import asyncio

from miniagents import MiniAgents, miniagent


@miniagent
async def slow(ctx):
    await asyncio.sleep(0.05)
    ctx.reply("slow")


@miniagent
async def fast(ctx):
    ctx.reply("fast")


@miniagent
async def combined(ctx):
    ctx.reply_out_of_order(slow.trigger())
    ctx.reply_out_of_order(fast.trigger())


async def main():
    print([str(message) for message in await combined.trigger()])


MiniAgents().run(main())
