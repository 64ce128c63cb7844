#!/usr/bin/env bash
# Install what is needed, then run the report on the bundled sample data into reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/analysis-kit report --out reports "$@"
