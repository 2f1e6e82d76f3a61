"""A Promise resolves once; awaiting it again gives the same value."""

from miniagents.promising.promising import Promise, PromisingContext

calls = []


async def resolver():
    calls.append(1)
    return 42


async def main():
    promise = Promise(resolver=resolver)
    print(await promise, await promise, len(calls))
    print(await Promise(prefill_result="ready"))


PromisingContext().run(main())
