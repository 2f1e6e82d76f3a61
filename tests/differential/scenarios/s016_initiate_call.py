"""initiate_call: send input in pieces, then reply_sequence."""

from miniagents import MiniAgents, miniagent


@miniagent
async def joiner(ctx):
    ctx.reply(" ".join([str(message) for message in await ctx.message_promises]))


async def main():
    call = joiner.initiate_call()
    call.send_message("x")
    call.send_message(["y", "z"])
    print(str(await call.reply_sequence().as_single_text_promise()))


MiniAgents().run(main())
