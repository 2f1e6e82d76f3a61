"""MiniAgents options that code written for MiniAgents passes are accepted."""

import logging

from miniagents import MiniAgents, miniagent


@miniagent
async def echo(ctx):
    ctx.reply(ctx.message_promises)


async def main():
    print([str(message) for message in await echo.trigger("ok")])


MiniAgents(
    stream_llm_tokens_by_default=False,
    errors_as_messages=True,
    error_tracebacks_in_messages=True,
    log_reduced_tracebacks=False,
    await_reply_persistence_before_agent_finish=True,
    logger=logging.getLogger("scenario"),
).run(main())
