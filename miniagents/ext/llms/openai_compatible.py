"""Any server that speaks OpenAI's chat-completions protocol, by base URL: vLLM, llama.cpp, Ollama, LM Studio, …

    local_llm = openai_compatible_agent("http://127.0.0.1:8000/v1", alias="LocalLLM", model="smollm2")
    reply_sequence = local_llm.trigger("Hi!", max_concurrency=4)

This whole provider is this module: an `OpenAIProvider` whose default client is aimed at `base_url`.
"""

import os
from typing import Any

from miniagents.ext.llms.clients import client_for_this_loop
from miniagents.ext.llms.llm_agent import DEFAULT_LLM_TIMEOUT, LLMAgent
from miniagents.ext.llms.openai_agent import OpenAIProvider

__all__ = ["openai_compatible_agent"]


def openai_compatible_agent(
    base_url: str,
    *,
    alias: str = "OpenAICompatibleAgent",
    api_key: str | None = None,
    api_key_env_var: str | None = None,
    provider_name: str = "openai-compatible",
    timeout: float = DEFAULT_LLM_TIMEOUT,
    schema_format: str = "json_schema",
    **kwargs_to_freeze: Any,
) -> LLMAgent:
    """An `LLMAgent` for the OpenAI-compatible server at `base_url` (e.g. `http://127.0.0.1:8000/v1`).

    The key is `api_key`, else the environment variable `api_key_env_var`, else a placeholder (local servers
    usually need none). It is held by the client only, never in the agent's keyword arguments, so it is never
    recorded. `schema_format="json_object"` is for servers that take typed output's schema as
    `{"type": "json_object", "schema": ...}` (llama.cpp's) rather than OpenAI's `json_schema`. `kwargs_to_freeze`
    (`model=…`, `temperature=…`) are fixed for every call, as with `fork`.
    """

    def make_client() -> Any:
        import openai

        key = api_key or (os.environ.get(api_key_env_var, "") if api_key_env_var else "") or "not-needed"
        return client_for_this_loop(
            ("openai-compatible", base_url, key),
            lambda: openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=timeout),
        )

    provider = OpenAIProvider(client_factory=make_client, name=provider_name, schema_format=schema_format)
    return LLMAgent(provider, alias=alias, **kwargs_to_freeze)
