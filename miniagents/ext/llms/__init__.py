"""LLM agents for OpenAI and Anthropic, the helpers that turn messages into provider prompts, and LLM call logging.

    from miniagents.ext.llms import OpenAIAgent, aprepare_dicts_for_openai

    reply_sequence = OpenAIAgent.trigger("Hi!", model="gpt-4o-mini", system="Be brief.")

Offline by default: without `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` the agents (and `default_openai_client()` /
`default_anthropic_client()`) use a local stand-in of the provider's API (`miniagents.ext.llms.offline`) that answers
deterministically. Set the key to use the real provider; nothing else changes. `MINIAGENTS_LLM_OFFLINE=1` forces the
stand-in even when a key is set.

The names below are imported on first use: `import miniagents.ext.llms.offline` (say) does not load the agents.
"""

from typing import TYPE_CHECKING

from miniagents.promising._lazy import lazy_exports

if TYPE_CHECKING:
    from miniagents.errors import LLMResponseError
    from miniagents.ext.llms.anthropic_agent import DEFAULT_ANTHROPIC_MAX_TOKENS, AnthropicAgent
    from miniagents.ext.llms.clients import (
        OFFLINE_ENV_VAR,
        default_anthropic_client,
        default_openai_client,
        llm_offline_forced,
    )
    from miniagents.ext.llms.llm_logger import markdown_llm_logger_agent, render_llm_log
    from miniagents.ext.llms.messages import (
        AnthropicMessage,
        AssistantMessage,
        OpenAIMessage,
        SystemMessage,
        UserMessage,
    )
    from miniagents.ext.llms.openai_agent import OpenAIAgent
    from miniagents.ext.llms.prepare import (
        AnthropicMessageDicts,
        aprepare_dicts_for_anthropic,
        aprepare_dicts_for_openai,
        message_to_llm_dict,
    )

__all__ = [
    "DEFAULT_ANTHROPIC_MAX_TOKENS",
    "OFFLINE_ENV_VAR",
    "AnthropicAgent",
    "AnthropicMessage",
    "AnthropicMessageDicts",
    "AssistantMessage",
    "LLMResponseError",
    "OpenAIAgent",
    "OpenAIMessage",
    "SystemMessage",
    "UserMessage",
    "aprepare_dicts_for_anthropic",
    "aprepare_dicts_for_openai",
    "default_anthropic_client",
    "default_openai_client",
    "llm_offline_forced",
    "markdown_llm_logger_agent",
    "message_to_llm_dict",
    "render_llm_log",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "miniagents.ext.llms.anthropic_agent": ["DEFAULT_ANTHROPIC_MAX_TOKENS", "AnthropicAgent"],
        "miniagents.ext.llms.clients": [
            "OFFLINE_ENV_VAR",
            "default_anthropic_client",
            "default_openai_client",
            "llm_offline_forced",
        ],
        "miniagents.errors": ["LLMResponseError"],
        "miniagents.ext.llms.llm_logger": ["markdown_llm_logger_agent", "render_llm_log"],
        "miniagents.ext.llms.messages": [
            "AnthropicMessage",
            "AssistantMessage",
            "OpenAIMessage",
            "SystemMessage",
            "UserMessage",
        ],
        "miniagents.ext.llms.openai_agent": ["OpenAIAgent"],
        "miniagents.ext.llms.prepare": [
            "AnthropicMessageDicts",
            "aprepare_dicts_for_anthropic",
            "aprepare_dicts_for_openai",
            "message_to_llm_dict",
        ],
    },
)
