"""LLM modules and names under miniagents.ext.llms that MiniAgents users import."""

import importlib

names = {
    "miniagents.ext.llms": ["OpenAIAgent", "AnthropicAgent", "LLMAgent"],
    "miniagents.ext.llms.openai": ["OpenAIAgent"],
    "miniagents.ext.llms.anthropic": ["AnthropicAgent"],
    "miniagents.ext.llms.llm_utils": ["LLMAgent", "UserMessage", "AssistantMessage", "SystemMessage"],
}
for module_name, attributes in names.items():
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        print(module_name, "ImportError")
        continue
    for attribute in attributes:
        print(module_name, attribute, hasattr(module, attribute))
