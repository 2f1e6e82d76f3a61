"""Equal messages made separately (the same text replied three times) reach persist handlers."""

# expected difference: here a message reaches the persist handlers once per content (hash key), however many
#   separate but equal messages carry it; MiniAgents hands each message object over, so the same text replied three
#   times is persisted three times there (handlers that store by hash key, like the SQLite store, end up the same)
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
