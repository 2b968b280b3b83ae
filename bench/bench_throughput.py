"""Batch throughput: N drafts at concurrency C, against the mock LLM and a local server.

The local server is an OpenAI-compatible chat completions endpoint of our own with a fixed
latency (200 ms by default), run in its own process so its CPU does not compete with the
toolkit's. Every draft is a full ``Orchestrator.run`` in live mode (real ``openai`` SDK,
streaming, breaker and budget checks) recorded through a real ``AuditStore``.

    .venv/bin/python bench/bench_throughput.py                   # the table in docs/live-mode.md
    .venv/bin/python bench/bench_throughput.py --profile         # cProfile of mock mode

Goals (issue 4): at C=32 the toolkit reaches >= 90% of the server's capacity (C / latency
runs per second), and mock mode does >= 2,000 drafts/s including recording.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from neonhub_nb import DraftParams
from neonhub_nb.agents import AgentCatalog
from neonhub_nb.config import Settings, load_settings
from neonhub_nb.llm import LLMClient, MockLLM
from neonhub_nb.llm.live import OpenAILLM
from neonhub_nb.models import RunRequest
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.store import AuditStore

__all__ = ["main", "serve"]

MODEL = "bench-model"
ARTICLE = "# Benchmark draft\n\n" + "\n\n".join(
    f"Paragraph {i} about bakery newsletters and why they keep customers coming back. "
    "Short, friendly and useful for a small business owner."
    for i in range(8)
)


# ------------------------------------------------------------------ fake server


def _mock_model() -> MockLLM:
    """The mock model with every agent's writer, as the orchestrator builds it."""
    return MockLLM(AgentCatalog.builtin().mock_writers())


def _response_body(words_per_chunk: int) -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
    words = ARTICLE.split(" ")
    step = words_per_chunk
    pieces = [" ".join(words[i : i + step]) + " " for i in range(0, len(words), step)]
    events = [
        {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        for p in pieces
    ]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append(
        {**base, "choices": [], "usage": {"prompt_tokens": 180, "completion_tokens": 150}}
    )
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def serve(port: int, latency_s: float, words_per_chunk: int = 1) -> None:
    """Answer every POST after ``latency_s`` with the same streamed article (keep-alive).

    One word per chunk by default, like real servers that stream token by token."""
    body = _response_body(words_per_chunk)
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        + f"Content-Length: {len(body)}\r\n".encode()
        + b"Connection: keep-alive\r\n\r\n"
        + body
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                await asyncio.sleep(latency_s)
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(
    latency_s: float, words_per_chunk: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--latency", str(latency_s),
         "--words-per-chunk", str(words_per_chunk)]
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the benchmark server did not start")


# ------------------------------------------------------------------ measuring
@dataclass
class Row:
    target: str
    concurrency: int
    runs: int
    seconds: float
    ingest_s: float
    capacity: float | None  # runs/s the server can give at this concurrency
    latency_s: float | None
    cpu_s: float = 0.0  # this process's CPU time (all threads) while the runs went on

    @property
    def rate(self) -> float:
        return self.runs / self.seconds

    def cells(self) -> list[str]:
        share = f"{100 * self.rate / self.capacity:.1f}%" if self.capacity else "-"
        # Each worker runs back to back, so a run's wall time is C / rate; what is left
        # after the server's own time is the toolkit's overhead per run.
        overhead = (
            f"{1000 * (self.concurrency / self.rate - self.latency_s):.1f}"
            if self.latency_s is not None
            else f"{1000 * self.concurrency / self.rate:.3f}"
        )
        capacity = f"{self.capacity:.1f}" if self.capacity else "-"
        return [
            self.target,
            str(self.concurrency),
            str(self.runs),
            f"{self.seconds:.2f}",
            f"{self.rate:,.1f}",
            capacity,
            share,
            overhead,
            f"{1000 * self.cpu_s / self.runs:.2f}",
            f"{self.ingest_s:.2f}",
        ]


HEADER = ["target", "C", "N", "wall s", "runs/s", "capacity/s", "% capacity", "ms/run overhead",
          "CPU ms/run", "final ingest s"]  # fmt: skip


def _requests(n: int, word_count: int) -> list[RunRequest]:
    params = DraftParams(
        topic="Bakery newsletters", primary_keyword="bakery newsletter", word_count=word_count
    ).model_dump()
    return [RunRequest(intent="content.generate_article", params=params, seed=i) for i in range(n)]


def _settings(folder: Path, mode: str, url: str | None = None) -> Settings:
    env = {"NEONHUB_MODE": mode, "NEONHUB_MODEL": MODEL, "NEONHUB_DB": str(folder / "b.duckdb")}
    if url:
        env["OPENAI_BASE_URL"] = url
    return load_settings(env)


def _timed_runs(
    settings: Settings, llm: LLMClient, concurrency: int, requests: list[RunRequest]
) -> tuple[float, float, float, int]:
    """Seconds for all runs, their CPU seconds, seconds for the final ingest, failures."""
    store = AuditStore.from_settings(settings)
    orchestrator = build_orchestrator(settings, store=store, llm=llm)
    orchestrator.run(requests[0])  # warm up: imports, connections, migrations
    started, cpu = time.perf_counter(), time.process_time()
    if concurrency == 1:
        results = [orchestrator.run(r) for r in requests]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(orchestrator.run, requests))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    failed = sum(r.status != "succeeded" for r in results)
    ingest_started = time.perf_counter()
    store.close()
    return elapsed, cpu, time.perf_counter() - ingest_started, failed


def bench_live(url: str, latency_s: float, concurrency: int, n: int, word_count: int) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), "live", url)
        llm = OpenAILLM.from_settings(settings)
        try:
            elapsed, cpu, ingest, failed = _timed_runs(
                settings, llm, concurrency, _requests(n, word_count)
            )
        finally:
            llm.close()
    if failed:
        raise RuntimeError(f"{failed} of {n} live runs failed")
    capacity = concurrency / latency_s
    return Row("live, local server", concurrency, n, elapsed, ingest, capacity, latency_s, cpu)


def bench_async_llm(url: str, latency_s: float, concurrency: int, n: int) -> Row:
    """The LLM client alone, with ``acomplete`` from one thread (no orchestrator)."""
    with tempfile.TemporaryDirectory() as tmp:
        llm = OpenAILLM.from_settings(_settings(Path(tmp), "live", url))
    messages = [{"role": "user", "content": "Write about bakery newsletters."}]

    async def main() -> tuple[float, float]:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                await llm.acomplete(messages, model=MODEL)

        await one()
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one() for _ in range(n)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await llm.aclose()
        return elapsed, cpu

    elapsed, cpu = asyncio.run(main())
    llm.close()
    capacity = concurrency / latency_s
    return Row("acomplete only", concurrency, n, elapsed, 0.0, capacity, latency_s, cpu)


def bench_mock(n: int, word_count: int) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, cpu, ingest, failed = _timed_runs(
            _settings(Path(tmp), "mock"), _mock_model(), 1, _requests(n, word_count)
        )
    if failed:
        raise RuntimeError(f"{failed} of {n} mock runs failed")
    return Row(f"mock ({word_count} words)", 1, n, elapsed, ingest, None, None, cpu)


def profile_mock(n: int, word_count: int, top: int = 25) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), "mock")
        store = AuditStore.from_settings(settings)
        orchestrator = build_orchestrator(settings, store=store, llm=_mock_model())
        requests = _requests(n, word_count)
        orchestrator.run(requests[0])
        profiler = cProfile.Profile()
        profiler.enable()
        for request in requests:
            orchestrator.run(request)
        profiler.disable()
        store.close()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def _print_table(rows: list[Row]) -> None:
    cells = [HEADER, *(r.cells() for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(line(HEADER))
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in cells[1:]:
        print(line(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency, seconds")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated C values")
    parser.add_argument("--seconds", type=float, default=4.0, help="target wall time per row")
    parser.add_argument("--mock-runs", type=int, default=5000)
    parser.add_argument(
        "--mock-word-counts", default="50,300,800", help="draft lengths for the mock rows"
    )
    parser.add_argument("--word-count", type=int, default=300, help="live draft length asked")
    parser.add_argument("--words-per-chunk", type=int, default=1, help="server stream granularity")
    parser.add_argument("--no-async", action="store_true", help="skip the acomplete-only rows")
    parser.add_argument("--profile", action="store_true", help="cProfile mock mode and exit")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.latency, args.words_per_chunk)
        return 0
    if args.profile:
        profile_mock(args.mock_runs, args.word_count)
        return 0
    # Other processes on the machine take CPU from the toolkit and the server alike: show it.
    load_before = f"{os.getloadavg()[0]:.2f}"
    levels = [int(c) for c in args.concurrency.split(",")]
    runs = {c: max(c, int(args.seconds * c / args.latency)) for c in levels}
    rows: list[Row] = []
    proc, url = _start_server(args.latency, args.words_per_chunk)
    try:
        rows += [bench_live(url, args.latency, c, runs[c], args.word_count) for c in levels]
        if not args.no_async:
            rows += [bench_async_llm(url, args.latency, c, runs[c]) for c in levels]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rows += [bench_mock(args.mock_runs, int(w)) for w in args.mock_word_counts.split(",")]
    print(
        f"server latency {args.latency * 1000:.0f} ms, {args.words_per_chunk} word(s) per "
        f"stream chunk; live drafts ask for {args.word_count} words; capacity = C / latency; "
        f"load average before: {load_before}, after: {os.getloadavg()[0]:.2f} "
        f"({os.cpu_count()} CPUs)"
    )
    _print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
