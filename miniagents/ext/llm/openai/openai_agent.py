"""Deprecated module path of the OpenAI agent; use `from miniagents.ext.llms import OpenAIAgent`."""

from miniagents.ext.llms import OpenAIAgent, OpenAIMessage
from miniagents.promising._deprecation import warn_deprecated

__all__ = ["OpenAIMessage", "openai_agent"]

warn_deprecated(__name__, "from miniagents.ext.llms import OpenAIAgent", stacklevel=3)

openai_agent = OpenAIAgent
