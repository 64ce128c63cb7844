"""Sales performance: trends with growth and seasonality, product mix, teams and targets.

Four analyses, each a pure function (data in, new data out, the input never modified):

1. :func:`sales_trend` – revenue, orders, customers and average order value per month, quarter
   or year, growth over the previous period (MoM / QoQ) and over the same period a year before
   (YoY), a seasonality index per calendar month and the peak and slack months. The
   transaction-level aggregation is written once against narwhals, so pandas (numpy- or
   Arrow-backed), Polars (eager or lazy), DuckDB, PySpark and Dask give the same answer; growth
   and seasonality are computed on the small per-period result in pandas.
2. :func:`product_mix` – revenue and quantity per product with their shares, gross margin and
   margin rate, top N, ABC (Pareto) classes and the star and problem products. The per-product
   sums run on any of the same engines; shares and classes are computed in pandas.
3. :func:`team_performance` – revenue, target attainment, new customers, average deal and
   collection rate (回款率) per team or rep for a reporting period, with a ranking.
4. :func:`decompose_target` – a period target split across teams and reps (目标拆解) in
   proportion to their history, their open pipeline or given weights, in whole yuan that add up
   exactly to the total.

Rules and thresholds are data (:data:`SEASON_RULES`, :data:`PRODUCT_RULES`,
:data:`DEFAULT_ABC`); pass your own to override them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from ._frames import as_pandas
from ._validate import as_of_day, is_positive_money
from .columns import AMOUNT, CUSTOMER_ID, ORDER_DATE, ORDER_ID, OWNER, require_columns
from .parsing import parse_period

__all__ = [
    "DEFAULT_ABC",
    "PRODUCT_REASONS",
    "PRODUCT_CLASSES",
    "PRODUCT_RULES",
    "SEASON_LABELS",
    "SEASON_RULES",
    "SalesTrend",
    "decompose_target",
    "product_mix",
    "sales_trend",
    "team_performance",
]

# Column names of the orders, targets and stage-history tables that columns.py has no constant for.
TEAM = "team"
PRODUCT = "product"
QUANTITY = "quantity"
COST = "cost"
GROSS_MARGIN = "gross_margin"
PAID_AMOUNT = "paid_amount"
PERIOD = "period"
TARGET = "target"
OPPORTUNITY_ID = "opportunity_id"
OUTCOME = "outcome"
ENTERED_AT = "entered_at"

#: Seasonality index thresholds: a calendar month whose index is at least ``peak`` is a peak
#: month (旺季), one whose index is at most ``slack`` a slack month (淡季).
SEASON_RULES: dict[str, float] = {"peak": 1.2, "slack": 0.8}

#: Labels of the seasons in :attr:`SalesTrend.seasonality` (``season``).
SEASON_LABELS: dict[str, dict[str, str]] = {
    "peak": {"zh": "旺季", "en": "peak"},
    "slack": {"zh": "淡季", "en": "slack"},
    "normal": {"zh": "平常", "en": "normal"},
}

#: Default ABC split of cumulative revenue share: A up to 80 %, B the next 15 %, C the rest.
DEFAULT_ABC: tuple[float, float, float] = (0.8, 0.15, 0.05)

#: Star and problem product rules of :func:`product_mix`. Margin thresholds are ratios to the
#: overall margin rate of all products, so the same rule fits a 70 % software margin and a 10 %
#: distribution margin.
PRODUCT_RULES: dict[str, float] = {
    # star (明星产品): revenue share ≥ this ...
    "star_min_revenue_share": 0.10,
    # ... and margin rate ≥ this × the overall margin rate
    "star_min_margin_ratio": 1.0,
    # problem (问题产品): margin rate < this × the overall margin rate, or a negative margin ...
    "problem_max_margin_ratio": 0.5,
    # ... or revenue of the last window down by at least this share against the window before,
    # beyond the change of all products together (a product that falls with the whole
    # business, in a slack season, is not a problem product)
    "problem_min_decline": 0.3,
    # window length in months for the decline rule
    "decline_months": 6,
}

#: Labels of the reasons :func:`product_mix` gives for a problem product.
PRODUCT_REASONS: dict[str, dict[str, str]] = {
    "negative_margin": {"zh": "毛利为负", "en": "negative margin"},
    "low_margin": {"zh": "毛利率偏低", "en": "low margin rate"},
    "declining": {"zh": "收入下滑（快于整体）", "en": "revenue falling faster than the business"},
}

#: Labels of the one class :func:`product_mix` gives each product.
PRODUCT_CLASSES: dict[str, dict[str, str]] = {
    "star": {"zh": "明星产品", "en": "star"},
    "problem": {"zh": "问题产品", "en": "problem"},
    "regular": {"zh": "常规产品", "en": "regular"},
}

# Months per period and the label format of each trend frequency.
_FREQ_MONTHS = {"MS": 1, "QS": 3, "YS": 12}
_LANGS = ("zh", "en")

# Private working columns; the leading "__sales" keeps them clear of user column names.
_AMT = "__sales_amount"
_DKEY = "__sales_day"
_MON = "__sales_month"
_PER = "__sales_period"
_CUST = "__sales_customer"
_KNOWN = "__sales_known"
_ORD = "__sales_order"
_ODAY = "__sales_order_day"
_BUY = "__sales_buy"
_CB = "__sales_customer_buys"
_DMAX = "__sales_date_max"
_PRODUCT = "__sales_product"
_QTY = "__sales_quantity"
_MARGIN = "__sales_margin"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")


def _columns_of(name: str, value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return ``by``-style arguments as a tuple of column names."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        if len(set(value)) != len(value):
            raise ValueError(f"{name} must not repeat a column; got {list(value)!r}")
        return tuple(value)
    raise ValueError(f"{name} must be a column name or a list of column names; got {value!r}")


def _collect(frame: Any) -> pd.DataFrame:
    """Collect a narwhals frame into pandas with a fresh index."""
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas().reset_index(drop=True)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator`` where the denominator is > 0, else missing (never inf)."""
    num = pd.to_numeric(numerator).astype("float64")
    den = pd.to_numeric(denominator).astype("float64")
    return (num / den.where(den > 0)).astype("float64")


def _month_start(index: pd.Series | np.ndarray) -> pd.Series:
    """Timestamps of month numbers ``year * 12 + month - 1``."""
    idx = np.asarray(index, dtype="int64")
    return pd.Series(
        pd.to_datetime(
            {"year": idx // 12, "month": idx % 12 + 1, "day": np.ones(len(idx), dtype="int64")}
        )
    )


def _period_labels(index: pd.Series | np.ndarray, freq: str) -> pd.Series:
    """Labels like ``parse_period`` writes them: ``2024-03``, ``2024Q1``, ``2024``."""
    idx = np.asarray(index, dtype="int64")
    year = pd.Series(idx // 12).astype("str")
    if freq == "MS":
        return year + "-" + pd.Series(idx % 12 + 1).astype("str").str.zfill(2)
    if freq == "QS":
        return year + "Q" + pd.Series(idx % 12 // 3 + 1).astype("str")
    return year


def _prepare_lines(
    frame: Any,
    *,
    keep: Sequence[str],
    date_col: str,
    amount_col: str,
    customer_col: str | None,
    order_col: str | None,
    as_of: pd.Timestamp | None,
) -> Any:
    """Select the needed columns and add the working columns used by :func:`_net_counts`."""
    schema = frame.collect_schema()
    date_type = schema[date_col]
    if not isinstance(date_type, nw.Datetime | nw.Date):
        raise TypeError(
            f"date_col {date_col!r} must hold datetimes or dates, got {date_type}; "
            "parse dates first, e.g. with analysis_kit.clean_table"
        )
    cols = list(dict.fromkeys([*keep, date_col, amount_col]))
    for extra in (customer_col, order_col):
        if extra is not None and extra not in cols:
            cols.append(extra)
    # Zoned times count on their own wall clock, like the as-of day.
    date_expr = _as_datetime(nw.col(date_col), date_type)
    lines = frame.select(cols).with_columns(date_expr.alias(_DMAX))
    lines = lines.filter(~nw.col(_DMAX).is_null())
    if as_of is not None:
        end = (as_of + pd.Timedelta(days=1)).to_pydatetime()
        lines = lines.filter(nw.col(_DMAX) < nw.lit(end))
    year = nw.col(_DMAX).dt.year().cast(nw.Int64)
    month = nw.col(_DMAX).dt.month().cast(nw.Int64)
    day = nw.col(_DMAX).dt.day().cast(nw.Int64)
    lines = lines.with_columns(
        nw.col(amount_col).cast(nw.Float64).fill_null(0.0).alias(_AMT),
        (year * 12 + month - 1).alias(_MON),
        (year * 10_000 + month * 100 + day).alias(_DKEY),
    )
    if customer_col is None:
        lines = lines.with_columns(nw.lit("").alias(_CUST), nw.lit(0, dtype=nw.Int64).alias(_KNOWN))
    else:
        lines = lines.with_columns(
            nw.col(customer_col).alias(_CUST),
            nw.when(nw.col(customer_col).is_null())
            .then(nw.lit(0, dtype=nw.Int64))
            .otherwise(nw.lit(1, dtype=nw.Int64))
            .alias(_KNOWN),
        )
    if order_col is None:
        lines = lines.with_columns(nw.lit("").alias(_ORD), nw.col(_DKEY).alias(_ODAY))
    else:
        lines = lines.with_columns(
            nw.col(order_col).alias(_ORD),
            nw.when(nw.col(order_col).is_null())
            .then(nw.col(_DKEY))
            .otherwise(nw.lit(-1, dtype=nw.Int64))
            .alias(_ODAY),
        )
    return lines


def _net_counts(lines: Any, keys: Sequence[str]) -> Any:
    """Revenue, orders and buying customers per ``keys`` with refunds netted per order.

    Lines are summed per order first (per customer and day when the order id is missing); an
    order counts when its net amount is positive in cents (>= 0.005, so float noise such as
    1.10 + 2.20 - 3.30 = 4.4e-16 is no order). A customer counts when it has a counted order in
    the group; lines without a customer count in revenue and orders only.
    """
    keys = list(keys)
    per_order = lines.group_by([*keys, _CUST, _KNOWN, _ORD, _ODAY]).agg(nw.col(_AMT).sum())
    per_order = per_order.with_columns(
        nw.when(is_positive_money(nw.col(_AMT)))
        .then(nw.lit(1, dtype=nw.Int64))
        .otherwise(nw.lit(0, dtype=nw.Int64))
        .alias(_BUY)
    )
    per_customer = per_order.group_by([*keys, _CUST, _KNOWN]).agg(
        nw.col(_AMT).sum(), nw.col(_BUY).sum()
    )
    per_customer = per_customer.with_columns(
        nw.when((nw.col(_BUY) > 0) & (nw.col(_KNOWN) == 1))
        .then(nw.lit(1, dtype=nw.Int64))
        .otherwise(nw.lit(0, dtype=nw.Int64))
        .alias(_CB)
    )
    return per_customer.group_by(keys).agg(
        nw.col(_AMT).sum().alias("revenue"),
        nw.col(_BUY).sum().alias("orders"),
        nw.col(_CB).sum().alias("customers"),
    )


def _sort(frame: pd.DataFrame, keys: Sequence[str], **kwargs: Any) -> pd.DataFrame:
    if not keys:
        return frame.reset_index(drop=True)
    return frame.sort_values(
        list(keys), na_position="last", kind="mergesort", **kwargs
    ).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Trend
# ---------------------------------------------------------------------------------------------


@dataclass
class SalesTrend:
    """The outcome of :func:`sales_trend`.

    Attributes
    ----------
    trend : DataFrame
        One row per group (``by``) and period, every period from the first with data to the
        period of ``as_of``; see :func:`sales_trend` for the columns.
    seasonality : DataFrame
        One row per group and calendar month: ``month`` (1–12), ``revenue_mean`` (mean revenue of
        that month over the complete years), ``seasonality_index`` (``revenue_mean`` ÷ the mean
        of all months of those years; missing when there is no complete year or that mean is not
        positive) and ``season`` (``"peak"``, ``"slack"``, ``"normal"``; missing with the index).
    highlights : DataFrame
        One row per group: ``peak_month`` and ``peak_index`` (the month with the highest index,
        the earliest on ties), ``slack_month`` and ``slack_index`` (the lowest); missing when
        there is no index.
    years : tuple of int
        The complete calendar years the seasonality index is computed over.
    freq : str
        The period frequency (``"MS"``, ``"QS"`` or ``"YS"``).
    by : tuple of str
        The group columns (empty for one overall trend).
    as_of : Timestamp
        The analysis day.
    """

    trend: pd.DataFrame
    seasonality: pd.DataFrame
    highlights: pd.DataFrame
    years: tuple[int, ...]
    freq: str
    by: tuple[str, ...]
    as_of: pd.Timestamp

    @property
    def peak_months(self) -> list[int]:
        """Calendar months classed ``"peak"`` (over all groups, without repeats)."""
        months = self.seasonality.loc[self.seasonality["season"] == "peak", "month"]
        return sorted({int(m) for m in months})

    @property
    def slack_months(self) -> list[int]:
        """Calendar months classed ``"slack"`` (over all groups, without repeats)."""
        months = self.seasonality.loc[self.seasonality["season"] == "slack", "month"]
        return sorted({int(m) for m in months})


def sales_trend(
    orders: Any,
    *,
    freq: str = "MS",
    by: str | Sequence[str] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
    season_rules: Mapping[str, float] | None = None,
    date_col: str = ORDER_DATE,
    amount_col: str = AMOUNT,
    order_col: str = ORDER_ID,
    customer_col: str = CUSTOMER_ID,
) -> SalesTrend:
    """Revenue, orders, customers and average order value per period, with growth and seasonality.

    Parameters
    ----------
    orders : DataFrame, LazyFrame, DuckDB relation, PySpark or Dask DataFrame
        Order lines with a date and an amount (a clean orders table). pandas (numpy- or
        Arrow-backed), Polars ``DataFrame`` or ``LazyFrame``, DuckDB relations, PySpark and Dask
        DataFrames are accepted, through narwhals; the per-period sums run on that engine and
        only they are collected.
    freq : {"MS", "QS", "YS"}, default="MS"
        Period length: calendar months, quarters or years (pandas' month/quarter/year-start
        aliases; periods are labelled by their first day).
    by : str or list of str, optional
        Group columns (``"team"``, ``"region"``, ``"product"`` ...): one trend per group. Lines
        with a missing group value form a group of their own.
    as_of : str, date or datetime, optional
        The analysis day. Lines dated after it are excluded (lines dated on it count, whatever
        their time) and the periods run up to the period that contains it (so months with no
        sales at the end appear as zero rows). Only its calendar day is used; a time zone is
        dropped, keeping the local date. Times with a zone in ``date_col`` count on their own
        wall clock too. Defaults to the latest order date.
    season_rules : mapping, optional
        Overrides of :data:`SEASON_RULES` (``peak`` and ``slack`` index thresholds).
    date_col, amount_col, order_col, customer_col : str
        Column names. ``order_col`` and ``customer_col`` are optional: without an order id the
        lines of one customer on one day are one order; without a customer ``customers`` is
        missing.

    Returns
    -------
    SalesTrend
        Its tables are pandas whatever the input engine (they are small). ``trend`` holds one
        row per group and period, sorted by group and period, with columns:

        - the ``by`` columns;
        - ``period`` – the first day of the period (datetime);
        - ``label`` – ``2024-03``, ``2024Q1`` or ``2024`` (as written in a targets table);
        - ``revenue`` – net revenue: all amounts of the period, refunds subtracted;
        - ``orders`` – orders with a positive net amount in the period (see Notes);
        - ``customers`` – distinct customers with at least one such order;
        - ``aov`` – average order value, ``revenue / orders`` (missing without orders);
        - ``pop_growth`` – growth over the previous period, ``revenue / previous - 1``: MoM for
          months, QoQ for quarters, YoY for years;
        - ``yoy_growth`` – growth over the same period a year before;
        - ``complete`` – whether the period had ended by ``as_of``.

        Growth is missing when the base period has no revenue, or a negative one (a month of net
        refunds), or lies before the first period: never ``inf``. See :class:`SalesTrend` for
        ``seasonality`` and ``highlights``.

    Notes
    -----
    **Missing periods.** Every period between the first period with data and the period of
    ``as_of`` is a row; a period without sales has revenue 0, so growth always compares the
    right periods (March with February, not with the last month that happened to have sales).
    With ``by``, every group gets every period of the overall range.

    **Refunds.** Revenue is net: a refund line (negative amount) subtracts in the period it is
    dated. Orders are counted per order id after netting its lines within the period: an order
    counts when its net amount is positive, compared in cents (it rounds to at least 0.01: a
    float sum like 1.10 + 2.20 - 3.30 = 4.4e-16 is 0.00). So a refund line never adds an order (whether it reuses
    the original order id or has its own, e.g. ``SO…-R``); a refund in the same period as its
    order cancels the order when it nets it to zero or below; a refund in a later period lowers
    that period's revenue but not its order count. ``aov`` is therefore net revenue per
    counted order.

    **Seasonality.** The index uses monthly revenue of the *complete* calendar years only: years
    whose twelve months all lie between the month of the first line and the last month that
    ended by ``as_of``. For each calendar month, its mean revenue over those years is divided by
    the mean revenue of all their months (index 1 = an average month, 1.3 = 30 % above). Partial
    years are left out because they would over-weight the months they happen to contain. A
    month is a ``peak`` when its index ≥ ``season_rules["peak"]`` and a ``slack`` month when it
    is ≤ ``season_rules["slack"]``. The index is always monthly, whatever ``freq``.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame(
    ...     {
    ...         "order_id": ["a", "b", "c", "d"],
    ...         "customer_id": ["x", "y", "x", "x"],
    ...         "order_date": pd.to_datetime(["2024-01-05", "2024-01-20", "2024-03-02", "2024-03-09"]),
    ...         "amount": [100.0, 50.0, 120.0, 60.0],
    ...     }
    ... )
    >>> sales_trend(orders).trend[["label", "revenue", "orders", "customers", "aov", "pop_growth"]]
         label  revenue  orders  customers   aov  pop_growth
    0  2024-01    150.0       2          2  75.0         NaN
    1  2024-02      0.0       0          0   NaN        -1.0
    2  2024-03    180.0       2          1  90.0         NaN
    """
    _check_choice("freq", freq, tuple(_FREQ_MONTHS))
    rules = _season_rules(season_rules)
    by_cols = _columns_of("by", by)
    frame = nw.from_native(orders)
    names = frame.collect_schema().names()
    require_columns(names, (date_col, amount_col, *by_cols), where="sales_trend", table="orders")
    as_of_date = None if as_of is None else as_of_day(as_of)
    lines = _prepare_lines(
        frame,
        keep=by_cols,
        date_col=date_col,
        amount_col=amount_col,
        customer_col=customer_col if customer_col in names else None,
        order_col=order_col if order_col in names else None,
        as_of=as_of_date,
    )
    step = _FREQ_MONTHS[freq]
    lines = lines.with_columns(((nw.col(_MON) // step) * step).alias(_PER))
    per_period = _collect(_net_counts(lines, [*by_cols, _PER]))
    monthly = _collect(
        lines.group_by([*by_cols, _MON]).agg(
            nw.col(_AMT).sum().alias("revenue"), nw.col(_DMAX).max()
        )
    )
    if as_of_date is None:
        latest = monthly[_DMAX].max() if len(monthly) else pd.NaT
        as_of_date = None if pd.isna(latest) else as_of_day(latest)
    trend = _trend_table(per_period, by_cols, step, freq, as_of_date)
    if customer_col not in names:
        trend["customers"] = pd.NA
    seasonality, years = _seasonality(monthly, by_cols, as_of_date, rules)
    return SalesTrend(
        trend=trend,
        seasonality=seasonality,
        highlights=_highlights(seasonality, by_cols),
        years=years,
        freq=freq,
        by=by_cols,
        as_of=as_of_date if as_of_date is not None else pd.NaT,
    )


def _season_rules(rules: Mapping[str, float] | None) -> dict[str, float]:
    merged = dict(SEASON_RULES)
    for key, value in (rules or {}).items():
        if key not in SEASON_RULES:
            raise ValueError(f"season_rules keys must be among {sorted(SEASON_RULES)}; got {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"season_rules[{key!r}] must be a number >= 0; got {value!r}")
        merged[key] = float(value)
    if merged["slack"] > merged["peak"]:
        raise ValueError(
            "season_rules: slack must be <= peak; got "
            f"slack={merged['slack']!r}, peak={merged['peak']!r}"
        )
    return merged


def _trend_table(
    per_period: pd.DataFrame,
    by_cols: tuple[str, ...],
    step: int,
    freq: str,
    as_of: pd.Timestamp | None,
) -> pd.DataFrame:
    """Fill missing periods with zeros and add AOV, growth and completeness."""
    columns = [*by_cols, "period", "label", "revenue", "orders", "customers", "aov"]
    columns += ["pop_growth", "yoy_growth", "complete"]
    if per_period.empty or as_of is None:
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
        empty["period"] = pd.Series(dtype="datetime64[ns]")
        empty["label"] = pd.Series(dtype="str")
        empty[["orders", "customers"]] = empty[["orders", "customers"]].astype("int64")
        empty["complete"] = pd.Series(dtype="bool")
        return empty
    last = (as_of.year * 12 + as_of.month - 1) // step * step
    first = int(per_period[_PER].min())
    periods = pd.DataFrame({_PER: np.arange(first, last + 1, step, dtype="int64")})
    if by_cols:
        groups = per_period[list(by_cols)].drop_duplicates()
        grid = groups.merge(periods, how="cross")
    else:
        grid = periods
    table = grid.merge(per_period, on=[*by_cols, _PER], how="left")
    table[["revenue"]] = table[["revenue"]].fillna(0.0)
    table[["orders", "customers"]] = table[["orders", "customers"]].fillna(0).astype("int64")
    table = _sort(table, [*by_cols, _PER])
    table["period"] = _month_start(table[_PER]).to_numpy()
    table["label"] = _period_labels(table[_PER], freq).to_numpy()
    table["aov"] = _ratio(table["revenue"], table["orders"].where(table["orders"] > 0))
    revenue = table.groupby(list(by_cols), dropna=False)["revenue"] if by_cols else table["revenue"]
    table["pop_growth"] = _growth(table["revenue"], revenue.shift(1))
    table["yoy_growth"] = _growth(table["revenue"], revenue.shift(12 // step))
    next_start = _month_start(table[_PER] + step).to_numpy()
    table["complete"] = next_start <= (as_of + pd.Timedelta(days=1)).to_datetime64()
    return table[columns]


def _growth(current: pd.Series, base: pd.Series) -> pd.Series:
    return _ratio(current, base) - 1.0


def _seasonality(
    monthly: pd.DataFrame,
    by_cols: tuple[str, ...],
    as_of: pd.Timestamp | None,
    rules: Mapping[str, float],
) -> tuple[pd.DataFrame, tuple[int, ...]]:
    months = pd.DataFrame({"month": np.arange(1, 13, dtype="int64")})
    groups = monthly[list(by_cols)].drop_duplicates() if by_cols else None
    years: tuple[int, ...] = ()
    if len(monthly) and as_of is not None:
        first = int(monthly[_MON].min())
        last_done = as_of.year * 12 + as_of.month - 1
        if (as_of + pd.Timedelta(days=1)).day != 1:
            last_done -= 1
        years = tuple(range(-(-first // 12), (last_done + 1) // 12))
    grid = months if groups is None else groups.merge(months, how="cross")
    if years:
        index = np.array([y * 12 + m for y in years for m in range(12)], dtype="int64")
        cells = pd.DataFrame({_MON: index})
        cells = cells if groups is None else groups.merge(cells, how="cross")
        cells = cells.merge(monthly[[*by_cols, _MON, "revenue"]], on=[*by_cols, _MON], how="left")
        cells["revenue"] = cells["revenue"].fillna(0.0)
        cells["month"] = cells[_MON] % 12 + 1
        keys = [*by_cols, "month"]
        means = cells.groupby(keys, dropna=False, as_index=False)["revenue"].mean()
        means = means.rename(columns={"revenue": "revenue_mean"})
        grid = grid.merge(means, on=keys, how="left")
        overall = (
            grid.groupby(list(by_cols), dropna=False)["revenue_mean"].transform("mean")
            if by_cols
            else grid["revenue_mean"].mean()
        )
        if not by_cols:
            overall = pd.Series(overall, index=grid.index)
        grid["seasonality_index"] = _ratio(grid["revenue_mean"], overall)
    else:
        grid["revenue_mean"] = np.nan
        grid["seasonality_index"] = np.nan
    index_values = grid["seasonality_index"]
    season = np.select(
        [index_values >= rules["peak"], index_values <= rules["slack"], index_values.notna()],
        ["peak", "slack", "normal"],
        default="",
    )
    grid["season"] = pd.Series(season, index=grid.index, dtype="str").replace("", pd.NA)
    return _sort(grid, [*by_cols, "month"]), years


def _highlights(seasonality: pd.DataFrame, by_cols: tuple[str, ...]) -> pd.DataFrame:
    cols = [*by_cols, "peak_month", "peak_index", "slack_month", "slack_index"]
    parts = []
    for ascending, name in ((False, "peak"), (True, "slack")):
        ordered = seasonality.sort_values(
            ["seasonality_index", "month"],
            ascending=[ascending, True],
            na_position="last",
            kind="mergesort",
        )
        top = ordered.drop_duplicates(list(by_cols)) if by_cols else ordered.head(1)
        top = top[[*by_cols, "month", "seasonality_index"]].rename(
            columns={"month": f"{name}_month", "seasonality_index": f"{name}_index"}
        )
        top[f"{name}_month"] = (
            top[f"{name}_month"].astype("Int64").mask(top[f"{name}_index"].isna())
        )
        parts.append(top)
    if by_cols:
        table = parts[0].merge(parts[1], on=list(by_cols), how="outer")
    else:
        table = pd.concat([p.reset_index(drop=True) for p in parts], axis=1)
    return _sort(table, by_cols)[cols]


# ---------------------------------------------------------------------------------------------
# Product mix
# ---------------------------------------------------------------------------------------------


def product_mix(
    orders: Any,
    *,
    top_n: int = 10,
    abc: Sequence[float] = DEFAULT_ABC,
    rules: Mapping[str, float] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
    lang: str = "zh",
    product_col: str = PRODUCT,
    amount_col: str = AMOUNT,
    quantity_col: str = QUANTITY,
    cost_col: str = COST,
    margin_col: str = GROSS_MARGIN,
    date_col: str = ORDER_DATE,
) -> pd.DataFrame:
    """Revenue, quantity and margin per product, with shares, top N, ABC classes, stars, problems.

    Parameters
    ----------
    orders : DataFrame, LazyFrame, DuckDB relation, PySpark or Dask DataFrame
        Order lines with a product and an amount. Quantity, cost, gross margin and date columns
        are used when present. pandas (numpy- or Arrow-backed), Polars (eager or lazy), DuckDB,
        PySpark and Dask are accepted: the per-product sums run on that engine through narwhals
        and only they are collected. A pandas text date column is parsed with
        :func:`pandas.to_datetime`; other engines need real dates. Without ``as_of`` the latest
        date is computed first (one small extra query on a lazy engine).
    top_n : int, default=10
        How many products the ``top`` flag marks (by revenue rank; see Returns).
    abc : sequence of three floats, default=(0.8, 0.15, 0.05)
        Shares of cumulative revenue for classes A, B and C; they must add up to 1.
    rules : mapping, optional
        Overrides of :data:`PRODUCT_RULES` (star and problem thresholds).
    as_of : str, date or datetime, optional
        Lines dated after this day are left out (every line dated on it counts); also the end
        of the decline windows. Only its calendar day is used (a time zone is dropped, keeping
        the local date). Defaults to the latest order date. Needs ``date_col``.
    lang : {"zh", "en"}, default="zh"
        Language of ``reason``.
    product_col, amount_col, quantity_col, cost_col, margin_col, date_col : str
        Column names. Only ``product_col`` and ``amount_col`` are required.

    Returns
    -------
    DataFrame
        Always pandas (one row per product, small whatever the input engine), sorted by
        revenue (largest first, ties by product name), with:

        - ``product_col`` – the product;
        - ``revenue`` – net revenue (refunds subtracted);
        - ``revenue_share`` – ``revenue`` ÷ the total revenue of products with positive revenue,
          so the shares of selling products add up to 1;
        - ``cumulative_share`` – running total of ``revenue_share`` in this order (for a Pareto
          chart; products with revenue <= 0 add nothing);
        - ``quantity``, ``quantity_share`` – net quantity and its share (missing without a
          quantity column; shares only make sense when products share a unit);
        - ``gross_margin`` – the ``margin_col`` of each line, or ``amount - cost`` where it is
          missing and a cost is given; missing when no line of the product has either;
        - ``margin_rate`` – ``gross_margin`` ÷ the revenue of the lines with a known margin
          (missing when that revenue is not positive);
        - ``rank`` – revenue rank, 1 = largest, ties share the smallest rank;
        - ``abc`` – ``"A"``, ``"B"`` or ``"C"`` (see Notes);
        - ``top`` – ``rank <= top_n`` (tied products at the boundary are all in);
        - ``revenue_recent``, ``revenue_previous`` – revenue in the last ``decline_months``
          months up to ``as_of`` and in the same number of months before (missing without a
          date column);
        - ``revenue_change`` – ``revenue_recent / revenue_previous - 1`` (missing when the
          previous window has no positive revenue);
        - ``change_vs_all`` – the product's change beyond that of all products together,
          ``(1 + revenue_change) / (1 + change of all) - 1``: 0 when it moved with the
          business (missing when either change is);
        - ``problem`` – a negative gross margin, or a margin rate below
          ``problem_max_margin_ratio`` × the overall margin rate, or ``change_vs_all`` ≤
          ``-problem_min_decline`` (compared after rounding to 12 decimals, so 80 after 100 is
          a decline of exactly 20 %): revenue falling with the whole business, as in a slack
          season, makes no product a problem;
        - ``star`` – revenue share ≥ ``star_min_revenue_share`` and margin rate ≥
          ``star_min_margin_ratio`` × the overall margin rate (False when the margin is
          unknown), and not a problem: a product is never both;
        - ``product_class`` – ``"star"``, ``"problem"`` or ``"regular"``, one per product
          (labels in :data:`PRODUCT_CLASSES`);
        - ``reason`` – why a product is a problem (:data:`PRODUCT_REASONS` in ``lang``, joined
          by ``"; "``), empty otherwise.

    Notes
    -----
    **ABC boundary rule.** Products are ordered by revenue, largest first. For each product,
    ``before`` is the share of revenue of all products with *strictly* larger revenue. A product
    is A when ``before < abc[0]``, B when ``before < abc[0] + abc[1]``, otherwise C. So the
    product whose revenue takes the running total across 80 % is still A (80 % of revenue
    needs it), the next one is B; tied products always share a class, whatever their order;
    products with revenue <= 0 are C. Shares are compared after rounding to 12 decimals, so
    80/100 counts as exactly 0.8.

    **Overall margin rate** – total gross margin ÷ revenue of the lines with a known margin, over
    all products. Products without a known margin are never stars or low-margin problems.

    Lines without a product are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> lines = pd.DataFrame(
    ...     {"product": ["a", "b", "c", "d"], "amount": [70.0, 15.0, 10.0, 5.0],
    ...      "cost": [35.0, 12.0, 2.0, 4.0]}
    ... )
    >>> product_mix(lines)[["product", "revenue_share", "cumulative_share", "margin_rate", "abc"]]
      product  revenue_share  cumulative_share  margin_rate abc
    0       a           0.70              0.70          0.5   A
    1       b           0.15              0.85          0.2   A
    2       c           0.10              0.95          0.8   B
    3       d           0.05              1.00          0.2   C
    """
    if isinstance(top_n, bool) or not isinstance(top_n, int | np.integer) or top_n < 0:
        raise ValueError(f"top_n must be an integer >= 0; got {top_n!r}")
    shares = _check_abc(abc)
    merged = _product_rules(rules)
    _check_choice("lang", lang, _LANGS)
    table, dated = _product_totals(
        orders,
        as_of=as_of,
        months=int(merged["decline_months"]),
        product_col=product_col,
        amount_col=amount_col,
        quantity_col=quantity_col,
        cost_col=cost_col,
        margin_col=margin_col,
        date_col=date_col,
    )
    table = table.sort_values(
        ["revenue", product_col], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)
    positive = table["revenue"].clip(lower=0.0)
    total = positive.sum()
    table["revenue_share"] = table["revenue"] / total if total > 0 else np.nan
    table["cumulative_share"] = positive.cumsum() / total if total > 0 else np.nan
    q_total = table["quantity"].clip(lower=0.0).sum()
    table["quantity_share"] = table["quantity"] / q_total if q_total > 0 else np.nan
    table["margin_rate"] = _ratio(table["gross_margin"], table["margin_base"])
    table["rank"] = table["revenue"].rank(method="min", ascending=False).astype("int64")
    before = (positive.cumsum() - positive).groupby(table["revenue"]).transform("min")
    before_share = np.round(before / total, 12) if total > 0 else pd.Series(np.inf, table.index)
    a_cut, b_cut = round(shares[0], 12), round(shares[0] + shares[1], 12)
    table["abc"] = np.select(
        [table["revenue"] <= 0, before_share < a_cut, before_share < b_cut], ["C", "A", "B"], "C"
    )
    table["top"] = table["rank"] <= top_n
    if not dated:
        table[["revenue_recent", "revenue_previous", "revenue_change", "change_vs_all"]] = np.nan
    else:
        table["revenue_change"] = _growth(table["revenue_recent"], table["revenue_previous"])
        everything = _growth(
            pd.Series([table["revenue_recent"].sum()]), pd.Series([table["revenue_previous"].sum()])
        ).iloc[0]
        table["change_vs_all"] = (
            (1 + table["revenue_change"]) / (1 + everything) - 1
            if pd.notna(everything) and everything > -1
            else np.nan
        )
    base = table["margin_base"].sum()
    overall = table["gross_margin"].sum() / base if base > 0 else np.nan
    rate = table["margin_rate"]
    star = table["revenue_share"] >= merged["star_min_revenue_share"]
    star &= rate.notna()
    if overall > 0:
        star &= rate >= merged["star_min_margin_ratio"] * overall
    negative = table["gross_margin"] < 0
    low = ~negative & (rate < merged["problem_max_margin_ratio"] * overall) if overall > 0 else None
    low = pd.Series(False, index=table.index) if low is None else low.fillna(False)
    declining = table["change_vs_all"].round(12) <= -merged["problem_min_decline"]
    labels = {key: value[lang] for key, value in PRODUCT_REASONS.items()}
    reason = pd.Series("", index=table.index, dtype="str")
    for flag, key in ((negative, "negative_margin"), (low, "low_margin"), (declining, "declining")):
        reason = reason.mask(flag & (reason != ""), reason + "; " + labels[key])
        reason = reason.mask(flag & (reason == ""), labels[key])
    table["problem"] = (negative | low | declining).astype("bool")
    table["star"] = (star.fillna(False) & ~table["problem"]).astype("bool")
    table["product_class"] = np.select(
        [table["star"], table["problem"]], ["star", "problem"], "regular"
    )
    table["reason"] = reason
    return table[
        [
            product_col,
            "revenue",
            "revenue_share",
            "cumulative_share",
            "quantity",
            "quantity_share",
            "gross_margin",
            "margin_rate",
            "rank",
            "abc",
            "top",
            "revenue_recent",
            "revenue_previous",
            "revenue_change",
            "change_vs_all",
            "star",
            "problem",
            "product_class",
            "reason",
        ]
    ]


def _product_totals(
    orders: Any,
    *,
    as_of: Any,
    months: int,
    product_col: str,
    amount_col: str,
    quantity_col: str,
    cost_col: str,
    margin_col: str,
    date_col: str,
) -> tuple[pd.DataFrame, bool]:
    """Per-product sums of :func:`product_mix`, aggregated in narwhals and collected to pandas.

    Returns the table (one row per product: ``revenue``, ``quantity``, ``gross_margin``,
    ``margin_base`` – the revenue of lines with a known margin –, ``revenue_recent`` and
    ``revenue_previous``) and whether the lines have dates. Sums of a column without any known
    value are missing, like pandas' ``sum(min_count=1)``.
    """
    frame = nw.from_native(orders)
    schema = frame.collect_schema()
    names = schema.names()
    require_columns(names, [product_col, amount_col], where="product_mix", table="orders")
    dated = date_col in names
    if as_of is not None and not dated:
        require_columns(names, [date_col], where="product_mix (as_of)", table="orders")
    if dated and not isinstance(schema[date_col], nw.Datetime | nw.Date):
        if frame.implementation.is_pandas_like():
            # pandas text dates are parsed as before; other engines need real dates
            native = frame.to_native()
            frame = nw.from_native(native.assign(**{date_col: pd.to_datetime(native[date_col])}))
            schema = frame.collect_schema()
        else:
            raise TypeError(
                f"product_mix: date_col {date_col!r} must hold datetimes or dates, got "
                f"{schema[date_col]}; parse dates first, e.g. with analysis_kit.clean_table"
            )
    amount = nw.col(amount_col).cast(nw.Float64).fill_null(0.0)
    margin = nw.lit(None, dtype=nw.Float64)
    if margin_col in names:
        margin = nw.col(margin_col).cast(nw.Float64)
    if cost_col in names:
        from_cost = amount - nw.col(cost_col).cast(nw.Float64)
        margin = margin.fill_null(from_cost) if margin_col in names else from_cost
    quantity = (
        nw.col(quantity_col).cast(nw.Float64)
        if quantity_col in names
        else nw.lit(None, dtype=nw.Float64)
    )
    lines = frame.filter(~nw.col(product_col).is_null()).select(
        nw.col(product_col).alias(_PRODUCT),
        amount.alias(_AMT),
        quantity.alias(_QTY),
        margin.alias(_MARGIN),
        *([_as_datetime(nw.col(date_col), schema[date_col]).alias(_DMAX)] if dated else []),
    )
    windows: list[str] = []
    if dated:
        lines = lines.filter(~nw.col(_DMAX).is_null())
        as_of_date = as_of_day(as_of) if as_of is not None else _latest_day(lines)
        if as_of_date is not None:
            end = as_of_date + pd.Timedelta(days=1)
            mid = nw.lit((end - pd.DateOffset(months=months)).to_pydatetime())
            start = nw.lit((end - pd.DateOffset(months=2 * months)).to_pydatetime())
            date = nw.col(_DMAX)
            zero = nw.lit(0.0, dtype=nw.Float64)
            lines = lines.filter(date < nw.lit(end.to_pydatetime())).with_columns(
                nw.when(date >= mid).then(nw.col(_AMT)).otherwise(zero).alias("revenue_recent"),
                nw.when((date >= start) & (date < mid))
                .then(nw.col(_AMT))
                .otherwise(zero)
                .alias("revenue_previous"),
            )
            windows = ["revenue_recent", "revenue_previous"]
    # Conditional values are columns before the group-by: aggregations stay plain column sums
    # and counts, which every backend computes alike.
    lines = lines.with_columns(
        nw.when(~nw.col(_MARGIN).is_null()).then(nw.col(_AMT)).alias("margin_base")
    )
    totals = lines.group_by(_PRODUCT).agg(
        nw.col(_AMT).sum().alias("revenue"),
        nw.col(_QTY).sum().alias("quantity"),
        nw.col(_QTY).count().alias("__sales_quantity_n"),
        nw.col(_MARGIN).sum().alias("gross_margin"),
        nw.col(_MARGIN).count().alias("__sales_margin_n"),
        nw.col("margin_base").sum(),
        *[nw.col(c).sum() for c in windows],
    )
    table = _collect(totals)
    if not windows:
        table["revenue_recent"] = table["revenue_previous"] = np.nan
    for col, count in (
        ("quantity", "__sales_quantity_n"),
        ("gross_margin", "__sales_margin_n"),
        ("margin_base", "__sales_margin_n"),
    ):
        table[col] = table[col].astype("float64").where(table[count] > 0)
    for col in ("revenue", "revenue_recent", "revenue_previous"):
        table[col] = table[col].astype("float64")
    table = table.rename(columns={_PRODUCT: product_col})
    columns = [product_col, "revenue", "quantity", "gross_margin", "margin_base"]
    return table[[*columns, "revenue_recent", "revenue_previous"]], dated


def _as_datetime(expr: Any, dtype: Any) -> Any:
    """Return a date or datetime expression as a time-zone-free datetime (wall time kept)."""
    if isinstance(dtype, nw.Date):
        return expr.cast(nw.Datetime("us"))
    if getattr(dtype, "time_zone", None):
        return expr.dt.replace_time_zone(None)
    return expr


def _latest_day(lines: Any) -> pd.Timestamp | None:
    """Return the calendar day of the latest ``_DMAX`` in ``lines`` (None when there is none)."""
    latest = _collect(lines.select(nw.col(_DMAX).max()))[_DMAX]
    return None if latest.empty or pd.isna(latest.iloc[0]) else as_of_day(latest.iloc[0])


def _check_abc(abc: object) -> tuple[float, float, float]:
    message = f"abc must be three shares >= 0 for A, B and C that add up to 1; got {abc!r}"
    if isinstance(abc, str) or not isinstance(abc, Sequence) or len(abc) != 3:
        raise ValueError(message)
    try:
        values = tuple(float(v) for v in abc)
    except (TypeError, ValueError) as exc:
        raise ValueError(message) from exc
    if any(not math.isfinite(v) or v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-9:
        raise ValueError(message)
    return values  # type: ignore[return-value]


def _product_rules(rules: Mapping[str, float] | None) -> dict[str, float]:
    merged = dict(PRODUCT_RULES)
    for key, value in (rules or {}).items():
        if key not in PRODUCT_RULES:
            raise ValueError(f"rules keys must be among {sorted(PRODUCT_RULES)}; got {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"rules[{key!r}] must be a number >= 0; got {value!r}")
        merged[key] = value
    months = merged["decline_months"]
    if int(months) != months or months < 1:
        raise ValueError(f"rules['decline_months'] must be a whole number >= 1; got {months!r}")
    return merged


# ---------------------------------------------------------------------------------------------
# Team performance
# ---------------------------------------------------------------------------------------------

_FREQ_RANK = {"M": 1, "Q": 2, "Y": 3}
_FREQ_OFFSET = {"M": 1, "Q": 3, "Y": 12}


def team_performance(
    orders: Any,
    *,
    targets: Any = None,
    by: str | Sequence[str] = TEAM,
    period: str | Sequence[str] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
    rank_by: str | None = None,
    date_col: str = ORDER_DATE,
    amount_col: str = AMOUNT,
    order_col: str = ORDER_ID,
    customer_col: str = CUSTOMER_ID,
    paid_col: str = PAID_AMOUNT,
    owner_col: str = OWNER,
    period_col: str = PERIOD,
    target_col: str = TARGET,
) -> pd.DataFrame:
    """Revenue, target attainment, new customers, average deal and collection rate per team or rep.

    Parameters
    ----------
    orders : DataFrame
        Order lines with a date, an amount and the ``by`` columns (Polars and DuckDB inputs are
        converted to pandas).
    targets : DataFrame, optional
        A targets table (销售目标): the ``by`` columns (``owner`` and/or ``team``), ``period``
        (``2024Q1``, ``2024-03``, ``2024``, or any form :func:`analysis_kit.parsing.parse_period`
        reads) and ``target`` in yuan. Without it, target columns are missing.
    by : str or list of str, default="team"
        ``"team"`` for teams, ``"owner"`` for reps, ``["team", "owner"]`` for reps with their
        team; any order columns work.
    period : str or list of str, optional
        Reporting period(s) like ``"2024Q2"``, ``"2024-06"`` or ``"2024"``. Defaults to the
        quarter that contains ``as_of``.
    as_of : str, date or datetime, optional
        Lines dated after this day are left out (every line dated on it counts; a period still
        running is partial). Only its calendar day is used (a time zone is dropped, keeping the
        local date). Defaults to the latest order date.
    rank_by : {"attainment", "revenue"}, optional
        What the ranking orders by; defaults to ``"attainment"`` with targets, else
        ``"revenue"``.
    date_col, amount_col, order_col, customer_col, paid_col, owner_col : str
        Order columns. ``order_col``, ``customer_col`` and ``paid_col`` are optional.
    period_col, target_col : str
        Targets columns.

    Returns
    -------
    DataFrame
        One row per period and group (groups with sales or with a target), sorted by period and
        rank, with:

        - ``period`` – the period label (``2024Q2``);
        - the ``by`` columns;
        - ``revenue`` – net revenue of the period (refunds subtracted);
        - ``target`` – the group's target for the period (see Notes; missing when none);
        - ``attainment`` – ``revenue / target`` (missing without a positive target);
        - ``gap`` – ``target - revenue``: still to go (negative when exceeded);
        - ``orders`` – orders with a positive net amount (as in :func:`sales_trend`);
        - ``avg_deal`` – ``revenue / orders`` (missing without orders);
        - ``customers`` – distinct customers with such an order;
        - ``new_customers`` – customers whose first purchase ever (first line with a positive
          amount, the earliest date, then the smallest order id) falls in the period, counted
          for the group of that line;
        - ``paid`` – paid amount (回款) of the lines that record one;
        - ``collection_rate`` – 回款率, ``paid`` ÷ the amount of those same lines (missing
          without a ``paid_col`` value or when that amount is not positive);
        - ``rank`` – 1 = best by ``rank_by`` within the period; ties share the smaller rank;
          groups without a value rank last.

    Notes
    -----
    **Which targets count.** A target row counts for a period when its own period lies inside
    it (a ``2024-04`` target counts for ``2024Q2``). With ``by`` containing ``owner_col`` only
    rows with an owner count. Otherwise a group's team-level rows (``owner`` missing) are used
    when it has any, else the sum of its reps' rows, so a team target is never counted twice.
    When a group (or one rep of a team) has targets at several lengths inside the period (a
    quarter and its months), only the longest counts, so nothing is counted twice. Groups appear
    when they have sales, a new customer or a target in the period.

    **Collection rate.** Lines whose paid amount is missing are left out of both sums: the rate
    is measured where collection is recorded.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame(
    ...     {
    ...         "order_id": ["a", "b", "c"],
    ...         "customer_id": ["x", "y", "x"],
    ...         "order_date": pd.to_datetime(["2024-04-03", "2024-05-10", "2024-06-01"]),
    ...         "amount": [100.0, 50.0, 50.0],
    ...         "paid_amount": [100.0, 0.0, 50.0],
    ...         "team": ["east", "west", "east"],
    ...     }
    ... )
    >>> targets = pd.DataFrame({"team": ["east", "west"], "period": ["2024Q2", "2024Q2"],
    ...                         "target": [200.0, 40.0]})
    >>> team_performance(orders, targets=targets)[["team", "revenue", "attainment", "rank"]]
       team  revenue  attainment  rank
    0  west     50.0        1.25     1
    1  east    150.0        0.75     2
    """
    by_cols = _columns_of("by", by)
    if not by_cols:
        raise ValueError(f"by must name at least one column; got {by!r}")
    if rank_by is not None:
        _check_choice("rank_by", rank_by, ("attainment", "revenue"))
    frame = as_pandas(orders)
    require_columns(
        frame.columns, [date_col, amount_col, *by_cols], where="team_performance", table="orders"
    )
    target_frame = None
    if targets is not None:
        target_frame = as_pandas(targets)
        require_columns(
            target_frame.columns,
            [*by_cols, period_col, target_col],
            where="team_performance (targets)",
            table="targets",
        )
    rank_by = rank_by or ("attainment" if target_frame is not None else "revenue")
    as_of_date = None if as_of is None else as_of_day(as_of)
    lines = _prepare_lines(
        nw.from_native(frame),
        keep=[c for c in (*by_cols, paid_col) if c in frame.columns],
        date_col=date_col,
        amount_col=amount_col,
        customer_col=customer_col if customer_col in frame.columns else None,
        order_col=order_col if order_col in frame.columns else None,
        as_of=as_of_date,
    )
    lines = _collect(lines)
    if as_of_date is None:
        as_of_date = as_of_day(lines[_DMAX].max()) if len(lines) else None
    periods = _periods(period, as_of_date)
    first = _first_purchases(lines, by_cols, order_col if order_col in frame.columns else None)
    rows = []
    for label, start, end in periods:
        in_period = lines[(lines[_DMAX] >= start) & (lines[_DMAX] < end)]
        rows.append(
            _period_performance(
                in_period,
                first[(first[_DMAX] >= start) & (first[_DMAX] < end)],
                target_frame,
                label=label,
                start=start,
                end=end,
                by_cols=by_cols,
                paid_col=paid_col if paid_col in frame.columns else None,
                owner_col=owner_col,
                period_col=period_col,
                target_col=target_col,
                rank_by=rank_by,
            )
        )
    return pd.concat(rows, ignore_index=True)


def _periods(
    period: str | Sequence[str] | None, as_of: pd.Timestamp | None
) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    """Parse period labels into ``(label, start, end)``; None → the quarter of ``as_of``."""
    if period is None:
        if as_of is None:
            raise ValueError("period must be given when orders have no dated lines; got None")
        labels: list[str] = [f"{as_of.year}Q{as_of.quarter}"]
    elif isinstance(period, str):
        labels = [period]
    elif isinstance(period, Sequence) and period and all(isinstance(p, str) for p in period):
        labels = list(period)
    else:
        raise ValueError(
            "period must be a period label like '2024Q2', '2024-06' or '2024', or a list of them; "
            f"got {period!r}"
        )
    parsed = parse_period(pd.Series(labels, dtype="str"))
    bad = [lab for lab, ok in zip(labels, parsed["period"].notna(), strict=True) if not ok]
    if bad:
        raise ValueError(
            f"period must be a period label like '2024Q2', '2024-06' or '2024'; got {bad[0]!r}"
        )
    out = []
    for row in parsed.itertuples(index=False):
        start = pd.Timestamp(row.period_start)
        out.append(
            (str(row.period), start, start + pd.DateOffset(months=_FREQ_OFFSET[row.period_freq]))
        )
    return out


def _first_purchases(
    lines: pd.DataFrame, by_cols: tuple[str, ...], order_col: str | None
) -> pd.DataFrame:
    """Return the first positive line of every known customer: its date and group."""
    bought = lines[is_positive_money(lines[_AMT]) & (lines[_KNOWN] == 1)]
    keys = [_DMAX] + ([_ORD] if order_col is not None else [])
    ordered = bought.sort_values(keys, na_position="last", kind="mergesort")
    return ordered.drop_duplicates(_CUST)[[_CUST, _DMAX, *by_cols]]


def _period_performance(
    lines: pd.DataFrame,
    first: pd.DataFrame,
    targets: pd.DataFrame | None,
    *,
    label: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    by_cols: tuple[str, ...],
    paid_col: str | None,
    owner_col: str,
    period_col: str,
    target_col: str,
    rank_by: str,
) -> pd.DataFrame:
    keys = list(by_cols)
    counts = _collect(_net_counts(nw.from_native(lines), keys)) if len(lines) else None
    if counts is None:
        counts = pd.DataFrame({c: pd.Series(dtype=lines[c].dtype) for c in keys})
        counts[["revenue", "orders", "customers"]] = 0
    new = first.groupby(keys, dropna=False).size().rename("new_customers").reset_index()
    if paid_col is not None:
        recorded = lines[lines[paid_col].notna()]
        paid = recorded.groupby(keys, dropna=False).agg(
            paid=(paid_col, "sum"), paid_base=(_AMT, "sum")
        )
        paid = paid.reset_index()
    else:
        paid = pd.DataFrame(columns=[*keys, "paid", "paid_base"])
    table = counts.merge(new, on=keys, how="outer").merge(paid, on=keys, how="left")
    if targets is not None:
        target = _targets_for(
            targets,
            start=start,
            end=end,
            by_cols=by_cols,
            owner_col=owner_col,
            period_col=period_col,
            target_col=target_col,
        )
        table = table.merge(target, on=keys, how="outer")
    else:
        table["target"] = np.nan
    table[["revenue"]] = table[["revenue"]].fillna(0.0).astype("float64")
    for col in ("orders", "customers", "new_customers"):
        table[col] = table[col].fillna(0).astype("int64")
    table["target"] = table["target"].astype("float64")
    table["attainment"] = _ratio(table["revenue"], table["target"])
    table["gap"] = table["target"] - table["revenue"]
    table["avg_deal"] = _ratio(table["revenue"], table["orders"].where(table["orders"] > 0))
    paid_values = table["paid"] if "paid" in table else pd.Series(np.nan, index=table.index)
    table["paid"] = pd.to_numeric(paid_values).astype("float64")
    table["collection_rate"] = _ratio(table["paid"], table["paid_base"])
    table["rank"] = (
        table[rank_by].rank(method="min", ascending=False, na_option="bottom").astype("int64")
    )
    table.insert(0, "period", label)
    table = _sort(table, ["rank", *keys])
    return table[
        [
            "period",
            *keys,
            "revenue",
            "target",
            "attainment",
            "gap",
            "orders",
            "avg_deal",
            "customers",
            "new_customers",
            "paid",
            "collection_rate",
            "rank",
        ]
    ]


def _targets_for(
    targets: pd.DataFrame,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    by_cols: tuple[str, ...],
    owner_col: str,
    period_col: str,
    target_col: str,
) -> pd.DataFrame:
    """Sum each group's target rows that lie inside ``[start, end)`` (see team_performance)."""
    keys = list(by_cols)
    parsed = parse_period(targets[period_col])
    owners = (
        targets[owner_col].to_numpy()
        if owner_col in targets.columns
        else np.full(len(targets), None, dtype=object)
    )
    rows = pd.DataFrame(
        {
            **{c: targets[c].to_numpy() for c in keys},
            "target": pd.to_numeric(targets[target_col]).astype("float64").to_numpy(),
            "start": parsed["period_start"].to_numpy(),
            "freq": parsed["period_freq"].to_numpy(),
            "__sales_owner": owners,
        }
    )
    rows["owner_level"] = rows["__sales_owner"].notna()
    rows = rows[rows["start"].notna() & rows[keys].notna().all(axis=1)]
    first_month = rows["start"].dt.year * 12 + rows["start"].dt.month - 1
    row_end = _month_start(first_month + rows["freq"].map(_FREQ_OFFSET)).to_numpy()
    rows = rows[(rows["start"] >= start).to_numpy() & (row_end <= end.to_datetime64())]
    if owner_col in keys:
        rows = rows[rows["owner_level"]]
    else:
        has_group_level = (~rows["owner_level"]).groupby([rows[c] for c in keys]).transform("any")
        rows = rows[rows["owner_level"] != has_group_level]
    entity = [rows[c] for c in keys] + ([] if owner_col in keys else [rows["__sales_owner"]])
    rank = rows["freq"].map(_FREQ_RANK)
    longest = rank.groupby(entity, dropna=False).transform("max")
    rows = rows[rank == longest]
    return rows.groupby(keys, as_index=False)["target"].sum()


# ---------------------------------------------------------------------------------------------
# Target decomposition
# ---------------------------------------------------------------------------------------------


def decompose_target(
    total: float,
    *,
    history: Any = None,
    pipeline: Any = None,
    weights: Mapping[Any, float] | pd.Series | pd.DataFrame | None = None,
    by: str | Sequence[str] = OWNER,
    mix: float = 0.5,
    unit: int = 1,
    amount_col: str = AMOUNT,
    owner_col: str = OWNER,
    opportunity_col: str = OPPORTUNITY_ID,
    outcome_col: str = OUTCOME,
    entered_col: str = ENTERED_AT,
    open_outcomes: Sequence[str] = ("open",),
) -> pd.DataFrame:
    """Split a period target across teams and reps (目标拆解), in whole units that add up exactly.

    Parameters
    ----------
    total : number
        The target to split, in yuan; a whole multiple of ``unit``.
    history : DataFrame, optional
        Past order lines (e.g. the last 12 months): each group's weight is its net revenue
        (negative totals count as 0).
    pipeline : DataFrame, optional
        A stage-history table (商机阶段记录): each group's weight is the amount of its open
        opportunities (outcome in ``open_outcomes``), taking each opportunity's latest row (by
        ``entered_col`` when present). A ``by`` column the pipeline lacks (stage records rarely
        carry a team) is looked up from ``history`` through ``owner_col`` (the rep's last line);
        opportunities whose group stays unknown are left out, like lines without a group.
    weights : mapping, Series or DataFrame, optional
        Given weights instead of history and pipeline: ``{group: weight}`` (a tuple key per
        group when ``by`` has several columns), a Series indexed likewise, or a DataFrame with
        the ``by`` columns and a ``weight`` column.
    by : str or list of str, default="owner"
        The groups. Several columns split level by level: ``["team", "owner"]`` first splits the
        total across teams (by the summed weights of their reps), then each team's part across
        its reps, so the reps of a team add up exactly to the team's part.
    mix : float, default=0.5
        With both history and pipeline: the weight given to history (the rest to the pipeline).
        Each basis is turned into shares first, so the two are comparable.
    unit : int, default=1
        Targets are whole multiples of this (1 = whole yuan, 10000 = whole 万元).
    amount_col, owner_col, opportunity_col, outcome_col, entered_col : str
        Column names of ``history`` and ``pipeline``.
    open_outcomes : sequence of str, default=("open",)
        Outcome values of an open opportunity.

    Returns
    -------
    DataFrame
        One row per group (sorted by the ``by`` columns) with:

        - the ``by`` columns;
        - ``history`` – the group's net revenue in ``history`` (only when history is given);
        - ``pipeline`` – the group's open pipeline (only when pipeline is given);
        - ``weight`` – the weight the split uses (given, revenue, pipeline or the mix of shares);
        - ``share`` – ``weight`` ÷ total weight: the exact proportion;
        - ``target`` – the group's target (int64, a multiple of ``unit``); the targets add up to
          ``total`` exactly.

    Notes
    -----
    **Largest-remainder rounding (最大余数法).** Each group's exact quota is
    ``total × share``; every group first gets the whole units of its quota rounded down, and the
    units left over go one each to the groups with the largest fractional remainders (ties: the
    larger weight, then the ``by`` order). So every target is within one unit of its exact
    quota and the targets add up to the total. With several ``by`` levels this runs per level
    inside each parent. A group with zero weight gets 0.

    Examples
    --------
    >>> decompose_target(100, weights={"a": 1, "b": 1, "c": 1})
      owner  weight     share  target
    0     a     1.0  0.333333      34
    1     b     1.0  0.333333      33
    2     c     1.0  0.333333      33
    """
    by_cols = _columns_of("by", by)
    if not by_cols:
        raise ValueError(f"by must name at least one column; got {by!r}")
    units = _whole_units(total, unit)
    if weights is not None and (history is not None or pipeline is not None):
        raise ValueError(
            "weights replaces history and pipeline: pass weights alone, or history and/or pipeline"
        )
    if weights is None and history is None and pipeline is None:
        raise ValueError("decompose_target needs history=, pipeline= or weights=; got none")
    if isinstance(mix, bool) or not isinstance(mix, int | float) or not 0 <= mix <= 1:
        raise ValueError(f"mix must be a number from 0 to 1; got {mix!r}")
    if weights is not None:
        table = _given_weights(weights, by_cols)
    else:
        table = _basis_weights(
            history,
            pipeline,
            by_cols=by_cols,
            mix=float(mix),
            amount_col=amount_col,
            owner_col=owner_col,
            opportunity_col=opportunity_col,
            outcome_col=outcome_col,
            entered_col=entered_col,
            open_outcomes=tuple(open_outcomes),
        )
    table = _sort(table, by_cols)
    total_weight = table["weight"].sum()
    if not total_weight > 0:
        raise ValueError(
            "decompose_target: every weight is zero, so there is nothing to split in proportion; "
            "pass weights="
        )
    table["share"] = table["weight"] / total_weight
    allotted = np.full(len(table), units, dtype="int64")
    for level in range(1, len(by_cols) + 1):
        keys = list(by_cols[:level])
        first = ~table.duplicated(keys).to_numpy()
        node_weight = table.groupby(keys, sort=False)["weight"].transform("sum").to_numpy()
        parent = (
            table.groupby(list(by_cols[: level - 1]), sort=False).ngroup().to_numpy()
            if level > 1
            else np.zeros(len(table), dtype="int64")
        )
        parts = _largest_remainder(allotted[first], node_weight[first], parent[first])
        node = table.groupby(keys, sort=False).ngroup().to_numpy()
        node_part = np.zeros(node.max() + 1, dtype="int64")
        node_part[node[first]] = parts
        allotted = node_part[node]
    table["target"] = (allotted * unit).astype("int64")
    return table


def _whole_units(total: object, unit: object) -> int:
    if isinstance(unit, bool) or not isinstance(unit, int | np.integer) or unit < 1:
        raise ValueError(f"unit must be a whole number >= 1; got {unit!r}")
    if isinstance(total, bool) or not isinstance(total, int | float | np.integer | np.floating):
        raise ValueError(f"total must be a number >= 0; got {total!r}")
    if not math.isfinite(float(total)) or total < 0:
        raise ValueError(f"total must be a number >= 0; got {total!r}")
    units = float(total) / int(unit)
    if abs(units - round(units)) > 1e-9 * max(1.0, abs(units)):
        raise ValueError(
            f"total must be a whole multiple of unit={unit!r} so the parts can add up to it; "
            f"got total={total!r}"
        )
    return int(round(units))


def _largest_remainder(units: np.ndarray, weight: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Split each parent's ``units`` across its nodes in proportion to ``weight``.

    One entry per node: the units of its parent (repeated), its weight and its parent's id.
    Ties of the remainder go to the larger weight, then the earlier node.
    """
    frame = pd.DataFrame({"parent": parent, "weight": weight})
    parent_weight = frame.groupby("parent")["weight"].transform("sum").to_numpy()
    quota = np.divide(
        units * weight, parent_weight, out=np.zeros(len(frame)), where=parent_weight > 0
    )
    base = np.floor(quota).astype("int64")
    frame["fraction"] = np.round(quota - base, 9)
    frame["position"] = np.arange(len(frame))
    left = units - pd.Series(base).groupby(parent).transform("sum").to_numpy()
    order = frame.sort_values(
        ["parent", "fraction", "weight", "position"],
        ascending=[True, False, False, True],
        kind="mergesort",
    )
    position = order["position"].to_numpy()
    place = order.groupby("parent").cumcount().to_numpy()
    extra = np.zeros(len(frame), dtype="int64")
    extra[position] = (place < left[position]).astype("int64")
    return base + extra


def _given_weights(
    weights: Mapping[Any, float] | pd.Series | pd.DataFrame, by_cols: tuple[str, ...]
) -> pd.DataFrame:
    if isinstance(weights, pd.DataFrame):
        require_columns(weights.columns, [*by_cols, "weight"], where="decompose_target (weights)")
        table = weights[[*by_cols, "weight"]].copy()
    else:
        series = weights if isinstance(weights, pd.Series) else pd.Series(dict(weights))
        if len(by_cols) > 1:
            keys = [k if isinstance(k, tuple) else (k,) for k in series.index]
            if any(len(k) != len(by_cols) for k in keys):
                raise ValueError(
                    f"weights keys must be tuples of {len(by_cols)} values for by={list(by_cols)}"
                )
            table = pd.DataFrame(keys, columns=list(by_cols))
        else:
            table = pd.DataFrame({by_cols[0]: list(series.index)})
        table["weight"] = series.to_numpy()
    table["weight"] = pd.to_numeric(table["weight"], errors="coerce").astype("float64")
    bad = table["weight"].isna() | (table["weight"] < 0) | ~np.isfinite(table["weight"])
    if bad.any():
        raise ValueError(f"weights must be numbers >= 0; got {table.loc[bad, 'weight'].tolist()!r}")
    if table.duplicated(list(by_cols)).any():
        raise ValueError(f"weights must name each group once; repeated in {list(by_cols)}")
    return table.reset_index(drop=True)


def _basis_weights(
    history: Any,
    pipeline: Any,
    *,
    by_cols: tuple[str, ...],
    mix: float,
    amount_col: str,
    owner_col: str,
    opportunity_col: str,
    outcome_col: str,
    entered_col: str,
    open_outcomes: tuple[str, ...],
) -> pd.DataFrame:
    keys = list(by_cols)
    parts = []
    hist = None
    if history is not None:
        hist = as_pandas(history)
        require_columns(
            hist.columns, [*keys, amount_col], where="decompose_target (history)", table="orders"
        )
        amount = pd.to_numeric(hist[amount_col]).astype("float64").fillna(0.0)
        revenue = amount.groupby([hist[c] for c in keys], dropna=False).sum().clip(lower=0.0)
        parts.append(revenue.rename("history").reset_index())
    if pipeline is not None:
        stages = as_pandas(pipeline)
        missing = [c for c in keys if c not in stages.columns]
        if missing:
            if hist is None or owner_col not in stages.columns or owner_col not in hist.columns:
                require_columns(
                    stages.columns, keys, where="decompose_target (pipeline)", table="stages"
                )
            lookup = hist.dropna(subset=[owner_col]).drop_duplicates(owner_col, keep="last")
            stages = stages.merge(
                lookup[[owner_col, *missing]], on=owner_col, how="left", validate="many_to_one"
            )
        require_columns(
            stages.columns,
            [*keys, amount_col, opportunity_col, outcome_col],
            where="decompose_target (pipeline)",
            table="stages",
        )
        if entered_col in stages.columns:
            stages = stages.sort_values(entered_col, na_position="first", kind="mergesort")
        latest = stages.drop_duplicates(opportunity_col, keep="last")
        latest = latest[latest[outcome_col].isin(open_outcomes)]
        amount = pd.to_numeric(latest[amount_col]).astype("float64").fillna(0.0).clip(lower=0.0)
        open_amount = amount.groupby([latest[c] for c in keys], dropna=False).sum()
        parts.append(open_amount.rename("pipeline").reset_index())
    table = parts[0]
    for part in parts[1:]:
        table = table.merge(part, on=keys, how="outer")
    table = table.dropna(subset=keys, how="any")
    for col in ("history", "pipeline"):
        if col in table:
            table[col] = table[col].fillna(0.0)
    if "history" in table and "pipeline" in table:
        shares = []
        for col, w in (("history", mix), ("pipeline", 1.0 - mix)):
            col_total = table[col].sum()
            shares.append(table[col] / col_total * w if col_total > 0 else 0.0 * table[col])
        table["weight"] = shares[0] + shares[1]
    else:
        table["weight"] = table["history" if "history" in table else "pipeline"]
    return table.reset_index(drop=True)
