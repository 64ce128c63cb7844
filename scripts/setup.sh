#!/usr/bin/env bash
# Shared set-up for scripts/report.sh and scripts/test.sh: a virtual environment in .venv with the
# package and every extra installed. Safe to run again: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        as_root apt-get update -qq
        as_root apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv .venv
    fi
fi

# A CJK font lets charts show Chinese text; skipped quietly where apt is unavailable.
if command -v apt-get >/dev/null && ! fc-list 2>/dev/null | grep -qi "cjk\|wqy"; then
    { as_root apt-get update -qq && as_root apt-get install -y -qq fonts-noto-cjk >/dev/null; } \
        || echo "note: could not install fonts-noto-cjk; charts fall back to English labels" >&2
fi

if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[notebook,scale,sql,dev]"
    .venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
    touch .venv/.installed
fi
