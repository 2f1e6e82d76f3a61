"""Hash keys of error messages and strict messages."""

from miniagents import ErrorMessage, StrictMessage


class Strict(StrictMessage):
    a: int


print(ErrorMessage("boom").hash_key)
print(Strict(a=1).hash_key)
try:
    Strict(a=1, b=2)
except Exception as error:
    print(type(error).__name__)
