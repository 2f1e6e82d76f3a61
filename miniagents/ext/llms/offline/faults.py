"""Failure injection, selected by the request's ``model`` name.

Choosing the failure by model name means error-handling tests drive the exact same SDK code path as a real
call: only the ``model=`` argument changes.
"""

import enum
from dataclasses import dataclass

ERROR_STATUS_BY_MODEL: dict[str, int] = {
    "offline-error-401": 401,
    "offline-error-429": 429,
    "offline-error-500": 500,
}
MALFORMED_STREAM_MODEL = "offline-malformed-stream"
HANG_MODEL = "offline-hang"
CUT_STREAM_MODEL = "offline-cut-stream"
"""Streams every token, then ends the response cleanly but without a finish / stop reason (a cut stream)."""
FLAKY_RATE_LIMIT_MODEL = "offline-flaky-429"
"""Answers the first request of each conversation with HTTP 429 and ``retry-after: 1``, the next ones normally."""
FLAKY_RETRY_AFTER_SECONDS = 1
TOOL_LOOP_MODEL = "offline-tool-loop"
"""Calls the offered tools in every round, even after their results (to test a round limit)."""
INVALID_OUTPUT_ONCE_MODEL = "offline-invalid-once"
"""Answers a structured-output request with JSON that misses the schema the first time, validly once corrected."""
SPLIT_CHARACTERS_MODEL = "offline-split-characters"
"""Streams every character outside the Basic Multilingual Plane (emoji, …) as its two UTF-16 halves in separate
chunks, as some providers do: each chunk then decodes to a lone surrogate."""


class FaultKind(enum.Enum):
    HTTP_ERROR = "http_error"
    MALFORMED_STREAM = "malformed_stream"
    HANG = "hang"
    SPLIT_CHARACTERS = "split_characters"
    CUT_STREAM = "cut_stream"
    FLAKY_RATE_LIMIT = "flaky_rate_limit"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 200


def fault_for_model(model: object) -> Fault | None:
    """The failure a request asks for, or ``None`` for a normal reply."""
    if not isinstance(model, str):
        return None
    if model in ERROR_STATUS_BY_MODEL:
        return Fault(FaultKind.HTTP_ERROR, status=ERROR_STATUS_BY_MODEL[model])
    if model == MALFORMED_STREAM_MODEL:
        return Fault(FaultKind.MALFORMED_STREAM)
    if model == HANG_MODEL:
        return Fault(FaultKind.HANG)
    if model == SPLIT_CHARACTERS_MODEL:
        return Fault(FaultKind.SPLIT_CHARACTERS)
    if model == CUT_STREAM_MODEL:
        return Fault(FaultKind.CUT_STREAM)
    if model == FLAKY_RATE_LIMIT_MODEL:
        return Fault(FaultKind.FLAKY_RATE_LIMIT, status=429)
    return None
