"""A class can be an agent: __init__(ctx, **kwargs) and async __call__."""

from miniagents import MiniAgents, miniagent


@miniagent
class Counter:
    def __init__(self, ctx, start=0):
        self.ctx = ctx
        self.start = start

    async def __call__(self):
        self.ctx.reply(str(self.start + 1))


async def main():
    print(str(await Counter.trigger(start=4).as_single_text_promise()))


MiniAgents().run(main())
