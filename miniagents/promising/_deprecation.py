"""One place that emits our deprecation warnings, so older seed names keep working and say what replaced them.

Every warning names the version that removes the old name: `REMOVED_IN`, one version for all of them.
"""

import warnings
from typing import Any

from miniagents.promising.sentinels import DEFAULT, NO_VALUE

__all__ = ["REMOVED_IN", "pick_renamed_argument", "warn_deprecated"]

REMOVED_IN = "0.3.0"
"""The MiniAgents version that removes every deprecated name (the current one is 0.1.0)."""


def warn_deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that `old` is an older name that still works until `REMOVED_IN`, and that `new` should be used instead."""
    warnings.warn(
        f"`{old}` is deprecated; use `{new}` instead. It will be removed in MiniAgents {REMOVED_IN}.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def pick_renamed_argument(new_value: Any, old_value: Any, old: str, new: str, default: Any = DEFAULT) -> Any:
    """Resolve an argument that was renamed: the old spelling wins only when the new one was not given (and warns).

    `NO_VALUE` means "not given" too, and so does `None` for the `start_asap` of older versions (where it meant "the
    default"), as in MiniAgents.
    """
    if old_value is default or old_value is NO_VALUE or (old_value is None and old.startswith("start_")):
        return new_value
    warn_deprecated(old, new, stacklevel=4)
    if new_value is not default:
        raise TypeError(f"Pass only one of `{new}` and `{old}` (the latter is its deprecated name).")
    return old_value
