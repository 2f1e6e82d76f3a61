"""Rebuilding `Message` objects from their rows, nested messages included.

All rows needed (the requested ones and everything they reference, transitively) are fetched first; then messages
are built children first, without recursion, so long chains of messages referencing each other load fine. A
`<field>__hash_key(s)` key of the stored JSON becomes the nested message(s) only where `reference_lists` has
exactly those keys at that path — a user field that merely happens to be named like that stays a plain value.
"""

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from miniagents.ext.persistence.encoding import field_path, item_path
from miniagents.ext.persistence.errors import MessageNotFoundError
from miniagents.ext.persistence.registry import ClassResolver
from miniagents.messages import Message
from miniagents.promising.ext.frozen import Frozen

__all__ = ["StoredRows", "build_messages", "fetch_rows"]

logger = logging.getLogger(__name__)

_SQL_CHUNK = 500  # stays far below SQLite's limit of variables per statement
_HASH_KEY_SUFFIX = "__hash_key"
_HASH_KEYS_SUFFIX = "__hash_keys"

# hash_key -> (class_name, class_path, serialized)
_Rows = dict[str, tuple[str, str, str]]
# parent hash_key -> field path -> child hash_keys, in order
_References = dict[str, dict[str, list[str]]]


@dataclass(frozen=True, slots=True)
class StoredRows:
    """The rows of some messages and of everything they reference, as fetched by `fetch_rows`."""

    rows: _Rows
    references: _References


def fetch_rows(connection: sqlite3.Connection, hash_keys: Iterable[str], database: str) -> StoredRows:
    """Fetch the rows of `hash_keys` and of every message they reference, transitively."""
    rows: _Rows = {}
    references: _References = {}
    referenced_from: dict[str, tuple[str, str]] = {}
    pending = list(dict.fromkeys(hash_keys))
    while pending:
        for start in range(0, len(pending), _SQL_CHUNK):
            chunk = pending[start : start + _SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            for hash_key, class_name, class_path, serialized in connection.execute(
                f"SELECT hash_key, class_name, class_path, serialized FROM messages WHERE hash_key IN ({marks})", chunk
            ):
                rows[hash_key] = (class_name, class_path, serialized)
            for parent, path, child_hash_keys in connection.execute(
                "SELECT parent_hash_key, field_path, child_hash_keys FROM reference_lists "
                f"WHERE parent_hash_key IN ({marks})",
                chunk,
            ):
                children = json.loads(child_hash_keys)
                references.setdefault(parent, {})[path] = children
                for child in children:
                    referenced_from.setdefault(child, (parent, path))
        missing = [hash_key for hash_key in pending if hash_key not in rows]
        if missing:
            raise _not_found(missing[0], referenced_from, database)
        pending = list(
            dict.fromkeys(
                child
                for hash_key in pending
                for children in references.get(hash_key, {}).values()
                for child in children
                if child not in rows
            )
        )
    return StoredRows(rows, references)


def build_messages(stored: StoredRows, hash_keys: Iterable[str]) -> dict[str, Message]:
    """Build the messages of `hash_keys` (and the ones they hold) from rows fetched by `fetch_rows`."""
    return _Builder(stored).build(hash_keys)


def _not_found(hash_key: str, referenced_from: dict[str, tuple[str, str]], database: str) -> MessageNotFoundError:
    if hash_key in referenced_from:
        parent, path = referenced_from[hash_key]
        return MessageNotFoundError(
            f"Message {parent} in {database!r} references message {hash_key} (field `{path}`), which is not stored; "
            "it was persisted without the messages nested in it (use `store.save(message)` to store a whole tree)."
        )
    return MessageNotFoundError(f"No message with hash_key {hash_key!r} in {database!r}.")


class _Builder:
    def __init__(self, stored: StoredRows) -> None:
        self._rows = stored.rows
        self._references = stored.references
        self._resolver = ClassResolver()
        self._built: dict[str, Message] = {}

    def build(self, hash_keys: Iterable[str]) -> dict[str, Message]:
        requested = list(dict.fromkeys(hash_keys))
        for hash_key in self._children_first(requested):
            self._built[hash_key] = self._message(hash_key)
        return {hash_key: self._built[hash_key] for hash_key in requested}

    def _children_first(self, roots: list[str]) -> list[str]:
        order: list[str] = []
        visited: set[str] = set()
        for root in roots:
            if root in visited:
                continue
            visited.add(root)
            stack = [(root, iter(self._children_of(root)))]
            while stack:
                hash_key, children = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    order.append(hash_key)
                elif child not in visited:
                    visited.add(child)
                    stack.append((child, iter(self._children_of(child))))
        return order

    def _children_of(self, hash_key: str) -> list[str]:
        return [child for children in self._references.get(hash_key, {}).values() for child in children]

    def _message(self, hash_key: str) -> Message:
        class_name, class_path, serialized = self._rows[hash_key]
        fields = self._fields(json.loads(serialized), "", self._references.get(hash_key, {}))
        cls = self._resolver.message_class(class_name, class_path)
        message = self._instantiate(cls, Message, class_name, class_path, fields)
        if message.hash_key != hash_key:
            logger.warning(
                "Message %s rebuilt as %s has another hash_key (%s): its class changed since it was stored, or it "
                "was stored in a context with another `longer_hash_keys` setting",
                hash_key,
                class_path,
                message.hash_key,
            )
        return message  # type: ignore[return-value]

    def _fields(self, data: dict[str, Any], path: str, references: dict[str, list[str]]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key, value in data.items():
            if key == "class_":
                continue
            if key.endswith(_HASH_KEY_SUFFIX) and isinstance(value, str):
                name = key.removesuffix(_HASH_KEY_SUFFIX)
                if references.get(field_path(path, name)) == [value]:
                    fields[name] = self._built[value]
                    continue
            elif key.endswith(_HASH_KEYS_SUFFIX) and isinstance(value, list) and value:
                name = key.removesuffix(_HASH_KEYS_SUFFIX)
                if references.get(field_path(path, name)) == value:
                    fields[name] = tuple(self._built[child] for child in value)
                    continue
            fields[key] = self._value(value, field_path(path, key), references)
        return fields

    def _value(self, value: Any, path: str, references: dict[str, list[str]]) -> Any:
        if isinstance(value, dict):
            class_name = value.get("class_", "Frozen")
            cls = self._resolver.frozen_class(class_name)
            return self._instantiate(cls, Frozen, class_name, "", self._fields(value, path, references))
        if isinstance(value, list):
            return tuple(self._value(item, item_path(path, index), references) for index, item in enumerate(value))
        return value

    def _instantiate(
        self, cls: type[Frozen], base: type[Frozen], class_name: str, class_path: str, fields: dict[str, Any]
    ) -> Frozen:
        # `model_validate` skips the constructors, which take positional shortcuts and warn about deprecated fields
        try:
            return cls.model_validate(fields)
        except (ValidationError, ValueError) as error:
            logger.warning("Stored fields do not fit %s any more (%s); loading a stand-in", cls.__qualname__, error)
            return self._resolver.stand_in(base, class_name, class_path).model_validate(fields)
