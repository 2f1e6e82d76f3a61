"""Bounded memory in the notebook layer: the session history and live traces keep at most `max_calls` calls, evict the
oldest first, keep what still runs, and every view says how many calls were evicted."""

import asyncio
import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from notebook_helpers import loaded_shell, run_ok

from miniagents import InteractionContext, MiniAgents, miniagent
from miniagents_notebook import InMemoryHistory, Trace, current_session, trace
from miniagents_notebook import session as session_module
from miniagents_notebook._eviction import DEFAULT_MAX_CALLS, eviction_note
from miniagents_notebook._tree_model import CallTreeModel
from miniagents_notebook.call_tree import CallTree
from miniagents_notebook.inspector import HistoryInspector, call_record_details
from miniagents_notebook.session import NotebookSession
from miniagents_notebook.timeline import Timeline


@miniagent
async def echo_agent(ctx: InteractionContext, number: int = 0) -> None:
    ctx.reply(f"echo {number}: {await ctx.message_promises.as_single_text_promise()}")


@miniagent
async def parent_agent(ctx: InteractionContext, children: int = 1, number: int = 0) -> None:
    ctx.reply(f"parent {number}")
    for child in range(children):
        await echo_agent.trigger(f"child {child}", number=child)


def reply_texts(history: InMemoryHistory) -> list[str]:
    """The first reply of every kept call, in call order."""
    texts = []
    for call in history.list_calls():
        reply_node = history.get_message(call.reply_hash_key)
        assert reply_node is not None
        first_reply = history.get_message(reply_node["replies__hash_keys"][0])
        assert first_reply is not None
        texts.append(first_reply["content"])
    return texts


# --- the limit and its note ------------------------------------------------------------------------------------------


def test_the_note_counts_evicted_calls_and_names_the_limit() -> None:
    assert eviction_note(0, 10) == ""
    assert eviction_note(1, 10) == "… 1 older call evicted (limit 10)"
    assert eviction_note(1234, 10_000) == "… 1,234 older calls evicted (limit 10,000)"
    assert eviction_note(5, None) == "… 5 older calls evicted"


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_limits_must_be_positive_whole_numbers_or_none(bad: Any) -> None:
    for make in (InMemoryHistory, CallTreeModel, Trace):
        with pytest.raises(ValueError, match="`max_calls` must be a positive whole number of calls, or None"):
            make(max_calls=bad)


def test_the_default_limit_is_ten_thousand_calls() -> None:
    assert DEFAULT_MAX_CALLS == 10_000
    assert InMemoryHistory().max_calls == CallTreeModel().max_calls == Trace().max_calls == 10_000


# --- the history -----------------------------------------------------------------------------------------------------


async def test_the_history_evicts_the_oldest_records_first_with_their_messages() -> None:
    history = InMemoryHistory(max_calls=3)
    async with MiniAgents(on_persist_messages=history.persist, on_call_event=history.handle_event):
        for number in range(5):
            await echo_agent.trigger("same input", number=number)
        first_call_kept = history.list_calls()[0]
    assert len(history) == 3
    assert history.evicted_calls == 2
    assert history.eviction_note == "… 2 older calls evicted (limit 3)"
    assert reply_texts(history) == ["echo 2: same input", "echo 3: same input", "echo 4: same input"]
    assert first_call_kept.agent_alias == "echo_agent"
    # the evicted calls' own messages are gone; the input they shared with the kept calls is not
    stored = {hash_key: data for hash_key, data in history._messages.items()}
    contents = sorted(str(data.get("content")) for data in stored.values() if data.get("class_") == "TextMessage")
    assert contents == ["echo 2: same input", "echo 3: same input", "echo 4: same input", "same input"]
    assert set(history._message_uses) == set(stored)


async def test_lowering_the_limit_evicts_at_once_and_none_keeps_everything() -> None:
    history = InMemoryHistory(max_calls=None)
    changes = []
    history.add_change_listener(lambda: changes.append(len(history)))
    async with MiniAgents(on_persist_messages=history.persist, on_call_event=history.handle_event):
        for number in range(6):
            await echo_agent.trigger("hi", number=number)
    assert (len(history), history.evicted_calls, history.eviction_note) == (6, 0, "")
    history.max_calls = 2
    assert len(history) == 2 and history.evicted_calls == 4
    assert changes[-1] == 2  # the inspector hears about it
    assert reply_texts(history) == ["echo 4: hi", "echo 5: hi"]


async def test_evicting_a_parent_keeps_its_later_child_browsable() -> None:
    gate = asyncio.Event()

    @miniagent
    async def slow_child_agent(ctx: InteractionContext) -> None:
        await gate.wait()
        ctx.reply("late child")

    @miniagent
    async def hasty_parent_agent(ctx: InteractionContext) -> None:
        ctx.reply("parent")
        slow_child_agent.trigger()  # outlives this call

    history = InMemoryHistory(max_calls=1)
    async with MiniAgents(on_persist_messages=history.persist, on_call_event=history.handle_event) as mini_agents:
        await hasty_parent_agent.trigger()
        await asyncio.sleep(0.01)
        gate.set()
        await mini_agents.aflush_tasks()
    (child,) = history.list_calls()
    assert child.agent_alias == "slow_child_agent"
    assert child.parent_call_id is not None and history.get_call(child.parent_call_id) is None
    details = call_record_details(history, child.call_id)
    assert details["parent"] is None
    assert details["reply_record"]["nested"]
    inspector = HistoryInspector(history)
    assert inspector.to_text() == "History: 1 recorded call (slow_child_agent: 1)\n… 1 older call evicted (limit 1)"
    inspector.close()


async def test_sub_calls_of_a_kept_parent_are_only_the_kept_children_in_call_order() -> None:
    history = InMemoryHistory(max_calls=3)
    async with MiniAgents(on_persist_messages=history.persist, on_call_event=history.handle_event):
        await parent_agent.trigger(children=4)
    # children are recorded before their parent: the two oldest children went
    calls = history.list_calls()
    assert [call.agent_alias for call in calls] == ["parent_agent", "echo_agent", "echo_agent"]
    assert [call.call_id for call in history.sub_calls(calls[0].call_id)] == [calls[1].call_id, calls[2].call_id]
    assert reply_texts(history)[1:] == ["echo 2: child 2", "echo 3: child 3"]


# --- the call tree model ---------------------------------------------------------------------------------------------


async def test_the_tree_evicts_the_calls_that_finished_longest_ago() -> None:
    model = CallTreeModel(max_calls=3)
    async with MiniAgents(on_call_event=model.handle_event):
        for number in range(5):
            await echo_agent.trigger("hi", number=number)
    assert [model.calls[call_id].kwargs for call_id in model.roots] == [(("number", str(n)),) for n in (2, 3, 4)]
    assert model.evicted_calls == 2
    assert model.as_text().splitlines() == ["… 2 older calls evicted (limit 3)", *["echo_agent [done]"] * 3]
    snapshot = model.tree_snapshot(0.0)
    assert (snapshot["total"], snapshot["evicted"], snapshot["evicted_note"]) == (3, 2, model.eviction_note)
    assert model.timeline_snapshot(0.0)["evicted_note"] == "… 2 older calls evicted (limit 3)"


async def test_the_tree_keeps_running_calls_and_the_parents_of_kept_calls() -> None:
    gate = asyncio.Event()

    @miniagent
    async def gated_agent(ctx: InteractionContext) -> None:
        await gate.wait()
        ctx.reply("released")

    model = CallTreeModel(max_calls=3)
    async with MiniAgents(on_call_event=model.handle_event):
        # a long parent whose children finish one by one: the parent stays, its oldest children go
        await parent_agent.trigger(children=6)
        assert model.as_text() == (
            "… 4 older calls evicted (limit 3)\nparent_agent [done]\n├─ echo_agent [done]\n└─ echo_agent [done]"
        )
        # a running call is never evicted, however old
        running = gated_agent.trigger()
        await asyncio.sleep(0.01)
        for number in range(4):
            await echo_agent.trigger("hi", number=number)
        assert "gated_agent [running]" in model.as_text()
        assert len(model.calls) == 3
        gate.set()
        await running
    assert model.as_text().splitlines()[1:] == ["gated_agent [done]", "echo_agent [done]", "echo_agent [done]"]


async def test_a_finished_parent_of_a_running_child_waits_for_it_then_goes() -> None:
    gate = asyncio.Event()

    @miniagent
    async def gated_child_agent(ctx: InteractionContext) -> None:
        await gate.wait()
        ctx.reply("released")

    @miniagent
    async def hasty_parent_agent(ctx: InteractionContext) -> None:
        ctx.reply("parent")
        gated_child_agent.trigger()

    model = CallTreeModel(max_calls=2)
    async with MiniAgents(on_call_event=model.handle_event):
        await hasty_parent_agent.trigger()
        await asyncio.sleep(0.01)
        for number in range(2):
            await echo_agent.trigger("hi", number=number)
        # the parent is the oldest finished call, but its child runs: both stay, the newer calls went instead
        assert model.as_text() == (
            "… 2 older calls evicted (limit 2)\nhasty_parent_agent [done]\n└─ gated_child_agent [running]"
        )
        gate.set()
        await asyncio.sleep(0.01)
        await echo_agent.trigger("hi", number=9)
    assert model.as_text() == "… 4 older calls evicted (limit 2)\necho_agent [done]"
    assert not model._evict_when_childless and not model._streaming_after_finish


# --- the views -------------------------------------------------------------------------------------------------------


async def test_every_view_shows_how_many_calls_were_evicted() -> None:
    note = "… 4 older calls evicted (limit 2)"
    async with MiniAgents():
        traced = trace(all_calls=True, max_calls=2).start()
        tree, timeline, inspector = traced.call_tree(), traced.timeline(), traced.inspector()
        for number in range(6):
            await echo_agent.trigger("hi", number=number)
        traced.stop()
    for view in (tree, timeline, inspector):
        view.flush()
    assert tree.tree["evicted_note"] == note and tree.tree["evicted"] == 4
    assert timeline.timeline["evicted_note"] == note
    assert inspector.evicted_note == note
    assert traced.history.evicted_calls == traced.model.evicted_calls == 4
    for view in (tree, timeline, inspector, traced):
        assert note in view.to_html()
        assert note in view.to_text()
    assert tree.to_text() == f"{note}\necho_agent [done]\necho_agent [done]"
    assert inspector.to_text() == f"History: 2 recorded calls (echo_agent: 2)\n{note}"
    assert repr(traced) == "<Trace stopped: 2 calls (2 done), 4 evicted>"
    bundle, _ = tree._repr_mimebundle_()
    assert note in bundle["text/plain"] and note in bundle["text/html"]
    for view in (tree, timeline, inspector):
        view.close()


async def test_views_without_evictions_show_no_note() -> None:
    async with MiniAgents():
        with trace() as traced:
            await echo_agent.trigger("hi")
    tree, timeline, inspector = CallTree(traced.model), Timeline(traced.model), HistoryInspector(traced.history)
    assert tree.tree["evicted_note"] == timeline.timeline["evicted_note"] == inspector.evicted_note == ""
    for view in (tree, timeline, inspector):
        assert "evicted" not in view.to_html() and "evicted" not in view.to_text()
        view.close()


def test_the_front_end_shows_the_note() -> None:
    from pathlib import Path

    static = Path(__file__).parents[1] / "miniagents_notebook" / "_static"
    assert "function evictionNote" in (static / "common.js").read_text()
    for name, source in (("call_tree", "tree.evicted_note"), ("timeline", "timeline.evicted_note")):
        assert f"evictionNote({source})" in (static / f"{name}.js").read_text()
    assert 'evictionNote(model.get("evicted_note"))' in (static / "inspector.js").read_text()


# --- the trace -------------------------------------------------------------------------------------------------------


async def test_a_live_trace_of_every_call_stays_within_its_limit_and_forgets_what_it_evicted() -> None:
    async with MiniAgents() as mini_agents:
        traced = trace(all_calls=True, max_calls=5).start()
        for number in range(20):
            await parent_agent.trigger(children=2, number=number)
        await mini_agents.aflush_tasks()
        assert len(traced.model.calls) <= 5 and len(traced.history) <= 5
        assert traced.model.evicted_calls + len(traced.model.calls) == 60
        assert traced.history.evicted_calls + len(traced.history) == 60
        assert not traced._unfinished
        traced.max_calls = 1
        assert (len(traced.model.calls), len(traced.history)) == (1, 1)
        traced.stop()
    assert traced.is_finished


# --- the session -----------------------------------------------------------------------------------------------------


def test_the_session_history_limit_is_a_setting_that_survives_reset() -> None:
    with loaded_shell() as shell:
        session = current_session()
        assert session.settings["history_limit"] == 10_000 and session.history.max_calls == 10_000
        run_ok(shell, "%miniagents history_limit=2")
        assert session.history.max_calls == 2
        run_ok(shell, "%%miniagent helper(number: int = 0)\nctx.reply(f'helper {number}')")
        for number in range(5):
            run_ok(shell, f"await helper.trigger(number={number})")
        run_ok(shell, "from miniagents_notebook import current_session")
        run_ok(shell, "await current_session().mini_agents.aflush_tasks()")
        assert (len(session.history), session.history.evicted_calls) == (2, 3)
        inspector = run_ok(shell, "%miniagents history")
        assert inspector.to_text() == "History: 2 recorded calls (helper: 2)\n… 3 older calls evicted (limit 2)"
        assert inspector.evicted_note == "… 3 older calls evicted (limit 2)"
        assert (
            "  history: 2 recorded calls kept; … 3 older calls evicted (limit 2)"
            in (session._repr_mimebundle_()["text/plain"])
        )
        run_ok(shell, "%miniagents reset")
        assert session.history.max_calls == 2 and session.history.evicted_calls == 0
        run_ok(shell, "%miniagents history_limit=None")
        assert session.history.max_calls is None
        assert "history_limit" not in vars(MiniAgents.get_current())


# --- retained memory -------------------------------------------------------------------------------------------------

CALLS = 1_000
LIMIT = 100
BYTES_PER_KEPT_CALL = 12_000
"""Stated bound: what a kept call may cost a session history plus a live `trace(all_calls=True)` (model and history)
together. Measured: about 2 KB in the session history, 5 KB in the trace (model 3 KB, history 2 KB)."""


async def _run_pairs(first: int, count: int) -> None:
    """`count` small calls, half of them nested in the other half, in batches of 100 running in parallel."""
    for start in range(first, first + count // 2, 50):
        await asyncio.gather(
            *(parent_agent.trigger(f"hi {number}", number=number) for number in range(start, start + 50))
        )


async def _retained_bytes(run: Callable[[int, int], Awaitable[None]]) -> tuple[int, int]:
    """Bytes still allocated after `CALLS` more calls, and after `CALLS` more again (tracing starts after a warm-up
    that fills the limits: what those calls keep is not counted, but their eviction is not either)."""
    await run(0, 2 * LIMIT)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await run(2 * LIMIT, CALLS)
        gc.collect()
        middle = tracemalloc.get_traced_memory()[0]
        await run(2 * LIMIT + CALLS, CALLS)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return middle - before, after - before


async def test_retained_memory_is_bounded_by_the_limits_not_by_the_number_of_calls() -> None:
    # the engine keeps a little per call by itself (`MiniAgents` remembers persisted hash keys): measure it alone
    async with MiniAgents(on_persist_messages=lambda _promise, _message: None):
        engine_middle, engine_after = await _retained_bytes(_run_pairs)

    session = NotebookSession(history_limit=LIMIT)  # notebook-wide: the calls below are made in it
    try:
        traced = Trace(session.mini_agents, all_calls=True, max_calls=LIMIT).start()
        middle, after = await _retained_bytes(_run_pairs)
        traced.stop()
        await session.mini_agents.aflush_tasks()
        assert len(session.history) == len(traced.history) == len(traced.model.calls) == LIMIT
        assert session.history.evicted_calls > 2 * CALLS
    finally:
        session.close()
        await asyncio.gather(*session_module._finalizing)

    notebook_middle, notebook_after = middle - engine_middle, after - engine_after
    # at most the kept calls' worth (a run without limits keeps more than 5 KB for each of the 8,000 calls) ...
    assert notebook_middle < LIMIT * BYTES_PER_KEPT_CALL, notebook_middle
    assert notebook_after < LIMIT * BYTES_PER_KEPT_CALL, notebook_after
    # ... and twice as many calls keep no more than the first batch did
    assert notebook_after - notebook_middle < 100 * CALLS, (notebook_middle, notebook_after)


async def test_recording_a_call_hashes_nothing_and_browsing_it_finds_every_message() -> None:
    """A notebook's history records every call, and most are never browsed: hashing each message of each call when
    it was recorded cost more than the calls (a fan-out ran ~2.4x slower with the history than without)."""
    history = InMemoryHistory()
    async with MiniAgents(on_persist_messages=history.persist, on_call_event=history.handle_event):
        replies = await echo_agent.trigger("hashed later", number=7)
    (reply,) = replies
    assert "hash_key" not in reply.__dict__  # not hashed by recording the call
    assert reply_texts(history) == ["echo 7: hashed later"]
    assert "hash_key" in reply.__dict__


async def test_a_history_makes_hash_keys_as_the_context_the_call_ran_in() -> None:
    history = InMemoryHistory()
    async with MiniAgents(
        longer_hash_keys=True, on_persist_messages=history.persist, on_call_event=history.handle_event
    ):
        await echo_agent.trigger("long keys", number=1)
    (call,) = history.list_calls()  # browsed outside that context
    assert len(call.call_hash_key) == len(call.reply_hash_key) == 64
    reply_node = history.get_message(call.reply_hash_key)
    assert reply_node is not None and len(reply_node["replies__hash_keys"][0]) == 64
