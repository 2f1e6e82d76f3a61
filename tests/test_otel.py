"""OpenTelemetry export: the call tree becomes the trace tree, with GenAI attributes on LLM calls.

The spans go through the real OpenTelemetry SDK into its in-memory exporter.
"""

import asyncio
from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from miniagents import InteractionContext, MiniAgents, miniagent
from miniagents.ext.otel import OpenTelemetryObserver, instrument

pytestmark = pytest.mark.timeout(60)


@miniagent
async def research_agent(ctx: InteractionContext) -> None:
    ctx.reply(f"RESEARCHING: {await ctx.message_promises.as_single_text_promise()}")
    for i in range(3):
        ctx.reply_out_of_order(web_search_agent.trigger(ctx.message_promises, search_query=f"query {i + 1}"))


@miniagent
async def web_search_agent(ctx: InteractionContext, search_query: str) -> None:
    ctx.reply(f"{search_query} - SEARCHING")
    await asyncio.sleep(0.01)
    for i in range(2):
        url = f"https://dummy.com/{search_query.replace(' ', '-')}/page-{i + 1}"
        ctx.reply_out_of_order(page_scraper_agent.trigger(ctx.message_promises, url=url, api_key="sk-secret"))


@miniagent
async def page_scraper_agent(ctx: InteractionContext, url: str, api_key: str) -> None:
    ctx.reply(f"{url} - SCRAPING")
    await asyncio.sleep(0.01)
    if url.endswith("query-3/page-2"):
        raise ValueError("the page could not be parsed")
    ctx.reply(f"{url} - DONE")


@pytest.fixture
def exporter() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider, memory
    provider.shutdown()


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id]


async def test_the_research_run_is_one_trace_whose_tree_is_the_call_tree(
    exporter: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exporter
    async with MiniAgents(observers=[OpenTelemetryObserver(provider)]):
        replies = research_agent.trigger("Tell me about MiniAgents", errors_as_messages=True)
        await replies

    spans = list(memory.get_finished_spans())
    assert len(spans) == 1 + 3 + 6
    assert len({span.context.trace_id for span in spans}) == 1
    (root,) = [span for span in spans if span.parent is None]
    assert root.name == "invoke_agent research_agent"
    searches = _children(spans, root)
    assert sorted(span.name for span in searches) == ["invoke_agent web_search_agent"] * 3
    scrapes = [scrape for search in searches for scrape in _children(spans, search)]
    assert len(scrapes) == 6 and {span.name for span in scrapes} == {"invoke_agent page_scraper_agent"}
    # parallel calls overlap in time
    first, second = sorted(searches, key=lambda span: span.start_time)[:2]
    assert second.start_time < first.end_time
    # the failing scraper is an error span with the exception recorded
    failed = [span for span in spans if span.status.status_code is StatusCode.ERROR]
    assert len(failed) == 1 and failed[0].attributes["error.type"] == "ValueError"
    assert any(event.name == "exception" for event in failed[0].events)
    assert all(span.attributes["miniagents.reply_count"] >= 1 for span in spans)
    # no content unless asked: no kwargs values, no message text, and never the secret
    for span in spans:
        assert not any(name.startswith("miniagents.kwargs.") for name in span.attributes)
        assert all("message.content" not in (event.attributes or {}) for event in span.events)


async def test_content_is_recorded_only_when_enabled_and_secrets_are_redacted(
    exporter: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exporter
    async with MiniAgents(errors_as_messages=True) as mini_agents:
        instrument(mini_agents, tracer_provider=provider, capture_content=True)
        await page_scraper_agent.trigger(url="https://dummy.com/a", api_key="sk-secret")

    (span,) = memory.get_finished_spans()
    assert span.attributes["miniagents.kwargs.url"] == "https://dummy.com/a"
    assert span.attributes["miniagents.kwargs.api_key"] == "[redacted]"
    contents = [event.attributes["message.content"] for event in span.events if "message.content" in event.attributes]
    assert contents == ["https://dummy.com/a - SCRAPING", "https://dummy.com/a - DONE"]


async def test_a_cancelled_call_is_a_cancelled_span(exporter: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, memory = exporter

    @miniagent
    async def stuck(ctx: InteractionContext) -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        async with MiniAgents(observers=[OpenTelemetryObserver(provider)]):
            await asyncio.wait_for(stuck.trigger(), 0.1)

    (span,) = memory.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "cancelled"
    assert span.attributes["error.type"] == "cancelled"


async def test_a_call_that_outlives_the_call_that_made_it_keeps_its_parent_and_spans_are_not_kept(
    exporter: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exporter
    release = asyncio.Event()

    @miniagent
    async def slow_child(ctx: InteractionContext) -> None:
        await release.wait()
        ctx.reply("late")

    @miniagent
    async def hasty_parent(ctx: InteractionContext) -> None:
        ctx.reply("done already")
        children.append(slow_child.trigger())  # not replied: this call ends before its sub-call

    children: list = []
    observer = OpenTelemetryObserver(provider)
    async with MiniAgents(observers=[observer]):
        await hasty_parent.trigger()
        await observer.aflush()  # spans are made in batches: a flush delivers the ones due so far
        assert [span.name for span in memory.get_finished_spans()] == ["invoke_agent hasty_parent"]
        release.set()
        await children[0]
        for index in range(50):  # many finished calls: what the observer holds does not grow with them
            await page_scraper_agent.trigger(url=f"https://dummy.com/{index}", api_key="x")
        await observer.aflush()
        assert len(observer._calls) == 0  # the memory bound is the point

    parent, child = memory.get_finished_spans()[:2]
    assert child.name == "invoke_agent slow_child" and child.end_time > parent.end_time
    assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert child.context.trace_id == parent.context.trace_id


async def test_spans_of_finished_calls_reach_the_exporter_within_a_second_without_a_flush(
    exporter: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exporter
    async with MiniAgents(observers=[OpenTelemetryObserver(provider)]):
        await page_scraper_agent.trigger(url="https://dummy.com/a", api_key="x")
        for _ in range(100):  # a long-running session: nothing flushes the observer, the spans come all the same
            if memory.get_finished_spans():
                break
            await asyncio.sleep(0.02)
        assert [span.name for span in memory.get_finished_spans()] == ["invoke_agent page_scraper_agent"]


async def test_a_span_current_at_trigger_time_becomes_the_parent(
    exporter: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exporter
    tracer = trace.get_tracer("the user's app", tracer_provider=provider)
    async with MiniAgents(observers=[OpenTelemetryObserver(provider)]):
        with tracer.start_as_current_span("handle web request") as request_span:
            await page_scraper_agent.trigger(url="https://dummy.com/b", api_key="x")

    agent_span = next(span for span in memory.get_finished_spans() if span.name.startswith("invoke_agent"))
    assert agent_span.parent is not None and agent_span.parent.span_id == request_span.get_span_context().span_id


async def test_llm_calls_are_chat_spans_with_model_usage_and_finish_reason(
    exporter: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    from miniagents.ext.llms import OFFLINE_ENV_VAR, AnthropicAgent, OpenAIAgent
    from miniagents.ext.llms.offline import start_offline_llm_server

    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", OFFLINE_ENV_VAR):
        monkeypatch.delenv(variable, raising=False)
    provider, memory = exporter
    with start_offline_llm_server(token_delay=0) as server:
        openai_client, anthropic_client = server.openai_client(), server.anthropic_client()
        openai_agent = OpenAIAgent.fork(non_freezable_kwargs={"async_client": openai_client})
        anthropic_agent = AnthropicAgent.fork(non_freezable_kwargs={"async_client": anthropic_client})

        @miniagent
        async def asking(ctx: InteractionContext) -> None:  # relays an LLM reply: still an agent span, not a chat
            ctx.reply(anthropic_agent.trigger("Which river flows through Vienna?", model="claude-3-5-haiku-latest"))

        async with MiniAgents(observers=[OpenTelemetryObserver(provider)]):
            await openai_agent.trigger("Which river flows through Vienna?", model="gpt-4o-mini")
            await asking.trigger()
        await openai_client.close()
        await anthropic_client.close()

    finished = memory.get_finished_spans()
    assert [span.name for span in finished if "gen_ai.request.model" not in span.attributes] == ["invoke_agent asking"]
    spans = {
        span.attributes["gen_ai.request.model"]: span for span in finished if "gen_ai.request.model" in span.attributes
    }
    openai_span, anthropic_span = spans["gpt-4o-mini"], spans["claude-3-5-haiku-latest"]
    assert openai_span.name == "chat gpt-4o-mini" and anthropic_span.name == "chat claude-3-5-haiku-latest"
    for span, provider_name, finish in ((openai_span, "openai", "stop"), (anthropic_span, "anthropic", "end_turn")):
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.provider.name"] == provider_name
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        assert span.attributes["gen_ai.usage.output_tokens"] > 0
        assert span.attributes["gen_ai.response.finish_reasons"] == (finish,)
        assert span.status.status_code is not StatusCode.ERROR


async def test_tool_calls_are_execute_tool_spans_under_the_chat_span(
    exporter: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    from miniagents.ext.llms import OFFLINE_ENV_VAR, OpenAIAgent
    from miniagents.ext.llms.offline import start_offline_llm_server

    for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL", OFFLINE_ENV_VAR):
        monkeypatch.delenv(variable, raising=False)

    @miniagent
    async def weather_agent(ctx: InteractionContext, city: str) -> None:
        """The current weather in a city."""
        ctx.reply(f"Sunny in {city}")

    provider, memory = exporter
    with start_offline_llm_server(token_delay=0) as server:
        client = server.openai_client()
        agent = OpenAIAgent.fork(non_freezable_kwargs={"async_client": client})
        async with MiniAgents(observers=[OpenTelemetryObserver(provider)]):
            await agent.trigger("Weather in Paris?", model="gpt-4o-mini", tools=[weather_agent])
        await client.close()

    spans = memory.get_finished_spans()
    (chat,) = [span for span in spans if span.name == "chat gpt-4o-mini"]
    tools = [span for span in spans if span.name == "execute_tool weather_agent"]
    assert tools and all(span.parent.span_id == chat.context.span_id for span in tools)
    assert all(span.attributes["gen_ai.tool.name"] == "weather_agent" for span in tools)


async def test_message_events_are_span_events_when_asked(
    exporter: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exporter
    async with MiniAgents(observers=[OpenTelemetryObserver(provider, message_events=True)]):
        await page_scraper_agent.trigger(url="https://dummy.com/c", api_key="x")

    (span,) = memory.get_finished_spans()
    names = [event.name for event in span.events]
    assert names.count("reply message appeared") == 2 and names.count("reply message resolved") == 2
    assert "message.content" not in str([event.attributes for event in span.events])
