"""HTTP plumbing: a stdlib ``ThreadingHTTPServer`` on loopback that the real ``openai``/``anthropic`` SDKs talk to.

Why a real HTTP server rather than a mocked client: notebooks, examples and tests then exercise the exact SDK
code paths (retries, SSE decoding, error mapping, timeouts) that run against the real APIs, with no key and no
internet. Each request is served on its own daemon thread; token pacing blocks that thread, not the client's
event loop, so a busy client still sees the stream arrive live.
"""

import hashlib
import itertools
import json
import logging
import os
import select
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from miniagents.ext.llms.offline.anthropic_wire import AnthropicWire
from miniagents.ext.llms.offline.faults import FLAKY_RETRY_AFTER_SECONDS, FaultKind, fault_for_model
from miniagents.ext.llms.offline.openai_wire import OpenAIWire
from miniagents.ext.llms.offline.replies import compose_reply, split_astral_characters
from miniagents.ext.llms.offline.wire import BadRequestError, ProviderWire, StreamPlan

if TYPE_CHECKING:
    import anthropic
    import openai

TOKEN_DELAY_ENV_VAR = "MINIAGENTS_OFFLINE_TOKEN_DELAY"
DEFAULT_TOKEN_DELAY = 0.01

_LOGGER = logging.getLogger(__name__)
_POLL_INTERVAL = 0.05
_OPENAI_WIRE = OpenAIWire()
_ANTHROPIC_WIRE = AnthropicWire()
_WIRES_BY_PATH: dict[str, tuple[ProviderWire, str]] = {
    "/v1/chat/completions": (_OPENAI_WIRE, "chatcmpl-offline-"),
    "/v1/messages": (_ANTHROPIC_WIRE, "msg_offline_"),
}


class _StreamAborted(Exception):
    """The server is stopping: abandon the response and drop the connection."""


class OfflineLLMServer:
    """A local stand-in for the OpenAI and Anthropic HTTP APIs, with deterministic replies and failure injection.

    Create it with :func:`start_offline_llm_server` (or share one via :func:`get_offline_llm_server`) and point
    the SDKs at it with :meth:`openai_client` / :meth:`anthropic_client`. Requests select failures by model name:
    ``offline-error-401``/``-429``/``-500``, ``offline-malformed-stream``, ``offline-hang``, ``offline-cut-stream``
    and ``offline-flaky-429``. ``max_concurrent_requests`` is the most requests it has served at once.
    """

    def __init__(self, token_delay: float = DEFAULT_TOKEN_DELAY, host: str = "127.0.0.1", port: int = 0) -> None:
        if token_delay < 0:
            raise ValueError(f"token_delay is a pause in seconds between streamed tokens; got {token_delay!r} < 0")
        self.token_delay = token_delay
        self.requests: list[dict[str, Any]] = []
        self.max_concurrent_requests = 0
        self._concurrent_requests = 0
        self._rate_limited_conversations: set[str] = set()
        self._requests_lock = threading.Lock()
        self._lifecycle_lock = threading.Lock()
        self._connections_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._response_numbers = itertools.count(1)
        self._last_token_gate: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._http_server = _HTTPServer((host, port), owner=self)
        bound_host, bound_port = self._http_server.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running" if self._thread else "not started"
        return f"OfflineLLMServer(base_url={self.base_url!r}, token_delay={self.token_delay!r}, {state})"

    @property
    def is_stopped(self) -> bool:
        return self._stopped

    def start(self) -> Self:
        """Serve on a background daemon thread. Idempotent; the socket already listens, so clients may connect now."""
        with self._lifecycle_lock:
            if self._stopped:
                raise RuntimeError(
                    "this OfflineLLMServer was stopped and cannot be restarted; call start_offline_llm_server() for a "
                    "new one"
                )
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._http_server.serve_forever,
                    kwargs={"poll_interval": _POLL_INTERVAL},
                    name=f"miniagents-offline-llm-server:{self.base_url.rsplit(':', 1)[-1]}",
                    daemon=True,
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection. Idempotent, and quick even with a stream or hang in flight."""
        with self._lifecycle_lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
        self._stopping.set()
        if thread is not None:
            self._http_server.shutdown()
            thread.join()
        self._http_server.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def hold_last_token(self) -> threading.Event:
        """Make every streamed reply pause before its last token until the returned event is set.

        This lets a test prove that streaming is live: it can receive the first token while the server is
        provably still holding the last one. ``gate.set()`` releases all waiting and future streams; a new call
        installs a new, unset gate. :meth:`stop` does not wait for the gate.
        """
        gate = threading.Event()
        self._last_token_gate = gate
        return gate

    def openai_client(self, **client_kwargs: Any) -> "openai.AsyncOpenAI":
        """An ``openai.AsyncOpenAI`` aimed at this server (no retries unless ``max_retries`` is given)."""
        import openai

        client_kwargs.setdefault("base_url", f"{self.base_url}/v1")
        client_kwargs.setdefault("api_key", "offline")
        client_kwargs.setdefault("max_retries", 0)
        return openai.AsyncOpenAI(**client_kwargs)

    def anthropic_client(self, **client_kwargs: Any) -> "anthropic.AsyncAnthropic":
        """An ``anthropic.AsyncAnthropic`` aimed at this server (no retries unless ``max_retries`` is given)."""
        import anthropic

        client_kwargs.setdefault("base_url", self.base_url)
        client_kwargs.setdefault("api_key", "offline")
        client_kwargs.setdefault("max_retries", 0)
        return anthropic.AsyncAnthropic(**client_kwargs)

    def _record_request(self, body: dict[str, Any]) -> None:
        with self._requests_lock:
            self.requests.append(body)

    def _request_started(self) -> None:
        with self._requests_lock:
            self._concurrent_requests += 1
            self.max_concurrent_requests = max(self.max_concurrent_requests, self._concurrent_requests)

    def _request_ended(self) -> None:
        with self._requests_lock:
            self._concurrent_requests -= 1

    def _first_time_rate_limited(self, body: dict[str, Any]) -> bool:
        """Whether this conversation has not been rate limited yet (and now is)."""
        conversation = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
        with self._requests_lock:
            if conversation in self._rate_limited_conversations:
                return False
            self._rate_limited_conversations.add(conversation)
            return True

    def _next_response_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._response_numbers):06d}"

    def _track_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def _untrack_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def _pause_before_token(self) -> None:
        """Sleep ``token_delay`` on the handler thread, waking early (and aborting) if the server stops."""
        if self._stopping.wait(self.token_delay) if self.token_delay > 0 else self._stopping.is_set():
            raise _StreamAborted

    def _wait_for_last_token_gate(self) -> None:
        gate = self._last_token_gate
        while gate is not None and not gate.wait(_POLL_INTERVAL):
            if self._stopping.is_set():
                raise _StreamAborted

    def _hang_until_stopped_or_abandoned(self, connection: socket.socket) -> None:
        """Send nothing until the server stops or the client gives up (so abandoned hangs free their thread)."""
        while not self._stopping.wait(_POLL_INTERVAL):
            if _peer_has_closed(connection):
                return


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, server_address: tuple[str, int], owner: OfflineLLMServer) -> None:
        self.owner = owner
        super().__init__(server_address, _RequestHandler)

    def server_bind(self) -> None:
        """Skip ``HTTPServer``'s reverse-DNS lookup of the host, which can stall for seconds without a network."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def handle_error(self, request: Any, client_address: Any) -> None:
        _LOGGER.debug("offline LLM server: error while serving %s", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MiniAgentsOfflineLLM/1.0"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track_connection(self.connection)  # noqa: SLF001 - request handler of this module's server

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._untrack_connection(self.connection)  # noqa: SLF001 - request handler of this module's server

    def log_message(self, format: str, *args: Any) -> None:
        _LOGGER.debug("offline LLM server: " + format, *args)

    def do_GET(self) -> None:
        path = self._request_path()
        self._send_unknown_path(self._error_wire_for(path), path)

    def do_POST(self) -> None:
        owner = self.server.owner
        owner._request_started()  # noqa: SLF001 - request handler of this module's server
        try:
            self._serve_post()
        finally:
            owner._request_ended()  # noqa: SLF001 - request handler of this module's server

    def _serve_post(self) -> None:
        owner = self.server.owner
        path = self._request_path()
        raw_body = self._read_body()
        route = _WIRES_BY_PATH.get(path)
        error_wire = route[0] if route else self._error_wire_for(path)
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send_error(error_wire, 400, "The request body must be a JSON object.")
            return
        owner._record_request({**body, "path": path})  # noqa: SLF001 - request handler of this module's server
        if route is None:
            self._send_unknown_path(error_wire, path)
            return
        wire, response_id_prefix = route

        fault = fault_for_model(body.get("model"))
        if fault is not None and fault.kind is FaultKind.HTTP_ERROR:
            message = f"Simulated HTTP {fault.status} from the offline LLM stand-in (model {body['model']!r})."
            self._send_error(wire, fault.status, message)
            return
        if (
            fault is not None and fault.kind is FaultKind.FLAKY_RATE_LIMIT and owner._first_time_rate_limited(body)  # noqa: SLF001 - request handler of this module's server
        ):
            message = f"Simulated HTTP 429 from the offline LLM stand-in (model {body['model']!r}); retry later."
            self._send_error(wire, 429, message, headers={"retry-after": str(FLAKY_RETRY_AFTER_SECONDS)})
            return
        if fault is not None and fault.kind is FaultKind.HANG:
            owner._hang_until_stopped_or_abandoned(self.connection)  # noqa: SLF001 - request handler of this module's server
            self.close_connection = True
            return

        try:
            prompt = wire.prompt_from(body)
            reply = compose_reply(prompt)
            if fault is not None and fault.kind is FaultKind.SPLIT_CHARACTERS:
                reply = split_astral_characters(reply)
        except (BadRequestError, ValueError) as error:
            self._send_error(wire, 400, str(error))
            return
        response_id = owner._next_response_id(response_id_prefix)  # noqa: SLF001 - request handler of this module's server
        malformed = fault is not None and fault.kind is FaultKind.MALFORMED_STREAM
        if body.get("stream") is True:
            plan = wire.stream_plan(body, prompt, reply, response_id)
            if fault is not None and fault.kind is FaultKind.CUT_STREAM:
                plan = StreamPlan(plan.opening_frames, plan.token_frames, closing_frames=())
            self._send_stream(plan, wire, malformed=malformed)
        elif malformed:
            self._send_bytes(200, b'{"id": "offline-malformed", "choices": [', content_type="application/json")
        else:
            self._send_json(200, wire.response_body(body, prompt, reply, response_id))

    def _request_path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def _error_wire_for(self, path: str) -> ProviderWire:
        """Unknown paths still get an error the calling SDK can parse: guess the provider from path and headers."""
        if path.startswith("/v1/messages") or path.startswith("/v1/complete") or "anthropic-version" in self.headers:
            return _ANTHROPIC_WIRE
        return _OPENAI_WIRE

    def _read_body(self) -> bytes:
        content_length = self.headers.get("Content-Length")
        if content_length is None:
            # Without a length the body's end is unknown; reply, then close rather than misread the next request.
            self.close_connection = True
            return b""
        return self.rfile.read(int(content_length))

    def _send_unknown_path(self, wire: ProviderWire, path: str) -> None:
        self._send_error(
            wire,
            404,
            f"Unknown path {path!r}: the offline LLM stand-in serves POST /v1/chat/completions (OpenAI) and "
            "POST /v1/messages (Anthropic).",
        )

    def _send_error(
        self, wire: ProviderWire, status: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self._send_json(status, wire.error_body(status, message), headers=headers)

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send_bytes(status, body, content_type="application/json", headers=headers)

    def _send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _send_stream(self, plan: StreamPlan, wire: ProviderWire, malformed: bool) -> None:
        owner = self.server.owner
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for frame in plan.opening_frames:
                self._write_chunk(frame)
            last_position = len(plan.token_frames) - 1
            for position, frame in enumerate(plan.token_frames):
                owner._pause_before_token()  # noqa: SLF001 - request handler of this module's server
                if position == last_position:
                    owner._wait_for_last_token_gate()  # noqa: SLF001 - request handler of this module's server
                self._write_chunk(frame)
                if malformed:
                    self._write_chunk(wire.malformed_frame())
                    self.close_connection = True
                    break
            else:
                for frame in plan.closing_frames:
                    self._write_chunk(frame)
            self.wfile.write(b"0\r\n\r\n")
        except (_StreamAborted, OSError):
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _peer_has_closed(connection: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def start_offline_llm_server(
    token_delay: float = DEFAULT_TOKEN_DELAY, host: str = "127.0.0.1", port: int = 0
) -> OfflineLLMServer:
    """Start a new server on a free loopback port; it accepts connections as soon as this returns."""
    return OfflineLLMServer(token_delay=token_delay, host=host, port=port).start()


_shared_server: OfflineLLMServer | None = None
_shared_server_lock = threading.Lock()


def get_offline_llm_server() -> OfflineLLMServer:
    """The process-wide shared server, started on first use (thread-safe), restarted if someone stopped it.

    Its token delay comes from ``MINIAGENTS_OFFLINE_TOKEN_DELAY`` (seconds), default 0.01.
    """
    global _shared_server
    with _shared_server_lock:
        if _shared_server is None or _shared_server.is_stopped:
            _shared_server = start_offline_llm_server(token_delay=_token_delay_from_env())
        return _shared_server


def _token_delay_from_env() -> float:
    raw_value = os.environ.get(TOKEN_DELAY_ENV_VAR)
    if raw_value is None or not raw_value.strip():
        return DEFAULT_TOKEN_DELAY
    try:
        token_delay = float(raw_value)
    except ValueError:
        raise ValueError(
            f"{TOKEN_DELAY_ENV_VAR} must be a number of seconds between streamed tokens (e.g. 0.01), got {raw_value!r}"
        ) from None
    if token_delay < 0:
        raise ValueError(f"{TOKEN_DELAY_ENV_VAR} must not be negative, got {raw_value!r}")
    return token_delay
