"""MiniAgents: async-first multi-agent systems whose agents run in parallel and talk through replayable promises.

from miniagents import InteractionContext, MiniAgents, miniagent

@miniagent
async def echo(ctx: InteractionContext) -> None:
    ctx.reply(f"You said: {await ctx.message_promises.as_single_text_promise()}")

MiniAgents().run_agent(echo, "hello")

The names below are imported on first use (`miniagents.MiniAgents`, `from miniagents import MiniAgents`), so that
`import miniagents` — and `import miniagents.promising`, which needs neither pydantic nor the agent layer — stays
cheap.
"""

from typing import TYPE_CHECKING

from miniagents.promising._lazy import lazy_exports

if TYPE_CHECKING:
    from miniagents.agents import AgentCall, InteractionContext, MiniAgent, miniagent
    from miniagents.errors import (
        AgentCallFinishedError,
        AgentFunctionError,
        CallDepthError,
        InvalidAgentKwargError,
        MiniAgentsError,
        NoActiveContextError,
        ProducerCancelledError,
        UnsupportedMessageTypeError,
    )
    from miniagents.history import HistorySource, InMemoryHistory
    from miniagents.lifecycle import (
        AgentCallEvent,
        CallFinished,
        CallInitiated,
        CallRecorded,
        CallStarted,
        InputMessageAppeared,
        ReplyMessageAppeared,
        ReplyMessageResolved,
    )
    from miniagents.message_sequence import MessageSequence
    from miniagents.messages import (
        ErrorMessage,
        Message,
        MessagePromise,
        MessageSequencePromise,
        MessageTokenAppender,
        MessageTokenStreamer,
        StrictMessage,
        TextMessage,
        TextToken,
        Token,
    )
    from miniagents.miniagent_typing import AgentFunction, MessageType, PersistMessagesEventHandler, SingleMessageType
    from miniagents.observers import MiniAgentsObserver
    from miniagents.promising.ext.frozen import Frozen, FrozenType, cached_privately
    from miniagents.promising.promising import Promise, PromisingContext, StreamAppender, StreamedPromise
    from miniagents.records import AgentCallNode, AgentInteractionNode, AgentReplyNode, RecordedCall
    from miniagents.runtime import MiniAgents

__version__ = "0.1.0"

__all__ = [
    "AgentCall",
    "AgentCallEvent",
    "AgentCallFinishedError",
    "AgentCallNode",
    "AgentFunction",
    "AgentFunctionError",
    "AgentInteractionNode",
    "AgentReplyNode",
    "CallDepthError",
    "CallFinished",
    "CallInitiated",
    "CallRecorded",
    "CallStarted",
    "ErrorMessage",
    "Frozen",
    "FrozenType",
    "HistorySource",
    "InMemoryHistory",
    "InputMessageAppeared",
    "InteractionContext",
    "InvalidAgentKwargError",
    "Message",
    "MessagePromise",
    "MessageSequence",
    "MessageSequencePromise",
    "MessageTokenAppender",
    "MessageTokenStreamer",
    "MessageType",
    "MiniAgent",
    "MiniAgents",
    "MiniAgentsError",
    "MiniAgentsObserver",
    "NoActiveContextError",
    "PersistMessagesEventHandler",
    "ProducerCancelledError",
    "Promise",
    "PromisingContext",
    "RecordedCall",
    "ReplyMessageAppeared",
    "ReplyMessageResolved",
    "SingleMessageType",
    "StreamAppender",
    "StreamedPromise",
    "StrictMessage",
    "TextMessage",
    "TextToken",
    "Token",
    "UnsupportedMessageTypeError",
    "__version__",
    "cached_privately",
    "miniagent",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "miniagents.agents": ["AgentCall", "InteractionContext", "MiniAgent", "miniagent"],
        "miniagents.errors": [
            "AgentCallFinishedError",
            "AgentFunctionError",
            "CallDepthError",
            "InvalidAgentKwargError",
            "MiniAgentsError",
            "NoActiveContextError",
            "ProducerCancelledError",
            "UnsupportedMessageTypeError",
        ],
        "miniagents.history": ["HistorySource", "InMemoryHistory"],
        "miniagents.lifecycle": [
            "AgentCallEvent",
            "CallFinished",
            "CallInitiated",
            "CallRecorded",
            "CallStarted",
            "InputMessageAppeared",
            "ReplyMessageAppeared",
            "ReplyMessageResolved",
        ],
        "miniagents.message_sequence": ["MessageSequence"],
        "miniagents.messages": [
            "ErrorMessage",
            "Message",
            "MessagePromise",
            "MessageSequencePromise",
            "MessageTokenAppender",
            "MessageTokenStreamer",
            "StrictMessage",
            "TextMessage",
            "TextToken",
            "Token",
        ],
        "miniagents.miniagent_typing": [
            "AgentFunction",
            "MessageType",
            "PersistMessagesEventHandler",
            "SingleMessageType",
        ],
        "miniagents.observers": ["MiniAgentsObserver"],
        "miniagents.promising.ext.frozen": ["Frozen", "FrozenType", "cached_privately"],
        "miniagents.promising.promising": ["Promise", "PromisingContext", "StreamAppender", "StreamedPromise"],
        "miniagents.records": ["AgentCallNode", "AgentInteractionNode", "AgentReplyNode", "RecordedCall"],
        "miniagents.runtime": ["MiniAgents"],
    },
)
