"""Hash keys of user-defined message subclasses."""

from miniagents import Message


class Note(Message):
    title: str
    body: str = ""


print(Note(title="t").hash_key)
print(Note(title="t", body="").hash_key)
print(Note(title="t", extra=[1]).hash_key)
print(Note(title="t").class_)
