"""Joined messages: their fields come from the messages they join, and their hash keys are the same."""

from miniagents import Message, MessageSequence, MiniAgents, TextMessage


async def main():
    for items in (
        [TextMessage("a", role="assistant", agent_alias="X"), TextMessage("u", role="user")],
        [TextMessage("t", a=1, b=1), TextMessage("s", b=2)],
        ["p", "q"],
        [Message(k=1), "z"],
    ):
        sequence = MessageSequence.turn_into_sequence_promise(items)
        joined = await sequence.as_single_text_promise(reference_original_messages=True)
        fields = {name: value for name, value in joined.serialize().items() if name != "original_messages__hash_keys"}
        print(fields, joined.hash_key)
    sequence = MessageSequence.turn_into_sequence_promise(["p", "q"])
    joined = await sequence.as_single_text_promise(role="x", reference_original_messages=True)
    print(joined.role, joined.hash_key)


MiniAgents().run(main())
