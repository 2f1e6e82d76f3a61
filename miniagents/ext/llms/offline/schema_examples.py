"""Schema-valid, readable example JSON for structured-output requests.

The SDKs' structured-output helpers validate the reply against the caller's model, so the offline stand-in must
produce a value that satisfies the JSON schema it was sent. Property names steer the values (``*url*`` becomes a
URL, ``*query*`` a search query derived from the question, ``*rationale*`` a sentence) so that a tutorial's
pipeline keeps making sense offline. Supported: ``$ref``/``$defs``, ``allOf``/``anyOf``/``oneOf`` (nullable
included), ``const``, ``enum``, objects, arrays (``items``, ``prefixItems``, ``minItems``/``maxItems``,
``uniqueItems``), strings (``format``, ``minLength``/``maxLength``), integers and numbers (bounds, ``multipleOf``),
booleans and null. ``pattern`` is not interpreted.
"""

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

DEFAULT_ARRAY_LENGTH = 3
_MAX_DEPTH = 8
_GIST_CHARS = 80
_SLUG_WORDS = 6
_ASPECTS = (
    "overview",
    "latest news",
    "expert analysis",
    "key statistics",
    "history",
    "criticism",
    "practical examples",
    "future outlook",
)
_URL_WORDS = ("url", "link", "href", "uri")
_QUERY_WORDS = ("query", "search", "keyword")
_SENTENCE_WORDS = ("rationale", "reason", "explanation", "justification", "why", "thought")
_NAME_WORDS = ("title", "name", "label", "topic")


def example_for_schema(schema: Mapping[str, Any], question: str) -> Any:
    """Return a deterministic value valid against ``schema``, with strings themed on ``question``."""
    return _ExampleBuilder(root=schema, question=question).build(schema, name="", index=None, depth=0)


def summarize_question(question: str) -> str:
    """One line, at most ~80 characters, without trailing punctuation: the form queries and sentences quote."""
    collapsed = " ".join(question.split()).rstrip(" .?!:;,")
    if not collapsed:
        return "your question"
    if len(collapsed) <= _GIST_CHARS:
        return collapsed
    return collapsed[:_GIST_CHARS].rsplit(" ", 1)[0] or collapsed[:_GIST_CHARS]


def slugify(text: str) -> str:
    """URL path segment from the first few words of ``text``.

    A longer text also gets a short digest of all of it, so that different long prompts sharing an opening (e.g.
    ``RATIONALE: ...`` templates) still yield different URLs and de-duplicating agents keep finding new pages.
    """
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = "-".join(words[:_SLUG_WORDS]) or "question"
    if len(words) <= _SLUG_WORDS:
        return slug
    digest = hashlib.sha256(" ".join(words).encode()).hexdigest()[:6]
    return f"{slug}-{digest}"


class _ExampleBuilder:
    def __init__(self, root: Mapping[str, Any], question: str) -> None:
        self._root = root
        self._gist = summarize_question(question)
        self._slug = slugify(question)

    def build(self, schema: Mapping[str, Any] | bool, name: str, index: int | None, depth: int) -> Any:
        """``index`` is the position of the enclosing array item (so items differ); ``depth`` stops recursion."""
        if not isinstance(schema, Mapping):
            return self._string({}, name, index)
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][(index or 0) % len(schema["enum"])]
        for alternatives_key in ("anyOf", "oneOf"):
            alternatives = schema.get(alternatives_key)
            if isinstance(alternatives, list) and alternatives:
                chosen = self._choose_alternative(alternatives, depth)
                siblings = {key: value for key, value in schema.items() if key != alternatives_key}
                return self.build({**siblings, **self._resolve(chosen)}, name, index, depth)

        schema_type = self._schema_type(schema)
        if schema_type == "object":
            return self._object(schema, index, depth)
        if schema_type == "array":
            return self._array(schema, name, index, depth)
        if schema_type == "integer":
            return self._integer(schema, index)
        if schema_type == "number":
            return self._number(schema, index)
        if schema_type == "boolean":
            return index is None or index % 2 == 0
        if schema_type == "null":
            return None
        return self._string(schema, name, index)

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Inline ``$ref`` and merge ``allOf`` so the rest of the builder sees one flat schema."""
        for _ in range(_MAX_DEPTH * 4):
            reference = schema.get("$ref")
            if isinstance(reference, str):
                siblings = {key: value for key, value in schema.items() if key != "$ref"}
                schema = {**self._lookup(reference), **siblings}
                continue
            all_of = schema.get("allOf")
            if isinstance(all_of, list):
                merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
                for part in all_of:
                    if isinstance(part, Mapping):
                        _merge_into(merged, self._resolve(part))
                schema = merged
                continue
            return schema
        raise ValueError("JSON schema has a `$ref`/`allOf` cycle that never reaches a concrete schema")

    def _lookup(self, reference: str) -> Mapping[str, Any]:
        if not reference.startswith("#"):
            raise ValueError(f"only local JSON schema references are supported, got `$ref: {reference!r}`")
        target: Any = self._root
        for raw_segment in reference[1:].split("/"):
            if not raw_segment:
                continue
            segment = raw_segment.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or segment not in target:
                raise ValueError(f"JSON schema reference `{reference}` points at nothing")
            target = target[segment]
        if not isinstance(target, Mapping):
            raise ValueError(f"JSON schema reference `{reference}` does not point at a schema object")
        return target

    @staticmethod
    def _choose_alternative(alternatives: list[Any], depth: int) -> Mapping[str, Any]:
        """Prefer a real value; past the depth limit prefer null so recursive models terminate."""

        def is_null(alternative: Any) -> bool:
            return isinstance(alternative, Mapping) and alternative.get("type") == "null"

        schemas = [alternative for alternative in alternatives if isinstance(alternative, Mapping)] or [{}]
        preferred = [alternative for alternative in schemas if is_null(alternative) == (depth >= _MAX_DEPTH)]
        return (preferred or schemas)[0]

    @staticmethod
    def _schema_type(schema: Mapping[str, Any]) -> str:
        declared = schema.get("type")
        if isinstance(declared, list):
            concrete = [schema_type for schema_type in declared if schema_type != "null"]
            return concrete[0] if concrete else "null"
        if isinstance(declared, str):
            return declared
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"

    def _object(self, schema: Mapping[str, Any], index: int | None, depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = schema.get("required")
        names = list(properties) + [name for name in (required or ()) if name not in properties]
        return {name: self.build(properties.get(name, {}), name=name, index=index, depth=depth + 1) for name in names}

    def _array(self, schema: Mapping[str, Any], name: str, index: int | None, depth: int) -> list[Any]:
        prefix_items = schema.get("prefixItems")
        prefix_items = prefix_items if isinstance(prefix_items, list) else []
        items = schema.get("items", {})
        min_items = _non_negative_int(schema.get("minItems"), default=0)
        max_items = _non_negative_int(schema.get("maxItems"), default=None)
        if items is False or (prefix_items and "items" not in schema):
            length = len(prefix_items)
        else:
            length = min_items if depth >= _MAX_DEPTH else max(DEFAULT_ARRAY_LENGTH, min_items, len(prefix_items))
            if max_items is not None:
                length = max(min(length, max_items), min_items)
        values: list[Any] = []
        for position in range(length):
            item_schema = prefix_items[position] if position < len(prefix_items) else items
            item_index = position if index is None else index * length + position
            values.append(self.build(item_schema, name=_singular(name), index=item_index, depth=depth + 1))
        if schema.get("uniqueItems"):
            values = _unique(values)
        return values

    def _integer(self, schema: Mapping[str, Any], index: int | None) -> int:
        lower = _bound(schema, "minimum", "exclusiveMinimum")
        upper = _bound(schema, "maximum", "exclusiveMaximum")
        low = None if lower is None else math.floor(lower[0]) + 1 if lower[1] else math.ceil(lower[0])
        high = None if upper is None else math.ceil(upper[0]) - 1 if upper[1] else math.floor(upper[0])
        value = (index or 0) + 1
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int) and not isinstance(multiple, bool) and multiple > 0:
            value = math.ceil(value / multiple) * multiple
            if high is not None and value > high:
                value -= multiple
        return value

    def _number(self, schema: Mapping[str, Any], index: int | None) -> float:
        lower = _bound(schema, "minimum", "exclusiveMinimum")
        upper = _bound(schema, "maximum", "exclusiveMaximum")
        value = float((index or 0) + 1)
        too_low = lower is not None and (value < lower[0] or (lower[1] and value == lower[0]))
        too_high = upper is not None and (value > upper[0] or (upper[1] and value == upper[0]))
        if too_low or too_high:
            if lower is not None and upper is not None:
                value = (lower[0] + upper[0]) / 2
            elif lower is not None:
                value = lower[0] + 1 if lower[1] else lower[0]
            elif upper is not None:
                value = upper[0] - 1 if upper[1] else upper[0]
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int | float) and not isinstance(multiple, bool) and multiple > 0:
            value = max(1, round(value / multiple)) * multiple
        return value

    def _string(self, schema: Mapping[str, Any], name: str, index: int | None) -> str:
        value = self._themed_string(str(schema.get("format", "")), name.lower(), index)
        min_length = _non_negative_int(schema.get("minLength"), default=0)
        max_length = _non_negative_int(schema.get("maxLength"), default=None)
        if len(value) < min_length:
            value = value + "." * (min_length - len(value))
        if max_length is not None:
            value = value[:max_length]
        return value

    def _themed_string(self, string_format: str, key: str, index: int | None) -> str:
        number = (index or 0) + 1
        aspect = _ASPECTS[index % len(_ASPECTS)] if index is not None else "main points"
        if string_format in ("uri", "url", "iri", "uri-reference") or _mentions(key, _URL_WORDS):
            return f"https://example.com/{self._slug}/{number}"
        if string_format == "email" or "email" in key:
            return f"user{number}@example.com"
        if string_format == "date-time":
            return f"2024-01-{number % 28 + 1:02d}T12:00:00Z"
        if string_format == "date":
            return f"2024-01-{number % 28 + 1:02d}"
        if string_format == "time":
            return "12:00:00"
        if string_format == "uuid":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self._slug}/{number}"))
        if _mentions(key, _QUERY_WORDS):
            return self._gist if index is None else f"{self._gist} {aspect}"
        if _mentions(key, _SENTENCE_WORDS):
            return f"Looking into the {aspect} helps answer «{self._gist}»."
        if _mentions(key, _NAME_WORDS):
            return f"{self._gist[:1].upper()}{self._gist[1:]}: {aspect}"
        label = key.replace("_", " ").strip() or "answer"
        return f"{label.capitalize()} {number} about «{self._gist}»"


def _mentions(key: str, words: tuple[str, ...]) -> bool:
    return any(word in key for word in words)


def _singular(name: str) -> str:
    """``web_searches`` items are each a ``web_search``: lets item strings be themed by the array's name."""
    if name.endswith("ies"):
        return f"{name[:-3]}y"
    if name.endswith(("ches", "shes", "sses", "xes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _bound(schema: Mapping[str, Any], inclusive_key: str, exclusive_key: str) -> tuple[float, bool] | None:
    """The tighter of an inclusive and an exclusive bound, as ``(limit, is_exclusive)``."""
    candidates: list[tuple[float, bool]] = []
    for key, is_exclusive in ((inclusive_key, False), (exclusive_key, True)):
        limit = schema.get(key)
        if isinstance(limit, int | float) and not isinstance(limit, bool):
            candidates.append((float(limit), is_exclusive))
    if not candidates:
        return None
    if inclusive_key == "minimum":
        return max(candidates, key=lambda candidate: (candidate[0], candidate[1]))
    return min(candidates, key=lambda candidate: (candidate[0], not candidate[1]))


def _non_negative_int(value: Any, default: int | None) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def _merge_into(merged: dict[str, Any], part: Mapping[str, Any]) -> None:
    for key, value in part.items():
        if key == "properties" and isinstance(value, Mapping):
            merged["properties"] = {**merged.get("properties", {}), **value}
        elif key == "required" and isinstance(value, list):
            merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
        else:
            merged.setdefault(key, value)


def _unique(values: list[Any]) -> list[Any]:
    seen: set[str] = set()
    unique_values: list[Any] = []
    for value in values:
        fingerprint = json.dumps(value, sort_keys=True)
        if fingerprint not in seen:
            seen.add(fingerprint)
            unique_values.append(value)
    return unique_values
