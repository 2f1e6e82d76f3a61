"""Equal messages made separately (the same text replied three times) each reach persist handlers, as there."""

from miniagents import MiniAgents, TextMessage, miniagent

persisted = []


async def persist(messages):
    persisted.extend(messages)


@miniagent
async def repeating(ctx):
    ctx.reply(TextMessage("same"))
    ctx.reply(TextMessage("same"))
    ctx.reply("same")


async def main():
    replies = await repeating.trigger()
    print([str(reply) for reply in replies])


MiniAgents(on_persist_messages=[persist]).run(main())
texts = [str(message) for message in persisted if type(message).__name__ == "TextMessage"]
print(texts)
print(sorted({type(message).__name__ for message in persisted}))
