"""Static renderers: the `text/plain` and `text/html` forms of messages, agents and call records.

Both forms are pure functions of the object's content — no ids, memory addresses or timings — so nbval can compare
them between runs, and the HTML uses inline styles only, so it renders the same without a kernel (GitHub,
nbconvert) as in JupyterLab. Message contents are rendered as markdown by `render_markdown`, which escapes HTML.
"""

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from miniagents import AgentCallNode, AgentReplyNode, Frozen, Message, MiniAgent, TextMessage
from miniagents_notebook.markdown import render_markdown

__all__ = [
    "MessageView",
    "agent_html",
    "agent_text",
    "call_node_html",
    "call_node_text",
    "error_text",
    "format_value",
    "item_html",
    "item_text",
    "join_html",
    "join_text",
    "message_html",
    "message_text",
    "message_view",
    "reply_node_html",
    "reply_node_text",
]

_VALUE_LIMIT = 80
_ROLE_COLORS = {"user": "#1e88e5", "assistant": "#43a047", "system": "#8e8e8e", "tool": "#fb8c00"}
_DEFAULT_COLOR = "#9e9e9e"
_ERROR_COLOR = "#c62828"
_HEADER_STYLE = "font-size:0.85em;opacity:0.75;margin-bottom:2px"
_ERROR_STYLE = f"color:{_ERROR_COLOR};font-family:monospace;white-space:pre-wrap"
_BOX_STYLE = "padding:2px 0 2px 10px;margin:6px 0"
_TEXT_FIELDS = ("content", "content_template", "text")


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


def message_view(message: Message) -> MessageView:
    """The view of a complete message: its text (if it is a text message) and its other fields as the header."""
    content = _content_of(message)
    skipped = _TEXT_FIELDS if content is not None else ()
    fields = tuple(
        (name, value)
        for name, value in message.frozen_fields_and_values().items()
        if name not in skipped and value is not None
    )
    return MessageView(type(message).__name__, fields, content)


def _content_of(message: Message) -> str | None:
    if isinstance(message, TextMessage):
        return str(message) if message.content is not None or message.content_template is not None else None
    for field in ("content", "text"):
        if isinstance(message.get(field), str):
            return message.get(field)
    return None


def error_text(error: BaseException) -> str:
    """`ErrorClass: message`, the way errors are shown inline."""
    return f"{type(error).__name__}: {error}"


# --- values --------------------------------------------------------------------------------------------------------


def format_value(value: Any, limit: int = _VALUE_LIMIT) -> str:
    """A short, deterministic text for a field value (nested messages become `<ClassName>` placeholders)."""
    if isinstance(value, Message):
        text = f"<{type(value).__name__}>"
    elif isinstance(value, tuple) and value and all(isinstance(item, Message) for item in value):
        text = f"<{len(value)} message{'s' if len(value) != 1 else ''}>"
    elif isinstance(value, (Frozen, tuple)):
        text = json.dumps(_plain(value), ensure_ascii=False, default=str)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> Any:
    if isinstance(value, Message):
        return f"<{type(value).__name__}>"
    if isinstance(value, Frozen):
        return {name: _plain(item) for name, item in value.frozen_fields_and_values().items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


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
    """`ClassName role='…' other='…'`, then the text, then the error if the message failed."""
    header = " ".join(part for part in (view.class_name, _fields_text(_ordered_fields(view))) if part)
    lines = [header + _status_suffix(view)]
    if view.content:
        lines.append(view.content)
    if view.error is not None:
        lines.append(f"!! {error_text(view.error)}")
    return "\n".join(lines)


def _ordered_fields(view: MessageView) -> list[tuple[str, Any]]:
    return sorted(view.fields, key=lambda field: field[0] != "role")


def message_html(view: MessageView) -> str:
    """A bordered block: a small header (role, class, fields), the text as markdown, the error in red."""
    role = view.role
    color = _ERROR_COLOR if view.error is not None else _ROLE_COLORS.get(role or "", _DEFAULT_COLOR)
    header_parts = [f"<b>{html.escape(role)}</b>"] if role else []
    header_parts.append(html.escape(view.class_name))
    header_parts += _fields_html(field for field in view.fields if field[0] != "role")
    if not view.complete and view.error is None:
        header_parts.append("<i>streaming…</i>")
    body = render_markdown(view.content) if view.content else ""
    error = f'<div style="{_ERROR_STYLE}">{html.escape(error_text(view.error))}</div>' if view.error else ""
    return (
        f'<div class="miniagents-message" style="border-left:3px solid {color};{_BOX_STYLE}">'
        f'<div style="{_HEADER_STYLE}">{" · ".join(header_parts)}</div>{body}{error}</div>'
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


def join_html(parts: Sequence[str], complete: bool = True) -> str:
    tail = ""
    if not complete:
        tail = '<div style="opacity:0.6">…</div>'
    elif not parts:
        tail = '<div style="opacity:0.6"><i>(no messages)</i></div>'
    return f'<div class="miniagents-messages">{"".join(parts)}{tail}</div>'


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
    return "\n".join(lines)


def agent_html(agent: MiniAgent) -> str:
    bound = ""
    if agent.bound_kwargs:
        bound_text = _fields_text(sorted(agent.bound_kwargs.items()))
        bound = f'<div style="{_HEADER_STYLE}">bound: {html.escape(bound_text)}</div>'
    description = f"<div>{html.escape(agent.description)}</div>" if agent.description else ""
    return (
        f'<div class="miniagents-agent" style="border-left:3px solid #7e57c2;{_BOX_STYLE}">'
        f"<div><code><b>{html.escape(agent.alias)}</b>{html.escape(_signature_text(agent))}</code>"
        f' <span style="{_HEADER_STYLE}">MiniAgent</span></div>{bound}{description}</div>'
    )


# --- call records --------------------------------------------------------------------------------------------------


def _record_fields(node: Message, structural: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [(name, value) for name, value in node.frozen_fields_and_values().items() if name not in structural]


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _call_summary(node: AgentCallNode) -> str:
    fields = _fields_text(_record_fields(node, ("agent_alias", "messages")))
    return " ".join(
        part for part in (node.agent_alias, fields, f"({_count(len(node.messages), 'input message')})") if part
    )


def call_node_text(node: AgentCallNode) -> str:
    """`AgentCallNode alias kwargs (n input messages)` and the input messages, indented."""
    lines = [f"AgentCallNode {_call_summary(node)}"]
    lines += [_indent(message_text(message_view(message))) for message in node.messages]
    return "\n".join(lines)


def reply_node_text(node: AgentReplyNode) -> str:
    """`AgentReplyNode alias (n replies)`, the call it answered, and the replies, indented."""
    lines = [f"AgentReplyNode {node.agent_alias} ({_count(len(node.replies), 'reply', 'replies')})"]
    lines.append(f"  call: {_call_summary(node.agent_call)}")
    lines += [_indent(message_text(message_view(message))) for message in node.replies]
    return "\n".join(lines)


def _details(summary: str, body: str, css_class: str) -> str:
    return (
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
            _count(len(node.messages), "input message"),
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
            _count(len(node.replies), "reply", "replies"),
        ]
    )
    body = call_node_html(node.agent_call) + "".join(message_html(message_view(message)) for message in node.replies)
    return _details(summary, body, "miniagents-reply-node")
