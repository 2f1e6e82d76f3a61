"""UUID, datetime, Decimal, Enum, bytes, frozenset and Path values are kept (frozen, hashable) and serialised."""

import datetime
import decimal
import enum
import pathlib
import uuid

from miniagents import Message


class Level(enum.Enum):
    HIGH = 2


message = Message(
    id=uuid.UUID(int=7),
    when=datetime.date(2020, 5, 17),
    amount=decimal.Decimal("3.50"),
    level=Level.HIGH,
    raw=b"xyz",
    tags=frozenset({"a"}),
    path=pathlib.Path("/tmp/file.txt"),
)
print(type(message.id).__name__, type(message.when).__name__, type(message.amount).__name__, message.level)
print(type(message.raw).__name__, type(message.tags).__name__, hash(message.tags) == hash(frozenset({"a"})))
print(message.serialize())
print(message.hash_key)
print(str(message))
