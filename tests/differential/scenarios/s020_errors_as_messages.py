"""errors_as_messages=True turns an agent's error into an ErrorMessage."""

from miniagents import MiniAgents, miniagent


@miniagent
async def failing(ctx):
    ctx.reply("before")
    raise ValueError("broken")


async def main():
    messages = await failing.trigger()
    for message in messages:
        print(type(message).__name__)
    print(str(messages[0]))
    print("broken" in str(messages[-1]), "ValueError" in str(messages[-1]))


MiniAgents(errors_as_messages=True).run(main())
