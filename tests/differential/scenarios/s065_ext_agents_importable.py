"""Agents that MiniAgents users import from miniagents.ext."""

# known gap: `miniagents.ext` has no `MarkdownHistoryAgent` yet, and `miniagents.ext.console_user_agent` is the module
#   of that name (holding the agent, whose signature differs from MiniAgents' USER_AGENT)
import miniagents.ext

for name in [
    "console_user_agent",
    "console_output_agent",
    "dialog_loop",
    "agent_loop",
    "MarkdownHistoryAgent",
    "markdown_llm_logger_agent",
]:
    print(name, hasattr(miniagents.ext, name))
