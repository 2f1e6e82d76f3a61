"""Rich displays of messages, promises, agents and call records: deterministic text, static HTML, errors inline."""

import asyncio
from html.parser import HTMLParser

import pytest
from notebook_helpers import loaded_shell, run_cell, run_ok

from miniagents import (
    AgentReplyNode,
    ErrorMessage,
    Message,
    MiniAgents,
    TextMessage,
    miniagent,
)
from miniagents_notebook.rendering import TEXT_PLAIN_CHARS
from miniagents_notebook.stream_view import WIDGET_VIEW_MIMETYPE, StreamView

_VOID_ELEMENTS = {"br", "hr"}


class _TagBalance(HTMLParser):
    """Checks that every element of a static snapshot is closed, in order (it must render anywhere on its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in _VOID_ELEMENTS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def assert_static_html(markup: str) -> None:
    parser = _TagBalance()
    parser.feed(markup)
    assert parser.open == []
    assert "<script" not in markup
    assert " 0x" not in markup


@pytest.fixture
def shell():
    with loaded_shell() as shell:
        yield shell


def formatted(shell, value) -> dict:
    data, _ = shell.display_formatter.format(value)
    return data


# --- messages --------------------------------------------------------------------------------------------------------


def test_text_message_shows_its_fields_as_header_and_its_content_as_markdown(shell) -> None:
    message = TextMessage("Hello **world** <script>alert(1)</script>", role="assistant", model="gpt-4o")
    data = formatted(shell, message)
    assert (
        data["text/plain"] == "TextMessage role='assistant' model='gpt-4o'\nHello **world** <script>alert(1)</script>"
    )
    markup = data["text/html"]
    assert "<b>assistant</b> · TextMessage · model: &#x27;gpt-4o&#x27;" in markup
    assert "<strong>world</strong>" in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert_static_html(markup)


def _llm_reply(number: int) -> TextMessage:
    return TextMessage(
        f"Answer {number}",
        role="assistant",
        agent_alias="OpenAIAgent",
        model="gpt-4o-mini",
        finish_reason="stop",
        id=f"chatcmpl-{number}",
        created=1_790_000_000 + number,
        system_fingerprint="fp_1",
        usage={"completion_tokens": 26, "prompt_tokens": 7},
        token_usage={"input_tokens": 7, "output_tokens": 26, "cached_tokens": 0},
    )


def test_an_llm_reply_header_says_agent_model_tokens_and_finish_and_folds_the_raw_metadata(shell) -> None:
    data = formatted(shell, _llm_reply(1))
    assert data["text/plain"] == (
        "TextMessage role='assistant' agent_alias='OpenAIAgent' model='gpt-4o-mini' finish_reason='stop' · 33 tokens "
        "(+5 metadata fields)\nAnswer 1"
    )
    header, folded = data["text/html"].split("<details", 1)
    assert "agent_alias: &#x27;OpenAIAgent&#x27;" in header and "33 tokens" in header and "chatcmpl" not in header
    assert "metadata (5)</summary>" in folded and "chatcmpl-1" in folded and "system_fingerprint" in folded
    assert_static_html(data["text/html"])


def test_a_tuple_of_messages_shows_its_count_and_each_message_and_folds_a_long_one(shell) -> None:
    replies = formatted(shell, (_llm_reply(1), _llm_reply(2)))
    assert replies["text/plain"].startswith("(2 messages)\nTextMessage role='assistant'")
    assert "Answer 2" in replies["text/plain"] and "chatcmpl" not in replies["text/plain"]
    assert formatted(shell, (_llm_reply(3), _llm_reply(4)))["text/plain"] == replies["text/plain"].replace(
        "Answer 1", "Answer 3"
    ).replace("Answer 2", "Answer 4")  # ids and timestamps differ, the text does not
    assert replies["text/html"].count('class="miniagents-message"') == 2
    assert_static_html(replies["text/html"])

    many = formatted(shell, tuple(TextMessage(f"number {number}") for number in range(25)))
    assert many["text/plain"].startswith("(25 messages)\nTextMessage\nnumber 0")
    assert many["text/plain"].endswith("number 19\n\n… 5 more messages")
    assert "… 5 more messages</summary>" in many["text/html"]

    assert formatted(shell, (1, "a")) == {"text/plain": "(1, 'a')"}  # other tuples as IPython shows them
    assert formatted(shell, ()) == {"text/plain": "()"}


def test_message_without_text_lists_its_fields_and_nested_messages_by_class(shell) -> None:
    message = Message(
        answer=42,
        tags=["a", "b"],
        settings={"temperature": 0.5},
        source=TextMessage("quoted"),
        history=[TextMessage("one"), TextMessage("two")],
    )
    assert formatted(shell, message)["text/plain"] == (
        'Message answer=42 tags=["a", "b"] settings={"temperature": 0.5} source=<TextMessage> history=<2 messages>'
    )


def test_a_very_long_text_shows_its_beginning_and_end_as_text_and_as_html(shell) -> None:
    words = [f"w{index}" for index in range(TEXT_PLAIN_CHARS // 2)]
    data = formatted(shell, TextMessage(" ".join(words)))
    text = " ".join(words)
    hidden = len(text) - TEXT_PLAIN_CHARS
    assert data["text/plain"] == (
        f"TextMessage\n{text[: TEXT_PLAIN_CHARS // 2]}\n… ({hidden:,} more characters) …\n"
        f"{text[-TEXT_PLAIN_CHARS // 2 :]}"
    )
    assert text[:100] in data["text/html"]
    assert text[-100:] in data["text/html"]
    assert f"({hidden:,} more characters)" in data["text/html"]
    assert text[TEXT_PLAIN_CHARS // 2 + 10 : TEXT_PLAIN_CHARS // 2 + 60] not in data["text/html"]


def test_error_message_is_shown_with_its_error_class(shell) -> None:
    data = formatted(shell, ErrorMessage.from_error(ValueError("bad input")))
    assert data["text/plain"] == "ErrorMessage error_class='ValueError'\nValueError: bad input"


def test_displays_are_deterministic_across_sessions(shell) -> None:
    async def render_twice() -> list[dict]:
        renders = []
        for _ in range(2):
            async with MiniAgents():
                promise = TextMessage("same", role="user").as_promise
                renders.append(formatted(shell, Message(note="x", inner=TextMessage("y"))))
                renders.append(StreamView(promise)._repr_mimebundle_())
        return renders

    first_message, first_promise, second_message, second_promise = asyncio.run(render_twice())
    assert first_message == second_message
    assert first_promise == second_promise


# --- promises --------------------------------------------------------------------------------------------------------


def test_finished_message_promise_is_shown_whole_at_once(shell) -> None:
    _, captured = run_cell(
        shell,
        "from miniagents import TextMessage\n"
        "async def tokens(metadata):\n"
        "    for token in ['The ', 'whole ', 'answer']:\n"
        "        yield token\n"
        "    metadata['model'] = 'offline'\n"
        "promise = TextMessage.promise(message_token_streamer=tokens, role='assistant')\n"
        "await promise\n"
        "display(promise)",
    )
    (output,) = captured.outputs
    assert output.data["text/plain"] == "TextMessage role='assistant' model='offline'\nThe whole answer"
    assert WIDGET_VIEW_MIMETYPE not in output.data
    assert_static_html(output.data["text/html"])


def test_failed_message_promise_shows_the_error_where_the_stream_broke(shell) -> None:
    _, captured = run_cell(
        shell,
        "from miniagents import TextMessage\n"
        "async def tokens(metadata):\n"
        "    yield 'partial '\n"
        "    raise ValueError('stream broke')\n"
        "promise = TextMessage.promise(message_token_streamer=tokens)\n"
        "try:\n"
        "    await promise\n"
        "except ValueError:\n"
        "    pass\n"
        "display(promise)",
    )
    (output,) = captured.outputs
    assert output.data["text/plain"] == "TextMessage\npartial \n!! ValueError: stream broke"
    assert "ValueError: stream broke</div>" in output.data["text/html"]


def test_sequence_promise_shows_every_message_and_its_errors_inline(shell) -> None:
    run_ok(
        shell,
        "%%miniagent flaky\nctx.reply('one')\nctx.reply(TextMessage('two', role='assistant'))\n"
        "raise RuntimeError('gave up')",
    )
    _, captured = run_cell(
        shell,
        "from miniagents import TextMessage\nreplies = flaky.trigger()\n"
        "try:\n    await replies\nexcept RuntimeError:\n    pass\ndisplay(replies)",
    )
    (output,) = captured.outputs
    assert output.data["text/plain"] == (
        "TextMessage\none\n\nTextMessage role='assistant'\ntwo\n\n!! RuntimeError: gave up"
    )
    assert_static_html(output.data["text/html"])


def test_empty_finished_sequence_says_so(shell) -> None:
    run_ok(shell, "%%miniagent silent\npass")
    _, captured = run_cell(shell, "replies = silent.trigger()\nawait replies\ndisplay(replies)")
    assert captured.outputs[0].data["text/plain"] == "(no messages)"


async def test_promise_still_streaming_shows_what_has_arrived_so_far() -> None:
    async with MiniAgents():
        more = asyncio.Event()

        async def tokens(metadata: dict):
            yield "so far"
            await more.wait()
            yield " and the rest"

        promise = TextMessage.promise(message_token_streamer=tokens, role="assistant")
        assert await promise.__aiter__().__anext__() == "so far"  # the producer now waits for `more`
        assert StreamView(promise).text == "TextMessage role='assistant' (streaming…)\nso far"
        assert "<i>streaming…</i>" in StreamView(promise).html
        more.set()
        await promise
        assert StreamView(promise).text == "TextMessage role='assistant'\nso far and the rest"


# --- agents and records ----------------------------------------------------------------------------------------------


def test_agent_shows_alias_signature_bound_arguments_and_description(shell) -> None:
    @miniagent(model="gpt-4o")
    async def writer(ctx, topic: str = "cats", *, words: int = 100, model: str) -> None:
        """Writes about <topic> in {AGENT_ALIAS} style."""

    data = formatted(shell, writer)
    assert data["text/plain"] == (
        "MiniAgent writer(topic: str = 'cats', *, words: int = 100, model: str)\n"
        "bound: model='gpt-4o'\n"
        "Writes about <topic> in writer style."
    )
    assert "Writes about &lt;topic&gt;" in data["text/html"]
    assert_static_html(data["text/html"])


def test_call_and_reply_records_are_expandable(shell) -> None:
    records: list[AgentReplyNode] = []

    def keep_reply_nodes(_promise, message) -> None:
        if isinstance(message, AgentReplyNode):
            records.append(message)

    @miniagent
    async def answer(ctx, style: str = "plain") -> None:
        ctx.reply(f"{style}: {len(await ctx.message_promises)} question(s)")

    MiniAgents(on_persist_messages=keep_reply_nodes).run_agent(answer, ["q1", "q2"], style="short")
    (reply_node,) = records
    reply = formatted(shell, reply_node)
    assert reply["text/plain"] == (
        "AgentReplyNode answer (1 reply)\n"
        "  call: answer style='short' (2 input messages)\n"
        "  TextMessage\n"
        "  short: 2 question(s)"
    )
    call = formatted(shell, reply_node.agent_call)
    assert (
        call["text/plain"]
        == "AgentCallNode answer style='short' (2 input messages)\n  TextMessage\n  q1\n  TextMessage\n  q2"
    )
    assert reply["text/html"].startswith('<details class="miniagents-reply-node"')
    assert '<details class="miniagents-call-node"' in reply["text/html"]
    assert_static_html(reply["text/html"])
    assert_static_html(call["text/html"])
