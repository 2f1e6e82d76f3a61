"""The notebook layer in a real kernel: one notebook, executed once by nbclient, checked cell by cell."""

import pytest
from notebook_helpers import EXTENSION, ExecutedNotebook, assert_kernel_is_ours, strip_ansi

from miniagents_notebook.stream_view import WIDGET_VIEW_MIMETYPE

CELLS = [
    ("executable", "import sys\nprint(sys.executable)"),
    ("load", f"%load_ext {EXTENSION}\nfrom miniagents_notebook import current_session"),
    (
        "define",
        '%%miniagent greet(name: str = "world")\n"""Greets someone."""\nctx.reply(f"Hello, {name}!")',
    ),
    ("show agent", "greet"),
    ("trigger", "print([str(message) for message in await greet.trigger(name='Ann')])"),
    (
        "bare",
        "%%miniagent\nimport asyncio\nawait asyncio.sleep(0.05)\nctx.reply('from the cell')\n"
        "ctx.reply(greet.trigger(name='inner'))",
    ),
    ("bare result", "print(_.messages[1], type(_).__name__)"),
    (
        "run",
        "from miniagents import MiniAgents\nprint([str(m) for m in MiniAgents().run_agent(greet, name='nested')])",
    ),
    (
        "background",
        "import asyncio\nfrom miniagents import TextMessage, miniagent\nfrom miniagents_notebook import stream\n"
        "release = asyncio.Event()\n"
        "@miniagent\n"
        "async def slow(ctx):\n"
        "    async def tokens(metadata):\n"
        "        yield 'first '\n"
        "        await release.wait()\n"
        "        for index in range(3):\n"
        "            yield f'more{index} '\n"
        "    ctx.reply(TextMessage.promise(message_token_streamer=tokens))\n"
        "view = stream(slow.trigger())\n"
        "view",
    ),
    (
        "background later",
        "print(view.is_finished, repr(view.text))\n"
        "release.set()\n"
        "await view\n"
        "print(view.is_finished, repr(view.text))",
    ),
    ("define failing", "%%miniagent failing(x: int = 1)\ny = x + 1\nz = y / 0"),
    ("trigger failing", "await failing.trigger()"),
    ("bare failing", "%%miniagent\nctx.reply('before the error')\nraise ValueError('inside the cell')"),
    ("session", "%miniagents"),
    ("history", "await current_session().mini_agents.aflush_tasks()\n%miniagents history"),
]


@pytest.fixture(scope="module")
def notebook() -> ExecutedNotebook:
    return ExecutedNotebook(CELLS)


def test_the_kernel_runs_the_venv_interpreter(notebook) -> None:
    notebook.assert_no_errors("executable", "load")
    assert_kernel_is_ours(notebook, "executable")


def test_magic_defines_an_agent_that_another_cell_triggers(notebook) -> None:
    notebook.assert_no_errors("define", "show agent", "trigger")
    assert notebook.data_outputs("define") == []
    (agent,) = notebook.data_outputs("show agent")
    assert agent["text/plain"] == "MiniAgent greet(name: str = 'world')\nGreets someone."
    assert notebook.stdout("trigger") == "['Hello, Ann!']\n"


def test_bare_cell_streams_live_then_leaves_the_static_run(notebook) -> None:
    notebook.assert_no_errors("bare", "bare result")
    live, result = notebook.data_outputs("bare")
    assert live == {}  # the live widget output, emptied when the run ended
    assert result["text/plain"] == (
        "TextMessage\nfrom the cell\n\nTextMessage\nHello, inner!\n\nCalls:\ncell_agent [done]\n└─ greet [done]"
    )
    assert "<details" in result["text/html"] and "Hello, inner!" in result["text/html"]
    assert notebook.stdout("bare result") == "Hello, inner! AgentRun\n"
    # while the run went on, the front end got the live widgets and their final state
    states = [
        message["content"]["data"].get("state", {})
        for index, message in notebook.client.comm_messages
        if index == notebook.index("bare")
    ]
    assert any("Hello, inner!" in state["value"] for state in states if "value" in state)  # the stream view
    trees = [[(row["alias"], row["status"]) for row in state["tree"]["rows"]] for state in states if state.get("tree")]
    assert trees[-1] == [("cell_agent", "done"), ("greet", "done")]  # the call tree, in its final state


def test_run_works_inside_the_kernels_running_loop(notebook) -> None:
    notebook.assert_no_errors("run")
    assert notebook.stdout("run") == "['Hello, nested!']\n"


def test_background_agent_keeps_streaming_into_its_view_after_the_cell_finished(notebook) -> None:
    notebook.assert_no_errors("background", "background later")
    (shown,) = notebook.data_outputs("background")
    # live when its cell ended; when the stream ended (during a later cell) its final static copy replaced it
    assert WIDGET_VIEW_MIMETYPE not in shown
    assert shown["text/plain"] == "TextMessage\nfirst more0 more1 more2 "
    assert notebook.stdout("background later").splitlines() == [
        "False 'TextMessage (streaming…)\\nfirst '",
        "True 'TextMessage\\nfirst more0 more1 more2 '",
    ]


def test_error_in_a_magic_agent_shows_the_cell_lines(notebook) -> None:
    notebook.assert_no_errors("define failing")
    error = notebook.error("trigger failing")
    assert error is not None and error.ename == "ZeroDivisionError"
    traceback = strip_ansi("\n".join(error.traceback))
    defining_cell = notebook.cell("define failing").execution_count
    assert f"Cell In[{defining_cell}], line 3, in failing(ctx, x)" in traceback
    assert "      2 y = x + 1\n----> 3 z = y / 0" in traceback


def test_error_in_a_bare_cell_shows_the_run_and_the_traceback(notebook) -> None:
    error = notebook.error("bare failing")
    assert error is not None and (error.ename, error.evalue) == ("ValueError", "inside the cell")
    traceback = strip_ansi("\n".join(error.traceback))
    assert f"Cell In[{notebook.cell('bare failing').execution_count}], line 3, in cell_agent(ctx)" in traceback
    assert "----> 3 raise ValueError('inside the cell')" in traceback
    live, run = notebook.data_outputs("bare failing")
    assert live == {}
    assert run["text/plain"].startswith("TextMessage\nbefore the error\n\n!! ValueError: inside the cell")


def test_line_magic_shows_the_session_and_its_history(notebook) -> None:
    notebook.assert_no_errors("session", "history")
    (session,) = notebook.data_outputs("session")
    assert session["text/plain"].startswith("MiniAgents notebook session (active)\n  errors_as_messages: False")
    (history,) = notebook.data_outputs("history")
    # the session's calls only: `MiniAgents().run_agent(...)` ran in a context of its own
    assert history["text/plain"] == "History: 6 recorded calls (greet: 2, cell_agent: 2, slow: 1, failing: 1)"
    assert WIDGET_VIEW_MIMETYPE in history and "Hello, inner!" in history["text/html"]
