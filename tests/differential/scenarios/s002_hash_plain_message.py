"""Hash keys of plain messages with fields of the basic JSON types."""

from miniagents import Message

print(Message(a=1, b=2.5, c="x", d=None, e=True).hash_key)
print(Message(b=2.5, a=1, c="x", d=None, e=True).hash_key)
print(Message().hash_key)
print(Message(content="text").hash_key)
