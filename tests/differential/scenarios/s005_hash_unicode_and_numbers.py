"""Hash keys with non-ASCII text, big and small numbers."""

from miniagents import Message, TextMessage

print(TextMessage("héllo wörld ✓ 日本 🎉").hash_key)
print(Message(big=10**30, small=1e-300, negative=-0.0, floaty=1.0).hash_key)
print(Message(text='line\nbreak\t"quoted" \\ back').hash_key)
