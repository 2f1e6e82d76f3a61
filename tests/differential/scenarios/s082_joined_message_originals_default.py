"""By default, does a message joined by a sequence's as_single_text_promise keep its originals?"""

# expected difference: here a joined message keeps its originals (`original_messages`) only when asked
#   (`reference_original_messages=True`, or `as_single_promise()`), so records and stores hold what was said once;
#   MiniAgents keeps them by default. Its text and its other fields are the same.
from miniagents import MessageSequence, MiniAgents


async def main():
    joined = await MessageSequence.turn_into_sequence_promise(["p", "q"]).as_single_text_promise()
    print(repr(str(joined)), "original_messages" in joined)


MiniAgents().run(main())
