"""start_soon=NO_VALUE means "the default": the agent starts soon by itself, without anyone awaiting it."""

import asyncio

from miniagents import MiniAgents, miniagent
from miniagents.promising.sentinels import NO_VALUE

started = []


@miniagent
async def marker(ctx, name):
    started.append(name)


async def main():
    marker.trigger(name="no_value", start_soon=NO_VALUE)
    await asyncio.sleep(0.01)
    print(started)


MiniAgents().run(main())
