"""The on_persist_messages decorator of a MiniAgents instance registers a one-argument handler."""

from miniagents import MiniAgents, miniagent

mini_agents = MiniAgents()
texts = []


@mini_agents.on_persist_messages
async def persist(messages):
    texts.extend(str(message) for message in messages if type(message).__name__ == "TextMessage")


@miniagent
async def echo(ctx):
    ctx.reply("hello back")


async def main():
    await echo.trigger("hello")


mini_agents.run(main())
print(sorted(texts))
