"""The live call tree as plain Python: agent calls fed by lifecycle events, and the JSON snapshots views render.

Event handlers run inline in the agents' tasks, so `CallTreeModel.handle_event` only records what happened and tells
its listeners that something changed; building snapshots (rows, bars, details) is left to the views, which do it on
a throttle (`UpdateThrottle`), and again every `CLOCK_INTERVAL` while calls are unfinished. The model follows calls,
not messages: each call's replies are read from its reply sequence promise (`CallInitiated.replies`) when a snapshot
is built, so the engine builds no per-message event for it. Streaming text is read through `text_so_far`, so
watching a reply never starts or consumes anything, and each token is joined once however often the views look.
"""

import asyncio
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from miniagents.errors import ProducerCancelledError
from miniagents.lifecycle import (
    AgentCallEvent,
    CallFinished,
    CallInitiated,
    CallStarted,
    InputMessageAppeared,
)
from miniagents.message_sequence import MessageSequencePromise
from miniagents.messages import Message, MessagePromise
from miniagents_notebook._eviction import DEFAULT_MAX_CALLS, check_max_calls, eviction_note
from miniagents_notebook._style import STATUS_ICONS
from miniagents_notebook._usage_format import (
    UsageSum,
    queued_segment,
    queued_text,
    reply_queued_seconds,
    reply_usage,
    usage_details,
    usage_text,
    usage_title,
)
from miniagents_notebook._view_format import (
    MAX_INDENT_DEPTH,
    bar_segments,
    bar_title,
    count_labels,
    depth_mark,
    format_seconds,
    status_icon,
    time_axis,
)
from miniagents_notebook.rendering import count_text, error_text, format_value
from miniagents_notebook.snapshot import text_so_far

__all__ = ["CallState", "CallStatus", "CallTreeModel", "format_seconds", "is_cancellation"]

CallStatus = Literal["waiting", "running", "done", "error", "cancelled"]

PREVIEW_CHARS = 200
"""How much of the end of a call's reply text the model exposes as its preview."""
ROW_PREVIEW_CHARS = 80
KWARG_CHARS = 60
DETAIL_TEXT_CHARS = 5000
DEFAULT_CHILD_LIMIT = 50
DEFAULT_MAX_ROWS = 1000


def is_cancellation(error: BaseException) -> bool:
    """Whether a call ended because it was cancelled (an interrupted cell, a reset session), not by its own error."""
    return isinstance(error, (asyncio.CancelledError, ProducerCancelledError))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def _one_line_tail(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "…" + flat[-(limit - 1) :]


def _reply_text(promise: MessagePromise) -> tuple[str, bool, str | None]:
    """(text, still streaming, error) of a reply: its message if complete, the text so far if streaming."""
    if promise.done():
        error = promise.exception()
        return ("", False, error_text(error)) if error is not None else (str(promise.result()), False, None)
    return _message_text(promise)


def _message_text(promise: MessagePromise) -> tuple[str, bool, str | None]:
    """(text so far, still streaming, error) of a message promise, read without starting or consuming it."""
    known = promise.known_beforehand
    if isinstance(known, Message):  # a ready message: the promise was made from it
        return str(known), False, None
    text = text_so_far(promise)
    return text.text, not promise.is_streamed, None if text.error is None else error_text(text.error)


@dataclass(eq=False, slots=True)
class CallState:
    """Everything the views show about one agent call; mutated only by `CallTreeModel.handle_event`."""

    call_id: int
    parent_call_id: int | None
    agent_alias: str
    kwargs: tuple[tuple[str, str], ...]
    initiated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    status: CallStatus = "waiting"
    error: str | None = None
    traceback: str | None = None
    children: list[int] = field(default_factory=list)
    input_promises: dict[int, MessagePromise] = field(default_factory=dict)
    reply_sequence: MessageSequencePromise | None = None
    """The promise of the call's replies (from `CallInitiated`): read when a view draws, never followed message by
    message, so watching a call costs nothing per message."""
    own_usage: UsageSum | None = None
    """Tokens and cost of the LLM replies this call's own agent produced."""
    usage: UsageSum | None = None
    """`own_usage` plus that of every call below it (evicted ones included)."""
    queued_seconds: float | None = None
    """How long this (LLM) call waited for a concurrency or rate-limit slot, as its replies say (once it finished;
    `live_queued_seconds` also reads it from a reply still streaming)."""
    done_replies: int = 0
    """How many replies from the first are known to be complete (they need no second look)."""

    @property
    def kwargs_text(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.kwargs)

    def elapsed(self, now: float) -> float:
        """Seconds from initiation to the end (or to `now` while unfinished)."""
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - self.initiated_at)

    @property
    def reply_pieces(self) -> tuple[Any, ...]:
        """The reply sequence so far: message promises, and errors at their positions."""
        return () if self.reply_sequence is None else self.reply_sequence.pieces_so_far

    @property
    def reply_promises(self) -> dict[int, MessagePromise]:
        """The reply message promises so far, by position in the reply sequence."""
        return {index: piece for index, piece in enumerate(self.reply_pieces) if not isinstance(piece, BaseException)}

    def reply_count(self) -> int:
        pieces = self.reply_pieces
        return len(pieces) - sum(isinstance(piece, BaseException) for piece in pieces)

    def reply_text(self, index: int) -> tuple[str, bool, str | None]:
        """(text, still streaming, error) of reply `index`."""
        return _reply_text(self.reply_pieces[index])

    def streaming_replies(self) -> Iterator[MessagePromise]:
        """The replies still streaming; the complete ones from the first are counted so as not to look at them
        again."""
        pieces = self.reply_pieces
        start = self.done_replies
        for position in range(start, len(pieces)):
            piece = pieces[position]
            if isinstance(piece, BaseException) or piece.done() or isinstance(piece.known_beforehand, Message):
                if position == start:
                    start += 1
                continue
            yield piece
        self.done_replies = start

    def live_queued_seconds(self) -> float | None:
        """`queued_seconds`, or, while the call runs, what a reply still streaming says it waited (an LLM reply knows
        it before its first token)."""
        if self.queued_seconds is not None or self.finished_at is not None:
            return self.queued_seconds
        for promise in self.streaming_replies():
            known_beforehand = promise.known_beforehand
            if _may_carry_usage(known_beforehand):
                queued = reply_queued_seconds(known_beforehand, self.agent_alias)
                if queued:
                    return queued
        return None

    def preview(self, chars: int = PREVIEW_CHARS) -> str:
        """The last `chars` characters of the replies so far (joined by newlines), streaming ones included; only
        those characters are read."""
        tails: list[str] = []
        size = -1  # the length of the tails joined so far (the first one has no newline before it)
        for piece in reversed(self.reply_pieces):
            if isinstance(piece, BaseException):
                continue
            text = _reply_text(piece)[0]
            room = chars - size - 1
            if room < 0:
                break
            if text:
                tails.append(text[max(0, len(text) - room) :])
                size += len(tails[-1]) + 1
        return "\n".join(reversed(tails))


def _row_identity(call: CallState, depth: int) -> dict[str, Any]:
    """What a call-tree row and a timeline bar both say of their call: which it is, where, and how it is doing."""
    return {
        "id": call.call_id,
        "depth": depth,
        "alias": call.agent_alias,
        "kwargs": call.kwargs_text,
        "status": call.status,
        "icon": status_icon(call.status),
    }


def _may_carry_usage(fields: Any) -> bool:
    """Whether a message (or the fields known before it) may carry usage or a queue wait: LLM replies carry them as
    extra fields; a message with none (most messages) is skipped without looking further."""
    return bool(getattr(fields, "__pydantic_extra__", True))


class CallTreeModel:
    """Agent calls arranged under the calls that made them, updated from lifecycle events.

    Feed it events with `handle_event` (it is a valid `on_call_event` handler on its own); a call whose parent is not
    in the model becomes a root. Listeners added with `add_listener` are called (without arguments) after every
    change; they should only schedule work.

    The model keeps at most `max_calls` calls (`DEFAULT_MAX_CALLS`, 10,000, unless given; `None` keeps all): each
    call that finishes beyond the limit evicts the call that finished longest ago, with its messages. Calls that have
    not finished are never evicted, nor is a finished call while calls it made are still in the model (it goes as
    soon as they are gone), so every kept call still hangs under its parent. `evicted_calls` counts the evicted ones
    and every snapshot says so (`… 1,234 older calls evicted (limit 10,000)`). A small call costs about 3.5 KB here
    (its message promises keep the messages; long messages cost more), so about 35 MB at the default limit.
    """

    call_event_types = (CallInitiated, CallStarted, InputMessageAppeared, CallFinished)  # no per-reply events

    def __init__(self, max_calls: int | None = DEFAULT_MAX_CALLS) -> None:
        self.calls: dict[int, CallState] = {}
        self.roots: list[int] = []
        self.version = 0
        self._max_calls = check_max_calls(max_calls)
        self.evicted_calls = 0
        """How many finished calls were dropped to stay within `max_calls`."""
        self.run_usage = UsageSum()
        """Tokens and cost of every LLM reply of the calls in the model (evicted ones included)."""
        self._finished_order: deque[int] = deque()  # the eviction order
        self._evict_when_childless: set[int] = set()  # finished calls due for eviction that still have children
        self._streaming_after_finish: set[int] = set()  # finished calls with a reply still streaming
        self._unfinished: set[int] = set()
        self._listeners: list[Callable[[], None]] = []

    @property
    def max_calls(self) -> int | None:
        """How many calls are kept at most (`None`: all); lowering it evicts the oldest finished ones at once."""
        return self._max_calls

    @max_calls.setter
    def max_calls(self, max_calls: int | None) -> None:
        self._max_calls = check_max_calls(max_calls)
        if self._evict_over_limit():
            self._notify()

    @property
    def eviction_note(self) -> str:
        """`… 1,234 older calls evicted (limit 10,000)`, or `""` while nothing was evicted."""
        return eviction_note(self.evicted_calls, self._max_calls)

    # --- events ------------------------------------------------------------------------------------------------

    def handle_event(self, event: AgentCallEvent) -> None:
        """Record `event` and notify the listeners (events of calls the model does not know are ignored)."""
        if isinstance(event, CallInitiated):
            self._initiate(event)
        else:
            call = self.calls.get(event.call_id)
            if call is None or not self._apply(call, event):
                return
        self._notify()

    def _notify(self) -> None:
        self.version += 1
        for listener in tuple(self._listeners):
            listener()

    def _initiate(self, event: CallInitiated) -> None:
        parent_id = event.parent_call_id if event.parent_call_id in self.calls else None
        self.calls[event.call_id] = CallState(
            call_id=event.call_id,
            parent_call_id=parent_id,
            agent_alias=event.agent_alias,
            kwargs=tuple((name, format_value(value, KWARG_CHARS)) for name, value in event.kwargs.items()),
            initiated_at=event.time,
            reply_sequence=event.replies,
        )
        self._unfinished.add(event.call_id)
        (self.calls[parent_id].children if parent_id is not None else self.roots).append(event.call_id)

    def _apply(self, call: CallState, event: AgentCallEvent) -> bool:
        if isinstance(event, CallStarted):
            call.started_at = event.time
            call.status = "running"
        elif isinstance(event, InputMessageAppeared):
            call.input_promises[event.index] = event.message_promise
        elif isinstance(event, CallFinished):
            call.finished_at = event.time
            if call.started_at is None:
                call.started_at = event.time
            if event.error is None:
                call.status = "done"
            else:
                call.status = "cancelled" if is_cancellation(event.error) else "error"
                call.error = error_text(event.error)
                call.traceback = "".join(traceback.format_exception(event.error))
            self._unfinished.discard(call.call_id)
            self._count_replies(call)
            self._finished_order.append(call.call_id)
            self._evict_over_limit()
        else:
            return False
        return True

    def _count_replies(self, call: CallState) -> None:
        """Count the usage of the replies of a call that finished: now for the complete ones (nearly all), when they
        resolve for the ones still streaming."""
        for piece in call.reply_pieces:
            if isinstance(piece, BaseException):
                continue
            message = piece.message_if_complete
            if message is not None:
                if message.__pydantic_extra__:  # a plain message (most are) carries no usage
                    self._count_usage(call, message)
            elif not piece.done():
                self._streaming_after_finish.add(call.call_id)
                piece.add_done_callback(_LateReply(self, call.call_id))

    def _late_reply_resolved(self, call_id: int, promise: MessagePromise) -> None:
        call = self.calls.get(call_id)
        if call is None:  # evicted meanwhile
            return
        if promise.exception() is None and _may_carry_usage(promise.result()):
            self._count_usage(call, promise.result())
        if not any(True for _ in call.streaming_replies()):
            self._streaming_after_finish.discard(call_id)
        self._notify()

    def _count_usage(self, call: CallState, message: Message) -> None:
        """Add the tokens and cost of an LLM reply of the call's own agent to the call, every call above it and the
        run."""
        call.queued_seconds = reply_queued_seconds(message, call.agent_alias) or call.queued_seconds
        usage = reply_usage(message, call.agent_alias)
        if usage is None:
            return
        if call.own_usage is None:
            call.own_usage = UsageSum()
        call.own_usage.add(usage)
        above: CallState | None = call
        while above is not None:
            if above.usage is None:
                above.usage = UsageSum()
            above.usage.add(usage)
            above = self.calls.get(above.parent_call_id) if above.parent_call_id is not None else None
        self.run_usage.add(usage)

    # --- eviction ----------------------------------------------------------------------------------------------

    def _evict_over_limit(self) -> bool:
        """Evict the calls that finished longest ago until at most `max_calls` remain (or only unfinished calls and
        their ancestors do); whether any were. Each call is looked at once here, so this is O(1) per call overall."""
        if self._max_calls is None:
            return False
        evicted_before = self.evicted_calls
        while len(self.calls) > self._max_calls and self._finished_order:
            call = self.calls[self._finished_order.popleft()]
            if call.children:
                self._evict_when_childless.add(call.call_id)
            else:
                self._evict(call)
        return self.evicted_calls != evicted_before

    def _evict(self, call: CallState) -> None:
        while True:
            del self.calls[call.call_id]
            self._evict_when_childless.discard(call.call_id)
            self._streaming_after_finish.discard(call.call_id)
            self.evicted_calls += 1
            parent = self.calls[call.parent_call_id] if call.parent_call_id is not None else None
            siblings = self.roots if parent is None else parent.children
            if siblings[0] == call.call_id:  # the usual case: the oldest sibling goes first
                del siblings[0]
            else:
                siblings.remove(call.call_id)
            if parent is None or parent.children or parent.call_id not in self._evict_when_childless:
                return
            call = parent  # its last child went: the parent was due already

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- state -------------------------------------------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        """Whether every call in the model has finished (true for an empty model)."""
        return not self._unfinished

    def _calls_that_may_stream(self) -> Iterator[CallState]:
        for call_id in (*self._unfinished, *self._streaming_after_finish):
            call = self.calls.get(call_id)
            if call is not None:
                yield call

    @property
    def is_streaming(self) -> bool:
        """Whether some reply is still streaming (its text can grow without any new event)."""
        return any(True for call in self._calls_that_may_stream() for _ in call.streaming_replies())

    def streaming_signature(self) -> int:
        """Changes whenever a reply appears or a streaming reply gets more text; cheap enough to poll (the replies
        known to be complete are not looked at again)."""
        appeared = 0
        streaming: set[MessagePromise] = set()  # a reply passed along is looked at once
        for call in self._calls_that_may_stream():
            appeared += len(call.reply_pieces)
            streaming.update(call.streaming_replies())
        return appeared + sum(text_so_far(promise).pieces for promise in streaming)

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUS_ICONS, 0)
        for call in self.calls.values():
            counts[call.status] += 1
        return counts

    def walk(
        self, child_limits: Mapping[int, int] | None = None, child_limit: int = DEFAULT_CHILD_LIMIT
    ) -> Iterator[tuple[int, CallState | None, int, int | None]]:
        """Pre-order `(depth, call, hidden, parent_id)`; a `call` of `None` stands for `hidden` more siblings.

        Each parent shows at most `child_limits.get(parent_id, child_limit)` children (roots use the key `-1`).
        """
        child_limits = child_limits or {}
        stack: list[tuple[int, int | None, list[int], int]] = [(0, None, self.roots, 0)]
        while stack:
            depth, parent_id, siblings, position = stack.pop()
            limit = child_limits.get(-1 if parent_id is None else parent_id, child_limit)
            if position >= len(siblings):
                continue
            if position >= limit:
                yield depth, None, len(siblings) - position, parent_id
                continue
            call = self.calls[siblings[position]]
            stack.append((depth, parent_id, siblings, position + 1))
            yield depth, call, 0, parent_id
            if call.children:
                stack.append((depth + 1, call.call_id, call.children, 0))

    # --- snapshots ---------------------------------------------------------------------------------------------

    def as_text(self, child_limit: int = DEFAULT_CHILD_LIMIT, max_rows: int = DEFAULT_MAX_ROWS) -> str:
        """The tree as text: aliases, shape and statuses only, so it is the same on every run (nbval compares it).
        Once older calls were evicted, a first line says how many. Bounded like the views: at most `max_rows` calls,
        and calls deeper than `MAX_INDENT_DEPTH` indented no further (marked `↳depth`), each with a last line that
        says so — a 1,000-deep chain is ~100 KB of text, not ~1.5 MB of indentation."""
        lines = [self.eviction_note] if self.evicted_calls else []
        if not self.roots:
            return "\n".join([*lines, "(no agent calls)"])
        rows = 0
        deepest = 0
        # (siblings, position, prefix of their lines, their depth)
        stack: list[tuple[list[int], int, str, int]] = [(self.roots, 0, "", 0)]
        while stack:
            siblings, position, prefix, depth = stack.pop()
            are_roots = depth == 0
            if rows >= max_rows:
                lines.append(f"… more calls not shown ({rows:,} of {len(self.calls):,} shown)")
                break
            shown = min(len(siblings), child_limit)
            if position >= shown:
                lines.append(f"{prefix}{'' if are_roots else '└─ '}… {len(siblings) - shown} more")
                continue
            is_last = position + 1 >= len(siblings)
            call = self.calls[siblings[position]]
            usage = usage_text(call.usage)
            lines.append(
                f"{prefix}{'' if are_roots else '└─ ' if is_last else '├─ '}{depth_mark(depth)}"
                f"{call.agent_alias} [{call.status}]" + (f" {usage}" if usage else "")
            )
            rows += 1
            deepest = max(deepest, depth)
            if position + 1 < len(siblings):
                stack.append((siblings, position + 1, prefix, depth))
            if call.children:
                indented = are_roots or depth >= MAX_INDENT_DEPTH
                child_prefix = prefix if indented else prefix + ("   " if is_last else "│  ")
                stack.append((call.children, 0, child_prefix, depth + 1))
        if deepest > MAX_INDENT_DEPTH:
            lines.append(f"(calls deeper than {MAX_INDENT_DEPTH} levels are not indented further; ↳N is their depth)")
        if self.run_usage.llm_replies:
            lines.append(f"Run: {usage_title(self.run_usage)}")
        return "\n".join(lines)

    def tree_snapshot(
        self,
        now: float,
        child_limits: Mapping[int, int] | None = None,
        child_limit: int = DEFAULT_CHILD_LIMIT,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> dict[str, Any]:
        """The rows of the tree view (pre-order, with `more` rows for collapsed siblings, at most `max_rows`), the
        number of calls in each status and in all; durations and status marks come formatted (`_view_format`)."""
        rows: list[dict[str, Any]] = []
        beyond_max_rows = 0
        for depth, call, hidden, parent_id in self.walk(child_limits, child_limit):
            if len(rows) >= max_rows:
                beyond_max_rows += 1 if call is not None else hidden
                continue
            if call is None:
                siblings = self.roots if parent_id is None else self.calls[parent_id].children
                rows.append(
                    {
                        "more": hidden,
                        "shown": len(siblings) - hidden,
                        "parent": -1 if parent_id is None else parent_id,
                        "depth": depth,
                    }
                )
                continue
            elapsed = round(call.elapsed(now), 3)
            rows.append(
                {
                    **_row_identity(call, depth),
                    "elapsed": elapsed,
                    "elapsed_text": format_seconds(elapsed),
                    "inputs": len(call.input_promises),
                    "replies": call.reply_count(),
                    "children": len(call.children),
                    "preview": _one_line_tail(call.preview(), ROW_PREVIEW_CHARS),
                    "error": call.error,
                    "usage_text": usage_text(call.usage),
                    "usage_title": usage_title(call.usage),
                }
            )
        if beyond_max_rows:
            rows.append({"more": beyond_max_rows, "parent": None, "depth": 0})
        counts = self.status_counts()
        return {
            "rows": rows,
            "counts": counts,
            "count_labels": count_labels(counts),
            "total": len(self.calls),
            "evicted": self.evicted_calls,
            "evicted_note": self.eviction_note,
            **self._run_usage_texts(),
        }

    def _run_usage_texts(self) -> dict[str, str]:
        """The run's tokens and cost for a header: `usage_text` to show, `usage_title` to hover."""
        return {"usage_text": usage_text(self.run_usage), "usage_title": usage_title(self.run_usage)}

    def timeline_snapshot(
        self,
        now: float,
        child_limits: Mapping[int, int] | None = None,
        child_limit: int = DEFAULT_CHILD_LIMIT,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> dict[str, Any]:
        """Bars in tree order, times in seconds relative to the first call (`end` is `None` while unfinished), each
        with where it goes on the time axis and its tooltip; the axis' ticks; the number of calls in each status."""
        counts = self.status_counts()
        common = {
            "counts": counts,
            "count_labels": count_labels(counts),
            "evicted": self.evicted_calls,
            "evicted_note": self.eviction_note,
            **self._run_usage_texts(),
        }
        if not self.calls:
            return {
                "bars": [],
                "calls_text": count_text(0, "call"),
                "span": 0.0,
                "span_text": format_seconds(0.0),
                "now": 0.0,
                "ticks": [],
                "hidden": 0,
                **common,
            }
        origin = min(call.initiated_at for call in self.calls.values())
        ends = [call.finished_at if call.finished_at is not None else now for call in self.calls.values()]
        span = round(max(ends) - origin, 4)
        now = round(now - origin, 4)
        bars = []
        hidden = 0
        for depth, call, more, _ in self.walk(child_limits, child_limit):
            if call is None:
                hidden += more
                continue
            if len(bars) >= max_rows:
                hidden += 1
                continue
            bar = {
                **_row_identity(call, depth),
                "start": round(call.initiated_at - origin, 4),
                "run": None if call.started_at is None else round(call.started_at - origin, 4),
                "end": None if call.finished_at is None else round(call.finished_at - origin, 4),
                "error": call.error,
            }
            end = bar["end"] if bar["end"] is not None else now
            bar["segments"] = bar_segments(bar["start"], bar["run"], end, span)
            queued_seconds = call.live_queued_seconds()
            queued = queued_segment(bar["run"], queued_seconds, end, span)
            if queued is not None:
                bar["segments"]["queued"] = queued
            bar["usage_text"] = usage_text(call.usage)
            bar["title"] = " · ".join(
                part for part in (bar_title(bar, end), queued_text(queued_seconds), usage_title(call.usage)) if part
            )
            bars.append(bar)
        shown = f" ({len(bars):,} shown)" if hidden else ""
        return {
            "bars": bars,
            "calls_text": count_text(len(self.calls), "call") + shown,
            "span": span,
            "span_text": format_seconds(span),
            "now": now,
            "ticks": time_axis(span),
            "hidden": hidden,
            **common,
        }

    def call_details(self, call_id: int, now: float, child_limit: int = DEFAULT_CHILD_LIMIT) -> dict[str, Any]:
        """Everything about one call for the details panel: inputs and replies (live text), error and traceback."""
        call = self.calls.get(call_id)
        if call is None:
            return {}
        parent = self.calls.get(call.parent_call_id) if call.parent_call_id is not None else None
        inputs = []
        for index in sorted(call.input_promises):
            text, streaming, error = _message_text(call.input_promises[index])
            inputs.append(
                {"index": index, "text": _cut(text, DETAIL_TEXT_CHARS), "streaming": streaming, "error": error}
            )
        replies = []
        for index in sorted(call.reply_promises):
            text, streaming, error = call.reply_text(index)
            replies.append(
                {"index": index, "text": _cut(text, DETAIL_TEXT_CHARS), "streaming": streaming, "error": error}
            )
        children = [
            {
                "id": child.call_id,
                "alias": child.agent_alias,
                "status": child.status,
                "icon": status_icon(child.status),
            }
            for child in (self.calls[child_id] for child_id in call.children[:child_limit])
        ]
        elapsed = round(call.elapsed(now), 3)
        waited = None if call.started_at is None else round(call.started_at - call.initiated_at, 3)
        return {
            "id": call.call_id,
            "alias": call.agent_alias,
            "kwargs": [list(item) for item in call.kwargs],
            "kwargs_text": call.kwargs_text,
            "status": call.status,
            "icon": status_icon(call.status),
            "elapsed": elapsed,
            "elapsed_text": format_seconds(elapsed),
            "waited": waited,
            "waited_text": format_seconds(waited) if waited else "",
            "parent": None if parent is None else {"id": parent.call_id, "alias": parent.agent_alias},
            "children": children,
            "hidden_children": max(0, len(call.children) - child_limit),
            "inputs": inputs,
            "replies": replies,
            "error": call.error,
            "traceback": call.traceback,
            "usage": usage_details(call.own_usage, call.usage, call.live_queued_seconds()),
        }

    def is_call_streaming(self, call_id: int) -> bool:
        """Whether any input or reply of the call is still streaming (its details can change without events)."""
        call = self.calls.get(call_id)
        if call is None:
            return False
        promises = [*call.input_promises.values(), *call.reply_promises.values()]
        return any(
            not promise.is_streamed and not isinstance(promise.known_beforehand, Message) for promise in promises
        )


class _LateReply:
    """Tells the model that a reply of a finished call, still streaming when the call ended, is complete."""

    __slots__ = ("call_id", "model")

    def __init__(self, model: CallTreeModel, call_id: int) -> None:
        self.model = model
        self.call_id = call_id

    def __call__(self, promise: MessagePromise) -> None:
        self.model._late_reply_resolved(self.call_id, promise)  # noqa: SLF001 - the model's own callback
