"""miniagents.ext.agent_loop chains agents in a loop until one raises; without AWAIT it is refused."""

from miniagents import MiniAgents, miniagent
from miniagents.ext import AWAIT, agent_loop

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
    try:
        await agent_loop.trigger("start", agents=[user, bot])
    except ValueError:
        print("refused without AWAIT")
    try:
        await agent_loop.trigger("start", agents=[user, AWAIT, bot])
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    print(turns)


MiniAgents().run(main())
