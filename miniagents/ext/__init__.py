"""Optional parts of MiniAgents (LLM agents, chat history, console user agent, persistence), each in its own package.

Nothing here is imported by the core, so the core works without the extra dependencies these parts need. The agents
MiniAgents offers here are imported on first use: `agent_loop`, `dialog_loop` (with `AWAIT`, `CLEAR`),
`console_output_agent`, `console_user_agent`, `markdown_llm_logger_agent`, `MarkdownHistoryAgent`.

`console_user_agent` is also the name of the module that defines it (the older import path
`from miniagents.ext.console_user_agent import console_user_agent`). Importing a submodule normally makes it the
package's attribute of that name, which would turn `from miniagents.ext import console_user_agent` into the module
once anything had imported the module; so this package is a module of the class `_ExtPackage`, whose
`console_user_agent` is always the agent.
"""

import sys
import types
from typing import TYPE_CHECKING, Any

from miniagents.promising._lazy import lazy_exports

if TYPE_CHECKING:
    from miniagents.ext.console_output_agent import console_output_agent
    from miniagents.ext.console_user_agent import console_user_agent
    from miniagents.ext.llms.llm_logger import markdown_llm_logger_agent
    from miniagents.ext.loop_agents import AWAIT, CLEAR, agent_loop, dialog_loop
    from miniagents.ext.markdown_history_agent import MarkdownHistoryAgent

__all__ = [
    "AWAIT",
    "CLEAR",
    "MarkdownHistoryAgent",
    "agent_loop",
    "console_output_agent",
    "console_user_agent",
    "dialog_loop",
    "markdown_llm_logger_agent",
]

__getattr__, _lazy_dir = lazy_exports(
    globals(),
    {
        "miniagents.ext.console_output_agent": ["console_output_agent"],
        "miniagents.ext.llms.llm_logger": ["markdown_llm_logger_agent"],
        "miniagents.ext.loop_agents": ["AWAIT", "CLEAR", "agent_loop", "dialog_loop"],
        "miniagents.ext.markdown_history_agent": ["MarkdownHistoryAgent"],
    },
)


def __dir__() -> list[str]:
    return sorted({*_lazy_dir(), "console_user_agent"})


_CONSOLE_USER_AGENT_MODULE = f"{__name__}.console_user_agent"


class _ExtPackage(types.ModuleType):
    """`miniagents.ext` itself: `console_user_agent` is the agent, even once its module of that name is imported."""

    @property
    def console_user_agent(self) -> Any:
        assigned = self.__dict__.get("_assigned_console_user_agent")
        if assigned is not None:
            return assigned
        from miniagents.ext.console_user_agent import console_user_agent

        return console_user_agent

    @console_user_agent.setter
    def console_user_agent(self, value: Any) -> None:
        # the import system sets the submodule here once it is imported: the agent stays (a patch replaces it)
        if not (isinstance(value, types.ModuleType) and value.__name__ == _CONSOLE_USER_AGENT_MODULE):
            self.__dict__["_assigned_console_user_agent"] = value

    @console_user_agent.deleter
    def console_user_agent(self) -> None:
        self.__dict__.pop("_assigned_console_user_agent", None)


sys.modules[__name__].__class__ = _ExtPackage
