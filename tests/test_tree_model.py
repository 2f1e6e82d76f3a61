"""The pure-Python call tree model, `trace()` scoping and the in-memory history (real runs)."""

import asyncio
from collections import Counter
from typing import Any

import pytest

from miniagents import InteractionContext, MiniAgents, NoActiveContextError, TextMessage, miniagent
from miniagents_notebook import HistoryInspector, HistorySource, InMemoryHistory, Trace, trace
from miniagents_notebook._tree_model import CallTreeModel
from miniagents_notebook._view_format import bar_segments, format_seconds, time_axis
from miniagents_notebook.rendering import format_value

RESEARCH_TREE_TEXT = """\
research_agent [done]
├─ web_search_agent [done]
│  ├─ page_scraper_agent [done]
│  └─ page_scraper_agent [done]
├─ web_search_agent [done]
│  ├─ page_scraper_agent [done]
│  └─ page_scraper_agent [done]
└─ web_search_agent [done]
   ├─ page_scraper_agent [done]
   └─ page_scraper_agent [done]"""


def research_system(failing_url: str | None = None) -> Any:
    """The tutorial's research → search → scrape agents; the searches wait for each other, so they surely overlap."""
    searches_started = 0
    all_searches_started = asyncio.Event()

    @miniagent
    async def research_agent(ctx: InteractionContext) -> None:
        ctx.reply(f"RESEARCHING: {await ctx.message_promises.as_single_text_promise()}")
        for i in range(3):
            ctx.reply_out_of_order(web_search_agent.trigger(ctx.message_promises, search_query=f"query {i + 1}"))

    @miniagent
    async def web_search_agent(ctx: InteractionContext, search_query: str) -> None:
        nonlocal searches_started
        ctx.reply(f"{search_query} - SEARCHING")
        searches_started += 1
        if searches_started == 3:
            all_searches_started.set()
        await all_searches_started.wait()
        ctx.reply(f"{search_query} - SEARCH DONE")
        for i in range(2):
            url = f"https://dummy.com/{search_query.replace(' ', '-')}/page-{i + 1}"
            ctx.reply_out_of_order(page_scraper_agent.trigger(ctx.message_promises, url=url))

    @miniagent
    async def page_scraper_agent(ctx: InteractionContext, url: str) -> None:
        ctx.reply(f"{url} - SCRAPING")
        await asyncio.sleep(0)
        if url == failing_url:
            raise ValueError(f"could not parse {url}")
        ctx.reply(f"{url} - DONE")

    return research_agent


@miniagent
async def echo_agent(ctx: InteractionContext) -> None:
    ctx.reply(f"echo: {await ctx.message_promises.as_single_text_promise()}")


# --- the model -------------------------------------------------------------------------------------------------


async def test_model_builds_the_tree_of_a_real_run_with_statuses_and_counts() -> None:
    model = CallTreeModel()
    async with MiniAgents(on_call_event=model.handle_event):
        await research_system().trigger("Tell me about MiniAgents")

    assert model.as_text() == RESEARCH_TREE_TEXT
    assert model.is_finished
    (root_id,) = model.roots
    root = model.calls[root_id]
    assert [model.calls[child].kwargs for child in root.children] == [
        (("search_query", "'query 1'"),),
        (("search_query", "'query 2'"),),
        (("search_query", "'query 3'"),),
    ]
    for number, search_id in enumerate(root.children, start=1):
        search = model.calls[search_id]
        assert search.parent_call_id == root_id
        scrapers = [model.calls[child] for child in search.children]
        assert [scraper.kwargs_text for scraper in scrapers] == [
            f"url='https://dummy.com/query-{number}/page-1'",
            f"url='https://dummy.com/query-{number}/page-2'",
        ]
        # its input (the research input) and its replies: 2 own + 2 per scraper
        assert (len(search.input_promises), len(search.reply_promises)) == (1, 6)
        assert search.preview().endswith(f"https://dummy.com/query-{number}/page-2 - DONE")
    assert root.preview(chars=1000).startswith("RESEARCHING: Tell me about MiniAgents")
    assert len(root.preview()) == 200


async def test_parallel_searches_show_as_overlapping_bars() -> None:
    model = CallTreeModel()
    async with MiniAgents(on_call_event=model.handle_event):
        await research_system().trigger("Tell me about MiniAgents")

    bars = model.timeline_snapshot(now=0.0)["bars"]
    searches = [bar for bar in bars if bar["alias"] == "web_search_agent"]
    assert len(searches) == 3
    # every search started running before any of them ended
    assert max(bar["run"] for bar in searches) <= min(bar["end"] for bar in searches)
    assert [bar["depth"] for bar in bars] == [0, 1, 2, 2, 1, 2, 2, 1, 2, 2]
    assert all(bar["start"] <= bar["run"] <= bar["end"] for bar in bars)


def test_durations_ticks_and_bars_follow_one_set_of_rules() -> None:
    assert [format_seconds(seconds) for seconds in (None, 0.0, 0.421, 9.999, 12.34, 59.95, 125.7, 3600)] == [
        "",
        "0.00 s",
        "0.42 s",
        "10.00 s",
        "12.3 s",
        "60.0 s",
        "2 min 5 s",
        "60 min 0 s",
    ]
    # at most eight ticks at a round step, none at the right edge (its label would be clipped)
    assert time_axis(0.7) == [
        {"left": f"{100 * tick / 0.7:.3f}%", "label": f"{tick:.2f} s"} for tick in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    ]
    assert [tick["label"] for tick in time_axis(100)] == [
        "0.00 s",
        "15.0 s",
        "30.0 s",
        "45.0 s",
        "1 min 0 s",
        "1 min 15 s",
        "1 min 30 s",
    ]
    assert [tick["label"] for tick in time_axis(0)] == ["0.00 s"]
    assert bar_segments(1.0, 3.0, 4.0, span=8.0) == {
        "waiting": {"left": "12.500%", "width": "25.000%"},
        "running": {"left": "37.500%", "width": "max(2px, 12.500%)"},
    }
    assert bar_segments(1.0, None, 2.0, span=8.0)["waiting"]["width"] == "12.500%"  # never started: all waiting


async def test_snapshots_carry_their_texts_formatted_for_every_view() -> None:
    model = CallTreeModel()
    async with MiniAgents(on_call_event=model.handle_event):
        with pytest.raises(ValueError, match="could not parse"):
            await research_system(failing_url="https://dummy.com/query-2/page-1").trigger("Tell me")
    now = max(call.finished_at for call in model.calls.values()) + 1
    tree = model.tree_snapshot(now)
    assert tree["count_labels"] == [{"status": "done", "text": "✓ 9 done"}, {"status": "error", "text": "✗ 1 error"}]
    for row in tree["rows"]:
        assert row["icon"] == {"done": "✓", "error": "✗"}[row["status"]]
        assert row["elapsed_text"] == format_seconds(row["elapsed"])

    timeline = model.timeline_snapshot(now)
    assert timeline["calls_text"] == "10 calls" and timeline["span_text"] == format_seconds(timeline["span"])
    assert timeline["ticks"] == time_axis(timeline["span"])
    for bar in timeline["bars"]:
        assert bar["segments"] == bar_segments(bar["start"], bar["run"], bar["end"], timeline["span"])
        kwargs = f"({bar['kwargs']})" if bar["kwargs"] else ""
        assert bar["title"].startswith(f"{bar['alias']}{kwargs} · {bar['status']} · ")
        assert f" · waited {format_seconds(bar['run'] - bar['start'])}" in bar["title"]
    (failed,) = [bar for bar in timeline["bars"] if bar["status"] == "error"]
    assert failed["title"].endswith(" · ValueError: could not parse https://dummy.com/query-2/page-1")

    root = tree["rows"][0]
    details = model.call_details(root["id"], now)
    assert (details["icon"], details["kwargs_text"]) == ("✓", "")
    assert details["elapsed_text"] == root["elapsed_text"]
    assert details["waited_text"] in ("", format_seconds(details["waited"]))
    assert [child["icon"] for child in details["children"]] == ["✓", "✓", "✓"]


async def test_an_agent_that_raises_is_marked_as_error_with_its_message_and_traceback() -> None:
    model = CallTreeModel()
    failing_url = "https://dummy.com/query-2/page-1"
    async with MiniAgents(on_call_event=model.handle_event):
        with pytest.raises(ValueError, match="could not parse"):
            await research_system(failing_url=failing_url).trigger("Tell me")

    (failed,) = [call for call in model.calls.values() if call.status == "error"]
    assert failed.agent_alias == "page_scraper_agent"
    assert failed.error == f"ValueError: could not parse {failing_url}"
    assert "page_scraper_agent" in failed.traceback
    assert failed.traceback.rstrip().endswith(f"ValueError: could not parse {failing_url}")
    assert model.tree_snapshot(now=0.0)["rows"][5]["error"] == failed.error
    assert "page_scraper_agent [error]" in model.as_text()


async def test_a_running_calls_replies_show_as_they_come_though_no_event_is_built_per_reply() -> None:
    from miniagents.lifecycle import InputMessageAppeared, ReplyMessageAppeared, ReplyMessageResolved

    release = asyncio.Event()

    @miniagent
    async def talker(ctx: InteractionContext) -> None:
        ctx.reply("first")
        await release.wait()
        ctx.reply("second")

    async with MiniAgents() as mini_agents:
        with Trace(mini_agents, all_calls=True, record_history=False) as tracing:
            # watching calls costs nothing per message: the trace reads each call's replies when a view draws
            assert not mini_agents.announces(ReplyMessageAppeared)
            assert not mini_agents.announces(ReplyMessageResolved)
            assert mini_agents.announces(InputMessageAppeared)
            replies = talker.trigger()
            await replies.__aiter__().__anext__()
            (row,) = tracing.model.tree_snapshot(now=0.0)["rows"]
            assert (row["status"], row["replies"], row["preview"]) == ("running", 1, "first")
            release.set()
            await replies
            (row,) = tracing.model.tree_snapshot(now=0.0)["rows"]
            assert (row["status"], row["replies"], row["preview"]) == ("done", 2, "first second")
            details = tracing.model.call_details(row["id"], now=0.0)
            assert [(reply["text"], reply["streaming"]) for reply in details["replies"]] == [
                ("first", False),
                ("second", False),
            ]


async def test_calls_go_from_waiting_to_running_to_done() -> None:
    model = CallTreeModel()
    gate = asyncio.Event()

    @miniagent
    async def gated_agent(ctx: InteractionContext) -> None:
        ctx.reply("started")
        await gate.wait()
        ctx.reply("finished")

    async with MiniAgents(on_call_event=model.handle_event):
        lazy_replies = gated_agent.trigger(start_soon=False)
        eager_replies = gated_agent.trigger()
        async for _ in eager_replies:  # the first reply exists: the eager call is running
            break
        lazy, eager = (model.calls[call_id] for call_id in model.roots)
        assert (lazy.status, eager.status) == ("waiting", "running")
        assert not model.is_finished
        gate.set()
        await eager_replies
        await lazy_replies
    assert (lazy.status, eager.status) == ("done", "done")
    assert lazy.started_at is not None and lazy.started_at >= eager.started_at


async def test_streaming_reply_preview_grows_without_the_model_consuming_anything() -> None:
    model = CallTreeModel()
    tokens: asyncio.Queue[str | None] = asyncio.Queue()
    lazy_streamer_started = False

    async def stream_tokens(_metadata: dict[str, Any]) -> Any:
        while (token := await tokens.get()) is not None:
            yield token

    async def never_consumed(_metadata: dict[str, Any]) -> Any:
        nonlocal lazy_streamer_started
        lazy_streamer_started = True
        yield "nobody asked for this"

    @miniagent
    async def streaming_agent(ctx: InteractionContext) -> None:
        ctx.reply(TextMessage.promise(message_token_streamer=stream_tokens))
        ctx.reply(TextMessage.promise(start_soon=False, message_token_streamer=never_consumed))

    async with MiniAgents(on_call_event=model.handle_event):
        replies = streaming_agent.trigger()
        token_stream = (await replies.__aiter__().__anext__()).__aiter__()
        (call_id,) = model.roots
        for token, expected in (("Hel", "Hel"), ("lo, ", "Hello, "), ("world", "Hello, world")):
            before = model.streaming_signature()
            await tokens.put(token)
            await token_stream.__anext__()  # the token was produced
            assert model.calls[call_id].preview() == expected
            assert model.is_streaming and model.streaming_signature() > before
            assert model.call_details(call_id, now=0.0)["replies"][0] == {
                "index": 0,
                "text": expected,
                "streaming": True,
                "error": None,
            }
        await tokens.put(None)
        async for _ in token_stream:
            pass
        assert model.call_details(call_id, now=0.0)["replies"][0]["streaming"] is False

    model.tree_snapshot(now=0.0)
    model.call_details(call_id, now=0.0)
    assert not lazy_streamer_started
    assert model.calls[call_id].preview() == "Hello, world"


def test_walk_collapses_long_child_lists_and_expands_on_request() -> None:
    model = CallTreeModel()

    @miniagent
    async def leaf_agent(ctx: InteractionContext, number: int) -> None:
        ctx.reply(str(number))

    @miniagent
    async def fan_out_agent(ctx: InteractionContext) -> None:
        for number in range(120):
            ctx.reply_out_of_order(leaf_agent.trigger(number=number))

    MiniAgents(on_call_event=model.handle_event).run_agent(fan_out_agent)

    rows = model.tree_snapshot(now=0.0, child_limit=50)["rows"]
    assert len(rows) == 1 + 50 + 1
    assert rows[-1] == {"more": 70, "shown": 50, "parent": model.roots[0], "depth": 1}
    assert model.as_text(child_limit=50).endswith("├─ leaf_agent [done]\n└─ … 70 more")

    expanded = model.tree_snapshot(now=0.0, child_limits={model.roots[0]: 200}, child_limit=50)["rows"]
    assert len(expanded) == 121 and all("id" in row for row in expanded)

    capped = model.tree_snapshot(now=0.0, child_limits={model.roots[0]: 200}, max_rows=10)["rows"]
    assert len(capped) == 11 and capped[-1]["more"] == 111


async def test_kwargs_are_shown_deterministic_and_bounded() -> None:
    class Opaque:
        pass

    model = CallTreeModel()

    @miniagent
    async def kwargs_agent(ctx: InteractionContext, **_kwargs: Any) -> None:
        ctx.reply("ok")

    async with MiniAgents(on_call_event=model.handle_event):
        await kwargs_agent.fork(non_freezable_kwargs={"client": Opaque()}).trigger(
            long="x" * 100, message=TextMessage("hi"), settings={"temperature": 0.5}
        )
    (root_id,) = model.roots
    assert dict(model.calls[root_id].kwargs) == {
        "client": "<Opaque>",  # a default repr would put a memory address into compared outputs
        "long": "'" + "x" * 58 + "…",
        "message": "<TextMessage>",
        "settings": '{"temperature": 0.5}',
    }
    assert format_value("x" * 100, limit=20) == "'" + "x" * 18 + "…"
    huge = tuple(range(1_000_000))
    assert format_value(huge) == format_value(huge[:100])  # only what is shown is built


# --- trace scoping ---------------------------------------------------------------------------------------------


async def test_trace_records_calls_made_in_its_block_and_their_sub_calls_until_they_finish() -> None:
    gate = asyncio.Event()

    @miniagent
    async def late_child_agent(ctx: InteractionContext) -> None:
        ctx.reply("child")

    @miniagent
    async def parent_agent(ctx: InteractionContext) -> None:
        await gate.wait()  # makes its sub-call only after the block has ended
        ctx.reply(late_child_agent.trigger())

    async with MiniAgents() as mini_agents:
        before = echo_agent.trigger("before")
        with trace() as traced:
            replies = parent_agent.trigger()
        assert not traced.is_recording and not traced.is_finished
        after = echo_agent.trigger("after")
        gate.set()
        await asyncio.gather(before, replies, after)
        await mini_agents.aflush_tasks()
        assert traced.to_text() == "parent_agent [done]\n└─ late_child_agent [done]"
        assert traced.is_finished
        # finished and stopped: it no longer listens, and no longer makes the engine build records
        assert mini_agents.call_event_handlers == []
        assert mini_agents.on_persist_messages_handlers == []
    assert repr(traced) == "<Trace stopped: 2 calls (2 done)>"


async def test_trace_ignores_calls_of_other_tasks_unless_all_calls() -> None:
    gate = asyncio.Event()

    async def elsewhere() -> Any:
        await gate.wait()
        return await echo_agent.trigger("from another task")

    async with MiniAgents():
        other_task = asyncio.create_task(elsewhere())  # its context was copied before the traces began
        with trace() as block, trace(all_calls=True) as everything:
            gate.set()
            mine = echo_agent.trigger("mine")
            await asyncio.gather(other_task, mine)

    assert block.to_text() == "echo_agent [done]"
    assert everything.to_text() == "echo_agent [done]\necho_agent [done]"
    assert [call.agent_alias for call in block.history.list_calls(text="mine")] == ["echo_agent"]
    assert block.history.list_calls(text="another task") == []


async def test_a_stopped_trace_settles_when_its_running_calls_finish_but_not_for_calls_never_started() -> None:
    gate = asyncio.Event()

    @miniagent
    async def lazy_child_agent(ctx: InteractionContext) -> None:
        ctx.reply("never asked for")

    @miniagent
    async def gated_agent(ctx: InteractionContext) -> None:
        lazy_child_agent.trigger(start_soon=False)  # made, never consumed: it never starts
        await gate.wait()
        ctx.reply("done")

    async with MiniAgents():
        traced = trace().start()
        with pytest.raises(RuntimeError, match="leave the `with trace\\(\\)` block"):
            await traced.wait_settled()
        replies = gated_agent.trigger()
        traced.stop()
        await asyncio.sleep(0)  # the agent starts
        waiter = asyncio.ensure_future(traced.wait_settled())
        await asyncio.sleep(0)
        assert not waiter.done() and not traced.is_settled
        gate.set()
        await replies
        await asyncio.wait_for(waiter, 5)
        assert traced.is_settled and not traced.is_finished
        assert traced.to_text() == "gated_agent [done]\n└─ lazy_child_agent [waiting]"


async def test_trace_start_and_stop_programmatically_and_refuse_misuse() -> None:
    with pytest.raises(NoActiveContextError, match="MiniAgents"):
        Trace().start()
    async with MiniAgents() as mini_agents:
        run_scope = Trace(mini_agents).start()
        replies = echo_agent.trigger("one run")
        run_scope.stop()
        echo_agent.trigger("not in the run")
        await replies
        with pytest.raises(RuntimeError, match="create a new one"):
            run_scope.start()
        without_records = Trace(mini_agents, record_history=False)
        with pytest.raises(ValueError, match="record_history=True"):
            without_records.inspector()
    assert run_scope.to_text() == "echo_agent [done]"


# --- the in-memory history -------------------------------------------------------------------------------------


async def test_in_memory_history_lists_filters_and_navigates_records() -> None:
    async with MiniAgents():
        with trace() as traced:
            replies = research_system().trigger("Tell me about MiniAgents")
        await replies
    history = traced.history
    assert isinstance(history, HistorySource)

    calls = history.list_calls()
    assert Counter(call.agent_alias for call in calls) == {
        "research_agent": 1,
        "web_search_agent": 3,
        "page_scraper_agent": 6,
    }
    assert calls[0].agent_alias == "research_agent" and calls[0].parent_call_id is None
    assert len(history.list_calls(agent_alias="page_scraper_agent")) == 6

    matching = history.list_calls(text="QUERY-2/page-1")
    assert {call.agent_alias for call in matching} == {"research_agent", "web_search_agent", "page_scraper_agent"}
    (scraper,) = [call for call in matching if call.agent_alias == "page_scraper_agent"]
    assert history.get_message(scraper.call_hash_key)["url"] == "https://dummy.com/query-2/page-1"
    assert len(history.list_calls(agent_alias="page_scraper_agent", text="query-2")) == 2

    research = calls[0]
    searches = history.sub_calls(research.call_id)
    assert [history.get_message(call.call_hash_key)["search_query"] for call in searches] == [
        "query 1",
        "query 2",
        "query 3",
    ]
    assert all(call.parent_call_id == research.call_id for call in searches)
    assert history.get_call(scraper.parent_call_id).agent_alias == "web_search_agent"

    # from the reply record to its call record, and from the call record to its input message
    reply_record = history.get_message(research.reply_hash_key)
    assert reply_record["class_"] == "AgentReplyNode"
    assert reply_record["agent_call__hash_key"] == research.call_hash_key
    call_record = history.get_message(research.call_hash_key)
    (input_key,) = call_record["messages__hash_keys"]
    assert history.get_message(input_key)["content"] == "Tell me about MiniAgents"
    first_reply = history.get_message(reply_record["replies__hash_keys"][0])
    assert first_reply["content"] == "RESEARCHING: Tell me about MiniAgents"


async def test_history_has_every_record_even_when_messages_were_persisted_before_it_listened() -> None:
    async with MiniAgents(on_persist_messages=lambda _promise, _message: None):
        await echo_agent.trigger("same input")  # the very same records get persisted (once) here
        with trace() as traced:
            replies = echo_agent.trigger("same input")
        await replies
    (call,) = traced.history.list_calls()
    call_record = traced.history.get_message(call.call_hash_key)
    assert traced.history.get_message(call_record["messages__hash_keys"][0])["content"] == "same input"


def test_inspector_refuses_something_that_is_not_a_history_source() -> None:
    with pytest.raises(TypeError, match="HistorySource"):
        HistoryInspector(source=[])  # type: ignore[arg-type]
    assert isinstance(InMemoryHistory(), HistorySource)


async def test_a_1000_deep_chain_stays_small_as_text_and_static_html() -> None:
    @miniagent
    async def chain(ctx: InteractionContext, level: int = 0) -> None:
        ctx.reply(chain.trigger(level=level + 1) if level < 999 else "bottom")

    async with MiniAgents():
        with trace(record_history=False) as traced:
            replies = chain.trigger()
        assert [str(message) for message in await replies] == ["bottom"]

    text = traced.call_tree().to_text()
    lines = text.splitlines()
    assert len(text) < 150_000  # was ~1.5 MB: three characters of indentation per level on each of 1,000 lines
    assert lines[0] == "chain [done]"
    assert lines[1] == "└─ chain [done]"
    assert lines[30] == "   " * 29 + "└─ chain [done]"
    assert lines[31] == "   " * 29 + "└─ ↳31 chain [done]"  # indented no further, its depth said
    assert lines[999] == "   " * 29 + "└─ ↳999 chain [done]"
    assert lines[-1] == "(calls deeper than 30 levels are not indented further; ↳N is their depth)"

    html = traced.call_tree().to_html()
    assert len(html) < 600_000
    assert html.count("<ul") == 31  # the roots' list and 30 nested levels, however deep the chain
    assert "↳999 " in html and "↳31 " in html and "↳30 " not in html


async def test_the_text_of_a_tree_shows_at_most_max_rows_calls_and_says_how_many() -> None:
    @miniagent
    async def leaf(ctx: InteractionContext, i: int) -> None:
        ctx.reply(str(i))

    async with MiniAgents():
        with trace(record_history=False) as traced:
            replies = [leaf.trigger(i=i) for i in range(30)]
        for reply in replies:
            await reply

    lines = traced.model.as_text(child_limit=100, max_rows=10).splitlines()
    assert lines[:10] == ["leaf [done]"] * 10
    assert lines[10:] == ["… more calls not shown (10 of 30 shown)"]
