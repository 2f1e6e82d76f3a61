"""on_persist_messages handlers written for MiniAgents: `async def handler(messages)` receives lists of messages."""

from miniagents import MiniAgents, miniagent

batches = []


async def persist(messages):
    batches.append([type(message).__name__ for message in messages])


@miniagent
async def echo(ctx):
    ctx.reply(["reply one", "reply two"])


async def main():
    await echo.trigger("input")


MiniAgents(on_persist_messages=[persist]).run(main())
seen = [name for batch in batches for name in batch]
print(all(isinstance(batch, list) for batch in batches))
print(sorted(seen))
