"""A Frozen reads like a read-only mapping: len, keys (with class_), values, get, []."""

from miniagents import Frozen, TextMessage

frozen = Frozen(a=1, b=[1])
print(len(frozen), list(frozen.keys()), list(frozen.values()))
print("a" in frozen, "class_" in frozen, frozen["a"], frozen["class_"], frozen.get("zz", 5))
print(dict(frozen))
message = TextMessage("hi", role="user")
print(len(message), list(message.keys()), dict(message))
