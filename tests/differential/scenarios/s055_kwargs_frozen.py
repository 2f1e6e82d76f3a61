"""Lists and dicts passed as kwargs arrive frozen (tuples and Frozen)."""

from miniagents import MiniAgents, miniagent


@miniagent
async def agent(ctx, items, mapping):
    ctx.reply(f"{type(items).__name__} {type(mapping).__name__} {items} {mapping['a']}")


async def main():
    print(str(await agent.trigger(items=[1, 2], mapping={"a": 1}).as_single_text_promise()))


MiniAgents().run(main())
