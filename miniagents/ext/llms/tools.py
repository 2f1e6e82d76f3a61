"""Tools a model may call are agents: `OpenAIAgent.trigger(..., tools=[weather_agent, lookup])`.

A tool is a `MiniAgent` or a plain `async def` with type hints. Its JSON schema comes from its signature (pydantic)
and its description from its docstring. Each tool call the model makes runs as a child agent call of the LLM call —
parallel tool calls in parallel — so it appears in the call tree, the timeline, the records and the store like any
call. The tool's replies, joined as text, go back to the model; so does its exception (`Error: …`), unless the call
says `tool_errors="raise"`.
"""

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, create_model

from miniagents.agents import InteractionContext, MiniAgent
from miniagents.messages import Message

__all__ = ["ToolCall", "ToolResult", "ToolSpec", "arun_tool_calls", "tool_specs"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it (`name`, `description`, `parameters` JSON schema) and the agent that runs it."""

    name: str
    description: str
    parameters: dict[str, Any]
    agent: MiniAgent


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for; `arguments` is what the model sent (a dict, or the raw text if not JSON)."""

    id: str
    name: str
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class ToolResult:
    call: ToolCall
    text: str
    is_error: bool = False


def tool_specs(tools: Iterable[Any] | None) -> list[ToolSpec]:
    """`ToolSpec`s for agents and `async def` functions (a `ToolSpec` passes as it is)."""
    specs: list[ToolSpec] = []
    for tool in tools or ():
        spec = tool if isinstance(tool, ToolSpec) else _spec_for(tool)
        if any(existing.name == spec.name for existing in specs):
            raise ValueError(f"Two tools are named {spec.name!r}: tool names must be unique within one call.")
        specs.append(spec)
    return specs


def _spec_for(tool: Any) -> ToolSpec:
    if isinstance(tool, MiniAgent):
        function = tool.func
        parameters = list(tool.signature.parameters.values())
        agent = tool
        name = tool.alias
        description = tool.description or ""
    elif inspect.iscoroutinefunction(tool):
        function = tool
        parameters = list(inspect.signature(tool).parameters.values())
        agent = MiniAgent(_function_tool_agent(tool), alias=tool.__name__, description=inspect.getdoc(tool) or "")
        name = tool.__name__
        description = inspect.getdoc(tool) or ""
    else:
        raise TypeError(
            f"A tool must be a MiniAgent or an `async def` function with type hints, got {type(tool).__name__} "
            f"{tool!r}."
        )
    return ToolSpec(
        name=name,
        description=description,
        parameters=_parameters_schema(function, name, parameters),
        agent=agent,
    )


def _parameters_schema(function: Any, name: str, parameters: list[inspect.Parameter]) -> dict[str, Any]:
    try:
        hints = get_type_hints(function)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    fields: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        annotation = hints.get(parameter.name, parameter.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = str
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


def _function_tool_agent(function: Callable[..., Awaitable[Any]]) -> Any:
    async def tool_agent(ctx: InteractionContext, **arguments: Any) -> None:
        from miniagents.ext.llms.prepare import thaw_value

        result = await function(**thaw_value(arguments))
        if result is not None:
            ctx.reply(_as_text(result))

    tool_agent.__name__ = function.__name__
    return tool_agent


async def arun_tool_calls(calls: list[ToolCall], specs: list[ToolSpec], raise_errors: bool) -> list[ToolResult]:
    """Run every call as a child agent call, all at once; the results in the order of `calls`."""
    by_name = {spec.name: spec for spec in specs}
    replies: list[Any] = []
    for call in calls:
        spec = by_name.get(call.name)
        if spec is None or not isinstance(call.arguments, Mapping):
            replies.append(None)
            continue
        replies.append(spec.agent.trigger(**call.arguments, errors_as_messages=False))

    async def result_of(call: ToolCall, reply: Any) -> ToolResult:
        if call.name not in by_name:
            return ToolResult(call, f"Error: there is no tool named {call.name!r}.", is_error=True)
        if reply is None:
            return ToolResult(call, f"Error: the arguments are not a JSON object: {call.arguments!r}", is_error=True)
        try:
            messages = await reply
        except Exception as error:
            if raise_errors:
                raise
            return ToolResult(call, f"Error: {type(error).__name__}: {error}", is_error=True)
        return ToolResult(call, "\n\n".join(str(message) for message in messages))

    return list(await asyncio.gather(*(result_of(call, reply) for call, reply in zip(calls, replies, strict=True))))


def parse_arguments(raw_arguments: Any) -> dict[str, Any] | str:
    """The model's arguments as a dict (they arrive as JSON text from OpenAI, as an object from Anthropic)."""
    if isinstance(raw_arguments, Mapping):
        return dict(raw_arguments)
    if not raw_arguments:
        return {}
    try:
        parsed = json.loads(raw_arguments)
    except ValueError:
        return str(raw_arguments)
    return parsed if isinstance(parsed, dict) else str(raw_arguments)


def _as_text(result: Any) -> Any:
    if isinstance(result, (str, Message)):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    return json.dumps(result, ensure_ascii=False, default=str)
