"""fork(non_freezable_kwargs=...) passes objects as they are."""

from miniagents import MiniAgents, miniagent


@miniagent
async def appender(ctx, sink):
    sink.append("called")
    ctx.reply(str(len(sink)))


async def main():
    sink = []
    forked = appender.fork(non_freezable_kwargs={"sink": sink})
    print(str(await forked.trigger().as_single_text_promise()), sink)


MiniAgents().run(main())
