"""Fixtures shared by the test modules: the offline LLM stand-in, no real provider reachable by accident, and the
garbage collector off for the tests that count what it finds."""

import gc
from collections.abc import Iterator

import pytest

from miniagents.ext.llms import OFFLINE_ENV_VAR
from miniagents.ext.llms.offline import OfflineLLMServer, start_offline_llm_server

PROVIDER_ENV_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", OFFLINE_ENV_VAR)


@pytest.fixture
def no_real_llm_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No API key, base URL or offline switch from the environment: clients go where a test points them."""
    for variable in PROVIDER_ENV_VARS:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def server() -> Iterator[OfflineLLMServer]:
    """The offline LLM stand-in on a free loopback port (a small pause between streamed tokens)."""
    with start_offline_llm_server(token_delay=0.001) as offline_server:
        yield offline_server


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The cyclic garbage collector off for the test (what it would find is counted with `gc.collect()` after)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
