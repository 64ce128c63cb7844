"""Clean a template table with an audit that accounts for every input row.

:func:`clean_table` runs five steps, each explained in ``notebooks/01_data_cleaning.ipynb``:

1. **normalise** – map headers, strip text, blanks to missing, blank rows set aside;
2. **parse** – every field by its kind (:mod:`analysis_kit.parsing`); a non-blank value that cannot
   be read with certainty is an issue, never a guess;
3. **de-duplicate** – exact repeated lines (an order exported twice) are dropped; in the customer
   table the same company typed twice with cosmetic differences is merged into one row that keeps
   every contact person and phone;
4. **validate** – the table's pandera schema, lazily, every failure at once (:mod:`.schema`);
5. **split** – rows with any issue go to the quarantine with all their reasons, the rest are clean.

Every input row ends in exactly one place, recorded in ``CleanResult.rows``:
``rows_in == kept + merged + dropped_duplicates + quarantined``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import parsing
from ._validate import as_of_day
from .columns import (
    AMOUNT,
    CHOICES,
    CONTACT_NAME,
    CONTACT_PHONE,
    CUSTOMER_ID,
    CUSTOMER_NAME,
    SOURCE_FILE,
    SOURCE_ROW,
    TABLES,
    describe_columns,
    map_headers,
    missing_columns,
)
from .errors import SchemaError
from .matching import customer_groups
from .schema import ISSUE_COLUMNS, MESSAGES, validate
from .tables import column_label

__all__ = [
    "OTHER",
    "Audit",
    "CleanResult",
    "clean_table",
    "message_in",
    "stable_customer_id",
]

_HAN_WORDS = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+\s*")


def message_in(message: object, lang: str = "zh") -> object:
    """Return a quarantine or issue message in ``lang``: the kit writes them as 中文 English.

    The part before the last ``": "`` names the cell (``amount=abc``) and keeps its value as
    written; in the explanation after it an English page keeps the English words, a Chinese page
    the Chinese ones, and names the field by its template header. Anything that is not text, or
    has no part in ``lang``, is returned unchanged.

    Examples
    --------
    >>> message_in("amount=壹万: 无法识别 value cannot be read", "en")
    'amount=壹万: value cannot be read'
    >>> message_in("空行 blank row", "en")
    'blank row'
    >>> message_in("followup_date=2024-00-12: 无法识别 value cannot be read", "zh")
    '跟进日期=2024-00-12：无法识别'
    """
    if not isinstance(message, str):
        return message
    head, sep, tail = message.rpartition(": ")
    if lang != "en":
        latin = re.search(r"[A-Za-z]", tail)
        chinese = tail[: latin.start()].strip() if latin else tail.strip()
        if not chinese or not _HAN_WORDS.search(chinese):
            return message
        field, eq, value = head.partition("=")
        if eq and re.fullmatch(r"[a-z][a-z0-9_]*", field):
            head = f"{column_label(field, 'zh')}={value}"
        return f"{head}：{chinese}" if sep else chinese
    english = _HAN_WORDS.sub("", tail).strip()
    return f"{head}{sep}{english}" if english else message


#: What a value outside a closed list becomes with ``clean_table(..., unlisted="other")``.
OTHER = "其他"

CONTACT_COLUMNS = (CONTACT_NAME, "contact_title", CONTACT_PHONE, "contact_role")
FATES = ("kept", "merged", "duplicate", "quarantined")

_TEXT_KINDS = {"text", "feedback", "timeline"}
#: Kinds whose parser can fail; a non-blank value it cannot read is quarantined as unparseable.
_TYPED_KINDS = {
    "date",
    "amount",
    "number",
    "percent",
    "score",
    "phone",
    "stage",
    "bool",
    "year",
    "budget",
    "period",
}
_NFKC_KINDS = {"id", "company", "person"}


@dataclass
class Audit:
    """What happened to every input row of one table.

    Attributes
    ----------
    table : str
        The table's name.
    rows_in, kept, merged, dropped_duplicates, quarantined : int
        Row counts; ``rows_in == kept + merged + dropped_duplicates + quarantined``.
    reasons : Series
        Quarantined rows per reason code (a row with two reasons counts under both).
    merge_conflicts : DataFrame
        Fields that differed between merged customer rows: ``customer_id``, ``column``,
        ``kept_value``, ``other_values``.
    cells : DataFrame
        Cells of rows in the analysis (kept or merged) that could not be read as they are:
        ``column``, ``reason``, ``action`` (``blanked``: emptied in ``clean``; ``kept``: a value
        outside a closed list, kept as written) and ``cells`` (count).
    flagged : int
        Identical lines without any id that were kept (``possible_double_export``).
    derived : dict
        Cells filled from other columns, by column (``{"amount": 120}``: quantity × unit price).
    """

    table: str
    rows_in: int
    kept: int
    merged: int
    dropped_duplicates: int
    quarantined: int
    reasons: pd.Series
    merge_conflicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    flagged: int = 0
    derived: dict[str, int] = field(default_factory=dict)

    def cell_totals(self, action: str) -> dict[str, int]:
        """Cells per column with ``action`` (``"blanked"`` or ``"kept"``), as plain numbers."""
        if self.cells.empty:
            return {}
        sel = self.cells[self.cells["action"] == action]
        return {str(k): int(v) for k, v in sel.groupby("column")["cells"].sum().items()}

    @property
    def balanced(self) -> bool:
        """Whether every input row is accounted for."""
        return self.rows_in == self.kept + self.merged + self.dropped_duplicates + self.quarantined

    def to_dict(self) -> dict[str, object]:
        """Return counts and reasons as plain Python values, e.g. for ``metrics.json``."""
        return {
            "table": self.table,
            "rows_in": self.rows_in,
            "kept": self.kept,
            "merged": self.merged,
            "dropped_duplicates": self.dropped_duplicates,
            "quarantined": self.quarantined,
            "reasons": {str(k): int(v) for k, v in self.reasons.items()},
            "cells_blanked": self.cell_totals("blanked"),
            "values_kept_as_written": self.cell_totals("kept"),
            "possible_double_exports": int(self.flagged),
            "derived": {str(k): int(v) for k, v in self.derived.items()},
        }

    def to_frame(self) -> pd.DataFrame:
        """Return the counts as a one-row-per-measure table with Chinese and English labels."""
        labels = [
            ("rows_in", "输入行数"),
            ("kept", "保留"),
            ("merged", "合并入其他行"),
            ("dropped_duplicates", "重复行删除"),
            ("quarantined", "隔离待核查"),
        ]
        return pd.DataFrame(
            {
                "measure": [k for k, _ in labels],
                "说明": [z for _, z in labels],
                "rows": [getattr(self, k) for k, _ in labels],
            }
        )

    def summary(self, lang: str = "zh") -> str:
        """Return a short readable account of the cleaning, in Chinese (``zh``) or English (``en``)."""
        if lang not in ("zh", "en"):
            raise ValueError(f"lang must be 'zh' or 'en'; got {lang!r}")
        zh = lang == "zh"
        reasons = ", ".join(
            f"{MESSAGES.get(k, k).split(' ', 1)[0 if zh else -1]} {v}"
            for k, v in self.reasons.items()
        )
        blanked = sum(self.cell_totals("blanked").values())
        kept = sum(self.cell_totals("kept").values())
        if zh:
            text = (
                f"{self.table}: 输入 {self.rows_in} 行，保留 {self.kept} 行，合并 {self.merged} 行，"
                f"删除重复 {self.dropped_duplicates} 行，隔离 {self.quarantined} 行"
            )
            text += f"（原因：{reasons}）" if reasons else ""
            notes = [
                f"{blanked} 个无法识别的单元格置空" if blanked else "",
                f"{kept} 个选项外的值按原文保留" if kept else "",
                f"{self.flagged} 行疑似重复导出（无编号，已保留）" if self.flagged else "",
                *(f"{v} 个{k}由其他列推算" for k, v in self.derived.items()),
            ]
            notes = [n for n in notes if n]
            return text + ("；" + "，".join(notes) if notes else "") + "。"
        text = (
            f"{self.table}: {self.rows_in} rows in, {self.kept} kept, {self.merged} merged, "
            f"{self.dropped_duplicates} exact duplicates dropped, {self.quarantined} quarantined"
        )
        text += f" (reasons: {reasons})" if reasons else ""
        notes = [
            f"{blanked} unreadable cells emptied" if blanked else "",
            f"{kept} values outside the lists kept as written" if kept else "",
            f"{self.flagged} possible double exports (no id) kept" if self.flagged else "",
            *(f"{v} {k} derived from other columns" for k, v in self.derived.items()),
        ]
        notes = [n for n in notes if n]
        return text + ("; " + ", ".join(notes) if notes else "") + "."


@dataclass
class CleanResult:
    """The outcome of :func:`clean_table`.

    Attributes
    ----------
    table : str
        The table's name.
    clean : DataFrame
        Parsed, de-duplicated, valid rows with canonical columns plus derived ones (see
        :func:`clean_table`) and ``source_row`` of the row that was kept.
    quarantine : DataFrame
        The rejected input rows as they were read (text), with ``reason`` (codes joined by ``;``)
        and ``message`` (bilingual, naming each column).
    issues : DataFrame
        One row per problem: ``source_row``, ``column``, ``raw_value``, ``reason``, ``message``.
    rows : DataFrame
        The ledger: one row per input row with ``source_row``, ``fate`` (kept, merged, duplicate,
        quarantined) and ``kept_as`` (the ``source_row`` of the row it was merged into or
        duplicates).
    audit : Audit
        Counts and reasons.
    raw : DataFrame
        The input as read, for tracing any value back.
    contacts : DataFrame or None
        Customers only: every contact person, one row each, with ``customer_id``.
    matches : DataFrame or None
        Customers only: the pairs of names taken for one company (``decision`` ``same_core`` or
        ``fuzzy``) and those left for a person to decide (``review``), as
        :func:`analysis_kit.matching.customer_groups` gives them.
    """

    table: str
    clean: pd.DataFrame
    quarantine: pd.DataFrame
    issues: pd.DataFrame
    rows: pd.DataFrame
    audit: Audit
    raw: pd.DataFrame
    contacts: pd.DataFrame | None = None
    matches: pd.DataFrame | None = None

    def trace(self, column: str) -> pd.DataFrame:
        """Show, for one column, each clean value beside the raw text it came from.

        Returns
        -------
        DataFrame
            ``source_row``, ``raw`` and ``clean`` for every kept row whose value was changed by
            cleaning (rows merged into another are listed in :attr:`rows`).
        """
        if column not in self.clean.columns or column not in self.raw.columns:
            raise KeyError(f"{column!r} is not a column of both the raw and the clean table")
        raw = self.raw[[SOURCE_ROW, column]].rename(columns={column: "raw"})
        clean = self.clean[[SOURCE_ROW, column]].rename(columns={column: "clean"})
        both = clean.merge(raw, on=SOURCE_ROW, how="left")
        as_text = _display_text(both["clean"])
        changed = as_text.fillna("\0") != both["raw"].astype("str").fillna("\0")
        return both.loc[changed, [SOURCE_ROW, "raw", "clean"]].reset_index(drop=True)


def _display_text(values: pd.Series) -> pd.Series:
    """Write values as a person would type them: dates without a midnight time, 4.0 as 4."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        midnight = values.dt.normalize() == values
        seconds = values.dt.second != 0
        text = values.dt.strftime("%Y-%m-%d %H:%M")
        text = text.where(~seconds, values.dt.strftime("%Y-%m-%d %H:%M:%S"))
        return text.where(~midnight, values.dt.strftime("%Y-%m-%d")).where(values.notna())
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values == values.round()
        text = values.astype("str").where(~whole, values.round().astype("Int64").astype("str"))
        return text.where(values.notna())
    return values.astype("str").where(values.notna())


def stable_customer_id(names: pd.Series) -> pd.Series:
    """Derive a stable customer id from company names: ``C`` + 10 hex digits of a hash of the key.

    The key is :func:`analysis_kit.parsing.company_key`, so cosmetic variants of one name share an
    id, and the id is the same in every run, file and table (BLAKE2b, not Python's salted hash).
    """
    codes, distinct = _distinct(names)
    keys = parsing.company_key(distinct)
    ids = {
        k: "C" + hashlib.blake2b(k.encode("utf-8"), digest_size=5).hexdigest().upper()
        for k in keys.dropna().unique()
    }
    return _spread(keys.map(ids).astype("str"), codes, names.index).rename(names.name)


def clean_table(
    df: pd.DataFrame,
    *,
    table: str | None = None,
    as_of: str | pd.Timestamp | None = None,
    choices: Mapping[str, tuple[str, ...]] | None = None,
    units: Mapping[str, float] | None = None,
    unlisted: str = "keep",
    drop_identical: bool = False,
    match_options: Mapping[str, object] | None = None,
    date_format: str | Mapping[str, str] | None = None,
) -> CleanResult:
    """Clean one template table and account for every row and every cell it could not read.

    **Row versus cell.** Each table has key fields, the ones it exists for
    (:attr:`analysis_kit.columns.TableSpec.key_fields`: orders: date and amount, or quantity ×
    unit price; customers: name or id; stages: opportunity, stage, date; follow-ups: customer and
    date). Only a blank or unreadable key field sends a row to the quarantine. Any other cell that
    cannot be read (a score ``9分``, a date ``2024-02-30`` in 最近沟通时间) becomes missing in
    ``clean``; its raw text stays in ``issues`` with the column and the reason, and the audit
    counts it (``Audit.cells``). A value outside a closed list (沟通方式 ``展会``) is kept as
    written and reported, never quarantined.

    Parameters
    ----------
    df : DataFrame
        As returned by :func:`analysis_kit.io.read_table` (canonical names, text values), or any
        frame with template headers, which are mapped. Not modified.
    table : str, optional
        The table's name; defaults to ``df.attrs["table"]`` set by ``read_table``.
    as_of : date-like, optional
        The analysis day. Dates after that day (any time on the day itself is in) fail as
        ``future_date``: a key date quarantines the row, another date is blanked. None skips
        that rule.
    choices : mapping, optional
        Closed lists overriding :data:`analysis_kit.columns.CHOICES`, e.g.
        ``{"contact_method": ("电话", "面谈", "邮件", "线上会议", "展会")}``.
    units : mapping, optional
        Multipliers for bare numbers per column (``{"budget": 10000}``); defaults to
        ``df.attrs["units"]``, which ``read_table`` fills from headers such as ``预算范围（万元）``.
    unlisted : {"keep", "other"}, default="keep"
        What a value outside a closed list becomes in ``clean``: kept as written, or ``其他``.
        Either way it is listed in ``issues`` as ``unlisted_value``.
    drop_identical : bool, default=False
        Identical lines that carry an id (an order id, an opportunity id, a customer) are one line
        exported twice and are always dropped. Identical lines without any id (two equal
        purchases on one day) are kept and flagged ``possible_double_export``; True drops them
        as duplicates too.
    date_format : str or mapping, optional
        The ``strftime`` format of the file's dates when it writes them in an order the kit will
        not guess (``"%m/%d/%Y %H:%M"`` for ``12/1/2010 8:26``), for every date column or per
        column (``{"order_date": "%d/%m/%Y"}``); see :func:`analysis_kit.parsing.parse_date`.
    match_options : mapping, optional
        Customers only: options of :func:`analysis_kit.matching.customer_groups`, which decides
        which rows are one company (``threshold``, ``review_threshold``, ``strip_regions``,
        ``merge_ids``). Names with the same core (``星辰科技有限公司``, ``（北京）星辰科技有限公司``)
        merge, similar ones only above the threshold; pairs below it are listed in
        ``CleanResult.matches`` for a person, never merged.

    Returns
    -------
    CleanResult
        ``clean`` holds the table's fields parsed: dates as ``datetime64``, amounts and numbers as
        ``float64`` yuan, scores as ``Int64``, closed lists and stages as their template values,
        phones normalised (``13800138000``, ``0755-88886666``), plus derived columns where the
        source column exists: ``budget_min``, ``budget_max``, ``budget_kind`` (from ``budget``),
        ``employees_min``, ``employees_max``, ``annual_revenue_min``, ``annual_revenue_max``
        (from ``company_size``), ``industry_l1``, ``industry_l2``, ``sentiment`` (from
        ``feedback``), ``purchase_start``, ``purchase_end``, ``period_start``, ``period_freq``,
        and ``customer_id`` made from the name when absent. Customers also get
        ``contact_count``. Orders without an amount get ``quantity`` × ``unit_price`` (counted
        in ``Audit.derived``); a stage history whose stage cell records a loss (``Closed Lost``,
        ``输单``) gets ``outcome`` ``lost`` and a missing stage.

    Raises
    ------
    SchemaError
        Unknown table, or required columns missing (all named at once).

    Examples
    --------
    >>> raw = pd.DataFrame({"客户名称": ["甲公司", "甲公司 ", None], "需求匹配度": ["4分", "9", None]})
    >>> result = clean_table(raw, table="customers")
    >>> result.audit.rows_in, result.audit.kept, result.audit.merged, result.audit.quarantined
    (3, 1, 1, 1)
    >>> result.audit.cells[["column", "reason", "cells"]].values.tolist()
    [['match_score', 'out_of_range', 1]]
    """
    table = table or df.attrs.get("table")
    if table not in TABLES:
        raise SchemaError(f"table must be one of {sorted(TABLES)}; got {table!r}")
    if unlisted not in ("keep", "other"):
        raise ValueError(f"unlisted must be 'keep' or 'other'; got {unlisted!r}")
    spec = TABLES[table]
    as_of = as_of_day(as_of) if as_of is not None else None
    units = dict(units if units is not None else df.attrs.get("units", {}))
    allowed = {**CHOICES, **(choices or {})}

    raw = _canonical(df, table)
    n_in = len(raw)
    raw = raw.reset_index(drop=True)

    # 1–2. normalise and parse one column at a time, so no second full text copy is ever held;
    # each column's text also feeds a row hash for the duplicate check and the blank-row test.
    fields = {f.name: f for f in spec.fields if f.name in raw.columns}
    data_cols = [c for c in raw.columns if c not in (SOURCE_ROW, SOURCE_FILE)]
    examples = {n: f.example for n, f in fields.items() if f.example}
    n = len(raw)
    empty = np.ones(n, dtype=bool)
    row_hash = np.zeros(n, dtype="uint64")
    like_example = np.ones(n, dtype=bool)
    example_cells = np.zeros(n, dtype="int64")
    other_cells = np.zeros(n, dtype=bool)
    parsed = pd.DataFrame({SOURCE_ROW: raw[SOURCE_ROW]}, index=raw.index)
    issues = []
    for col in data_cols:
        f = fields.get(col)
        nfkc = f is not None and f.kind in _NFKC_KINDS
        # Work on the column's distinct values (the last one stands for missing), then spread
        # every per-value result back to the rows with the codes.
        codes, distinct = _distinct(raw[col])
        text = parsing.normalize_text(distinct, nfkc=nfkc)
        present_d = text.notna().to_numpy()
        present = present_d[codes]
        empty &= ~present
        row_hash = _mix_hash(row_hash, _hash_values(text)[codes])
        if col in examples:
            expected = parsing.normalize_text(pd.Series([examples[col]]), nfkc=nfkc).iloc[0]
            like_example &= text.eq(expected).fillna(False).to_numpy()[codes] | ~present
            example_cells += present
        else:
            other_cells |= present
        if f is None:
            parsed[col] = _spread(text, codes, raw.index)
            continue
        fmt = date_format.get(col) if isinstance(date_format, Mapping) else date_format
        values, extra, failed, reason = _read_field(text, f, allowed, units, table, fmt)
        bad_d = present_d & failed.to_numpy()
        if f.kind == "choice":  # an open vocabulary: kept as written, and reported
            values = values.where(~bad_d, text if unlisted == "keep" else OTHER)
        parsed[col] = _spread(values, codes, raw.index).rename(col)
        for name, extra_col in extra.items():
            parsed[name] = _spread(extra_col, codes, raw.index)
        if reason is not None:
            bad = bad_d[codes]
            issues.append(_issue_frame(raw.loc[bad, SOURCE_ROW], col, raw.loc[bad, col], reason))
    empty = pd.Series(empty, index=raw.index)
    example = pd.Series(like_example & (example_cells >= 3) & ~other_cells, index=raw.index)
    example &= len(examples) >= 3
    issues[:0] = [
        _issue_frame(raw.loc[empty, SOURCE_ROW], "", "", "empty_row"),
        _issue_frame(raw.loc[example & ~empty, SOURCE_ROW], "", "", "template_example"),
    ]
    if SOURCE_FILE in raw.columns:
        parsed[SOURCE_FILE] = raw[SOURCE_FILE]
    explicit_ids = parsed[CUSTOMER_ID].copy() if CUSTOMER_ID in parsed.columns else None
    if CUSTOMER_NAME in parsed.columns:
        derived = stable_customer_id(parsed[CUSTOMER_NAME])
        if CUSTOMER_ID in parsed.columns:
            parsed[CUSTOMER_ID] = parsed[CUSTOMER_ID].fillna(derived)
        else:
            parsed.insert(1, CUSTOMER_ID, derived)
    lost_rows = parsed.loc[parsed["_lost"].notna(), SOURCE_ROW] if "_lost" in parsed else None
    blank_amount = parsing.normalize_text(raw[AMOUNT]).isna() if AMOUNT in raw.columns else None
    derived = _derive(parsed, table, blank_amount)

    # 3a. identical lines: equal normalised text in every column (hash, then confirmed). With an
    # id they are one line exported twice; without one they may be two equal purchases.
    fate = pd.Series("kept", index=raw.index, dtype="str")
    kept_as = raw[SOURCE_ROW].copy()
    hashes = pd.Series(row_hash, index=raw.index)
    dup = hashes.duplicated(keep="first") & ~empty
    flagged = pd.Series(False, index=raw.index)
    if dup.any():
        first = hashes[~empty & ~dup]
        row_of_hash = pd.Series(raw.loc[first.index, SOURCE_ROW].to_numpy(), index=first.to_numpy())
        kept_as[dup] = row_of_hash.reindex(hashes[dup].to_numpy()).to_numpy()
        dup &= _same_text(raw, kept_as, dup, fields)
        ids = [c for c in spec.key if c in parsed.columns]
        has_id = parsed[ids].notna().any(axis=1) if ids else pd.Series(False, index=raw.index)
        if not drop_identical:
            flagged = dup & ~has_id
            dup &= has_id
            issues.append(
                _issue_frame(
                    raw.loc[flagged, SOURCE_ROW],
                    "",
                    ("= " + kept_as[flagged].astype("str")).to_numpy(),
                    "possible_double_export",
                )
            )
        kept_as = kept_as.where(dup, raw[SOURCE_ROW])
        fate[dup] = "duplicate"

    # 4. validate (on rows still in play, and only the columns the rules look at)
    live = (~empty & ~dup).to_numpy()
    checked = [SOURCE_ROW, *_checked_columns(parsed, spec)]
    failures = validate(parsed.loc[live, checked], table, as_of=as_of)
    if lost_rows is not None:  # a stage that records a loss is a readable stage cell
        echo = (failures["column"] == "stage") & failures["source_row"].isin(lost_rows)
        failures = failures[~echo]
    issues.append(failures)
    found = _drop_echoes([i for i in issues if len(i)])
    issues = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=ISSUE_COLUMNS)
    issues = _with_raw_values(issues, raw)
    if AMOUNT in derived:  # an amount made from a cell that is then emptied cannot stand
        issues = pd.concat([issues, _unfounded(issues, raw, derived[AMOUNT])], ignore_index=True)
    issues["action"] = _actions(issues, spec)

    # 5. split: a row with a row-level issue leaves; a cell-level issue empties its cell
    bad_rows = issues.loc[issues["action"] == "quarantined", "source_row"]
    quarantined = raw[SOURCE_ROW].isin(bad_rows) & ~dup
    fate[quarantined] = "quarantined"
    _blank_cells(parsed, issues[issues["action"] == "blanked"])
    good = _take_rows(parsed, (fate == "kept").to_numpy())
    del parsed

    # 3b. merge customers typed more than once
    contacts = matches = None
    conflicts = pd.DataFrame(columns=[CUSTOMER_ID, "column", "kept_value", "other_values"])
    if table == "customers":
        ids = explicit_ids.reindex(good.index) if explicit_ids is not None else None
        groups = _customer_groups(good, ids, match_options or {})
        if groups is not None:
            matches = groups.pairs
            good[CUSTOMER_ID] = groups.group.fillna(good[CUSTOMER_ID])
        del groups
        good, merged_into, contacts, conflicts = _merge_customers(good)
        if len(merged_into):
            idx = raw.index[raw[SOURCE_ROW].isin(merged_into.index)]
            fate[idx] = "merged"
            kept_as[idx] = merged_into.reindex(raw.loc[idx, SOURCE_ROW]).to_numpy()
            # a double export of a row that was merged points at the row it was merged into
            dups = (fate == "duplicate").to_numpy()
            pointed = kept_as[dups].to_numpy()
            final = merged_into.reindex(pointed).to_numpy()
            kept_as[dups] = np.where(pd.isna(final), pointed, final)

    rows = pd.DataFrame(
        {
            SOURCE_ROW: raw[SOURCE_ROW],
            "fate": fate,
            "kept_as": kept_as.where(fate.isin(["merged", "duplicate"])).astype("Int64"),
        }
    )
    if SOURCE_FILE in raw.columns:
        rows.insert(0, SOURCE_FILE, raw[SOURCE_FILE])
    row_issues = issues[issues["action"] == "quarantined"]
    quarantine = _quarantine_frame(raw[quarantined.to_numpy()], row_issues)
    reasons = (
        row_issues[row_issues["source_row"].isin(quarantine[SOURCE_ROW])]
        .drop_duplicates(["source_row", "reason"])["reason"]
        .value_counts()
        .sort_index()
    )
    in_play = raw.loc[fate.isin(["kept", "merged"]), SOURCE_ROW]
    counts = fate.value_counts()
    audit = Audit(
        table=table,
        rows_in=n_in,
        kept=int(counts.get("kept", 0)),
        merged=int(counts.get("merged", 0)),
        dropped_duplicates=int(counts.get("duplicate", 0)),
        quarantined=int(counts.get("quarantined", 0)),
        reasons=reasons.rename("rows"),
        merge_conflicts=conflicts,
        cells=_cell_counts(issues[issues["source_row"].isin(in_play)]),
        flagged=int(flagged.sum()),
        derived={
            col: n
            for col, rows in derived.items()
            if (n := int((rows & fate.isin(["kept", "merged"])).sum()))
        },
    )
    clean = good.reset_index(drop=True)
    clean = clean[
        [c for c in clean.columns if c not in (SOURCE_ROW, SOURCE_FILE)]
        + [c for c in (SOURCE_FILE, SOURCE_ROW) if c in clean.columns]
    ]
    return CleanResult(
        table=table,
        clean=clean,
        quarantine=quarantine,
        issues=issues.sort_values(["source_row", "column"], kind="stable").reset_index(drop=True),
        rows=rows,
        audit=audit,
        raw=raw,
        contacts=contacts,
        matches=matches,
    )


#: Reasons that concern the whole row, whichever column they name.
_ROW_REASONS = {"empty_row", "template_example", "missing_required", "no_customer"}
#: Reasons that keep the value (and the row) and only report it.
_KEEP_REASONS = {"unlisted_value", "possible_double_export"}
#: Cells that go with a field when it is emptied (derived from it while parsing); only typed
#: fields are ever emptied, and of those only the budget derives other columns.
_FAMILY = {
    "budget": ("budget", "budget_min", "budget_max", "budget_kind"),
    "budget_min": ("budget", "budget_min", "budget_max", "budget_kind"),
    "budget_max": ("budget", "budget_min", "budget_max", "budget_kind"),
}


def _actions(issues: pd.DataFrame, spec) -> pd.Series:
    """Decide what each issue does: ``quarantined`` (the row), ``blanked`` (the cell) or ``kept``."""
    row_level = issues["reason"].isin(list(_ROW_REASONS)) | issues["column"].isin(spec.key_fields)
    keep = issues["reason"].isin(list(_KEEP_REASONS))
    action = np.where(row_level & ~keep, "quarantined", np.where(keep, "kept", "blanked"))
    return pd.Series(action, index=issues.index, dtype="str")


def _blank_cells(parsed: pd.DataFrame, blanked: pd.DataFrame) -> None:
    """Empty the cells of ``clean_table``'s working frame named by cell-level issues."""
    if blanked.empty:
        return
    position = pd.Series(np.arange(len(parsed)), index=parsed[SOURCE_ROW].to_numpy())
    for col, rows in blanked.groupby("column")["source_row"]:
        at = position.reindex(rows.to_numpy()).dropna().to_numpy("int64")
        for name in _FAMILY.get(col, (col,)):
            if name in parsed.columns:
                values = parsed[name].copy()
                values.iloc[at] = None
                parsed[name] = values


def _cell_counts(issues: pd.DataFrame) -> pd.DataFrame:
    """Cells blanked or kept as written, by column, reason and action (rows still in play)."""
    cells = issues[issues["action"].isin(["blanked", "kept"]) & (issues["column"] != "")]
    if cells.empty:
        return pd.DataFrame(
            {
                "column": pd.Series(dtype="str"),
                "reason": pd.Series(dtype="str"),
                "action": pd.Series(dtype="str"),
                "cells": pd.Series(dtype="int64"),
            }
        )
    counts = cells.groupby(["column", "reason", "action"]).size().rename("cells")
    return (
        counts.reset_index().sort_values(["column", "reason"], kind="stable").reset_index(drop=True)
    )


def _unfounded(issues: pd.DataFrame, raw: pd.DataFrame, derived: pd.Series) -> pd.DataFrame:
    """Issues for amounts derived from a quantity or unit price that validation rejects."""
    inputs = issues[issues["column"].isin(["quantity", "unit_price"])]
    rows = raw.loc[derived.to_numpy() & raw[SOURCE_ROW].isin(inputs["source_row"]), SOURCE_ROW]
    return _issue_frame(rows, AMOUNT, "", "unfounded_amount")


def _derive(
    parsed: pd.DataFrame, table: str, blank_amount: pd.Series | None
) -> dict[str, pd.Series]:
    """Fill what the table's own columns imply; return, per column, the rows filled.

    Orders: a blank (not an unreadable) amount is ``quantity`` × ``unit_price``. Stages: a stage
    cell that records a loss sets a missing ``outcome`` to ``lost``.
    """
    filled: dict[str, pd.Series] = {}
    if table == "orders" and {"quantity", "unit_price"} <= set(parsed.columns):
        product = (parsed["quantity"] * parsed["unit_price"]).round(6)
        if AMOUNT not in parsed.columns:
            parsed[AMOUNT] = np.nan
            blank_amount = pd.Series(True, index=parsed.index)
        fill = blank_amount & product.notna()
        parsed[AMOUNT] = parsed[AMOUNT].where(~fill, product)
        filled[AMOUNT] = fill
    lost = parsed.pop("_lost") if "_lost" in parsed.columns else None
    if lost is not None:
        outcome = parsed["outcome"] if "outcome" in parsed.columns else None
        fill = lost.notna() if outcome is None else lost.notna() & outcome.isna()
        if outcome is None:
            parsed["outcome"] = pd.Series(pd.NA, index=parsed.index, dtype="str")
        parsed["outcome"] = parsed["outcome"].where(~fill, "lost")
        filled["outcome"] = fill
    return filled


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Return codes into the distinct values, and those values with a missing one appended last.

    Template columns repeat a few values many times (grades, stages, dates), so cleaning works on
    the distinct values and spreads the results back: identical output, much less work.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    distinct = pd.Series(uniques, name=values.name).reindex(range(len(uniques) + 1))
    return np.where(codes < 0, len(uniques), codes), distinct


def _spread(per_value: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Give each row the result computed for its distinct value."""
    out = per_value.take(codes)
    out.index = index
    return out


def _hash_values(text: pd.Series) -> np.ndarray:
    """Hash each value (missing included) for the row hash."""
    return pd.util.hash_pandas_object(text, index=False).to_numpy()


def _join_unique(values: pd.Series, groups) -> pd.Series:
    """Join each group's distinct non-missing values with ``"; "``, in order of appearance.

    Vectorised: distinct (group, value) pairs are found on integer codes, numbered within their
    group and spread into one column per position (a customer has few contacts); Arrow then joins
    each group's values, skipping the missing ones. The result is indexed by group; groups without
    a value are left out.
    """
    group_codes, group_values = pd.factorize(groups)
    group, value, texts = _first_pairs(group_codes, values.astype("str"))
    if not len(group):
        return pd.Series(dtype="str")
    slot, present = pd.factorize(group)  # the groups with a value, in order of their first one
    position = pd.Series(slot).groupby(slot, sort=False).cumcount().to_numpy()
    texts = pa.array(pd.Series(texts, dtype="str"), type=pa.large_string(), from_pandas=True)
    columns = []
    for k in range(position.max() + 1):
        at = position == k
        take = np.full(len(present), -1, dtype=np.int64)
        take[slot[at]] = value[at]
        columns.append(texts.take(pa.array(take, mask=take < 0)))
    separator = pa.scalar("; ", type=pa.large_string())
    joined = pc.binary_join_element_wise(*columns, separator, null_handling="skip")
    out = joined.to_pandas().astype("str")
    out.index = pd.Index(group_values.take(present))
    return out


def _first_pairs(group: np.ndarray, values: pd.Series) -> tuple[np.ndarray, np.ndarray, object]:
    """Return the distinct (group, value) pairs in order of first appearance, and the values.

    ``group`` holds integer codes (negative: no group); missing values are skipped. Returns the
    pairs' group codes, their codes into the distinct values, and those values.
    """
    value, texts = pd.factorize(values)
    ok = (group >= 0) & (value >= 0)
    group, value = group[ok], value[ok]
    first = _first_of_each(group.astype(np.int64) * max(len(texts), 1) + value)
    return group[first], value[first], texts


def _first_of_each(keys: np.ndarray) -> np.ndarray:
    """Return the positions where each distinct key first appears, in order (a hash, no sort)."""
    return np.flatnonzero(~pd.Series(keys).duplicated().to_numpy())


def _canonical(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return a copy of ``df`` with canonical headers and a ``source_row``; check required columns."""
    headers = [c for c in df.columns if c not in (SOURCE_ROW, SOURCE_FILE)]
    mapping = map_headers(headers, table)
    out = df.rename(columns=mapping)
    if SOURCE_ROW not in out.columns:
        out[SOURCE_ROW] = np.arange(2, len(out) + 2)
    missing = missing_columns(out.columns, table)
    if missing:
        where = df.attrs.get("source", "<DataFrame>")
        raise SchemaError(f"{where}: 缺少列 missing columns: {describe_columns(missing, table)}")
    return out


#: The parser of each field kind (kinds not listed are text, kept as normalised).
_PARSERS = {
    "date": parsing.parse_date,
    "amount": parsing.parse_amount,
    "number": parsing.parse_number,
    "percent": parsing.parse_percent,
    "score": parsing.parse_score,
    "phone": parsing.parse_phone,
    "choice": parsing.parse_choice,
    "stage": parsing.parse_stage,
    "bool": parsing.parse_bool,
    "year": parsing.parse_year,
    "budget": parsing.parse_budget,
    "industry": parsing.parse_industry,
    "feedback": parsing.parse_sentiment,
    "timeline": parsing.parse_timeline,
    "period": parsing.parse_period,
    "size": parsing.parse_company_size,
}
#: For parsers returning several columns: the one that replaces the field (None keeps the text).
_MAIN_COLUMN = {
    "budget": None,
    "timeline": None,
    "industry": "industry",
    "period": "period",
    "size": "company_size",
}


def _read_field(
    text: pd.Series,
    f,
    allowed: Mapping[str, tuple[str, ...]],
    units: Mapping[str, float],
    table: str,
    date_format: str | None = None,
) -> tuple[pd.Series, dict[str, pd.Series], pd.Series, str | None]:
    """Parse one field and say which values it could not read, and as what.

    Returns the clean values, the derived columns, a boolean Series of values not read (blank
    ones included: the caller knows which are blank) and the reason they are reported under:
    ``unlisted_value`` for open vocabularies (closed lists, 客户规模), ``unparseable`` for typed
    fields, None for free text. Shared by :func:`clean_table` and
    :func:`analysis_kit.inspection.inspect_export`, so both judge a value alike.
    """
    values, extra = _parse_field(text, f, allowed, units, date_format)
    if f.kind == "stage" and table == "stages":
        extra["_lost"] = parsing.stage_outcome(text)  # Lost, 输单: an outcome, not a step
    failed = values.isna()
    if f.kind == "budget":
        failed = extra["budget_kind"].isna()
    elif f.kind == "size":
        failed = ~extra.pop("size_understood")
    elif f.kind == "stage" and "_lost" in extra:
        failed &= extra["_lost"].isna()
    if f.kind in ("choice", "size"):
        reason = "unlisted_value"
    elif f.kind in _TYPED_KINDS:
        reason = "unparseable"
    else:
        reason = None
    return values, extra, failed, reason


def _parse_field(
    text: pd.Series,
    f,
    allowed: Mapping[str, tuple[str, ...]],
    units: Mapping[str, float],
    date_format: str | None = None,
) -> tuple[pd.Series, dict[str, pd.Series]]:
    """Parse one field; return its clean values and any derived columns."""
    parser = _PARSERS.get(f.kind)
    if parser is None:
        return text, {}
    unit = units.get(f.name)
    kwargs = {
        "amount": {"unit": unit or 1.0},
        "budget": {"unit": unit or 1.0},
        "percent": {"unit": unit},
        "score": {"low": None},  # the range is the schema's to report, as out_of_range
        "choice": {"field": f.name, "allowed": allowed.get(f.name)},
        "stage": {"stages": tuple(allowed.get("stage", CHOICES["stage"]))},
        "date": {"format": date_format},
    }.get(f.kind, {})
    out = parser(text, **kwargs)
    if isinstance(out, pd.Series):
        return (text, {"sentiment": out}) if f.kind == "feedback" else (out, {})
    main = _MAIN_COLUMN[f.kind]
    values = out[main] if main else text
    return values, {c: out[c] for c in out.columns if c != main}


def _mix_hash(row_hash: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Fold one column's value hashes into the running row hashes (FNV-style, wrapping)."""
    with np.errstate(over="ignore"):
        return (row_hash * np.uint64(0x100000001B3)) ^ values


def _same_text(raw: pd.DataFrame, kept_as: pd.Series, dup: pd.Series, fields) -> pd.Series:
    """Confirm hash-equal rows really are equal after normalisation (guards against collisions)."""
    idx = dup[dup].index
    position = pd.Series(np.arange(len(raw)), index=raw[SOURCE_ROW].to_numpy())
    first_pos = position.reindex(kept_as[idx].to_numpy()).to_numpy()
    same = np.ones(len(idx), dtype=bool)
    for col in raw.columns:
        if col in (SOURCE_ROW, SOURCE_FILE):
            continue
        f = fields.get(col)
        nfkc = f is not None and f.kind in _NFKC_KINDS
        this = parsing.normalize_text(raw[col].loc[idx], nfkc=nfkc).fillna("\0").to_numpy()
        that = parsing.normalize_text(raw[col].take(first_pos), nfkc=nfkc).fillna("\0")
        same &= this == that.to_numpy()
    return pd.Series(same, index=idx).reindex(dup.index, fill_value=False)


def _checked_columns(parsed: pd.DataFrame, spec) -> list[str]:
    """Columns the table's rules read: typed ones, required ones, and the any-of groups."""
    needed = set(spec.required) | {c for group in spec.any_of for c in group}
    needed |= {"budget_min", "budget_max"}
    out = []
    for col in parsed.columns:
        if col == SOURCE_ROW:
            continue
        dtype = parsed[col].dtype
        typed = not (pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype))
        if typed or col in needed:
            out.append(col)
    return out


def _take_rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """Return the rows of an internal working frame where ``keep`` is true, emptying ``frame``.

    Columns are moved one at a time, so the table is never held twice (the working frames are
    built inside :func:`clean_table`; a caller's frame is never passed here).
    """
    out = pd.DataFrame(index=frame.index[keep])
    for col in list(frame.columns):
        out[col] = frame.pop(col)[keep]
    return out


def _drop_echoes(issues: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Drop ``missing_required`` where the cell was not blank but unreadable (already reported)."""
    if not issues:
        return issues
    unparseable = pd.concat(issues)
    unparseable = unparseable[unparseable["reason"] == "unparseable"]
    seen = set(zip(unparseable["source_row"], unparseable["column"], strict=True))
    out = []
    for frame in issues:
        echo = (frame["reason"] == "missing_required") & pd.Series(
            [(r, c) in seen for r, c in zip(frame["source_row"], frame["column"], strict=True)],
            index=frame.index,
            dtype=bool,
        )
        out.append(frame[~echo])
    return out


def _issue_frame(rows: pd.Series, column: str, raw_values, reason: str) -> pd.DataFrame:
    n = len(rows)
    if isinstance(raw_values, pd.Series | np.ndarray):
        values = np.asarray(raw_values, dtype=object)
    else:
        values = [raw_values] * n
    return pd.DataFrame(
        {
            "source_row": rows.to_numpy(),
            "column": [column] * n,
            "raw_value": values,
            "reason": [reason] * n,
            "message": [MESSAGES[reason]] * n,
        }
    )


def _with_raw_values(issues: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Replace parsed values in issues by the text that was in the file."""
    out = issues.copy()
    by_row = raw.set_index(SOURCE_ROW)
    for column in out["column"].unique():
        if column and column in by_row.columns:
            sel = out["column"] == column
            out.loc[sel, "raw_value"] = (
                by_row[column].reindex(out.loc[sel, "source_row"]).to_numpy()
            )
    out["raw_value"] = out["raw_value"].astype("str")
    return out[ISSUE_COLUMNS]


def _quarantine_frame(raw_rows: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    if raw_rows.empty:
        return raw_rows.assign(reason=pd.Series(dtype="str"), message=pd.Series(dtype="str"))
    per_row = issues[issues["source_row"].isin(raw_rows[SOURCE_ROW])].copy()
    per_row["text"] = np.where(
        per_row["column"] != "",
        per_row["column"] + "=" + per_row["raw_value"].fillna("") + ": " + per_row["message"],
        per_row["message"],
    )
    reason = _join_unique(per_row["reason"], per_row["source_row"]).str.replace("; ", ";")
    message = _join_unique(per_row["text"], per_row["source_row"])
    out = raw_rows.copy()
    out["reason"] = reason.reindex(out[SOURCE_ROW]).to_numpy()
    out["message"] = message.reindex(out[SOURCE_ROW]).to_numpy()
    return out.reset_index(drop=True)


def _conflicts(
    good: pd.DataFrame, group: np.ndarray, rows: np.ndarray, ids: pd.Series, columns: list[str]
) -> pd.DataFrame:
    """List fields whose values differ between rows merged into one customer.

    ``group`` is each row's customer (an integer code), ``rows`` the positions of the customers
    with several rows, ``ids`` the customer id of each code. The first value in row order is
    kept; the others are listed in order of appearance.
    """
    names = [CUSTOMER_ID, "column", "kept_value", "other_values"]
    group = group[rows]
    frames = []
    for col in columns:  # a loop over columns, not rows
        values = good[col].iloc[rows]
        value = pd.factorize(values)[0]
        ok = value >= 0
        low = np.full(len(ids), len(values), dtype=np.int64)
        high = np.full(len(ids), -1, dtype=np.int64)
        np.minimum.at(low, group[ok], value[ok])
        np.maximum.at(high, group[ok], value[ok])
        clashing = (high > low)[group]  # two different values in the customer's rows
        if not clashing.any():
            continue
        where, value, texts = _first_pairs(group[clashing], values[clashing].astype("str"))
        first = np.zeros(len(where), dtype=bool)
        first[_first_of_each(where)] = True
        others = _join_unique(pd.Series(texts.take(value[~first])), where[~first])
        frames.append(
            pd.DataFrame(
                {
                    CUSTOMER_ID: ids.take(where[first]).to_numpy(),
                    "column": col,
                    "kept_value": pd.array(texts.take(value[first]), dtype="str"),
                    "other_values": others.reindex(where[first]).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=names)


def _customer_groups(good: pd.DataFrame, ids: pd.Series | None, options: Mapping[str, object]):
    """Which kept customer rows are one company (:func:`analysis_kit.matching.customer_groups`)."""
    if CUSTOMER_NAME not in good.columns:
        return None
    # rows without an explicit id carry the id derived from their name already
    return customer_groups(good[CUSTOMER_NAME], ids=ids, derived_ids=good[CUSTOMER_ID], **options)


def _merge_customers(good: pd.DataFrame):
    """Merge rows of the same customer; return (merged, {merged row: kept row}, contacts, conflicts).

    Rows of one customer share ``customer_id`` (set by :func:`_customer_groups`); a row without
    one is a customer of its own. The work is done on integer codes of the ids and on positions.
    ``good`` is clean_table's own working frame and is consumed (its columns are moved out).
    """
    gid = good[CUSTOMER_ID]
    code, uniques = pd.factorize(gid)
    missing = code < 0
    n_groups = len(uniques) + int(missing.sum())
    code[missing] = np.arange(len(uniques), n_groups)
    contact_cols = [c for c in CONTACT_COLUMNS if c in good.columns]

    contacts = good[[CUSTOMER_ID, *contact_cols, SOURCE_ROW]]
    contact_code = code
    if contact_cols:
        has = contacts[contact_cols].notna().any(axis=1).to_numpy()
        dedupe = [c for c in (CONTACT_NAME, CONTACT_PHONE) if c in contact_cols] or contact_cols
        new = ~contacts[has].duplicated([CUSTOMER_ID, *dedupe]).to_numpy()
        contacts = contacts[has][new].reset_index(drop=True)
        contact_code = code[has][new]
    count = np.bincount(contact_code, minlength=n_groups).astype("int64")

    first_of = np.empty(n_groups, dtype=np.int64)  # per customer: its first row
    starts = _first_of_each(code)
    first_of[code[starts]] = starts
    is_first = np.arange(len(code)) == first_of[code]
    multi = (np.bincount(code, minlength=n_groups) >= 2)[code]
    empty_conflicts = pd.DataFrame(columns=[CUSTOMER_ID, "column", "kept_value", "other_values"])
    if not multi.any():
        out = good.assign(contact_count=count[code])
        return out, pd.Series(dtype="int64"), contacts, empty_conflicts

    # Fill each customer's first row with the group's values, then drop the other rows. The
    # group values are gathered first (small: one per customer), then the rows are moved out of
    # ``good`` one column at a time, so the table is never held twice.
    rows = np.flatnonzero(multi)
    firsts = np.flatnonzero(multi & is_first)
    later = np.flatnonzero(~is_first)
    source = good[SOURCE_ROW].to_numpy()
    merged_into = pd.Series(source[first_of[code[later]]], index=source[later])
    other_cols = [c for c in good.columns if c not in (*contact_cols, CUSTOMER_ID)]
    check_cols = [c for c in other_cols if c not in (SOURCE_ROW, SOURCE_FILE, "last_contact_date")]
    ids = gid.iloc[first_of].reset_index(drop=True)
    conflicts = _conflicts(good, code, rows, ids, check_cols) if check_cols else empty_conflicts

    updates: dict[str, tuple[np.ndarray, object]] = {}  # pandas arrays: no Python objects
    for col in other_cols:
        if col in (SOURCE_ROW, SOURCE_FILE):
            continue
        if col in ("last_contact_date", "stage"):  # the latest contact, the furthest stage
            latest = good[col].iloc[rows].groupby(code[rows]).max()
            updates[col] = (firsts, latest.reindex(code[firsts]).array)
            continue
        # the first row's own value stands unless it is blank: fill those from later rows
        blank = good[col].isna().to_numpy()
        to_fill = firsts[blank[firsts]]
        if not len(to_fill):
            continue
        have = rows[~blank[rows]]
        source_at = np.full(n_groups, -1, dtype=np.int64)
        at = have[_first_of_each(code[have])]
        source_at[code[at]] = at  # per customer: its first row with a value
        take = source_at[code[to_fill]]
        if (take >= 0).any():
            updates[col] = (to_fill[take >= 0], good[col].iloc[take[take >= 0]].array)
    for col in contact_cols:
        joined = _join_unique(good[col].iloc[rows], code[rows])
        updates[col] = (firsts, joined.reindex(code[firsts]).array)

    out = _take_rows(good, is_first)
    position = np.cumsum(is_first) - 1  # a kept row's position in ``out``
    for col, (where, values) in updates.items():
        out.iloc[position[where], out.columns.get_loc(col)] = values
    out = out.reset_index(drop=True)
    out["contact_count"] = count[code[is_first]]
    return out, merged_into, contacts, conflicts
