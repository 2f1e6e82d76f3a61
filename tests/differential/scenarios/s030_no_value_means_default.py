"""NO_VALUE passed for start_soon (and similar options) means "use the default"."""

from miniagents import MessageSequence, MiniAgents, TextMessage, miniagent
from miniagents.promising.sentinels import NO_VALUE


@miniagent
async def echo(ctx):
    ctx.reply(ctx.message_promises)


async def main():
    print([str(m) for m in await echo.trigger("a", start_soon=NO_VALUE)])
    call = echo.initiate_call(start_soon=NO_VALUE)
    call.send_message("b")
    print([str(m) for m in await call.reply_sequence()])
    sequence = MessageSequence(start_soon=NO_VALUE)
    with sequence.message_appender:
        sequence.message_appender.append("c")
    print([str(m) for m in await sequence.sequence_promise])
    print(str(await TextMessage.promise(start_soon=NO_VALUE, content="d")))


MiniAgents().run(main())
