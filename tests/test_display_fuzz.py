"""Every display of the notebook layer takes any text and any nesting, and always gives output Jupyter can send.

Jupyter sends outputs to the front end as UTF-8 JSON, so every `text/plain` and `text/html` form must survive
`json.dumps(...).encode("utf-8")`, whatever the messages hold: lone surrogates (half an emoji), control characters,
very long lines, markdown of any shape, fields nested to any depth, messages inside messages. Building a message may
refuse its fields — pydantic's `ValidationError` (a field that cannot be frozen, a name with half a character) or
`NestingDepthError` (deeper than `MAX_NESTING_DEPTH`): those are the documented errors. No display may raise.
"""

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notebook_helpers import loaded_shell
from pydantic import ValidationError

from miniagents import (
    AgentCallNode,
    AgentReplyNode,
    InteractionContext,
    Message,
    MiniAgents,
    TextMessage,
    miniagent,
)
from miniagents.promising.errors import NestingDepthError
from miniagents.promising.ext.frozen import MAX_NESTING_DEPTH, normalize_text
from miniagents_notebook import StreamView, trace
from miniagents_notebook.markdown import render_markdown

pytestmark = pytest.mark.timeout(600)

_DOCUMENTED_ERRORS = (ValidationError, NestingDepthError)

_any_character = st.characters(codec=None, categories=None)  # surrogates and control characters included
_MARKUP = (
    "*",
    "**",
    "_",
    "`",
    "```",
    "[",
    "](",
    ")",
    "<b>",
    "> ",
    "- ",
    "1. ",
    "# ",
    "\n",
    "\n\n",
    "    ",
    "\t",
    "&#",
)
_ODD_TEXT = ("https://example.com", "javascript:", "\ud83d", "\ude00", "\x00", "\x1b", "\r", "\u2028")
_markdown_piece = st.sampled_from([*_MARKUP, *_ODD_TEXT])
_text = st.one_of(
    st.text(_any_character, max_size=60),
    st.lists(st.one_of(_markdown_piece, st.text(_any_character, max_size=4)), max_size=40).map("".join),
    # very long lines, past the length a display shows whole
    st.builds(
        lambda unit, count: unit * count, st.text(_any_character, min_size=1, max_size=4), st.integers(1, 30_000)
    ),
)
_field_name = st.text(_any_character, min_size=1, max_size=8).filter(lambda name: name not in ("content", "class_"))
_scalar = st.one_of(_text, st.integers(), st.floats(), st.booleans(), st.none())
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_field_name, inner, max_size=3)),
    max_leaves=10,
)


def _nested(leaf: Any, depth: int, as_dict: bool) -> Any:
    for _ in range(depth):
        leaf = {"inner": leaf} if as_dict else [leaf]
    return leaf


_deep_value = st.builds(_nested, _scalar, st.integers(0, MAX_NESTING_DEPTH + 20), st.booleans())
_fields = st.dictionaries(_field_name, st.one_of(_value, _deep_value), max_size=4)


def _built(factory: Callable[[], Message]) -> Message | None:
    try:
        return factory()
    except _DOCUMENTED_ERRORS:
        return None


def _chunks(text: str, cuts: list[int]) -> list[str]:
    """`text` cut at the given positions: a streamed reply can split anything, a surrogate pair included."""
    positions = sorted({0, len(text), *(cut % (len(text) + 1) for cut in cuts)})
    return [text[start:end] for start, end in itertools.pairwise(positions)]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _assert_sendable(output: Any) -> None:
    """What Jupyter does with an output before it leaves the kernel."""
    json.dumps(output, ensure_ascii=False, allow_nan=False).encode("utf-8")
    for text in _strings(output):
        text.encode("utf-8")


async def _aall_displays(shell: Any, content: str, fields: dict[str, Any], cuts: list[int]) -> list[Any]:
    """Every display of messages, promises, agents, call records and views, for messages built from the inputs."""
    messages = [
        message
        for message in (
            _built(lambda: TextMessage(content, role="assistant")),
            _built(lambda: TextMessage(content, **fields)),
            _built(lambda: Message(**fields)),
            _built(lambda: Message(content=content, **fields)),
            _built(lambda: Message(inner=TextMessage(content), items=[Message(**fields), Message(**fields)])),
        )
        if message is not None
    ]
    outputs: list[Any] = [render_markdown(content)]
    records: list[Message] = []

    def keep_records(_promise: Any, message: Message) -> None:
        if isinstance(message, (AgentCallNode, AgentReplyNode)):
            records.append(message)

    more_tokens = asyncio.Event()

    async def tokens(metadata: dict[str, Any]):
        for index, chunk in enumerate(_chunks(content, cuts)):
            if index == 1:
                await more_tokens.wait()
            yield chunk

    async def replying(ctx: InteractionContext, **kwargs: Any) -> None:
        ctx.reply(messages)
        ctx.reply(TextMessage.promise(message_token_streamer=tokens, role="assistant"))
        raise ValueError(content)

    # an alias with half a character is refused (tests/test_engine_robustness.py); any other text is fine
    alias = normalize_text(content[:40]).encode("utf-8", "replace").decode("utf-8")
    agent = miniagent(replying, alias=alias, description=content)
    async with MiniAgents(on_persist_messages=keep_records):
        with trace() as traced:
            kwargs = {"note": content, **({"settings": fields} if _built(lambda: Message(settings=fields)) else {})}
            replies = agent.trigger([content, *messages], **kwargs)
            streaming = StreamView(replies)
            await asyncio.sleep(0.01)  # the first chunk is in, the rest waits
            outputs.append(streaming._repr_mimebundle_())
            more_tokens.set()
            try:
                await replies
            except ValueError:
                pass
        outputs.append(StreamView(replies)._repr_mimebundle_())
        for promise in replies.pieces_so_far:
            if not isinstance(promise, BaseException):
                outputs.append(StreamView(promise)._repr_mimebundle_())
        for view in (traced.call_tree(), traced.timeline(), traced.inspector()):
            outputs += [view._repr_mimebundle_()[0], view.get_state(), view.to_html()]
        outputs += [traced._repr_mimebundle_()[0], traced.to_html()]
    for value in (*messages, *records, agent):
        outputs.append(shell.display_formatter.format(value)[0])
    return outputs


@pytest.fixture(scope="module")
def shell() -> Iterator[Any]:
    with loaded_shell() as shell:
        yield shell


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(content=_text, fields=_fields, cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_every_display_of_any_text_and_nesting_can_be_sent(
    shell: Any, content: str, fields: dict[str, Any], cuts: list[int]
) -> None:
    outputs = asyncio.run(_aall_displays(shell, content, fields, cuts))
    for output in outputs:
        _assert_sendable(output)


def test_half_a_character_shows_as_the_replacement_character(shell: Any) -> None:
    data, _ = shell.display_formatter.format(TextMessage("half an emoji: \ud83d", role="assistant", note="\ude00"))
    assert data["text/plain"] == "TextMessage role='assistant' note='\\ude00'\nhalf an emoji: \ufffd"
    assert "<p>half an emoji: \ufffd</p>" in data["text/html"]
