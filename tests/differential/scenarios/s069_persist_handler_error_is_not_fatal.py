"""A failing persist handler does not break the agents."""

import logging

from miniagents import MiniAgents, miniagent

logging.disable(logging.CRITICAL)


async def persist(messages):
    raise RuntimeError("disk full")


@miniagent
async def echo(ctx):
    ctx.reply("still works")


async def main():
    print([str(m) for m in await echo.trigger()])


MiniAgents(on_persist_messages=[persist]).run(main())
