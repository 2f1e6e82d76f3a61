"""await_reply_persistence options are accepted; with them the replies are persisted before the agent finishes."""

import asyncio

from miniagents import MiniAgents, miniagent

persisted = []


async def persist(messages):
    await asyncio.sleep(0.01)
    persisted.extend(str(message) for message in messages if type(message).__name__ == "TextMessage")


@miniagent(await_reply_persistence=True)
async def careful(ctx):
    ctx.reply("kept")


async def main():
    await careful.trigger()
    print("kept" in persisted)


MiniAgents(on_persist_messages=[persist], await_reply_persistence_before_agent_finish=True).run(main())
print(sorted(set(persisted)))
