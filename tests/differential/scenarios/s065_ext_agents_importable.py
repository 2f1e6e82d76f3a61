"""Agents that MiniAgents users import from miniagents.ext."""

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
