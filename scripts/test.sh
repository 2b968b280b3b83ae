#!/usr/bin/env bash
# Installs everything the test suite needs and runs all of it: lint, types, tests with
# coverage (floor 85%), real JupyterLab/Voila/Chromium, Prometheus and a local model server.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$(date +%s)

# System packages: headless Chromium for browser tests, Prometheus (+promtool), a compiler.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# PostgreSQL for the team store's tests (started per test session by tests/pg.py).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# The local model server for the live-mode tests is compiled from source once per machine.
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
# objdump checks that the built binary holds no instruction beyond its portable baseline.
command -v objdump >/dev/null 2>&1 || need+=(binutils)
# qemu-user runs the freshly built server once on an emulated x86-64-v2 CPU (no AVX).
[ "$(uname -m)" != "x86_64" ] || command -v qemu-x86_64 >/dev/null 2>&1 || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  echo "==> apt-get install ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

"$ROOT/scripts/bootstrap.sh"
if [ -x "$ROOT/scripts/build_llama_server.sh" ]; then
  "$ROOT/scripts/build_llama_server.sh"
fi

echo "==> ruff"
.venv/bin/ruff check neonhub_nb tests bench
.venv/bin/ruff format --check neonhub_nb tests bench
echo "==> mypy"
.venv/bin/mypy
echo "==> import contracts (lint-imports)"
.venv/bin/lint-imports
echo "==> pytest"
rm -f .coverage .coverage.*
# tests/ plus nbval over the committed notebooks (outputs compared strictly, except what
# nbval_sanitize.cfg names: ids, timestamps, durations, temp paths).
nb_dirs=(notebooks)
[ -d dashboards ] && nb_dirs+=(dashboards)
.venv/bin/pytest tests "${nb_dirs[@]}" --nbval --nbval-current-env \
  --nbval-sanitize-with nbval_sanitize.cfg \
  --cov=neonhub_nb --cov-report=term --cov-fail-under=85 -p no:cacheprovider "$@"
echo "==> test suite finished in $(( $(date +%s) - start )) s"
