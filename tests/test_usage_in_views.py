"""Tokens, cost and the wait for an LLM slot, as the notebook views show them: per call *including its sub-calls*
(the call tree's rows, the timeline's tooltips, the details panel, the inspector) and per run (the headers); and the
prices a user gives for a model `genai-prices` does not know (here the offline stand-in, reached through the real SDK
over loopback)."""

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from miniagents import InteractionContext, Message, MiniAgent, MiniAgents, miniagent
from miniagents.ext.llms import AnthropicAgent, OpenAIAgent
from miniagents.ext.llms.offline import OfflineLLMServer
from miniagents.ext.persistence import SQLiteHistory, SQLiteMessageStore
from miniagents_notebook import HistoryInspector, trace

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_real_llm_providers")]

AGENTS = {"openai": OpenAIAgent, "anthropic": AnthropicAgent}


@pytest.fixture
async def agent_for(server: OfflineLLMServer) -> AsyncIterator[Callable[[str], MiniAgent]]:
    """`agent_for(provider)`: the provider's agent talking to the offline stand-in through its real SDK."""
    async with server.openai_client() as openai_client, server.anthropic_client() as anthropic_client:
        clients = {"openai": openai_client, "anthropic": anthropic_client}
        yield lambda provider: AGENTS[provider].fork(non_freezable_kwargs={"async_client": clients[provider]})


@pytest.mark.parametrize("provider", list(AGENTS))
async def test_prices_given_for_a_model_genai_prices_cannot_price_make_the_replys_cost(
    provider: str, agent_for: Callable[..., MiniAgent]
) -> None:
    agent = agent_for(provider).fork(model="gpt-4o-mini")
    async with MiniAgents():
        [free] = await agent.trigger("What does it cost?")
        [priced] = await agent.trigger(
            "What does it cost?", usd_per_million_tokens={"input": 2.0, "output": 10.0, "cached_input": 1.0}
        )

    assert free.get("cost_usd") is None  # the stand-in's replies are not gpt-4o-mini's: no price of a real model
    usage = priced.token_usage
    expected = (usage.input_tokens - usage.cached_tokens) * 2.0 + usage.cached_tokens + usage.output_tokens * 10.0
    assert priced.cost_usd == pytest.approx(expected / 1_000_000)


async def test_prices_without_input_or_output_are_refused_naming_the_option(
    agent_for: Callable[..., MiniAgent],
) -> None:
    async with MiniAgents():
        with pytest.raises(ValueError, match=r"usd_per_million_tokens.*'input' and 'output'"):
            await agent_for("openai").trigger("hi", model="m", usd_per_million_tokens={"input": 1.0})


SHOWN_USAGE = re.compile(r"([\d,]+) tokens(?: \([^)]*\))? · \$([\d.]+)")


def shown_usage(text: str) -> tuple[int, float]:
    """(tokens, dollars) as a view shows them (`1,234 tokens · $0.0012`, `1,234 tokens (… in; … out) · $0.0012`)."""
    match = SHOWN_USAGE.search(text)
    assert match, f"no tokens and cost in {text!r}"
    return int(match[1].replace(",", "")), float(match[2])


@pytest.mark.parametrize("provider", list(AGENTS))
async def test_the_totals_of_a_three_level_tree_as_shown_equal_the_sum_of_its_leaves(
    provider: str, agent_for: Callable[[str], MiniAgent]
) -> None:
    llm = agent_for(provider).fork(model="m", usd_per_million_tokens={"input": 3.0, "output": 15.0})
    writer = llm.fork(alias="writer")
    tool_replies: list[Message] = []

    @miniagent
    async def summarize(ctx: InteractionContext, topic: str) -> None:
        """Summarize a topic (a tool that asks an LLM in turn)."""
        [summary] = await writer.trigger(f"Summarize {topic}")
        tool_replies.append(summary)
        ctx.reply(summary)  # passed on: it counts once, in the call of the agent that wrote it

    planner = llm.fork(alias="planner", tools=[summarize])

    @miniagent
    async def lead(ctx: InteractionContext) -> None:
        ctx.reply(planner.trigger("Plan a weekend in Paris"))
        ctx.reply(writer.trigger("And a title for it"))

    async with MiniAgents():
        with trace() as run:
            [plan, title] = await lead.trigger()

    def total(*replies: Message) -> tuple[int, float]:
        tokens = sum(reply.token_usage.input_tokens + reply.token_usage.output_tokens for reply in replies)
        return tokens, sum(reply.cost_usd for reply in replies)

    [tool_reply] = tool_replies
    # lead ─ planner ─ summarize ─ writer, and lead ─ writer: three levels of calls below the lead
    expected = {
        "lead": total(plan, tool_reply, title),
        "planner": total(plan, tool_reply),
        "summarize": total(tool_reply),
    }
    tree = run.call_tree()
    rows = {row["alias"]: row for row in tree.tree["rows"]}
    html, text = tree.to_html(), tree.to_text()
    timeline = {bar["alias"]: bar for bar in run.timeline().timeline["bars"]}
    for alias, (tokens, cost) in expected.items():
        for shown in (rows[alias]["usage_text"], timeline[alias]["title"]):
            assert shown_usage(shown)[0] == tokens
            assert shown_usage(shown)[1] == pytest.approx(cost, rel=0.05)  # two significant digits
        [line] = [line for line in text.splitlines() if f"{alias} [done]" in line]
        assert shown_usage(line) == shown_usage(rows[alias]["usage_text"])
        assert rows[alias]["usage_text"] in html
    tree.selected = rows["lead"]["id"]
    assert any(shown_usage(text)[0] == expected["lead"][0] for _label, text in tree.details["usage"])
    run_tokens, run_cost = shown_usage(tree.tree["usage_text"])
    assert run_tokens == expected["lead"][0]
    assert run_cost == pytest.approx(expected["lead"][1], rel=0.05)
    assert f"Run: {expected['lead'][0]:,} tokens" in text


async def test_the_wait_for_an_llm_slot_is_a_segment_of_the_bar_and_in_its_tooltip(
    agent_for: Callable[[str], MiniAgent],
) -> None:
    llm = agent_for("openai").fork(model="m", max_concurrency=1)  # one request at a time: the others queue

    async with MiniAgents():
        with trace() as run:
            reply_promises = [llm.trigger(f"question {number}") for number in range(3)]
            replies = [(await promise)[0] for promise in reply_promises]

    timeline_view = run.timeline()
    timeline = timeline_view.timeline
    static_copy = timeline_view.to_html()
    assert [bar["alias"] for bar in timeline["bars"]] == ["OpenAIAgent"] * 3  # in the order they were triggered
    waited = [bar for bar, reply in zip(timeline["bars"], replies, strict=True) if reply.queued_seconds > 0.005]
    assert len(waited) >= 2
    for bar, reply in zip(timeline["bars"], replies, strict=True):
        if reply.queued_seconds <= 0.005:
            continue
        assert f"queued {reply.queued_seconds:.2f} s for an LLM slot" in bar["title"]
        queued = bar["segments"]["queued"]
        left, running_left = (float(part["left"].removesuffix("%")) for part in (queued, bar["segments"]["running"]))
        assert left >= running_left  # within the call's run, before its reply began
        assert float(queued["width"].removesuffix("%")) == pytest.approx(
            100 * reply.queued_seconds / timeline["span"], abs=0.5
        )
        # the static copy draws it too: hatched, where the live view puts it
        assert f"left:{queued['left']};width:{queued['width']};background:repeating-linear-gradient" in static_copy


async def test_a_history_read_back_from_sqlite_shows_the_tokens_and_cost_the_live_tree_showed(
    agent_for: Callable[[str], MiniAgent], tmp_path: Path
) -> None:
    priced = agent_for("anthropic").fork(model="m", usd_per_million_tokens={"input": 3.0, "output": 15.0})
    unpriced = agent_for("openai").fork(model="my-local-model")  # no price known: its tokens count, no cost

    @miniagent
    async def lead(ctx: InteractionContext) -> None:
        ctx.reply(priced.trigger("Plan a weekend in Paris"))
        ctx.reply(unpriced.trigger("And a title for it"))

    store = SQLiteMessageStore(tmp_path / "history.db")
    async with MiniAgents() as mini_agents:
        store.attach(mini_agents)
        with trace() as run:
            await lead.trigger()
    store.close()

    live_tree = run.call_tree().tree
    assert " · ≥ $" in live_tree["usage_text"]  # one of the two LLM replies has a price
    live_rows = {row["alias"]: row["usage_text"] for row in live_tree["rows"]}
    with SQLiteHistory(tmp_path / "history.db") as history:
        inspector = HistoryInspector(history)
        assert inspector.header.endswith(f" · {live_tree['usage_text']}")
        assert {call["alias"]: call["usage_text"] for call in inspector.calls} == live_rows
        inspector.selected = next(call["id"] for call in inspector.calls if call["alias"] == "lead")
        [(label, text)] = inspector.details["usage"]
        assert label == "Usage with its sub-calls"
        assert "(priced: 1 of 2)" in text
        assert live_tree["usage_text"] in inspector.to_html()
        assert live_tree["usage_text"].split(" · ")[0] in inspector.to_text()
