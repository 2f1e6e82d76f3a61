"""A reply sequence can be iterated many times, and awaited, with the same result."""

from miniagents import MiniAgents, miniagent


@miniagent
async def counter(ctx):
    for number in range(3):
        ctx.reply(f"n{number}")


async def main():
    replies = counter.trigger()
    first = [str(await promise) for promise in [p async for p in replies]]
    second = [str(message) for message in await replies]
    print(first, second)
    print(str(await replies.as_single_text_promise()))


MiniAgents().run(main())
