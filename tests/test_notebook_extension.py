"""`%load_ext miniagents_notebook` / `%unload_ext`: what loading sets up, and that unloading restores everything."""

import asyncio
import contextvars
import subprocess
import sys
import textwrap

import pytest
from notebook_helpers import (
    EXTENSION,
    ExecutedNotebook,
    assert_kernel_is_ours,
    get_shell,
    loaded_shell,
    run_cell,
    run_ok,
)

from miniagents import AgentCallNode, Message, MessagePromise, MiniAgent, MiniAgents, ProducerCancelledError
from miniagents.promising.context import PromisingContext
from miniagents.promising.runner import blocking_runner
from miniagents_notebook import current_session
from miniagents_notebook.magics import CELL_HOOK_NAME

DISPLAYED_TYPES = (Message, MiniAgent, AgentCallNode)


def _formatter_for(shell, cls):
    formatter = shell.display_formatter.mimebundle_formatter
    try:
        return formatter.lookup_by_type(cls)
    except KeyError:
        return None


def test_load_opens_a_notebook_wide_session_and_registers_everything() -> None:
    with loaded_shell() as shell:
        session = current_session().mini_agents
        assert MiniAgents.get_current() is session
        # the session is the fallback of every task and context, not of the loading one only
        assert contextvars.Context().run(MiniAgents.get_current) is session
        assert all(_formatter_for(shell, cls) is not None for cls in DISPLAYED_TYPES)
        assert shell.display_formatter.ipython_display_formatter.lookup_by_type(MessagePromise) is not None
        assert "miniagent" in shell.magics_manager.magics["cell"]
        assert "miniagents" in shell.magics_manager.magics["line"]
        assert CELL_HOOK_NAME in shell.user_ns_hidden
        run_ok(shell, "from miniagents import miniagent\n@miniagent\nasync def echo(ctx):\n    ctx.reply('echo')")
        assert [str(message) for message in run_ok(shell, "await echo.trigger()")] == ["echo"]


def test_agents_triggered_in_a_cell_without_await_run_on_the_loop_of_await_cells() -> None:
    with loaded_shell() as shell:
        run_ok(shell, "%%miniagent echo\nctx.reply('echo')")
        run_ok(shell, "replies = echo.trigger()")
        assert [str(message) for message in run_ok(shell, "await replies")] == ["echo"]


def test_unload_finalizes_the_session_and_restores_ipython() -> None:
    shell = get_shell()
    original_run = PromisingContext.run
    assert blocking_runner() is None
    transformers_before = list(shell.input_transformers_cleanup)
    with loaded_shell() as shell:
        session = current_session().mini_agents
        run_ok(shell, "import asyncio\nstarted = asyncio.Event()")
        run_ok(shell, "%%miniagent hanging\nctx.reply('started')\nstarted.set()\nawait asyncio.Event().wait()")
        run_ok(shell, "replies = hanging.trigger()\nawait started.wait()")
        assert session.child_tasks
        assert blocking_runner() is not None  # the engine's hook, not a patch: `run` stays the engine's own
        assert PromisingContext.run is original_run
    assert not session.child_tasks  # the hanging agent was cancelled, not waited for
    assert MiniAgents.get_current_or_none() is None
    assert all(_formatter_for(shell, cls) is None for cls in DISPLAYED_TYPES)
    with pytest.raises(KeyError):
        shell.display_formatter.ipython_display_formatter.lookup_by_type(MessagePromise)
    assert "miniagent" not in shell.magics_manager.magics["cell"]
    assert "miniagents" not in shell.magics_manager.magics["line"]
    assert CELL_HOOK_NAME not in shell.user_ns
    assert shell.input_transformers_cleanup == transformers_before
    assert blocking_runner() is None
    assert PromisingContext.run is original_run
    result, _ = run_cell(shell, "await replies")
    assert isinstance(result.error_in_exec, ProducerCancelledError)


def test_reload_opens_a_fresh_session() -> None:
    with loaded_shell() as shell:
        first = current_session().mini_agents
        shell.run_line_magic("reload_ext", EXTENSION)
        assert current_session().mini_agents is not first
        assert MiniAgents.get_current() is current_session().mini_agents


def test_run_outside_a_running_loop_needs_no_patch() -> None:
    original_task = asyncio.Task
    with loaded_shell() as shell:
        run_ok(shell, "%%miniagent echo\nctx.reply('echo')")
        replies = run_ok(shell, "from miniagents import MiniAgents\nMiniAgents().run_agent(echo)")
        assert [str(message) for message in replies] == ["echo"]
        assert asyncio.Task is original_task


def test_run_inside_a_running_loop_applies_nest_asyncio_and_unload_undoes_it() -> None:
    original = {
        "Task": asyncio.Task,
        "Future": asyncio.Future,
        "run": asyncio.run,
        "get_event_loop": asyncio.get_event_loop,
        "CTask": asyncio.tasks._CTask,
    }
    with loaded_shell() as shell:
        run_ok(shell, "%%miniagent echo\nctx.reply('echo')")
        # an `await` cell runs inside IPython's event loop: there, run() has to nest
        replies = run_ok(
            shell,
            "import asyncio\nawait asyncio.sleep(0)\nloop_class = type(asyncio.get_running_loop())\n"
            "from miniagents import MiniAgents\nMiniAgents().run_agent(echo)",
        )
        assert [str(message) for message in replies] == ["echo"]
        assert asyncio.Task is asyncio.tasks._PyTask
        loop_class = shell.user_ns["loop_class"]
        assert "run_until_complete" in vars(loop_class)
    assert asyncio.Task is original["Task"]
    assert asyncio.Future is original["Future"]
    assert asyncio.run is original["run"]
    assert asyncio.get_event_loop is original["get_event_loop"]
    assert asyncio.tasks._CTask is original["CTask"]
    assert not hasattr(asyncio, "_nest_patched")
    assert "run_until_complete" not in vars(loop_class)
    assert "_nest_patched" not in vars(loop_class)


@pytest.mark.parametrize(
    "first_blocking_call",
    [
        "len(chain_loop([echo, AWAIT], initial_input='hi', max_turns=1))",
        "len(dialog_loop(echo, echo, initial_input='hi', max_turns=1))",
        "len(MiniAgents().run_agent(echo))",
    ],
    ids=["chain_loop", "dialog_loop", "run_agent"],
)
def test_every_blocking_call_works_inside_a_running_loop_as_the_first_one(first_blocking_call: str) -> None:
    with loaded_shell() as shell:
        run_ok(shell, "%%miniagent echo\nctx.reply('echo')")
        result = run_ok(
            shell,
            "import asyncio\nfrom miniagents import MiniAgents\nfrom miniagents.utils import AWAIT, chain_loop, "
            f"dialog_loop\nawait asyncio.sleep(0)\n{first_blocking_call}",
        )
        assert result == 1


def test_run_inside_a_running_loop_without_nest_asyncio_says_what_to_do(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "nest_asyncio", None)
    with loaded_shell() as shell:
        run_ok(shell, "%%miniagent echo\nctx.reply('echo')")
        result, _ = run_cell(shell, "import asyncio\nawait asyncio.sleep(0)\nMiniAgents().run_agent(echo)")
        assert isinstance(result.error_in_exec, RuntimeError)
        assert "needs nest-asyncio: `pip install nest-asyncio`" in str(result.error_in_exec)


def test_outside_a_kernel_displays_fall_back_to_text_and_html() -> None:
    with loaded_shell() as shell:
        _, captured = run_cell(
            shell,
            "from miniagents import TextMessage\nmessage = TextMessage('**hi**', role='user')\n"
            "display(message)\ndisplay(message.as_promise)",
        )
        assert [output.data["text/plain"] for output in captured.outputs] == [
            "TextMessage role='user'\n**hi**",
            "TextMessage role='user'\n**hi**",
        ]
        assert all("application/vnd.jupyter.widget-view+json" not in output.data for output in captured.outputs)
        assert "<strong>hi</strong>" in captured.outputs[0].data["text/html"]


def test_miniagents_imports_without_ipython() -> None:
    script = textwrap.dedent(
        """
        import importlib.abc, sys
        BLOCKED = {"IPython", "ipywidgets", "ipykernel", "nest_asyncio", "anywidget"}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{name} is not installed")
        sys.meta_path.insert(0, Block())
        from miniagents import MiniAgents, miniagent
        import miniagents.miniagents, miniagents.messages, miniagents.promising.promising

        @miniagent
        async def echo(ctx):
            ctx.reply("works")

        print([str(message) for message in MiniAgents().run_agent(echo)])
        print(sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED))
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["['works']", "[]"]


def test_extension_loads_from_ipython_config_in_a_kernel(tmp_path) -> None:
    profile = tmp_path / "profile_default"
    profile.mkdir()
    (profile / "ipython_config.py").write_text(f'c.InteractiveShellApp.extensions = ["{EXTENSION}"]\n')
    notebook = ExecutedNotebook(
        [
            ("executable", "import sys\nprint(sys.executable)"),
            ("trigger", "%%miniagent echo\nctx.reply('configured')"),
            ("await", "print([str(message) for message in await echo.trigger()])"),
            ("unload", f"%unload_ext {EXTENSION}"),
            (
                "after",
                "from miniagents import MiniAgents\nimport asyncio\nawait asyncio.sleep(0)\n"
                "print(MiniAgents.get_current_or_none(), 'miniagent' in get_ipython().magics_manager.magics['cell'])",
            ),
        ],
        env={"IPYTHONDIR": str(tmp_path)},
    )
    notebook.assert_no_errors("executable", "trigger", "await", "unload", "after")
    assert_kernel_is_ours(notebook, "executable")
    assert notebook.stdout("await") == "['configured']\n"
    assert notebook.stdout("after") == "None False\n"
