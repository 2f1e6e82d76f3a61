"""Messages are immutable: setting a field fails."""

from miniagents import TextMessage

message = TextMessage("x")
try:
    message.content = "y"
    print("changed")
except Exception as error:
    print("refused", isinstance(error, (ValueError, TypeError)) or type(error).__name__)
print(type(TextMessage("x", items=[1, [2]]).items).__name__)
