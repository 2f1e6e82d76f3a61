"""Chat histories: in memory and in a markdown file (writing while streaming, round trips, malformed files)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniagents import InteractionContext, MiniAgents, StreamAppender, TextMessage, miniagent
from miniagents.chat_history import ChatHistory, InMemoryChatHistory
from miniagents.ext.chat_history_md import ChatHistoryFileError, ChatHistoryMD, parse_chat_markdown


def failing_message(*tokens: str, **fields: Any) -> Any:
    async def stream(_: dict[str, Any]) -> AsyncIterator[str]:
        for token in tokens:
            yield token
        raise ConnectionError("the LLM went away")

    return TextMessage.promise(message_token_streamer=stream, **fields)


async def log(history: ChatHistory, messages: Any) -> tuple[Any, ...]:
    return await history.logging_agent.trigger(messages)


# --- in memory -------------------------------------------------------------------------------------------------


async def test_in_memory_history_logs_and_passes_the_messages_on() -> None:
    async with MiniAgents():
        history = InMemoryChatHistory([TextMessage("earlier", role="user")])
        replies = await log(history, [TextMessage("hi", role="user"), "plain"])
        assert [str(message) for message in replies] == ["hi", "plain"]
        assert [(str(message), message.get("role")) for message in await history.aload_chat_history()] == [
            ("earlier", "user"),
            ("hi", "user"),
            ("plain", None),
        ]


async def test_in_memory_history_leaves_out_a_message_that_failed() -> None:
    async with MiniAgents():
        history = InMemoryChatHistory()
        replies = history.logging_agent.trigger(["before", failing_message("par", "tial"), "after"])
        with pytest.raises(ConnectionError):
            await replies  # whoever reads the messages still sees the error
        assert [str(message) for message in await history.aload_chat_history()] == ["before", "after"]


# --- markdown: writing -----------------------------------------------------------------------------------------


async def test_markdown_history_file_format(tmp_path: Path) -> None:
    chat_md = tmp_path / "chats" / "CHAT.md"
    async with MiniAgents():
        history = ChatHistoryMD(chat_md)
        await log(history, TextMessage("What is 2+2?", role="user"))
        await log(history, [TextMessage("4", role="assistant", model="gpt-4o-mini"), TextMessage("No role here")])
    underline = "=" * 40
    assert chat_md.read_text(encoding="utf-8") == (
        f"user\n{underline}\nWhat is 2+2?\n\n"
        f"assistant / gpt-4o-mini\n{underline}\n4\n\n"
        f"assistant\n{underline}\nNo role here\n"
    )


async def test_markdown_history_writes_tokens_as_they_stream(tmp_path: Path) -> None:
    chat_md = tmp_path / "CHAT.md"
    async with MiniAgents():
        history = ChatHistoryMD(chat_md)
        tokens = StreamAppender[str]().open()
        logged = history.logging_agent.trigger(
            TextMessage.promise(message_token_streamer=tokens, role="assistant", model="m1")
        )
        tokens.append("Streaming ")
        for _ in range(1000):  # let the logging agent run until the first token is in the file
            if chat_md.exists() and "Streaming" in chat_md.read_text(encoding="utf-8"):
                break
            await asyncio.sleep(0)
        assert chat_md.read_text(encoding="utf-8").endswith("assistant / m1\n" + "=" * 40 + "\nStreaming ")
        assert not logged.is_resolved
        tokens.append("done.")
        tokens.close()
        await logged
        assert [str(message) for message in await history.aload_chat_history()] == ["Streaming done."]


async def test_markdown_history_keeps_partial_text_of_a_failed_message_and_goes_on(tmp_path: Path) -> None:
    async with MiniAgents():
        history = ChatHistoryMD(tmp_path / "CHAT.md")
        with pytest.raises(ConnectionError):
            await log(history, [failing_message("Half an ans", role="assistant"), TextMessage("next", role="user")])
        loaded = await history.aload_chat_history()
    assert [(message.role, str(message)) for message in loaded] == [("assistant", "Half an ans"), ("user", "next")]


async def test_markdown_history_appends_after_hand_written_text_without_a_final_newline(tmp_path: Path) -> None:
    chat_md = tmp_path / "CHAT.md"
    chat_md.write_text("user\n=====\nwritten by hand", encoding="utf-8")
    async with MiniAgents():
        history = ChatHistoryMD(chat_md)
        await log(history, TextMessage("appended", role="assistant"))
        loaded = await history.aload_chat_history()
    assert [(message.role, str(message)) for message in loaded] == [
        ("user", "written by hand"),
        ("assistant", "appended"),
    ]


async def test_markdown_history_roles_outside_the_known_ones_get_the_default_role(tmp_path: Path) -> None:
    async with MiniAgents():
        history = ChatHistoryMD(tmp_path / "CHAT.md", default_role="user", roles=("user", "assistant", "tool"))
        await log(history, [TextMessage("a", role="Tool"), TextMessage("b", role="critic"), "c"])
        loaded = await history.aload_chat_history()
    assert [(message.role, str(message)) for message in loaded] == [("tool", "a"), ("user", "b"), ("user", "c")]


def test_markdown_history_refuses_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        ChatHistoryMD(tmp_path)
    with pytest.raises(ValueError, match="default_role"):
        ChatHistoryMD(tmp_path / "CHAT.md", default_role="narrator")


# --- markdown: round trips -------------------------------------------------------------------------------------

ROUND_TRIP_MESSAGES = [
    TextMessage("Hello!", role="user"),
    TextMessage("Hi. Here is a title:\n\n# Not a role\n\nTitle\n=====\n\nand text.", role="assistant", model="gpt-4o"),
    TextMessage("Code:\n\n```markdown\nuser\n========\n# assistant\n\n```\n\nafter", role="assistant"),
    TextMessage("~~~\nassistant / m\n===\n~~~", role="user"),
    TextMessage("", role="assistant", model="claude-3-5-sonnet"),
    TextMessage("  indented first line\nuser\nnot a heading (no underline)", role="user"),
    TextMessage("Ünïcödé ✓ — 日本語", role="system"),
    TextMessage("```python\nunclosed = True", role="assistant"),
    TextMessage("the last word", role="user"),
]


async def test_markdown_history_round_trip(tmp_path: Path) -> None:
    async with MiniAgents():
        history = ChatHistoryMD(tmp_path / "CHAT.md")
        for message in ROUND_TRIP_MESSAGES[:3]:
            await log(history, message)
        await log(history, ROUND_TRIP_MESSAGES[3:])
        loaded = await history.aload_chat_history()
        assert loaded == tuple(ROUND_TRIP_MESSAGES)
        assert [message.hash_key for message in loaded] == [message.hash_key for message in ROUND_TRIP_MESSAGES]

        reopened = await ChatHistoryMD(tmp_path / "CHAT.md").aload_chat_history()
        assert reopened == loaded


async def test_markdown_history_trims_blank_lines_around_a_message(tmp_path: Path) -> None:
    async with MiniAgents():
        history = ChatHistoryMD(tmp_path / "CHAT.md")
        await log(history, TextMessage("\n\n  text  \n\n", role="user"))
        assert [str(message) for message in await history.aload_chat_history()] == ["  text  "]


# --- markdown: parsing what people (or crashes) leave behind ---------------------------------------------------


async def test_missing_and_empty_files_are_empty_histories(tmp_path: Path) -> None:
    async with MiniAgents():
        assert await ChatHistoryMD(tmp_path / "missing.md").aload_chat_history() == ()
        (tmp_path / "empty.md").write_text("", encoding="utf-8")
        assert await ChatHistoryMD(tmp_path / "empty.md").aload_chat_history() == ()
        (tmp_path / "blank.md").write_text("\n  \n\n", encoding="utf-8")
        assert await ChatHistoryMD(tmp_path / "blank.md").aload_chat_history() == ()


async def test_a_file_that_is_not_utf8_raises_a_clear_error(tmp_path: Path) -> None:
    chat_md = tmp_path / "CHAT.md"
    chat_md.write_bytes(b"user\n====\n\xff\xfe binary \x80")
    async with MiniAgents():
        with pytest.raises(ChatHistoryFileError, match=r"CHAT\.md.*is not UTF-8 text"):
            await ChatHistoryMD(chat_md).aload_chat_history()


def roles_and_texts(md_content: str, **kwargs: Any) -> list[tuple[str, str | None, str]]:
    return [
        (message.role, message.get("model"), str(message)) for message in parse_chat_markdown(md_content, **kwargs)
    ]


def test_text_before_the_first_heading_belongs_to_the_default_role() -> None:
    assert roles_and_texts("Just a question?\n") == [("assistant", None, "Just a question?")]
    assert roles_and_texts("# My notes\n\nuser\n===\nhi", default_role="user") == [
        ("user", None, "# My notes"),
        ("user", None, "hi"),
    ]


def test_headings_that_are_not_role_headings_stay_content() -> None:
    md_content = (
        "user\n===\n"
        "Prose:\nassistant\n===\n"  # no blank line before: the whole paragraph would be the heading text
        "\nuser / gpt 4 turbo\n===\n"  # a model name has no spaces: prose
        "\nnarrator\n===\n"  # not a role
        "\nuser /\n===\n"  # a slash but no model
        "\n=====\n"  # an underline with nothing above it
        "\n# USER / o1\n"
        "last"
    )
    assert roles_and_texts(md_content) == [
        (
            "user",
            None,
            "Prose:\nassistant\n===\n\nuser / gpt 4 turbo\n===\n\nnarrator\n===\n\nuser /\n===\n\n=====",
        ),
        ("user", "o1", "last"),
    ]


def test_a_heading_at_the_end_of_the_file_is_an_empty_message_and_crlf_is_fine() -> None:
    assert roles_and_texts("user\r\n===\r\nline one\r\nline two\r\n\r\nassistant\r\n=====\r\n") == [
        ("user", None, "line one\nline two"),
        ("assistant", None, ""),
    ]


def test_an_unclosed_fence_does_not_hide_the_headings_after_it() -> None:
    md_content = "assistant\n===\n```python\ncut off here\n\nuser\n===\nnext question\n\n# assistant\nanswer"
    assert roles_and_texts(md_content) == [
        ("assistant", None, "```python\ncut off here"),
        ("user", None, "next question"),
        ("assistant", None, "answer"),
    ]


def test_a_closed_fence_hides_the_headings_inside_it() -> None:
    md_content = "user\n===\n````\n```\n\nassistant\n===\n```\n````\n\nassistant\n===\nok"
    assert roles_and_texts(md_content) == [
        ("user", None, "````\n```\n\nassistant\n===\n```\n````"),
        ("assistant", None, "ok"),
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["user", "assistant", " / m", "=", "===\n", "#", " ", "\n", "```", "~~~", "x"])).map(
        "".join
    )
)
def test_any_text_parses_into_messages(md_content: str) -> None:
    messages = parse_chat_markdown(md_content)
    assert all(message.role in ("user", "assistant", "system") for message in messages)
    assert all(isinstance(message.content, str) for message in messages)


@settings(max_examples=50, deadline=None)
@given(st.text())
def test_any_unicode_text_parses_into_messages(md_content: str) -> None:
    assert isinstance(parse_chat_markdown(md_content), tuple)


async def test_console_style_chain_logs_a_whole_dialog(tmp_path: Path) -> None:
    """The history used the way the console user agent uses it: the model's reply streams through it."""

    @miniagent
    async def assistant(ctx: InteractionContext) -> None:
        heard = [str(message) for message in await ctx.message_promises]
        ctx.reply(TextMessage(f"{len(heard)} message(s) so far", role="assistant", model="counter"))

    async with MiniAgents():
        history = ChatHistoryMD(tmp_path / "CHAT.md")
        for question in ("first", "second"):
            await log(history, TextMessage(question, role="user"))
            await log(history, assistant.trigger(await history.aload_chat_history()))
        loaded = await history.aload_chat_history()
    assert [(message.role, str(message)) for message in loaded] == [
        ("user", "first"),
        ("assistant", "1 message(s) so far"),
        ("user", "second"),
        ("assistant", "3 message(s) so far"),
    ]
