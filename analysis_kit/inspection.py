"""A first look at an unknown export, before anything is cleaned.

:func:`inspect_export` reads a file the way :func:`analysis_kit.io.read_table` does, but never
stops at headers it does not know or at a table it cannot infer. It reports:

- which headers map to which canonical field of which table (the inferred table and why, or that
  no table qualifies and which required columns are missing);
- which headers do not map, each with a suggested field when one is likely: the header looks like
  one of the field's template headers (``总金额`` holds ``金额``), and the values agree with the
  field (95 % of them read as dates for a date field, as phone numbers for a phone field, money
  for an amount, listed values for a closed list). Suggestions are never applied;
- per field, how many rows are filled and which values its parser cannot read or which are outside
  the closed list, with counts, most frequent first (``contact_method: 抖音私信 3, 飞书 1``);
- a ``column_map`` and ``choices`` to paste into notebook 01's parameters or into
  ``read_table(..., column_map=...)`` and ``clean_table(..., choices=...)``.

Values shown are masked like every report of the kit (:mod:`analysis_kit.privacy`): phone
numbers and personal names never print in full.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz.fuzz import ratio

from . import parsing
from .cleaning import _read_field
from .columns import (
    CHOICES,
    SOURCE_FILE,
    SOURCE_ROW,
    TABLES,
    Field,
    TableSpec,
    describe_columns,
    header_unit,
    infer_table,
    map_headers,
    missing_columns,
    normalize_header,
    table_column_map,
)
from .errors import ReadError, SchemaError
from .privacy import mask_names, mask_phones, mask_text

__all__ = ["SUGGEST_THRESHOLD", "Inspection", "inspect_export"]

#: Lowest score at which an unmapped header gets a suggested field. The score adds the header's
#: likeness to one of the field's template headers (0–1; below 0.5 it counts as 0) and what the
#: values say: +0.6 when 95 % are dates (phones) for a date (phone) field or 90 % are in a closed
#: list, +0.3 for money amounts or for half of the values in the list. So values alone suggest
#: a date, phone or closed-list field; for anything else the header must look like the field's.
SUGGEST_THRESHOLD = 0.6

#: Field kinds that hold free text: their values are counted, never judged.
_FREE_KINDS = {"text", "id", "company", "person", "industry", "feedback", "timeline"}
#: Kinds whose values come from a closed list: a value outside it is "not in the list".
_LIST_KINDS = {"choice", "stage", "size"}
#: Kinds an unmapped column can be suggested for by its values alone, whatever its header.
_VALUE_KINDS = _LIST_KINDS | {"date", "phone"}
#: Words that turn a header into something else (``退款金额`` is not an ``金额``): an alias that
#: lacks a word the header has is not a match.
_QUALIFIERS = (
    "退",
    "refund",
    "return",
    "优惠",
    "折扣",
    "discount",
    "运费",
    "邮费",
    "shipping",
    "freight",
    "税",
    "tax",
)
#: Dates whose day/month order or century cannot be told from the text (``12/1/2010``, ``24/3/15``).
_AMBIGUOUS_DATE = r"^(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{4}|\d{1,2})(?:[ T].*)?$"
_MONEY_MARK = r"[¥￥$元万亿,]|\.\d{1,2}$"
_PHONE_HEADER = re.compile(r"phone|mobile|tel|电话|手机", re.IGNORECASE)
_NAME_HEADER = re.compile(r"姓名|联系人|负责人|业务员|销售员|contact|agent|owner", re.IGNORECASE)
_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
#: Distinct values looked at (the most frequent) when judging the shape of an unmapped column.
_SHAPE_SAMPLE = 5000
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DATABASE_SUFFIXES = {".sqlite", ".sqlite3", ".db", ".db3", ".duckdb", ".ddb"}

_HEADER_COLUMNS = [
    "header",
    "field",
    "status",
    "kind",
    "filled",
    "problems",
    "suggestion",
    "score",
    "reason",
]
_VALUE_COLUMNS = ["field", "header", "issue", "value", "rows", "suggested"]


@dataclass
class Inspection:
    """What :func:`inspect_export` found in one export.

    Attributes
    ----------
    source : str
        The file's name (``<DataFrame>`` for a frame).
    rows : int
        Data rows read (blank rows included); ``blank_rows`` of them are blank.
    blank_rows : int
        Rows without any value.
    table : str or None
        The table the export was inspected as: the one given, the one inferred from the headers,
        or, when none qualifies, the closest one (most headers matching its fields). None when
        no header resembles any table.
    table_status : str
        ``given``, ``inferred``, ``closest`` (no table qualifies) or ``none``.
    missing : list of str
        Required canonical columns of ``table`` the export lacks (alternatives joined by ``|``).
    tables : DataFrame
        One row per known table: ``table``, ``title``, ``matched`` (headers that map to its
        fields), ``missing`` (its required columns absent, as text) and ``qualifies`` (bool).
    headers : DataFrame
        One row per header of the export, in file order: ``header``; ``field`` (canonical name,
        or None); ``status`` (``mapped``, ``column_map``: mapped by the ``column_map`` given,
        ``duplicate``: a second header of a field already mapped, kept under its own name,
        ``unmapped``); ``kind`` (the field's kind); ``filled`` (rows with a value);
        ``problems`` (rows whose value cannot be read or is not in the list, NA for free text);
        ``suggestion`` (a likely field for an unmapped header, or None), ``score`` and
        ``reason`` (why it was suggested, or which header the field went to instead; Chinese,
        then `` | `` and English). For an unmapped header with a suggestion, ``kind`` and
        ``problems`` are those of the suggested field.
    values : DataFrame
        The values behind ``problems``, at most ``top`` per field, most frequent first:
        ``field``, ``header``, ``issue`` (``unreadable`` or ``not_in_list``), ``value`` (as
        written, masked where personal), ``rows`` and ``suggested`` (True when the header is only
        suggested for the field).
    column_map : dict
        ``{header: field}``: the ``column_map`` given plus every suggestion, one header per field.
        Review it before use: nothing in it has been applied.
    choices : dict
        ``{field: allowed values}`` for closed-list fields with values outside the list: the
        template values plus those seen, for ``clean_table(..., choices=...)``.
    notes : list of dict
        Remarks that need a decision (ambiguous dates, no customer column, ...), each as
        ``{"zh": ..., "en": ...}``.
    top : int
        How many values per field ``values`` holds at most.
    """

    source: str
    rows: int
    blank_rows: int
    table: str | None
    table_status: str
    missing: list[str]
    tables: pd.DataFrame
    headers: pd.DataFrame
    values: pd.DataFrame
    column_map: dict[str, str]
    choices: dict[str, tuple[str, ...]]
    notes: list[dict[str, str]] = field(default_factory=list)
    top: int = 10

    def to_dict(self) -> dict[str, Any]:
        """Return everything as plain JSON-ready Python (lists, dicts, str, int, float, None)."""
        return {
            "source": self.source,
            "rows": int(self.rows),
            "blank_rows": int(self.blank_rows),
            "table": self.table,
            "title": TABLES[self.table].title if self.table else None,
            "table_status": self.table_status,
            "missing": list(self.missing),
            "tables": _records(self.tables),
            "headers": _records(self.headers),
            "values": _records(self.values),
            "column_map": dict(self.column_map),
            "choices": {k: list(v) for k, v in self.choices.items()},
            "notes": [dict(n) for n in self.notes],
        }

    def to_text(self, lang: str = "zh") -> str:
        """Return a plain-text report: Chinese labels with English in brackets, or English.

        Parameters
        ----------
        lang : {"zh", "en"}, default="zh"
            ``zh``: ``已映射 (mapped)``; ``en``: ``mapped``.
        """
        if lang not in ("zh", "en"):
            raise ValueError(f"lang must be 'zh' or 'en'; got {lang!r}")
        return _render(self, lang)


def inspect_export(
    source: str | Path | pd.DataFrame,
    *,
    table: str | None = None,
    sheet_name: str | int | None = None,
    encoding: str | None = None,
    column_map: Mapping[str, str] | None = None,
    choices: Mapping[str, tuple[str, ...]] | None = None,
    top: int = 10,
) -> Inspection:
    """Take a first look at an export: its headers, its unreadable values, a ``column_map``.

    Nothing is cleaned and nothing is guessed into the data: unknown headers get suggestions only,
    and values that the kit's parsers cannot read are listed, not fixed.

    Parameters
    ----------
    source : path or DataFrame
        A ``.csv``/``.txt``, ``.xlsx`` or ``.parquet`` file, read as
        :func:`analysis_kit.io.read_table` reads it (every value as text, the encoding
        detected), or a DataFrame whose columns are the export's headers.
    table : str, optional
        The table to inspect the export as, one of :data:`analysis_kit.columns.TABLES`. When
        None it is inferred from the headers (``df.attrs["table"]`` for a frame from
        ``read_table``), or, when no table qualifies, the closest one is used and its missing
        required columns are reported.
    sheet_name : str or int, optional
        Excel sheet; as in ``read_table``.
    encoding : str, optional
        CSV encoding; detected when None.
    column_map : mapping, optional
        ``{header: canonical name}`` already decided, or one such map per table under the
        table's name, as for ``read_table``; the headers it maps show status ``column_map``, and
        its entries for the table inspected are part of the suggested ``column_map``.
    choices : mapping, optional
        Closed lists overriding :data:`analysis_kit.columns.CHOICES`, as for ``clean_table``.
    top : int, default=10
        Values listed per field, most frequent first.

    Returns
    -------
    Inspection
        ``headers`` and ``values`` tables, the suggested ``column_map`` and ``choices``, notes,
        and :meth:`Inspection.to_text` / :meth:`Inspection.to_dict` for reading or JSON.

    Raises
    ------
    ReadError
        The file is missing or cannot be read (the message names the file and, where known, the
        row), or the source is a database (read it with ``read_table`` and inspect the frame).
    SchemaError
        ``table`` is not a known table, or ``column_map`` maps to a name that no table has.
    ValueError
        ``top`` is not a positive integer, or a per-table entry of ``column_map`` is not a map
        or names no table.

    Examples
    --------
    >>> raw = pd.DataFrame({"订单号": ["A1", "A2"], "下单日期": ["2024-03-15", "15/3/2024"],
    ...                     "订单金额": ["¥1,200", "面议"], "客户名称": ["甲公司", "乙公司"]})
    >>> ins = inspect_export(raw)
    >>> ins.table, ins.table_status
    ('orders', 'inferred')
    >>> ins.values[["field", "value", "rows"]].values.tolist()
    [['order_date', '15/3/2024', 1], ['amount', '面议', 1]]
    """
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise ValueError(f"top must be a positive integer; got {top!r}")
    given_map = dict(column_map or {})
    everywhere = table_column_map(given_map, None)  # also checks the per-table maps' shape
    targets = set(everywhere.values())
    targets |= {str(v) for m in given_map.values() if isinstance(m, Mapping) for v in m.values()}
    known = {f.name for spec in TABLES.values() for f in spec.fields}
    unknown = sorted(targets - known)
    if unknown:
        raise SchemaError(
            f"column_map: 未知的列名 unknown canonical names {unknown}; each value must be a "
            "field of one of the tables (see analysis_kit.columns.TABLES)"
        )
    if table is not None and table not in TABLES:
        raise SchemaError(f"table must be one of {sorted(TABLES)}; got {table!r}")
    allowed = {**CHOICES, **{k: tuple(v) for k, v in (choices or {}).items()}}

    raw, name, attrs_table = _read_raw(
        source, sheet_name=sheet_name, encoding=encoding, table=table
    )
    positions = [j for j, c in enumerate(raw.columns) if c not in (SOURCE_FILE, SOURCE_ROW)]
    headers = [raw.columns[j] for j in positions]
    stats = {i: _column_stats(raw.iloc[:, j]) for i, j in enumerate(positions)}
    present = np.zeros(len(raw), dtype=bool)
    for _, row_present in stats.values():
        present |= row_present
    tables = _table_candidates(headers, given_map)

    status = "given"
    chosen = table or attrs_table
    if chosen is None:
        renamed = [everywhere.get(str(h), h) for h in headers]
        chosen = infer_table(renamed)
        status = "inferred"
    if chosen is None:
        best = tables.sort_values("matched", ascending=False, kind="stable").iloc[0]
        chosen, status = (best["table"], "closest") if best["matched"] > 0 else (None, "none")

    ctx = _Context(chosen, allowed, top)
    spec = TABLES[chosen] if chosen is not None else None
    column_map = table_column_map(given_map, chosen)
    mapping = map_headers(headers, chosen, column_map=column_map) if spec else {}
    ctx.units = {mapping[h]: u for h in headers if spec and (u := header_unit(h)) is not None}
    fields_of = [_mapped_as(h, mapping, spec, column_map) for h in headers]
    taken = {name for name, st in fields_of if st in ("mapped", "column_map")}
    missing = missing_columns(taken, chosen) if spec else []
    suggestions = (
        _suggest(
            {i: h for i, h in enumerate(headers) if fields_of[i][1] == "unmapped"},
            stats,
            [f for f in spec.fields if f.name not in taken],
            ctx,
        )
        if spec
        else {}
    )

    header_rows, value_frames, column_map_out, choices_out = [], [], dict(column_map), {}
    for i, h in enumerate(headers):
        target, st = fields_of[i]
        counts = stats[i][0]
        sug = suggestions.get(i, {})
        as_field = target if st in ("mapped", "column_map") else sug.get("field")
        f = spec.field(as_field) if as_field else None
        bad = _problems(counts, f, ctx) if f else None
        if bad is not None and len(bad):
            value_frames.append(_shown_values(bad, f, str(h), suggested=st == "unmapped", top=top))
            if f.kind == "choice":
                choices_out[f.name] = _extended(allowed.get(f.name, ()), bad)
        if sug.get("field") is not None:
            column_map_out[str(h)] = sug["field"]
        header_rows.append(
            {
                "header": str(h),
                "field": target,
                "status": st,
                "kind": f.kind if f else None,
                "filled": int(counts.sum()),
                "problems": int(bad["rows"].sum()) if bad is not None else pd.NA,
                "suggestion": sug.get("field"),
                "score": sug.get("score", np.nan),
                "reason": sug.get("reason"),
            }
        )
    header_frame = pd.DataFrame(header_rows, columns=_HEADER_COLUMNS)
    header_frame["problems"] = header_frame["problems"].astype("Int64")
    values = (
        pd.concat(value_frames, ignore_index=True)
        if value_frames
        else pd.DataFrame({c: pd.Series(dtype="object") for c in _VALUE_COLUMNS})
    )
    ins = Inspection(
        source=name,
        rows=len(raw),
        blank_rows=int((~present).sum()),
        table=chosen,
        table_status=status,
        missing=missing,
        tables=tables,
        headers=header_frame,
        values=values,
        column_map=column_map_out,
        choices=choices_out,
        top=int(top),
    )
    ins.notes = _notes(ins, ctx, stats, headers)
    return ins


def _mapped_as(
    header: object,
    mapping: Mapping[object, str],
    spec: TableSpec | None,
    column_map: Mapping[str, str],
) -> tuple[str | None, str]:
    """Return the field a header maps to (or None) and how: mapped, column_map, duplicate, unmapped."""
    if spec is None:
        return None, "unmapped"
    target = mapping[header]
    if target in spec.names:
        explicit = {normalize_header(k) for k in column_map}
        return target, "column_map" if normalize_header(header) in explicit else "mapped"
    alone = map_headers([header], spec.name, column_map=column_map)[header]
    if alone in spec.names:  # a second header for a field an earlier one already took
        return alone, "duplicate"
    return None, "unmapped"


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _read_raw(
    source: str | Path | pd.DataFrame,
    *,
    sheet_name: str | int | None,
    encoding: str | None,
    table: str | None,
) -> tuple[pd.DataFrame, str, str | None]:
    """Read the export with its own headers; return it, its name and a table its attrs name."""
    if isinstance(source, pd.DataFrame):
        frame = source.drop(columns=[SOURCE_FILE, SOURCE_ROW], errors="ignore")
        attrs_table = source.attrs.get("table")
        return frame, "<DataFrame>", attrs_table if attrs_table in TABLES else None
    # The same readers as read_table, before its header mapping (which stops at an unknown table).
    from . import io as kit_io

    text = str(source)
    if text.startswith("env:") or re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", text):
        raise ReadError(
            "inspect reads files and DataFrames; for a database use read_table(url, table=...) "
            "and inspect the DataFrame it returns"
        )
    path = Path(source)
    if not path.exists():
        raise ReadError(f"文件不存在 file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in _DATABASE_SUFFIXES:
        raise ReadError(
            f"{path.name}: inspect reads files and DataFrames; for a database use "
            "read_table(path, table=...) and inspect the DataFrame it returns"
        )
    if suffix in _EXCEL_SUFFIXES:
        raw = kit_io._read_excel(path, sheet_name=sheet_name, table=table)
    elif suffix in _PARQUET_SUFFIXES:
        raw = kit_io._read_parquet(path)
    else:
        raw = kit_io._read_csv(path, encoding=encoding)
    return raw.drop(columns=[SOURCE_ROW], errors="ignore"), path.name, None


def _column_stats(col: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Rows per distinct non-blank value (whitespace-normalised text), and which rows have one."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    text = parsing.normalize_text(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
    filled = np.append(text.notna().to_numpy(), False)
    present = filled[codes]  # code -1 picks the appended False
    per_code = np.bincount(codes[codes >= 0], minlength=len(uniques))
    counts = pd.Series(
        per_code[filled[:-1]], index=pd.Index(text.dropna().to_numpy(), dtype=object)
    )
    counts = counts.groupby(level=0, sort=False).sum()
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    return counts.astype("int64"), present


def _table_candidates(headers: list[object], column_map: Mapping[str, object]) -> pd.DataFrame:
    rows = []
    for name, spec in TABLES.items():
        mapping = map_headers(headers, name, column_map=table_column_map(column_map, name))
        found = {v for v in mapping.values() if v in spec.names}
        missing = missing_columns(found, name)
        rows.append(
            {
                "table": name,
                "title": spec.title,
                "matched": len(found),
                "missing": describe_columns(missing, name),
                "qualifies": not missing,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


@dataclass
class _Context:
    table: str | None
    allowed: dict[str, tuple[str, ...]]
    top: int
    units: dict[str, float] = field(default_factory=dict)


def _unread(values: pd.Series, f: Field, ctx: _Context) -> tuple[pd.Series, str] | None:
    """Which of ``values`` (distinct, non-blank text) ``f``'s parser cannot read, and the issue.

    Judged by the same step as :func:`analysis_kit.cleaning.clean_table`: ``unparseable`` is
    shown as ``unreadable``, ``unlisted_value`` and an unknown stage as ``not_in_list``; None for
    free-text kinds.
    Scores outside 1–5 are unreadable here too (the cleaner reports them as ``out_of_range``).
    """
    if f.kind in _FREE_KINDS:
        return None
    parsed, _, failed, reason = _read_field(values, f, ctx.allowed, ctx.units, ctx.table)
    if reason is None:
        return None
    if f.kind == "score":
        failed = failed | ~parsed.between(1, 5).fillna(False).astype(bool)
    listed = reason == "unlisted_value" or f.kind == "stage"  # stages are a closed list too
    return failed, "not_in_list" if listed else "unreadable"


def _problems(counts: pd.Series, f: Field, ctx: _Context) -> pd.DataFrame | None:
    """Return the values of one column that ``f`` cannot take, with rows, most frequent first."""
    values = pd.Series(counts.index.to_numpy(dtype=object), dtype="str")
    judged = _unread(values, f, ctx)
    if judged is None:
        return None
    failed, issue = judged
    bad = counts[failed.to_numpy(dtype=bool)]
    return pd.DataFrame({"value": bad.index.to_numpy(dtype=object), "rows": bad.to_numpy()}).assign(
        issue=issue
    )


def _shown_values(bad: pd.DataFrame, f: Field, header: str, *, suggested: bool, top: int):
    head = bad.head(top).reset_index(drop=True)
    return pd.DataFrame(
        {
            "field": f.name,
            "header": header,
            "issue": head["issue"],
            "value": _mask(head["value"], f, header).to_numpy(dtype=object),
            "rows": head["rows"].astype("int64"),
            "suggested": suggested,
        },
        columns=_VALUE_COLUMNS,
    )


def _mask(values: pd.Series, f: Field | None, header: str) -> pd.Series:
    """Mask values for display: phones and names by the kit's masks, phones and e-mails in text."""
    values = pd.Series(values.to_numpy(dtype=object), dtype=object)
    if (f is not None and f.kind == "phone") or _PHONE_HEADER.search(header):
        return mask_phones(values)
    if (f is not None and f.kind == "person") or _NAME_HEADER.search(header):
        return mask_names(values)
    return mask_text(values).map(lambda v: _EMAIL.sub(r"\1***@\2", v) if isinstance(v, str) else v)


def _extended(allowed: tuple[str, ...], bad: pd.DataFrame) -> tuple[str, ...]:
    """Return ``allowed`` plus the values seen outside it (never a value holding a phone)."""
    seen = [str(v) for v in bad["value"] if str(v) not in allowed and mask_text(str(v)) == str(v)]
    return tuple(allowed) + tuple(dict.fromkeys(seen))


# ---------------------------------------------------------------------------------------------
# Suggestions
# ---------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [w.lower() for w in _CAMEL.findall(unicodedata.normalize("NFKC", text))]


def _likeness(header: str, alias: str) -> float:
    """How much ``header`` looks like the template header ``alias``, 0–1."""
    h, a = normalize_header(header), normalize_header(alias)
    if not h or not a:
        return 0.0
    if h == a:
        return 1.0
    if any(q in h and q not in a for q in _QUALIFIERS):
        return 0.0
    if h.isascii() and a.isascii():
        hw, aw = _words(header), _words(alias)
        n = len(aw)
        contained = n and any(hw[i : i + n] == aw for i in range(len(hw) - n + 1))
    else:
        contained = len(a) >= 2 and a in h
    if contained:
        return 0.7 + 0.3 * len(a) / len(h)
    # Short unrelated words share letters (Country and Account: 0.71); only a close spelling counts.
    similar = ratio(h, a) / 100
    return similar if similar >= 0.75 else 0.0


def _name_match(header: str, f: Field) -> tuple[float, str]:
    best, alias = 0.0, f.name
    for candidate in (f.name, *f.headers):
        score = _likeness(header, candidate)
        if score > best:
            best, alias = score, candidate
    return best, alias


def _shape(counts: pd.Series) -> dict[str, float]:
    """Shares of rows whose values read as dates (or look like dates), numbers, money, phones."""
    sample = counts.head(_SHAPE_SAMPLE)
    total = sample.sum()
    if not total:
        return {}
    text = pd.Series(sample.index.to_numpy(dtype=object), dtype="str")
    w = sample.to_numpy()
    date = parsing.parse_date(text).notna().to_numpy()
    ambiguous = text.str.fullmatch(_AMBIGUOUS_DATE).fillna(False).to_numpy(dtype=bool)
    amount = parsing.parse_amount(text).notna().to_numpy()
    money = amount & text.str.contains(_MONEY_MARK).fillna(False).to_numpy(dtype=bool)
    phone = parsing.parse_phone(text).notna().to_numpy()
    return {
        "date": float(w[date].sum() / total),
        "date_like": float(w[date | ambiguous].sum() / total),
        "ambiguous": float(w[ambiguous & ~date].sum() / total),
        "number": float(w[amount].sum() / total),
        "money": float(w[money].sum() / total),
        "phone": float(w[phone & ~date].sum() / total),
    }


def _fit(counts: pd.Series, f: Field, shape: dict[str, float], ctx: _Context):
    """How well the values fit ``f``: (allowed, bonus, reason in zh and en)."""
    kind = f.kind
    if shape.get("date_like", 0) >= 0.95 and kind != "date":
        return False, 0.0, None
    if kind == "date":
        share = shape.get("date_like", 0)
        if share < 0.95:
            return False, 0.0, None
        if shape.get("ambiguous", 0) > 0:
            return (
                True,
                0.6,
                (
                    f"{share:.0%} 的值像日期（日月顺序不明）",
                    f"{share:.0%} of values look like dates (day/month order ambiguous)",
                ),
            )
        return True, 0.6, (f"{share:.0%} 的值是日期", f"{share:.0%} of values are dates")
    numeric = shape.get("number", 0) >= 0.95
    if numeric and kind in {"person", "company", "industry", "feedback", "choice", "size"}:
        return False, 0.0, None
    if kind == "phone":
        share = shape.get("phone", 0)
        if share < 0.95:
            return False, 0.0, None
        return (
            True,
            0.6,
            (f"{share:.0%} 的值是电话号码", f"{share:.0%} of values are phone numbers"),
        )
    if kind == "amount" and shape.get("money", 0) >= 0.5:
        share = shape["money"]
        return True, 0.3, (f"{share:.0%} 的值是金额", f"{share:.0%} of values are money amounts")
    sample = counts.head(_SHAPE_SAMPLE)
    judged = _unread(pd.Series(sample.index.to_numpy(dtype=object), dtype="str"), f, ctx)
    if judged is None:
        return True, 0.0, None
    failed = judged[0].to_numpy(dtype=bool)
    share = float(sample.to_numpy()[~failed].sum() / max(sample.sum(), 1))
    if share < 0.5:
        return False, 0.0, None
    if kind in _LIST_KINDS:
        return (
            True,
            0.6 if share >= 0.9 else 0.3 * share,
            (
                f"{share:.0%} 的值在列表中",
                f"{share:.0%} of values are in the list",
            ),
        )
    return True, 0.0, None


def _suggest(
    unmapped: dict[int, object],
    stats: dict[int, tuple[pd.Series, np.ndarray]],
    free: list[Field],
    ctx: _Context,
) -> dict[int, dict[str, Any]]:
    """Suggest at most one field per unmapped header and one header per field (best first)."""
    candidates = []
    for i, header in unmapped.items():
        counts = stats[i][0]
        shape = _shape(counts)
        for f in free:
            likeness, alias = _name_match(str(header), f)
            if likeness < 0.5:  # unrelated words share a few letters; that is no likeness
                likeness = 0.0
                if f.kind not in _VALUE_KINDS:
                    continue  # only a date, phone or closed list can be told by values alone
            ok, bonus, why = _fit(counts, f, shape, ctx)
            score = likeness + bonus
            if not ok or score < SUGGEST_THRESHOLD:
                continue
            zh = [f"表头像 “{alias}” {likeness:.2f}"] if likeness else []
            en = [f'header like "{alias}" {likeness:.2f}'] if likeness else []
            if why:
                zh.append(why[0])
                en.append(why[1])
            # Rank on one decimal, so near ties (engage_date, close_date) go to the earlier column.
            candidates.append((round(score, 1), -i, i, f.name, "；".join(zh), "; ".join(en)))
    candidates.sort(reverse=True)
    out: dict[int, dict[str, Any]] = {}
    given: dict[str, int] = {}
    for score, _, i, name, zh, en in candidates:
        if i in out and out[i].get("field") is not None:
            continue
        if name in given:
            if i not in out:
                winner = str(unmapped[given[name]])
                out[i] = {
                    "field": None,
                    "score": score,
                    "reason": f"也像 {name}，但 {winner} 更像 | also fits {name}; {winner} fits better",
                }
            continue
        given[name] = i
        out[i] = {"field": name, "score": score, "reason": f"{zh} | {en}"}
    return out


# ---------------------------------------------------------------------------------------------
# Notes and text
# ---------------------------------------------------------------------------------------------


def _notes(ins: Inspection, ctx: _Context, stats, headers) -> list[dict[str, str]]:
    notes: list[dict[str, str]] = []
    if ins.table is None:
        return [
            {
                "zh": "没有表头像任何模板表的列；用 column_map 指明各列，或传 table=",
                "en": "no header resembles a template table's columns; map them with column_map "
                "or pass table=",
            }
        ]
    spec = TABLES[ins.table]
    h = ins.headers
    ranked = ins.tables.set_index("table")["matched"]
    better = ranked[ranked > ranked[ins.table]].sort_values(ascending=False, kind="stable")
    if ins.table_status != "given" and len(better):
        other = better.index[0]
        lacks = ins.tables.set_index("table").loc[other, "missing"]
        notes.append(
            {
                "zh": f"{other}（{TABLES[other].title}）匹配的列更多（{better.iloc[0]} 列），但缺少 "
                f"{lacks}；若是这张表，用 table='{other}' 再检查一次",
                "en": f"{other} ({TABLES[other].title}) matches more headers ({better.iloc[0]}) "
                f"but lacks {lacks}; if the export is that table, inspect it again with "
                f"table='{other}'",
            }
        )
    index_of = {str(x): i for i, x in enumerate(headers)}
    for row in h.itertuples():
        as_field = row.field if row.status in ("mapped", "column_map") else row.suggestion
        if pd.isna(as_field) or spec.field(as_field).kind != "date" or _none(row.problems):
            continue
        counts = stats[index_of[row.header]][0]
        bad = _problems(counts, spec.field(as_field), ctx)
        parts = bad["value"].astype("str").str.extract(_AMBIGUOUS_DATE)
        hit = parts["a"].notna().to_numpy()
        n = int(bad["rows"].to_numpy()[hit].sum())
        if not n:
            continue
        a = pd.to_numeric(parts["a"], errors="coerce")
        b = pd.to_numeric(parts["b"], errors="coerce")
        example = str(bad["value"][hit].iloc[0])
        short_year = bool(parts["c"].str.len().le(2).any())
        what_zh = "日月顺序或世纪不明" if short_year else "日月顺序不明"
        what_en = "day/month order or century" if short_year else "day/month order"
        zh = f"{row.header}：{n} 行日期如 {example} {what_zh}，本工具不猜，这些值读不出"
        en = (
            f"{row.header}: {n} rows hold dates such as {example} whose {what_en} is "
            "ambiguous; the kit does not guess, so they cannot be read"
        )
        if short_year:
            zh += "；请在导出时改为四位年份的 年-月-日"
            en += "; export them as year-month-day with a four-digit year"
        elif (b > 12).any() and not (a > 12).any():
            sample = str(bad["value"][hit & (b > 12).to_numpy()].iloc[0])
            zh += f"；从 {sample} 看是月在前，请在导出时改为 年-月-日"
            en += f"; {sample} suggests month first: export them as year-month-day"
        elif (a > 12).any() and not (b > 12).any():
            sample = str(bad["value"][hit & (a > 12).to_numpy()].iloc[0])
            zh += f"；从 {sample} 看是日在前，请在导出时改为 年-月-日"
            en += f"; {sample} suggests day first: export them as year-month-day"
        else:
            zh += "；请在导出时改为 年-月-日（如 2010-12-01）"
            en += "; export them as year-month-day (e.g. 2010-12-01)"
        notes.append({"zh": zh, "en": en})
    fields = set(h["field"].dropna()) | set(h["suggestion"].dropna())
    derivable = getattr(spec, "derivable", {}) or {}
    for name, sources in derivable.items():
        if name not in fields and set(sources) <= fields:
            notes.append(
                {
                    "zh": f"没有 {name} 列：清洗时由 {' × '.join(sources)} 推算",
                    "en": f"no {name} column: cleaning derives it as {' × '.join(sources)}",
                }
            )
    if ins.table in ("orders", "stages") and not fields & {"customer_id", "customer_name"}:
        notes.append(
            {
                "zh": "没有客户列（客户编号或客户名称）：各行无法归到客户，RFM、CLV、客户标签等"
                "按客户的分析无法进行",
                "en": "no customer column (customer_id or customer_name): rows cannot be tied to "
                "customers, so RFM, CLV, tags and other per-customer analyses cannot run",
            }
        )
    stage_rows = ins.values[(ins.values["field"] == "stage")] if len(ins.values) else None
    if stage_rows is not None and len(stage_rows):
        notes.append(
            {
                "zh": "阶段名称不能用 choices 扩充：把这些阶段改写为模板阶段（①初次接洽…⑥售后维护）",
                "en": "stage names cannot be added with choices: rewrite these stages as the "
                "template's (1 初次接洽 … 6 售后维护)",
            }
        )
    if ins.column_map:
        notes.append(
            {
                "zh": "建议的 column_map 未被应用：核对后再传给 read_table(..., column_map=...) "
                "或填入笔记本 01 的参数",
                "en": "the suggested column_map has not been applied: review it, then pass it to "
                "read_table(..., column_map=...) or notebook 01's parameters",
            }
        )
    return notes


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


def _render(ins: Inspection, lang: str) -> str:
    zh = lang == "zh"

    def t(cn: str, en: str) -> str:
        return f"{cn} ({en})" if zh else en

    def pick(text: str | None) -> str:
        if not text:
            return ""
        cn, _, en = text.partition(" | ")
        return (cn if zh else en) or text

    lines = [
        f"{t('初检', 'inspection')}: {ins.source} — {ins.rows} {t('行', 'rows')}"
        + (f", {ins.blank_rows} {t('空行', 'blank')}" if ins.blank_rows else "")
        + f", {len(ins.headers)} {t('列', 'columns')}"
    ]
    tables = ins.tables.set_index("table")
    if ins.table is None:
        lines.append(f"{t('表', 'table')}: {t('无法判断', 'none recognised')}")
    else:
        row = tables.loc[ins.table]
        head = f"{ins.table} {row['title']}"
        matched = f"{row['matched']} {t('列属于该表', 'headers are its fields')}"
        if ins.table_status == "closest":
            lines.append(
                f"{t('表', 'table')}: {t('没有表符合', 'no table qualifies')}; "
                f"{t('按最接近的表检查', 'inspected as the closest')}: {head}, {matched}"
            )
        else:
            how = {
                "given": t("指定", "given"),
                "inferred": t("由表头推断", "inferred from the headers"),
            }[ins.table_status]
            lines.append(f"{t('表', 'table')}: {head} — {how}, {matched}")
        if ins.missing:
            lines.append(
                f"  {t('缺少列', 'missing columns')}: {describe_columns(ins.missing, ins.table)}"
            )
        elif ins.table_status == "inferred":
            lines.append(f"  {t('必需列齐全', 'every required column is present')}")
        others = tables[(tables.index != ins.table) & (tables["matched"] > 0)]
        others = others.sort_values("matched", ascending=False, kind="stable")
        if len(others):
            lines.append(
                f"  {t('其他表', 'other tables')}: "
                + "; ".join(
                    f"{n} {r['matched']}"
                    + ("" if r["qualifies"] else f" ({t('缺少', 'lacks')} {r['missing']})")
                    for n, r in others.iterrows()
                )
            )
    lines.append("")
    lines.append(f"{t('表头', 'headers')}:")
    h = ins.headers
    wide = max([_width(x) for x in h["header"]] + [8]) + 2
    status_text = {
        "mapped": "",
        "column_map": t("由 column_map", "by column_map"),
        "duplicate": t("重复，按原表头保留", "duplicate, kept under its own header"),
    }
    for row in h.itertuples():
        filled = f"{t('填写', 'filled')} {row.filled}/{ins.rows}"
        if row.status == "unmapped":
            text = f"  {_pad(row.header, wide)}✗ {t('未映射', 'not mapped')}; {filled}"
            if not _none(row.suggestion):
                text += f"; {t('建议', 'suggest')} → {row.suggestion} ({pick(row.reason)})"
            elif not _none(row.reason):
                text += f"; {pick(row.reason)}"
        else:
            extra = status_text[row.status]
            text = f"  {_pad(row.header, wide)}→ {row.field}" + (f" ({extra})" if extra else "")
            text += f"; {filled}"
        if not _none(row.problems):
            text += f"; {t('有问题', 'problems')} {row.problems}"
        lines.append(text)
    lines.append("")
    label = {
        "unreadable": t("无法识别", "unreadable"),
        "not_in_list": t("不在列表", "not in the list"),
    }
    if len(ins.values):
        lines.append(
            f"{t('读不出或不在列表的值', 'values that cannot be read or are not in the list')}, "
            f"{t('每列最多', 'at most')} {ins.top}:"
        )
        totals = h.set_index("header")["problems"]
        for (name, header), group in ins.values.groupby(["field", "header"], sort=False):
            tag = f" [{t('建议', 'suggested')}]" if bool(group["suggested"].iloc[0]) else ""
            listed = ", ".join(
                f"{v} {n}" for v, n in zip(group["value"], group["rows"], strict=True)
            )
            total = totals.get(header)
            lines.append(
                f"  {name} ← {header}{tag}: {label[group['issue'].iloc[0]]} "
                f"{total} {t('行', 'rows')}: {listed}"
            )
    else:
        lines.append(t("所有值都能读出", "every value can be read"))
    lines.append("")
    lines.append(f"{t('建议的 column_map', 'suggested column_map')}:")
    lines.append("  " + json.dumps(ins.column_map, ensure_ascii=False))
    if ins.choices:
        lines.append(f"{t('建议的 choices', 'suggested choices')}:")
        choices = {k: list(v) for k, v in ins.choices.items()}
        lines.append("  " + json.dumps(choices, ensure_ascii=False))
    if ins.notes:
        lines.append("")
        lines.append(f"{t('提示', 'notes')}:")
        lines.extend(f"  - {n['zh' if zh else 'en']}" for n in ins.notes)
    return "\n".join(lines) + "\n"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.astype(object).to_dict("records"):
        out.append({str(k): _plain(v) for k, v in record.items()})
    return out


def _none(value: object) -> bool:
    """Return True for a missing or zero count, or a missing text."""
    return bool(pd.isna(value)) or not value


def _plain(value: object) -> object:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
