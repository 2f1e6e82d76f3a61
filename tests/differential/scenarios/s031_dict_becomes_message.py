"""A dict becomes a plain Message (also when it has `content`); its str() is a fenced JSON block."""

from miniagents import MiniAgents, miniagent


@miniagent
async def echo(ctx):
    ctx.reply(ctx.message_promises)


async def main():
    for message in await echo.trigger([{"content": "hello", "role": "user"}, {"a": 1}]):
        print(type(message).__name__, repr(str(message)), message.hash_key)


MiniAgents().run(main())
