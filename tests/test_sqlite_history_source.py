"""`SQLiteHistory`: the records of a store file from an earlier session, answered the way the inspector asks.

A real agent tree (research → 3 web searches → 2 page scrapes each) runs in one `MiniAgents` context, persisted into a
file by an attached store and collected at the same time by the notebook's `InMemoryHistory`; the store is closed and
a new one opened on the file. Every answer of the file-backed source must then equal the in-memory one.
"""

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from miniagents import InteractionContext, MiniAgents, miniagent
from miniagents.ext.persistence import (
    SQLiteHistory,
    SQLiteMessageStore,
    StoreClosedError,
    StoreError,
)
from miniagents.records import RecordedCall
from miniagents_notebook.inspector import HistoryInspector, HistorySource, InMemoryHistory

TOPICS = ("alpha", "beta", "gamma")
ALIASES = ["research", "web_search", "web_search", "web_search", *["page_scraper"] * 6]


@miniagent
async def page_scraper(ctx: InteractionContext, url: str, priority: str) -> None:
    await asyncio.sleep(0.002)
    ctx.reply(f"Content of {url}")


@miniagent
async def web_search(ctx: InteractionContext, query: str, delay: float) -> None:
    await asyncio.sleep(delay)
    ctx.reply(f"Results for {query}")
    for page in (1, 2):
        ctx.reply(
            page_scraper.trigger(
                ctx.message_promises, url=f"https://{query}.example/{page}", priority="urgent" if page == 1 else "low"
            )
        )


@miniagent
async def research(ctx: InteractionContext) -> None:
    ctx.reply("RESEARCHING")
    for position, topic in enumerate(TOPICS):
        # the searches run in parallel; the later ones finish first (distinct delays keep the order deterministic)
        ctx.reply(web_search.trigger(ctx.message_promises, query=topic, delay=0.01 * (len(TOPICS) - position)))


@dataclass(frozen=True)
class PersistedRun:
    database: Path
    live: InMemoryHistory


async def _run_research(database: Path, *, attach: bool, question: str = "What is MiniAgents?") -> InMemoryHistory:
    """Run the tree once, persisted into `database` (with or without the call tree) and collected in memory."""
    live = InMemoryHistory()
    store = SQLiteMessageStore(database)
    handlers: list[Any] = [live.persist] if attach else [live.persist, store.persist]
    async with MiniAgents(on_persist_messages=handlers, on_call_event=live.handle_event) as mini_agents:
        if attach:
            store.attach(mini_agents, label="earlier session")
        replies = await research.trigger(question)
    assert len(replies) == 1 + len(TOPICS) * 3
    store.close()
    return live


@pytest.fixture(scope="module")
def persisted(tmp_path_factory: pytest.TempPathFactory) -> PersistedRun:
    database = tmp_path_factory.mktemp("earlier_session") / "history.db"
    live = asyncio.run(_run_research(database, attach=True))
    return PersistedRun(database, live)


@pytest.fixture(params=["path", "new store object"])
def history(request: pytest.FixtureRequest, persisted: PersistedRun) -> Any:
    """A source over the file, opened by its path or through a new store object (the writing one is closed)."""
    if request.param == "path":
        with SQLiteHistory(persisted.database) as opened:
            yield opened
    else:
        with SQLiteMessageStore(persisted.database) as store, SQLiteHistory(store) as opened:
            yield opened


def _keys(calls: Any) -> list[tuple[str, str, str]]:
    return [(call.agent_alias, call.call_hash_key, call.reply_hash_key) for call in calls]


def _parent_reply_key(source: Any, call: Any) -> str | None:
    parent = None if call.parent_call_id is None else source.get_call(call.parent_call_id)
    return None if parent is None else parent.reply_hash_key


def test_the_calls_of_the_run_come_back_in_the_order_they_were_made(
    history: SQLiteHistory, persisted: PersistedRun
) -> None:
    assert isinstance(history, HistorySource)
    calls = history.list_calls()

    assert [call.agent_alias for call in calls] == ALIASES
    assert _keys(calls) == _keys(persisted.live.list_calls())
    assert all(isinstance(call, RecordedCall) for call in calls)
    assert len(history) == 10
    # the same tree: every call has the same parent (compared by the parent's records, ids differ)
    assert [_parent_reply_key(history, call) for call in calls] == [
        _parent_reply_key(persisted.live, call) for call in persisted.live.list_calls()
    ]
    assert calls[0].parent_call_id is None


def test_calls_are_filtered_by_agent_and_by_text_like_the_in_memory_history(
    history: SQLiteHistory, persisted: PersistedRun
) -> None:
    live = persisted.live
    assert [call.agent_alias for call in history.list_calls(agent_alias="web_search")] == ["web_search"] * 3
    assert history.list_calls(agent_alias="nobody") == []

    # in a reply (and so in the replies of the calls that passed it on), in kwargs only, in aliases, in input
    for text in ("content of https://BETA.example/2", "urgent", "scraper", "what is miniagents", "Results for"):
        found = history.list_calls(text=text)
        assert found, text
        assert _keys(found) == _keys(live.list_calls(text=text)), text
    beta_page = history.list_calls(text="content of https://BETA.example/2")
    assert [call.agent_alias for call in beta_page] == ["research", "web_search", "page_scraper"]
    assert [call.agent_alias for call in history.list_calls(text="URGENT")] == ["page_scraper"] * 3
    assert len(history.list_calls(agent_alias="page_scraper", text="gamma")) == 2
    for text in ("no such text", "%", "a_b", "ab"):  # LIKE wildcards are literal; short texts are searched too
        assert _keys(history.list_calls(text=text)) == _keys(live.list_calls(text=text)), text


def test_details_resolve_nested_messages_and_navigate_between_calls(
    history: SQLiteHistory, persisted: PersistedRun
) -> None:
    calls = history.list_calls()
    run = calls[0]
    for call in calls:
        assert history.get_call(call.call_id) == call
        # the serialised records and the messages they reference are those of the live run
        call_node = history.get_message(call.call_hash_key)
        reply_node = history.get_message(call.reply_hash_key)
        assert call_node == persisted.live.get_message(call.call_hash_key)
        assert reply_node == persisted.live.get_message(call.reply_hash_key)
        assert reply_node["agent_call__hash_key"] == call.call_hash_key  # from the reply to its call
        for hash_key in (*call_node["messages__hash_keys"], *reply_node["replies__hash_keys"]):
            assert history.get_message(hash_key) == persisted.live.get_message(hash_key)

    searches = history.sub_calls(run.call_id)
    assert [history.get_message(call.call_hash_key)["query"] for call in searches] == list(TOPICS)
    for search in searches:
        scrapes = history.sub_calls(search.call_id)
        assert [history.get_message(call.call_hash_key)["priority"] for call in scrapes] == ["urgent", "low"]
        assert all(history.get_call(scrape.parent_call_id) == search for scrape in scrapes)
        assert all(history.sub_calls(scrape.call_id) == [] for scrape in scrapes)
    alpha_scrape = history.sub_calls(searches[0].call_id)[0]
    assert history.get_message(alpha_scrape.call_hash_key)["url"] == "https://alpha.example/1"
    assert history.get_message(history.get_message(alpha_scrape.reply_hash_key)["replies__hash_keys"][0]) == {
        "class_": "TextMessage",
        "content": "Content of https://alpha.example/1",
        "content_template": None,
    }

    for unknown in ("no-such-session/1", f"{run.call_id}x", "0" * 40, "", "/"):
        assert history.get_call(unknown) is None
        assert history.sub_calls(unknown) == []
    assert history.get_message("0" * 40) is None


def test_the_inspector_opens_the_file_and_renders_the_run(history: SQLiteHistory, persisted: PersistedRun) -> None:
    inspector = HistoryInspector(history)
    live_inspector = HistoryInspector(persisted.live)

    assert inspector.to_text() == "History: 10 recorded calls (research: 1, web_search: 3, page_scraper: 6)"
    assert inspector.to_text() == live_inspector.to_text()
    assert inspector.agents == ["page_scraper", "research", "web_search"]
    assert [call["alias"] for call in inspector.calls] == ALIASES
    # a store keeps messages as sorted JSON: the kwargs come back in alphabetical order, not in the call's order
    assert [call["kwargs"] for call in inspector.calls][:2] == ["", 'delay=0.03, query="alpha"']
    assert [sorted(call["kwargs"].split(", ")) for call in inspector.calls] == [
        sorted(call["kwargs"].split(", ")) for call in live_inspector.calls
    ]
    assert inspector.calls[-1]["preview"] == "Content of https://alpha.example/2"

    html = inspector.to_html()
    assert "History: 10 recorded calls" in html
    for call in history.list_calls():
        assert call.call_hash_key[:12] in html and call.reply_hash_key[:12] in html
    for topic in TOPICS:
        assert f"Content of https://{topic}.example/2" in html
    assert html.count("Called by:") == 9 and html.count("Sub-calls (") == 4

    inspector.text_filter = "beta.example/1"
    assert [call["alias"] for call in inspector.calls] == ["research", "web_search", "page_scraper"]
    inspector.selected = inspector.calls[-1]["id"]
    details = inspector.details
    assert details["parent"]["alias"] == "web_search"
    assert ["url", "https://beta.example/1"] in details["call_record"]["fields"]
    inspector.selected = details["parent"]["id"]  # from the scrape to the search that made it
    assert [sub_call["alias"] for sub_call in inspector.details["sub_calls"]] == ["page_scraper"] * 2
    inspector.close()
    live_inspector.close()


async def test_records_persisted_without_the_call_tree_are_listed_too(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    attached = await _run_research(database, attach=True)
    unattached = await _run_research(database, attach=False, question="Who wrote MiniAgents?")

    with SQLiteHistory(database) as history:
        calls = history.list_calls()
        assert len(calls) == 20
        assert _keys(calls[:10]) == _keys(attached.list_calls())  # the attached session came first
        later = calls[10:]
        assert sorted(_keys(later)) == sorted(_keys(unattached.list_calls()))
        for call in later:  # known from the records alone: named by the reply node, no tree
            assert call.call_id == call.reply_hash_key and call.parent_call_id is None
            assert history.get_call(call.call_id) == call
            assert history.sub_calls(call.call_id) == []
        assert sorted(call.agent_alias for call in history.list_calls(text="who wrote")) == sorted(ALIASES)
        assert len(history.list_calls(agent_alias="research")) == 2


async def test_a_live_store_is_flushed_before_it_is_browsed(tmp_path: Path) -> None:
    async with MiniAgents() as mini_agents, SQLiteMessageStore(tmp_path / "history.db") as store:
        store.attach(mini_agents)
        await research.trigger("question")
        await mini_agents.aflush_tasks()
        with SQLiteHistory(store) as history:  # no `aflush()`: the history does it
            assert [call.agent_alias for call in history.list_calls()] == ALIASES


async def test_a_running_call_is_listed_once_its_records_are_stored(tmp_path: Path) -> None:
    release = asyncio.Event()

    @miniagent
    async def waiting_agent(ctx: InteractionContext) -> None:
        await release.wait()
        ctx.reply("released")

    async with MiniAgents() as mini_agents, SQLiteMessageStore(tmp_path / "history.db") as store:
        store.attach(mini_agents)
        waiting_replies = waiting_agent.trigger()
        try:
            await research.trigger("question")
            with SQLiteHistory(store) as history:
                for _ in range(200):  # the records of the finished calls are built in tasks of their own
                    await store.aflush()
                    if len(history) >= 10:
                        break
                    await asyncio.sleep(0.01)
                # the waiting call has a row in the call tree already, but no records yet: not listed
                assert [call.agent_alias for call in history.list_calls()] == ALIASES
                release.set()
                await waiting_replies
                await mini_agents.aflush_tasks()
                await store.aflush()
                # the same history reads the file again: the call is there now, first, as it was made first
                assert [call.agent_alias for call in history.list_calls()] == ["waiting_agent", *ALIASES]
        finally:
            release.set()  # a failed assertion must not leave the context waiting for the agent forever


def test_what_is_not_a_store_file_is_refused_with_a_clear_error(tmp_path: Path, persisted: PersistedRun) -> None:
    with pytest.raises(FileNotFoundError, match=r"No message store file at .*missing\.db"):
        SQLiteHistory(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE messages (id INTEGER)")
    connection.close()
    with pytest.raises(StoreError, match=r"not a message store file .*calls, reference_lists, sessions"):
        SQLiteHistory(other)

    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database at all " * 100)
    with pytest.raises(StoreError, match=r"notes\.txt' as a SQLite message store: file is not a database"):
        SQLiteHistory(text_file)

    with SQLiteMessageStore(":memory:") as memory_store, pytest.raises(ValueError, match="in-memory"):
        SQLiteHistory(memory_store)

    history = SQLiteHistory(persisted.database)
    history.close()
    history.close()
    with pytest.raises(StoreClosedError, match="closed; open a new one"):
        history.list_calls()
    assert "closed" in repr(history)
