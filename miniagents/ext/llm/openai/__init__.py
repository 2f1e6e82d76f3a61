"""Deprecated: use `from miniagents.ext.llms import OpenAIAgent` (`openai_agent` here is that same agent)."""

from miniagents.ext.llm._aliases import install_deprecated_aliases

__all__ = ["OpenAIMessage", "openai_agent"]

install_deprecated_aliases(
    __name__,
    {
        "openai_agent": "miniagents.ext.llms:OpenAIAgent",
        "OpenAIMessage": "miniagents.ext.llms:OpenAIMessage",
    },
)
