"""The blocking-runner hook: every blocking call (`run`, `run_agent`, the loops, the notebook) goes through it."""

import asyncio
import concurrent.futures
import gc
import warnings
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest
from notebook_helpers import EXTENSION, ExecutedNotebook, assert_kernel_is_ours

from miniagents import InteractionContext, MiniAgents, miniagent
from miniagents.promising import runner
from miniagents.promising.context import PromisingContext
from miniagents.promising.runner import blocking_runner, install_blocking_runner, run_blocking
from miniagents.promising.sentinels import AWAIT
from miniagents.utils import chain_loop, dialog_loop


@miniagent
async def echo(ctx: InteractionContext) -> None:
    ctx.reply(f"echo: {await ctx.message_promises.as_single_text_promise()}")


async def forty_two() -> int:
    await asyncio.sleep(0)
    return 42


class RecordingRunner:
    """A blocking runner that runs the awaitable in a loop of its own (in another thread) and remembers each call."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, awaitable: Awaitable[Any]) -> Any:
        self.calls += 1

        async def await_it() -> Any:
            return await awaitable

        with concurrent.futures.ThreadPoolExecutor(1) as executor:
            return executor.submit(asyncio.runners.run, await_it()).result()


@pytest.fixture
def recording_runner() -> Iterator[RecordingRunner]:
    recorder = RecordingRunner()
    uninstall = install_blocking_runner(recorder)
    try:
        yield recorder
    finally:
        uninstall()


# --- without a running loop: a new event loop ------------------------------------------------------------------------


def test_without_a_running_loop_a_coroutine_or_an_async_function_runs_in_a_new_loop() -> None:
    assert run_blocking(forty_two()) == 42
    assert run_blocking(forty_two) == 42
    assert [str(message) for message in MiniAgents().run_agent(echo, "hi")] == ["echo: hi"]


def test_without_a_running_loop_the_installed_runner_is_not_asked(recording_runner: RecordingRunner) -> None:
    assert MiniAgents().run(forty_two()) == 42
    assert recording_runner.calls == 0


# --- inside a running loop -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocking_call", "message"),
    [
        (
            lambda: MiniAgents().run(forty_two()),
            r"`MiniAgents\.run\(\)` .* use `await MiniAgents\(\)\.arun\(\.\.\.\)`",
        ),
        (lambda: PromisingContext().run(forty_two()), r"`PromisingContext\.run\(\)`"),
        (lambda: MiniAgents().run_agent(echo), r"`MiniAgents\.run_agent\(\)` .* `await MiniAgents\(\)\.arun_agent"),
        (lambda: chain_loop([echo, AWAIT], max_turns=1), r"`chain_loop\(\)` .* use `await achain_loop\(\.\.\.\)`"),
        (lambda: dialog_loop(echo, echo, max_turns=1), r"`dialog_loop\(\)` .* use `await adialog_loop\(\.\.\.\)`"),
        (
            lambda: run_blocking(forty_two()),
            r"`run_blocking\(\)` .* use `await` there instead .*`%load_ext miniagents_notebook`",
        ),
    ],
    ids=["run", "context run", "run_agent", "chain_loop", "dialog_loop", "run_blocking"],
)
async def test_without_a_runner_every_blocking_call_refuses_alike_and_leaves_nothing_unawaited(
    blocking_call: Any, message: str
) -> None:
    assert blocking_runner() is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match=message):
            blocking_call()
        gc.collect()
    never_awaited = [str(warning.message) for warning in caught if "never awaited" in str(warning.message)]
    assert never_awaited in ([], ["coroutine 'forty_two' was never awaited"])  # the caller's own coroutine only


@pytest.mark.parametrize(
    "blocking_call",
    [
        lambda: MiniAgents().run(forty_two()),
        lambda: [str(message) for message in MiniAgents().run_agent(echo, "hi")],
        lambda: len(chain_loop([echo, AWAIT], initial_input="hi", max_turns=2)),
        lambda: len(dialog_loop(echo, echo, initial_input="hi", max_turns=1)),
        lambda: run_blocking(forty_two),
    ],
    ids=["run", "run_agent", "chain_loop", "dialog_loop", "run_blocking"],
)
async def test_inside_a_running_loop_every_blocking_call_uses_the_installed_runner(
    recording_runner: RecordingRunner, blocking_call: Any
) -> None:
    assert blocking_call() in (42, ["echo: hi"], 1)
    assert recording_runner.calls == 1


async def test_the_latest_runner_wins_and_uninstalling_restores_the_previous_one() -> None:
    first, second = RecordingRunner(), RecordingRunner()
    uninstall_first = install_blocking_runner(first)
    uninstall_second = install_blocking_runner(second)
    try:
        assert blocking_runner() is second
        assert run_blocking(forty_two) == 42
        uninstall_second()
        assert blocking_runner() is first
        assert run_blocking(forty_two) == 42
        uninstall_second()  # a second call does nothing
        assert blocking_runner() is first
    finally:
        uninstall_first()
    assert blocking_runner() is None
    assert (first.calls, second.calls) == (1, 1)


async def test_a_loop_made_reentrant_by_nest_asyncio_itself_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """Notebooks that call `nest_asyncio.apply()` themselves (without the extension) keep working as before."""
    nesting_run = RecordingRunner()  # stands in for nest-asyncio's `asyncio.run`
    monkeypatch.setattr(asyncio, "run", nesting_run)

    assert MiniAgents().run(forty_two()) == 42
    assert nesting_run.calls == 1


def test_the_module_documents_its_public_names() -> None:
    assert runner.__all__ == ["BlockingRunner", "blocking_runner", "install_blocking_runner", "run_blocking"]
    assert all(
        getattr(runner, name).__doc__ for name in ("blocking_runner", "install_blocking_runner", "run_blocking")
    )


# --- in a real kernel, with the extension loaded ---------------------------------------------------------------------

AGENTS_CELL = (
    "from miniagents import MiniAgents, miniagent\n"
    "from miniagents.utils import AWAIT, chain_loop, dialog_loop\n"
    "@miniagent\n"
    "async def shout(ctx):\n"
    "    for message in await ctx.message_promises:\n"
    "        ctx.reply(str(message).upper() + '!')\n"
    "async def forty_two():\n"
    "    return 42"
)

FIRST_BLOCKING_CALLS = {
    "chain_loop": (
        "print([str(m) for m in chain_loop([shout, AWAIT, shout, AWAIT], initial_input='hi', max_turns=1)])",
        "['HI!!']\n",
    ),
    "dialog_loop": (
        "print([str(m) for m in dialog_loop(shout, shout, initial_input='hi', max_turns=1)])",
        "['HI!!']\n",
    ),
    "run": ("print(MiniAgents().run(forty_two()))", "42\n"),
    "run_agent": ("print([str(m) for m in MiniAgents().run_agent(shout, 'hi')])", "['HI!']\n"),
}


@pytest.mark.parametrize("call", list(FIRST_BLOCKING_CALLS))
def test_in_a_fresh_kernel_with_the_extension_any_blocking_call_works_first(call: str) -> None:
    """The issue's bug: `chain_loop()` used to refuse until some `MiniAgents().run()` had applied nest-asyncio."""
    code, expected = FIRST_BLOCKING_CALLS[call]
    notebook = ExecutedNotebook(
        [
            ("executable", "import sys\nprint(sys.executable)"),
            ("load", f"%load_ext {EXTENSION}"),
            ("agents", AGENTS_CELL),
            ("first blocking call", code),
            ("again", code),
            ("unload", f"%unload_ext {EXTENSION}"),
            (
                "after unload",
                "from miniagents.promising.runner import blocking_runner\nimport asyncio\n"
                "print(blocking_runner(), asyncio.run is asyncio.runners.run)",
            ),
        ]
    )

    notebook.assert_no_errors("executable", "load", "agents", "first blocking call", "again", "unload", "after unload")
    assert_kernel_is_ours(notebook, "executable")
    assert notebook.stdout("first blocking call") == expected
    assert notebook.stdout("again") == expected
    assert notebook.stdout("after unload") == "None True\n"
