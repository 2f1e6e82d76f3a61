"""The fields an OpenAI reply is stored with (and so its hash key)."""

# expected difference: an OpenAI reply keeps normalised metadata here (`finish_reason`, `usage`, `token_usage`, `id`,
#   `created`; `choices[0].finish_reason` is computed) instead of the provider's raw response fields (`object`,
#   `choices` with `logprobs`, `system_fingerprint`, ...), so its stored form and hash key differ; text, role and model
#   are the same
import fake_openai

from miniagents import MiniAgents
from miniagents.ext.llms import OpenAIAgent

fake_openai.start()


async def main():
    message = (await OpenAIAgent.trigger("Hi", model="gpt-test", stream=False))[0]
    print(sorted(message.serialize()))


MiniAgents().run(main())
