"""get_current_agent_trace and display_agent_trace."""

from miniagents import MiniAgents, miniagent
from miniagents.utils import display_agent_trace, get_current_agent_trace


@miniagent
async def inner(ctx):
    ctx.reply(display_agent_trace().lower())
    ctx.reply(str([agent.alias.lower() for agent in get_current_agent_trace()]))


@miniagent
async def outer(ctx):
    ctx.reply(inner.trigger())


async def main():
    print([str(m) for m in await outer.trigger()])
    try:
        get_current_agent_trace()
    except Exception:
        print("no agent running")


MiniAgents().run(main())
