"""Text with half a character (a lone surrogate, e.g. from a stream cut mid-emoji) and with a split surrogate pair."""

# expected difference: here a split surrogate pair is joined into the character it encodes and a lone surrogate is
#   escaped (`\udXXXX`) in the JSON hash keys are computed from, so such messages hash and persist; MiniAgents fails
#   on them with a UnicodeEncodeError
from miniagents import TextMessage

for text in ("half \ud83d", "pair \ud83d\ude00"):
    try:
        message = TextMessage(text)
        print(repr(str(message)), message.hash_key)
    except UnicodeError as error:
        print(type(error).__name__)
