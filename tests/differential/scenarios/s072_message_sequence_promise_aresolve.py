"""MessageSequencePromise: await, aresolve() and iteration agree."""

from miniagents import MiniAgents, miniagent


@miniagent
async def agent(ctx):
    ctx.reply(["a", "b"])


async def main():
    replies = agent.trigger()
    print([str(m) for m in await replies.aresolve()], [str(m) for m in await replies])
    print(len([p async for p in replies]))


MiniAgents().run(main())
