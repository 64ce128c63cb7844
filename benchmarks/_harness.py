"""What every benchmark script shares: generated inputs, child processes, peak memory, DuckDB.

Each contender runs in a child process of its own (``script --child NAME ...``) so that its peak
memory is its own; the child prints one JSON line as its last line of output.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's ``VmHWM`` starts afresh at ``exec``; ``ru_maxrss`` does not (a child started from a
    big parent would report the parent's peak), so it is only the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def duckdb_connection(memory: str):
    """Open a DuckDB connection with ``memory_limit`` set and one thread per available core."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute(f"SET threads = {len(os.sched_getaffinity(0))}")
    return con


def generated_input(script: str, name: str, rows: int, seed: int) -> Path:
    """``RESULTS/{name}_{rows}_{seed}.parquet``, generated once by ``script --child generate``.

    The generation runs in a child process of its own, so the parent stays small while the
    contenders run, and every contender reads the same file.
    """
    path = RESULTS / f"{name}_{rows}_{seed}.parquet"
    if not path.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        command = [sys.executable, script, "--child", "generate"]
        subprocess.run(command + ["--rows", str(rows), "--seed", str(seed)], check=True)
        print(f"generated {path.name} in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def run_child(script: str, which: str, arguments: Sequence[str]) -> dict:
    """Run one contender as ``script --child which *arguments`` and return its JSON record."""
    command = [sys.executable, script, "--child", which, *arguments]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"which": which, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def fmt(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, or ``-`` when missing."""
    return "-" if value is None else format(value, spec)
