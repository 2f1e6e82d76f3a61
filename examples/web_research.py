"""The tutorial's web research system: research → parallel web searches → parallel page scraping → final answer.

    python examples/web_research.py "What is MiniAgents?"

With no `OPENAI_API_KEY` the LLM calls go to the offline stand-in (deterministic answers) and the web search and
scraping are offline stand-ins too (`web_research_tools.py`), so this runs anywhere. Set `OPENAI_API_KEY` and the
same code uses the real OpenAI models; replace the two tools with real ones to research the real web.
"""

import asyncio
import sys
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web_research_tools import fetch_google_search, scrape_web_page

from miniagents import AgentCall, InteractionContext, Message, MessageSequencePromise, MiniAgents, miniagent
from miniagents.ext.llms import OpenAIAgent, aprepare_dicts_for_openai, default_openai_client

MODEL = "gpt-4o-mini"  # or "gpt-4o" for better quality
SMARTER_MODEL = "o4-mini"  # or "o3" for better quality
MAX_WEB_PAGES_PER_SEARCH = 2
SLEEP_BEFORE_RETRY_SEC = 1


class WebSearch(BaseModel):
    rationale: str
    web_search_query: str


class WebSearchesToBeDone(BaseModel):
    web_searches: tuple[WebSearch, ...]


class WebPage(BaseModel):
    rationale: str
    url: str


class WebPagesToBeRead(BaseModel):
    web_pages: tuple[WebPage, ...]


def today() -> str:
    return datetime.now().strftime("%Y-%m-%d")


@miniagent
async def research_agent(ctx: InteractionContext) -> None:
    ctx.reply("RESEARCHING...")

    message_dicts = await aprepare_dicts_for_openai(
        ctx.message_promises,
        system=(
            "Your job is to breakdown the user's question into a list of web searches that need to be done to answer "
            "the question. Please try to optimize your search queries so there aren't too many of them. Current date "
            "is " + today()
        ),
    )
    response = await default_openai_client().beta.chat.completions.parse(
        model=SMARTER_MODEL, messages=message_dicts, response_format=WebSearchesToBeDone
    )
    parsed: WebSearchesToBeDone = response.choices[0].message.parsed

    ctx.reply(f"RUNNING {len(parsed.web_searches)} WEB SEARCHES")

    already_picked_urls = set[str]()
    # a fork that shares one mutable set across all its calls (so no page is scraped twice)
    _web_search_agent = web_search_agent.fork(non_freezable_kwargs={"already_picked_urls": already_picked_urls})

    final_answer_call: AgentCall = final_answer_agent.initiate_call(user_question=await ctx.message_promises)

    for web_search in parsed.web_searches:
        search_and_scraping_results = _web_search_agent.trigger(
            ctx.message_promises,
            search_query=web_search.web_search_query,
            rationale=web_search.rationale,
        )
        ctx.reply_out_of_order(search_and_scraping_results)  # shown to the user as soon as available
        final_answer_call.send_message(search_and_scraping_results)  # and collected for the final answer

    ctx.reply(final_answer_call.reply_sequence())


@miniagent
async def web_search_agent(
    ctx: InteractionContext, search_query: str, rationale: str, already_picked_urls: set[str]
) -> None:
    ctx.reply(f'SEARCHING FOR "{search_query}"\n{rationale}')

    try:
        search_results = await fetch_google_search(search_query)
    except Exception:
        await asyncio.sleep(SLEEP_BEFORE_RETRY_SEC)
        ctx.reply(f"RETRYING SEARCH: {search_query}")
        search_results = await fetch_google_search(search_query)

    ctx.reply(f"SEARCH SUCCESSFUL: {search_query}")

    message_dicts = await aprepare_dicts_for_openai(
        [
            ctx.message_promises,
            f"RATIONALE: {rationale}\n\nSEARCH QUERY: {search_query}\n\nSEARCH RESULTS:\n\n{search_results}",
        ],
        system=(
            "This is a user question that another AI agent (not you) will have to answer. Your job is to list all "
            "the web page urls that need to be inspected to collect information related to the RATIONALE and SEARCH "
            "QUERY. SEARCH RESULTS where to take the page urls from are provided to you as well. Current date is "
            + today()
        ),
    )
    response = await default_openai_client().beta.chat.completions.parse(
        model=SMARTER_MODEL, messages=message_dicts, response_format=WebPagesToBeRead
    )
    parsed: WebPagesToBeRead = response.choices[0].message.parsed

    web_pages_to_scrape: list[WebPage] = []
    for web_page in parsed.web_pages:
        if web_page.url not in already_picked_urls:
            web_pages_to_scrape.append(web_page)
            already_picked_urls.add(web_page.url)
        if len(web_pages_to_scrape) >= MAX_WEB_PAGES_PER_SEARCH:
            break

    for web_page in web_pages_to_scrape:
        ctx.reply_out_of_order(
            page_scraper_agent.trigger(ctx.message_promises, url=web_page.url, rationale=web_page.rationale)
        )


@miniagent
async def page_scraper_agent(ctx: InteractionContext, url: str, rationale: str) -> None:
    ctx.reply(f"READING PAGE: {url}\n{rationale}")

    try:
        page_content = await scrape_web_page(url)
    except Exception:
        await asyncio.sleep(SLEEP_BEFORE_RETRY_SEC)
        ctx.reply(f"RETRYING: {url}")
        page_content = await scrape_web_page(url)

    page_summary = await OpenAIAgent.trigger(
        [ctx.message_promises, f"URL: {url}\nRATIONALE: {rationale}\n\nWEB PAGE CONTENT:\n\n{page_content}"],
        system=(
            "This is a user question that another AI agent (not you) will have to answer. Your job is to extract "
            "from WEB PAGE CONTENT facts that are relevant to the users original question. The other AI agent will "
            "use the information you extract along with information extracted by other agents to answer the user's "
            "original question later. Current date is " + today()
        ),
        model=MODEL,
        stream=False,
        errors_as_messages=False,
        response_metadata={"not_for_user": True, "role": "user"},
    )

    ctx.reply(f"SCRAPING SUCCESSFUL: {url}")
    ctx.reply(page_summary)


@miniagent
async def final_answer_agent(ctx: InteractionContext, user_question: Message | tuple[Message, ...]) -> None:
    await ctx.message_promises  # the ANSWER header only appears once all the research is done
    ctx.reply("==========\nANSWER:\n==========")
    ctx.reply(
        OpenAIAgent.trigger(
            [
                "USER QUESTION:",
                user_question,
                "INFORMATION FOUND ON THE INTERNET:",
                ctx.message_promises.as_single_text_promise(),
            ],
            system=(
                "Please answer the USER QUESTION based on the INFORMATION FOUND ON THE INTERNET. Current date is "
                + today()
            ),
            model=MODEL,
        )
    )


async def main(question: str) -> None:
    response_promises: MessageSequencePromise = research_agent.trigger(question)

    print()
    async for message_promise in response_promises:
        if message_promise.known_beforehand.get("not_for_user"):
            continue
        async for token in message_promise:
            print(token, end="", flush=True)
        print("\n")


if __name__ == "__main__":
    user_question = " ".join(sys.argv[1:]) or input("\nEnter your question: ")
    MiniAgents(
        llm_logger_agent=True,  # LLM requests and responses as markdown files in ./llm_logs
        errors_as_messages=True,  # an error becomes a message instead of crashing the whole research
    ).run(main(user_question))
