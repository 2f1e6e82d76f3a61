"""`miniagents.ext.llms.openai`: the module path MiniAgents uses for its OpenAI agent (the same objects as
`from miniagents.ext.llms import ...`)."""

from miniagents.ext.llms.messages import OpenAIMessage
from miniagents.ext.llms.openai_agent import OpenAIAgent
from miniagents.ext.llms.prepare import aprepare_dicts_for_openai, message_to_llm_dict

__all__ = ["OpenAIAgent", "OpenAIMessage", "aprepare_dicts_for_openai", "message_to_llm_dict"]
