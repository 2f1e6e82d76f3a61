"""serialize() of messages: field order, class_ and nested references."""

from miniagents import Message, TextMessage

print(TextMessage("hi", role="user").serialize())
print(Message(z=1, a=2).serialize())
print(TextMessage("hi").model_dump())
