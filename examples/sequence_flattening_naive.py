"""The tutorial's naive alternative to sequence flattening: plain async generators, for comparison.

Everything runs one after another (about 9 delays in total instead of 2), and the generator cannot be replayed:
the second consumption prints nothing.

    python examples/sequence_flattening_naive.py
"""

import asyncio
import random
import time
from collections.abc import AsyncGenerator


async def research_agent_naive(question: str) -> AsyncGenerator[str, None]:
    yield f"RESEARCHING: {question}"
    for i in range(3):
        # "query 2" only starts after "query 1" and all its pages are completely finished
        async for item in web_search_agent_naive(search_query=f"query {i + 1}"):
            yield item


async def web_search_agent_naive(search_query: str) -> AsyncGenerator[str, None]:
    yield f"{search_query} - SEARCHING"
    await asyncio.sleep(random.uniform(0.5, 1))
    yield f"{search_query} - SEARCH DONE"
    for i in range(2):
        async for item in page_scraper_agent_naive(
            url=f"https://dummy.com/{search_query.replace(' ', '-')}/page-{i + 1}"
        ):
            yield item


async def page_scraper_agent_naive(url: str) -> AsyncGenerator[str, None]:
    yield f"{url} - SCRAPING"
    await asyncio.sleep(random.uniform(0.5, 1))
    yield f"{url} - DONE"


async def stream_to_stdout_naive(generator: AsyncGenerator[str, None]) -> None:
    """Print every item of the generator as it arrives."""
    index = 0
    async for item in generator:
        print(f"{index}: {item}")
        index += 1


async def main() -> None:
    result_generator = research_agent_naive("Tell me about MiniAgents")

    started = time.monotonic()
    print("\nFIRST TIME:\n")
    await stream_to_stdout_naive(result_generator)
    print(f"\n(took {time.monotonic() - started:.1f} s)")

    print("\nSECOND TIME (the generator is exhausted, nothing is printed):\n")
    await stream_to_stdout_naive(result_generator)


if __name__ == "__main__":
    asyncio.run(main())
