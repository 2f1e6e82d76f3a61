"""Ask an LLM (in Yoda-speak) and watch its reply stream in, then every message persisted, with its hash key.

Runs as is, with no API key: `OpenAIAgent` then talks to the offline stand-in of the OpenAI API (the log line at the
start says so). Set `OPENAI_API_KEY` to talk to the real model; nothing else changes.

    python examples/llm_example.py
"""

import logging
from pprint import pprint

from miniagents import Message, MiniAgents
from miniagents.ext.llms import OpenAIAgent

llm_agent = OpenAIAgent.fork(model="gpt-4o-mini")

mini_agents = MiniAgents()


@mini_agents.on_persist_messages
async def persist_messages(messages: list[Message]) -> None:
    """Print each complete message once: its hash key, its class and its serialized fields."""
    for message in messages:
        print("HASH KEY:", message.hash_key)
        print(type(message).__name__)
        pprint(message.serialize(), width=119)
        print()


async def amain() -> None:
    """Send a question with a system prompt and stream the reply to the console, token by token."""
    reply_sequence = llm_agent.trigger(
        "How are you today?",
        max_tokens=1000,
        temperature=0.0,
        system="Respond only in Yoda-speak.",
    )

    print()
    async for message_promise in reply_sequence:
        async for token in message_promise:
            print(f"\033[92;1m{token}\033[0m", end="", flush=True)
        print()
        print()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("miniagents.ext.llms").setLevel(logging.INFO)
    mini_agents.run(amain())
