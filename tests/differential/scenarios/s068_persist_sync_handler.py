"""A plain (not async) one-argument persist handler works too."""

from miniagents import MiniAgents, miniagent

names = []


def persist(messages):
    names.extend(type(message).__name__ for message in messages)


@miniagent
async def echo(ctx):
    ctx.reply("x")


async def main():
    await echo.trigger()


MiniAgents(on_persist_messages=persist).run(main())
print(sorted(set(names)))
