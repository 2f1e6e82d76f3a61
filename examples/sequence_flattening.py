"""The tutorial's "message sequence flattening" demo: research → web search → page scraping, with fake delays.

All nine agents run in parallel: the whole run takes about as long as the longest single path (two delays), not the
sum of all delays. The same replies are then consumed a second time: they are replayed, the agents do not run again.

    python examples/sequence_flattening.py
"""

import asyncio
import random
import time

from miniagents import InteractionContext, MessageSequencePromise, MiniAgents, miniagent


@miniagent
async def research_agent(ctx: InteractionContext) -> None:
    ctx.reply(f"RESEARCHING: {await ctx.message_promises.as_single_text_promise()}")

    for i in range(3):
        ctx.reply_out_of_order(
            # no `await`: the agent starts in the background and its replies are a promise, available at once
            web_search_agent.trigger(ctx.message_promises, search_query=f"query {i + 1}")
        )


@miniagent
async def web_search_agent(ctx: InteractionContext, search_query: str) -> None:
    ctx.reply(f"{search_query} - SEARCHING")
    await asyncio.sleep(random.uniform(0.5, 1))
    ctx.reply(f"{search_query} - SEARCH DONE")

    for i in range(2):
        ctx.reply_out_of_order(
            page_scraper_agent.trigger(
                ctx.message_promises,
                url=f"https://dummy.com/{search_query.replace(' ', '-')}/page-{i + 1}",
            )
        )


@miniagent
async def page_scraper_agent(ctx: InteractionContext, url: str) -> None:
    ctx.reply(f"{url} - SCRAPING")
    await asyncio.sleep(random.uniform(0.5, 1))
    ctx.reply(f"{url} - DONE")


async def stream_to_stdout(promises: MessageSequencePromise) -> None:
    """Print every message of the sequence, token by token, as it arrives."""
    index = 0
    async for message_promise in promises:
        print(f"{index}: ", end="")
        index += 1
        async for token in message_promise:
            print(token, end="", flush=True)
        print()


async def main() -> None:
    response_promises = research_agent.trigger("Tell me about MiniAgents")

    started = time.monotonic()
    print("\nFIRST TIME:\n")
    await stream_to_stdout(response_promises)
    print(f"\n(took {time.monotonic() - started:.1f} s)")

    print("\nSECOND TIME (replayed, the agents do not run again):\n")
    await stream_to_stdout(response_promises)


if __name__ == "__main__":
    MiniAgents().run(main())
