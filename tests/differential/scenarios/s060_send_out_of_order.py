"""send_out_of_order on an AgentCall."""

import asyncio

from miniagents import MiniAgents, miniagent


@miniagent
async def collect(ctx):
    ctx.reply(sorted(str(m) for m in await ctx.message_promises))


async def slow():
    await asyncio.sleep(0.01)
    return "slow"


async def main():
    call = collect.initiate_call()
    call.send_out_of_order(slow())
    call.send_message("fast")
    print([str(m) for m in await call.reply_sequence()])


MiniAgents().run(main())
