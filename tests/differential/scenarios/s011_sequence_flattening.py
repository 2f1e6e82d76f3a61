"""Flattening of nested sequences, lists, dicts and promises into one flat sequence."""

from miniagents import Message, MiniAgents, miniagent


@miniagent
async def echo(ctx):
    ctx.reply(ctx.message_promises)


async def main():
    replies = echo.trigger(["a", ["b", ("c", {"content": "d"})], Message(x=1), [[]]])
    for message in await replies:
        print(type(message).__name__, str(message))


MiniAgents().run(main())
