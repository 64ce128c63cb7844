"""The templates' business rules as data: tags, grades, follow-up due dates and filters.

Every rule of the 客户画像与标签 section is a threshold in :data:`DEFAULT_RULES`. A notebook
overrides any of them by passing a partial dict (``rules={"high_value_amount": 200_000}``), which is
merged over the defaults; an unknown key is an error, so a typo never silently keeps a default.

Time windows
------------
All windows end on ``as_of`` (included) and are measured in calendar months with
:class:`pandas.DateOffset`: "the last 12 months" is ``(as_of - 12 months, as_of]`` and "the 12 months
before" is ``(as_of - 24 months, as_of - 12 months]``. Dates are compared by calendar day (times are
dropped, so an order at 23:59 on the ``as_of`` day counts), and orders, follow-ups and contact dates
after ``as_of`` are ignored, so a past ``as_of`` reproduces what the rules said on that day. Dates
with a time zone, ``as_of`` included, count on their own wall clock (the zone is dropped, the local
date kept: ``2024-07-01T02:00+08:00`` is 1 July).

Purchases
---------
Amounts are net: refund lines (negative ``amount``) are subtracted in the window of their own
date. A *purchase* is one ``order_id`` whose lines sum to a positive amount (refund lines exported
under their own id are not purchases); without an ``order_id`` column a purchase is one customer-day
with a positive net amount. Amounts are compared in cents: a net amount is positive when it rounds
to at least 0.01, so an order fully refunded whose float sum is 4.4e-16 is no purchase. *Repeat
purchases* are purchases after the customer's first (the lifetimes convention: 4 orders = 3 repeat
purchases). The high-value rule counts those made in the purchase window, as the templates write
it (复购 ≥ 3 次 in the last 12 months): a customer who bought often years ago and nothing this
year is not high value; ``high_value_repeat_scope="all"`` counts all history instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from ._frames import as_pandas
from ._validate import as_of_day, is_positive_money, local_days
from .columns import CUSTOMER_ID, map_headers, require_columns
from .errors import AnalysisKitError, SchemaError
from .parsing import parse_bool, parse_date
from .profile import MULTI_VALUE_COLUMNS, split_tags

__all__ = [
    "describe_filter",
    "DEFAULT_RULES",
    "FilterError",
    "apply_tags",
    "call_list",
    "filter_customers",
    "merge_rules",
    "overdue_list",
    "purchase_stats",
]

#: The templates' rules with their default thresholds. Pass a partial dict to override any of them.
#:
#: ========================== ===================================================================
#: key                        meaning
#: ========================== ===================================================================
#: ``size_large_min``         employees ≥ this → 大型 / large (500)
#: ``size_sme_min``           employees ≥ this (and below large) → 中小型 / SME, else 微型 (50)
#: ``size_labels``            ``{"large", "sme", "micro"}`` → Chinese label of ``size_tier``
#: ``size_labels_en``         the same → English label of ``size_tier_en``
#: ``purchase_window_months`` length of the purchase window and of the year-on-year windows (12)
#: ``high_value_amount``      high value when net purchases in the window ≥ this (100,000 元)
#: ``high_value_repeat``      … or when repeat purchases in the window ≥ this (3)
#: ``high_value_repeat_scope`` ``"window"``: repeat purchases in the purchase window (the
#:                            templates' rule); ``"all"``: over all history up to ``as_of``
#: ``potential_followups``    potential when follow-ups in the recent window ≥ this … (2)
#: ``potential_months``       … the recent window, in months (3) …
#: ``won_stages``             … and no deal: no purchase and stage not one of these (成交, 售后维护)
#: ``growth_min``             … or purchases growing: last window > previous × (1 + this), with a
#:                            positive previous window (0.0)
#: ``churn_silent_months``    churn risk when the last contact is this many months ago or more (6)
#: ``churn_drop``             … or net purchases fell by ≥ this share year on year, for customers
#:                            with positive purchases in the previous window (0.5)
#: ``value_high``             value grade 高 when net purchases in the window ≥ this (500,000)
#: ``value_mid``              中 when ≥ this (100,000); 低 below, including no purchases
#: ``rating_a_match``         rating A: match_score ≥ this, need clear, budget known and ≥ floor (4)
#: ``budget_floor``           the budget (``budget_max``, or ``budget_min`` when open-ended) an A
#:                            customer must reach: our product's price level (100,000 元)
#: ``rating_b_match``         rating B: match_score ≥ this, or budget known (3); C otherwise
#: ``followup_days``          priority → days from the last contact to the next follow-up
#:                            (高 7, 中 14, 低 30)
#: ========================== ===================================================================
DEFAULT_RULES: dict[str, Any] = {
    "size_large_min": 500,
    "size_sme_min": 50,
    "size_labels": {"large": "大型", "sme": "中小型", "micro": "微型"},
    "size_labels_en": {"large": "large", "sme": "SME", "micro": "micro"},
    "purchase_window_months": 12,
    "high_value_amount": 100_000,
    "high_value_repeat": 3,
    "high_value_repeat_scope": "window",
    "potential_followups": 2,
    "potential_months": 3,
    "won_stages": ("成交", "售后维护"),
    "growth_min": 0.0,
    "churn_silent_months": 6,
    "churn_drop": 0.5,
    "value_high": 500_000,
    "value_mid": 100_000,
    "rating_a_match": 4,
    "budget_floor": 100_000,
    "rating_b_match": 3,
    "followup_days": {"高": 7, "中": 14, "低": 30},
}

_PRIORITY_ORDER = {"高": 0, "中": 1, "低": 2}
_SEP = "；"
#: English words of the value grades apply_tags writes (高 / 中 / 低).
VALUE_GRADES_EN = {"高": "high", "中": "medium", "低": "low"}
# The words of the reasons, by language: {name} fields are filled in by apply_tags.
REASON_TEXT = {
    "zh": {
        "no_orders": "无订单数据",
        "no_followups": "无跟进记录数据",
        "no_contact": "无沟通日期",
        "window": "近{months}个月",
        "prev_window": "前{months}个月",
        "hv_amount": "{window}采购 {money} ≥ ¥{floor:,.0f}",
        "hv_repeat": "{window}复购 {repeat} 次 ≥ {floor} 次（{window}共 {orders} 笔订单）",
        "hv_repeat_all": "复购 {repeat} 次 ≥ {floor} 次（共 {orders} 笔订单）",
        "followups": "近{months}个月跟进 {n} 次 ≥ {floor} 次且未成交",
        "growth": "采购增长：{window} {now} > {prev_window} {before}",
        "silent": "已 {days} 天未跟进（最近 {last:%Y-%m-%d}，≥ {months}个月）",
        "falling": "采购同比下降 {drop:.0%}（{window} {now}，{prev_window} {before}）≥ {floor:.0%}",
        "match": "匹配度 {score}",
        "no_match": "匹配度未填",
        "need": "需求明确",
        "no_need": "需求不明确",
        "budget": "预算 {money} {op} {floor}",
        "no_budget": "预算未知或面议",
        "sep": "；",
        "comma": "，",
    },
    "en": {
        "no_orders": "no order data",
        "no_followups": "no follow-up data",
        "no_contact": "no contact date",
        "window": "last {months} months",
        "prev_window": "previous {months} months",
        "hv_amount": "purchases in the {window} {money} ≥ ¥{floor:,.0f}",
        "hv_repeat": "{repeat} repeat purchases in the {window} ≥ {floor} ({orders} orders there)",
        "hv_repeat_all": "{repeat} repeat purchases ≥ {floor} ({orders} orders in all)",
        "followups": "{n} follow-ups in the last {months} months ≥ {floor}, no deal yet",
        "growth": "purchases growing: {window} {now} > {prev_window} {before}",
        "silent": "no follow-up for {days} days (last {last:%Y-%m-%d}, ≥ {months} months)",
        "falling": "purchases down {drop:.0%} year on year ({window} {now}, {prev_window} {before})"
        " ≥ {floor:.0%}",
        "match": "match score {score}",
        "no_match": "match score missing",
        "need": "clear need",
        "no_need": "need not clear",
        "budget": "budget {money} {op} {floor}",
        "no_budget": "budget unknown or negotiable",
        "sep": "; ",
        "comma": ", ",
    },
}

# Private working columns of purchase_stats; the "__tag" prefix keeps them clear of user columns.
_DATE = "__tag_date"
_AMT = "__tag_amount"
_OID = "__tag_order_id"
_LAST = "__tag_last"
_PREV = "__tag_previous"
_POS = "__tag_positive"
_OKEY = "__tag_order_key"
_ODAY = "__tag_order_day"
_BUY = "__tag_buy"
_FIRST = "__tag_first_day"
_BUYWIN = "__tag_buy_in_window"
_BUYDAY = "__tag_buy_day"


class FilterError(AnalysisKitError, ValueError):
    """A filter condition could not be parsed or names a column the table does not have."""


# --- rules -----------------------------------------------------------------------------------------


def merge_rules(rules: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return :data:`DEFAULT_RULES` with ``rules`` merged over it.

    Dict-valued rules (``size_labels``, ``followup_days``) are merged one level deep, so
    ``{"followup_days": {"高": 3}}`` changes only the 高 cadence.

    Parameters
    ----------
    rules : mapping, optional
        A partial set of rules.

    Returns
    -------
    dict
        A new dict; :data:`DEFAULT_RULES` is not modified.

    Raises
    ------
    KeyError
        When ``rules`` has a key that is not a rule (the message lists the valid keys).

    Examples
    --------
    >>> merge_rules({"followup_days": {"高": 3}})["followup_days"]
    {'高': 3, '中': 14, '低': 30}
    """
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_RULES.items()}
    unknown = sorted(set(rules or {}) - set(DEFAULT_RULES))
    if unknown:
        raise KeyError(f"未知规则 unknown rules {unknown}; valid keys: {sorted(DEFAULT_RULES)}")
    for key, value in (rules or {}).items():
        if isinstance(merged[key], dict) and isinstance(value, Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


# --- helpers ---------------------------------------------------------------------------------------


def _money(values: pd.Series) -> list[str]:
    return [f"¥{v:,.0f}" for v in values]


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"


def _text(index: pd.Index, mask: pd.Series, texts: Iterable[str] | str) -> pd.Series:
    """Return a ``str`` Series holding ``texts`` where ``mask`` is True, missing elsewhere."""
    out = pd.Series(np.nan, index=index, dtype="str")
    mask = mask.fillna(False).astype(bool)
    if mask.any():
        if isinstance(texts, str):
            out[mask] = texts
        else:
            out[mask] = list(texts)
    return out


def _join(*parts: pd.Series, sep: str = _SEP) -> pd.Series:
    """Join the non-missing texts of each row with ``sep``, vectorised."""
    out = parts[0]
    for part in parts[1:]:
        out = (out + sep + part).fillna(out).fillna(part)
    return out


def _boolean(values: pd.Series | np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index).astype("boolean")


def _map_by_id(ids: pd.Series, per_id: pd.Series, fill: object = None) -> pd.Series:
    out = pd.Series(per_id.reindex(ids.to_numpy()).to_numpy(), index=ids.index)
    if fill is not None:
        out = out.fillna(fill)
    return out


# --- tags ------------------------------------------------------------------------------------------


def purchase_stats(
    orders: Any,
    *,
    as_of: str | pd.Timestamp,
    months: int = 12,
    customer_id_col: str = CUSTOMER_ID,
    order_date_col: str = "order_date",
    amount_col: str = "amount",
    order_id_col: str = "order_id",
) -> Any:
    """Aggregate order lines into the per-customer purchase figures the tag rules use.

    This is the orders side of :func:`apply_tags`, written once against narwhals so that pandas
    (numpy- or Arrow-backed), Polars (eager or lazy), DuckDB and PySpark give the same answer.
    Windows and purchases are as in the module docstring: lines after ``as_of`` (by calendar
    day) and lines without a customer or a date are left out, a missing amount counts as 0, and
    a purchase is one ``order_id`` (one customer-day when the id is missing or the column
    absent) whose lines sum to a positive amount in cents (>= 0.005 before rounding).

    Parameters
    ----------
    orders : DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame
        Clean orders: ``customer_id``, ``order_date``, ``amount`` and, if present, ``order_id``.
        A pandas text date column is parsed with :func:`pandas.to_datetime`; other engines need
        real dates.
    as_of : str or Timestamp
        The day the windows end on (included); its time of day is ignored, and so is a time
        zone (the local date is kept).
    months : int, default=12
        Length of each window in calendar months.
    customer_id_col, order_date_col, amount_col, order_id_col : str
        Column names.

    Returns
    -------
    DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame
        The same kind of object as ``orders`` (lazy inputs stay lazy), one row per customer with
        a line up to ``as_of``, sorted by customer:

        - ``customer_id_col`` – the customer;
        - ``net_last_window`` – net amount in ``(as_of - months, as_of]`` (float);
        - ``net_previous_window`` – net amount in ``(as_of - 2 × months, as_of - months]``;
        - ``purchases`` – purchases over all history up to ``as_of`` (int);
        - ``purchases_last_window`` – those whose order began in the last window (int);
        - ``first_purchase`` – the day the first purchase began (datetime; missing without one);
        - ``bought`` – whether any line up to ``as_of`` has a positive amount (at least 0.01 once
          rounded to the cent; bool).

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": ["A", "A", "A", "B"],
    ...                        "order_id": ["o1", "o1", "o2", "o3"],
    ...                        "order_date": pd.to_datetime(["2023-01-05", "2023-01-06",
    ...                                                      "2024-03-01", "2024-07-01"]),
    ...                        "amount": [100.0, -100.0, 50.0, 80.0]})
    >>> stats = purchase_stats(orders, as_of="2024-06-30")
    >>> stats[["customer_id", "net_last_window", "purchases", "purchases_last_window"]]
      customer_id  net_last_window  purchases  purchases_last_window
    0           A             50.0          1                      1
    >>> stats.loc[0, "first_purchase"]
    Timestamp('2024-03-01 00:00:00')
    """
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise ValueError(f"months must be a whole number of months >= 1; got {months!r}")
    return _purchase_stats(
        orders,
        as_of_day(as_of),
        int(months),
        where="purchase_stats",
        customer_id_col=customer_id_col,
        order_date_col=order_date_col,
        amount_col=amount_col,
        order_id_col=order_id_col,
    )


def _purchase_stats(
    orders: Any,
    as_of: pd.Timestamp,
    months: int,
    *,
    where: str,
    customer_id_col: str,
    order_date_col: str,
    amount_col: str,
    order_id_col: str,
) -> Any:
    frame = nw.from_native(orders)
    schema = frame.collect_schema()
    names = schema.names()
    require_columns(
        names, [customer_id_col, order_date_col, amount_col], where=where, table="orders"
    )
    date_type = schema[order_date_col]
    if not isinstance(date_type, nw.Datetime | nw.Date):
        if not frame.implementation.is_pandas_like():
            raise TypeError(
                f"{where}: order_date_col {order_date_col!r} must hold datetimes or dates, got "
                f"{date_type}; parse dates first, e.g. with analysis_kit.clean_table"
            )
        native = frame.to_native()
        parsed = pd.to_datetime(native[order_date_col])
        frame = nw.from_native(native.assign(**{order_date_col: parsed}))
        date_type = frame.collect_schema()[order_date_col]
    date = nw.col(order_date_col)
    if isinstance(date_type, nw.Date):
        date = date.cast(nw.Datetime("us"))
    elif getattr(date_type, "time_zone", None):
        date = date.dt.replace_time_zone(None)  # wall time, like the customers' dates
    day = pd.Timedelta(days=1)
    end = (as_of + day).to_pydatetime()
    last_start = (as_of - pd.DateOffset(months=months) + day).to_pydatetime()
    prev_start = (as_of - pd.DateOffset(months=2 * months) + day).to_pydatetime()
    zero = nw.lit(0.0, dtype=nw.Float64)
    lines = frame.select(
        nw.col(customer_id_col),
        date.alias(_DATE),
        nw.col(amount_col).cast(nw.Float64).fill_null(0.0).alias(_AMT),
        *([nw.col(order_id_col).alias(_OID)] if order_id_col in names else []),
    ).filter(~nw.col(customer_id_col).is_null(), ~nw.col(_DATE).is_null())
    lines = lines.filter(nw.col(_DATE) < nw.lit(end))
    in_last = nw.col(_DATE) >= nw.lit(last_start)
    in_prev = (nw.col(_DATE) >= nw.lit(prev_start)) & ~in_last
    if order_id_col in names:
        order_key = nw.col(_OID).cast(nw.String).fill_null("")
        no_id = nw.col(_OID).is_null()
    else:
        order_key, no_id = nw.lit(""), nw.lit(True)
    stamp = nw.col(_DATE)
    day_key = (
        stamp.dt.year().cast(nw.Int64) * 10_000
        + stamp.dt.month().cast(nw.Int64) * 100
        + stamp.dt.day().cast(nw.Int64)
    )
    # Conditional values become columns before any group-by: the aggregations stay plain sums
    # and maxima of columns, which every backend computes alike.
    lines = lines.with_columns(
        nw.when(in_last).then(nw.col(_AMT)).otherwise(zero).alias(_LAST),
        nw.when(in_prev).then(nw.col(_AMT)).otherwise(zero).alias(_PREV),
        _flag(is_positive_money(nw.col(_AMT))).alias(_POS),
        order_key.alias(_OKEY),
        nw.when(no_id).then(day_key).otherwise(nw.lit(-1, dtype=nw.Int64)).alias(_ODAY),
    )
    per_order = lines.group_by(customer_id_col, _OKEY, _ODAY).agg(
        nw.col(_AMT).sum(), nw.col(_DATE).min().alias(_FIRST)
    )
    bought = per_order.with_columns(_flag(is_positive_money(nw.col(_AMT))).alias(_BUY))
    bought = bought.with_columns(
        (nw.col(_BUY) * _flag(nw.col(_FIRST) >= nw.lit(last_start))).alias(_BUYWIN),
        nw.when(nw.col(_BUY) == 1).then(nw.col(_FIRST)).alias(_BUYDAY),
    )
    counts = bought.group_by(customer_id_col).agg(
        nw.col(_BUY).sum().alias("purchases"),
        nw.col(_BUYWIN).sum().alias("purchases_last_window"),
        nw.col(_BUYDAY).min().alias("first_purchase"),
    )
    totals = lines.group_by(customer_id_col).agg(
        nw.col(_LAST).sum().alias("net_last_window"),
        nw.col(_PREV).sum().alias("net_previous_window"),
        nw.col(_POS).max(),
    )
    return (
        totals.join(counts, on=customer_id_col, how="left")
        .select(
            nw.col(customer_id_col),
            nw.col("net_last_window").cast(nw.Float64),
            nw.col("net_previous_window").cast(nw.Float64),
            nw.col("purchases").fill_null(0).cast(nw.Int64),
            nw.col("purchases_last_window").fill_null(0).cast(nw.Int64),
            nw.col("first_purchase"),
            (nw.col(_POS) == 1).alias("bought"),
        )
        .sort(customer_id_col)
        .to_native()
    )


def _flag(condition: Any) -> Any:
    """Return 1 where ``condition`` holds, else 0 (Int64), as a narwhals expression."""
    return nw.when(condition).then(nw.lit(1, dtype=nw.Int64)).otherwise(nw.lit(0, dtype=nw.Int64))


#: 客户规模 words that name one tier of the template rule; 小型 and 个人 name none of them.
SIZE_WORD_TIERS: dict[str, str] = {
    "大型": "large",
    "中型": "sme",
    "中小型": "sme",
    "微型": "micro",
    "小微": "micro",
}


def _size_tier(frame: pd.DataFrame, employees_col: str, rules: Mapping[str, Any]):
    """Return the size tier (zh, en) and what it was read from: headcount, range or word."""
    index = frame.index
    nan = pd.Series(np.nan, index=index)

    def column(name: str) -> pd.Series:
        return pd.to_numeric(frame[name], errors="coerce") if name in frame else nan

    large, sme = rules["size_large_min"], rules["size_sme_min"]
    emp = column(employees_col)
    by_count = np.select([emp >= large, emp >= sme, emp.notna()], ["large", "sme", "micro"], "")
    # A range is in a tier when both ends are; a top equal to the next threshold belongs below it,
    # the way size buckets are written (员工100-500人 next to 500人以上, 50人以下 next to 50-99人).
    low, high = column("employees_min"), column("employees_max")
    known = low.notna() | high.notna()
    low, high = low.fillna(0), high.fillna(np.inf)
    by_range = np.select(
        [known & (low >= large), known & (low >= sme) & (high <= large), known & (high <= sme)],
        ["large", "sme", "micro"],
        "",
    )
    words = frame["company_size"] if "company_size" in frame else nan
    by_word = words.map(SIZE_WORD_TIERS).fillna("").to_numpy()
    keys = np.where(by_count != "", by_count, np.where(by_range != "", by_range, by_word))
    basis = np.select(
        [by_count != "", by_range != "", by_word != ""],
        ["employees", "employees_range", "word"],
        "",
    )
    keys = pd.Series(keys, index=index).replace("", np.nan)
    zh = [rules["size_labels"][k] for k in ("micro", "sme", "large")]
    en = [rules["size_labels_en"][k] for k in ("micro", "sme", "large")]
    tier = pd.Categorical(keys.map(rules["size_labels"]), categories=zh, ordered=True)
    tier_en = pd.Categorical(keys.map(rules["size_labels_en"]), categories=en, ordered=True)
    return (
        pd.Series(tier, index=index),
        pd.Series(tier_en, index=index),
        pd.Series(basis, index=index, dtype="str").replace("", pd.NA),
    )


def apply_tags(
    customers: pd.DataFrame,
    *,
    orders: Any = None,
    followups: pd.DataFrame | None = None,
    as_of: str | pd.Timestamp,
    rules: Mapping[str, Any] | None = None,
    customer_id_col: str = CUSTOMER_ID,
    employees_col: str = "employees",
    priority_col: str = "priority",
    stage_col: str = "stage",
    last_contact_col: str = "last_contact_date",
    match_score_col: str = "match_score",
    order_date_col: str = "order_date",
    amount_col: str = "amount",
    order_id_col: str = "order_id",
    followup_date_col: str = "followup_date",
    lang: str = "zh",
) -> pd.DataFrame:
    """Tag each customer by the templates' rules, with the reason each tag fired.

    The rules and their thresholds are :data:`DEFAULT_RULES` (see the module docstring for the
    windows and what counts as a purchase):

    * **size tier** — ``employees`` ≥ 500 大型, 50–499 中小型, < 50 微型;
    * **high value** — net purchases in the last 12 months ≥ 100,000, or ≥ 3 repeat purchases;
    * **potential** — (≥ 2 follow-ups in the last 3 months and no deal yet: no purchase up to
      ``as_of`` and stage not 成交/售后维护), or purchases growing: last 12 months > the 12 before,
      which must be positive (without ``orders``, "no deal" is judged on the stage alone);
    * **churn risk** — no contact in the last 6 months (the last contact, see below, is on or
      before ``as_of - 6 months``), or year-on-year drop ≥ 50%: ``1 - last12 / prev12 ≥ 0.5`` for
      customers with positive net purchases ``prev12`` in the 12 months before the last 12;
    * **value grade** — net purchases in the last 12 months ≥ 500,000 高, ≥ 100,000 中, else 低;
    * **potential rating** — *need clear* = ``need_type`` filled (and ``need_description`` when
      the column exists); *budget known* = ``budget_kind`` filled and not ``negotiable``;
      *budget level* = ``budget_max``, or ``budget_min`` for open-ended budgets (“50万以上”).
      A: match_score ≥ 4, need clear, budget known and budget level ≥ ``budget_floor``;
      B: otherwise match_score ≥ 3 or budget known; C: the rest;
    * **next follow-up** — the last contact (the later of ``last_contact_date`` and the latest
      follow-up, both on or before ``as_of``) plus 7 / 14 / 30 days for priority 高 / 中 / 低;
      **overdue** when that date is before ``as_of`` (due on ``as_of`` is not overdue).

    A tag is missing (``<NA>``) when the data it needs is missing: without ``orders`` the
    purchase rules give ``<NA>`` with reason ``无订单数据``; without ``followups`` the follow-up
    count of *potential* gives ``<NA>`` with reason ``无跟进记录数据``. A rule that fires still
    sets the tag when the other rule is unknown (True or NA is True).

    Parameters
    ----------
    customers : DataFrame
        Clean customers, one row per customer.
    orders : DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame, optional
        Clean orders: ``customer_id``, ``order_date``, ``amount`` and, if present, ``order_id``.
        Aggregated per customer by :func:`purchase_stats` on the engine they come in (pandas,
        Polars, DuckDB or PySpark); only the small per-customer result is collected.
    followups : DataFrame, optional
        Clean follow-ups: ``customer_id``, ``followup_date``.
    as_of : str or Timestamp
        The day the analysis is made; windows end on it.
    rules : mapping, optional
        Partial rules merged over :data:`DEFAULT_RULES`.
    customer_id_col, employees_col, priority_col, stage_col, last_contact_col, match_score_col : str
        Columns of ``customers``. ``need_type``, ``need_description``, ``budget_kind``,
        ``budget_min`` and ``budget_max`` are used when present.
    order_date_col, amount_col, order_id_col : str
        Columns of ``orders``.
    followup_date_col : str
        Column of ``followups``.
    lang : {"zh", "en"}, default="zh"
        Language of the reasons (:data:`REASON_TEXT`). The tags themselves do not change.

    Returns
    -------
    DataFrame
        A copy of ``customers`` with these columns added (replaced if present):

        ``size_tier``
            Ordered categorical 微型 < 中小型 < 大型 (labels from the rules), from ``employees``;
            where that is missing, from the headcount range cleaning read in 客户规模
            (``employees_min``/``employees_max``: ``员工100-500人`` is 中小型, ``500人以上`` 大型,
            ``50人以下`` 微型; a range across a threshold, ``20-200人``, has no tier); else from
            a size word (:data:`SIZE_WORD_TIERS`: 大型, 中型, 中小型, 微型, 小微). Missing when
            none says. ``size_tier_en`` is the English label (micro < SME < large) and
            ``size_tier_basis`` what it was read from (``employees``, ``employees_range``,
            ``word``).
        ``high_value``, ``potential``, ``churn_risk``
            Nullable booleans.
        ``high_value_reason``, ``potential_reason``, ``churn_risk_reason``
            Which rule fired, in ``lang`` (:data:`REASON_TEXT`), e.g. ``近12个月采购 ¥126,000 ≥
            ¥100,000`` or ``purchases in the last 12 months ¥126,000 ≥ ¥100,000``; several
            rules are joined with ``；`` (``; `` in English). The reason the tag is unknown when it is ``<NA>``;
            missing when the tag is False.
        ``purchases_12m``, ``purchases_prev_12m``, ``repeat_purchases``
            The purchase figures the rules used (net amounts of the last window and the one
            before, purchases after the first); missing without ``orders``.
        ``followups_recent``
            Follow-ups in the recent window; missing without ``followups``.
        ``last_contact``
            The later of ``last_contact_date`` and the latest follow-up (datetime).
        ``value_grade_calc``
            高 / 中 / 低 from purchases; missing without ``orders``.
        ``potential_rating_calc``, ``potential_rating_reason``
            A / B / C and the reason, e.g. ``匹配度 5 ≥ 4，需求明确，预算 ¥300,000 ≥ ¥100,000``.
        ``next_followup_due``
            Datetime; missing without a last contact or a priority.
        ``overdue``
            Nullable boolean: ``next_followup_due < as_of``.

        ``customers`` itself is not modified.

    Examples
    --------
    >>> customers = pd.DataFrame({"customer_id": ["C1", "C2"], "employees": [500, 49],
    ...                           "priority": ["高", "低"],
    ...                           "last_contact_date": pd.to_datetime(["2024-06-01", "2024-06-20"])})
    >>> orders = pd.DataFrame({"customer_id": ["C1"], "order_id": ["O1"],
    ...                        "order_date": pd.to_datetime(["2024-01-10"]), "amount": [126000.0]})
    >>> tagged = apply_tags(customers, orders=orders, as_of="2024-06-30")
    >>> tagged[["size_tier", "high_value", "overdue"]]
      size_tier  high_value  overdue
    0        大型        True     True
    1        微型       False    False
    >>> tagged.loc[0, "high_value_reason"]
    '近12个月采购 ¥126,000 ≥ ¥100,000'
    """
    rules = merge_rules(rules)
    as_of = as_of_day(as_of)
    if lang not in REASON_TEXT:
        raise ValueError(f"lang must be one of {sorted(REASON_TEXT)}; got {lang!r}")
    say = REASON_TEXT[lang]
    require_columns(customers.columns, [customer_id_col], where="customers", table="customers")
    out = customers.copy()
    index = out.index
    ids = out[customer_id_col]
    months = int(rules["purchase_window_months"])

    # size tier
    out["size_tier"], out["size_tier_en"], out["size_tier_basis"] = _size_tier(
        out, employees_col, rules
    )

    # last contact: customers' own date and the latest follow-up, never after as_of
    contact = (
        local_days(out[last_contact_col])
        if last_contact_col in out.columns
        else pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    )
    contact = contact.where(contact <= as_of)
    recent_followups: pd.Series | None = None
    if followups is not None:
        require_columns(
            followups.columns,
            [customer_id_col, followup_date_col],
            where="followups",
            table="followups",
        )
        fday = local_days(followups[followup_date_col])
        fkeep = fday.notna() & (fday <= as_of)
        fids = followups[customer_id_col][fkeep]
        fday = fday[fkeep]
        latest = fday.groupby(fids).max()
        contact = pd.concat([contact, _map_by_id(ids, latest)], axis=1).max(axis=1)
        recent_start = as_of - pd.DateOffset(months=int(rules["potential_months"]))
        recent = (fday > recent_start).groupby(fids).sum()
        recent_followups = _map_by_id(ids, recent, 0).astype("int64")
    contact = pd.to_datetime(contact).astype("datetime64[ns]")
    out["last_contact"] = contact

    # purchases
    if orders is not None:
        stats = as_pandas(
            _purchase_stats(
                orders,
                as_of,
                months,
                where="orders",
                customer_id_col=customer_id_col,
                order_date_col=order_date_col,
                amount_col=amount_col,
                order_id_col=order_id_col,
            )
        ).set_index(customer_id_col)
        last12 = _map_by_id(ids, stats["net_last_window"], 0.0).astype("float64")
        prev12 = _map_by_id(ids, stats["net_previous_window"], 0.0).astype("float64")
        purchases = _map_by_id(ids, stats["purchases"], 0).astype("int64")
        repeat = (purchases - 1).clip(lower=0)
        # repeat purchases in the window: those there, less the customer's first if it is there
        in_window = _map_by_id(ids, stats["purchases_last_window"], 0).astype("int64")
        first = pd.to_datetime(_map_by_id(ids, stats["first_purchase"], pd.NaT))
        window_start = as_of - pd.DateOffset(months=months) + pd.Timedelta(days=1)
        repeat_window = (in_window - (first >= window_start).astype("int64")).clip(lower=0)
        bought = _map_by_id(ids, stats["bought"], False).astype(bool)
    else:
        last12 = prev12 = pd.Series(np.nan, index=index)
        repeat = repeat_window = pd.Series(pd.NA, index=index, dtype="Int64")
        in_window = pd.Series(pd.NA, index=index, dtype="Int64")
        bought = pd.Series(False, index=index)
    scope = rules["high_value_repeat_scope"]
    if scope not in ("window", "all"):
        raise ValueError(f'high_value_repeat_scope must be "window" or "all"; got {scope!r}')
    has_orders = orders is not None
    out["purchases_12m"] = last12
    out["purchases_prev_12m"] = prev12
    out["repeat_purchases"] = repeat.astype("Int64")
    out["repeat_purchases_12m"] = repeat_window.astype("Int64")
    out["followups_recent"] = (
        recent_followups.astype("Int64")
        if recent_followups is not None
        else pd.Series(pd.NA, index=index, dtype="Int64")
    )
    no_orders = _text(index, pd.Series(not has_orders, index=index), say["no_orders"])

    # high value
    hv_amount = last12 >= rules["high_value_amount"]
    counted = repeat_window if scope == "window" else repeat
    hv_repeat = counted.astype("float64") >= rules["high_value_repeat"]
    window = say["window"].format(months=months)
    hv_amount_text = _text(
        index,
        hv_amount,
        (
            say["hv_amount"].format(window=window, money=m, floor=rules["high_value_amount"])
            for m in _money(last12[hv_amount])
        ),
    )
    hv_repeat_text = _text(
        index,
        hv_repeat,
        (
            say["hv_repeat" if scope == "window" else "hv_repeat_all"].format(
                window=window, repeat=r, floor=_num(rules["high_value_repeat"]), orders=n
            )
            for r, n in zip(
                counted[hv_repeat].astype(int),
                (in_window if scope == "window" else repeat + 1)[hv_repeat].astype(int),
                strict=True,
            )
        ),
    )
    if has_orders:
        out["high_value"] = _boolean(hv_amount | hv_repeat, index)
        out["high_value_reason"] = _join(hv_amount_text, hv_repeat_text, sep=say["sep"])
    else:
        out["high_value"] = pd.Series(pd.NA, index=index, dtype="boolean")
        out["high_value_reason"] = no_orders

    # purchase growth and year-on-year drop
    bought_before = is_positive_money(prev12)
    growing = bought_before & (last12 > prev12 * (1 + rules["growth_min"]))
    drop = 1 - last12 / prev12.where(bought_before)
    falling = drop >= rules["churn_drop"]
    prev_window = say["prev_window"].format(months=months)

    # potential
    won_stage = (
        out[stage_col].astype("object").isin(list(rules["won_stages"]))
        if stage_col in out.columns
        else pd.Series(False, index=index)
    )
    no_deal = ~won_stage & ~bought
    if recent_followups is not None:
        fu_fire = (recent_followups >= rules["potential_followups"]) & no_deal
        fu_tag = _boolean(fu_fire, index)
        fu_text = _text(
            index,
            fu_fire,
            (
                say["followups"].format(
                    months=rules["potential_months"],
                    n=n,
                    floor=_num(rules["potential_followups"]),
                )
                for n in recent_followups[fu_fire]
            ),
        )
    else:
        fu_tag = pd.Series(pd.NA, index=index, dtype="boolean")
        fu_text = pd.Series(np.nan, index=index, dtype="str")
    growth_tag = (
        _boolean(growing, index) if has_orders else pd.Series(pd.NA, index=index, dtype="boolean")
    )
    growth_text = _text(
        index,
        growing,
        (
            say["growth"].format(window=window, now=a, prev_window=prev_window, before=b)
            for a, b in zip(_money(last12[growing]), _money(prev12[growing]), strict=True)
        ),
    )
    potential = fu_tag | growth_tag
    out["potential"] = potential
    unknown = []
    if recent_followups is None:
        unknown.append(_text(index, potential.isna(), say["no_followups"]))
    if not has_orders:
        unknown.append(_text(index, potential.isna(), say["no_orders"]))
    out["potential_reason"] = _join(fu_text, growth_text, *unknown, sep=say["sep"])

    # churn risk
    silent_cut = as_of - pd.DateOffset(months=int(rules["churn_silent_months"]))
    silent = contact <= silent_cut
    silent_tag = _boolean(silent, index).mask(contact.isna(), pd.NA)
    silent_text = _text(
        index,
        silent,
        (
            say["silent"].format(days=d, last=c, months=rules["churn_silent_months"])
            for d, c in zip((as_of - contact[silent]).dt.days, contact[silent], strict=True)
        ),
    )
    falling_tag = (
        _boolean(falling, index) if has_orders else pd.Series(pd.NA, index=index, dtype="boolean")
    )
    falling_text = _text(
        index,
        falling,
        (
            say["falling"].format(
                drop=p,
                window=window,
                now=a,
                prev_window=prev_window,
                before=b,
                floor=rules["churn_drop"],
            )
            for p, a, b in zip(
                drop[falling], _money(last12[falling]), _money(prev12[falling]), strict=True
            )
        ),
    )
    churn = silent_tag | falling_tag
    out["churn_risk"] = churn
    unknown = [_text(index, churn.isna() & contact.isna(), say["no_contact"])]
    if not has_orders:
        unknown.append(_text(index, churn.isna(), say["no_orders"]))
    out["churn_risk_reason"] = _join(silent_text, falling_text, *unknown, sep=say["sep"])

    # value grade
    if has_orders:
        grade = np.select(
            [last12 >= rules["value_high"], last12 >= rules["value_mid"]], ["高", "中"], "低"
        )
        out["value_grade_calc"] = pd.Series(grade, index=index, dtype="str")
    else:
        out["value_grade_calc"] = pd.Series(np.nan, index=index, dtype="str")

    out["potential_rating_calc"], out["potential_rating_reason"] = _rating(
        out, rules, match_score_col=match_score_col, say=say
    )

    # next follow-up
    days = out[priority_col].map(rules["followup_days"]) if priority_col in out.columns else None
    if days is None:
        due = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    else:
        due = contact + pd.to_timedelta(pd.to_numeric(days, errors="coerce"), unit="D")
    out["next_followup_due"] = due.astype("datetime64[ns]")
    out["overdue"] = _boolean(due < as_of, index).mask(due.isna(), pd.NA)
    return out


def _rating(
    df: pd.DataFrame, rules: Mapping[str, Any], *, match_score_col: str, say: Mapping[str, str]
) -> tuple[pd.Series, pd.Series]:
    index = df.index
    match = (
        pd.to_numeric(df[match_score_col], errors="coerce").astype("float64")
        if match_score_col in df.columns
        else pd.Series(np.nan, index=index)
    )
    need = pd.Series(True, index=index)
    for col in ("need_type", "need_description"):
        if col in df.columns:
            need &= df[col].notna() & (df[col].astype("str").str.strip() != "")
    if "need_type" not in df.columns:
        need[:] = False
    if "budget_kind" in df.columns:
        known = df["budget_kind"].notna() & (df["budget_kind"].astype("object") != "negotiable")
    else:
        known = pd.Series(False, index=index)
    level = pd.Series(np.nan, index=index)
    if "budget_max" in df.columns:
        level = pd.to_numeric(df["budget_max"], errors="coerce").astype("float64")
    if "budget_min" in df.columns:
        level = level.fillna(pd.to_numeric(df["budget_min"], errors="coerce").astype("float64"))
    known &= level.notna()
    a = (match >= rules["rating_a_match"]) & need & known & (level >= rules["budget_floor"])
    b = ~a & ((match >= rules["rating_b_match"]) | known)
    rating = pd.Series(np.select([a, b], ["A", "B"], "C"), index=index, dtype="str")

    def part(mask: pd.Series, yes: Iterable[str] | str, no: Iterable[str] | str) -> pd.Series:
        return _text(index, mask, yes).fillna(_text(index, ~mask, no))

    has_match = match.notna()
    a_match = rules["rating_a_match"]
    match_text = _text(
        index,
        has_match,
        (
            say["match"].format(score=_num(m)) + (f" ≥ {_num(a_match)}" if m >= a_match else "")
            for m in match[has_match]
        ),
    ).fillna(_text(index, ~has_match, say["no_match"]))
    need_text = part(need, say["need"], say["no_need"])
    floor = f"¥{rules['budget_floor']:,.0f}"
    budget_text = _text(
        index,
        known,
        (
            say["budget"].format(
                money=m, op="≥" if v >= rules["budget_floor"] else "<", floor=floor
            )
            for m, v in zip(_money(level[known]), level[known], strict=True)
        ),
    ).fillna(_text(index, ~known, say["no_budget"]))
    reason = match_text + say["comma"] + need_text + say["comma"] + budget_text
    return rating, reason.astype("str")


def overdue_list(
    tagged: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    priority_col: str = "priority",
    due_col: str = "next_followup_due",
) -> pd.DataFrame:
    """Return the customers whose next follow-up is overdue on ``as_of``, most urgent first.

    Parameters
    ----------
    tagged : DataFrame
        The output of :func:`apply_tags` (needs ``next_followup_due``).
    as_of : str or Timestamp
        The day to check; may differ from the day the tags were made.
    priority_col, due_col : str
        Priority and due-date columns.

    Returns
    -------
    DataFrame
        The overdue rows (``next_followup_due`` before ``as_of``) with ``days_overdue`` (int,
        ≥ 1) added, sorted by priority 高, 中, 低, missing, then by ``days_overdue`` descending.
        ``tagged`` is not modified.
    """
    as_of = as_of_day(as_of)
    if due_col not in tagged.columns:
        raise SchemaError(
            f"缺少列 missing column {due_col!r}: run apply_tags() first to compute the due dates"
        )
    due = pd.to_datetime(tagged[due_col])
    late = due.notna() & (due < as_of)
    out = tagged.loc[late].copy()
    out["days_overdue"] = (as_of - due[late]).dt.days.astype("int64")
    return _sort(out, priority_col=priority_col, then=("days_overdue", False))


def _sort(df: pd.DataFrame, *, priority_col: str, then: tuple[str, bool] | None) -> pd.DataFrame:
    keys: dict[str, pd.Series] = {}
    if priority_col in df.columns:
        keys["__p"] = df[priority_col].astype("object").map(_PRIORITY_ORDER).fillna(9)
    if then is not None and then[0] in df.columns:
        value = pd.to_numeric(df[then[0]], errors="coerce").astype("float64")
        keys["__t"] = (value if then[1] else -value).fillna(np.inf)
    if not keys:
        return df
    order = pd.DataFrame(keys, index=df.index).reset_index(drop=True)
    positions = order.sort_values(list(keys), kind="stable").index.to_numpy()
    return df.iloc[positions]


# --- filters ---------------------------------------------------------------------------------------

_OPS = {
    "==": "==",
    "=": "==",
    "!=": "!=",
    "≠": "!=",
    "<>": "!=",
    ">=": ">=",
    "≥": ">=",
    "<=": "<=",
    "≤": "<=",
    ">": ">",
    "<": "<",
    "in": "in",
}
_AND = {"and", "&", "&&", "且", "并且"}
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<quoted>'[^']*'|"[^"]*"|“[^”]*”|‘[^’]*’)
      | (?P<and>并且|且|&&|&)
      | (?P<op>==|!=|<>|>=|<=|=|>|<|≥|≤|≠)
      | (?P<punct>[()\[\],、])
      | (?P<word>(?:(?!并且|且)[^\s'"“”‘’=!<>≥≤≠()\[\],、&])+)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    text = unicodedata.normalize("NFKC", text).strip()
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            break
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "bad":
            raise FilterError(
                f"筛选条件无法解析 cannot parse filter: unexpected {value!r} in {text!r}"
            )
        if kind == "quoted":
            tokens.append(("value", value[1:-1]))
        elif kind == "word" and value.lower() == "and":
            tokens.append(("and", value))
        elif kind == "word" and value.lower() in {"or", "或", "not"}:
            raise FilterError(
                f"筛选条件只支持 and/且 only 'and' is supported; got {value!r} in {text!r}"
            )
        else:
            tokens.append((kind, value))
    return tokens


def _parse(text: str) -> list[tuple[str, str, object]]:
    tokens = _tokens(text)
    if not tokens:
        raise FilterError("筛选条件为空 empty filter condition")
    conditions: list[tuple[str, str, object]] = []
    i = 0

    def fail(expected: str) -> FilterError:
        got = repr(tokens[i][1]) if i < len(tokens) else "end of condition"
        return FilterError(
            f"筛选条件无法解析 cannot parse filter {text!r}: expected {expected}, got {got}"
        )

    while True:
        if i >= len(tokens) or tokens[i][0] not in {"word", "value"}:
            raise fail("a column name")
        column = tokens[i][1]
        i += 1
        if i < len(tokens) and tokens[i][0] == "word" and tokens[i][1].lower() == "in":
            op = "in"
        elif i < len(tokens) and tokens[i][0] == "op":
            op = _OPS[tokens[i][1]]
        else:
            raise fail(f"an operator ({', '.join(sorted(set(_OPS.values())))})")
        i += 1
        if op == "in":
            values: list[str] = []
            close = None
            if i < len(tokens) and tokens[i][1] in {"(", "["}:
                close = ")" if tokens[i][1] == "(" else "]"
                i += 1
            while True:
                if i >= len(tokens) or tokens[i][0] not in {"word", "value"}:
                    raise fail("a value")
                values.append(tokens[i][1])
                i += 1
                if i < len(tokens) and tokens[i][1] in {",", "、"}:
                    i += 1
                    continue
                break
            if close is not None:
                if i >= len(tokens) or tokens[i][1] != close:
                    raise fail(repr(close))
                i += 1
            value: object = values
        else:
            if i >= len(tokens) or tokens[i][0] not in {"word", "value"}:
                raise fail("a value")
            value = tokens[i][1]
            i += 1
        conditions.append((column, op, value))
        if i >= len(tokens):
            return conditions
        if tokens[i][0] != "and":
            raise fail("'and' / '且' or the end")
        i += 1


def _resolve(df: pd.DataFrame, column: str) -> str:
    if column in df.columns:
        return column
    mapped = map_headers([column], "customers")[column]
    if mapped in df.columns:
        return mapped
    raise FilterError(
        f"筛选条件中的列不存在 unknown column {column!r}"
        + (f" (= {mapped})" if mapped != column.strip() else "")
        + f"; the table has: {', '.join(map(str, df.columns))}"
    )


def _coerce(series: pd.Series, column: str, value: object) -> object:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        parsed = parse_bool(pd.Series([value], dtype="object"))[0]
        if parsed is pd.NA:
            raise FilterError(f"列 {column} 是/否 column: cannot read {value!r} as yes/no")
        return bool(parsed)
    if pd.api.types.is_numeric_dtype(dtype):
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            return value
        try:
            return float(str(value).strip().removesuffix("分"))
        except ValueError:
            raise FilterError(
                f"列 {column} 是数值 numeric column: cannot read {value!r} as a number"
            ) from None
    if pd.api.types.is_datetime64_any_dtype(dtype):
        parsed = parse_date(pd.Series([value], dtype="object"))[0]
        if pd.isna(parsed):
            raise FilterError(f"列 {column} 是日期 date column: cannot read {value!r} as a date")
        return parsed
    if isinstance(dtype, pd.CategoricalDtype):
        categories = list(dtype.categories)
        if value not in categories:
            raise FilterError(
                f"列 {column}: {value!r} is not one of {', '.join(map(str, categories))}"
            )
        return value
    return value


def _mask(df: pd.DataFrame, condition: Sequence[object]) -> pd.Series:
    if len(condition) != 3:
        raise FilterError(f"a condition must be (column, op, value); got {condition!r}")
    column, op, value = condition
    name = _resolve(df, str(column))
    op = _OPS.get(str(op).strip().lower())
    if op is None:
        raise FilterError(
            f"unknown operator {condition[1]!r}; use one of {', '.join(sorted(set(_OPS.values())))}"
        )
    series = df[name]
    ordered = isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.ordered
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )
    dated = pd.api.types.is_datetime64_any_dtype(series.dtype)
    if op in {">=", "<=", ">", "<"} and not (numeric or dated or ordered):
        raise FilterError(f"列 {name} 是文本 text column: {op!r} is not allowed; use ==, != or in")
    if name in MULTI_VALUE_COLUMNS and not (numeric or dated):
        # a cell such as 重点跟进、决策快 holds several tags: == asks whether one of them is the value
        items = [value] if op != "in" or isinstance(value, str) else list(value)
        tags = split_tags(series)
        has = tags.isin([str(v).strip() for v in items]).groupby(level=0).any()
        result = has.reindex(df.index, fill_value=False).astype(bool)
        if op == "!=":
            result = ~result & series.notna()
        return pd.Series(result, index=df.index).astype(bool)
    if op == "in":
        items = [value] if isinstance(value, str) or not isinstance(value, Iterable) else value
        coerced = [_coerce(series, name, v) for v in items]
        result = series.isin(coerced)
    else:
        target = _coerce(series, name, value)
        result = {
            "==": series.__eq__,
            "!=": series.__ne__,
            ">=": series.__ge__,
            "<=": series.__le__,
            ">": series.__gt__,
            "<": series.__lt__,
        }[op](target)
        if op == "!=":
            result = result & series.notna()
    return pd.Series(result, index=df.index).astype("boolean").fillna(False).astype(bool)


def filter_customers(
    customers: pd.DataFrame,
    conditions: str | Sequence[Sequence[object]] | None,
    *,
    priority_col: str = "priority",
    match_score_col: str = "match_score",
) -> pd.DataFrame:
    """Return the customers meeting every condition, 高 priority and best match first.

    Conditions are data, never code: a small parser reads them, nothing is evaluated.

    Parameters
    ----------
    customers : DataFrame
        Customers, e.g. clean or tagged.
    conditions : str or list of (column, op, value), optional
        A string such as ``"客户等级 == 重点 and 需求匹配度 >= 4"``,
        ``"grade == '重点' and match_score >= 4"`` or ``"客户等级=重点 且 需求匹配度≥4"``, or a
        list such as ``[("grade", "==", "重点"), ("match_score", ">=", 4)]``. Columns are canonical
        names or template headers; values may be quoted (``'…'``, ``"…"``, ``“…”``) and must be
        when they contain spaces or operators. Operators: ``==`` (or ``=``), ``!=`` (``≠``),
        ``>=`` (``≥``), ``<=`` (``≤``), ``>``, ``<``, ``in`` with a list ``(a, b)``, ``[a, b]`` or
        ``a、b``. Conditions are joined by ``and``, ``且``, ``并且`` or ``&``; ``or`` is not
        supported (run two filters and concatenate). Ordering operators work on numbers, dates and
        the ordered ``stage``; text columns take ``==``, ``!=`` and ``in``. On columns that hold
        several values in a cell (标签, 需求标签, 痛点描述, 竞品名称:
        :data:`analysis_kit.profile.MULTI_VALUE_COLUMNS`), ``标签 == 重点跟进`` matches
        ``重点跟进、决策快``: the condition is about one of the cell's values. Missing values never
        match. None or ``""`` keeps every customer.
    priority_col, match_score_col : str
        Sort keys.

    Returns
    -------
    DataFrame
        Matching rows of ``customers`` (same columns), sorted by priority 高, 中, 低, missing, then
        ``match_score`` descending (missing last), ties in input order.

    Raises
    ------
    FilterError
        When a condition cannot be parsed (the message names the bad token), names an unknown
        column, or has a value that does not fit the column.

    Examples
    --------
    >>> df = pd.DataFrame({"grade": ["重点", "普通", "重点"], "match_score": [4, 5, 5],
    ...                    "priority": ["中", "高", "中"]})
    >>> filter_customers(df, "客户等级 == 重点 and 需求匹配度 >= 4").index.tolist()
    [2, 0]
    """
    if conditions is None or (isinstance(conditions, str) and not conditions.strip()):
        parsed: list = []
    elif isinstance(conditions, str):
        parsed = _parse(conditions)
    else:
        parsed = list(conditions)
    keep = pd.Series(True, index=customers.index)
    for condition in parsed:
        keep &= _mask(customers, condition)
    out = customers.loc[keep]
    return _sort(out, priority_col=priority_col, then=(match_score_col, False))


def call_list(
    customers: pd.DataFrame,
    conditions: str | Sequence[Sequence[object]] | None = None,
    *,
    n: int | None = None,
    priority_col: str = "priority",
    match_score_col: str = "match_score",
) -> pd.DataFrame:
    """Return the customers to call first: :func:`filter_customers`, optionally the top ``n``.

    Parameters
    ----------
    customers : DataFrame
        Customers, e.g. clean or tagged.
    conditions : str or list of (column, op, value), optional
        As in :func:`filter_customers`; None keeps everyone.
    n : int, optional
        Keep only the first ``n`` rows.
    priority_col, match_score_col : str
        Sort keys.

    Returns
    -------
    DataFrame
        Same columns as ``customers``, sorted by priority then ``match_score`` descending.
    """
    out = filter_customers(
        customers, conditions, priority_col=priority_col, match_score_col=match_score_col
    )
    return out if n is None else out.head(n)


_OP_TEXT = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", ">": ">", "<": "<"}
_FILTER_WORDS = {"zh": (" 且 ", "属于"), "en": (" and ", "in")}


def describe_filter(conditions: str | Sequence[Sequence[object]], lang: str = "zh") -> str:
    """Return a filter as a reader reads it: columns by their label in ``lang``, values as written.

    Parameters
    ----------
    conditions : str or list of (column, op, value)
        A filter as :func:`filter_customers` takes it.
    lang : {"zh", "en"}, default="zh"
        Language of the column labels and the joining word.

    Returns
    -------
    str
        E.g. ``Grade = 重点 and Match score ≥ 4`` for ``客户等级 ＝ 重点 且 需求匹配度 ≥ 4``.

    Raises
    ------
    FilterError
        When the text cannot be parsed.

    Examples
    --------
    >>> describe_filter("客户等级 ＝ 重点 且 需求匹配度 ≥ 4", lang="en")
    'Grade = 重点 and Match score ≥ 4'
    """
    from .tables import column_label

    if lang not in _FILTER_WORDS:
        raise ValueError(f"lang must be one of {sorted(_FILTER_WORDS)}; got {lang!r}")
    parsed = _parse(conditions) if isinstance(conditions, str) else list(conditions)
    joiner, within = _FILTER_WORDS[lang]
    parts = []
    for column, op, value in parsed:
        name = map_headers([str(column)], "customers")[str(column)]
        shown = "、".join(map(str, value)) if op == "in" else str(value)
        op_text = within if op == "in" else _OP_TEXT.get(str(op), str(op))
        parts.append(f"{column_label(name, lang)} {op_text} {shown}")
    return joiner.join(parts)
