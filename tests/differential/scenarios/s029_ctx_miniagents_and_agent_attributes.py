"""ctx.miniagents, AgentCall.agent and MiniAgent.wrapped_func_or_class."""

from miniagents import MiniAgents, miniagent


async def plain(ctx):
    ctx.reply(str(ctx.miniagents is MiniAgents.get_current()))


agent = miniagent(plain)


async def main():
    print(agent.wrapped_func_or_class is plain)
    call = agent.initiate_call()
    print(call.agent is agent)
    print(str(await call.reply_sequence().as_single_text_promise()))


MiniAgents().run(main())
