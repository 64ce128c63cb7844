"""Read the templates from CSV, Excel and Parquet with canonical column names.

Every value is read as text (``str``), so customer ids keep their leading zeros and phone numbers
never turn into ``1.38e10``; :func:`analysis_kit.cleaning.clean_table` does the typing. Two columns
are added so every row can be traced back: ``source_file`` (the file's name) and ``source_row``
(the row number a spreadsheet shows, the header being row 1).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .columns import (
    SOURCE_FILE,
    SOURCE_ROW,
    TABLES,
    describe_columns,
    header_unit,
    infer_table,
    map_headers,
    missing_columns,
)
from .errors import ReadError, SchemaError

__all__ = ["detect_encoding", "read_table", "read_workbook"]

#: Encodings tried in order when none is given. GB18030 is a superset of GBK and GB2312, so it
#: reads what Excel on a Chinese Windows writes; UTF-8 is tried first because GB18030 would accept
#: many UTF-8 byte sequences as (wrong) Chinese.
ENCODINGS = ("utf-8-sig", "gb18030")

#: Sheets of a workbook that hold instructions, not data.
INSTRUCTION_SHEETS = ("填写说明", "说明", "instructions", "readme")

_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}


def detect_encoding(data: bytes) -> str:
    """Return the encoding of CSV bytes: ``utf-8-sig`` (with or without a BOM) or ``gb18030``.

    Raises
    ------
    ReadError
        When the bytes are neither; the message gives the line of the first undecodable byte.
    """
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    errors = []
    for encoding in ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError as exc:
            errors.append((encoding, exc))
        else:
            return encoding
    encoding, exc = errors[0]
    line = data[: exc.start].count(b"\n") + 1
    raise ReadError(
        f"无法识别文件编码 cannot decode the file as UTF-8 or GB18030: byte {exc.start} "
        f"(row {line}) is {data[exc.start : exc.start + 4]!r}; pass encoding=..."
    )


def read_table(
    source: str | os.PathLike | pd.DataFrame,
    *,
    table: str | None = None,
    sheet_name: str | int | None = None,
    encoding: str | None = None,
    column_map: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read one template table with canonical column names.

    Parameters
    ----------
    source : path or DataFrame
        A ``.csv``/``.txt``, ``.xlsx``/``.xlsm`` or ``.parquet`` file, or a DataFrame whose headers
        are to be mapped.
    table : str, optional
        One of ``customers``, ``followups``, ``orders``, ``stages``, ``channel_costs``,
        ``targets``, ``market``. When None the table is inferred from the headers.
    sheet_name : str or int, optional
        Excel sheet to read. When None, the first sheet that is not an instructions sheet
        (``填写说明``) is read, or the sheet named after ``table`` (e.g. ``成交明细``) when there is one.
    encoding : str, optional
        CSV encoding; detected when None (UTF-8 with or without BOM, else GB18030).
    column_map : mapping, optional
        ``{header in the file: canonical name}`` for headers the template map does not know.

    Returns
    -------
    DataFrame
        Canonical column names (unknown columns kept under their own header), every value as
        ``str`` or missing, plus ``source_file`` and ``source_row``. ``attrs["table"]`` holds the
        table name and ``attrs["units"]`` the multipliers implied by headers such as
        ``预算范围（万元）``.

    Raises
    ------
    ReadError
        The file is missing, unreadable, or a CSV line is malformed (the message names the row).
    SchemaError
        The table cannot be inferred, or required columns are missing (all listed at once, by
        canonical name and template header).

    Examples
    --------
    >>> orders = read_table("data/成交明细.xlsx")  # doctest: +SKIP
    >>> orders.attrs["table"]  # doctest: +SKIP
    'orders'
    """
    if isinstance(source, pd.DataFrame):
        raw = source.copy()
        name = "<DataFrame>"
        if SOURCE_ROW not in raw.columns:
            raw[SOURCE_ROW] = range(2, len(raw) + 2)
    else:
        path = Path(source)
        name = path.name
        if not path.exists():
            raise ReadError(f"文件不存在 file not found: {path}")
        suffix = path.suffix.lower()
        if suffix in _EXCEL_SUFFIXES:
            raw = _read_excel(path, sheet_name=sheet_name, table=table)
        elif suffix in _PARQUET_SUFFIXES:
            raw = _read_parquet(path)
        else:
            raw = _read_csv(path, encoding=encoding)
        raw.insert(0, SOURCE_FILE, name)
    return _finish(raw, name=name, table=table, column_map=column_map)


def read_workbook(
    path: str | os.PathLike, *, column_map: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame]:
    """Read every data sheet of a workbook, each as the table its headers show.

    Returns
    -------
    dict
        ``{table name: DataFrame}`` as :func:`read_table` returns them. Instruction sheets and
        empty sheets are skipped; a sheet whose table cannot be inferred raises :class:`SchemaError`.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(f"文件不存在 file not found: {path}")
    out: dict[str, pd.DataFrame] = {}
    for sheet in _data_sheets(path):
        raw = _excel_sheet(path, sheet)
        if raw.empty and len(raw.columns) <= 1:
            continue
        raw.insert(0, SOURCE_FILE, f"{path.name}:{sheet}")
        df = _finish(raw, name=f"{path.name} [{sheet}]", table=None, column_map=column_map)
        out[df.attrs["table"]] = df
    return out


def _finish(
    raw: pd.DataFrame, *, name: str, table: str | None, column_map: Mapping[str, str] | None
) -> pd.DataFrame:
    headers = [c for c in raw.columns if c not in (SOURCE_FILE, SOURCE_ROW)]
    if table is None:
        renamed = [column_map.get(str(h), h) if column_map else h for h in headers]
        table = infer_table(renamed)
        if table is None:
            raise SchemaError(
                f"{name}: 无法从表头判断是哪张表 cannot tell which table this is from its headers "
                f"{[str(h) for h in headers][:12]}; pass table= one of {sorted(TABLES)}"
            )
    elif table not in TABLES:
        raise SchemaError(f"table must be one of {sorted(TABLES)}; got {table!r}")
    mapping = map_headers(headers, table, column_map=column_map)
    units = {mapping[h]: u for h in headers if (u := header_unit(h)) is not None}
    df = raw.rename(columns=mapping)
    missing = missing_columns(df.columns, table)
    if missing:
        raise SchemaError(f"{name}: 缺少列 missing columns: {describe_columns(missing, table)}")
    order = [c for c in df.columns if c not in (SOURCE_FILE, SOURCE_ROW)]
    lead = [c for c in (SOURCE_FILE, SOURCE_ROW) if c in df.columns]
    df = df[order + lead]
    df.attrs = {"table": table, "units": units, "source": name}
    return df


def _read_csv(path: Path, *, encoding: str | None) -> pd.DataFrame:
    data = path.read_bytes()
    try:
        enc = encoding or detect_encoding(data)
        text = data.decode(enc)
    except ReadError as exc:
        raise ReadError(f"{path.name}: {exc}") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise ReadError(f"{path.name}: cannot decode with encoding={encoding!r}: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    delimiter = _sniff_delimiter(text)
    try:
        df = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype="str",
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise ReadError(f"{path.name}: 文件为空 the file is empty") from None
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+), saw (\d+)", str(exc))
        where = (
            f"row {match.group(1)} has {match.group(2)} fields, more than the header"
            if match
            else str(exc)
        )
        raise ReadError(f"{path.name}: 格式错误 malformed CSV: {where}") from None
    # A line holding only delimiters, or nothing, is a blank row: keep it, the cleaner counts it.
    df[SOURCE_ROW] = _csv_row_numbers(text, len(df))
    return df


def _csv_row_numbers(text: str, n: int) -> list[int]:
    """Spreadsheet row number of each data record (header = 1), quoted newlines accounted for."""
    reader = csv.reader(io.StringIO(text))
    rows = []
    next(reader, None)
    record_start = reader.line_num + 1
    for _ in reader:
        rows.append(record_start)
        record_start = reader.line_num + 1
    if len(rows) != n:  # a trailing blank line read differently; fall back to positions
        return list(range(2, n + 2))
    return rows


def _sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", "\t", ";", "，")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _data_sheets(path: Path) -> list[str]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise ReadError(f"{path.name}: 无法读取Excel cannot read the workbook: {exc}") from None
    try:
        return [s for s in wb.sheetnames if s.strip().lower() not in INSTRUCTION_SHEETS]
    finally:
        wb.close()


def _read_excel(path: Path, *, sheet_name: str | int | None, table: str | None) -> pd.DataFrame:
    if sheet_name is None:
        sheets = _data_sheets(path)
        if not sheets:
            raise ReadError(f"{path.name}: 没有数据表 the workbook has no data sheet")
        wanted = TABLES[table].title if table in TABLES else None
        sheet_name = wanted if wanted in sheets else sheets[0]
    return _excel_sheet(path, sheet_name)


def _excel_sheet(path: Path, sheet_name: str | int) -> pd.DataFrame:
    try:
        df = pd.read_excel(path, sheet_name=sheet_name, dtype=object, engine="openpyxl")
    except ValueError as exc:
        raise ReadError(f"{path.name}: {exc}") from None
    except Exception as exc:
        raise ReadError(f"{path.name}: 无法读取Excel cannot read the workbook: {exc}") from None
    df = df.loc[:, [not str(c).startswith("Unnamed:") or df[c].notna().any() for c in df.columns]]
    out = pd.DataFrame(
        {c: df[c].map(_cell_text, na_action="ignore").astype("str") for c in df.columns},
        index=df.index,
    )
    out[SOURCE_ROW] = range(2, len(out) + 2)
    return out


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time(0) else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise ReadError(f"{path.name}: 无法读取Parquet cannot read the file: {exc}") from None
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(_cell_text, na_action="ignore").astype("str")
    out[SOURCE_ROW] = range(2, len(out) + 2)
    return out
