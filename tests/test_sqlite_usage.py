"""Usage totals from a store file (issue 17): tokens and cost per call with its sub-calls, per session, per file —
from a real run through the offline LLM stand-in and both providers' SDKs, compared with the live `UsageTotals`."""

from pathlib import Path
from typing import Any

import pytest

from miniagents import CallInitiated, InteractionContext, MiniAgent, MiniAgents, miniagent
from miniagents.ext.llms import AnthropicAgent, OpenAIAgent, UsageTotals
from miniagents.ext.llms.offline import OfflineLLMServer
from miniagents.ext.persistence import SQLiteHistory, SQLiteMessageStore

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_real_llm_providers")]

AGENTS = {"openai": OpenAIAgent, "anthropic": AnthropicAgent}
PRICES = {"input": 2.0, "output": 10.0, "cached_input": 1.0}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_usage_of_a_three_level_tree_from_the_store_equals_the_sum_of_its_leaves(
    provider: str, tmp_path: Path, server: OfflineLLMServer
) -> None:
    client = getattr(server, f"{provider}_client")()
    try:
        await _check_usage_of_a_tree(
            AGENTS[provider].fork(
                non_freezable_kwargs={"async_client": client}, model="m", usd_per_million_tokens=PRICES
            ),
            tmp_path,
        )
    finally:
        await client.close()


async def _check_usage_of_a_tree(llm: MiniAgent, tmp_path: Path) -> None:
    @miniagent
    async def section(ctx: InteractionContext, topic: str) -> None:
        draft = llm.trigger(f"draft a section on {topic}")
        ctx.reply(draft)  # passed on by this call and the root: counted once, in the LLM call that made it
        ctx.reply(llm.trigger(["polish this draft", draft]))

    @miniagent
    async def report(ctx: InteractionContext) -> None:
        for topic in ("tides", "the history of lighthouses on rocky coasts"):
            ctx.reply(section.trigger(topic=topic))

    live = UsageTotals()
    events: list[Any] = []
    async with SQLiteMessageStore(tmp_path / "history.db") as store:
        async with MiniAgents(observers=[live], on_call_event=events.append) as mini_agents:
            session_id = store.attach(mini_agents)
            leaves = await report.trigger()
        async with MiniAgents() as mini_agents:  # another session in the same file
            other_session = store.attach(mini_agents)
            [other_reply] = await llm.trigger("another run")

    assert len(leaves) == 4
    expected = {key: sum(leaf.token_usage[key] for leaf in leaves) for key in ("input_tokens", "output_tokens")}
    expected_cost = sum(leaf.cost_usd for leaf in leaves)
    assert expected_cost > 0
    number = {event.agent_alias: event.call_id for event in events if isinstance(event, CallInitiated)}  # root: once

    with SQLiteHistory(tmp_path / "history.db") as history:
        (root,) = [call for call in history.list_calls(agent_alias="report") if call.call_id.startswith(session_id)]
        assert root.call_id == f"{session_id}/{number['report']}"
        root_total = history.usage(root.call_id)
        assert {key: root_total[key] for key in expected} == expected
        assert root_total["llm_calls"] == 4
        assert root_total["cost_usd"] == pytest.approx(expected_cost)
        assert root_total == pytest.approx(live.for_call(number["report"]))  # as the live observer counted it
        for middle in history.sub_calls(root.call_id):
            assert history.usage(middle.call_id)["llm_calls"] == 2
            assert history.usage(middle.call_id) == pytest.approx(live.for_call(int(middle.call_id.split("/")[1])))

        assert history.usage(session_id=session_id) == root_total  # the run: everything under its root call
        other_total = history.usage(session_id=other_session)
        assert other_total["llm_calls"] == 1
        assert other_total["output_tokens"] == other_reply.token_usage["output_tokens"]
        whole_file = history.usage()
        assert whole_file["llm_calls"] == 5
        assert whole_file["input_tokens"] == root_total["input_tokens"] + other_total["input_tokens"]

        by_call = history.usage_by_call(session_id)
        assert by_call[root.call_id] == root_total
        llm_calls = [call_id for call_id, call in by_call.items() if call["llm_calls"] == 1]
        assert len(llm_calls) == 4  # the four LLM calls, each with its own reply
        with pytest.raises(ValueError, match="No call 'nope/1' in the call tree"):
            history.usage("nope/1")
