"""Hash keys of UUID, datetime, date, time, Decimal, Enum, bytes, frozenset values."""

import datetime
import decimal
import enum
import uuid

from miniagents import Message


class Colour(enum.Enum):
    RED = "red"


values = {
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
    "aware": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    "date": datetime.date(2024, 1, 2),
    "time": datetime.time(3, 4, 5),
    "decimal": decimal.Decimal("1.10"),
    "enum": Colour.RED,
    "bytes": b"abc",
    "frozenset": frozenset({1}),
    "timedelta": datetime.timedelta(seconds=90),
}
for name, value in values.items():
    try:
        message = Message(value=value)
        print(name, message.hash_key, type(message.value).__name__, message.serialize())
    except Exception as error:
        print(name, "refused", type(error).__name__)
