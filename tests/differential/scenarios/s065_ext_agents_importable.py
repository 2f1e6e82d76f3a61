"""Agents that MiniAgents users import from miniagents.ext."""

# known gap: `miniagents.ext` does not export `console_user_agent`, `console_output_agent`, `dialog_loop`,
#   `agent_loop`, `MarkdownHistoryAgent`, `markdown_llm_logger_agent` as agents yet (they exist here as modules,
#   loop functions and chat histories with other signatures)
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
