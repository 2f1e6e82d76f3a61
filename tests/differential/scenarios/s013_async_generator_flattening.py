"""Async generators and coroutines flatten into the sequence."""

from miniagents import MiniAgents, miniagent


async def generate():
    yield "one"
    yield ["two", "three"]


async def single():
    return "four"


@miniagent
async def agent(ctx):
    ctx.reply(generate())
    ctx.reply(await single())


async def main():
    print([str(message) for message in await agent.trigger()])


MiniAgents().run(main())
