#!/usr/bin/env bash
# The PySpark parity tests, in their own environment (.venv-spark): Java 17 from apt when missing,
# the package with the scale, spark, notebook and dev extras, then only the tests marked `spark`
# (engine parity, and notebooks run with engine="spark" in this environment's own kernel).
# Kept apart from .venv because pandera imports pyspark.pandas whenever pyspark is installed,
# which warns and sets environment variables on every `import analysis_kit`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v java >/dev/null 2>&1; then
    echo "test_spark: Java not found; installing openjdk-17-jre-headless with apt-get"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        openjdk-17-jre-headless >/dev/null
fi

if [ ! -x .venv-spark/bin/python ]; then
    "$PYTHON" -m venv .venv-spark
fi
EXTRAS="scale,spark,notebook,dev"
if [ ! -f .venv-spark/.installed ] || [ pyproject.toml -nt .venv-spark/.installed ] \
    || [ "$(cat .venv-spark/.installed)" != "$EXTRAS" ]; then
    .venv-spark/bin/python -m pip install -q --upgrade pip
    .venv-spark/bin/python -m pip install -q -e ".[$EXTRAS]"
    # papermill runs notebooks in the kernel named python3: make it this environment's Python
    .venv-spark/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
    echo "$EXTRAS" > .venv-spark/.installed
fi
.venv-spark/bin/python -m pytest -m spark tests/test_spark.py "$@"
