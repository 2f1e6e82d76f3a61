"""Agent names: MiniAgents normalises function and class names into upper snake case."""

# expected difference: agent names are kept as written here (`research_agent`), MiniAgents upper-cases them
#   (`RESEARCH_AGENT`); the notebook's call trees, records and stores show names as the user wrote them
from miniagents import miniagent


@miniagent
async def research_agent(ctx):
    pass


class OpenAIAgentLike:
    def __init__(self, ctx):
        self.ctx = ctx

    async def __call__(self):
        pass


print(research_agent.alias)
print(miniagent(OpenAIAgentLike).alias)
print(miniagent(alias="given_alias")(research_agent.wrapped_func_or_class).alias)
