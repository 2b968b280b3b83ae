"""Per-chunk cost of decoding a streamed answer: bytes off the socket in, a Completion out.

Three decoders read the same body (the streamed article of ``bench_throughput.py``, one
word per event, cut into network reads of ``--read-bytes``):

- ``bytes -> ChatStream`` (now): ``neonhub_nb.llm.stream.ChatStream.feed`` on raw bytes;
- ``iter_lines -> ChatStream`` (before): what the client did until issue 17, httpx2's
  ``iter_lines`` decoding (UTF-8 text, then lines) feeding the previous ``ChatStream``,
  loaded from git (``--baseline``, default ``d20d65e``);
- ``orjson.loads`` per event: the floor, parsing alone.

    .venv/bin/python bench/bench_decode.py            # medians of 15 repeats
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from httpx2._decoders import LineDecoder

import neonhub_nb
from neonhub_nb.llm.stream import ChatStream

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import _response_body

__all__ = ["main"]

MESSAGES = [{"role": "user", "content": "Write about bakery newsletters."}]
ROOT = Path(__file__).resolve().parents[1]


def _baseline(commit: str) -> type | None:
    """The ChatStream of ``commit``, imported as a module of the installed package."""
    try:
        source = subprocess.run(
            ["git", "show", f"{commit}:neonhub_nb/chatstream.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = Path(tempfile.mkdtemp())
    path = folder / "chatstream_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(
        "neonhub_nb.chatstream_baseline", path, submodule_search_locations=None
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = neonhub_nb.__name__  # its relative imports resolve to the package
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except ImportError:  # the package moved on since (its imports no longer resolve)
        return None
    return module.ChatStream  # type: ignore[no-any-return]


def _reads(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def decode_now(reads: list[bytes]) -> str:
    stream = ChatStream("m", MESSAGES, None)
    stream.start_attempt(0.0)
    for data in reads:
        stream.feed(data)
    stream.end()
    return stream.result().text


def decoder_before(cls: type) -> Callable[[list[bytes]], str]:
    def decode(reads: list[bytes]) -> str:
        stream = cls("m", MESSAGES, None)
        stream.start_attempt(0.0)
        lines = LineDecoder()
        text = __import__("codecs").getincrementaldecoder("utf-8")(errors="replace")
        for data in reads:
            for line in lines.decode(text.decode(data)):
                stream.feed(line)
        for line in lines.decode(text.decode(b"", final=True)):
            stream.feed(line)
        for line in lines.flush():
            stream.feed(line)
        stream.end()
        return str(stream.result().text)

    return decode


def floor(reads: list[bytes]) -> str:
    body = b"".join(reads)
    for event in body.split(b"\n\n"):
        if event.startswith(b"data: {"):
            orjson.loads(event[6:])
    return ""


def _time(decode: Callable[[list[bytes]], str], reads: list[bytes], loops: int) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        decode(reads)
    return (time.perf_counter() - started) / loops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline", default="d20d65e", help="git commit of the 'before' decoder")
    parser.add_argument("--read-bytes", type=int, default=1024, help="bytes per network read")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--loops", type=int, default=200, help="bodies decoded per repeat")
    args = parser.parse_args(argv)
    body = _response_body(1)
    reads = _reads(body, args.read_bytes)
    events = body.count(b"data: {")
    candidates: list[tuple[str, Callable[[list[bytes]], str]]] = [
        ("bytes -> ChatStream (now)", decode_now)
    ]
    before = _baseline(args.baseline)
    if before is not None:
        before_decode = decoder_before(before)
        if before_decode(reads) != decode_now(reads):
            raise SystemExit("the two decoders disagree on the text")
        candidates.append((f"iter_lines -> ChatStream ({args.baseline})", before_decode))
    else:
        print(f"(no baseline: {args.baseline}'s decoder cannot be loaded here)")
    candidates.append(("orjson.loads per event (floor)", floor))
    for _, decode in candidates:
        decode(reads)  # warm up
    # Interleaved, so that a busy moment on a shared machine hits every decoder alike.
    runs: dict[str, list[float]] = {name: [] for name, _ in candidates}
    for _ in range(args.repeats):
        for name, decode in candidates:
            runs[name].append(_time(decode, reads, args.loops))
    medians = {name: statistics.median(r) / events * 1e6 for name, r in runs.items()}
    now = medians["bytes -> ChatStream (now)"]
    print(f"{events} events, {len(body)} bytes, reads of {args.read_bytes} bytes; "
          f"median of {args.repeats} x {args.loops} bodies, interleaved; "
          f"load average {__import__('os').getloadavg()[0]:.2f}")  # fmt: skip
    print("| decoder | µs per chunk (median) | vs now |")
    print("| --- | --- | --- |")
    for name, value in medians.items():
        print(f"| {name} | {value:.2f} | {value / now:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
