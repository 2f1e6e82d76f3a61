"""An error in a nested agent reaches the outer consumer at its position."""

from miniagents import MiniAgents, miniagent


@miniagent
async def inner(ctx):
    ctx.reply("inner ok")
    raise KeyError("inner failed")


@miniagent
async def outer(ctx):
    ctx.reply("outer first")
    ctx.reply(inner.trigger())
    ctx.reply("outer last")


async def main():
    seen = []
    try:
        async for promise in outer.trigger():
            seen.append(str(await promise))
    except KeyError as error:
        seen.append(f"KeyError {error}")
    print(seen)


MiniAgents().run(main())
