"""Hash keys of text messages."""

from miniagents import TextMessage

print(TextMessage("hello").hash_key)
print(TextMessage("hello", role="user").hash_key)
print(TextMessage(content="", extra=1).hash_key)
