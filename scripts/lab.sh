#!/usr/bin/env bash
# Installs neonhub-nb and starts JupyterLab on the notebooks in mock mode.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export NEONHUB_MODE="${NEONHUB_MODE:-mock}"
export NEONHUB_DB="${NEONHUB_DB:-$ROOT/data/neonhub.duckdb}"
args=(--no-browser --ip="${JUPYTER_IP:-127.0.0.1}" --port="${JUPYTER_PORT:-8888}"
      --ServerApp.root_dir="$ROOT")
# JupyterLab refuses to run as root without this flag (containers, CI machines).
if [ "$(id -u)" = "0" ]; then args+=(--allow-root); fi
echo "==> mode: $NEONHUB_MODE   audit store: $NEONHUB_DB"
echo "==> open the http://127.0.0.1:... URL printed below (it carries the login token)"
exec "$ROOT/.venv/bin/jupyter" lab "${args[@]}" notebooks/01_draft_playground.ipynb
