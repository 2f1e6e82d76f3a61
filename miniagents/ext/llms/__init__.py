"""LLM agents for OpenAI and Anthropic, the helpers that turn messages into provider prompts, and LLM call logging.

    from miniagents.ext.llms import OpenAIAgent, aprepare_dicts_for_openai

    reply_sequence = OpenAIAgent.trigger("Hi!", model="gpt-4o-mini", system="Be brief.")

Offline by default: without `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` the agents (and `default_openai_client()` /
`default_anthropic_client()`) use a local stand-in of the provider's API (`miniagents.ext.llms.offline`) that answers
deterministically. Set the key to use the real provider; nothing else changes. `MINIAGENTS_LLM_OFFLINE=1` forces the
stand-in even when a key is set.

Every LLM agent is an `LLMAgent` around an `LLMProvider` (`OpenAIProvider`, `AnthropicProvider`; any OpenAI-compatible
server is `openai_compatible_agent(base_url)`), and so shares tools as agents (`tools=[...]`), typed output
(`response_format=SomeModel`), normalised `token_usage` (and `cost_usd`; `UsageTotals` sums them), limits
(`max_concurrency=`, `requests_per_minute=`, `configure_llm_limits`), retries and timeouts, the `LLMError` family, and
redaction of credentials. See `miniagents.ext.llms.llm_agent`.

The names below are imported on first use: `import miniagents.ext.llms.offline` (say) does not load the agents.
"""

from typing import TYPE_CHECKING

from miniagents.promising._lazy import lazy_exports

if TYPE_CHECKING:
    from miniagents.errors import (
        LLMConnectionError,
        LLMError,
        LLMIncompleteResponseError,
        LLMOutputValidationError,
        LLMRateLimitError,
        LLMResponseError,
        LLMServerError,
        LLMStatusError,
        LLMTimeoutError,
        LLMToolRoundsError,
    )
    from miniagents.ext.llms.anthropic_agent import DEFAULT_ANTHROPIC_MAX_TOKENS, AnthropicAgent, AnthropicProvider
    from miniagents.ext.llms.clients import (
        OFFLINE_ENV_VAR,
        default_anthropic_client,
        default_openai_client,
        llm_offline_forced,
    )
    from miniagents.ext.llms.llm_agent import (
        DEFAULT_LLM_MAX_RETRIES,
        DEFAULT_LLM_TIMEOUT,
        LLMAgent,
        LLMProvider,
        LLMRequest,
        configure_llm_limits,
    )
    from miniagents.ext.llms.llm_logger import markdown_llm_logger_agent, render_llm_log
    from miniagents.ext.llms.messages import (
        AnthropicMessage,
        AssistantMessage,
        OpenAIMessage,
        SystemMessage,
        UserMessage,
    )
    from miniagents.ext.llms.openai_agent import OpenAIAgent, OpenAIProvider
    from miniagents.ext.llms.openai_compatible import openai_compatible_agent
    from miniagents.ext.llms.prepare import (
        AnthropicMessageDicts,
        aprepare_dicts_for_anthropic,
        aprepare_dicts_for_openai,
        message_to_llm_dict,
    )
    from miniagents.ext.llms.tools import ToolSpec
    from miniagents.ext.llms.usage import QUEUED_SECONDS_FIELD, UsageTotals, normalized_usage

__all__ = [
    "DEFAULT_ANTHROPIC_MAX_TOKENS",
    "DEFAULT_LLM_MAX_RETRIES",
    "DEFAULT_LLM_TIMEOUT",
    "OFFLINE_ENV_VAR",
    "QUEUED_SECONDS_FIELD",
    "AnthropicAgent",
    "AnthropicMessage",
    "AnthropicMessageDicts",
    "AnthropicProvider",
    "AssistantMessage",
    "LLMAgent",
    "LLMConnectionError",
    "LLMError",
    "LLMIncompleteResponseError",
    "LLMOutputValidationError",
    "LLMProvider",
    "LLMRateLimitError",
    "LLMRequest",
    "LLMResponseError",
    "LLMServerError",
    "LLMStatusError",
    "LLMTimeoutError",
    "LLMToolRoundsError",
    "OpenAIAgent",
    "OpenAIMessage",
    "OpenAIProvider",
    "SystemMessage",
    "ToolSpec",
    "UsageTotals",
    "UserMessage",
    "aprepare_dicts_for_anthropic",
    "aprepare_dicts_for_openai",
    "configure_llm_limits",
    "default_anthropic_client",
    "default_openai_client",
    "llm_offline_forced",
    "markdown_llm_logger_agent",
    "message_to_llm_dict",
    "normalized_usage",
    "openai_compatible_agent",
    "render_llm_log",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "miniagents.ext.llms.anthropic_agent": ["DEFAULT_ANTHROPIC_MAX_TOKENS", "AnthropicAgent", "AnthropicProvider"],
        "miniagents.ext.llms.llm_agent": [
            "DEFAULT_LLM_MAX_RETRIES",
            "DEFAULT_LLM_TIMEOUT",
            "LLMAgent",
            "LLMProvider",
            "LLMRequest",
            "configure_llm_limits",
        ],
        "miniagents.ext.llms.openai_compatible": ["openai_compatible_agent"],
        "miniagents.ext.llms.tools": ["ToolSpec"],
        "miniagents.ext.llms.usage": ["QUEUED_SECONDS_FIELD", "UsageTotals", "normalized_usage"],
        "miniagents.ext.llms.clients": [
            "OFFLINE_ENV_VAR",
            "default_anthropic_client",
            "default_openai_client",
            "llm_offline_forced",
        ],
        "miniagents.errors": [
            "LLMConnectionError",
            "LLMError",
            "LLMIncompleteResponseError",
            "LLMOutputValidationError",
            "LLMRateLimitError",
            "LLMResponseError",
            "LLMServerError",
            "LLMStatusError",
            "LLMTimeoutError",
            "LLMToolRoundsError",
        ],
        "miniagents.ext.llms.llm_logger": ["markdown_llm_logger_agent", "render_llm_log"],
        "miniagents.ext.llms.messages": [
            "AnthropicMessage",
            "AssistantMessage",
            "OpenAIMessage",
            "SystemMessage",
            "UserMessage",
        ],
        "miniagents.ext.llms.openai_agent": ["OpenAIAgent", "OpenAIProvider"],
        "miniagents.ext.llms.prepare": [
            "AnthropicMessageDicts",
            "aprepare_dicts_for_anthropic",
            "aprepare_dicts_for_openai",
            "message_to_llm_dict",
        ],
    },
)
