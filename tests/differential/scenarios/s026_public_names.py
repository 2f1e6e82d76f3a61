"""Names importable from `miniagents` that code written for MiniAgents uses."""

import miniagents

names = [
    "AgentCall",
    "AgentCallNode",
    "AgentFunction",
    "AgentInteractionNode",
    "AgentReplyNode",
    "ErrorMessage",
    "Frozen",
    "FrozenType",
    "InteractionContext",
    "Message",
    "MessagePromise",
    "MessageSequence",
    "MessageSequencePromise",
    "MessageTokenAppender",
    "MessageTokenStreamer",
    "MessageType",
    "MiniAgent",
    "MiniAgents",
    "PersistMessagesEventHandler",
    "SingleMessageType",
    "StrictMessage",
    "TextMessage",
    "TextToken",
    "Token",
    "cached_privately",
    "miniagent",
    "__version__",
]
for name in names:
    print(name, hasattr(miniagents, name))
