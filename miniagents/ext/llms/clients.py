"""The SDK clients the LLM agents use when none is passed: the real provider when its key is set, offline otherwise.

- `OPENAI_API_KEY` (resp. `ANTHROPIC_API_KEY`) set → `openai.AsyncOpenAI()` (resp. `anthropic.AsyncAnthropic()`), so
  the SDK's own environment variables (base URL, organisation, …) apply as usual.
- Key not set → a client of the offline stand-in (`miniagents.ext.llms.offline`): a local HTTP server that speaks
  the provider's protocol and answers deterministically, so tutorials and tests run with no key and no network.
  This is announced once, in an INFO log message of `miniagents.ext.llms.clients`.
- `MINIAGENTS_LLM_OFFLINE=1` forces the offline stand-in even when a key is set (what test suites want).

Switching to the real provider therefore needs nothing but the key: `export OPENAI_API_KEY=...` before starting.
A client is reused within one event loop (a client is bound to the loop it first ran in) and made anew for another.
"""

import asyncio
import importlib
import logging
import os
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anthropic
    import openai

__all__ = [
    "OFFLINE_ENV_VAR",
    "client_for_this_loop",
    "default_anthropic_client",
    "default_openai_client",
    "llm_offline_forced",
]

OFFLINE_ENV_VAR = "MINIAGENTS_LLM_OFFLINE"

logger = logging.getLogger(__name__)

_FALSE_VALUES = ("", "0", "false", "no", "off")
_clients: dict[tuple[str, ...], tuple["weakref.ref[asyncio.AbstractEventLoop]", Any]] = {}
_announced: set[tuple[str, str]] = set()


def llm_offline_forced() -> bool:
    """Whether `MINIAGENTS_LLM_OFFLINE` asks for the offline stand-in regardless of API keys."""
    return os.environ.get(OFFLINE_ENV_VAR, "").strip().lower() not in _FALSE_VALUES


def default_openai_client() -> "openai.AsyncOpenAI":
    """The client `OpenAIAgent` uses when none is passed (real with `OPENAI_API_KEY`, offline stand-in otherwise)."""

    def real_client() -> "openai.AsyncOpenAI":
        import openai

        return openai.AsyncOpenAI()

    return _default_client("openai", "OPENAI_API_KEY", "OpenAI", real_client)


def default_anthropic_client() -> "anthropic.AsyncAnthropic":
    """The client `AnthropicAgent` uses when none is passed (real with `ANTHROPIC_API_KEY`, offline otherwise)."""

    def real_client() -> "anthropic.AsyncAnthropic":
        import anthropic

        return anthropic.AsyncAnthropic()

    return _default_client("anthropic", "ANTHROPIC_API_KEY", "Anthropic", real_client)


def _default_client(provider: str, key_env_var: str, provider_name: str, real_client: Callable[[], Any]) -> Any:
    api_key = os.environ.get(key_env_var, "").strip()
    if api_key and not llm_offline_forced():
        return client_for_this_loop((provider, "real", api_key), real_client)

    from miniagents.ext.llms.offline import get_offline_llm_server

    server = get_offline_llm_server()
    _announce_offline(provider, key_env_var, provider_name, server.base_url, forced=bool(api_key))

    def offline_client() -> Any:
        # no idle connections are kept: a shared client is never closed, and loopback connections are cheap
        sdk = importlib.import_module(provider)
        limits = type(sdk.DEFAULT_CONNECTION_LIMITS)(max_connections=100, max_keepalive_connections=0)
        return getattr(server, f"{provider}_client")(http_client=sdk.DefaultAsyncHttpxClient(limits=limits))

    return client_for_this_loop((provider, "offline", server.base_url), offline_client)


def client_for_this_loop(cache_key: tuple[str, ...], make_client: Callable[[], Any]) -> Any:
    """The client cached under `cache_key` for the running event loop (a client is bound to its loop), made if none."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return make_client()  # no loop yet (e.g. at import time): the client binds to the loop it first runs in
    cached = _clients.get(cache_key)
    if cached is not None and cached[0]() is loop:
        return cached[1]
    client = make_client()
    _clients[cache_key] = (weakref.ref(loop), client)
    return client


def _announce_offline(provider: str, key_env_var: str, provider_name: str, base_url: str, forced: bool) -> None:
    reason = "forced" if forced else "no key"
    if (provider, reason) in _announced:
        return
    _announced.add((provider, reason))
    if forced:
        logger.info(
            "%s=%s, so %s requests go to the offline LLM stand-in at %s although %s is set. Unset %s to use the "
            "real %s API.",
            OFFLINE_ENV_VAR,
            os.environ.get(OFFLINE_ENV_VAR),
            provider_name,
            base_url,
            key_env_var,
            OFFLINE_ENV_VAR,
            provider_name,
        )
    else:
        logger.info(
            "%s is not set, so %s requests go to the offline LLM stand-in at %s (deterministic replies, no network). "
            "Set %s to use the real %s API; nothing else needs to change.",
            key_env_var,
            provider_name,
            base_url,
            key_env_var,
            provider_name,
        )
