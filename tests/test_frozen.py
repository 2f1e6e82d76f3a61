"""`Frozen`: immutability, freezing of nested values, refusal of mutable values, content hashes."""

import hashlib
import json

import pytest
from pydantic import BaseModel, ValidationError

from miniagents import Message, PromisingContext, TextMessage
from miniagents.promising.ext.frozen import Frozen


class Sample(Frozen):
    required: str
    optional: int = 2
    nested: "Sample | None" = None


def _expected_hash(structure: dict) -> str:
    return hashlib.sha256(json.dumps(structure, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()[:40]


def test_models_are_immutable_and_accept_extra_fields() -> None:
    sample = Sample(required="x", extra="kept")
    with pytest.raises(ValidationError):
        sample.required = "y"
    with pytest.raises(ValidationError):
        sample.new_field = 1
    assert sample.extra == "kept"
    assert sample.class_ == "Sample"
    assert sample.get("extra") == "kept"
    assert sample.get("missing", "default") == "default"
    assert sample["required"] == "x"
    assert dict(sample) == {"class_": "Sample", "required": "x", "optional": 2, "nested": None, "extra": "kept"}
    assert len(sample) == 5
    assert {**Frozen(role="user")} == {"class_": "Frozen", "role": "user"}


def test_nested_values_are_frozen_recursively() -> None:
    class Point(BaseModel):
        x: int
        y: int

    frozen = Frozen(items=[1, [2, 3], {"a": [4]}], point=Point(x=1, y=2))
    assert frozen.items[0] == 1
    assert frozen.items[1] == (2, 3)
    assert isinstance(frozen.items[2], Frozen)
    assert frozen.items[2].a == (4,)
    assert isinstance(frozen.point, Frozen)
    assert frozen.point["x"] == 1


@pytest.mark.parametrize("value", [{1, 2}, object(), bytearray(b"x")])
def test_mutable_or_unknown_values_are_refused_with_the_field_name(value: object) -> None:
    with pytest.raises(ValidationError, match="field `bad_field`"):
        Frozen(bad_field=value)
    with pytest.raises(ValidationError, match=r"field `deep\[1\]\.inner`"):
        Frozen(deep=[1, {"inner": value}])


def test_class_field_is_always_the_class_name() -> None:
    # as in MiniAgents: `Sample(**other)` works whatever class `other` is
    assert Sample(required="x", class_="Other").class_ == "Sample"
    assert Sample(**Frozen(required="x")).class_ == "Sample"


def test_hash_key_is_sha256_of_sorted_json() -> None:
    sample = Sample(required="юнікод", nested=Sample(required="inner", optional=3))
    expected = _expected_hash(
        {
            "class_": "Sample",
            "optional": 2,
            "required": "юнікод",
            "nested": {"class_": "Sample", "optional": 3, "required": "inner", "nested": None},
        }
    )
    assert sample.hash_key == expected
    assert len(sample.hash_key) == 40


def test_hash_key_does_not_depend_on_field_order() -> None:
    assert Frozen(a=1, b="two").hash_key == Frozen(b="two", a=1).hash_key
    assert Frozen(a=1).hash_key != Frozen(a=2).hash_key


async def test_longer_hash_keys_when_the_context_asks() -> None:
    async with PromisingContext(longer_hash_keys=True):
        assert len(Frozen(a=1).hash_key) == 64


def test_nested_messages_are_serialised_as_references() -> None:
    inner = TextMessage("inner")
    other = TextMessage("other")
    message = Message(single=inner, several=[inner, other], holder={"deep": other}, mixed=[1, "x"])

    serialized = message.serialize()
    assert serialized["single__hash_key"] == inner.hash_key
    assert serialized["several__hash_keys"] == [inner.hash_key, other.hash_key]
    assert serialized["holder"] == {"class_": "Frozen", "deep__hash_key": other.hash_key}
    assert serialized["mixed"] == [1, "x"]
    assert message.hash_key == _expected_hash(serialized)
    assert list(message.sub_messages()) == [inner, inner, other, other]


def test_nested_objects_are_not_copied() -> None:
    inner = Sample(required="x")
    assert Sample(required="y", nested=inner).nested is inner


def test_a_copy_with_changes_is_a_new_frozen_model_with_its_own_hash_key() -> None:
    message = TextMessage("original", tags=["a"])
    original_key = message.hash_key
    changed = message.model_copy(update={"content": "changed", "tags": ["b", "c"]})
    assert str(changed) == "changed" and changed.tags == ("b", "c")  # validated and frozen: the list is a tuple
    assert changed.hash_key == TextMessage("changed", tags=["b", "c"]).hash_key != original_key
    assert message.model_copy() is message  # immutable: a copy without changes is the model itself
