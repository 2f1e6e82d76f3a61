"""console_user_agent, console_output_agent and MarkdownHistoryAgent are MiniAgents agents."""

# known gap: `miniagents.ext.console_user_agent` is the module of that name here (the agent in it takes a
#   `chat_history` instead of MiniAgents' `output_agent` / `input_agent` / `history_agent`)
from miniagents import MiniAgent
from miniagents.ext import MarkdownHistoryAgent, console_output_agent, console_user_agent

print(isinstance(console_user_agent, MiniAgent), isinstance(console_output_agent, MiniAgent))
print(isinstance(MarkdownHistoryAgent, (MiniAgent, type)))
