"""Deprecated: the LLM message classes live in `miniagents.ext.llms` (`from miniagents.ext.llms import UserMessage`).

Every name here still works and warns, resolving to its new home.
"""

from miniagents.ext.llm._aliases import install_deprecated_aliases

__all__ = ["AssistantMessage", "SystemMessage", "UserMessage", "message_to_llm_dict"]  # noqa: F822 - see below

install_deprecated_aliases(
    __name__,
    {
        "AssistantMessage": "miniagents.ext.llms:AssistantMessage",
        "SystemMessage": "miniagents.ext.llms:SystemMessage",
        "UserMessage": "miniagents.ext.llms:UserMessage",
        "message_to_llm_dict": "miniagents.ext.llms:message_to_llm_dict",
    },
)
