"""Agents calling agents, replies forwarded."""

from miniagents import MiniAgents, miniagent


@miniagent
async def inner(ctx, number):
    ctx.reply(f"inner {number}")


@miniagent
async def outer(ctx):
    for number in range(3):
        ctx.reply(inner.trigger(number=number))
    ctx.reply("outer done")


async def main():
    print([str(message) for message in await outer.trigger()])


MiniAgents().run(main())
