"""as_single_text_promise joins the texts of a sequence with blank lines."""

from miniagents import MiniAgents, miniagent


@miniagent
async def several(ctx):
    ctx.reply(["first", "second", "third"])


async def main():
    single = several.trigger().as_single_text_promise()
    print(repr(str(await single)))
    print([str(token) async for token in single][:1] != [])


MiniAgents().run(main())
