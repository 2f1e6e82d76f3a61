"""Schema version 3 (issue 18): the references of a message are one row per field, and files written by versions 1
and 2 are converted when a store opens them for writing — or read as they are, through a temporary view, when they
are only browsed (`SQLiteHistory`). Whatever the version, loading, navigation, search, the call tree and usage
answer the same."""

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_helpers import back_to_version_2

from miniagents import InteractionContext, Message, MiniAgents, TextMessage, miniagent
from miniagents.ext.persistence import SQLiteHistory, SQLiteMessageStore
from miniagents.ext.persistence.schema import SCHEMA_VERSION

pytestmark = pytest.mark.timeout(60)


@miniagent
async def _leaf(ctx: InteractionContext, number: int) -> None:
    ctx.reply(f"leaf {number} first")
    ctx.reply(TextMessage(f"leaf {number} priced", token_usage={"input_tokens": 3, "output_tokens": 5}, cost_usd=0.5))


@miniagent
async def _root(ctx: InteractionContext) -> None:
    for number in range(3):
        ctx.reply(_leaf.trigger(TextMessage(f"question {number}"), number=number))


async def _write_run(database: Path) -> None:
    async with SQLiteMessageStore(database) as store, MiniAgents() as mini_agents:
        store.attach(mini_agents)
        await _root.trigger()


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        names = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    return names


def _version(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    return int(version)


def _what_the_store_answers(database: Path) -> dict[str, Any]:
    with SQLiteMessageStore(database) as store:
        runs = store.runs()
        leaves = store.sub_calls(runs[0])
        reply_nodes = store.messages(kind="reply")
        return {
            "runs": runs,
            "leaves": leaves,
            "replies": [store.replies_of(call) for call in (*runs, *leaves)],
            "inputs": [store.input_of(call) for call in leaves],
            "reply nodes": [store.load(stored.hash_key) for stored in reply_nodes],
            "references": [store.references_of(stored.hash_key) for stored in reply_nodes],
            "referenced by": [
                store.referenced_by(reference.child_hash_key)
                for stored in reply_nodes
                for reference in store.references_of(stored.hash_key)
            ],
            "reply nodes of": [store.reply_nodes_of(call.call_node_hash_key) for call in leaves],  # type: ignore[arg-type]
            "search": [stored.hash_key for stored in store.search("PRICED")],
        }


def _what_the_history_answers(database: Path) -> dict[str, Any]:
    with SQLiteHistory(database) as history:
        calls = history.list_calls()
        return {
            "calls": calls,
            "found": history.list_calls(text="leaf 1 priced"),
            "sub calls": [history.sub_calls(call.call_id) for call in calls],
            "usage": history.usage(),
            "usage by call": history.usage_by_call(),
        }


async def test_a_fields_references_are_one_row_and_no_index_holds_every_child(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    await _write_run(database)
    with sqlite3.connect(database) as connection:
        fields = connection.execute(
            "SELECT field_path, count(*), sum(json_array_length(child_hash_keys)) FROM reference_lists "
            "GROUP BY field_path ORDER BY field_path"
        ).fetchall()
        indexes = {
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = 'reference_lists' AND sql IS NOT NULL"
            )
        }
    connection.close()
    # 4 calls: each reply node names its call node; the leaves' call nodes their input; replies: 2 per leaf, 6 at root
    assert fields == [("agent_call", 4, 4), ("messages", 3, 3), ("replies", 4, 12)]
    assert indexes == {"references_by_call_node"}


async def test_a_version_2_file_is_converted_when_a_store_opens_it_and_answers_the_same(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    await _write_run(database)
    before = _what_the_store_answers(database)
    history_before = _what_the_history_answers(database)
    assert history_before["usage"]["input_tokens"] == 9 and len(history_before["found"]) == 2  # the leaf and the root

    back_to_version_2(database)
    assert _version(database) == 2 and "message_references" in _tables(database)
    assert _what_the_store_answers(database) == before  # opening it for writing converted it
    assert _version(database) == SCHEMA_VERSION
    tables = _tables(database)
    assert "reference_lists" in tables and "message_references" not in tables and "messages_by_agent" not in tables
    assert _what_the_history_answers(database) == history_before

    after = Message(note="after", nested=(TextMessage("written after"), TextMessage("the conversion")))
    async with SQLiteMessageStore(database) as store:  # and it is written on as any other file
        store.save(after)
    with SQLiteMessageStore(database) as store:
        assert store.load(after.hash_key) == after
        assert [reference.position for reference in store.references_of(after)] == [0, 1]


async def test_a_version_2_file_is_browsed_as_it_is(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    await _write_run(database)
    expected = _what_the_history_answers(database)
    back_to_version_2(database)
    assert _what_the_history_answers(database) == expected
    assert _version(database) == 2 and "message_references" in _tables(database)  # browsing changed nothing


@pytest.mark.parametrize(
    "hash_keys",
    [
        [],
        ["51e3ed3874e02ee9785fd2a67270c95b645db56d"],
        ["ab12", "CD34", ""],
        ['a","b'],  # looks like two keys once joined: must stay one, escaped
        ["a,b", "c"],
        ["a b"],
        ["é1", "x"],
        ['quote"', "back\\slash"],
    ],
)
def test_a_reference_list_is_a_compact_json_array_whatever_the_keys(hash_keys: list[str]) -> None:
    """Hex keys are joined directly (cheaper than the JSON encoder); anything else is encoded: the text is the JSON
    encoder's either way, and SQLite reads the keys back from it."""
    from miniagents.ext.persistence.schema import reference_list

    text = reference_list(hash_keys)
    assert text == json.dumps(hash_keys, separators=(",", ":"))
    with sqlite3.connect(":memory:") as connection:
        assert [key for (key,) in connection.execute("SELECT value FROM json_each(?)", (text,))] == hash_keys
