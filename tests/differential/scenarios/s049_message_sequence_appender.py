"""MessageSequence with an appender used directly."""

from miniagents import MessageSequence, MiniAgents, TextMessage


async def main():
    sequence = MessageSequence()
    with sequence.message_appender:
        sequence.message_appender.append("x")
        sequence.message_appender.append([TextMessage("y"), "z"])
    print([str(m) for m in await sequence.sequence_promise])
    print([type(m).__name__ for m in await sequence.sequence_promise])


MiniAgents().run(main())
