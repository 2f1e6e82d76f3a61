"""The rich displays the extension registers with IPython, and how to take them back.

Messages, agents and call records get a `text/plain` + `text/html` bundle (static, deterministic), and so does a tuple
of messages — what `await agent.trigger(...)` returns — (its count, then each message; a long one folded). Promises
of a message or of a sequence are displayed as a `StreamView`: live while they stream, whole at once when they are
already complete, errors inline.
"""

from collections.abc import Callable
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.dir2 import get_real_method

from miniagents import AgentCallNode, AgentReplyNode, Message, MessagePromise, MessageSequencePromise, MiniAgent
from miniagents_notebook.rendering import (
    agent_html,
    agent_text,
    call_node_html,
    call_node_text,
    message_html,
    message_text,
    message_view,
    messages_html,
    messages_text,
    reply_node_html,
    reply_node_text,
)
from miniagents_notebook.stream_view import StreamView

__all__ = ["register_displays"]


def _message_bundle(message: Message) -> dict[str, str]:
    view = message_view(message)
    return {"text/plain": message_text(view), "text/html": message_html(view)}


def _is_message_tuple(items: tuple[Any, ...]) -> bool:
    return type(items) is tuple and bool(items) and all(isinstance(item, Message) for item in items)


def _tuple_bundle(items: tuple[Any, ...]) -> dict[str, Any] | None:
    """A tuple of messages as messages; any other tuple as IPython shows it without us (`None`: the printer for
    `tuple` stands in for an object's own `_repr_mimebundle_`, so that one is asked here)."""
    if _is_message_tuple(items):
        return {"text/html": messages_html(items)}
    own = get_real_method(items, "_repr_mimebundle_")
    return None if own is None else own()


def _tuple_text(previous: Callable[..., None]) -> Callable[..., None]:
    """The `text/plain` printer of tuples: messages as `messages_text`, any other tuple by IPython's own printer
    (`previous`; IPython registers one for `tuple`, which comes before any bundle)."""

    def print_tuple(items: tuple[Any, ...], printer: Any, cycle: bool) -> None:
        if _is_message_tuple(items):
            printer.text(messages_text(items))
        else:
            previous(items, printer, cycle)

    return print_tuple


def _agent_bundle(agent: MiniAgent) -> dict[str, str]:
    return {"text/plain": agent_text(agent), "text/html": agent_html(agent)}


def _call_node_bundle(node: AgentCallNode) -> dict[str, str]:
    return {"text/plain": call_node_text(node), "text/html": call_node_html(node)}


def _reply_node_bundle(node: AgentReplyNode) -> dict[str, str]:
    return {"text/plain": reply_node_text(node), "text/html": reply_node_html(node)}


def _display_stream(promise: MessagePromise | MessageSequencePromise) -> None:
    StreamView(promise)._ipython_display_()


_BUNDLES: dict[type, Callable[[Any], dict[str, Any] | None]] = {
    Message: _message_bundle,
    tuple: _tuple_bundle,
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
    plain_text = formatters.formatters["text/plain"]
    registrations.append((plain_text, tuple, _tuple_text(plain_text.for_type(tuple))))
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
