"""None and arbitrary objects are not messages: both packages refuse them with a TypeError."""

from miniagents import MiniAgents, miniagent


@miniagent
async def echo(ctx):
    ctx.reply(ctx.message_promises)


async def main():
    for value in (None, object(), 3.5):
        try:
            await echo.trigger(["ok", value])
            print(type(value).__name__, "accepted")
        except TypeError:
            print(type(value).__name__, "TypeError")


MiniAgents().run(main())
