"""The rich displays the extension registers with IPython, and how to take them back.

Messages, agents and call records get a `text/plain` + `text/html` bundle (static, deterministic). Promises of a
message or of a sequence are displayed as a `StreamView`: live while they stream, whole at once when they are
already complete, errors inline.
"""

from collections.abc import Callable
from typing import Any

from IPython.core.interactiveshell import InteractiveShell

from miniagents import AgentCallNode, AgentReplyNode, Message, MessagePromise, MessageSequencePromise, MiniAgent
from miniagents_notebook.rendering import (
    agent_html,
    agent_text,
    call_node_html,
    call_node_text,
    message_html,
    message_text,
    message_view,
    reply_node_html,
    reply_node_text,
)
from miniagents_notebook.stream_view import StreamView

__all__ = ["register_displays"]


def _message_bundle(message: Message) -> dict[str, str]:
    view = message_view(message)
    return {"text/plain": message_text(view), "text/html": message_html(view)}


def _agent_bundle(agent: MiniAgent) -> dict[str, str]:
    return {"text/plain": agent_text(agent), "text/html": agent_html(agent)}


def _call_node_bundle(node: AgentCallNode) -> dict[str, str]:
    return {"text/plain": call_node_text(node), "text/html": call_node_html(node)}


def _reply_node_bundle(node: AgentReplyNode) -> dict[str, str]:
    return {"text/plain": reply_node_text(node), "text/html": reply_node_html(node)}


def _display_stream(promise: MessagePromise | MessageSequencePromise) -> None:
    StreamView(promise)._ipython_display_()


_BUNDLES: dict[type, Callable[[Any], dict[str, str]]] = {
    Message: _message_bundle,
    MiniAgent: _agent_bundle,
    AgentCallNode: _call_node_bundle,
    AgentReplyNode: _reply_node_bundle,
}
_SELF_DISPLAYED: dict[type, Callable[[Any], None]] = {
    MessagePromise: _display_stream,
    MessageSequencePromise: _display_stream,
}


def register_displays(shell: InteractiveShell) -> Callable[[], None]:
    """Register the displays with `shell`; returns the function that restores the formatters as they were."""
    formatters = shell.display_formatter
    registrations = [(formatters.mimebundle_formatter, cls, printer) for cls, printer in _BUNDLES.items()]
    registrations += [(formatters.ipython_display_formatter, cls, printer) for cls, printer in _SELF_DISPLAYED.items()]
    # the printers registered for exactly these types (`for_type` would return inherited ones too)
    previous = [(formatter, cls, formatter.type_printers.get(cls)) for formatter, cls, _ in registrations]
    for formatter, cls, printer in registrations:
        formatter.for_type(cls, printer)

    def unregister() -> None:
        for formatter, cls, old_printer in reversed(previous):
            formatter.pop(cls, None)
            if old_printer is not None:
                formatter.for_type(cls, old_printer)

    return unregister
