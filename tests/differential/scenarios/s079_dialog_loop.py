"""miniagents.ext.dialog_loop: the user speaks first, the prompt goes to the assistant after the user's words."""

from miniagents import MiniAgents, miniagent
from miniagents.ext import dialog_loop

turns = []


@miniagent
async def user(ctx):
    got = [str(m) for m in await ctx.message_promises]
    turns.append(("user", got))
    if len(turns) > 4:
        raise KeyboardInterrupt
    ctx.reply(f"u{len(turns)}")


@miniagent
async def bot(ctx):
    got = [str(m) for m in await ctx.message_promises]
    turns.append(("bot", got))
    ctx.reply(f"b{len(turns)}")


async def main():
    await dialog_loop.trigger("prompt", user_agent=user, assistant_agent=bot)
    print(turns)


MiniAgents().run(main())
