#!/usr/bin/env bash
# Creates .venv with the pinned dependencies (uv, from requirements.lock). Sourced by
# lab.sh and test.sh; safe to run again: it only installs what changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
UV_VERSION="0.13.9"

if [ ! -x "$ROOT/.venv/bin/python" ]; then
  echo "==> creating $ROOT/.venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$ROOT/.venv"
fi
if ! "$ROOT/.venv/bin/uv" --version 2>/dev/null | grep -q "$UV_VERSION"; then
  "$ROOT/.venv/bin/python" -m pip --version >/dev/null 2>&1 || "$ROOT/.venv/bin/python" -m ensurepip >/dev/null
  "$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
echo "==> installing pinned dependencies (requirements.lock)"
"$ROOT/.venv/bin/uv" pip install --quiet --python "$ROOT/.venv/bin/python" \
  -r "$ROOT/requirements.lock" -e "$ROOT"
# JupyterLab asks every new user whether to fetch news from the internet; this product is
# offline by design, so answer "no" once for everyone using this environment.
mkdir -p "$ROOT/.venv/share/jupyter/lab/settings"
cat > "$ROOT/.venv/share/jupyter/lab/settings/overrides.json" <<'JSON'
{
  "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}
}
JSON
