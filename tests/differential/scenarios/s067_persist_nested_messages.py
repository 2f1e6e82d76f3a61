"""Nested messages reach persist handlers before the message holding them, each once."""

from miniagents import Message, MiniAgents, TextMessage, miniagent

order = []


async def persist(messages):
    order.extend(message.hash_key for message in messages)


@miniagent
async def nesting(ctx):
    ctx.reply(Message(child=TextMessage("inner"), other=TextMessage("other")))


async def main():
    replies = await nesting.trigger()
    outer = replies[0]
    inner = outer.child
    print(order.index(inner.hash_key) < order.index(outer.hash_key), order.count(inner.hash_key))


MiniAgents(on_persist_messages=[persist]).run(main())
