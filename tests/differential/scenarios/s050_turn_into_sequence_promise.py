"""MessageSequence.turn_into_sequence_promise wraps anything of MessageType."""

from miniagents import MessageSequence, MiniAgents


async def main():
    promise = MessageSequence.turn_into_sequence_promise(["a", ["b"], {"k": "v"}])
    print([type(m).__name__ for m in await promise])
    print(str(await promise.as_single_text_promise()).splitlines()[0])


MiniAgents().run(main())
