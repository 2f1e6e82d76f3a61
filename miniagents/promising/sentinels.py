"""Sentinel objects: unique markers for "no value", "use the default", and loop control.

`None` is a legitimate value in many places (a resolved promise may resolve to `None`), so absence is marked
with these objects instead.
"""

__all__ = ["AWAIT", "CLEAR", "DEFAULT", "END_OF_QUEUE", "FAILED", "NO_VALUE", "Sentinel", "is_default"]


class Sentinel:
    """A named marker object. Using one in a boolean context is a bug, so it raises."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        raise TypeError(f"Sentinel {self._name} must not be used in a boolean context; compare with `is` instead.")


NO_VALUE = Sentinel("NO_VALUE")
DEFAULT = Sentinel("DEFAULT")
FAILED = Sentinel("FAILED")
END_OF_QUEUE = Sentinel("END_OF_QUEUE")
AWAIT = Sentinel("AWAIT")
CLEAR = Sentinel("CLEAR")


def is_default(value: object) -> bool:
    """Whether an option was left to its default: `DEFAULT`, or `NO_VALUE` (which MiniAgents code passes for that)."""
    return value is DEFAULT or value is NO_VALUE
