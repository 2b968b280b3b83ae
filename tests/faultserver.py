"""An OpenAI-compatible chat completions server on 127.0.0.1 that fails on cue.

Each request takes the next scripted :class:`Fault` (then the default: a good answer):

    with FaultServer() as server:
        server.push(Fault.status(500), Fault.ok("# Title\\n\\nBody"))
        llm = OpenAILLM.from_settings(load_settings({"OPENAI_BASE_URL": server.url}))

Real sockets and the real SDK: the client's parsing, timeouts and retries are what is
tested, not a stub's idea of them. Waits inside the server end at once on ``stop()``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DEFAULT_TEXT", "Fault", "FaultServer"]

DEFAULT_TEXT = "# A good draft\n\nIt streams in several chunks and ends cleanly."


@dataclass(frozen=True)
class Fault:
    kind: str
    http_status: int = 200
    text: str = DEFAULT_TEXT
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0
    after_chunks: int = 0
    usage: bool = True
    finish: str = "stop"
    events: tuple[str, ...] = ()
    split_bytes: int = 0

    @classmethod
    def ok(
        cls,
        text: str = DEFAULT_TEXT,
        *,
        usage: bool = True,
        delay: float = 0.0,
        finish: str = "stop",
        split_bytes: int = 0,
    ) -> Fault:
        """A streamed answer ending with ``finish``; ``split_bytes`` > 0 writes the body
        that many bytes at a time, each flushed apart, so reads split characters."""
        return cls(
            "ok", text=text, usage=usage, seconds=delay, finish=finish, split_bytes=split_bytes
        )

    @classmethod
    def raw_events(cls, *payloads: str) -> Fault:
        """Each string verbatim as one ``data:`` event (JSON escapes kept as written),
        then ``[DONE]``."""
        return cls("raw", events=payloads)

    @classmethod
    def json_answer(cls, text: str = DEFAULT_TEXT, *, finish: str = "stop") -> Fault:
        """One ``application/json`` chat completion, as a server ignoring ``stream: true``."""
        return cls("json", text=text, finish=finish)

    @classmethod
    def status(
        cls, status: int, *, headers: dict[str, str] | None = None, body: Any = None
    ) -> Fault:
        body = body if body is not None else {"error": {"message": f"scripted {status}"}}
        return cls("status", http_status=status, headers=headers or {}, body=body)

    @classmethod
    def rate_limited(cls, retry_after: str = "1") -> Fault:
        return cls.status(
            429,
            headers={"Retry-After": retry_after},
            body={"error": {"message": "Rate limit reached", "type": "rate_limit"}},
        )

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        """No answer for ``seconds`` (the client's timeout should fire first)."""
        return cls("hang", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed")

    @classmethod
    def cut(cls, after_chunks: int = 2) -> Fault:
        """Stream ``after_chunks`` chunks, then drop the connection mid-body."""
        return cls("cut", after_chunks=after_chunks)

    @classmethod
    def stall(cls, after_chunks: int, seconds: float) -> Fault:
        """Stream some chunks, then go silent (a read timeout in the middle of a stream)."""
        return cls("stall", after_chunks=after_chunks, seconds=seconds)

    @classmethod
    def echo_auth(cls) -> Fault:
        """A 401 whose message repeats the Authorization header, as careless gateways do."""
        return cls("echo_auth", http_status=401)


def _chunks(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up mid-answer on purpose; that is not a server error.
        pass


class FaultServer:
    def __init__(self, model: str = "fault-model", reject_fields: tuple[str, ...] = ()) -> None:
        self.model = model
        # A gateway that refuses these request fields, with Azure OpenAI's message:
        # https://github.com/langchain-ai/langchain/pull/23552
        self.reject_fields = reject_fields
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.connections = 0  # TCP connections accepted (keep-alive reuses them)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self) -> Fault:
        with self._lock:
            return self.faults.popleft() if self.faults else Fault.ok()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fault = server._next()
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                refused = [f for f in server.reject_fields if f in body]
                if refused:
                    message = f"Unrecognized request argument supplied: {refused[0]}"
                    error = {"code": None, "message": message, "param": None,
                             "type": "invalid_request_error"}  # fmt: skip
                    self._json(400, {"error": error}, {})
                    return
                if (
                    fault.kind in ("ok", "hang")
                    and fault.seconds
                    and server._stop.wait(fault.seconds)
                ):
                    return
                if fault.kind == "hang":
                    self._stream(body, Fault.ok())
                elif fault.kind == "status":
                    self._json(fault.http_status, fault.body, fault.headers)
                elif fault.kind == "echo_auth":
                    message = f"invalid credentials: {self.headers.get('Authorization')}"
                    self._json(401, {"error": {"message": message}}, {})
                elif fault.kind == "raw":
                    self._start_stream()
                    for payload in fault.events:
                        self._chunk(f"data: {payload}\n\n".encode())
                    self._chunk(b"data: [DONE]\n\n")
                    self._chunk(b"")
                elif fault.kind == "json":
                    self._json(200, self._completion(fault), {})
                elif fault.kind == "malformed":
                    self._start_stream()
                    self._chunk(b'data: {"id": "x", "choices": [ {oops\n\n')
                    self._chunk(b"")
                else:
                    self._stream(body, fault)

            def _json(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _completion(self, fault: Fault) -> dict[str, Any]:
                words = len(_chunks(fault.text))
                return {
                    "id": "chatcmpl-fault",
                    "object": "chat.completion",
                    "created": 0,
                    "model": server.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": fault.text},
                            "finish_reason": fault.finish,
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": words,
                              "total_tokens": 11 + words},
                }  # fmt: skip

            def _start_stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _event(self, payload: dict[str, Any] | str) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                self._chunk(f"data: {text}\n\n".encode())

            def _stream(self, request: dict[str, Any], fault: Fault) -> None:
                self._start_stream()
                if fault.split_bytes:
                    self._split_stream(request, fault)
                    return
                base = {
                    "id": "chatcmpl-fault",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": server.model,
                }
                pieces = _chunks(fault.text)
                for i, piece in enumerate(pieces):
                    if fault.kind in ("cut", "stall") and i == fault.after_chunks:
                        if fault.kind == "stall":
                            server._stop.wait(fault.seconds)
                        # Drop the connection without the terminating chunk.
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    delta = (
                        {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                    )
                    self._event(
                        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    )
                self._event(
                    {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": fault.finish}]}
                )
                wants_usage = (request.get("stream_options") or {}).get("include_usage")
                if fault.usage and wants_usage:
                    self._event(
                        {
                            **base,
                            "choices": [],
                            "usage": {
                                "prompt_tokens": 11,
                                "completion_tokens": len(pieces),
                                "total_tokens": 11 + len(pieces),
                            },
                        }
                    )
                self._event("[DONE]")
                self._chunk(b"")

            def _split_stream(self, request: dict[str, Any], fault: Fault) -> None:
                body = (
                    b"".join(
                        f"data: {json.dumps(e, ensure_ascii=False)}\n\n".encode()
                        for e in _events(server.model, fault.text, fault.finish)
                    )
                    + b"data: [DONE]\n\n"
                )
                step = fault.split_bytes
                for start in range(0, len(body), step):
                    self._chunk(body[start : start + step])
                    server._stop.wait(0.001)  # apart on the wire: separate reads
                self._chunk(b"")

        return Handler


def _events(model: str, text: str, finish: str) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "model": model}
    return [
        *({**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
          for p in _chunks(text)),
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
    ]  # fmt: skip
