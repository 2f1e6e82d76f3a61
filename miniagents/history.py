"""Histories of agent calls: where records of calls can be read from (`HistorySource`) and one that collects them.

`RecordedCall` (in `miniagents.records`) says where a call's records are and where the call sits in the call tree;
a `HistorySource` lists such calls and hands out their records and messages, serialised. Sources live here, in the
core, so that any store can be one — `InMemoryHistory` collects the records of a live `MiniAgents` (it is an observer,
see `miniagents.observers`); `miniagents.ext.persistence.SQLiteHistory` reads a store file — and any view can render
any source (the notebook's `HistoryInspector` does).

A history that lives long must not grow with every call, so `InMemoryHistory` keeps the latest `max_calls` calls
(`DEFAULT_MAX_CALLS` unless told otherwise; `None` keeps everything), evicts the oldest first, counts what it evicted
and says so (`eviction_note`): a partial list is never mistaken for the whole story.
"""

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from miniagents.lifecycle import AgentCallEvent, CallInitiated, CallRecorded
from miniagents.messages import Message
from miniagents.promising.ext.frozen import hash_keys_made_as, longer_hash_keys
from miniagents.records import AgentCallNode, AgentReplyNode, RecordedCall

__all__ = [
    "DEFAULT_MAX_CALLS",
    "HistorySource",
    "InMemoryHistory",
    "RecordedCall",
    "check_max_calls",
    "eviction_note",
]

DEFAULT_MAX_CALLS = 10_000
"""How many calls a history (or a notebook trace) keeps by default (a few KB each for small calls: some tens of MB)."""

_MIN_UNRECORDED_KEPT = 10_000  # calls made but not recorded yet: a burst of parallel calls may be that large


def check_max_calls(max_calls: int | None, name: str = "max_calls") -> int | None:
    """`max_calls` if it is a positive whole number or `None` (no limit); a `ValueError` naming `name` otherwise."""
    if max_calls is None or (isinstance(max_calls, int) and not isinstance(max_calls, bool) and max_calls > 0):
        return max_calls
    raise ValueError(
        f"`{name}` must be a positive whole number of calls, or None to keep every call; got {max_calls!r}."
    )


def eviction_note(evicted: int, max_calls: int | None) -> str:
    """`… 1,234 older calls evicted (limit 10,000)`, or `""` when nothing was evicted."""
    if not evicted:
        return ""
    limit = "" if max_calls is None else f" (limit {max_calls:,})"
    return f"… {evicted:,} older call{'' if evicted == 1 else 's'} evicted{limit}"


@runtime_checkable
class HistorySource(Protocol):
    """Where records of calls are read from: in memory (`InMemoryHistory`), a store file (`SQLiteHistory`), yours.

    Messages are returned serialised (`Message.serialize()`: a JSON-ready dict with `class_`, the fields, and
    `<field>__hash_key(s)` references to nested messages). A source that can tell when it changes may also offer
    `add_change_listener(callback)` / `remove_change_listener(callback)`; a view (the notebook's `HistoryInspector`)
    then refreshes by itself.
    """

    def list_calls(self, agent_alias: str | None = None, text: str | None = None) -> Sequence[RecordedCall]:
        """Recorded calls in the order they were made; only those of `agent_alias` / containing `text`, if given."""
        ...

    def get_call(self, call_id: str) -> RecordedCall | None: ...

    def get_message(self, hash_key: str) -> Mapping[str, Any] | None: ...

    def sub_calls(self, call_id: str) -> Sequence[RecordedCall]:
        """The recorded calls the agent of `call_id` made, in the order it made them."""
        ...


class _Entry:
    """One recorded call as the history keeps it: where it sits in the call order and its records.

    Nothing in it is hashed when it is recorded: its `RecordedCall` (which names the records by hash key) is made
    when it is first listed, and the hash keys of its messages (`message_keys`, each counted once per call that refers
    to it) when the history's index of messages is first needed (`get_message`) — most calls of a notebook are never
    browsed, and hashing every message of every call cost more than the calls themselves.
    """

    __slots__ = (
        "_call",
        "_search_text",
        "call_id",
        "call_node",
        "longer_hash_keys",
        "message_keys",
        "parent_call_id",
        "rank",
        "reply_node",
    )

    def __init__(
        self,
        call_id: str,
        parent_call_id: str | None,
        rank: int,
        call_node: AgentCallNode,
        reply_node: AgentReplyNode,
        longer_hash_keys: bool,
    ) -> None:
        self.call_id = call_id
        self.longer_hash_keys = longer_hash_keys  # of the context the call ran in: its keys are made as there
        self.parent_call_id = parent_call_id
        self.rank = rank
        self.call_node = call_node
        self.reply_node = reply_node
        self.message_keys: tuple[str, ...] | None = None  # set when the entry is indexed
        self._call: RecordedCall | None = None
        self._search_text: str | None = None

    @property
    def agent_alias(self) -> str:
        return self.call_node.agent_alias

    @property
    def call(self) -> RecordedCall:
        """The call as sources list it (its records' hash keys are computed the first time)."""
        if self._call is None:
            with hash_keys_made_as(self.longer_hash_keys):
                self._call = RecordedCall(
                    call_id=self.call_id,
                    agent_alias=self.call_node.agent_alias,
                    call_hash_key=self.call_node.hash_key,
                    reply_hash_key=self.reply_node.hash_key,
                    parent_call_id=self.parent_call_id,
                )
        return self._call

    @property
    def search_text(self) -> str:
        """What a text filter looks in (made by the first search that needs it: most calls are never searched)."""
        if self._search_text is None:
            with hash_keys_made_as(self.longer_hash_keys):  # the serialised record names its messages' hash keys
                serialized = self.call_node.serialized
            self._search_text = "\n".join(
                [
                    self.call_node.agent_alias,
                    serialized,
                    *map(str, self.call_node.messages),
                    *map(str, self.reply_node.replies),
                ]
            ).casefold()
        return self._search_text


class InMemoryHistory:
    """A `HistorySource` that collects records from a running `MiniAgents`, keeping at most `max_calls` calls.

    It is an observer: `MiniAgents(observers=[history])` or `mini_agents.attach(history)`. Its
    `on_persist_message` is what makes the engine build the records; of the lifecycle events, `CallInitiated` gives
    the parent of every call and `CallRecorded` the call's two records, whose nested messages are kept from the
    records themselves (so nothing is missing when it was attached after some messages were already persisted).
    Nothing is hashed while calls run: a call's records and messages get their hash keys when it is first listed or
    its messages are first asked for (`get_message`), made as they would have been in the context the call ran in.
    `persist` and `handle_event` are the same two handlers under their older names, for `on_persist_messages=` /
    `on_call_event=`.

    A long-running notebook makes far more calls than anyone browses, so the history is bounded: once it holds
    `max_calls` calls (`DEFAULT_MAX_CALLS`, 10,000, unless given; `None` keeps every call), each newly recorded
    call evicts the one recorded longest ago, with the messages no other kept call refers to. `evicted_calls` counts
    them and the inspector shows it (`… 1,234 older calls evicted (limit 10,000)`). A kept call whose parent was
    evicted simply has no parent to link to. A small call costs about 2.5 KB here (long messages cost more), so
    about 25 MB at the default limit.
    """

    call_event_types = (CallInitiated, CallRecorded)  # who called whom, and the records: no per-message events

    def __init__(self, max_calls: int | None = DEFAULT_MAX_CALLS) -> None:
        self._max_calls = check_max_calls(max_calls)
        self.evicted_calls = 0
        """How many calls were recorded and then evicted to stay within `max_calls`."""
        # the index of the messages of the calls kept, by hash key (each counted once per call that refers to it):
        # brought up to date when a message is asked for, from the calls recorded since (`_unindexed`)
        self._messages: dict[str, Message] = {}
        self._message_uses: dict[str, int] = {}
        self._unindexed: deque[_Entry] = deque()  # in the order recorded, as the eviction order is
        self._calls: dict[str, _Entry] = {}
        self._recorded_order: deque[str] = deque()  # the eviction order
        self._initiated: dict[str, tuple[str | None, int]] = {}  # parent and rank of calls not recorded yet
        self._children: dict[str, dict[str, None]] = {}  # recorded calls only
        self._next_rank = 0
        self._listeners: list[Callable[[], None]] = []

    @property
    def max_calls(self) -> int | None:
        """How many calls are kept at most (`None`: all); lowering it evicts the oldest ones at once."""
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

    # --- the observer ------------------------------------------------------------------------------------------

    def on_persist_message(self, _promise: Any, _message: Message) -> None:
        """Keeps nothing by itself: being subscribed makes the engine build the records, and each record brings every
        message it holds (`CallRecorded`)."""

    def on_call_event(self, event: AgentCallEvent) -> None:
        """Remember who called whom, and the records of every finished call."""
        if isinstance(event, CallInitiated):
            self._initiate(event)
        elif isinstance(event, CallRecorded):
            self._record(event)
            self._evict_over_limit()
            self._notify()

    persist = on_persist_message
    handle_event = on_call_event

    async def aflush(self) -> None:
        """Nothing to deliver: every event is taken in as it arrives."""

    async def aclose(self) -> None:
        """Nothing to release: the records stay browsable until the history itself is dropped."""

    def _initiate(self, event: CallInitiated) -> None:
        parent = None if event.parent_call_id is None else str(event.parent_call_id)
        self._initiated[str(event.call_id)] = (parent, self._next_rank)
        self._next_rank += 1
        # calls that never get recorded (made but never started) must not pile up either
        if self._max_calls is not None and len(self._initiated) > max(self._max_calls, _MIN_UNRECORDED_KEPT):
            del self._initiated[next(iter(self._initiated))]

    def _record(self, event: CallRecorded) -> None:
        key = str(event.call_id)
        if key in self._calls:
            return
        parent, rank = self._initiated.pop(key, (None, None))
        if rank is None:
            rank = self._next_rank
            self._next_rank += 1
        entry = _Entry(key, parent, rank, event.call_node, event.reply_node, longer_hash_keys())
        self._calls[key] = entry
        self._unindexed.append(entry)
        self._recorded_order.append(key)
        if parent is not None:
            self._children.setdefault(parent, {})[key] = None

    def _index_recorded(self) -> None:
        """Index the messages of the calls recorded since the last time (hashing them: the first time they are)."""
        while self._unindexed:
            entry = self._unindexed.popleft()
            with hash_keys_made_as(entry.longer_hash_keys):
                messages = [
                    (message.hash_key, message) for message in (*entry.reply_node.sub_messages(), entry.reply_node)
                ]
            message_keys: dict[str, None] = {}
            for hash_key, message in messages:
                if hash_key in message_keys:
                    continue
                message_keys[hash_key] = None
                if hash_key in self._messages:
                    self._message_uses[hash_key] += 1
                else:
                    self._messages[hash_key] = message  # serialised when asked for (`get_message`)
                    self._message_uses[hash_key] = 1
            entry.message_keys = tuple(message_keys)

    def _evict_over_limit(self) -> bool:
        """Evict the calls recorded longest ago until at most `max_calls` remain; whether any were."""
        if self._max_calls is None or len(self._calls) <= self._max_calls:
            return False
        while len(self._calls) > self._max_calls:
            self._evict(self._recorded_order.popleft())
        return True

    def _evict(self, key: str) -> None:
        entry = self._calls.pop(key)
        if entry.message_keys is None:  # not indexed: the oldest of those waiting to be (both orders are the record's)
            if self._unindexed and self._unindexed[0] is entry:
                self._unindexed.popleft()
        else:
            for hash_key in entry.message_keys:
                uses = self._message_uses[hash_key] - 1
                if uses:
                    self._message_uses[hash_key] = uses
                else:
                    del self._message_uses[hash_key]
                    del self._messages[hash_key]
        parent = entry.parent_call_id
        if parent is not None:
            siblings = self._children[parent]
            del siblings[key]
            if not siblings:
                del self._children[parent]
        self.evicted_calls += 1

    def _notify(self) -> None:
        for listener in tuple(self._listeners):
            listener()

    # --- the HistorySource ------------------------------------------------------------------------------------

    def list_calls(self, agent_alias: str | None = None, text: str | None = None) -> list[RecordedCall]:
        needle = text.casefold() if text else None
        entries = sorted(self._calls.values(), key=_rank_of)
        return [
            entry.call
            for entry in entries
            if (agent_alias is None or entry.agent_alias == agent_alias)
            and (needle is None or needle in entry.search_text)
        ]

    def get_call(self, call_id: str) -> RecordedCall | None:
        entry = self._calls.get(call_id)
        return None if entry is None else entry.call

    def get_message(self, hash_key: str) -> Mapping[str, Any] | None:
        self._index_recorded()
        message = self._messages.get(hash_key)
        return None if message is None else message.serialize()

    def sub_calls(self, call_id: str) -> list[RecordedCall]:
        entries = sorted((self._calls[child] for child in self._children.get(call_id, ())), key=_rank_of)
        return [entry.call for entry in entries]

    def add_change_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_change_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def __len__(self) -> int:
        return len(self._calls)


def _rank_of(entry: _Entry) -> int:
    return entry.rank
