"""Offline stand-ins for the web research tutorial's web search and page scraping.

The tutorial calls a search API and scrapes real pages; these functions keep the same signatures and answer
deterministically after a short delay, so the example runs anywhere (the delays make the parallelism visible).
Replace them with real implementations to research the real web; the agents do not change.
"""

import asyncio
import hashlib

__all__ = ["fetch_google_search", "scrape_web_page"]

SEARCH_DELAY_SEC = 0.3
SCRAPE_DELAY_SEC = 0.4


def _jitter(text: str) -> float:
    """A deterministic 0..1 value per text, so different calls take different (but repeatable) times."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF


async def fetch_google_search(query: str) -> str:
    """Pretend to search the web for `query` and return the results as text."""
    await asyncio.sleep(SEARCH_DELAY_SEC * (0.5 + _jitter(query)))
    slug = "-".join(query.lower().split())[:40]
    return "\n".join(
        f"{rank}. https://example.com/{slug}/{rank} - a page about {query} (result {rank})" for rank in range(1, 4)
    )


async def scrape_web_page(url: str) -> str:
    """Pretend to download the page at `url` and return its text."""
    await asyncio.sleep(SCRAPE_DELAY_SEC * (0.5 + _jitter(url)))
    return f"This is the (offline) content of {url}. It says that MiniAgents runs agents in parallel."
