"""normalize_func_or_class_name: True names agents as MiniAgents does by default, False keeps them as written."""

from miniagents import miniagent


async def research_agent(ctx):
    pass


class OpenAIAgentLike:
    def __init__(self, ctx):
        self.ctx = ctx

    async def __call__(self):
        pass


for candidate in (research_agent, OpenAIAgentLike):
    print(miniagent(normalize_func_or_class_name=True)(candidate).alias)
    print(miniagent(normalize_func_or_class_name=False)(candidate).alias)
for name in ("myHTTPServer2go", "LLMAgent", "camelCase", "already_UPPER", "X1Y2"):
    research_agent.__name__ = name
    print(miniagent(normalize_func_or_class_name=True)(research_agent).alias)
