"""An offline stand-in for the OpenAI and Anthropic HTTP APIs, so everything runs with no API key and no internet.

The real ``openai`` and ``anthropic`` SDKs talk to a small local HTTP server that answers deterministically
(echoing the gist of the prompt, or schema-valid JSON for structured output), streams token by token, and can
simulate failures chosen by model name::

    from miniagents.ext.llms.offline import get_offline_llm_server

    server = get_offline_llm_server()
    async with server.openai_client() as client:
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=[...])

Failures are chosen by model name, so error handling is tested through the unchanged SDK path:
``offline-error-401`` / ``offline-error-429`` / ``offline-error-500`` answer with that status and the provider's
error body, ``offline-malformed-stream`` streams one token and then undecodable SSE, and ``offline-hang`` sends
nothing until the client times out (or the server stops), ``offline-cut-stream`` streams the reply but ends without a
finish / stop reason, and ``offline-flaky-429`` answers each conversation's first request with 429 and
``retry-after: 1``. ``server.hold_last_token()`` returns a
``threading.Event``: until it is set, every streamed reply pauses before its last token, which lets a test see
the first tokens arrive while the reply is provably still in flight.
"""

from miniagents.ext.llms.offline.faults import (
    CUT_STREAM_MODEL,
    ERROR_STATUS_BY_MODEL,
    FLAKY_RATE_LIMIT_MODEL,
    HANG_MODEL,
    MALFORMED_STREAM_MODEL,
    SPLIT_CHARACTERS_MODEL,
)
from miniagents.ext.llms.offline.server import (
    DEFAULT_TOKEN_DELAY,
    TOKEN_DELAY_ENV_VAR,
    OfflineLLMServer,
    get_offline_llm_server,
    start_offline_llm_server,
)

__all__ = [
    "CUT_STREAM_MODEL",
    "DEFAULT_TOKEN_DELAY",
    "ERROR_STATUS_BY_MODEL",
    "FLAKY_RATE_LIMIT_MODEL",
    "HANG_MODEL",
    "MALFORMED_STREAM_MODEL",
    "SPLIT_CHARACTERS_MODEL",
    "TOKEN_DELAY_ENV_VAR",
    "OfflineLLMServer",
    "get_offline_llm_server",
    "start_offline_llm_server",
]
