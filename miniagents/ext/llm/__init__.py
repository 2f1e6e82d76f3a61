"""Deprecated home of the LLM integrations; use `miniagents.ext.llms` instead.

Kept so that code written for older MiniAgents still runs: `from miniagents.ext.llm.openai import openai_agent`,
`from miniagents.ext.llm.anthropic import anthropic_agent` and `from miniagents.ext.llm.llm_common import
UserMessage, SystemMessage, AssistantMessage` work and emit a DeprecationWarning naming the replacement.
"""

__all__: list[str] = []
