"""`%%miniagent` and `%miniagents` in an IPython shell: parsing, compiling a cell into an agent, runs, errors."""

import asyncio
import re
from collections import UserDict

import pytest
from IPython.core.error import UsageError
from notebook_helpers import loaded_shell, printed, run_cell, run_ok

from miniagents import ErrorMessage, MiniAgent, MiniAgents, ProducerCancelledError, miniagent
from miniagents_notebook import AgentRun, HistoryInspector, current_session
from miniagents_notebook.cell_agent import parse_magic_line


@pytest.fixture
def shell():
    with loaded_shell() as shell:
        yield shell


# --- parsing the magic line ------------------------------------------------------------------------------------------


def test_parse_name_signature_and_options() -> None:
    spec = parse_magic_line(
        'greet(name: str = "world", times: int = 2) --alias GREETER --description "Says hi" --run "hi there"'
    )
    assert spec.name == "greet"
    assert spec.parameters == 'name: str = "world", times: int = 2'
    assert spec.alias == "GREETER"
    assert spec.description == "Says hi"
    assert spec.run is True
    assert spec.run_input == '"hi there"'
    assert spec.runs_now


def test_parse_name_without_parentheses_and_bare_line() -> None:
    named = parse_magic_line("greet")
    assert (named.name, named.parameters, named.runs_now) == ("greet", "", False)
    bare = parse_magic_line("")
    assert bare.name is None
    assert bare.runs_now


def test_parse_keeps_option_text_inside_quotes_and_brackets() -> None:
    spec = parse_magic_line(
        """helper(items: tuple = ("--a", "b")) --description 'mentions --run' --run ['x', "--y"]"""
    )
    assert spec.parameters == 'items: tuple = ("--a", "b")'
    assert spec.description == "mentions --run"
    assert spec.run_input == """['x', "--y"]"""


def test_parse_run_without_input() -> None:
    spec = parse_magic_line("greet --run")
    assert spec.run is True
    assert spec.run_input is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("greet(x: int = )", "Invalid agent signature `greet(x: int =)`"),
        ("1greet", "`1greet` is not a valid agent name"),
        ("class(x)", "`class` is not a valid agent name"),
        ("greet(x", "must end with `)`"),
        ("greet(x) extra", "must end with `)`"),
        ("greet(*args)", "`*args` would always be empty"),
        ("greet(a, /, b)", "`/` cannot be used"),
        ("greet(ctx)", "`ctx` is given to every agent"),
        ("greet(a, a=1)", "parameter `a` is declared twice"),
        ("greet --bogus", "Unknown option `--bogus`"),
        ("greet --alias", "`--alias` needs a value"),
        ("greet --alias A --alias B", "`--alias` is given twice"),
        ('greet --description "open', "Unclosed quote"),
        ("--detach now", "`--detach` takes no value"),
        ("greet --detach", "`--detach` keeps a run going when the cell is interrupted: give `--run` too"),
    ],
)
def test_bad_lines_give_a_clear_usage_error(line: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_magic_line(line)
    assert message in str(caught.value)
    assert "Usage: %%miniagent NAME(" in str(caught.value)


def test_bad_signature_in_a_cell_shows_the_usage_error(shell) -> None:
    result, captured = run_cell(shell, "%%miniagent greet(x: int = )\nctx.reply('x')")
    assert not result.success
    assert "UsageError: Invalid agent signature" in printed(captured)
    assert "greet" not in shell.user_ns


# --- a cell is an agent ----------------------------------------------------------------------------------------------


def test_named_cell_defines_an_agent_bound_in_the_namespace(shell) -> None:
    run_ok(
        shell,
        '''%%miniagent greet(name: str = "world", punctuation: str = "!")
"""Greets {AGENT_ALIAS} style."""
ctx.reply(f"Hello, {name}{punctuation}")''',
    )
    agent = shell.user_ns["greet"]
    assert isinstance(agent, MiniAgent)
    assert agent.alias == "greet"
    assert agent.description == "Greets greet style."
    assert str(agent.signature) == "(name: str = 'world', punctuation: str = '!')"
    replies = run_ok(shell, "await greet.trigger(name='Ann', punctuation='?')")
    assert [str(message) for message in replies] == ["Hello, Ann?"]


def test_alias_and_description_options_override_the_defaults(shell) -> None:
    run_ok(shell, '%%miniagent echo --alias ECHO --description "Repeats its input"\n"""Docstring."""\nctx.reply("x")')
    agent = shell.user_ns["echo"]
    assert (agent.alias, agent.description) == ("ECHO", "Repeats its input")


def test_body_has_top_level_await_async_for_return_and_the_notebook_globals(shell) -> None:
    run_ok(shell, "suffix = 'before'")
    run_ok(
        shell,
        """%%miniagent collect(limit: int = 10)
import asyncio
await asyncio.sleep(0)
texts = [str(await message_promise) async for message_promise in ctx.message_promises]
if not texts:
    ctx.reply("nothing")
    return
ctx.reply(" + ".join(texts[:limit]) + " / " + suffix)""",
    )
    run_ok(shell, "suffix = 'after'")  # globals are read when the agent runs, like any function's
    assert [str(m) for m in run_ok(shell, "await collect.trigger(['a', 'b', 'c'], limit=2)")] == ["a + b / after"]
    assert [str(m) for m in run_ok(shell, "await collect.trigger()")] == ["nothing"]


def test_run_option_triggers_at_once_with_a_literal_input(shell) -> None:
    run = run_ok(
        shell,
        "%%miniagent shout(times: int = 2) --run 'hey'\n"
        "ctx.reply(str(await ctx.message_promises.as_single_text_promise()).upper() * times)",
    )
    assert isinstance(run, AgentRun)
    assert [str(message) for message in run.messages] == ["HEYHEY"]
    assert isinstance(shell.user_ns["shout"], MiniAgent)
    assert run.text == "TextMessage\nHEYHEY\n\nCalls:\nshout [done]"


def test_run_option_takes_a_variable_name(shell) -> None:
    run_ok(shell, "question = ['first', 'second']")
    run = run_ok(shell, "%%miniagent count --run question\nctx.reply(str(len(await ctx.message_promises)))")
    assert [str(message) for message in run.messages] == ["2"]


def test_run_option_with_an_unknown_variable_suggests_quoting(shell) -> None:
    result, captured = run_cell(shell, "%%miniagent count --run hello\nctx.reply('x')")
    assert not result.success
    assert "there is no variable `hello`" in printed(captured)
    assert '--run "hello"' in printed(captured)


def test_run_option_needs_defaults_for_every_parameter(shell) -> None:
    result, captured = run_cell(shell, "%%miniagent greet(name: str) --run\nctx.reply(name)")
    assert not result.success
    assert "parameter `name` has no default" in printed(captured)


def test_bare_cell_runs_as_an_anonymous_agent_and_shows_its_calls(shell) -> None:
    run_ok(shell, "%%miniagent helper\nctx.reply('from helper')")
    run = run_ok(
        shell,
        """%%miniagent
ctx.reply("first")
ctx.reply(helper.trigger())""",
    )
    assert isinstance(run, AgentRun)
    assert [str(message) for message in run.messages] == ["first", "from helper"]
    assert run.text == (
        "TextMessage\nfirst\n\nTextMessage\nfrom helper\n\nCalls:\ncell_agent [done]\n└─ helper [done]"
    )
    html = run._repr_mimebundle_()["text/html"]
    assert "<summary" in html and "<b>cell_agent</b>" in html and "<b>helper</b>" in html  # the call tree
    assert not re.search(r"\d+\.\d\d s", html)  # no timings: a deterministic run shows the same HTML every time
    assert "cell_agent" not in shell.user_ns


def test_calling_the_magic_directly_blocks_until_the_run_ends(shell) -> None:
    run = shell.run_cell_magic("miniagent", "", "import asyncio\nawait asyncio.sleep(0.01)\nctx.reply('done')")
    assert isinstance(run, AgentRun)
    assert run.is_finished
    assert [str(message) for message in run.messages] == ["done"]


def test_magic_cells_are_awaited_by_the_cell_not_by_a_nested_loop(shell) -> None:
    transformed = shell.transform_cell("%%miniagent greet --run\nctx.reply('x')\n")
    assert transformed == "await _miniagent_cell_('greet --run', \"ctx.reply('x')\\n\")\n"
    shell.autoawait = False
    try:
        assert shell.transform_cell("%%miniagent greet\nctx.reply('x')\n").startswith("get_ipython().run_cell_magic(")
    finally:
        shell.autoawait = True


# --- errors ----------------------------------------------------------------------------------------------------------


def test_error_in_a_run_shows_the_run_and_a_traceback_with_the_cell_lines(shell) -> None:
    result, captured = run_cell(
        shell,
        """%%miniagent
ctx.reply("partial")
value = 1 / 0""",
    )
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    shown = [output.data["text/plain"] for output in captured.outputs]
    assert shown == ["TextMessage\npartial\n\n!! ZeroDivisionError: division by zero\n\nCalls:\ncell_agent [error]"]
    traceback = printed(captured)
    assert f"Cell In[{result.execution_count}], line 3, in cell_agent(ctx)" in traceback
    assert "----> 3 value = 1 / 0" in traceback
    assert "1 %%miniagent" in traceback


def test_error_in_an_agent_triggered_later_points_at_the_defining_cell(shell) -> None:
    definition, _ = run_cell(shell, "%%miniagent failing(x: int = 1)\ny = x + 1\nz = y / 0")
    result, captured = run_cell(shell, "await failing.trigger()")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    traceback = printed(captured)
    assert f"Cell In[{definition.execution_count}], line 3, in failing(ctx, x)" in traceback
    assert "      2 y = x + 1\n----> 3 z = y / 0" in traceback


def test_without_ipythons_filename_map_tracebacks_still_show_the_cell_lines(shell, monkeypatch) -> None:
    # the one private attribute the magic touches (see `_label_frames_as_cell`): when it is not the dict it expects
    # (another IPython), the magic leaves it alone
    monkeypatch.setattr(shell.compile, "_filename_map", UserDict(shell.compile._filename_map))
    run_cell(shell, "%%miniagent failing(x: int = 1)\ny = x + 1\nz = y / 0")
    result, captured = run_cell(shell, "await failing.trigger()")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    traceback = printed(captured)
    assert re.search(r"<ipython-input-\d+-[0-9a-f]{12}>:3, in failing\(ctx, x\)", traceback), traceback
    assert "      2 y = x + 1\n----> 3 z = y / 0" in traceback


def test_syntax_error_in_the_body_points_at_the_cell_line(shell) -> None:
    result, captured = run_cell(shell, "%%miniagent broken\nctx.reply('fine')\nreturn return")
    assert isinstance(result.error_in_exec, SyntaxError)
    assert result.error_in_exec.lineno == 3
    assert "return return" in printed(captured)


def test_yield_in_the_body_is_refused(shell) -> None:
    result, captured = run_cell(shell, "%%miniagent generator\nyield 'x'")
    assert not result.success
    assert "uses `yield`; agents reply with `ctx.reply(...)`" in printed(captured)


def test_failing_signature_evaluation_is_a_usage_error(shell) -> None:
    result, captured = run_cell(shell, "%%miniagent typed(x: UndefinedType = 1)\nctx.reply('x')")
    assert not result.success
    assert "Evaluating the signature of `typed` failed: NameError" in printed(captured)


# --- %miniagents -----------------------------------------------------------------------------------------------------


def test_line_magic_shows_the_session(shell) -> None:
    session = run_ok(shell, "%miniagents")
    assert session is current_session()
    assert session._repr_mimebundle_()["text/plain"] == (
        "MiniAgents notebook session (active)\n"
        "  errors_as_messages: False\n"
        "  stream_llm_tokens_by_default: True\n"
        "  llm_logger_agent: False\n"
        "  llm_logs_folder: 'llm_logs'\n"
        "  history_limit: 10000\n"
        "  background tasks: 0"
    )


def test_line_magic_changes_settings(shell) -> None:
    run_ok(shell, "%%miniagent logger\nctx.reply('logged')")
    run_ok(shell, "%miniagents errors_as_messages=True stream_llm_tokens_by_default=false llm_logger_agent=logger")
    mini_agents = MiniAgents.get_current()
    assert mini_agents.errors_as_messages is True
    assert mini_agents.stream_llm_tokens_by_default is False
    assert mini_agents.llm_logger_agent is shell.user_ns["logger"]
    run = run_ok(shell, "%%miniagent\nraise ValueError('as a message')")
    assert isinstance(run.messages[0], ErrorMessage)
    assert run.error is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("errors_as_messages=maybe", "`maybe` is neither True/False"),
        ("errors_as_messages=1", "`errors_as_messages` must be True or False"),
        ("llm_logger_agent=42", "`llm_logger_agent` must be True, False or a MiniAgent"),
        ("colour=True", "Unknown setting `colour`"),
        ("history_limit=0", "`history_limit` must be a positive whole number of calls, or None"),
        ("history_limit=True", "`history_limit` must be a positive whole number of calls, or None"),
        ("history_limit=lots", "`lots` is neither True/False nor a value the setting accepts"),
        ("verbose", "`verbose` is not a setting"),
    ],
)
def test_line_magic_rejects_bad_settings(shell, line: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("miniagents", line)
    assert message in str(caught.value)


def test_reset_cancels_the_old_session_and_opens_a_new_one_with_the_same_settings(shell) -> None:
    run_ok(shell, "%miniagents stream_llm_tokens_by_default=False")
    run_ok(shell, "import asyncio\nstarted = asyncio.Event()")
    run_ok(shell, "%%miniagent hanging\nctx.reply('started')\nstarted.set()\nawait asyncio.Event().wait()")
    run_ok(shell, "replies = hanging.trigger()\nawait started.wait()")
    old = MiniAgents.get_current()
    run_ok(shell, "%miniagents reset")
    new = MiniAgents.get_current()
    assert new is not old
    assert new.stream_llm_tokens_by_default is False
    assert not old.child_tasks
    result, _ = run_cell(shell, "await replies")
    assert isinstance(result.error_in_exec, ProducerCancelledError)
    assert [str(message) for message in run_ok(shell, "%%miniagent\nctx.reply('fresh')").messages] == ["fresh"]


# --- the calls of a run and the session's history -------------------------------------------------------------------


async def test_a_run_traces_its_call_and_the_calls_under_it_only() -> None:
    async with MiniAgents():

        @miniagent
        async def leaf(ctx) -> None:
            ctx.reply("leaf")

        @miniagent
        async def root(ctx) -> None:
            ctx.reply(leaf.trigger())

        outsider_replies = leaf.trigger()  # made before the run: never part of it
        run = AgentRun(root, live=False)
        unrelated = leaf.trigger()  # made outside the run's call tree
        await run.wait()
        await outsider_replies
        await unrelated
    assert run.trace.to_text() == "root [done]\n└─ leaf [done]"
    assert run.trace.is_settled
    assert run.text.endswith("Calls:\nroot [done]\n└─ leaf [done]")


async def test_a_run_ends_without_waiting_for_calls_that_never_start() -> None:
    async with MiniAgents():

        @miniagent
        async def lazy(ctx) -> None:
            ctx.reply("nobody asks")

        @miniagent
        async def root(ctx) -> None:
            lazy.trigger(start_soon=False)
            ctx.reply("root is done")

        run = await asyncio.wait_for(AgentRun(root, live=False).wait(), 5)
    assert run.text == "TextMessage\nroot is done\n\nCalls:\nroot [done]\n└─ lazy [waiting]"


def test_the_session_keeps_the_history_of_every_call_for_the_inspector(shell) -> None:
    run_ok(shell, "%%miniagent helper(number: int = 0)\nctx.reply(f'helper {number}')")
    run_ok(shell, "%%miniagent\nctx.reply(helper.trigger(number=1))\nctx.reply(helper.trigger(number=2))")
    run_ok(shell, "await helper.trigger(number=3)")
    run_ok(
        shell, "from miniagents_notebook import current_session\nawait current_session().mini_agents.aflush_tasks()"
    )
    inspector = run_ok(shell, "%miniagents history")
    assert isinstance(inspector, HistoryInspector)
    assert inspector.to_text() == "History: 4 recorded calls (cell_agent: 1, helper: 3)"
    assert [call["kwargs"] for call in inspector.calls if call["alias"] == "helper"] == [
        "number=1",
        "number=2",
        "number=3",
    ]
    assert current_session().inspector().total == 4
    run_ok(shell, "%miniagents reset")
    assert run_ok(shell, "%miniagents history").total == 0  # a reset starts a new history with the new session
