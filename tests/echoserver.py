"""An OpenAI-compatible server on 127.0.0.1 that repeats what it is sent: the worst case
for secrets.

Every answer holds the whole prompt, twice: once on one line after each labelled key the
prompt asks for (``TITLE:``, ``X:``, ``SUBJECT:`` ..., so the agents' parsers find their
fields) and once verbatim. It is streamed a few characters per event, so a secret in the
prompt reaches the client split across many chunks. A prompt holding ``[auth-error]``
gets a 401 whose message quotes the request's ``Authorization`` header and the prompt (as
careless gateways do); ``[stream-error]`` gets half the answer, then an error event
quoting both. ``also_say`` are texts the model adds on its own, one per answer in turn
(a model that saw a credential elsewhere): they reach the client split across chunks too.

    with EchoServer() as server:
        settings = load_settings({"OPENAI_BASE_URL": server.url, ...})

Real sockets and the real ``openai`` SDK on the client side, like ``tests/faultserver.py``.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["AUTH_ERROR", "STREAM_ERROR", "EchoServer", "echo_answer"]

AUTH_ERROR = "[auth-error]"
STREAM_ERROR = "[stream-error]"
# A labelled key in the prompt's instructions: "TITLE: ...", "Answer as: VARIANT: n".
_LABEL = re.compile(r"\b([A-Z][A-Z_]{0,30}):")


def echo_answer(prompt: str) -> str:
    """What the server answers to ``prompt``: each label with the prompt on one line, then
    the prompt as it was sent."""
    labels = list(dict.fromkeys(_LABEL.findall(prompt)))
    flat = " ".join(prompt.split())
    lines = [f"{label}: {flat}" for label in labels]
    return "\n".join([*lines, "", prompt])


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up mid-answer is not a server error


class EchoServer:
    """Serves ``POST /v1/chat/completions``; ``chunk`` characters per streamed event."""

    def __init__(
        self, chunk: int = 7, model: str = "echo-model", also_say: tuple[str, ...] = ()
    ) -> None:
        self.chunk = chunk
        self.also_say = also_say
        self.model = model
        self.requests = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests += 1
                    count = server.requests
                prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                auth = self.headers.get("Authorization", "")
                quoted = f"Incorrect API key provided: {auth}. Your request was: {prompt}"
                if AUTH_ERROR in prompt:
                    self._json(401, {"error": {"message": quoted, "type": "invalid_api_key"}})
                    return
                answer = echo_answer(prompt)
                if server.also_say:
                    extra = server.also_say[count % len(server.also_say)]
                    answer += f"\n\nAlso, {extra} (as you asked)."
                if STREAM_ERROR in prompt:
                    self._stream(answer[: len(answer) // 2], error=quoted)
                else:
                    self._stream(answer, usage=body.get("stream_options"))

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _event(self, payload: Any) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                data = f"data: {text}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

            def _stream(self, text: str, *, error: str = "", usage: Any = None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {"id": "chatcmpl-echo", "object": "chat.completion.chunk",
                        "created": 0, "model": server.model}  # fmt: skip
                step = server.chunk
                for start in range(0, len(text), step):
                    delta = {"content": text[start : start + step]}
                    self._event({**base, "choices": [{"index": 0, "delta": delta}]})
                if error:
                    self._event({"error": {"message": error, "type": "server_error"}})
                else:
                    done = {"index": 0, "delta": {}, "finish_reason": "stop"}
                    self._event({**base, "choices": [done]})
                    if usage:
                        tokens = {"prompt_tokens": len(text) // 4, "completion_tokens": 0,
                                  "total_tokens": len(text) // 4}  # fmt: skip
                        tokens["completion_tokens"] = len(text) // 4
                        self._event({**base, "choices": [], "usage": tokens})
                self._event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler
