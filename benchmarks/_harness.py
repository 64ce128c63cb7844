"""What every benchmark script shares: generated inputs, child processes, peak memory, DuckDB.

Each contender runs in a child process of its own (``script --child NAME ...``) so that its peak
memory is its own; the child prints one JSON line as its last line of output.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: Where DuckDB spills when a query needs more than its memory limit.
SPILL = RESULTS / "duckdb_spill"
#: Where Polars' streaming engine spills when it goes over its memory budget.
POLARS_SPILL = RESULTS / "polars_spill"
#: The issue's goals for the engines: DuckDB and Polars inputs within this factor of the
#: hand-written SQL ...
GOAL_SQL = 1.3
#: ... and the out-of-core engines (DuckDB, Polars, the SQL query) under this peak memory.
GOAL_PEAK_MB = 4096


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
    """Open a DuckDB connection: ``memory_limit``, one thread per core, spilling to :data:`SPILL`."""
    import duckdb

    SPILL.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute(f"SET threads = {len(os.sched_getaffinity(0))}")
    con.execute(f"SET temp_directory = '{SPILL}'")
    return con


def engine_goals(results: dict[str, dict]) -> dict[str, dict]:
    """Return the goals every engine benchmark checks, from the contenders' records.

    ``duckdb`` and ``polars`` seconds within :data:`GOAL_SQL` of ``sql``; the peak memory of
    ``duckdb``, ``polars`` and ``sql`` under :data:`GOAL_PEAK_MB`. Each goal is a dict with
    ``value``, ``unit``, ``goal`` and ``met``; contenders that did not run are left out.
    """
    goals: dict[str, dict] = {}
    sql = results.get("sql", {}).get("seconds")
    for which in ("duckdb", "polars"):
        seconds = results.get(which, {}).get("seconds")
        if seconds and sql:
            ratio = seconds / sql
            goals[f"{which} vs sql"] = {
                "value": ratio,
                "unit": "x",
                "goal": f"<= {GOAL_SQL}x the SQL time",
                "met": ratio <= GOAL_SQL,
            }
    for which in ("duckdb", "polars", "sql"):
        peak = results.get(which, {}).get("peak_mb")
        if peak:
            goals[f"{which} peak memory"] = {
                "value": peak,
                "unit": " MB",
                "goal": f"< {GOAL_PEAK_MB:,d} MB",
                "met": peak < GOAL_PEAK_MB,
            }
    return goals


def print_goals(goals: dict[str, dict]) -> None:
    """Print one ``goal PASS|MISS`` line per goal."""
    for name, goal in goals.items():
        verdict = "PASS" if goal["met"] else "MISS"
        value = f"{goal['value']:,.2f}" if goal["unit"] != " MB" else f"{goal['value']:,.0f}"
        print(f"goal {verdict}  {name}: {value}{goal['unit']} (goal {goal['goal']})")


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


def spark_python() -> Path | None:
    """Return the interpreter of ``.venv-spark`` (``scripts/test_spark.sh`` builds it), or None.

    PySpark lives in an environment of its own (see the README), so the Spark contender of a
    benchmark runs in that environment's Python; without it the contender is skipped.
    """
    python = ROOT / ".venv-spark" / "bin" / "python"
    return python if python.exists() else None


SPARK_HINT = "no .venv-spark: run scripts/test_spark.sh once to build it (PySpark and Java 17)"


def spark_session(memory: str):
    """Start the package's local PySpark session on every core, with ``memory`` of driver heap."""
    from analysis_kit.reports import _spark_session

    cores = len(os.sched_getaffinity(0))
    return _spark_session(
        f"local[{cores}]",
        partitions=4 * cores,
        config={
            "spark.driver.memory": memory,
            "spark.sql.execution.arrow.pyspark.enabled": "true",
        },
    )


def children_peak_mb() -> float:
    """Sum of the peak resident memory of this process's child processes (Spark's JVM), in MB."""
    total = 0.0
    me = str(os.getpid())
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == me and "VmHWM" in fields:
            total += int(fields["VmHWM"].split()[0]) / 1024
    return total


def polars_environment(budget_mb: int) -> dict[str, str]:
    """Return a Polars child's environment: a memory budget for its streaming engine, if any.

    Polars (2.1) reads ``POLARS_OOC_MEMORY_BUDGET_MB`` when it starts and then spills what its
    streaming engine holds to ``POLARS_OOC_SPILL_DIR`` past that budget, as DuckDB does past its
    ``memory_limit``. It is an environment variable, not a setting of a running process, so it
    is given to the child; 0 leaves Polars without a budget.
    """
    env = dict(os.environ)
    if budget_mb > 0:
        POLARS_SPILL.mkdir(parents=True, exist_ok=True)
        env["POLARS_OOC_MEMORY_BUDGET_MB"] = str(budget_mb)
        env["POLARS_OOC_SPILL_DIR"] = str(POLARS_SPILL)
    return env


def run_child(
    script: str, which: str, arguments: Sequence[str], env: dict[str, str] | None = None
) -> dict:
    """Run one contender as ``script --child which *arguments`` and return its JSON record.

    The ``spark`` contender runs in :func:`spark_python`'s interpreter, or is skipped. ``env``
    replaces the child's environment (None: this process's).
    """
    python = sys.executable
    if which == "spark":
        python = spark_python()
        if python is None:
            return {"which": which, "skipped": SPARK_HINT}
    command = [str(python), script, "--child", which, *arguments]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"which": which, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def kept_results(target: Path, only: Sequence[str] | None, seed: int) -> dict[str, dict]:
    """Return the saved records of the contenders an ``--only`` run does not rerun.

    So rerunning a few contenders (say, after a disturbed measurement) keeps the others' figures
    in ``target`` instead of dropping them. Empty without ``--only`` or a saved file of the same
    seed.
    """
    if not only or not target.exists():
        return {}
    saved = json.loads(target.read_text())
    if saved.get("seed") != seed:
        return {}
    return {w: r for w, r in saved.get("results", {}).items() if w not in only}


#: Contenders that read the whole file into pandas first; the others scan it lazily.
PANDAS_INPUT = ("pandas", "pandas_lifetimes", "lifetimes")


def add_arguments(
    parser, contenders: Sequence[str], runs_of: str, *, polars_memory: int = 0
) -> None:
    """Add the options every engine benchmark takes (``runs_of``: what ``--repeat`` repeats).

    ``polars_memory`` is the default of ``--polars-memory`` (see :func:`polars_environment`).
    """
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help=f"{runs_of} per child; best kept")
    parser.add_argument("--duckdb-memory", default="3GB", help="DuckDB memory_limit")
    parser.add_argument("--spark-memory", default="3g", help="Spark driver memory (JVM heap)")
    parser.add_argument(
        "--polars-memory",
        type=int,
        default=polars_memory,
        help="Polars' memory budget in MB, past which it spills; 0: none (default %(default)s)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=contenders, help="rerun only these (others kept)"
    )
    parser.add_argument("--child", choices=("generate", *contenders))


def child_arguments(args, *extra: str) -> list[str]:
    """Return a contender child's command line: :func:`add_arguments`' values, then ``extra``."""
    return [
        *("--rows", str(args.rows), "--seed", str(args.seed), "--repeat", str(args.repeat)),
        *("--duckdb-memory", args.duckdb_memory, "--spark-memory", args.spark_memory),
        *extra,
    ]


def open_input(which: str, path: Path, args) -> tuple[Any, Any, float]:
    """Open a contender's input; return it, the DuckDB connection (or None) and the read seconds.

    pandas contenders read the whole file; ``polars`` scans it, ``spark`` reads it on a session
    started before the clock starts, ``duckdb`` gets a relation and ``sql`` only the connection.
    """
    import pandas as pd

    if which == "polars":
        import polars as pl
    elif which in ("duckdb", "sql"):
        import duckdb  # noqa: F401  (imported before the read is timed)
    elif which == "spark":
        spark = spark_session(args.spark_memory)
    con = None
    start = time.perf_counter()
    if which in PANDAS_INPUT:
        data = pd.read_parquet(path)
    elif which == "polars":
        data = pl.scan_parquet(path)
    elif which == "spark":
        data = spark.read.parquet(str(path))
    else:
        con = duckdb_connection(args.duckdb_memory)
        data = con.read_parquet(str(path)) if which == "duckdb" else None
    return data, con, time.perf_counter() - start


def measure(which: str, data: Any, run: Callable[[], Any], repeat: int) -> tuple[Any, dict]:
    """Call ``run`` ``repeat`` times; return the last result and the timing and memory record.

    The record has ``seconds`` (best run), ``times``, ``peak_mb`` (this
    process and its children: Spark's JVM) and ``rows_in`` (pandas inputs). A Spark session is
    stopped afterwards.
    """
    times = []
    result = None
    for _ in range(repeat):
        result = None  # let the previous result go before the next run
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    peak = peak_mb() + children_peak_mb()
    if which == "spark":
        data.sparkSession.stop()
    record = {
        "rows_in": int(len(data)) if which in PANDAS_INPUT else None,
        "seconds": min(times),
        "times": times,
        "peak_mb": peak,
    }
    return result, record


def run_contenders(
    script: str,
    contenders: Sequence[str],
    arguments: Sequence[str],
    target: Path,
    args,
    before: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Run every contender (or ``--only`` these, keeping the others' saved records) in turn.

    ``before(which)`` runs first for each (e.g. to remove its previous output). Prints one line
    per contender as it finishes: time and peak memory, or why it was skipped or failed.
    """
    results = kept_results(target, args.only, args.seed)
    if results:
        print(f"  kept from {target.name}: {', '.join(results)}", flush=True)
    for which in args.only or contenders:
        if before is not None:
            before(which)
        env = polars_environment(args.polars_memory) if which == "polars" else None
        results[which] = r = run_child(script, which, arguments, env)
        if env is not None:  # Polars leaves its (emptied) spill folder behind
            shutil.rmtree(POLARS_SPILL, ignore_errors=True)
        if "seconds" in r:
            print(f"  {which}: {r['seconds']:.2f} s, peak {r['peak_mb']:,.0f} MB", flush=True)
        else:
            print(f"  {which}: {r.get('skipped') or r.get('error')}", flush=True)
    return results


def fmt(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, or ``-`` when missing."""
    return "-" if value is None else format(value, spec)
