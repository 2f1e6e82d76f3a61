"""An error inside an agent is raised to the consumer of its replies."""

from miniagents import MiniAgents, miniagent


@miniagent
async def failing(ctx):
    ctx.reply("before")
    raise ValueError("broken")


async def main():
    replies = failing.trigger()
    try:
        async for promise in replies:
            print(str(await promise))
    except ValueError as error:
        print("ValueError", error)


MiniAgents().run(main())
