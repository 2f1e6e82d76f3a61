"""miniagents.ext.console_output_agent prints messages token by token, headed by their speaker."""

from miniagents import MiniAgents, TextMessage
from miniagents.ext import console_output_agent


async def main():
    messages = ["hello", TextMessage("there", role="user"), TextMessage("x", role="assistant", agent_alias="BOT")]
    await console_output_agent.trigger(messages)
    await console_output_agent.trigger(["plain"], assistant_style=93, default_role="system")


MiniAgents().run(main())
