"""str() of messages: text for text messages, a ```json block otherwise; prompts built from them agree."""

from miniagents import Message, TextMessage


class Result(Message):
    score: int


print(repr(str(TextMessage("plain"))))
print(repr(str(Message(a=1, b=[1, 2]))))
print(repr(str(Result(score=3))))
print(repr(str(Message(child=TextMessage("x")))))
