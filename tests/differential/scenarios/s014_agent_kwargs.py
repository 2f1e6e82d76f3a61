"""Agents receive keyword arguments from fork and trigger; trigger kwargs override fork kwargs."""

from miniagents import MiniAgents, miniagent


@miniagent
async def greeter(ctx, greeting="hello", name="world"):
    ctx.reply(f"{greeting}, {name}")


async def main():
    print(str(await greeter.trigger().as_single_text_promise()))
    print(str(await greeter.trigger(name="you").as_single_text_promise()))
    forked = greeter.fork(greeting="hi")
    print(str(await forked.trigger().as_single_text_promise()))
    print(str(await forked.trigger(greeting="hey").as_single_text_promise()))


MiniAgents().run(main())
