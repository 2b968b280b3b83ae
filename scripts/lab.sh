#!/usr/bin/env bash
# Installs neonhub-nb and starts JupyterLab on the notebooks in mock mode. The URL it
# prints opens the playground notebook, with the file browser in notebooks/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export NEONHUB_MODE="${NEONHUB_MODE:-mock}"
export NEONHUB_DB="${NEONHUB_DB:-$ROOT/data/neonhub.duckdb}"
FIRST_NOTEBOOK="notebooks/01_draft_playground.ipynb"
args=(--no-browser --ip="${JUPYTER_IP:-127.0.0.1}" --port="${JUPYTER_PORT:-8888}"
      --ServerApp.root_dir="$ROOT"
      # The URL Jupyter prints (and / itself) lead to the playground, not the Launcher.
      --LabApp.default_url="/lab/tree/$FIRST_NOTEBOOK")
# JupyterLab refuses to run as root without this flag (containers, CI machines).
if [ "$(id -u)" = "0" ]; then args+=(--allow-root); fi
echo "==> mode: $NEONHUB_MODE   audit store: $NEONHUB_DB"
echo "==> open the http://127.0.0.1:... URL printed below (it carries the login token);"
echo "    it opens $FIRST_NOTEBOOK"
exec "$ROOT/.venv/bin/jupyter" lab "${args[@]}"
