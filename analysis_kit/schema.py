"""The tables' domain rules as pandera schemas, validated lazily so every failure is reported at once.

The schemas run on parsed tables (after :mod:`analysis_kit.parsing`): they check what parsing
cannot, such as required values being present, scores within 1–5, dates not after the as-of date,
a budget's low end not above its high end. :func:`validate` returns the failures as one long table
(row, column, value, reason) instead of raising, so :func:`analysis_kit.cleaning.clean_table` can
send exactly the failing rows to the quarantine.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from .columns import TABLES, describe_columns, missing_columns

__all__ = ["ISSUE_COLUMNS", "MESSAGES", "table_schema", "validate"]

#: Columns of every issue table the kit produces.
ISSUE_COLUMNS = ["source_row", "column", "raw_value", "reason", "message"]

#: Bilingual text of each reason code.
MESSAGES: dict[str, str] = {
    "empty_row": "空行 blank row",
    "unparseable": "无法识别 value cannot be read",
    "missing_required": "必填项为空 required value is blank",
    "out_of_range": "超出合理范围 value out of range",
    "future_date": "日期晚于分析截止日 date after as_of",
    "too_old": "日期过早 date before 1990",
    "budget_min_gt_max": "预算下限高于上限 budget low end above high end",
    "paid_exceeds_amount": "回款超过成交金额 paid amount exceeds the order amount",
    "no_customer": "缺少客户编号和名称 neither customer id nor name",
    "unfounded_amount": "金额由无法使用的数量或单价推算 amount derived from an unusable quantity or "
    "unit price",
    "unlisted_value": "不在选项列表中，按原文保留 value outside the list, kept as written",
    "possible_double_export": "疑似重复导出：与另一行完全相同且无编号，已保留 identical to another line "
    "and without an id, kept",
    "not_whole": "应为整数 should be a whole number",
    "template_example": "模板示例行 the template's example row, not data",
}

_EARLIEST = pd.Timestamp("1990-01-01")

#: The field each frame-wide rule is about (the cell cleaning empties when it fails).
_RULE_FIELD = {"budget_min_gt_max": "budget", "paid_exceeds_amount": "paid_amount"}

# Per table: (column, kind of non-negative / range rule)
_NON_NEGATIVE = {
    "customers": ("employees", "annual_revenue", "budget_min", "budget_max"),
    "orders": ("unit_price",),  # cost and amount are negative on refund lines
    "stages": ("amount",),
    "channel_costs": ("cost",),
    "targets": ("target",),
    "market": ("market_size",),
}
_WHOLE = ("employees",)  # quantities may be weights or hours
_SHARE = ("market_share",)


def _check(fn, reason: str, *, element_wise: bool = False) -> pa.Check:
    return pa.Check(fn, name=reason, error=reason, element_wise=element_wise, ignore_na=True)


def table_schema(table: str, *, as_of: pd.Timestamp | None = None) -> pa.DataFrameSchema:
    """Build the pandera schema of a parsed ``table``.

    Parameters
    ----------
    table : str
        One of :data:`analysis_kit.columns.TABLES`.
    as_of : Timestamp, optional
        The as-of day (midnight): dates after that day fail with ``future_date`` (any time on
        the day itself passes); founding years after its year fail too.

    Returns
    -------
    pandera.DataFrameSchema
        Columns are optional (absent ones are not checked); each check is named by its reason code.
    """
    spec = TABLES[table]
    columns: dict[str, pa.Column] = {}

    def add(name: str, *checks: pa.Check, nullable: bool = True) -> None:
        columns[name] = pa.Column(checks=list(checks), nullable=nullable, required=False)

    for f in spec.fields:
        checks: list[pa.Check] = []
        if f.kind == "date":
            checks.append(_check(lambda s: s >= _EARLIEST, "too_old"))
            if as_of is not None:
                end = as_of.normalize() + pd.Timedelta(days=1)
                checks.append(_check(lambda s, e=end: s < e, "future_date"))
        elif f.kind == "year" and as_of is not None:
            checks.append(_check(lambda s, y=as_of.year: s <= y, "future_date"))
        if f.name in _NON_NEGATIVE.get(table, ()):
            checks.append(_check(lambda s: s >= 0, "out_of_range"))
        if f.name in _WHOLE:
            checks.append(_check(lambda s: s == s.round(), "not_whole"))
        if f.name in _SHARE:
            checks.append(_check(lambda s: (s >= 0) & (s <= 1), "out_of_range"))
        if f.name == "growth_rate":
            checks.append(_check(lambda s: (s >= -1) & (s <= 10), "out_of_range"))
        if f.kind == "score":
            checks.append(_check(lambda s: (s >= 1) & (s <= 5), "out_of_range"))
        add(f.name, *checks, nullable=not f.required)
    if table == "customers":
        add("budget_min", _check(lambda s: s >= 0, "out_of_range"))

    frame_checks = []
    if table == "customers":
        frame_checks.append(
            pa.Check(
                lambda df: (
                    ~(df["budget_min"] > df["budget_max"])
                    if {"budget_min", "budget_max"} <= set(df.columns)
                    else pd.Series(True, index=df.index)
                ),
                name="budget_min_gt_max",
                error="budget_min_gt_max",
            )
        )
    if table == "orders":
        frame_checks.append(
            pa.Check(
                lambda df: (
                    ~((df["amount"] > 0) & (df["paid_amount"] > df["amount"] + 0.005))
                    if {"amount", "paid_amount"} <= set(df.columns)
                    else pd.Series(True, index=df.index)
                ),
                name="paid_exceeds_amount",
                error="paid_exceeds_amount",
            )
        )
    for group in spec.any_of:
        frame_checks.append(
            pa.Check(
                lambda df, g=group: df[[c for c in g if c in df.columns]].notna().any(axis=1),
                name="no_customer" if "customer_id" in group else "missing_required",
                error="no_customer" if "customer_id" in group else "missing_required",
            )
        )
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=False, coerce=False)


def validate(df: pd.DataFrame, table: str, *, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Validate a parsed table lazily and return every failure.

    Parameters
    ----------
    df : DataFrame
        A parsed table with a ``source_row`` column.
    table : str
        The table's name.
    as_of : Timestamp, optional
        See :func:`table_schema`.

    Returns
    -------
    DataFrame
        One row per failing cell (or row, for row-level rules) with columns
        ``source_row``, ``column``, ``raw_value``, ``reason`` and ``message``. Empty when all pass.

    Raises
    ------
    SchemaError
        From :func:`analysis_kit.columns.missing_columns` when required columns are absent.
    """
    from .errors import SchemaError

    missing = missing_columns(df.columns, table)
    if missing:
        raise SchemaError(f"{table}: 缺少列 missing columns: {describe_columns(missing, table)}")
    schema = table_schema(table, as_of=as_of)
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    cases = cases[cases["index"].notna()]
    reason = cases["check"].astype("str")
    reason = reason.where(~reason.str.contains("not_nullable"), "missing_required")
    reason = reason.str.replace(r"\(.*$", "", regex=True)
    rows = df.loc[cases["index"].to_numpy(), "source_row"].to_numpy()
    column = cases["column"].astype("str").where(cases["column"].notna(), "")
    # A frame-wide rule is reported once per row, under the field it is about (if one).
    frame_wide = (cases["schema_context"] == "DataFrameSchema").to_numpy()
    column = column.where(~frame_wide, reason.map(_RULE_FIELD).fillna(""))
    out = pd.DataFrame(
        {
            "source_row": rows,
            "column": column.to_numpy(),
            "raw_value": cases["failure_case"].astype("str"),
            "reason": reason.to_numpy(),
        }
    )
    out["message"] = out["reason"].map(MESSAGES).fillna(out["reason"])
    return out.drop_duplicates(["source_row", "column", "reason"]).reset_index(drop=True)
