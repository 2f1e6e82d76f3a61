"""The live views outside a kernel: batched state messages, collapsed child lists, selection, inspector navigation."""

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from miniagents import InteractionContext, MiniAgents, TextMessage, miniagent
from miniagents_notebook._style import PALETTE, STATUS_COLORS, STATUS_ICONS
from miniagents_notebook._view_format import CLOCK_INTERVAL
from miniagents_notebook.call_tree import CallTree, LiveView
from miniagents_notebook.inspector import HistoryInspector
from miniagents_notebook.timeline import Timeline
from miniagents_notebook.trace import trace

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC = Path(__file__).parents[1] / "miniagents_notebook" / "_static"


def count_messages(widget: LiveView) -> list[dict[str, Any]]:
    """Every message the widget sends to the front end (each `comm.send` is one message)."""
    sent: list[dict[str, Any]] = []
    original_send = widget.comm.send

    def send(data: Any = None, *args: Any, **kwargs: Any) -> Any:
        sent.append(data)
        return original_send(data, *args, **kwargs)

    widget.comm.send = send  # type: ignore[method-assign]
    return sent


@miniagent
async def leaf_agent(ctx: InteractionContext, number: int) -> None:
    ctx.reply(f"leaf {number}")


@miniagent
async def fan_out_agent(ctx: InteractionContext, width: int, wave: int = 0) -> None:
    """Calls `leaf_agent` `width` times; with `wave`, in waves of that many calls, one per event loop turn."""
    for number in range(width):
        ctx.reply_out_of_order(leaf_agent.trigger(number=number))
        if wave and number % wave == wave - 1:
            await asyncio.sleep(0.002)


@miniagent
async def failing_agent(ctx: InteractionContext) -> None:
    ctx.reply("about to fail")
    raise ValueError("the page could not be parsed")


async def test_a_thousand_calls_reach_the_front_end_in_a_bounded_number_of_messages() -> None:
    interval = 0.1
    event_count = 0

    def count_event(_event: Any) -> None:
        nonlocal event_count
        event_count += 1

    async with MiniAgents(on_call_event=count_event) as mini_agents:
        traced = trace().start()
        tree = traced.call_tree(throttle_interval=interval)
        timeline = traced.timeline(throttle_interval=interval)
        inspector = traced.inspector(throttle_interval=interval)
        tree_messages, timeline_messages, inspector_messages = map(count_messages, (tree, timeline, inspector))
        started = time.monotonic()
        replies = fan_out_agent.trigger(width=999, wave=10)  # a hundred waves of changes
        traced.stop()
        await replies
        await mini_agents.aflush_tasks()
        # the last state is sent by itself, at most one interval after the last change
        for _ in range(100):
            if (
                tree.tree["counts"]["done"] == 1000
                and timeline.timeline["counts"]["done"] == 1000
                and inspector.total == 1000
            ):
                break
            await asyncio.sleep(interval / 2)
    elapsed = time.monotonic() - started  # after the context closed: every message counted was sent by now

    assert tree.tree["total"] == 1000 and tree.tree["counts"]["done"] == 1000
    assert timeline.timeline["counts"]["done"] == 1000
    assert inspector.total == 1000
    assert event_count > 5000  # every call: initiated, started, reply appeared (complete already), finished, recorded
    bound = elapsed / interval + 2  # one per interval, plus the first one and the final one
    for messages in (tree_messages, timeline_messages, inspector_messages):
        assert 1 <= len(messages) <= bound, (len(messages), bound)

    # the root's 999 children collapse to the first 50 and a "more" row
    rows = tree.tree["rows"]
    assert len(rows) == 1 + 50 + 1
    assert rows[-1]["more"] == 949 and rows[-1]["shown"] == 50
    assert len(timeline.timeline["bars"]) == 51 and timeline.timeline["hidden"] == 949
    assert tree.to_text().endswith("└─ … 949 more")

    # the view asks for more children (as the "… more" row does); that is one message, with 200 more rows
    tree_messages.clear()
    tree.child_limits = {str(rows[0]["id"]): 250}
    assert len(tree.tree["rows"]) == 1 + 250 + 1
    assert len([message for message in tree_messages if "tree" in message.get("state", {})]) == 1


async def test_selecting_a_call_shows_its_messages_live_and_its_traceback_on_error() -> None:
    tokens: asyncio.Queue[str | None] = asyncio.Queue()

    async def stream_tokens(_metadata: dict[str, Any]) -> Any:
        while (token := await tokens.get()) is not None:
            yield token

    @miniagent
    async def streaming_agent(ctx: InteractionContext) -> None:
        ctx.reply(TextMessage.promise(message_token_streamer=stream_tokens))

    async with MiniAgents():
        with trace() as traced:
            streaming_replies = streaming_agent.trigger("question")
            failing_replies = failing_agent.trigger()
        tree = traced.call_tree(throttle_interval=0.01)
        streaming_id, failing_id = (row["id"] for row in tree.tree["rows"])

        token_stream = (await streaming_replies.__aiter__().__anext__()).__aiter__()
        await tokens.put("Hello")
        await token_stream.__anext__()
        tree.selected = streaming_id  # what a click in the view does
        assert tree.details["inputs"][0]["text"] == "question"
        assert tree.details["replies"] == [{"index": 0, "text": "Hello", "streaming": True, "error": None}]

        await tokens.put(", world")
        await token_stream.__anext__()
        for _ in range(100):  # no lifecycle event here: the view polls the streaming text by itself
            if tree.details["replies"][0]["text"] == "Hello, world":
                break
            await asyncio.sleep(0.01)
        assert tree.details["replies"][0]["text"] == "Hello, world"
        assert tree.tree["rows"][0]["preview"] == "Hello, world"

        await tokens.put(None)
        await streaming_replies
        with pytest.raises(ValueError, match="could not be parsed"):
            await failing_replies
        tree.selected = failing_id
        assert tree.details["status"] == "error"
        assert tree.details["error"] == "ValueError: the page could not be parsed"
        assert "failing_agent" in tree.details["traceback"]
        assert tree.details["replies"][0]["text"] == "about to fail"
        tree.flush()
    assert [row["status"] for row in tree.tree["rows"]] == ["done", "error"]
    assert tree.tree["rows"][1]["error"] == "ValueError: the page could not be parsed"


async def test_durations_and_bars_of_unfinished_calls_grow_without_events_and_stop_when_they_finish() -> None:
    release = asyncio.Event()

    @miniagent
    async def slow_agent(ctx: InteractionContext) -> None:
        await release.wait()  # no lifecycle event while it waits
        ctx.reply("done")

    async with MiniAgents():
        with trace() as traced:
            replies = slow_agent.trigger()
        tree = traced.call_tree(throttle_interval=0.02)
        timeline = traced.timeline(throttle_interval=0.02)
        messages = [count_messages(view) for view in (tree, timeline)]
        seen: list[tuple[str, float, str]] = []
        for _ in range(100):
            state = (
                tree.tree["rows"][0]["elapsed_text"],
                timeline.timeline["span"],
                timeline.timeline["bars"][0]["title"],
            )
            if not seen or state != seen[-1]:
                seen.append(state)
            if len(seen) >= 4:
                break
            await asyncio.sleep(CLOCK_INTERVAL / 4)
        assert len(seen) >= 4  # re-sent as the clock goes on, each time with the durations grown
        assert [span for _, span, _ in seen] == sorted(span for _, span, _ in seen)
        assert all(title.startswith("slow_agent · running · 0.00 s → ") for _, _, title in seen[1:])
        assert all(len(sent) >= 3 for sent in messages)

        release.set()
        await replies
        for _ in range(100):
            if tree.tree["rows"][0]["status"] == timeline.timeline["bars"][0]["status"] == "done":
                break
            await asyncio.sleep(0.01)
        final_counts = [len(sent) for sent in messages]
        await asyncio.sleep(3 * CLOCK_INTERVAL)
        assert [len(sent) for sent in messages] == final_counts  # finished: nothing changes, nothing is sent


def test_the_browser_gets_no_formatting_rules_or_colours_of_its_own() -> None:
    """Durations, ticks, status marks and colours have one source, in Python; the views' JS and CSS only use them."""
    scripts = "".join(path.read_text() for path in STATIC.glob("*.js"))
    for rule in ("toFixed", "Math.floor", "setInterval", "performance.now", "0.92", *STATUS_ICONS.values()):
        assert rule not in scripts, rule
    stylesheet = (STATIC / "widgets.css").read_text()
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b", stylesheet)
    for color in (*STATUS_COLORS.values(), *PALETTE.values()):
        assert color in CallTree._css and color in Timeline._css and color in HistoryInspector._css


async def test_widgets_put_static_html_and_deterministic_text_next_to_the_widget_view() -> None:
    async with MiniAgents():
        with trace() as traced:
            replies = fan_out_agent.trigger(width=2)
        waiting_bundle, _ = traced._repr_mimebundle_()
        await replies

    assert waiting_bundle["text/plain"] == "fan_out_agent [waiting]"
    for view in (traced.call_tree(), traced.timeline()):
        data, _ = view._repr_mimebundle_()
        assert set(data) == {"text/plain", "text/html", WIDGET_VIEW}
        assert data[WIDGET_VIEW]["model_id"] == view.model_id
        assert data["text/plain"] == "fan_out_agent [done]\n├─ leaf_agent [done]\n└─ leaf_agent [done]"
        assert "leaf_agent" in data["text/html"]
    inspector_data, _ = traced.inspector()._repr_mimebundle_()
    assert inspector_data["text/plain"] == "History: 3 recorded calls (fan_out_agent: 1, leaf_agent: 2)"
    assert "leaf 1" in inspector_data["text/html"]


async def test_inspector_filters_by_agent_and_text_and_navigates_between_calls() -> None:
    async with MiniAgents():
        with trace() as traced:
            replies = fan_out_agent.trigger(width=3)
        await replies
        failing = trace().start()
        failing_replies = failing_agent.trigger()
        failing.stop()
        with pytest.raises(ValueError):
            await failing_replies
    inspector = HistoryInspector(traced.history)
    assert inspector.agents == ["fan_out_agent", "leaf_agent"]
    assert [call["alias"] for call in inspector.calls] == ["fan_out_agent", "leaf_agent", "leaf_agent", "leaf_agent"]

    inspector.agent_filter = "leaf_agent"  # what the view's filters do
    assert [call["kwargs"] for call in inspector.calls] == ["number=0", "number=1", "number=2"]
    inspector.text_filter = "leaf 2"
    assert [call["kwargs"] for call in inspector.calls] == ["number=2"]
    assert (inspector.total, inspector.matching) == (4, 1)
    assert inspector.header == "History: 4 recorded calls (1 matching)"

    inspector.selected = inspector.calls[0]["id"]
    details = inspector.details
    assert details["parent"]["alias"] == "fan_out_agent"
    assert details["call_record"]["class"] == "AgentCallNode"
    assert ["number", "2"] in details["call_record"]["fields"]
    (replies_field,) = [nested for nested in details["reply_record"]["nested"] if nested["field"] == "replies"]
    assert [message["content"] for message in replies_field["messages"]] == ["leaf 2"]
    (call_reference,) = [nested for nested in details["reply_record"]["nested"] if nested["field"] == "agent_call"]
    assert call_reference["messages"] == [{"hash_key": details["call_record"]["hash_key"], "reference": True}]

    inspector.selected = details["parent"]["id"]  # follow the link to the call that made it
    assert [sub_call["kwargs"] for sub_call in inspector.details["sub_calls"]] == ["number=0", "number=1", "number=2"]
    assert inspector.details["parent"] is None

    failing_inspector = failing.inspector()
    (failed_call,) = failing_inspector.calls
    failing_inspector.selected = failed_call["id"]
    (failed_replies,) = [n for n in failing_inspector.details["reply_record"]["nested"] if n["field"] == "replies"]
    assert [message["content"] for message in failed_replies["messages"]] == ["about to fail"]


async def test_the_inspector_follows_a_history_as_calls_get_recorded() -> None:
    async with MiniAgents() as mini_agents:
        traced = trace().start()
        inspector = traced.inspector(throttle_interval=0.01)
        assert inspector.total == 0
        await fan_out_agent.trigger(width=2)
        traced.stop()
        await mini_agents.aflush_tasks()
        for _ in range(100):
            if inspector.total == 3:
                break
            await asyncio.sleep(0.01)
    assert inspector.total == 3


def test_views_refuse_nothing_but_show_an_empty_tree() -> None:
    from miniagents_notebook._tree_model import CallTreeModel

    model = CallTreeModel()
    for view in (CallTree(model), Timeline(model)):
        data, _ = view._repr_mimebundle_()
        assert data["text/plain"] == "(no agent calls)"
        assert "no agent calls" in data["text/html"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("view", ["call_tree", "timeline", "inspector"])
def test_view_modules_are_valid_javascript(view: str, tmp_path: Path) -> None:
    module = tmp_path / f"{view}.mjs"
    module.write_text((STATIC / "common.js").read_text() + (STATIC / f"{view}.js").read_text())
    result = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert module.read_text().count("export default") == 1
