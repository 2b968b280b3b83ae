"""A chat completions endpoint on 127.0.0.1 that answers exactly the bytes it is given.

Each dialect module builds its vendor's replies (status, headers, body pieces) from the
vendor's documentation and issue trackers; this server only puts them on the wire, piece by
piece (chunked, each piece flushed on its own), so the real SDK and client read them as they
would from the real server. Requests are recorded for the tests to check.

    with DialectServer() as server:
        server.push(Reply.stream([b'data: {...}\\n\\n', b"data: [DONE]\\n\\n"]))
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DialectServer", "Reply", "sse"]


def sse(
    *payloads: dict[str, Any] | str, done: bool = True, blank_after_done: bool = True
) -> list[bytes]:
    """Server-sent events, one body piece per event (``str`` payloads are sent verbatim)."""
    pieces = [
        f"data: {p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)}\n\n".encode()
        for p in payloads
    ]
    if done:
        pieces.append(b"data: [DONE]\n\n" if blank_after_done else b"data: [DONE]")
    return pieces


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    parts: tuple[bytes, ...] = ()
    chunked: bool = True

    @classmethod
    def stream(cls, parts: list[bytes], *, headers: dict[str, str] | None = None) -> Reply:
        return cls(200, {"Content-Type": "text/event-stream", **(headers or {})}, tuple(parts))

    @classmethod
    def json(cls, status: int, body: Any, *, headers: dict[str, str] | None = None) -> Reply:
        data = json.dumps(body).encode()
        return cls(status, {"Content-Type": "application/json", **(headers or {})}, (data,), False)


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class DialectServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = _Quiet(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def __enter__(self) -> DialectServer:
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
                    server.requests.append(body)
                    if not server.replies:
                        raise AssertionError("no reply scripted for this request")
                    reply = server.replies.popleft()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in reply.parts:
                        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    data = b"".join(reply.parts)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

        return Handler
