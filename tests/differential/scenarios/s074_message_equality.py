"""Equal content makes equal messages and equal hash keys; field order does not matter."""

from miniagents import Message, TextMessage

print(TextMessage("x", role="user") == TextMessage("x", role="user"))
print(Message(a=1, b=2).hash_key == Message(b=2, a=1).hash_key)
print(TextMessage("x").hash_key == TextMessage("y").hash_key)
print(hash(TextMessage("x")) == hash(TextMessage("x")))
