"""miniagents.utils.as_single_text_promise joins messages with a delimiter."""

from miniagents import MiniAgents
from miniagents.utils import as_single_text_promise


async def main():
    print(repr(str(await as_single_text_promise(["a", "b", "c"]))))
    message = await as_single_text_promise(["a", "b"], delimiter=" | ", role="x")
    print(repr(str(message)), type(message).__name__, message.role, len(message.original_messages))


MiniAgents().run(main())
