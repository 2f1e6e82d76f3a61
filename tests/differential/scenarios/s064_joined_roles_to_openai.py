"""A user and an assistant message joined with as_single_text_promise, then sent to OpenAI."""

import fake_openai

from miniagents import MessageSequence, MiniAgents
from miniagents.ext.llms import OpenAIAgent
from miniagents.ext.llms.llm_utils import AssistantMessage, UserMessage

fake_openai.start()


async def main():
    joined = MessageSequence.turn_into_sequence_promise([UserMessage("u"), AssistantMessage("a")])
    await OpenAIAgent.trigger(joined.as_single_text_promise(), model="gpt-test")
    print(fake_openai.REQUESTS[-1]["messages"])


MiniAgents().run(main())
