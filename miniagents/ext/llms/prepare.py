"""Turning MiniAgents messages (any `MessageType`) into the role/content dicts the provider SDKs take.

A message's role is its `role` field (`user` when it has none) and its content is `str(message)`: the text of a text
message, the JSON of the fields otherwise. These are the helpers `OpenAIAgent` and `AnthropicAgent` use, public so
that agents calling an SDK directly (e.g. for structured output) build their prompts the same way:

    message_dicts = await aprepare_dicts_for_openai(ctx.message_promises, system="Be brief.")
    response = await client.beta.chat.completions.parse(model=..., messages=message_dicts, response_format=...)
"""

from typing import Any

from miniagents.message_sequence import MessageSequence
from miniagents.messages import Message, TextMessage
from miniagents.miniagent_typing import MessageType
from miniagents.promising.ext.frozen import Frozen

__all__ = [
    "AnthropicMessageDicts",
    "aprepare_dicts_for_anthropic",
    "aprepare_dicts_for_openai",
    "message_to_llm_dict",
    "thaw_value",
]

_ANTHROPIC_SYSTEM_ROLES = ("system", "developer")


def message_to_llm_dict(message: Message) -> dict[str, Any]:
    """`{"role": ..., "content": ...}` for one message: its `role` field (default `user`) and its text (its `content`
    field when it is a plain `Message` with a text one)."""
    role = message.get("role")
    content = message.get("content")
    # a plain `Message` with a text `content` field (what a `{"content": ...}` dict becomes) is sent as that text
    text = content if isinstance(content, str) and not isinstance(message, TextMessage) else str(message)
    return {"role": role if isinstance(role, str) and role else "user", "content": text}


async def aprepare_dicts_for_openai(messages: MessageType, system: str | None = None) -> list[dict[str, Any]]:
    """Wait for `messages` and return them as OpenAI chat messages, with `system` (if given) as the first one."""
    message_dicts = [message_to_llm_dict(message) for message in await MessageSequence.aresolve_messages(messages)]
    if system is not None:
        message_dicts.insert(0, {"role": "system", "content": system})
    return message_dicts


class AnthropicMessageDicts(list[dict[str, Any]]):
    """The role/content dicts for Anthropic's `messages` parameter; `system` is what goes into its `system` one."""

    def __init__(self, message_dicts: list[dict[str, Any]], system: str | None = None) -> None:
        super().__init__(message_dicts)
        self.system = system

    def as_kwargs(self) -> dict[str, Any]:
        """`messages` and (when there is one) `system`, ready for `client.messages.create(**...)`."""
        kwargs: dict[str, Any] = {"messages": list(self)}
        if self.system is not None:
            kwargs["system"] = self.system
        return kwargs


async def aprepare_dicts_for_anthropic(
    messages: MessageType,
    system: str | None = None,
    fake_first_user_message: str = "/start",
    message_delimiter_for_same_role: str = "\n\n",
) -> AnthropicMessageDicts:
    """Wait for `messages` and return them as Anthropic messages (a list of role/content dicts with `.system`).

    Anthropic's API differs from OpenAI's in three ways this takes care of: system messages go into the separate
    `system` parameter (after `system`, if given), so they are taken out of the list and joined into `.system`;
    consecutive messages of the same role are merged (joined with `message_delimiter_for_same_role`); and a first
    user message (`fake_first_user_message`) is supplied when the conversation does not start with one. Roles other
    than `assistant` and the system ones are sent as `user`.

        prepared = await aprepare_dicts_for_anthropic(ctx.message_promises, system="Be brief.")
        response = await client.messages.create(model=..., max_tokens=1000, **prepared.as_kwargs())
    """
    system_parts = [] if system is None else [system]
    dialog: list[dict[str, Any]] = []
    for message in await MessageSequence.aresolve_messages(messages):
        message_dict = message_to_llm_dict(message)
        role = message_dict["role"]
        if role in _ANTHROPIC_SYSTEM_ROLES:
            system_parts.append(message_dict["content"])
            continue
        role = "assistant" if role == "assistant" else "user"
        if dialog and dialog[-1]["role"] == role:
            dialog[-1]["content"] += message_delimiter_for_same_role + message_dict["content"]
        else:
            dialog.append({"role": role, "content": message_dict["content"]})
    if not dialog or dialog[0]["role"] != "user":
        dialog.insert(0, {"role": "user", "content": fake_first_user_message})
    return AnthropicMessageDicts(dialog, system=message_delimiter_for_same_role.join(system_parts) or None)


def thaw_value(value: Any) -> Any:
    """The plain-Python equivalent of a frozen value (`Frozen` → dict, tuple → list), e.g. agent kwargs for an SDK.

    Agent keyword arguments are frozen when an agent is called; SDKs expect the dicts and lists they were made from.
    """
    if isinstance(value, Frozen):
        return {name: thaw_value(item) for name, item in value.frozen_fields_and_values(exclude_class=True).items()}
    if isinstance(value, (tuple, list)):
        return [thaw_value(item) for item in value]
    if isinstance(value, dict):
        return {name: thaw_value(item) for name, item in value.items()}
    return value
