"""Arbitrary text and arbitrary nesting through messages, hashing, flattening and persistence.

Text includes lone surrogates (half an emoji), control characters and very long lines; nesting goes past the
documented limit. The only exception allowed is the documented `NestingDepthError`; everything else must build,
hash, serialise to UTF-8 and read back as the same content.
"""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miniagents import InteractionContext, Message, MiniAgents, TextMessage, miniagent
from miniagents.promising.errors import NestingDepthError
from miniagents.promising.ext.frozen import MAX_NESTING_DEPTH, normalize_text

pytestmark = pytest.mark.timeout(120)

# every code point, surrogates and control characters included
_any_character = st.characters(codec=None, categories=None)
_text = st.one_of(
    st.text(_any_character, max_size=40),
    st.text(st.sampled_from("\ud83d\ude00\ud800\udfff\x00\x1b\r\n\t *_`>[]()#\\"), max_size=60),
    st.builds(
        lambda piece, count: piece * count, st.text(_any_character, min_size=1, max_size=3), st.integers(1, 5000)
    ),
)
_scalar = st.one_of(_text, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
# a lone surrogate in a name: see the last test; `class_` is reserved (it names the class)
_field_name = st.text(st.characters(codec="utf-8"), max_size=8).filter(lambda name: name != "class_")
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_field_name, inner, max_size=3)),
    max_leaves=12,
)


def _nested(value: Any, depth: int, as_dict: bool) -> Any:
    for _ in range(depth):
        value = {"inner": value} if as_dict else [value]
    return value


def _roundtrip_checks(message: Message) -> None:
    encoded = message.serialized.encode("utf-8")  # always valid UTF-8
    assert len(message.hash_key) == 40
    assert json.loads(encoded)["class_"] == type(message).__name__
    assert str(message) is not None
    assert repr(message)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=_text, fields=st.dictionaries(_field_name, _value, max_size=4))
def test_any_text_and_fields_build_hash_and_serialise(content: str, fields: dict[str, Any]) -> None:
    fields.pop("content", None)
    fields.pop("class_", None)
    message = TextMessage(content, **fields)

    _roundtrip_checks(message)
    assert message.content == normalize_text(content)
    assert json.loads(message.serialized)["content"] == message.content  # reads back as the very same string
    assert TextMessage(message.content, **fields).hash_key == message.hash_key  # normalising is stable


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(0, 3 * MAX_NESTING_DEPTH), as_dict=st.booleans(), leaf=_text)
def test_any_nesting_builds_or_raises_the_documented_error(depth: int, as_dict: bool, leaf: str) -> None:
    try:
        message = Message(payload=_nested(leaf, depth, as_dict))
    except NestingDepthError as error:
        assert depth > MAX_NESTING_DEPTH - 1
        assert f"more than {MAX_NESTING_DEPTH} levels deep" in str(error)
        return
    assert depth <= MAX_NESTING_DEPTH
    _roundtrip_checks(message)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain_length=st.integers(1, 1500), text=_text)
def test_any_chain_of_messages_hashes_and_walks(chain_length: int, text: str) -> None:
    message: Message = TextMessage(text)
    for index in range(chain_length):
        message = Message(previous=message, index=index)

    _roundtrip_checks(message)
    assert len(list(message.sub_messages())) == chain_length


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tokens=st.lists(_text, min_size=1, max_size=6),
    depth=st.integers(0, 2 * MAX_NESTING_DEPTH),
)
async def test_any_text_and_nesting_flow_through_agents_records_and_persistence(tokens: list[str], depth: int) -> None:
    persisted: dict[str, Message] = {}

    @miniagent
    async def replier(ctx: InteractionContext) -> None:
        async def stream(_: dict[str, Any]) -> Any:
            for token in tokens:
                yield token

        ctx.reply(TextMessage.promise(message_token_streamer=stream))
        ctx.reply(_nested(tokens[0], depth, as_dict=False))

    async with MiniAgents(
        errors_as_messages=True,
        on_persist_messages=lambda _promise, message: persisted.setdefault(message.hash_key, message),
    ):
        replies = await replier.trigger(tokens)

    assert str(replies[0]) == normalize_text("".join(tokens))
    assert str(replies[1]) == normalize_text(tokens[0])  # lists flatten at any depth
    for message in persisted.values():
        _roundtrip_checks(message)
    reply_nodes = [message for message in persisted.values() if type(message).__name__ == "AgentReplyNode"]
    assert len(reply_nodes) == 1 and reply_nodes[0].replies == replies  # the record was made, with these replies


def test_a_field_name_with_half_a_character_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"field name .* contains half a character"):
        Message(**{"bad\ud800": 1})
    assert Message(**{"joined\ud83d\ude00": 1}).get("joined\U0001f600") == 1
