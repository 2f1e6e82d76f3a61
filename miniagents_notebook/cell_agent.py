"""A cell is an agent: parsing the `%%miniagent` line and compiling the cell body into an agent function.

    %%miniagent NAME(param: type = default, ...) [--alias ALIAS] [--description TEXT] [--run [INPUT]] [--detach]

The body becomes the body of `async def NAME(ctx, param: type = default, ...)`: top-level `await`, `async for`,
`ctx.reply(...)` and `return` work as in any agent, and its globals are the notebook's namespace. The function is
compiled from the syntax tree with the body's lines at their line numbers in the cell, under a file name registered
in IPython's line cache together with the cell's text, so tracebacks point at the cell's own lines.
"""

import ast
import inspect
import keyword
import linecache
from dataclasses import dataclass
from typing import Any

from IPython.core.compilerop import code_name
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from miniagents import MiniAgent

__all__ = ["ANONYMOUS_AGENT_NAME", "CellAgentSpec", "compile_cell_agent", "parse_magic_line", "resolve_run_input"]

ANONYMOUS_AGENT_NAME = "cell_agent"
"""The alias of the agent a bare `%%miniagent` cell runs (unless `--alias` says otherwise)."""

_USAGE = "%%miniagent NAME(param: type = default, ...) [--alias ALIAS] [--description TEXT] [--run [INPUT]] [--detach]"
_OPTIONS = ("alias", "description", "run", "detach")


@dataclass(frozen=True, slots=True)
class CellAgentSpec:
    """What a `%%miniagent` line asks for."""

    line: str
    name: str | None
    parameters: str = ""
    alias: str | None = None
    description: str | None = None
    run: bool = False
    run_input: str | None = None
    detach: bool = False
    """The run keeps going when the cell is interrupted (`miniagents_notebook.detached`)."""

    @property
    def runs_now(self) -> bool:
        """A bare cell always runs; a named one only with `--run`."""
        return self.run or self.name is None


def _usage_error(problem: str) -> UsageError:
    return UsageError(f"{problem}\nUsage: {_USAGE}")


def _split_options(line: str) -> tuple[str, list[tuple[str, str]]]:
    """The part before the first `--option` and the options with their raw values (quotes and brackets respected)."""
    starts: list[int] = []
    quote: str | None = None
    depth = 0
    index = 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif line.startswith("--", index) and depth == 0 and (index == 0 or line[index - 1].isspace()):
            starts.append(index)
        index += 1
    if quote:
        raise _usage_error(f"Unclosed quote in `%%miniagent {line}`.")
    head = line[: starts[0]] if starts else line
    options = []
    for position, start in enumerate(starts):
        end = starts[position + 1] if position + 1 < len(starts) else len(line)
        name, _, value = line[start + 2 : end].partition(" ")
        options.append((name.strip(), value.strip()))
    return head.strip(), options


def _text_value(option: str, raw: str) -> str:
    if not raw:
        raise _usage_error(f'`--{option}` needs a value, e.g. `--{option} "..."`.')
    if raw[0] in "'\"":
        try:
            value = ast.literal_eval(raw)
        except (SyntaxError, ValueError):
            raise _usage_error(f"`--{option} {raw}` is not a valid quoted string.") from None
        if not isinstance(value, str) or not value:
            raise _usage_error(f"`--{option}` needs a non-empty text, got `{raw}`.")
        return value
    return raw


def _check_parameters(name: str, parameters: str) -> None:
    try:
        tree = ast.parse(f"async def {name}(ctx, {parameters}):\n    pass")
    except SyntaxError as error:
        raise _usage_error(f"Invalid agent signature `{name}({parameters})`: {error.msg}.") from None
    arguments = tree.body[0].args  # type: ignore[attr-defined]
    if arguments.posonlyargs:
        raise _usage_error(f"`{name}({parameters})`: agents get their arguments by keyword, so `/` cannot be used.")
    if arguments.vararg is not None:
        raise _usage_error(
            f"`{name}({parameters})`: agents get their arguments by keyword, so `*{arguments.vararg.arg}` would "
            "always be empty; use `**kwargs` to accept any keyword argument."
        )
    names = [argument.arg for argument in arguments.args[1:] + arguments.kwonlyargs]
    if arguments.kwarg is not None:
        names.append(arguments.kwarg.arg)
    if "ctx" in names:
        raise _usage_error(f"`{name}({parameters})`: `ctx` is given to every agent; name the parameter differently.")
    duplicates = sorted({parameter for parameter in names if names.count(parameter) > 1})
    if duplicates:
        raise _usage_error(f"`{name}({parameters})`: parameter `{duplicates[0]}` is declared twice.")


def _parse_head(head: str) -> tuple[str | None, str]:
    if not head:
        return None, ""
    name, parenthesis, rest = head.partition("(")
    name = name.strip()
    if not name.isidentifier() or keyword.iskeyword(name):
        raise _usage_error(f"`{name or head}` is not a valid agent name (it must be a Python identifier).")
    if not parenthesis:
        return name, ""
    if not rest.rstrip().endswith(")"):
        raise _usage_error(f"The signature `{head}` must end with `)`.")
    parameters = rest.rstrip()[:-1].strip()
    _check_parameters(name, parameters)
    return name, parameters


def parse_magic_line(line: str) -> CellAgentSpec:
    """Parse the `%%miniagent` line; every mistake is a `UsageError` that says what is wrong."""
    head, options = _split_options(line.strip())
    name, parameters = _parse_head(head)
    values: dict[str, str] = {}
    for option, raw in options:
        if option not in _OPTIONS:
            raise _usage_error(
                f"Unknown option `--{option}`; the options are --alias, --description, --run and --detach."
            )
        if option in values:
            raise _usage_error(f"`--{option}` is given twice.")
        values[option] = raw
    if values.get("detach"):
        raise _usage_error(f"`--detach` takes no value, got `{values['detach']}`.")
    if "detach" in values and name is not None and "run" not in values:
        raise _usage_error("`--detach` keeps a run going when the cell is interrupted: give `--run` too.")
    return CellAgentSpec(
        line=line,
        name=name,
        parameters=parameters,
        alias=_text_value("alias", values["alias"]) if "alias" in values else None,
        description=_text_value("description", values["description"]) if "description" in values else None,
        run="run" in values,
        run_input=values.get("run") or None,
        detach="detach" in values,
    )


def resolve_run_input(shell: InteractiveShell, spec: CellAgentSpec) -> Any:
    """The input of `--run INPUT`: a Python literal, or the value of a variable of the notebook."""
    raw = spec.run_input
    if raw is None:
        return None
    try:
        return ast.literal_eval(raw)
    except (SyntaxError, ValueError):
        pass
    if raw.isidentifier():
        if raw not in shell.user_ns:
            raise _usage_error(
                f"`--run {raw}`: there is no variable `{raw}` in the notebook; to send the text itself, "
                f'quote it: `--run "{raw}"`.'
            )
        return shell.user_ns[raw]
    raise _usage_error(f'`--run` takes a literal (`--run "hi"`, `--run [1, 2]`) or a variable name, not `{raw}`.')


def _check_runnable(spec: CellAgentSpec, function: Any) -> None:
    required = [
        parameter.name
        for parameter in list(inspect.signature(function).parameters.values())[1:]
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    ]
    if required:
        raise _usage_error(
            f"`--run` cannot run `{spec.name}` right away: parameter `{required[0]}` has no default. Give it one, "
            f"or trigger the agent from another cell: `await {spec.name}.trigger(..., {required[0]}=...)`."
        )


def _register_cell_source(shell: InteractiveShell, cell_text: str) -> str:
    """Put the cell's text in the line cache under an IPython-style name, so tracebacks show the cell's lines.

    The name has IPython's `<ipython-input-N-hash>` form rather than the kernel's temporary-file form: IPython reads
    the source of frames from such names through the line cache, while for a `.py` name it looks for a file.
    """
    result = shell.displayhook.exec_result
    number = result.execution_count if result is not None and result.execution_count else shell.execution_count
    filename = code_name(cell_text, number)
    linecache.cache[filename] = (len(cell_text), None, [line + "\n" for line in cell_text.splitlines()], filename)
    _label_frames_as_cell(shell, filename, number)
    return filename


def _label_frames_as_cell(shell: InteractiveShell, filename: str, number: int) -> None:
    """Make tracebacks label frames of `filename` "Cell In[N]", like the frames of the cell's own code.

    IPython keeps that label in a private map (`CachingCompiler._filename_map`, read by the public
    `format_code_name`). Its one public writer, `shell.compile.cache()`, names the code itself, and that name need not
    be unique: ipykernel takes it from `IPYKERNEL_CELL_NAME` when set (nbclient sets `<IPY-INPUT>` for every cell), so
    the next cell would replace the agent's lines in the line cache. Hence this one private write, kept here. Without
    the map (another IPython), tracebacks still show the cell's lines, under the file name instead of "Cell In[N]".
    """
    filename_map = getattr(shell.compile, "_filename_map", None)
    if isinstance(filename_map, dict):
        filename_map[filename] = number


def compile_cell_agent(shell: InteractiveShell, spec: CellAgentSpec, body: str) -> MiniAgent:
    """Compile `body` into the agent `spec` describes; a named agent is also bound in the notebook's namespace."""
    name = spec.name or ANONYMOUS_AGENT_NAME
    filename = _register_cell_source(shell, f"%%miniagent {spec.line}".rstrip() + f"\n{body}")
    # a leading empty line puts every line of the body at its line number in the cell (the magic line is line 1)
    body_tree = ast.parse("\n" + body, filename=filename)
    module = ast.parse(f"async def {name}(ctx, {spec.parameters}):\n    pass", filename=filename)
    module.body[0].body = body_tree.body or [ast.Pass(lineno=1, col_offset=0)]  # type: ignore[attr-defined]
    code = compile(module, filename, "exec", flags=shell.compile.flags, dont_inherit=True)
    namespace: dict[str, Any] = {}
    try:
        exec(code, shell.user_ns, namespace)  # what running a cell means
    except Exception as error:
        raise _usage_error(f"Evaluating the signature of `{name}` failed: {type(error).__name__}: {error}") from error
    function = namespace[name]
    if inspect.isasyncgenfunction(function):
        raise _usage_error(f"The body of `{name}` uses `yield`; agents reply with `ctx.reply(...)` instead.")
    if spec.run and spec.name is not None:
        _check_runnable(spec, function)
    agent = MiniAgent(function, alias=spec.alias, description=spec.description)
    if spec.name is not None:
        shell.user_ns[spec.name] = agent
    return agent
