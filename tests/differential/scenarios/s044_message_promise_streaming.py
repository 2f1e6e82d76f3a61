"""A MessagePromise from a token streamer: tokens replay, the message joins them."""

from miniagents import MiniAgents, TextMessage


async def tokens(metadata_so_far):
    metadata_so_far["model"] = "m"
    for token in ("to", "k", "ens"):
        yield token


async def main():
    promise = TextMessage.promise(message_token_streamer=tokens, role="assistant")
    print([str(token) async for token in promise])
    message = await promise
    print(str(message), message.role, message.model, message.hash_key)


MiniAgents().run(main())
