"""An agent sees its input messages in order, through message_promises."""

from miniagents import MiniAgents, miniagent


@miniagent
async def upper(ctx):
    async for promise in ctx.message_promises:
        ctx.reply(str(await promise).upper())


async def main():
    print([str(message) for message in await upper.trigger(["a", "b", "c"])])


MiniAgents().run(main())
