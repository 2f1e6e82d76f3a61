"""Every call yields an AgentCallNode and an AgentReplyNode with the same hash keys in both packages."""

# expected difference: the records name their agent by `agent_alias` (a string) here; MiniAgents nests the whole
#   agent (a Frozen) as `agent`, so the two hash keys of the records differ (the messages in them hash the same)
from miniagents import MiniAgents, miniagent

records = []


async def persist(messages):
    records.extend(messages)


@miniagent
async def echo(ctx, mode="x"):
    ctx.reply(ctx.message_promises)


async def main():
    await echo.trigger("hi", mode="y")


MiniAgents(on_persist_messages=[persist]).run(main())
for message in sorted(records, key=lambda m: type(m).__name__):
    print(type(message).__name__, sorted(message.serialize()), message.hash_key)
