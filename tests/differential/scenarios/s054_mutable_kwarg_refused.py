"""A kwarg that cannot be frozen is refused (with a ValueError or TypeError)."""

from miniagents import MiniAgents, miniagent


@miniagent
async def agent(ctx, value=None):
    ctx.reply("ran")


async def main():
    print(str(await agent.trigger(value=[1, {"a": 2}]).as_single_text_promise()))
    try:
        await agent.trigger(value=object())
        print("accepted")
    except (ValueError, TypeError) as error:
        print("refused", isinstance(error, ValueError))


MiniAgents().run(main())
