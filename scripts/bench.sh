#!/usr/bin/env bash
# Runs a benchmark from bench/ in the project's environment.
#   ./scripts/bench.sh store [options]      audit store (installs MLflow as the peer)
#   ./scripts/bench.sh scrape [options]     Prometheus scrape time
#   ./scripts/bench.sh throughput [options] batch throughput, mock and fixed-latency server
#   ./scripts/bench.sh dashboard [options]  Voila dashboard time to visible at 1M runs
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${1:?usage: scripts/bench.sh store|scrape|throughput|dashboard [options]}"
shift
"$ROOT/scripts/bootstrap.sh"
if [ "$name" = "store" ]; then
  # The peer the issue compares against; only the benchmark needs it.
  "$ROOT/.venv/bin/uv" pip install --quiet --python "$ROOT/.venv/bin/python" "mlflow==3.17.2"
fi
exec "$ROOT/.venv/bin/python" "$ROOT/bench/bench_$name.py" "$@"
