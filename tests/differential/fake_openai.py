"""A tiny stand-in of the OpenAI chat completions API for the differential scenarios (standard library only).

Both packages' `OpenAIAgent` talk to it through the real `openai` SDK (`OPENAI_BASE_URL`), so a scenario sees exactly
what each package sends and how each turns the same answer into messages.
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REQUESTS: list[dict[str, Any]] = []
REPLY_PIECES = ["Hel", "lo", " there"]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        REQUESTS.append(body)
        base = {"id": "chatcmpl-1", "created": 0, "model": body.get("model", "m"), "system_fingerprint": None}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunks = [
                {"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}
                for piece in REPLY_PIECES
            ]
            chunks.append({"index": 0, "delta": {}, "finish_reason": "stop"})
            for choice in chunks:
                event = {**base, "object": "chat.completion.chunk", "choices": [choice]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        answer = {
            **base,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(REPLY_PIECES)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start() -> None:
    """Serve on a free loopback port in a daemon thread and point the `openai` SDK at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["OPENAI_BASE_URL"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    os.environ["OPENAI_API_KEY"] = "sk-differential"
    os.environ.pop("MINIAGENTS_LLM_OFFLINE", None)
    REQUESTS.clear()
