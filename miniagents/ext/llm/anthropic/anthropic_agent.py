"""Deprecated module path of the Anthropic agent; use `from miniagents.ext.llms import AnthropicAgent`."""

from miniagents.ext.llms import AnthropicAgent, AnthropicMessage
from miniagents.promising._deprecation import warn_deprecated

__all__ = ["AnthropicMessage", "anthropic_agent"]

warn_deprecated(__name__, "from miniagents.ext.llms import AnthropicAgent", stacklevel=3)

anthropic_agent = AnthropicAgent
