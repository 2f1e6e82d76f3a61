"""A StreamedPromise fed by a StreamAppender replays its pieces for every consumer."""

from miniagents.promising.promising import PromisingContext, StreamAppender, StreamedPromise


async def main():
    with StreamAppender() as appender:
        promise = StreamedPromise(streamer=appender, resolver=lambda p: None)
        for piece in ("a", "b", "c"):
            appender.append(piece)
    print([piece async for piece in promise])
    print([piece async for piece in promise])


PromisingContext().run(main())
