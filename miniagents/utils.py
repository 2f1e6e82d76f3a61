"""Utilities: joining and splitting messages, and loops that chain agents into a conversation.

- `join_messages` / `split_messages`: one streamed message from many, and many streamed messages (paragraphs and
  fenced code blocks) from one.
- `achain_loop` / `adialog_loop`: run agents in a loop, each one's replies becoming the next one's input, until an
  agent replies `StopLoop` or `max_turns` passes are done. `chain_loop` / `dialog_loop` are their blocking versions
  for scripts.
"""

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Literal

from miniagents.agents import InteractionContext, MiniAgent
from miniagents.message_sequence import MessageSequence, join_messages
from miniagents.messages import Message, MessagePromise, MessageSequencePromise, TextMessage
from miniagents.miniagent_typing import MessageType
from miniagents.promising._deprecation import pick_renamed_argument
from miniagents.promising.errors import ProducerCancelledError
from miniagents.promising.promising import StreamAppender
from miniagents.promising.runner import run_blocking
from miniagents.promising.sentinels import AWAIT, CLEAR, DEFAULT, Sentinel
from miniagents.runtime import MiniAgents

__all__ = [
    "AWAIT",
    "CLEAR",
    "ChainStep",
    "StopLoop",
    "achain_loop",
    "adialog_loop",
    "as_single_text_promise",
    "chain_loop",
    "dialog_loop",
    "display_agent_trace",
    "get_current_agent_trace",
    "join_messages",
    "split_messages",
]


def as_single_text_promise(
    messages: MessageType,
    *,
    delimiter: str | None = "\n\n",
    strip_leading_newlines: bool = False,
    reference_original_messages: bool = True,
    start_soon: bool | Sentinel | None = DEFAULT,
    **known_beforehand: Any,
) -> MessagePromise:
    """The texts of `messages` joined into one text message (MiniAgents' name for `join_messages`)."""
    return join_messages(
        messages,
        delimiter=delimiter,
        strip_leading_newlines=strip_leading_newlines,
        reference_original_messages=reference_original_messages,
        start_soon=DEFAULT if start_soon is None else start_soon,
        **known_beforehand,
    )


def get_current_agent_trace() -> list[MiniAgent]:
    """The agents of the call chain the calling code runs in, innermost first (raises outside of any agent)."""
    return list(InteractionContext.get_current().get_agent_trace())


def display_agent_trace(agent_trace: Iterable[MiniAgent] | None = None) -> str:
    """An agent trace as text, innermost first: `INNER <- OUTER` (the current one if none is given)."""
    if agent_trace is None:
        agent_trace = get_current_agent_trace()
    return " <- ".join(agent.alias for agent in agent_trace)


# --- split_messages --------------------------------------------------------------------------------------------

_SplitEvent = tuple[Literal["start", "text", "end"], str]


class _TextSplitter:
    """Splits text that arrives in pieces into paragraphs and fenced code blocks, emitting text as early as it can.

    The result never depends on how the text was cut into pieces: text is held back only while what follows could
    still change its meaning (a delimiter or a fence that is not complete yet, trailing whitespace that may turn out
    to end a message and be trimmed).
    """

    def __init__(self, delimiter: str, fence: str | None) -> None:
        self._delimiter = delimiter
        self._fence = fence or None
        if self._fence:
            fence_pattern = re.escape(self._fence)
            self._opening_fence = re.compile(r"\n[ \t]*" + fence_pattern)
            self._closing_fence = re.compile(
                r"\n[ \t]*" + fence_pattern + re.escape(self._fence[-1]) + r"*[ \t]*(\n|\Z)"
            )
        self._buffer = ""
        self._at_line_start = True
        self._state: Literal["between", "paragraph", "code"] = "between"
        self._events: list[_SplitEvent] = []

    def feed(self, text: str) -> list[_SplitEvent]:
        """Take the next piece of text; return what can already be said about the messages."""
        self._buffer += text
        self._advance(final=False)
        return self._take_events()

    def flush(self) -> list[_SplitEvent]:
        """The input is over: emit all the text that was held back, leaving the last message (if any) open."""
        self._advance(final=True)
        return self._take_events()

    def close(self) -> list[_SplitEvent]:
        """Close the last message, if one is open."""
        if self._state != "between":
            self._end_message()
        return self._take_events()

    def _take_events(self) -> list[_SplitEvent]:
        events, self._events = self._events, []
        return events

    def _advance(self, final: bool) -> None:
        while self._buffer:
            if self._state == "between":
                progressed = self._advance_between(final)
            elif self._state == "paragraph":
                progressed = self._advance_paragraph(final)
            else:
                progressed = self._advance_code(final)
            if not progressed:
                return

    def _advance_between(self, final: bool) -> bool:
        buffer = self._buffer
        first_visible = next((index for index, char in enumerate(buffer) if not char.isspace()), -1)
        delimiter_index = buffer.find(self._delimiter)
        if delimiter_index != -1 and (first_visible == -1 or delimiter_index <= first_visible):
            self._consume(delimiter_index + len(self._delimiter))  # an empty segment: no message
            return True
        if not final:
            partial_start = self._partial_delimiter_start(buffer)
            if partial_start != -1 and (first_visible == -1 or partial_start <= first_visible):
                return False
        if first_visible == -1:
            if final:
                self._consume(len(buffer))
            return False
        self._consume(buffer.rfind("\n", 0, first_visible) + 1)  # keep the indentation of the first line
        if self._fence and self._at_line_start:
            first_line = self._buffer.lstrip(" \t")
            if first_line.startswith(self._fence):
                self._start_message("code")
                return True
            if not final and self._fence.startswith(first_line):
                return False  # may still become a fence
        self._start_message("paragraph")
        return True

    def _advance_paragraph(self, final: bool) -> bool:
        buffer = self._buffer
        delimiter_index = buffer.find(self._delimiter)
        fence_index = -1
        if self._fence:
            match = self._opening_fence.search(buffer)
            if match:
                fence_index = match.start() + 1
        if fence_index != -1 and (delimiter_index == -1 or fence_index < delimiter_index):
            self._emit(buffer[:fence_index].rstrip())
            self._consume(fence_index)
            self._end_message()
            return True
        if delimiter_index != -1:
            self._emit(buffer[:delimiter_index].rstrip())
            self._consume(delimiter_index + len(self._delimiter))
            self._end_message()
            return True
        if final:
            self._emit(buffer.rstrip())
            self._consume(len(buffer))
            return False
        safe_end = len(buffer.rstrip())
        partial_start = self._partial_delimiter_start(buffer)
        if partial_start != -1:
            safe_end = min(safe_end, partial_start)
        if self._fence:
            last_newline = buffer.rfind("\n")
            if last_newline != -1 and self._fence.startswith(buffer[last_newline + 1 :].lstrip(" \t")):
                safe_end = min(safe_end, last_newline)
        self._emit_safe_prefix(safe_end)
        return False

    def _advance_code(self, final: bool) -> bool:
        buffer = self._buffer
        match = self._closing_fence.search(buffer)
        if match and (match.group(1) or final):
            self._emit(buffer[: match.end()].rstrip())
            self._consume(match.end())
            self._end_message()
            return True
        if final:
            self._emit(buffer.rstrip())
            self._consume(len(buffer))
            return False
        safe_end = len(buffer.rstrip())
        last_newline = buffer.rfind("\n")
        if last_newline != -1 and set(buffer[last_newline + 1 :].strip(" \t")) <= set(self._fence or ""):
            safe_end = min(safe_end, last_newline)  # the last line may still become the closing fence
        self._emit_safe_prefix(safe_end)
        return False

    def _emit_safe_prefix(self, safe_end: int) -> None:
        """Emit the text before `safe_end` but not the whitespace at its end (trimmed if the part ends there)."""
        safe_end = len(self._buffer[:safe_end].rstrip())
        self._emit(self._buffer[:safe_end])
        self._consume(safe_end)

    def _partial_delimiter_start(self, buffer: str) -> int:
        """Where an incomplete delimiter starts at the end of `buffer` (-1 if the buffer does not end with one)."""
        for length in range(min(len(self._delimiter) - 1, len(buffer)), 0, -1):
            if buffer.endswith(self._delimiter[:length]):
                return len(buffer) - length
        return -1

    def _consume(self, length: int) -> None:
        if length:
            self._at_line_start = self._buffer[:length].endswith("\n")
            self._buffer = self._buffer[length:]

    def _emit(self, text: str) -> None:
        if text:
            self._events.append(("text", text))

    def _start_message(self, kind: Literal["paragraph", "code"]) -> None:
        self._state = kind
        self._events.append(("start", kind))

    def _end_message(self) -> None:
        self._state = "between"
        self._events.append(("end", ""))


def split_messages(
    messages: MessageType,
    delimiter: str = "\n\n",
    code_block_delimiter: str | None = "```",
    start_soon: bool | Sentinel = DEFAULT,
    start_asap: bool | Sentinel = DEFAULT,
    **message_fields: Any,
) -> MessageSequencePromise:
    """Split the text of `messages` into one `TextMessage` per paragraph, streaming each as its text arrives.

    Paragraphs are separated by `delimiter`; the texts of several input messages are joined with it first, so every
    input message starts a new paragraph. A fenced code block (a line starting with `code_block_delimiter`, up to
    the closing fence line) is kept whole, fences included, even if it contains the delimiter; pass
    `code_block_delimiter=None` to split code blocks too. Each part loses the blank lines around it and its
    trailing whitespace; parts with no visible text are dropped. `message_fields` become fields of every part.

    The parts are the same whether the text streams token by token or arrives at once. An error in the input
    ends the message being streamed when it happens (consumers see it there); if no message was open, the
    sequence itself raises it at that position.
    """
    start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
    if not isinstance(delimiter, str) or not delimiter:
        raise ValueError(f"`delimiter` must be a non-empty string, got {delimiter!r}.")

    async def stream_message_promises(_: Any) -> AsyncIterator[MessagePromise]:
        splitter = _TextSplitter(delimiter, code_block_delimiter)
        appender: StreamAppender[str] | None = None

        def apply(events: list[_SplitEvent]) -> list[MessagePromise]:
            nonlocal appender
            new_promises = []
            for kind, text in events:
                if kind == "start":
                    appender = StreamAppender[str](capture_errors=False).open()
                    new_promises.append(
                        TextMessage.promise(start_soon=start_soon, message_token_streamer=appender, **message_fields)
                    )
                elif kind == "text" and appender is not None:
                    appender.append(text)
                elif appender is not None:
                    appender.close()
                    appender = None
            return new_promises

        source = join_messages(messages, delimiter=delimiter, reference_original_messages=False, start_soon=False)
        tokens = source.__aiter__()
        error: BaseException | None = None
        try:
            while True:
                try:
                    token = await tokens.__anext__()
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    raise
                except BaseException as source_error:  # handed on at its position, see below
                    error = source_error
                    break
                for message_promise in apply(splitter.feed(str(token))):
                    yield message_promise
            for message_promise in apply(splitter.flush()):
                yield message_promise
            if error is not None:
                if appender is None:
                    raise error
                appender.append(error)
            apply(splitter.close())
        finally:
            if appender is not None and not appender.is_closed:
                appender.append(ProducerCancelledError("`split_messages` stopped before this message was complete."))
                appender.close()

    return MessageSequencePromise(streamer=stream_message_promises, start_soon=start_soon)


# --- loops -----------------------------------------------------------------------------------------------------


class StopLoop(TextMessage):
    """Reply this from an agent (`ctx.reply(StopLoop())`) to end `achain_loop` / `adialog_loop`.

    The loop notices it at the next `AWAIT` of the chain (only there are the messages known) and returns the
    messages resolved at that point, the `StopLoop` included, so its `content` can carry a reason.
    """

    content: str | None = ""


ChainStep = MiniAgent | Callable[[Any], Any] | Sentinel
"""A step of a chain: an agent (triggered with the messages so far), a callable (called with them; whatever it
returns, awaited if it is a coroutine, becomes the messages), or the sentinel `AWAIT` or `CLEAR`."""


def _validated_steps(agents: Iterable[ChainStep], max_turns: int | None) -> tuple[ChainStep, ...]:
    steps = tuple(agents)
    if not steps:
        raise ValueError("The chain is empty: pass at least one agent.")
    for index, step in enumerate(steps):
        if step is AWAIT or step is CLEAR or isinstance(step, MiniAgent):
            continue
        if isinstance(step, Sentinel):
            raise ValueError(f"Step {index} of the chain is {step!r}; only AWAIT and CLEAR can be chain steps.")
        if not callable(step):
            raise TypeError(
                f"Step {index} of the chain is a {type(step).__name__}; a step must be a MiniAgent, a callable that "
                "takes the messages so far, AWAIT or CLEAR."
            )
    if max_turns is not None and (not isinstance(max_turns, int) or max_turns < 1):
        raise ValueError(f"`max_turns` must be a positive integer or None, got {max_turns!r}.")
    if max_turns is None and not any(step is AWAIT for step in steps):
        raise ValueError(
            "The chain has no AWAIT, so the loop would schedule turns forever without waiting for any of them. Put "
            "AWAIT where the chain should wait for the replies so far (e.g. after the user agent), or set max_turns."
        )
    return steps


async def _aresolve(messages: MessageType | None) -> tuple[Message, ...]:
    return () if messages is None else await MessageSequence.aresolve_messages(messages)


async def achain_loop(
    agents: Iterable[ChainStep],
    initial_input: MessageType | None = None,
    max_turns: int | None = None,
) -> tuple[Message, ...]:
    """Run `agents` in a loop, each step's output (replies) becoming the next step's input; return the last messages.

    Nothing waits between steps unless the chain says `AWAIT`: there the replies so far are resolved (the agents
    before it really run), and if any of them is a `StopLoop` the loop ends and returns them. `CLEAR` drops the
    messages so far (the next agent gets no input). A turn is one pass through the chain; after `max_turns` turns
    (None: no limit) the loop ends and returns the resolved output of the last pass. A chain without a limit must
    contain an `AWAIT`. An error raised by an agent surfaces at the next `AWAIT` (or at the end) and ends the loop.
    Run it inside `MiniAgents` (e.g. `await achain_loop(...)` in a function passed to `MiniAgents().run()`).
    """
    steps = _validated_steps(agents, max_turns)
    messages: Any = initial_input
    turns_done = 0
    while max_turns is None or turns_done < max_turns:
        for step in steps:
            if step is AWAIT:
                messages = await _aresolve(messages)
                if any(isinstance(message, StopLoop) for message in messages):
                    return messages
            elif step is CLEAR:
                messages = None
            elif isinstance(step, MiniAgent):
                messages = step.trigger(messages)
            else:
                outcome = step(messages)
                messages = await outcome if inspect.iscoroutine(outcome) else outcome
        turns_done += 1
    return await _aresolve(messages)


async def adialog_loop(
    user_agent: ChainStep,
    assistant_agent: ChainStep,
    initial_input: MessageType | None = None,
    max_turns: int | None = None,
) -> tuple[Message, ...]:
    """A conversation: the user agent speaks, then the assistant answers, and so on, until `StopLoop` or `max_turns`.

    The user's replies are awaited before the assistant is triggered (so the loop can notice a `StopLoop` from the
    user, e.g. on Ctrl+D in `console_user_agent`); the assistant's replies go to the user agent still streaming, so
    it can show them token by token. Returns what `achain_loop` returns.
    """
    return await achain_loop([user_agent, AWAIT, assistant_agent], initial_input=initial_input, max_turns=max_turns)


def chain_loop(
    agents: Iterable[ChainStep],
    initial_input: MessageType | None = None,
    max_turns: int | None = None,
    mini_agents: MiniAgents | None = None,
) -> tuple[Message, ...]:
    """Blocking `achain_loop` for scripts: runs it in `mini_agents` (a new `MiniAgents()` by default) to the end.

    Inside a running event loop (a notebook cell) it needs a blocking runner, see `miniagents.promising.runner`.
    """
    context = MiniAgents() if mini_agents is None else mini_agents
    return run_blocking(
        lambda: context.arun(achain_loop(agents, initial_input=initial_input, max_turns=max_turns)),
        blocking_call="chain_loop()",
        async_alternative="await achain_loop(...)",
    )


def dialog_loop(
    user_agent: ChainStep,
    assistant_agent: ChainStep,
    initial_input: MessageType | None = None,
    max_turns: int | None = None,
    mini_agents: MiniAgents | None = None,
) -> tuple[Message, ...]:
    """Blocking `adialog_loop` for scripts: runs it in `mini_agents` (a new `MiniAgents()` by default) to the end.

    Inside a running event loop (a notebook cell) it needs a blocking runner, see `miniagents.promising.runner`.
    """
    context = MiniAgents() if mini_agents is None else mini_agents
    return run_blocking(
        lambda: context.arun(
            adialog_loop(user_agent, assistant_agent, initial_input=initial_input, max_turns=max_turns)
        ),
        blocking_call="dialog_loop()",
        async_alternative="await adialog_loop(...)",
    )
