"""Regenerate the committed sample data in ``data/``.

The sample is ``make_tables(n_customers=120, messy=True, random_state=2024)`` written with the
Chinese template headers, in the encodings teams actually send:

- ``客户信息表.csv``: GB18030, as Excel on Chinese Windows saves a CSV;
- ``成交明细.xlsx``: the orders, one sheet named 成交明细;
- ``跟进记录.csv``, ``商机阶段记录.csv``, ``渠道投入.csv``, ``销售目标.csv``, ``市场分析汇总表.csv``:
  UTF-8 with a BOM (``utf-8-sig``).

Run from anywhere: ``python scripts/make_sample_data.py``. Paths resolve from this file.
"""

from __future__ import annotations

from pathlib import Path

from analysis_kit.datasets import make_tables, to_template

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: table name → (file name, encoding); ``None`` encoding means an Excel workbook.
FILES: dict[str, tuple[str, str | None]] = {
    "customers": ("客户信息表.csv", "gb18030"),
    "orders": ("成交明细.xlsx", None),
    "followups": ("跟进记录.csv", "utf-8-sig"),
    "stages": ("商机阶段记录.csv", "utf-8-sig"),
    "channel_costs": ("渠道投入.csv", "utf-8-sig"),
    "targets": ("销售目标.csv", "utf-8-sig"),
    "market": ("市场分析汇总表.csv", "utf-8-sig"),
}


def main(data_dir: Path = DATA_DIR) -> list[Path]:
    """Write the sample files and return their paths.

    Parameters
    ----------
    data_dir : Path, default=DATA_DIR
        Folder to write into; created if missing.

    Returns
    -------
    list of Path
        The files written, in the order of :data:`FILES`.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    tables = make_tables(n_customers=120, messy=True, random_state=2024)
    written = []
    for table, (file_name, encoding) in FILES.items():
        path = data_dir / file_name
        frame = to_template(tables[table], table)
        if encoding is None:
            frame.to_excel(path, sheet_name="成交明细", index=False)
        else:
            frame.to_csv(path, index=False, encoding=encoding)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in main():
        print(f"{written_path.relative_to(DATA_DIR.parent)}  {written_path.stat().st_size:,} bytes")
