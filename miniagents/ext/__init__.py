"""Optional parts of MiniAgents (LLM agents, chat history, console user agent, persistence), each in its own package.

Nothing here is imported by the core, so the core works without the extra dependencies these parts need.
"""

__all__: list[str] = []
