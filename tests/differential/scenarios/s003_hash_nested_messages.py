"""Hash keys of messages that hold other messages."""

from miniagents import Message, TextMessage

inner = TextMessage("inner")
outer = Message(child=inner, children=[inner, TextMessage("second")])
print(outer.hash_key)
print(Message(deep=Message(deeper=outer)).hash_key)
print(outer.serialize())
