"""RFM summary at scale: ``rfm_summary`` on pandas, Polars and DuckDB against lifetimes and SQL.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_rfm.py                  # 10,000,000 order lines
    .venv/bin/python benchmarks/bench_rfm.py --rows 200000    # quick check

The order lines are generated once with numpy (seeded) and kept as Parquet under
``benchmarks/results/``: about one customer per ten lines with a skewed (log-normal) number of
orders per customer, 1 + Poisson(0.5) lines per order, three years of timestamps (2022-2024) with
growth, and about 3 % of orders refunds (negative amounts).

Each contender runs in its own child process, so its peak memory (peak RSS, Linux ``VmHWM``) is its own; the figure
includes the input (pandas reads the Parquet file first; Polars, DuckDB and the SQL query scan it
lazily, so for them the scan is inside the timed summary). The read is timed separately and left
out of ``summary s``. Contenders:

- ``pandas``: ``rfm_summary(pd.read_parquet(path), as_of=...)``.
- ``polars``: ``rfm_summary(pl.scan_parquet(path), as_of=...).collect(engine="streaming")``
  (Polars' streaming engine, which works through the file in batches), with a memory budget
  (``--polars-memory``, 3,000 MB: the ``POLARS_OOC_MEMORY_BUDGET_MB`` Polars reads at start)
  past which it spills to ``benchmarks/results/polars_spill``.
- ``duckdb``: ``rfm_summary(con.read_parquet(path), as_of=...).df()`` on a connection with a
  memory limit (``--duckdb-memory``) and one thread per core.
- ``spark``: ``rfm_summary(spark.read.parquet(path), as_of=...).toPandas()`` on a local PySpark
  session (every core, ``--spark-memory`` driver heap), run in the ``.venv-spark`` environment
  that ``scripts/test_spark.sh`` builds (skipped without it); its peak memory adds the JVM's.
- ``sql``: a hand-written DuckDB query for the same ``days`` summary, same connection settings.
- ``pandas_lifetimes``: ``rfm_summary(df, convention="lifetimes", freq="D", as_of=...)``.
- ``lifetimes``: ``lifetimes.utils.summary_data_from_transaction_data`` with ``freq="D"``.

The first five must agree customer by customer (checked after the timings, from the results each
child writes to Parquet). The two lifetimes-convention rows agree on every customer without a
refund; they differ on purpose for the others, because lifetimes counts a refund-only day as a
purchase period and averages negative amounts into ``monetary_value``, which ``rfm_summary`` does
not.

lifetimes (0.11.3, archived) is not a dependency of analysis_kit; install it to get its row::

    .venv/bin/pip install lifetimes

It installs (bringing autograd and dill, changing nothing else) and runs with pandas 3.1 and
numpy 2.4; its import only sets a deprecated pandas option (a silent ``Pandas4Warning``).
Without it the row is skipped with a note. The goals from the issue: ``rfm_summary`` on pandas at
least 3x faster than lifetimes (both in the lifetimes convention), the DuckDB and Polars inputs
within 1.3x of the hand-written SQL, and DuckDB, Polars and the SQL query under 4 GB of peak
memory (out of core at 50,000,000 lines: ``--rows 50000000``). The table is printed and saved as JSON to
``benchmarks/results/rfm_{rows}.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
from _harness import (
    RESULTS,
    ROOT,
    add_arguments,
    child_arguments,
    engine_goals,
    fmt,
    generated_input,
    measure,
    open_input,
    peak_mb,
    print_goals,
    run_contenders,
)

DAYS = ("pandas", "polars", "duckdb", "spark", "sql")
LIFETIMES = ("pandas_lifetimes", "lifetimes")
CONTENDERS = DAYS + LIFETIMES
GOAL_LIFETIMES = 3.0  # lifetimes seconds / pandas_lifetimes seconds must be at least this
ALL_LIFETIMES = "lifetimes vs pandas_lifetimes (all customers; differ on refunds by design)"
INSTALL_HINT = (
    "lifetimes is not installed (it is not an analysis_kit dependency); "
    "to add its row: .venv/bin/pip install lifetimes"
)

SQL = """
WITH days AS (
    SELECT customer_id,
           CAST(order_date AS DATE) AS day,
           sum(coalesce(CAST(amount AS DOUBLE), 0)) AS amount
    FROM read_parquet('{path}')
    WHERE customer_id IS NOT NULL
      AND order_date IS NOT NULL
      AND CAST(order_date AS DATE) <= DATE '{as_of}'
    GROUP BY customer_id, day
)
SELECT customer_id,
       DATE '{as_of}' - max(day) FILTER (WHERE amount > 0) AS recency,
       count(*) FILTER (WHERE amount > 0) AS frequency,
       sum(amount) AS monetary,
       sum(amount) / nullif(count(*) FILTER (WHERE amount > 0), 0) AS monetary_mean,
       CAST(min(day) FILTER (WHERE amount > 0) AS TIMESTAMP) AS first_purchase,
       CAST(max(day) FILTER (WHERE amount > 0) AS TIMESTAMP) AS last_purchase
FROM days
GROUP BY customer_id
ORDER BY customer_id
"""


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def _generate(rows: int, seed: int, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_customers = max(rows // 10, 1)
    # Orders of 1 + Poisson(0.5) lines; draw enough orders, then cut at exactly `rows` lines.
    guess = rows // 1.5 + 1000
    while True:
        per_order = 1 + rng.poisson(0.5, int(guess))
        ends = np.cumsum(per_order)
        if ends[-1] >= rows:
            break
        guess *= 1.5
    n_orders = int(np.searchsorted(ends, rows)) + 1
    per_order = per_order[:n_orders]
    per_order[-1] -= int(ends[n_orders - 1]) - rows

    # Skewed customers: log-normal weights, so most buy a few times and some buy very often.
    weights = rng.lognormal(0.0, 1.5, n_customers)
    customer = rng.choice(n_customers, size=n_orders, p=weights / weights.sum())
    # Three years of timestamps to the second, with growth (more orders later on).
    start = np.datetime64("2022-01-01T00:00:00", "s")
    span = int((np.datetime64("2025-01-01T00:00:00", "s") - start).astype(np.int64))
    seconds = (rng.random(n_orders) ** 0.8 * span).astype(np.int64)
    order_date = np.sort(start + seconds.astype("timedelta64[s]")).astype("datetime64[us]")
    refund = rng.random(n_orders) < 0.03

    # Lines: orders repeated, each line its own amount; refund orders are negative.
    line_order = np.repeat(np.arange(n_orders, dtype=np.int64), per_order)
    amount = np.maximum(np.round(rng.lognormal(3.5, 1.0, rows), 2), 0.01)
    amount[refund[line_order]] *= -1
    width = max(7, len(str(n_customers - 1)))
    ids = np.char.add("C", np.char.zfill(np.arange(n_customers).astype(str), width))
    table = pa.table(
        {
            "customer_id": pa.array(ids).take(pa.array(customer[line_order])),
            "order_id": pa.array(line_order + 1),
            "order_date": pa.array(order_date[line_order]),
            "amount": pa.array(amount),
        }
    )
    pq.write_table(table, path)


# ---------------------------------------------------------------------------------------------
# Children
# ---------------------------------------------------------------------------------------------


def _child(which: str, path: Path, out: Path, args: argparse.Namespace) -> dict:
    """Run one contender: read (timed apart), summarise ``repeat`` times, write the result."""
    as_of, repeat = args.as_of, args.repeat
    if which == "lifetimes":
        try:
            from lifetimes.utils import summary_data_from_transaction_data
        except ImportError:
            return {"which": which, "skipped": INSTALL_HINT}
    from analysis_kit.rfm import rfm_summary

    data, con, read_s = open_input(which, path, args)
    input_mb = peak_mb()

    def run():
        if which == "pandas":
            return rfm_summary(data, as_of=as_of)
        if which == "polars":
            return rfm_summary(data, as_of=as_of).collect(engine="streaming")
        if which == "duckdb":
            return rfm_summary(data, as_of=as_of).df()
        if which == "spark":
            return rfm_summary(data, as_of=as_of).toPandas()
        if which == "sql":
            return con.sql(SQL.format(path=path, as_of=as_of)).df()
        if which == "pandas_lifetimes":
            return rfm_summary(data, convention="lifetimes", freq="D", as_of=as_of)
        return summary_data_from_transaction_data(
            data,
            "customer_id",
            "order_date",
            monetary_value_col="amount",
            observation_period_end=as_of,
            freq="D",
        ).reset_index()

    result, record = measure(which, data, run, repeat)
    if which == "polars":
        result.write_parquet(out)
    else:
        result.to_parquet(out, index=False)
    return {"which": which, "read_s": read_s, "input_mb": input_mb, **record}


# ---------------------------------------------------------------------------------------------
# Checks (after the timings, in DuckDB over the results the children wrote)
# ---------------------------------------------------------------------------------------------


def _checksums(con, out: Path, which: str) -> dict:
    if which in DAYS:
        query = (
            "SELECT count(*), sum(frequency), sum(monetary), sum(recency), "
            f"count(*) FILTER (WHERE frequency = 0) FROM '{out}'"
        )
        keys = ("customers", "sum_frequency", "sum_monetary", "sum_recency", "non_buyers")
    else:
        query = (
            "SELECT count(*), sum(frequency), sum(monetary_value), sum(recency), sum(T) "
            f"FROM '{out}'"
        )
        keys = ("customers", "sum_frequency", "sum_monetary", "sum_recency", "sum_T")
    row = con.execute(query).fetchone()
    return {k: (float(v) if v is not None else None) for k, v in zip(keys, row, strict=True)}


def _differs(a: str, b: str, column: str, numeric: bool) -> str:
    left, right = f"a.{column}", f"b.{column}"
    if not numeric:
        return f"{left} IS DISTINCT FROM {right}"
    close = f"abs({left} - {right}) <= 1e-6 * greatest(1, abs({left}))"
    return f"({left} IS DISTINCT FROM {right} AND NOT coalesce({close}, false))"


def _compare(con, ref: Path, other: Path, columns: dict[str, bool], where: str = "") -> dict:
    """Count customers in only one result, and customers whose values differ, per column."""
    only = con.execute(
        f"SELECT count(*) FILTER (WHERE a.customer_id IS NULL), "
        f"count(*) FILTER (WHERE b.customer_id IS NULL) "
        f"FROM '{ref}' a FULL JOIN '{other}' b USING (customer_id) {where}"
    ).fetchone()
    diffs = ", ".join(
        f"count(*) FILTER (WHERE {_differs('a', 'b', c, n)})" for c, n in columns.items()
    )
    joined = con.execute(
        f"SELECT count(*), {diffs} FROM '{ref}' a JOIN '{other}' b USING (customer_id) {where}"
    ).fetchone()
    return {
        "only_in_reference": int(only[1]),
        "only_in_other": int(only[0]),
        "compared": int(joined[0]),
        "mismatches": {c: int(v) for c, v in zip(columns, joined[1:], strict=True) if v},
    }


def _sorted(con, out: Path) -> bool:
    """Return whether the rows come sorted by customer, as ``rfm_summary`` promises."""
    return not con.execute(
        f"SELECT coalesce(bool_or(customer_id < prev), false) FROM (SELECT customer_id, "
        f"lag(customer_id) OVER (ORDER BY file_row_number) AS prev "
        f"FROM read_parquet('{out}', file_row_number = true))"
    ).fetchone()[0]


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Polars' group-by over 30 M customer-days passes 4 GB at 50 M lines without a budget; with
    # 3,000 MB it spills a little and is no slower.
    add_arguments(parser, CONTENDERS, "summary runs", polars_memory=3000)
    parser.add_argument("--as-of", default="2024-12-31")
    args = parser.parse_args()
    if args.child == "generate":
        path = RESULTS / f"orders_{args.rows}_{args.seed}.parquet"
        _generate(args.rows, args.seed, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
        return
    path = generated_input(__file__, "orders", args.rows, args.seed)
    out = {w: RESULTS / f"rfm_{args.rows}_{args.seed}_{w}.parquet" for w in CONTENDERS}
    if args.child:
        record = _child(args.child, path, out[args.child], args)
        print(json.dumps(record))
        return

    import duckdb
    import pandas as pd

    import analysis_kit

    cores = len(os.sched_getaffinity(0))
    print(
        f"{args.rows:,d} order lines ({path.name}), as_of {args.as_of}, {cores} cores, "
        f"best of {args.repeat}, DuckDB memory_limit {args.duckdb_memory}",
        flush=True,
    )
    target = RESULTS / f"rfm_{args.rows}.json"
    arguments = child_arguments(args, "--as-of", args.as_of)
    results = run_contenders(
        __file__,
        CONTENDERS,
        arguments,
        target,
        args,
        before=lambda w: out[w].unlink(missing_ok=True),
    )

    con = duckdb.connect()
    done = [w for w, r in results.items() if "seconds" in r]
    for which in done:
        results[which]["checksums"] = _checksums(con, out[which], which)
        if which != "lifetimes":  # lifetimes keeps customers in order of appearance
            results[which]["sorted"] = _sorted(con, out[which])

    # Agreement: every days-convention engine against the first one run, customer by customer.
    checks: dict[str, dict] = {}
    days_done = [w for w in DAYS if w in done]
    days_columns = {
        "recency": True,
        "frequency": True,
        "monetary": True,
        "monetary_mean": True,
        "first_purchase": False,
        "last_purchase": False,
    }
    for which in days_done[1:]:
        checks[f"{which} vs {days_done[0]}"] = _compare(
            con, out[days_done[0]], out[which], days_columns
        )
    if all(w in done for w in LIFETIMES):
        refunded = f"SELECT DISTINCT customer_id FROM '{path}' WHERE amount < 0"
        checks["lifetimes vs pandas_lifetimes (customers without refunds)"] = _compare(
            con,
            out["pandas_lifetimes"],
            out["lifetimes"],
            {"frequency": True, "recency": True, "T": True, "monetary_value": True},
            where=f"WHERE customer_id NOT IN ({refunded})",
        )
        checks[ALL_LIFETIMES] = _compare(
            con,
            out["pandas_lifetimes"],
            out["lifetimes"],
            {"frequency": True, "recency": True, "T": True, "monetary_value": True},
        )

    # Goals.
    goals = {}
    lifetimes_s = results.get("lifetimes", {}).get("seconds")
    ours_s = results.get("pandas_lifetimes", {}).get("seconds")
    if lifetimes_s and ours_s:
        ratio = lifetimes_s / ours_s
        goals["pandas_lifetimes vs lifetimes"] = {
            "value": ratio,
            "unit": "x",
            "goal": f">= {GOAL_LIFETIMES}x faster",
            "met": ratio >= GOAL_LIFETIMES,
        }
    goals.update(engine_goals(results))

    # Table.
    print()
    header = (
        f"{'contender':17s} {'read s':>7s} {'summary s':>9s} {'input MB':>9s} {'peak MB':>8s} "
        f"{'customers':>10s} {'Σ frequency':>12s} {'Σ monetary':>17s} {'Σ recency':>14s}"
    )
    print(header)
    print("-" * len(header))
    for which, r in results.items():
        if "seconds" not in r:
            print(f"{which:17s} {'skipped' if 'skipped' in r else 'failed'}")
            continue
        c = r["checksums"]
        print(
            f"{which:17s} {fmt(r['read_s'], '7.2f')} {fmt(r['seconds'], '9.2f')} "
            f"{fmt(r['input_mb'], '9,.0f')} {fmt(r['peak_mb'], '8,.0f')} "
            f"{fmt(c['customers'], '10,.0f')} {fmt(c['sum_frequency'], '12,.0f')} "
            f"{fmt(c['sum_monetary'], '17,.2f')} {fmt(c['sum_recency'], '14,.0f')}"
        )
    print()
    for name, check in checks.items():
        ok = not (check["mismatches"] or check["only_in_reference"] or check["only_in_other"])
        verdict = "info" if name == ALL_LIFETIMES else "yes" if ok else "NO"
        print(
            f"agree {verdict:4s} {name}: {check['compared']:,d} customers compared, "
            f"{check['only_in_reference']:,d} only in the first, "
            f"{check['only_in_other']:,d} only in the second, mismatches {check['mismatches']}"
        )
    unsorted = [w for w in done if not results[w].get("sorted", True)]
    if unsorted:
        print(f"not sorted by customer: {', '.join(unsorted)}")
    print_goals(goals)
    if "lifetimes" in results and "skipped" in results["lifetimes"]:
        print(f"goal n/a   pandas_lifetimes vs lifetimes: {INSTALL_HINT}")

    versions = {"python": platform.python_version(), "analysis_kit": analysis_kit.__version__}
    for module in ("numpy", "pandas", "polars", "duckdb", "narwhals", "pyarrow", "lifetimes"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    report = {
        "rows": args.rows,
        "seed": args.seed,
        "as_of": args.as_of,
        "repeat": args.repeat,
        "cores": cores,
        "duckdb_memory_limit": args.duckdb_memory,
        "input": path.name,
        "versions": versions,
        "results": results,
        "checks": checks,
        "goals": goals,
    }
    target.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nsaved {target.relative_to(ROOT)}; pandas {pd.__version__}")


if __name__ == "__main__":
    main()
