"""Credentials never leave the call that needs them: `redact_secrets` for what is recorded, announced or logged.

An agent call's keyword arguments reach the call-tree views, their HTML exports, the records (`AgentCallNode`) and
so the stores. A key or a bearer token passed as an argument (`extra_headers={"Helicone-Auth": "Bearer sk-…"}`,
`api_key="…"`) must reach only the agent function: everywhere else it is replaced by `REDACTED`. What counts as
a secret:

- a text value under a credential-like name (`api_key`, `secret`, `password`, `authorization`, `*-auth`, `cookie`,
  `token`, `access_token`, …), at any depth of dicts;
- in any text, a bearer token (`Bearer …`) or a provider key (`sk-…`, `sk-ant-…`, `xai-…`, …).
"""

import re
from collections.abc import Mapping
from typing import Any

from miniagents.promising.ext.frozen import Frozen

__all__ = ["REDACTED", "redact_secrets"]

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(
    r"(^|[_\-.])(api[_\-]?key|apikey|secret|client[_\-]?secret|password|passwd|passphrase|auth|authorization|"
    r"credentials?|cookie|set[_\-]cookie|token|access[_\-]?token|refresh[_\-]?token|id[_\-]?token|bearer|"
    r"private[_\-]?key|session[_\-]?id)($|[_\-.])",
    re.IGNORECASE,
)
_SECRET_TEXT = re.compile(
    r"(?i:\bbearer\s+)[A-Za-z0-9._~+/=\-]{6,}"
    r"|\b(?:sk|rk|pk)-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{12,}"
    r"|\b(?:xai|gsk|hf)_?-?[A-Za-z0-9]{20,}"
)


_PLAIN_VALUES = frozenset({int, float, bool, type(None)})


def redact_secrets(value: Any, name: str | None = None) -> Any:
    """`value` (keyword arguments, a dict, a frozen dict, …) with every secret replaced by `REDACTED`.

    Values without secrets come back as they are (the same object), so redaction costs nothing for ordinary calls.
    """
    if value.__class__ in _PLAIN_VALUES:  # the common case first: nothing to look at
        return value
    if isinstance(value, str):
        if name is not None and _SECRET_NAME.search(name):
            return REDACTED
        return _SECRET_TEXT.sub(_redact_match, value)
    if isinstance(value, bytes) and name is not None and _SECRET_NAME.search(name):
        return REDACTED
    if type(value) is Frozen:
        fields = value.frozen_fields_and_values()
        redacted = _redact_mapping(fields)
        return value if redacted is fields else Frozen(**redacted)
    if value.__class__ is dict or (isinstance(value, Mapping) and not isinstance(value, Frozen)):
        redacted = _redact_mapping(value)
        return value if redacted is value else redacted
    if isinstance(value, (tuple, list)):
        items = [redact_secrets(item, name) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    return value


def _redact_mapping(mapping: Mapping[str, Any]) -> Any:
    if _PLAIN_VALUES.issuperset(map(type, mapping.values())):  # numbers and flags only (most calls): nothing to hide
        return mapping
    redacted = {key: redact_secrets(item, str(key)) for key, item in mapping.items()}
    if all(redacted[key] is item for key, item in mapping.items()):
        return mapping
    return redacted


def _redact_match(match: "re.Match[str]") -> str:
    text = match.group(0)
    if text.lower().startswith("bearer"):
        return text.split(None, 1)[0] + " " + REDACTED
    return REDACTED
