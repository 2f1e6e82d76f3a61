"""`miniagents.ext.llms.anthropic`: the module path MiniAgents uses for its Anthropic agent (the same objects as
`from miniagents.ext.llms import ...`)."""

from miniagents.ext.llms.anthropic_agent import AnthropicAgent
from miniagents.ext.llms.messages import AnthropicMessage
from miniagents.ext.llms.prepare import aprepare_dicts_for_anthropic, message_to_llm_dict

__all__ = ["AnthropicAgent", "AnthropicMessage", "aprepare_dicts_for_anthropic", "message_to_llm_dict"]
