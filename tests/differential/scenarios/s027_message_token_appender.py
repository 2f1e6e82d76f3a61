"""MessageTokenAppender streams tokens into a MessagePromise by hand; collected fields end up on the message."""

from miniagents import MessagePromise, MessageTokenAppender, MiniAgents, TextMessage


async def main():
    with MessageTokenAppender(capture_errors=True) as appender:
        promise = MessagePromise(message_token_streamer=appender, message_class=TextMessage, role="assistant")
        appender.append("Hel")
        appender.append("lo")
        appender.auxiliary_field_collector["model"] = "some-model"
    print([str(token) async for token in promise])
    message = await promise
    print(type(message).__name__, str(message), message.role, message.model)
    print(message.hash_key)


MiniAgents().run(main())
