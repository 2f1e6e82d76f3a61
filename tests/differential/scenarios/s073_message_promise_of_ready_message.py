"""A ready message as a promise: as_promise streams its text and resolves to itself."""

from miniagents import Message, MiniAgents, TextMessage


async def main():
    message = TextMessage("ready text")
    promise = message.as_promise
    print([str(token) async for token in promise], (await promise) is message)
    other = Message(a=1)
    print((await other.as_promise) is other)


MiniAgents().run(main())
