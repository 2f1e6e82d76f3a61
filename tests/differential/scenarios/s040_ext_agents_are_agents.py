"""console_user_agent, console_output_agent and MarkdownHistoryAgent are MiniAgents agents."""

from miniagents import MiniAgent
from miniagents.ext import MarkdownHistoryAgent, console_output_agent, console_user_agent

print(isinstance(console_user_agent, MiniAgent), isinstance(console_output_agent, MiniAgent))
print(isinstance(MarkdownHistoryAgent, (MiniAgent, type)))
