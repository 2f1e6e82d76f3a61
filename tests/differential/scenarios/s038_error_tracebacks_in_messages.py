"""error_tracebacks_in_messages: an ErrorMessage carries the traceback."""

from miniagents import MiniAgents, miniagent


@miniagent
async def failing(ctx):
    raise ValueError("broken")


async def main():
    messages = await failing.trigger()
    text = str(messages[-1])
    print(type(messages[-1]).__name__, text.startswith("Traceback"), "ValueError: broken" in text)


MiniAgents(errors_as_messages=True, error_tracebacks_in_messages=True).run(main())
