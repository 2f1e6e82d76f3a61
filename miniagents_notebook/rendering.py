"""Static renderers: the `text/plain` and `text/html` forms of messages, agents and call records.

Both forms are pure functions of the object's content — no ids, memory addresses or timings — so nbval can compare
them between runs, and the HTML uses inline styles only, so it renders the same without a kernel (GitHub,
nbconvert) as in JupyterLab. Message contents are rendered as markdown by `render_markdown`, which escapes HTML.
Every form is valid Unicode: a lone surrogate (half a character) in a message shows as `�` (see
`replace_lone_surrogates`), as an output that holds one cannot be sent to the front end at all.
"""

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from miniagents import AgentCallNode, AgentReplyNode, Frozen, Message, MiniAgent, TextMessage
from miniagents_notebook._style import ERROR_COLOR, STATUS_COLORS
from miniagents_notebook._unicode import replace_lone_surrogates
from miniagents_notebook._usage_format import reply_usage, usage_text
from miniagents_notebook.markdown import render_markdown

__all__ = [
    "SHOWN_MESSAGES",
    "TEXT_PLAIN_CHARS",
    "MessageView",
    "agent_html",
    "agent_text",
    "call_node_html",
    "call_node_text",
    "count_text",
    "error_text",
    "format_value",
    "header_fields",
    "item_html",
    "item_text",
    "join_html",
    "join_text",
    "message_html",
    "message_text",
    "message_view",
    "messages_html",
    "messages_text",
    "reply_node_html",
    "reply_node_text",
    "shorten",
]

_VALUE_LIMIT = 80
TEXT_PLAIN_CHARS = 100_000
"""The longest message text a `text/plain` form shows whole (it is what nbval compares and a terminal prints)."""
_ROLE_COLORS = {"user": "#1e88e5", "assistant": "#43a047", "system": "#8e8e8e", "tool": "#fb8c00"}
_DEFAULT_COLOR = STATUS_COLORS["waiting"]
_HEADER_STYLE = "font-size:0.85em;opacity:0.75;margin-bottom:2px"
_ERROR_STYLE = f"color:{ERROR_COLOR};font-family:monospace;white-space:pre-wrap"
_BOX_STYLE = "padding:2px 0 2px 10px;margin:6px 0"
_TEXT_FIELDS = ("content", "content_template", "text")
RAW_METADATA_FIELDS = frozenset(
    {"id", "created", "system_fingerprint", "service_tier", "usage", "token_usage", "cost_usd", "queued_seconds"}
    | {"type", "stop_sequence"}
)
"""Fields of LLM replies that a message's header leaves out (one click away in the HTML form): the provider's ids,
timestamps and raw usage. The header says what a person wants — role, agent, model, finish reason, and the tokens (and
cost) summed up."""


@dataclass(frozen=True, slots=True)
class MessageView:
    """What a display shows of one message, whole or still streaming: the header, the text, the outcome."""

    class_name: str
    fields: tuple[tuple[str, Any], ...]
    content: str | None
    complete: bool = True
    error: BaseException | None = None

    @property
    def role(self) -> str | None:
        return next((value for name, value in self.fields if name == "role" and isinstance(value, str)), None)


def header_fields(values: Frozen, without_text: bool) -> tuple[tuple[str, Any], ...]:
    """The fields a message header shows: every field that is set, the text fields too unless `without_text`."""
    skipped = _TEXT_FIELDS if without_text else ()
    return tuple(
        (name, value)
        for name, value in values.frozen_fields_and_values().items()
        if name not in skipped and value is not None
    )


def message_view(message: Message) -> MessageView:
    """The view of a complete message: its text (if it is a text message) and its other fields as the header."""
    content = _content_of(message)
    return MessageView(type(message).__name__, header_fields(message, without_text=content is not None), content)


def _content_of(message: Message) -> str | None:
    if isinstance(message, TextMessage):
        return str(message) if message.content is not None or message.content_template is not None else None
    for field in ("content", "text"):
        if isinstance(message.get(field), str):
            return message.get(field)
    return None


def error_text(error: BaseException) -> str:
    """`ErrorClass: message`, the way errors are shown inline."""
    return replace_lone_surrogates(f"{type(error).__name__}: {error}")


# --- values --------------------------------------------------------------------------------------------------------


def format_value(value: Any, limit: int = _VALUE_LIMIT) -> str:
    """A short, deterministic one-line text for a field or argument value, cut at `limit` characters.

    Nested messages become `<ClassName>` placeholders, frozen dicts and tuples read like JSON, and objects of any
    other type show only their type (a default repr would put a memory address into outputs that nbval compares).
    Big values cost only what is shown: building stops once `limit` characters are there.
    """
    return replace_lone_surrogates(shorten(_value_text(value, budget=limit + 1, nested=False), limit))


def count_text(number: int, singular: str, plural: str | None = None) -> str:
    """`1 reply`, `2 replies`, `0 calls`."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def shorten(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with `…` as the last one if it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value_text(value: Any, budget: int, nested: bool) -> str:
    """Top-level strings read like Python (`'text'`), values inside containers like JSON (`["a", "b"]`)."""
    if isinstance(value, str):
        return json.dumps(value[:budget], ensure_ascii=False) if nested else repr(value[:budget])
    if isinstance(value, (bool, int, float, type(None))):
        return json.dumps(value) if nested else repr(value)
    if isinstance(value, tuple):
        if value and not nested and all(isinstance(item, Message) for item in value):
            return f"<{count_text(len(value), 'message')}>"
        return "[" + _joined_within(budget, (_value_text(item, budget, True) for item in value)) + "]"
    if isinstance(value, Frozen) and not isinstance(value, Message):
        items = value.frozen_fields_and_values().items()
        return (
            "{"
            + _joined_within(
                budget, (f"{json.dumps(name)}: {_value_text(item, budget, True)}" for name, item in items)
            )
            + "}"
        )
    placeholder = f"<{type(value).__name__}>"  # a nested message, or an object of any other type
    return json.dumps(placeholder) if nested else placeholder


def _joined_within(budget: int, parts: Iterable[str]) -> str:
    """`parts` joined by `, `, stopping once the text is longer than `budget` (the caller cuts it)."""
    taken: list[str] = []
    size = 0
    for part in parts:
        taken.append(part)
        size += len(part) + 2
        if size > budget:
            break
    return ", ".join(taken)


def _header_and_metadata(view: MessageView) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]], str]:
    """The fields a message's header shows, the raw metadata it leaves out, and the tokens (and cost) of an LLM
    reply (`"33 tokens · $0.0001"`, or `""`)."""
    fields = _ordered_fields(view)
    shown = [field for field in fields if field[0] not in RAW_METADATA_FIELDS]
    metadata = [field for field in fields if field[0] in RAW_METADATA_FIELDS]
    values = dict(fields)
    tokens = usage_text(reply_usage(values, values.get("agent_alias") or ""))
    return shown, metadata, tokens


def _fields_text(fields: Iterable[tuple[str, Any]]) -> str:
    return " ".join(f"{name}={format_value(value)}" for name, value in fields)


def _fields_html(fields: Iterable[tuple[str, Any]]) -> list[str]:
    return [f"{html.escape(name)}: {html.escape(format_value(value))}" for name, value in fields]


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


# --- messages ------------------------------------------------------------------------------------------------------


def _status_suffix(view: MessageView) -> str:
    if view.complete or view.error is not None:
        return ""
    return " (streaming…)"


def message_text(view: MessageView) -> str:
    """`ClassName role='…' other='…' · 33 tokens (+4 metadata fields)`, then the text, then the error if the message
    failed. The raw metadata of LLM replies (`RAW_METADATA_FIELDS`: ids, timestamps, raw usage) is only counted, so
    the form stays the same from run to run.

    A text longer than `TEXT_PLAIN_CHARS` shows its beginning and its end, as numpy and pandas shorten big values
    (the HTML form does the same, so a huge message does not bloat the saved notebook); `str(message)` is the whole
    text.
    """
    shown, metadata, tokens = _header_and_metadata(view)
    header = " ".join(part for part in (view.class_name, _fields_text(shown)) if part)
    header += f" · {tokens}" if tokens else ""
    header += f" (+{count_text(len(metadata), 'metadata field')})" if metadata else ""
    lines = [header + _status_suffix(view)]
    if view.content:
        lines.append(_shortened_in_the_middle(view.content))
    if view.error is not None:
        lines.append(f"!! {error_text(view.error)}")
    return replace_lone_surrogates("\n".join(lines))


def _shortened_in_the_middle(text: str) -> str:
    if len(text) <= TEXT_PLAIN_CHARS:
        return text
    half = TEXT_PLAIN_CHARS // 2
    return f"{text[:half]}\n… ({len(text) - 2 * half:,} more characters) …\n{text[-half:]}"


def _ordered_fields(view: MessageView) -> list[tuple[str, Any]]:
    return sorted(view.fields, key=lambda field: field[0] != "role")


def message_html(view: MessageView) -> str:
    """A bordered block: a small header (role, class, agent, model, finish reason, tokens), the raw metadata folded
    under it (one click opens it), the text as markdown, the error in red."""
    role = view.role
    color = ERROR_COLOR if view.error is not None else _ROLE_COLORS.get(role or "", _DEFAULT_COLOR)
    shown, metadata, tokens = _header_and_metadata(view)
    header_parts = [f"<b>{html.escape(role)}</b>"] if role else []
    header_parts.append(html.escape(view.class_name))
    header_parts += _fields_html(field for field in shown if field[0] != "role")
    if tokens:
        header_parts.append(html.escape(tokens))
    if not view.complete and view.error is None:
        header_parts.append("<i>streaming…</i>")
    folded = ""
    if metadata:
        lines = "".join(f"<div>{line}</div>" for line in _fields_html(metadata))
        folded = (
            f'<details class="miniagents-metadata" style="{_HEADER_STYLE}"><summary style="cursor:pointer">'
            f"metadata ({len(metadata)})</summary>{lines}</details>"
        )
    body = render_markdown(_shortened_in_the_middle(view.content)) if view.content else ""
    error = f'<div style="{_ERROR_STYLE}">{html.escape(error_text(view.error))}</div>' if view.error else ""
    return replace_lone_surrogates(
        f'<div class="miniagents-message" style="border-left:3px solid {color};{_BOX_STYLE}">'
        f'<div style="{_HEADER_STYLE}">{" · ".join(header_parts)}</div>{folded}{body}{error}</div>'
    )


def item_text(item: MessageView | BaseException) -> str:
    """One position of a sequence: a message, or the error that happened there."""
    return f"!! {error_text(item)}" if isinstance(item, BaseException) else message_text(item)


def item_html(item: MessageView | BaseException) -> str:
    if isinstance(item, BaseException):
        return f'<div style="{_ERROR_STYLE}">{html.escape(error_text(item))}</div>'
    return message_html(item)


def join_text(parts: Sequence[str], complete: bool = True) -> str:
    """Rendered positions of a sequence separated by blank lines, and `…` if more may come."""
    parts = [*parts, "…"] if not complete else list(parts)
    return "\n\n".join(parts) if parts else "(no messages)"


SHOWN_MESSAGES = 20
"""How many messages of a sequence a view shows before it folds the rest into a "… N more messages" block (a fan-out
to 200 agents would otherwise fill thousands of pixels, with what follows far below)."""


def messages_text(messages: Sequence[Message]) -> str:
    """A sequence of messages (what `await agent.trigger(...)` returns): their number, then each message, the ones
    after the first `SHOWN_MESSAGES` counted only."""
    shown = [message_text(message_view(message)) for message in messages[:SHOWN_MESSAGES]]
    if len(messages) > SHOWN_MESSAGES:
        shown.append(f"… {count_text(len(messages) - SHOWN_MESSAGES, 'more message')}")
    return f"({count_text(len(messages), 'message')})\n" + join_text(shown)


def messages_html(messages: Sequence[Message]) -> str:
    """Their number, then each message; the ones after the first `SHOWN_MESSAGES` folded (one click opens them)."""
    parts = [message_html(message_view(message)) for message in messages]
    return (
        f'<div class="miniagents-message-tuple"><div style="{_HEADER_STYLE}">'
        f"{count_text(len(messages), 'message')}</div>{join_html(parts)}</div>"
    )


def join_html(parts: Sequence[str], complete: bool = True) -> str:
    """The messages of a sequence, the ones after the first `SHOWN_MESSAGES` folded (one click opens them)."""
    tail = ""
    if not complete:
        tail = '<div style="opacity:0.6">…</div>'
    elif not parts:
        tail = '<div style="opacity:0.6"><i>(no messages)</i></div>'
    shown, folded = parts[:SHOWN_MESSAGES], parts[SHOWN_MESSAGES:]
    more = ""
    if folded:
        more = (
            '<details class="miniagents-more"><summary style="cursor:pointer;opacity:0.75">'
            f"… {count_text(len(folded), 'more message')}</summary>{''.join(folded)}</details>"
        )
    return f'<div class="miniagents-messages">{"".join(shown)}{more}{tail}</div>'


# --- agents --------------------------------------------------------------------------------------------------------


def _signature_text(agent: MiniAgent) -> str:
    try:
        return str(agent.signature)
    except (TypeError, ValueError):
        return "(...)"


def agent_text(agent: MiniAgent) -> str:
    """`MiniAgent alias(signature)`, the bound keyword arguments, then the description."""
    lines = [f"MiniAgent {agent.alias}{_signature_text(agent)}"]
    if agent.bound_kwargs:
        lines.append(f"bound: {_fields_text(sorted(agent.bound_kwargs.items()))}")
    if agent.description:
        lines.append(agent.description)
    return replace_lone_surrogates("\n".join(lines))


def agent_html(agent: MiniAgent) -> str:
    bound = ""
    if agent.bound_kwargs:
        bound_text = _fields_text(sorted(agent.bound_kwargs.items()))
        bound = f'<div style="{_HEADER_STYLE}">bound: {html.escape(bound_text)}</div>'
    description = f"<div>{html.escape(agent.description)}</div>" if agent.description else ""
    return replace_lone_surrogates(
        f'<div class="miniagents-agent" style="border-left:3px solid #7e57c2;{_BOX_STYLE}">'
        f"<div><code><b>{html.escape(agent.alias)}</b>{html.escape(_signature_text(agent))}</code>"
        f' <span style="{_HEADER_STYLE}">MiniAgent</span></div>{bound}{description}</div>'
    )


# --- call records --------------------------------------------------------------------------------------------------


def _record_fields(node: Message, structural: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [(name, value) for name, value in node.frozen_fields_and_values().items() if name not in structural]


def _call_summary(node: AgentCallNode) -> str:
    fields = _fields_text(_record_fields(node, ("agent_alias", "messages")))
    return " ".join(
        part for part in (node.agent_alias, fields, f"({count_text(len(node.messages), 'input message')})") if part
    )


def call_node_text(node: AgentCallNode) -> str:
    """`AgentCallNode alias kwargs (n input messages)` and the input messages, indented."""
    lines = [f"AgentCallNode {_call_summary(node)}"]
    lines += [_indent(message_text(message_view(message))) for message in node.messages]
    return replace_lone_surrogates("\n".join(lines))


def reply_node_text(node: AgentReplyNode) -> str:
    """`AgentReplyNode alias (n replies)`, the call it answered, and the replies, indented."""
    lines = [f"AgentReplyNode {node.agent_alias} ({count_text(len(node.replies), 'reply', 'replies')})"]
    lines.append(f"  call: {_call_summary(node.agent_call)}")
    lines += [_indent(message_text(message_view(message))) for message in node.replies]
    return replace_lone_surrogates("\n".join(lines))


def _details(summary: str, body: str, css_class: str) -> str:
    return replace_lone_surrogates(
        f'<details class="{css_class}" style="border-left:3px solid #7e57c2;{_BOX_STYLE}">'
        f'<summary style="cursor:pointer">{summary}</summary>{body}</details>'
    )


def call_node_html(node: AgentCallNode) -> str:
    """An expandable `<details>` block: the summary line, then the input messages."""
    fields = _fields_html(_record_fields(node, ("agent_alias", "messages")))
    summary = " · ".join(
        [
            f"<b>{html.escape(node.agent_alias)}</b>",
            "AgentCallNode",
            *fields,
            count_text(len(node.messages), "input message"),
        ]
    )
    body = "".join(message_html(message_view(message)) for message in node.messages)
    return _details(summary, body, "miniagents-call-node")


def reply_node_html(node: AgentReplyNode) -> str:
    """An expandable `<details>` block: the call it answered (itself expandable), then the replies."""
    fields = _fields_html(_record_fields(node, ("agent_alias", "agent_call", "replies")))
    summary = " · ".join(
        [
            f"<b>{html.escape(node.agent_alias)}</b>",
            "AgentReplyNode",
            *fields,
            count_text(len(node.replies), "reply", "replies"),
        ]
    )
    body = call_node_html(node.agent_call) + "".join(message_html(message_view(message)) for message in node.replies)
    return _details(summary, body, "miniagents-reply-node")
