"""The metadata on an OpenAI reply (finish reason) as MiniAgents exposes it."""

import fake_openai

from miniagents import MiniAgents
from miniagents.ext.llms import OpenAIAgent

fake_openai.start()


async def main():
    for stream in (True, False):
        message = (await OpenAIAgent.trigger("Hi", model="gpt-test", stream=stream))[0]
        print(stream, message.model, message.choices[0].finish_reason)


MiniAgents().run(main())
