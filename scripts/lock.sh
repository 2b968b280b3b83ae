#!/usr/bin/env bash
# Re-pins every transitive dependency after a change to pyproject.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet \
  --output-file requirements.lock
