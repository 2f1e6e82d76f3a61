"""`miniagents.ext.llms.llm_utils`: the module path MiniAgents uses for the LLM agents' common parts (the base class,
the role messages, the LLM logger) — the same objects as `from miniagents.ext.llms import ...`."""

from miniagents.ext.llms.llm_agent import LLMAgent
from miniagents.ext.llms.llm_logger import markdown_llm_logger_agent
from miniagents.ext.llms.messages import AssistantMessage, SystemMessage, UserMessage
from miniagents.ext.llms.prepare import message_to_llm_dict
from miniagents.messages import MessageTokenAppender

__all__ = [
    "AssistantMessage",
    "LLMAgent",
    "MessageTokenAppender",
    "SystemMessage",
    "UserMessage",
    "markdown_llm_logger_agent",
    "message_to_llm_dict",
]
