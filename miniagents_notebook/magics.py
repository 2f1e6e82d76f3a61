"""The `%%miniagent` cell magic and the `%miniagents` line magic.

A cell magic is a plain function, but running an agent means awaiting it. So that a `%%miniagent` cell that runs
its agent is awaited like any cell with top-level `await` — the kernel's event loop stays free, the live view keeps
updating, no nested event loop is needed — an input transformer rewrites such cells into
`await _miniagent_cell_(line, body)` before IPython compiles them. Calling the magic directly
(`get_ipython().run_cell_magic("miniagent", ...)`) still works: it blocks until the run ends.
"""

import ast
import re
import shlex
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from miniagents import MiniAgent
from miniagents_notebook.agent_run import AgentRun
from miniagents_notebook.cell_agent import CellAgentSpec, compile_cell_agent, parse_magic_line, resolve_run_input
from miniagents_notebook.cell_errors import detached
from miniagents_notebook.event_loop import run_blocking
from miniagents_notebook.inspector import HistoryInspector
from miniagents_notebook.session import SETTINGS, NotebookSession

__all__ = ["CELL_HOOK_NAME", "MiniAgentsMagics", "register_magics"]

CELL_HOOK_NAME = "_miniagent_cell_"
"""The (hidden) name under which transformed `%%miniagent` cells find the coroutine that runs them."""

_CELL_MAGIC_LINE = re.compile(r"%%miniagent(\s|$)")
_BOOLEAN_WORDS = {"true": True, "false": False}


@magics_class
class MiniAgentsMagics(Magics):
    """`%%miniagent` (a cell is an agent) and `%miniagents` (the notebook-wide session)."""

    def __init__(self, shell: InteractiveShell, session: NotebookSession) -> None:
        super().__init__(shell)
        self.session = session

    # --- %%miniagent -----------------------------------------------------------------------------------------------

    @cell_magic
    def miniagent(self, line: str, cell: str) -> AgentRun | None:
        """Turn the cell into an agent; run it if the cell is bare or has `--run`.

            %%miniagent NAME(param: type = default, ...) [--alias ALIAS] [--description TEXT]
                        [--run [INPUT]] [--detach]

        The body is the agent function's body: `ctx` and the parameters are in scope, top-level `await`,
        `async for`, `ctx.reply(...)` and `return` work, and the notebook's variables are its globals. A leading
        string literal is the agent's description. `NAME` is bound to the new `MiniAgent`.

        `--run INPUT` also triggers it at once, with INPUT (a Python literal, or the name of a variable) as its
        input. A bare `%%miniagent` runs the cell as an anonymous agent right away. A run shows its replies
        streaming and, collapsed below them, the calls it made; the cell ends when the run does and its result is
        the `AgentRun` (`.messages`, `.replies`, `.error`). Interrupting the cell cancels the run and the calls it
        made, unless `--detach` is given: the run then goes on (`miniagents_notebook.detached`).
        """
        agent, spec, run_input = self._define(line, cell)
        if not spec.runs_now:
            return None
        return run_blocking(self._arun(agent, run_input, spec.detach))

    async def arun_cell(self, line: str, cell: str) -> AgentRun | None:
        """What a transformed `%%miniagent` cell awaits: the same as the magic, without blocking the event loop."""
        __tracebackhide__ = True
        agent, spec, run_input = self._define(line, cell)
        if not spec.runs_now:
            return None
        return await self._arun(agent, run_input, spec.detach)

    def _define(self, line: str, cell: str) -> tuple[MiniAgent, CellAgentSpec, Any]:
        spec = parse_magic_line(line)
        run_input = resolve_run_input(self.shell, spec) if spec.runs_now else None
        try:
            agent = compile_cell_agent(self.shell, spec, cell)
        except SyntaxError as error:
            raise error.with_traceback(None) from None  # the cell's own line says it all; our frames would distract
        return agent, spec, run_input

    async def _arun(self, agent: MiniAgent, run_input: Any, detach: bool) -> AgentRun:
        __tracebackhide__ = True
        with detached() if detach else nullcontext():
            run = AgentRun(agent, run_input)
        run.show_live()
        await run.wait()
        if run.error is not None:
            display(run)
            raise run.error
        return run

    # --- %miniagents -----------------------------------------------------------------------------------------------

    @line_magic
    def miniagents(self, line: str) -> NotebookSession | HistoryInspector:
        """Show the notebook-wide MiniAgents session, change its settings, reset it, or browse its history.

        %miniagents                                   show the session and its settings
        %miniagents errors_as_messages=True           change settings; also stream_llm_tokens_by_default,
                                                      llm_logger_agent (True, False or an agent variable),
                                                      llm_logs_folder and history_limit (how many calls the
                                                      history keeps, 10000 by default; None keeps all)
        %miniagents reset [setting=value ...]         cancel what the session still runs and open a new one
        %miniagents history                           browse the records of every call the session made
        """
        words = _split_words(line)
        if words == ["history"]:
            return self.session.inspector()
        reset = bool(words) and words[0] == "reset"
        settings = dict(self._parse_setting(word) for word in words[1 if reset else 0 :])
        try:
            self.session.configure(**settings)
        except ValueError as error:
            raise UsageError(str(error)) from None
        if reset:
            self.session.reset()
        return self.session

    def _parse_setting(self, word: str) -> tuple[str, Any]:
        name, equals, raw = word.partition("=")
        if not equals:
            raise UsageError(
                f"`{word}` is not a setting: write `name=value` (settings: {', '.join(SETTINGS)}), `reset` or "
                "`history`."
            )
        if name == "llm_logs_folder":
            return name, raw
        if raw.lower() in _BOOLEAN_WORDS:
            return name, _BOOLEAN_WORDS[raw.lower()]
        if name == "llm_logger_agent" and raw.isidentifier() and raw in self.shell.user_ns:
            return name, self.shell.user_ns[raw]
        try:
            return name, ast.literal_eval(raw)
        except (SyntaxError, ValueError):
            raise UsageError(f"`{word}`: `{raw}` is neither True/False nor a value the setting accepts.") from None


def _split_words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as error:
        raise UsageError(f"Cannot read `%miniagents {line}`: {error}.") from None


def register_magics(shell: InteractiveShell, magics: MiniAgentsMagics) -> Callable[[], None]:
    """Register the magics, the cell transformer and its hook; returns the function that removes them again."""
    previous = {
        kind: shell.magics_manager.magics[kind].get(name)
        for kind, name in (("cell", "miniagent"), ("line", "miniagents"))
    }
    shell.register_magics(magics)
    hook = magics.arun_cell
    shell.push({CELL_HOOK_NAME: hook}, interactive=False)

    def transform(lines: list[str]) -> list[str]:
        """`%%miniagent` cells become `await _miniagent_cell_(line, body)` (unless autoawait is off)."""
        if not lines or not _CELL_MAGIC_LINE.match(lines[0]) or not shell.autoawait:
            return lines
        line = lines[0][2:].rstrip().partition(" ")[2]
        return [f"await {CELL_HOOK_NAME}({line!r}, {''.join(lines[1:])!r})\n"]

    shell.input_transformers_cleanup.append(transform)

    def unregister() -> None:
        shell.input_transformers_cleanup.remove(transform)
        shell.drop_by_id({CELL_HOOK_NAME: hook})
        for kind, name in (("cell", "miniagent"), ("line", "miniagents")):
            if previous[kind] is None:
                shell.magics_manager.magics[kind].pop(name, None)
            else:
                shell.magics_manager.magics[kind][name] = previous[kind]
        shell.magics_manager.registry.pop(type(magics).__name__, None)

    return unregister
