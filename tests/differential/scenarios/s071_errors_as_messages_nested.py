"""errors_as_messages with a nested failing agent: an ErrorMessage takes the failure's place."""

import logging

from miniagents import MiniAgents, miniagent

logging.disable(logging.CRITICAL)


@miniagent
async def inner(ctx):
    raise KeyError("inner failed")


@miniagent
async def outer(ctx):
    ctx.reply("before")
    ctx.reply(inner.trigger())
    ctx.reply("after")


async def main():
    print([type(m).__name__ for m in await outer.trigger()])


MiniAgents(errors_as_messages=True).run(main())
