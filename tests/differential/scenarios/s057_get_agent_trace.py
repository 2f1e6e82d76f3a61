"""ctx.get_agent_trace lists the agents from the current one up to the root."""

from miniagents import MiniAgents, miniagent


@miniagent
async def inner(ctx):
    ctx.reply(" > ".join(agent.alias.lower() for agent in ctx.get_agent_trace()))


@miniagent
async def outer(ctx):
    ctx.reply(inner.trigger())


async def main():
    print(str(await outer.trigger().as_single_text_promise()))


MiniAgents().run(main())
