"""An agent can be passed to another agent as a keyword argument (agents are immutable)."""

from miniagents import MiniAgents, miniagent


@miniagent
async def helper(ctx):
    ctx.reply("helped")


@miniagent
async def boss(ctx, assistant, team=()):
    ctx.reply(assistant.trigger())
    ctx.reply(str(len(team)))


async def main():
    print([str(m) for m in await boss.trigger(assistant=helper, team=[helper, helper])])


MiniAgents().run(main())
