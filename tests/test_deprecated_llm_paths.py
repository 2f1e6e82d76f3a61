"""Older LLM import paths and parameter names (seed 004) keep working and warn with the replacement."""

import importlib
import sys

import pytest

from miniagents import Message, MiniAgents
from miniagents.ext.llms import (
    OFFLINE_ENV_VAR,
    AnthropicAgent,
    AnthropicMessage,
    AssistantMessage,
    OpenAIAgent,
    OpenAIMessage,
    SystemMessage,
    UserMessage,
    message_to_llm_dict,
)
from miniagents.ext.llms.offline import OfflineLLMServer, get_offline_llm_server

pytestmark = pytest.mark.timeout(30)

OLD_AGENT_PATHS = [
    pytest.param("miniagents.ext.llm.openai", "openai_agent", OpenAIAgent, id="openai"),
    pytest.param("miniagents.ext.llm.anthropic", "anthropic_agent", AnthropicAgent, id="anthropic"),
]


@pytest.fixture(autouse=True)
def _offline_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv(OFFLINE_ENV_VAR, "1")


@pytest.fixture
def fresh_old_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the already imported old modules, so that their import runs (and warns) again in this test."""
    for name in list(sys.modules):
        if name == "miniagents.ext.llm" or name.startswith("miniagents.ext.llm."):
            monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize(("package", "name", "new_agent"), OLD_AGENT_PATHS)
def test_old_agent_name_is_the_new_agent_and_warns(package: str, name: str, new_agent: object) -> None:
    old_package = importlib.import_module(package)
    with pytest.warns(
        DeprecationWarning, match=rf"`{package}\.{name}` is deprecated; use `from miniagents\.ext\.llms"
    ):
        old_agent = getattr(old_package, name)

    assert old_agent is new_agent


@pytest.mark.parametrize(("package", "name", "new_agent"), OLD_AGENT_PATHS)
@pytest.mark.usefixtures("fresh_old_modules")
def test_old_agent_module_imports_with_a_warning_and_does_not_shadow_the_agent(
    package: str, name: str, new_agent: object
) -> None:
    with pytest.warns(DeprecationWarning, match=rf"`{package}\.{name}` is deprecated"):
        module = importlib.import_module(f"{package}.{name}")
    with pytest.warns(DeprecationWarning):
        old_agent = getattr(__import__(package, fromlist=[name]), name)  # what `from package import name` does

    assert getattr(module, name) is new_agent
    assert old_agent is new_agent  # importing the submodule did not replace the agent by the module


def test_old_message_classes_are_the_new_ones_and_warn() -> None:
    from miniagents.ext.llm import llm_common

    with pytest.warns(DeprecationWarning, match=r"llm_common\.UserMessage` is deprecated"):
        assert llm_common.UserMessage is UserMessage
    with pytest.warns(DeprecationWarning):
        assert llm_common.SystemMessage is SystemMessage
    with pytest.warns(DeprecationWarning):
        assert llm_common.AssistantMessage is AssistantMessage
    with pytest.warns(DeprecationWarning):
        assert llm_common.message_to_llm_dict is message_to_llm_dict
    with pytest.warns(DeprecationWarning):
        from miniagents.ext.llm.openai import OpenAIMessage as OldOpenAIMessage
    with pytest.warns(DeprecationWarning):
        from miniagents.ext.llm.anthropic import AnthropicMessage as OldAnthropicMessage

    assert OldOpenAIMessage is OpenAIMessage
    assert OldAnthropicMessage is AnthropicMessage
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchName'"):
        _ = llm_common.NoSuchName


def test_seed_message_classes_still_take_text() -> None:
    with pytest.warns(DeprecationWarning):
        from miniagents.ext.llm.llm_common import AssistantMessage as OldAssistantMessage
        from miniagents.ext.llm.llm_common import SystemMessage as OldSystemMessage
        from miniagents.ext.llm.llm_common import UserMessage as OldUserMessage
    with pytest.warns(DeprecationWarning, match=r"Message\(text=\.\.\.\)"):
        messages = [
            OldUserMessage(text="Hello!"),
            OldSystemMessage(text="System message"),
            OldAssistantMessage(text="Assistant message"),
        ]

    assert [message_to_llm_dict(message) for message in messages] == [
        {"role": "user", "content": "Hello!"},
        {"role": "system", "content": "System message"},
        {"role": "assistant", "content": "Assistant message"},
    ]


@pytest.mark.parametrize("agent", [OpenAIAgent, AnthropicAgent], ids=["openai", "anthropic"])
async def test_reply_metadata_is_the_old_name_of_response_metadata(agent: object, server: OfflineLLMServer) -> None:
    client_factory = server.openai_client if agent is OpenAIAgent else server.anthropic_client
    async with client_factory() as client, MiniAgents():
        forked = agent.fork(non_freezable_kwargs={"async_client": client})
        with pytest.warns(DeprecationWarning, match="`reply_metadata` is deprecated; use `response_metadata`"):
            [message] = await forked.trigger("Hi", model="m", reply_metadata={"not_for_user": True})
        with (
            pytest.warns(DeprecationWarning),
            pytest.raises(TypeError, match="Pass only one of `response_metadata` and `reply_metadata`"),
        ):
            await forked.trigger("Hi", model="m", reply_metadata={"a": 1}, response_metadata={"b": 2})

    assert message.not_for_user is True


async def test_seed_readme_snippet_runs_offline() -> None:
    with pytest.warns(DeprecationWarning):
        from miniagents.ext.llm.openai import openai_agent
    with pytest.warns(DeprecationWarning):
        llm_agent = openai_agent.fork(model="gpt-3.5-turbo")

        async with MiniAgents():
            replies = llm_agent.inquire(
                Message(text="Hello, how are you?", role="user"),
                system="You are a helpful assistant.",
                max_tokens=50,
                temperature=0.7,
            )
            texts = [str(await reply) async for reply in replies]

    assert len(texts) == 1
    assert "Hello, how are you?" in texts[0]
    request = get_offline_llm_server().requests[-1]
    assert request["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert request["temperature"] == 0.7
