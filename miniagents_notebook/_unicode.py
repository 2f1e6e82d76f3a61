"""Text that can leave the kernel: Jupyter sends outputs as UTF-8 JSON, which a lone surrogate cannot be part of."""

import re
from typing import Any

__all__ = ["replace_lone_surrogates", "replace_lone_surrogates_in"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """`text` with surrogate pairs joined into the characters they encode and lone surrogates replaced by U+FFFD.

    A streamed reply can split a character such as an emoji between two tokens, and a message can keep half of one
    whose other half never came (the core keeps it, so that hashing and persisting are exact). Such a string has no
    UTF-8 form: an output holding it would fail to be sent at all, so displays show `�` in its place instead.
    """
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def replace_lone_surrogates_in(value: Any) -> Any:
    """`value` — JSON-like data: dicts, lists, tuples, strings and scalars — with `replace_lone_surrogates` applied to
    every string in it (keys too); anything else is kept as it is."""
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    if isinstance(value, dict):
        return {replace_lone_surrogates_in(key): replace_lone_surrogates_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_lone_surrogates_in(item) for item in value]
    if isinstance(value, tuple):
        return tuple(replace_lone_surrogates_in(item) for item in value)
    return value
