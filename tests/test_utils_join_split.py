"""`join_messages` and `split_messages`: texts, streaming, code blocks, metadata and errors."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miniagents import Message, MessagePromise, MiniAgents, StreamAppender, TextMessage
from miniagents.message_sequence import join_messages as core_join_messages
from miniagents.utils import join_messages, split_messages


def streamed(*tokens: Any, error: BaseException | None = None, **fields: Any) -> MessagePromise:
    """A message streamed token by token (then, optionally, failing with `error`)."""

    async def stream(_: dict[str, Any]) -> AsyncIterator[Any]:
        for token in tokens:
            yield token
        if error is not None:
            raise error

    return TextMessage.promise(message_token_streamer=stream, **fields)


def chunks(text: str, size: int) -> list[str]:
    return [text[index : index + size] for index in range(0, len(text), size)]


async def split_texts(messages: Any, **kwargs: Any) -> list[str]:
    return [str(message) for message in await split_messages(messages, **kwargs)]


# --- join_messages ---------------------------------------------------------------------------------------------


def test_utils_reexports_the_core_join_messages() -> None:
    assert join_messages is core_join_messages


async def test_join_messages_joins_with_delimiter_and_keeps_references_and_fields() -> None:
    async with MiniAgents():
        originals = (TextMessage("Hello", role="user"), TextMessage("world"))
        joined = await join_messages([originals[0], streamed("wor", "ld")], delimiter=" ", role="assistant")
        assert str(joined) == "Hello world"
        assert joined.role == "assistant"
        assert joined.original_messages == originals


async def test_join_messages_default_delimiter_and_no_references() -> None:
    async with MiniAgents():
        joined = await join_messages(["one", "two", "three"], reference_original_messages=False)
        assert str(joined) == "one\n\ntwo\n\nthree"
        assert "original_messages" not in joined


async def test_join_messages_strips_leading_newlines_of_each_message_only() -> None:
    async with MiniAgents():
        joined = await join_messages(
            [streamed("\n", "\r\n", "\nFirst\n"), streamed("\n\nSecond")], delimiter="|", strip_leading_newlines=True
        )
        assert str(joined) == "First\n|Second"
        kept = await join_messages([streamed("\n", "x")], strip_leading_newlines=False)
        assert str(kept) == "\nx"


async def test_join_messages_of_nothing_is_an_empty_message() -> None:
    async with MiniAgents():
        joined = await join_messages([])
        assert str(joined) == ""
        assert joined.original_messages == ()


async def test_join_messages_streams_before_all_inputs_are_there() -> None:
    async with MiniAgents():
        second = StreamAppender[str]()
        joined = join_messages(["first", TextMessage.promise(message_token_streamer=second)], delimiter="+")
        tokens = joined.__aiter__()
        assert await tokens.__anext__() == "first"  # the second message has not even started
        with second:
            second.append("second")
        assert [token async for token in tokens] == ["+", "second"]


async def test_join_messages_raises_an_error_of_an_input() -> None:
    async with MiniAgents():
        joined = join_messages(["ok", streamed("bro", error=ValueError("boom"))])
        received = []
        with pytest.raises(ValueError, match="boom"):
            async for token in joined:
                received.append(token)
        assert received == ["ok", "\n\n", "bro"]
        with pytest.raises(ValueError, match="boom"):
            await joined


# --- split_messages: texts -------------------------------------------------------------------------------------

ARTICLE = (
    "Intro paragraph.\n\n"
    "Second paragraph,\nwith two lines.\n\n\n\n"
    "Third: code follows\n"
    "```python\n"
    "def f():\n"
    "\n"
    "    return 1\n"
    "```\n"
    "After the code.\n\n"
    "   \n\n"
    "  Indented last paragraph.  \n"
)
ARTICLE_PARTS = [
    "Intro paragraph.",
    "Second paragraph,\nwith two lines.",
    "Third: code follows",
    "```python\ndef f():\n\n    return 1\n```",
    "After the code.",
    "  Indented last paragraph.",
]


async def test_split_all_at_once_keeps_every_paragraph() -> None:
    # the seed's implementation lost the middle paragraphs when the whole text arrived at once
    async with MiniAgents():
        text = "\n\n".join(f"paragraph {number}" for number in range(10))
        assert await split_texts(text) == [f"paragraph {number}" for number in range(10)]
        assert await split_texts(TextMessage(ARTICLE)) == ARTICLE_PARTS


@pytest.mark.parametrize("size", [1, 2, 3, 7])
async def test_split_token_by_token_gives_the_same_parts(size: int) -> None:
    async with MiniAgents():
        assert await split_texts(streamed(*chunks(ARTICLE, size))) == ARTICLE_PARTS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(
        st.sampled_from(["a", "b c", " ", "\t", "\n", "\n\n", "`", "```", "```py", "-", "--"]), max_size=25
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=10),
    delimiter=st.sampled_from(["\n\n", "---", " --\n"]),
)
def test_split_never_depends_on_how_the_text_is_cut(pieces: list[str], cuts: list[int], delimiter: str) -> None:
    text = "".join(pieces)
    tokens, position, cut_index = [], 0, 0
    while position < len(text):
        size = cuts[cut_index % len(cuts)]
        tokens.append(text[position : position + size])
        position += size
        cut_index += 1

    async def both_ways() -> tuple[list[str], list[str]]:
        at_once = await split_texts(text, delimiter=delimiter)
        return at_once, await split_texts(streamed(*tokens), delimiter=delimiter)

    at_once, token_by_token = MiniAgents().run(both_ways())
    assert token_by_token == at_once
    for part in at_once:
        assert part.strip()
        assert part == part.rstrip()
        assert not part.startswith("\n")
        assert delimiter not in part or "```" in part


async def test_split_code_blocks() -> None:
    async with MiniAgents():
        text = "```\nfirst\n\nblock\n```\n```js\nsecond()\n```\ntext ``` inline\n\n  ```\n  indented\n\n  ```  \ntail"
        assert await split_texts(text) == [
            "```\nfirst\n\nblock\n```",
            "```js\nsecond()\n```",
            "text ``` inline",
            "  ```\n  indented\n\n  ```",
            "tail",
        ]


async def test_split_keeps_an_unclosed_code_block_to_the_end() -> None:
    async with MiniAgents():
        assert await split_texts(streamed("Look:\n", "```\nx\n\ny  \n")) == ["Look:", "```\nx\n\ny"]


async def test_split_a_longer_closing_fence_and_a_fence_with_text_after_it() -> None:
    async with MiniAgents():
        text = "```\ncode\n```` \nnot code\n\n```\nstill\n```python\ncode\n```"
        assert await split_texts(text) == ["```\ncode\n````", "not code", "```\nstill\n```python\ncode\n```"]


async def test_split_without_code_awareness_and_with_another_delimiter() -> None:
    async with MiniAgents():
        text = "```\na\n\nb\n```"
        assert await split_texts(text, code_block_delimiter=None) == ["```\na", "b\n```"]
        text = "a --- b ---  --- c"  # spaces at the start of a part are kept: they may be indentation
        assert await split_texts(text, delimiter="---") == ["a", " b", " c"]
        assert await split_texts(streamed(*chunks(text, 2)), delimiter="---") == ["a", " b", " c"]


async def test_split_each_input_message_starts_a_new_paragraph() -> None:
    async with MiniAgents():
        assert await split_texts(["one", streamed("tw", "o\n\nthree"), "", "four"]) == ["one", "two", "three", "four"]


async def test_split_empty_input() -> None:
    async with MiniAgents():
        assert await split_messages("") == ()
        assert await split_messages([]) == ()
        assert await split_messages(streamed("\n", "  \n\n", "\t")) == ()


async def test_split_parts_carry_the_given_fields() -> None:
    async with MiniAgents():
        parts = await split_messages("a\n\nb", role="assistant", model="m")
        assert [(str(part), part.role, part.model) for part in parts] == [
            ("a", "assistant", "m"),
            ("b", "assistant", "m"),
        ]
        assert all(isinstance(part, TextMessage) for part in parts)
        async for part_promise in split_messages("c"):
            assert part_promise.known_beforehand.get("role") is None


def test_split_rejects_an_empty_delimiter() -> None:
    with pytest.raises(ValueError, match="delimiter"):
        split_messages("text", delimiter="")


# --- split_messages: streaming and errors ----------------------------------------------------------------------


async def test_split_streams_parts_while_the_input_is_still_arriving() -> None:
    async with MiniAgents():
        source = StreamAppender[str]().open()
        parts = split_messages(TextMessage.promise(message_token_streamer=source))
        part_iterator = parts.__aiter__()

        source.append("First par")
        first_part = await part_iterator.__anext__()
        first_tokens = first_part.__aiter__()
        assert await first_tokens.__anext__() == "First par"  # available before the paragraph is complete

        source.append("agraph\n\nSec")
        assert [token async for token in first_tokens] == ["agraph"]
        second_part = await part_iterator.__anext__()
        assert not second_part.is_resolved

        source.append("ond")
        source.close()
        assert str(await second_part) == "Second"
        assert [str(message) for message in await parts] == ["First paragraph", "Second"]


async def test_split_error_mid_message_reaches_the_part_being_streamed() -> None:
    async with MiniAgents():
        parts = split_messages(streamed("Done.\n\nHalf a sen", "tence\n", error=ValueError("stream broke")))
        part_promises = [part async for part in parts]
        assert len(part_promises) == 2
        assert str(await part_promises[0]) == "Done."
        received = []
        with pytest.raises(ValueError, match="stream broke"):
            async for token in part_promises[1]:
                received.append(token)
        assert "".join(received) == "Half a sentence"
        with pytest.raises(ValueError, match="stream broke"):
            await parts


async def test_split_error_between_parts_is_raised_by_the_sequence() -> None:
    async with MiniAgents():
        parts = split_messages(streamed("Complete.\n\n", error=KeyError("after a boundary")))
        received: list[Message] = []
        with pytest.raises(KeyError, match="after a boundary"):
            async for part in parts:
                received.append(await part)
        assert [str(message) for message in received] == ["Complete."]


async def test_split_error_before_any_text() -> None:
    async with MiniAgents():
        with pytest.raises(RuntimeError, match="nothing at all"):
            await split_messages(streamed(error=RuntimeError("nothing at all")))
