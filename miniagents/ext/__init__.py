"""Optional parts of MiniAgents (LLM agents, chat history, console user agent, persistence), each in its own package.

Nothing here is imported by the core, so the core works without the extra dependencies these parts need. The agents
MiniAgents offers here are imported on first use: `agent_loop`, `dialog_loop` (with `AWAIT`, `CLEAR`),
`console_output_agent`, `markdown_llm_logger_agent`, `MarkdownHistoryAgent`.
"""

from typing import TYPE_CHECKING

from miniagents.promising._lazy import lazy_exports

if TYPE_CHECKING:
    from miniagents.ext.console_output_agent import console_output_agent
    from miniagents.ext.llms.llm_logger import markdown_llm_logger_agent
    from miniagents.ext.loop_agents import AWAIT, CLEAR, agent_loop, dialog_loop
    from miniagents.ext.markdown_history_agent import MarkdownHistoryAgent

__all__ = [
    "AWAIT",
    "CLEAR",
    "MarkdownHistoryAgent",
    "agent_loop",
    "console_output_agent",
    "dialog_loop",
    "markdown_llm_logger_agent",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "miniagents.ext.console_output_agent": ["console_output_agent"],
        "miniagents.ext.llms.llm_logger": ["markdown_llm_logger_agent"],
        "miniagents.ext.loop_agents": ["AWAIT", "CLEAR", "agent_loop", "dialog_loop"],
        "miniagents.ext.markdown_history_agent": ["MarkdownHistoryAgent"],
    },
)
