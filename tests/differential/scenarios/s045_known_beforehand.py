"""known_beforehand: fields known before the first token."""

from miniagents import MiniAgents, TextMessage


async def tokens(_):
    yield "x"


async def main():
    promise = TextMessage.promise(message_token_streamer=tokens, role="assistant", agent_alias="A")
    print(promise.known_beforehand.role, promise.known_beforehand.agent_alias)
    print(str(await promise))


MiniAgents().run(main())
