"""An agent's description comes from its docstring, with spaces normalised."""

from miniagents import miniagent


@miniagent
async def described(ctx):
    """Does   something
    useful."""


print(repr(described.description))
print(repr(miniagent(description="given")(described.wrapped_func_or_class).description))
