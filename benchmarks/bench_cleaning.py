"""Cleaning throughput: ``clean_table`` against a straightforward per-row ``apply`` baseline.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_cleaning.py --rows 1000000

Both contenders read the same generated messy customer table (``datasets.make_messy_customers``,
written once to Parquet under ``benchmarks/results/``) as Arrow-backed text, as ``read_table``
returns it. Each runs in its own child process so its peak memory (Linux ``VmHWM``) is its own; the figure
includes the input table, which both hold. The baseline parses the same fields the same way, one row at a
time with ``DataFrame.apply(axis=1)``, as a first version of such a script usually does; it does no
validation, merging or audit, so it does less work than ``clean_table``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from _harness import peak_mb

ROOT = Path(__file__).resolve().parent.parent

_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]+(\d{1,2}):(\d{2}))?"
)
_MONEY = re.compile(r"^([+-]?)(\d+(?:\.\d+)?)(万|亿)?$")
_RANGE = re.compile(r"^(\d+(?:\.\d+)?)(万)?[-~～至](\d+(?:\.\d+)?)(万)?$")


def _date(text):
    if not isinstance(text, str) or not text.strip():
        return None
    text = unicodedata.normalize("NFKC", text).strip()
    m = _DATE.match(text)
    if m:
        try:
            return datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0), int(m[5] or 0))
        except ValueError:
            return None
    if text.isdigit() and 20000 <= int(text) < 80000:
        return datetime(1899, 12, 30) + timedelta(days=int(text))
    return None


def _money(text):
    if not isinstance(text, str):
        return None
    text = re.sub(r"[¥,\s元]", "", unicodedata.normalize("NFKC", text))
    m = _MONEY.match(text)
    if not m:
        return None
    value = float(m[2]) * {"万": 1e4, "亿": 1e8}.get(m[3], 1)
    return -value if m[1] == "-" else value


def _budget(text):
    if not isinstance(text, str):
        return (None, None)
    text = re.sub(r"[¥,\s元]", "", unicodedata.normalize("NFKC", text))
    m = _RANGE.match(text)
    if m:
        unit = 1e4 if (m[2] or m[4]) else 1
        return (float(m[1]) * unit, float(m[3]) * unit)
    if text.endswith(("以内", "以下")):
        return (0.0, _money(text[:-2]))
    if text.endswith("以上"):
        return (_money(text[:-2]), None)
    value = _money(text)
    return (value, value)


def _phone(text):
    if not isinstance(text, str):
        return None
    digits = re.sub(r"[\s\-()（）.+]", "", unicodedata.normalize("NFKC", text))
    digits = digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return digits
    if re.fullmatch(r"0\d{9,11}", digits):
        n = 3 if digits[1] in "12" else 4
        return digits[:n] + "-" + digits[n:]
    return None


def _score(text):
    if not isinstance(text, str):
        return None
    text = unicodedata.normalize("NFKC", text).replace("分", "").strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and 1 <= value <= 5 else None


def _row(row):
    lo, hi = _budget(row.get("budget"))
    name = row.get("customer_name")
    return pd.Series(
        {
            "customer_name": unicodedata.normalize("NFKC", name).strip()
            if isinstance(name, str)
            else None,
            "last_contact_date": _date(row.get("last_contact_date")),
            "annual_revenue": _money(row.get("annual_revenue")),
            "budget_min": lo,
            "budget_max": hi,
            "contact_phone": _phone(row.get("contact_phone")),
            "match_score": _score(row.get("match_score")),
            "cooperation_score": _score(row.get("cooperation_score")),
        }
    )


def baseline(df: pd.DataFrame) -> pd.DataFrame:
    """Parse the same fields row by row with ``apply``, then drop exact duplicates."""
    data = df.drop(columns=["source_file", "source_row"], errors="ignore")
    return data.drop_duplicates().apply(_row, axis=1)


def _child(which: str, rows: int, seed: int) -> None:
    from analysis_kit.cleaning import clean_table
    from analysis_kit.io import read_table

    # Read the table as an analyst would: read_table gives every column as Arrow-backed text.
    df = read_table(_input_file(rows, seed), table="customers")
    input_mb = peak_mb()
    start = time.perf_counter()
    if which == "clean_table":
        result = clean_table(df, table="customers", as_of="2024-06-30")
        assert result.audit.balanced
        detail = result.audit.to_dict()
    else:
        out = baseline(df)
        detail = {"rows_out": len(out)}
    seconds = time.perf_counter() - start
    record = {"which": which, "rows": rows, "seconds": seconds, "peak_mb": peak_mb()}
    print(json.dumps({**record, "input_mb": input_mb, "detail": detail}))


def _input_file(rows: int, seed: int) -> Path:
    """Generate the messy table once and keep it as Parquet, so both contenders read the same."""
    from analysis_kit.datasets import make_messy_customers

    path = ROOT / "benchmarks" / "results" / f"messy_customers_{rows}_{seed}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        make_messy_customers(rows, random_state=seed).astype("str").to_parquet(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", choices=["clean_table", "baseline"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.rows, args.seed)
        return
    _input_file(args.rows, args.seed)
    results = {}
    for which in ("clean_table", "baseline"):
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                which,
                "--rows",
                str(args.rows),
                "--seed",
                str(args.seed),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[which]
        rate = r["rows"] / r["seconds"]
        print(
            f"{which:12s} {r['rows']:>9,d} rows {r['seconds']:7.1f} s {rate:>9,.0f} rows/s "
            f"peak {r['peak_mb']:,.0f} MB (after building the input: {r['input_mb']:,.0f} MB)"
        )
    speedup = results["baseline"]["seconds"] / results["clean_table"]["seconds"]
    print(f"speed-up over the per-row apply baseline: {speedup:.1f}x")
    print(json.dumps(results["clean_table"]["detail"], ensure_ascii=False))


if __name__ == "__main__":
    main()
