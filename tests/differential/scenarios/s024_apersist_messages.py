"""apersist_messages persists messages on demand, each once."""

from miniagents import Message, MiniAgents, TextMessage

received = []


async def persist(messages):
    received.append([str(message) for message in messages])


async def main():
    mini_agents = MiniAgents.get_current()
    await mini_agents.apersist_messages([TextMessage("one"), TextMessage("two")])
    await mini_agents.apersist_messages([TextMessage("one")])
    await mini_agents.apersist_messages([Message(child=TextMessage("nested"))])


MiniAgents(on_persist_messages=[persist]).run(main())
print([item for batch in received for item in batch])
