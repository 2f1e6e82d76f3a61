"""Messages (immutable, content-hashed) and the promises that stream them.

A `MessagePromise` streams one message token by token and resolves to the `Message`, replayed from the start for
every consumer. Sequences of messages (`MessageSequencePromise`, `MessageSequence`) build on these in
`miniagents.message_sequence`.
"""

import json
import traceback
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, ClassVar

from pydantic import ConfigDict

from miniagents.promising._deprecation import pick_renamed_argument, warn_deprecated
from miniagents.promising.context import PromisingContext
from miniagents.promising.ext.frozen import Frozen, externalized_children, holds_nested_models, normalize_text
from miniagents.promising.promising import StreamAppender, StreamedPromise
from miniagents.promising.sentinels import DEFAULT, Sentinel

__all__ = [
    "ErrorMessage",
    "Message",
    "MessagePromise",
    "MessageTokenAppender",
    "MessageTokenStreamer",
    "StrictMessage",
    "TextMessage",
    "TextToken",
    "Token",
    "plain_text_message",
]

MessageTokenStreamer = Callable[[dict[str, Any]], AsyncIterator[Any]]
"""`streamer(metadata_so_far)` yields tokens (str or Token); fields it puts in the dict end up on the message."""


class Token(Frozen):
    """A piece of a streamed message that carries more than text; `str(token)` is what it adds to the text."""

    def _as_string(self) -> str:
        return ""


class TextToken(Token):
    """A token of text with metadata of its own; plain `str` tokens are the fast, common case."""

    content: str

    def _as_string(self) -> str:
        return self.content


class Message(Frozen):
    """An immutable message. Any extra field is allowed (and frozen); nested messages are kept by reference.

    `str(message)` is the text an LLM would see: the content for text messages, the JSON of the fields in a
    ```` ```json ```` block otherwise.
    """

    _externalized_types: ClassVar[tuple[type, ...]] = ()

    def __init__(self, *args: Any, **data: Any) -> None:
        if args or "text" in data:
            warn_deprecated("Message(text=...)", "TextMessage(content=...) or TextMessage('...')")
            if args:
                data["text"] = args[0]
        super().__init__(**data)

    def _as_string(self) -> str:
        text = self.get("text")
        if isinstance(text, str):
            return text
        # a fenced block, as MiniAgents writes it: a prompt built from such messages reads the same under both
        return f"```json\n{self.full_json}\n```"

    @property
    def as_promise(self) -> "MessagePromise":
        """This message as an already resolved `MessagePromise` (so it can go wherever promises go).

        A new promise each time: cached on the message, it would refer to the message that refers to it, and every
        message would become garbage that only the cyclic collector can free.
        """
        return MessagePromise(prefill_message=self)

    @classmethod
    def promise(
        cls,
        start_soon: bool | Sentinel = DEFAULT,
        message_token_streamer: "MessageTokenStreamer | MessageTokenAppender | None" = None,
        start_asap: bool | Sentinel = DEFAULT,
        **known_beforehand: Any,
    ) -> "MessagePromise":
        """A promise of a message of this class: streamed by `message_token_streamer`, or made at once from fields."""
        start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
        if message_token_streamer is None:
            return cls(**known_beforehand).as_promise
        return MessagePromise(
            start_soon=start_soon,
            message_token_streamer=message_token_streamer,
            message_class=cls,
            **known_beforehand,
        )

    def sub_messages(self) -> Iterable["Message"]:
        """Every message nested in this one (at any depth), depth-first, inner ones before the ones holding them.

        Iterative, so a chain of thousands of messages referring to one another is no problem.
        """
        stack: list[tuple[Message | None, Iterator[Frozen]]] = [(None, externalized_children(self, (Message,)))]
        while stack:
            holder, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if holder is not None:
                    yield holder
            elif holds_nested_models(child):
                stack.append((child, externalized_children(child, (Message,))))  # type: ignore[arg-type]
            else:  # a message of plain values (most are): nothing inside to visit first
                yield child  # type: ignore[misc]


Message._externalized_types = (Message,)  # noqa: SLF001 - configures the class (it refers to itself)


class TextMessage(Message):
    """A message whose text is `content`, or `content_template` (when set) formatted with the message's fields."""

    content: str | None = None
    content_template: str | None = None

    def __init__(self, content: str | None = None, **data: Any) -> None:
        if content is not None:
            data["content"] = content
        super().__init__(**data)

    def _as_string(self) -> str:
        if self.content_template is not None:
            return self.content_template.format(**self.frozen_fields_and_values(exclude_class=False))
        if self.content is not None:
            return self.content
        return super()._as_string()

    def _direct_json(self) -> str | None:
        # a message of text only (what every `str` replied becomes) written directly: the JSON with sorted keys that
        # `Frozen` would write (hence the same hash key), without building a dict and sorting it for every message
        if (
            self.__class__ is TextMessage
            and self.content_template is None
            and self.content.__class__ is str
            and not self.__pydantic_extra__
        ):
            return f'{{"class_": "TextMessage", "content": {_json_string(self.content)}, "content_template": null}}'
        return None


_json_string = json.encoder.encode_basestring
"""A str as a JSON string literal, non-ASCII characters kept (the escaping `json.dumps(ensure_ascii=False)` does)."""


def plain_text_message(text: str) -> TextMessage:
    """`TextMessage(content=text)` for a plain `str`, without going through pydantic validation.

    The engine turns every `str` replied or sent into such a message, so this is one of its hottest paths. The
    fields of the result are known in advance (`class_`, the normalised `content`, `content_template=None`); the
    first call checks that the shortcut builds exactly what validation builds (the same fields, fields set, extra and
    private state), and if a pydantic release ever stores models differently, validation is used from then on.
    """
    if _plain_text_shortcut_works is not False:
        message = _construct_plain_text_message(text)
        if _plain_text_shortcut_works or _check_plain_text_shortcut(message, text):
            return message
    return TextMessage(content=text)


_plain_text_shortcut_works: bool | None = None
_PLAIN_TEXT_FIELDS_SET = frozenset({"class_", "content"})


def _construct_plain_text_message(text: str) -> TextMessage:
    message = object.__new__(TextMessage)
    set_attribute = object.__setattr__  # the model is frozen; this is how pydantic itself fills one in
    set_attribute(
        message, "__dict__", {"class_": "TextMessage", "content": normalize_text(text), "content_template": None}
    )
    set_attribute(message, "__pydantic_fields_set__", set(_PLAIN_TEXT_FIELDS_SET))
    set_attribute(message, "__pydantic_extra__", {})
    set_attribute(message, "__pydantic_private__", None)
    return message


def _check_plain_text_shortcut(message: TextMessage, text: str) -> bool:
    global _plain_text_shortcut_works
    validated = TextMessage(content=text)
    _plain_text_shortcut_works = (
        all(
            getattr(message, name) == getattr(validated, name)
            for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
        )
        and set(vars(TextMessage).get("__private_attributes__", {})) == set()
    )
    return _plain_text_shortcut_works


class StrictMessage(Message):
    """A message that accepts only the fields its class declares (typos become validation errors)."""

    model_config = ConfigDict(extra="forbid")


class ErrorMessage(TextMessage):
    """An error that travels as a message (with `errors_as_messages=True`) instead of being raised."""

    error_class: str | None = None

    def serialize(self) -> dict[str, Any]:
        # without a known error class the record (and so the hash key) is the one MiniAgents writes
        serialized = super().serialize()
        if serialized.get("error_class", "") is None:
            del serialized["error_class"]
        return serialized

    @classmethod
    def from_error(cls, error: BaseException, **fields: Any) -> "ErrorMessage":
        """An `ErrorMessage` describing `error`: its class name and its text (its whole traceback instead when the
        active context has `error_tracebacks_in_messages` set)."""
        context = PromisingContext.get_current_or_none()
        if getattr(context, "error_tracebacks_in_messages", False):
            content = "".join(traceback.format_exception(error)).rstrip("\n")
        else:
            content = f"{type(error).__name__}: {error}"
        return cls(content=content, error_class=type(error).__name__, **fields)


class MessageTokenAppender(StreamAppender[Any]):
    """Tokens pushed by hand into a `MessagePromise`: pass it as the promise's `message_token_streamer`.

        with MessageTokenAppender() as appender:
            promise = MessagePromise(message_token_streamer=appender, role="assistant")
            appender.append("Hel")
            appender.append("lo")
            appender.auxiliary_field_collector["model"] = "gpt-4o"  # becomes a field of the message

    Fields put into `auxiliary_field_collector` before the appender closes end up on the resolved message.
    """

    def __init__(self, capture_errors: bool | Sentinel = DEFAULT) -> None:
        super().__init__(capture_errors=capture_errors)
        self.auxiliary_field_collector: dict[str, Any] = {}


class MessagePromise(StreamedPromise[Any, Message]):
    """A promise of one message, streamed token by token (`async for token in promise`), resolved by `await`.

    `known_beforehand` holds the fields known before the first token (role, model, agent alias, …) so a consumer
    can decide what to do with a message before it is complete.
    """

    known_beforehand: Frozen
    message_class: type[Message]

    def __init__(
        self,
        start_soon: bool | Sentinel = DEFAULT,
        message_token_streamer: "MessageTokenStreamer | MessageTokenAppender | None" = None,
        prefill_message: Message | None = None,
        message_class: type[Message] | None = None,
        start_asap: bool | Sentinel = DEFAULT,
        **known_beforehand: Any,
    ) -> None:
        if start_asap is not DEFAULT:
            start_soon = pick_renamed_argument(start_soon, start_asap, old="start_asap", new="start_soon")
        if prefill_message is not None:
            if message_token_streamer is not None or known_beforehand:
                raise TypeError("Pass either `prefill_message` or a token streamer with fields, not both.")
            self.known_beforehand = prefill_message
            self.message_class = type(prefill_message)
            self._prefill_message = prefill_message
            super().__init__(prefill_result=prefill_message, start_soon=False)
            return
        message_class = TextMessage if message_class is None else message_class
        if message_token_streamer is None:
            raise TypeError("A MessagePromise needs `message_token_streamer` (or `prefill_message` for a ready one).")
        self._prefill_message = None
        self._token_appender = None
        if isinstance(message_token_streamer, MessageTokenAppender):
            appender = self._token_appender = message_token_streamer
            message_token_streamer = lambda _metadata: appender  # noqa: E731 - the appender is the stream
        self.known_beforehand = Frozen(**known_beforehand)
        self.message_class = message_class
        self._metadata_so_far = dict(known_beforehand)
        self._message_token_streamer = message_token_streamer
        super().__init__(start_soon=start_soon)

    @property
    def message_if_complete(self) -> "Message | None":
        """The message, if the promise resolved to one; else `None` (still streaming, or failed).

        One attribute read, for code that looks at many promises at once (a view counting the token usage of a call's
        replies), where `done()`, `exception()` and `result()` would be three calls each.
        """
        result = self._result
        return result if isinstance(result, Message) else None

    @property
    def preliminary_metadata(self) -> Frozen:
        """Deprecated name of `known_beforehand`."""
        warn_deprecated("MessagePromise.preliminary_metadata", "MessagePromise.known_beforehand")
        return self.known_beforehand

    def _produce(self) -> None:
        if self._prefill_message is not None:  # a ready message streams its text as one token (computed on demand)
            self.append_piece(str(self._prefill_message))
            self.finish_stream()
            return
        super()._produce()

    def _streamer(self) -> AsyncIterator[Any]:
        return self._message_token_streamer(self._metadata_so_far)

    def _on_stream_finished(self) -> None:
        if self._prefill_message is not None or self.is_resolved:
            return
        tokens = self._pieces
        for token in tokens:
            if isinstance(token, BaseException):
                self._set_failure(token)
                return
        if self._token_appender is not None:
            self._metadata_so_far.update(self._token_appender.auxiliary_field_collector)
        try:
            message = _build_message(self.message_class, "".join(map(str, tokens)), self._metadata_so_far)
        except Exception as error:  # e.g. unfreezable metadata; reported to whoever awaits
            self._set_failure(error)
        else:
            self._set_result(message)

    def _start_resolving(self) -> None:
        # streaming to the end is what resolves a message (see `_on_stream_finished`)
        self._resolving = True
        self._start_producing()

    def __repr__(self) -> str:
        state = "resolved" if self.is_resolved else "streaming" if self.production_started else "pending"
        return f"<{type(self).__name__} {self.message_class.__name__} {state}>"


def _build_message(message_class: type[Message], text: str, fields: dict[str, Any]) -> Message:
    if issubclass(message_class, TextMessage):
        return message_class(**{**fields, "content": text})
    return message_class(**{"content": text, **fields})


def __getattr__(name: str) -> Any:
    # `miniagents.messages.MessageSequence(Promise)` are old import paths: sequences live in `message_sequence`,
    # which builds on this module (never the other way round)
    if name in ("MessageSequence", "MessageSequencePromise"):
        from miniagents import message_sequence

        return getattr(message_sequence, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
