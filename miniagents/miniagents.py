"""The agent layer's public module (the path the seeds import from): agents, their context and their records."""

from miniagents.agents import AgentCall, InteractionContext, MiniAgent, miniagent
from miniagents.message_sequence import MessageSequence, MessageSequencePromise
from miniagents.messages import Message, MessagePromise
from miniagents.miniagent_typing import MessageType
from miniagents.records import AgentCallNode, AgentInteractionNode, AgentReplyNode
from miniagents.runtime import MiniAgents

__all__ = [
    "AgentCall",
    "AgentCallNode",
    "AgentInteractionNode",
    "AgentReplyNode",
    "InteractionContext",
    "Message",
    "MessagePromise",
    "MessageSequence",
    "MessageSequencePromise",
    "MessageType",
    "MiniAgent",
    "MiniAgents",
    "miniagent",
]
