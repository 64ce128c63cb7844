"""Regenerate the committed sample data in ``data/``.

The sample is ``make_tables(n_customers=120, messy=True, random_state=2024)`` written by
:func:`analysis_kit.datasets.write_sample` with the Chinese template headers, in the encodings
teams actually send: ``客户信息表.csv`` in GB18030 (as Excel on a Chinese Windows saves a CSV),
``成交明细.xlsx`` with one sheet, and the other tables as UTF-8 CSVs with a BOM.

Run from anywhere: ``python scripts/make_sample_data.py``. Paths resolve from this file.
"""

from __future__ import annotations

from pathlib import Path

from analysis_kit.datasets import make_tables, write_sample

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

if __name__ == "__main__":
    tables = make_tables(n_customers=120, messy=True, random_state=2024)
    for path in write_sample(tables, DATA_DIR):
        print(f"{path.relative_to(DATA_DIR.parent)}  {path.stat().st_size:,} bytes")
