"""A Promise whose resolver fails raises the same error every time it is awaited."""

from miniagents.promising.promising import Promise, PromisingContext


async def resolver():
    raise KeyError("missing")


async def main():
    promise = Promise(resolver=resolver)
    for _ in range(2):
        try:
            await promise
        except KeyError as error:
            print("KeyError", error)


PromisingContext().run(main())
