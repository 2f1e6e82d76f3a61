"""Token and TextToken: str() and hash keys."""

from miniagents import TextToken, Token

print(repr(str(TextToken(content="abc"))), TextToken(content="abc").hash_key)
print(Token().hash_key)
