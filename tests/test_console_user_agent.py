"""`console_user_agent` and `examples/conversation.py`: a real terminal (pty), piped input, and in-process use."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from miniagents import InteractionContext, MiniAgents, TextMessage, miniagent
from miniagents.chat_history import InMemoryChatHistory
from miniagents.ext.chat_history_md import ChatHistoryMD
from miniagents.ext.console_user_agent import console_user_agent
from miniagents.utils import StopLoop, adialog_loop

CONVERSATION_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "conversation.py"
UNDERLINE = "=" * 40


def example_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}  # stay offline
    env.update(NO_COLOR="1", PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", **extra)
    return env


def spawn_example(*args: str, **env: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        [str(CONVERSATION_EXAMPLE), *args],
        env=example_env(**env),
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 120),
    )


@pytest.mark.timeout(60)
def test_conversation_in_a_real_terminal(tmp_path: Path) -> None:
    chat_md = tmp_path / "CHAT.md"
    child = spawn_example("--echo", "--chat-md", str(chat_md))
    try:
        child.expect("USER:")
        child.send("Hello there\r")
        child.expect("ASSISTANT: You said: Hello there")
        child.expect("USER:")
        child.send("Second question,\x00on two lines\r")  # Ctrl+Space inserts a newline, Enter sends
        child.expect("ASSISTANT: You said: Second question,\r\non two lines")
        child.expect("USER:")
        child.sendeof()  # Ctrl+D ends the chat
        child.expect("Bye!")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert chat_md.read_text(encoding="utf-8") == (
        f"user\n{UNDERLINE}\nHello there\n\n"
        f"assistant / echo\n{UNDERLINE}\nYou said: Hello there\n\n"
        f"user\n{UNDERLINE}\nSecond question,\non two lines\n\n"
        f"assistant / echo\n{UNDERLINE}\nYou said: Second question,\non two lines\n"
    )


@pytest.mark.timeout(60)
def test_conversation_continues_an_earlier_chat_file_and_ctrl_c_ends_it(tmp_path: Path) -> None:
    chat_md = tmp_path / "CHAT.md"
    chat_md.write_text(f"user\n{UNDERLINE}\nEarlier question\n", encoding="utf-8")
    child = spawn_example("--echo", MINIAGENTS_CHAT_MD=str(chat_md))
    try:
        child.expect("USER:")
        child.send("\r")  # a blank line is not sent: the prompt comes back
        child.expect("USER:")
        child.send("Again\r")
        child.expect("ASSISTANT: You said: Again")
        child.expect("USER:")
        child.sendintr()  # Ctrl+C at the prompt ends the chat too
        child.expect("Bye!")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert chat_md.read_text(encoding="utf-8").count(f"\n{UNDERLINE}\n") == 3


@pytest.mark.timeout(60)
def test_conversation_with_piped_input_uses_plain_input(tmp_path: Path) -> None:
    chat_md = tmp_path / "CHAT.md"
    completed = subprocess.run(
        [sys.executable, str(CONVERSATION_EXAMPLE), "--echo", "--chat-md", str(chat_md)],
        input="first\n\nsecond\n",
        capture_output=True,
        text=True,
        env=example_env(),
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "\x1b[" not in completed.stdout  # no terminal: no prompt_toolkit, no colours
    assert completed.stdout.count("USER: ") == 4  # two turns, one blank line asked again, then end of input
    assert "ASSISTANT: You said: first\n" in completed.stdout
    assert "ASSISTANT: You said: second\n" in completed.stdout
    assert completed.stdout.rstrip().endswith("Bye!")
    assert [str(message) for message in MiniAgents().run(ChatHistoryMD(chat_md).aload_chat_history())] == [
        "first",
        "You said: first",
        "second",
        "You said: second",
    ]


@pytest.mark.timeout(60)
def test_conversation_with_the_offline_openai_agent(tmp_path: Path) -> None:
    pytest.importorskip("miniagents.ext.llms")
    chat_md = tmp_path / "CHAT.md"
    completed = subprocess.run(
        [sys.executable, str(CONVERSATION_EXAMPLE), "--chat-md", str(chat_md), "--model", "gpt-4o-mini"],
        input="Hello offline\n",
        capture_output=True,
        text=True,
        env=example_env(),
        timeout=50,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Hello offline" in completed.stdout.split("USER: ")[1]  # the assistant's answer mentions the question
    loaded = MiniAgents().run(ChatHistoryMD(chat_md).aload_chat_history())
    assert [(message.role, message.get("model")) for message in loaded] == [
        ("user", None),
        ("assistant", "gpt-4o-mini"),
    ]


@miniagent
async def echo_assistant(ctx: InteractionContext) -> None:
    conversation = await ctx.message_promises
    ctx.reply(TextMessage(f"echo: {conversation[-1]}", role="assistant", agent_alias="ECHO"))


async def test_console_user_agent_in_process_with_seed_style_fork(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("one\ntwo\n"))
    history = InMemoryChatHistory()
    async with MiniAgents():
        result = await adialog_loop(console_user_agent.fork(chat_history=history), echo_assistant)
        conversation = await history.aload_chat_history()
    assert isinstance(result[-1], StopLoop)
    assert [(message.role, str(message)) for message in conversation] == [
        ("user", "one"),
        ("assistant", "echo: one"),
        ("user", "two"),
        ("assistant", "echo: two"),
    ]
    output = capsys.readouterr().out
    assert "ECHO: echo: one\n" in output
    assert "ECHO: echo: two\n" in output


async def test_console_user_agent_takes_chat_history_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("only line\n"))
    history = InMemoryChatHistory()
    async with MiniAgents():
        replies = await console_user_agent.trigger("Welcome!", chat_history=history)
    assert [str(message) for message in replies] == ["Welcome!", "only line"]
    assert [str(message) for message in await history.aload_chat_history()] == ["Welcome!", "only line"]


# --- MiniAgents' import path and keyword arguments -----------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "imports",
    [
        ["from miniagents.ext import console_user_agent as a", "from miniagents.ext.console_user_agent import *"],
        ["from miniagents.ext.console_user_agent import console_user_agent", "from miniagents.ext import *"],
        ["import miniagents.ext.console_user_agent", "from miniagents.ext import console_user_agent"],
    ],
)
def test_miniagents_ext_console_user_agent_is_the_agent_whatever_was_imported_first(imports: list[str]) -> None:
    script = "\n".join(
        [
            *imports,
            "import importlib, miniagents.ext",
            "from miniagents import MiniAgent",
            "module = importlib.import_module('miniagents.ext.console_user_agent')",
            "assert type(module).__name__ == 'module', module",
            "assert isinstance(miniagents.ext.console_user_agent, MiniAgent), miniagents.ext.console_user_agent",
            "assert miniagents.ext.console_user_agent is module.console_user_agent",
            "assert module.GLOBAL_CHAT_HISTORY is not None",
        ]
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.timeout(60)
def test_importing_miniagents_ext_stays_lazy() -> None:
    script = "import json, sys, miniagents.ext\nprint(json.dumps([sorted(sys.modules), dir(miniagents.ext)]))"
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    loaded, listed = json.loads(completed.stdout)
    assert not {"pydantic", "miniagents.agents", "miniagents.ext.console_user_agent"} & set(loaded)
    assert "console_user_agent" in listed


@miniagent
async def shows_nothing(ctx: InteractionContext) -> None:
    await ctx.message_promises


@miniagent
async def keeps_what_it_is_given(ctx: InteractionContext, return_full_history: bool = False) -> None:
    ctx.reply(["(earlier turns)", ctx.message_promises] if return_full_history else ctx.message_promises)


async def test_console_user_agent_takes_miniagents_output_input_and_history_agents() -> None:
    @miniagent
    async def answers(ctx: InteractionContext) -> None:
        ctx.reply(TextMessage("from the input agent", role="user"))

    async with MiniAgents():
        replies = await console_user_agent.trigger(
            "Welcome!", output_agent=shows_nothing, input_agent=answers, history_agent=keeps_what_it_is_given
        )
    assert [str(message) for message in replies] == ["(earlier turns)", "from the input agent"]


async def test_console_user_agent_with_an_output_agent_still_keeps_the_chat_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("typed line\n"))
    history = InMemoryChatHistory()
    async with MiniAgents():
        replies = await console_user_agent.fork(output_agent=shows_nothing).trigger("Welcome!", chat_history=history)
    assert [str(message) for message in replies] == ["Welcome!", "typed line"]


async def test_console_user_agent_refuses_both_a_chat_history_and_a_history_agent() -> None:
    async with MiniAgents():
        with pytest.raises(TypeError, match="not both"):
            await console_user_agent.trigger(
                "hi", chat_history=InMemoryChatHistory(), history_agent=keeps_what_it_is_given
            )
