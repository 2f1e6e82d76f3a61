"""Deprecated: use `from miniagents.ext.llms import AnthropicAgent` (`anthropic_agent` here is that same agent)."""

from miniagents.ext.llm._aliases import install_deprecated_aliases

__all__ = ["AnthropicMessage", "anthropic_agent"]

install_deprecated_aliases(
    __name__,
    {
        "anthropic_agent": "miniagents.ext.llms:AnthropicAgent",
        "AnthropicMessage": "miniagents.ext.llms:AnthropicMessage",
    },
)
