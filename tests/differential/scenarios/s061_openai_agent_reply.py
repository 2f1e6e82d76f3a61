"""OpenAIAgent against a stand-in of the API: the reply text and its role."""

import fake_openai

from miniagents import MiniAgents
from miniagents.ext.llms import OpenAIAgent

fake_openai.start()


async def main():
    for stream in (True, False):
        replies = await OpenAIAgent.trigger("Hi", model="gpt-test", stream=stream)
        for message in replies:
            print(stream, type(message).__name__, repr(str(message)), message.role)


MiniAgents().run(main())
