"""What OpenAIAgent sends: system prompt position, roles of user / assistant messages."""

# expected difference: the `system=` prompt is sent first here (where OpenAI's documentation puts it); MiniAgents
#   appends it after the conversation. The roles and contents of the other messages are the same.

import fake_openai

from miniagents import MiniAgents
from miniagents.ext.llms import OpenAIAgent
from miniagents.ext.llms.llm_utils import AssistantMessage, UserMessage

fake_openai.start()


async def main():
    history = [UserMessage("question"), AssistantMessage("answer"), "plain text"]
    await OpenAIAgent.trigger(history, model="gpt-test", system="Be brief.")
    print(fake_openai.REQUESTS[-1]["messages"])


MiniAgents().run(main())
