"""RFM analysis: per-customer recency, frequency and monetary value, scores and segments.

Four steps, each a pure function (data in, new data out, the input never modified):

1. :func:`rfm_summary` – one row per customer from an orders table, either in the analyst's
   convention (recency in days, purchase days, total and mean spend) or in the convention of
   lifetimes' ``summary_data_from_transaction_data`` (repeat periods, ``recency``, ``T``,
   ``monetary_value``) that BG/NBD and Gamma-Gamma models expect. The transaction-level work is
   written once against narwhals, so pandas (numpy- or Arrow-backed), Polars (eager or lazy),
   DuckDB, PySpark and Dask give the same answer.
2. :func:`rfm_scores` – scores 1..``bins`` by rank, ties sharing a score.
3. :func:`rfm_segments` – the Chinese 8-class model (``cn8``: R, F, M high or low against the mean)
   or the classic 10-segment R×F grid (``classic``), with labels in Chinese or English and a
   recommended action for each segment.
4. :func:`segment_table` – customers, revenue and their shares per segment.

The segment maps are data (:data:`CN8_SEGMENTS`, :data:`CLASSIC_SEGMENTS`); pass ``segments=`` to
use your own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from ._frames import as_pandas
from ._validate import as_of_day, is_negative_money, is_positive_money
from .columns import AMOUNT, CUSTOMER_ID, ORDER_DATE, ORDER_ID, require_columns
from .errors import ParameterError

__all__ = [
    "CLASSIC_SEGMENTS",
    "CN8_SEGMENTS",
    "rfm_scores",
    "rfm_segments",
    "rfm_summary",
    "segment_table",
]

#: The Chinese 8-class RFM model. Codes are R, F, M in that order, ``1`` = high, ``0`` = low
#: (R high = recent). Each entry holds the Chinese and English label and a recommended action.
CN8_SEGMENTS: dict[str, dict[str, str]] = {
    "111": {
        "zh": "重要价值客户",
        "en": "Important value",
        "action_zh": "专属服务与折扣，优先维护",
        "action_en": "Dedicated service and discounts; look after them first",
    },
    "101": {
        "zh": "重要发展客户",
        "en": "Important development",
        "action_zh": "激活复购，推送新品",
        "action_en": "Encourage repeat purchases; promote new products",
    },
    "011": {
        "zh": "重要保持客户",
        "en": "Important retention",
        "action_zh": "主动联系，防止流失",
        "action_en": "Contact them proactively to prevent churn",
    },
    "001": {
        "zh": "重要挽留客户",
        "en": "Important win-back",
        "action_zh": "重点挽回，了解流失原因",
        "action_en": "Win them back; find out why they stopped buying",
    },
    "110": {
        "zh": "一般价值客户",
        "en": "General value",
        "action_zh": "挖掘需求，交叉销售，提升客单价",
        "action_en": "Explore needs and cross-sell to raise spend per purchase",
    },
    "100": {
        "zh": "一般发展客户",
        "en": "General development",
        "action_zh": "做好新客引导，提供复购优惠",
        "action_en": "Onboard well; offer an incentive for the next purchase",
    },
    "010": {
        "zh": "一般保持客户",
        "en": "General retention",
        "action_zh": "定期关怀，低成本维护",
        "action_en": "Keep in touch regularly at low cost",
    },
    "000": {
        "zh": "一般挽留客户",
        "en": "General win-back",
        "action_zh": "低成本唤醒，无响应则减少投入",
        "action_en": "Low-cost reactivation; reduce effort if there is no response",
    },
}

#: The classic 10-segment grid over the recency score ``r`` and frequency score ``f`` (1-5, both
#: bounds inclusive): the ``seg_map`` of the Miuul CRM-analytics course, reproduced in many public
#: Kaggle RFM notebooks. Every (r, f) pair falls in exactly one segment.
CLASSIC_SEGMENTS: dict[str, dict[str, Any]] = {
    "champions": {
        "r": (5, 5),
        "f": (4, 5),
        "zh": "冠军客户",
        "en": "Champions",
        "action_zh": "回馈奖励，抢先体验新品，发展为口碑推荐人",
        "action_en": "Reward them; offer early access; turn them into advocates",
    },
    "loyal_customers": {
        "r": (3, 4),
        "f": (4, 5),
        "zh": "忠诚客户",
        "en": "Loyal Customers",
        "action_zh": "推荐高价值产品，邀请评价与转介绍",
        "action_en": "Upsell higher-value products; ask for reviews and referrals",
    },
    "potential_loyalists": {
        "r": (4, 5),
        "f": (2, 3),
        "zh": "潜力忠诚客户",
        "en": "Potential Loyalists",
        "action_zh": "推出会员或积分计划，推荐相关产品",
        "action_en": "Offer a membership or loyalty programme; recommend related products",
    },
    "new_customers": {
        "r": (5, 5),
        "f": (1, 1),
        "zh": "新客户",
        "en": "New Customers",
        "action_zh": "做好入门引导与售后支持，尽早建立关系",
        "action_en": "Onboard them well; give early support and build the relationship",
    },
    "promising": {
        "r": (4, 4),
        "f": (1, 1),
        "zh": "有潜力客户",
        "en": "Promising",
        "action_zh": "加深品牌认知，提供试用或优惠",
        "action_en": "Build awareness; offer trials or introductory discounts",
    },
    "need_attention": {
        "r": (3, 3),
        "f": (3, 3),
        "zh": "需要关注客户",
        "en": "Need Attention",
        "action_zh": "限时优惠，按历史购买推荐",
        "action_en": "Limited-time offers; recommend from purchase history",
    },
    "about_to_sleep": {
        "r": (3, 3),
        "f": (1, 2),
        "zh": "即将沉睡客户",
        "en": "About To Sleep",
        "action_zh": "分享有价值的内容，推荐热门产品，重新建立联系",
        "action_en": "Share useful content; recommend popular products; reconnect",
    },
    "at_risk": {
        "r": (1, 2),
        "f": (3, 4),
        "zh": "流失风险客户",
        "en": "At Risk",
        "action_zh": "个性化回访，提供续约或复购优惠",
        "action_en": "Personal outreach; renewal or repeat-purchase offers",
    },
    "cant_lose": {
        "r": (1, 2),
        "f": (5, 5),
        "zh": "不能失去的客户",
        "en": "Can't Lose Them",
        "action_zh": "高层拜访，了解问题，定制挽回方案",
        "action_en": "Senior-level contact; learn what went wrong; a tailored win-back offer",
    },
    "hibernating": {
        "r": (1, 2),
        "f": (1, 2),
        "zh": "沉睡客户",
        "en": "Hibernating",
        "action_zh": "低成本唤醒，推荐其他品类，避免过度投入",
        "action_en": "Low-cost reactivation with other categories; do not overspend",
    },
}

_LABEL_KEYS = ("zh", "en", "action_zh", "action_en")
_FREQS = ("D", "W", "M")
_EPOCH = dt.datetime(1970, 1, 1)
# Days from 0001-01-01 (proleptic Gregorian day 0) to 1970-01-01.
_EPOCH_ORDINAL = 719_162
# 1970-01-01 is a Thursday: adding 3 puts Monday 1969-12-29 at day 0 of week 0, so weeks run
# Monday to Sunday like pandas' ``W`` (= ``W-SUN``) periods. The offset keeps floor division on
# non-negative numbers (backends disagree on negative integer division) for dates after ~1700.
_WEEK_SHIFT = 3
_WEEK_OFFSET = 7 * 100_000

# Private working columns; the leading "__rfm" keeps them clear of user column names.
_AMT = "__rfm_amount"
_CUST = "__rfm_customer"
_KEY = "__rfm_key"
_DN = "__rfm_day_number"
_PER = "__rfm_period"
_ASOF = "__rfm_as_of"
_OKEY = "__rfm_order_key"
_OKDAY = "__rfm_order_day"
_BUY = "__rfm_buy"
_BDAY = "__rfm_buy_day"
_BDN = "__rfm_buy_day_number"
_FIRST = "__rfm_first_period"
_REP = "__rfm_repeat_amount"
_NPER = "__rfm_periods"
_LAST = "__rfm_last_period"
_NEG = "__rfm_refund"


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


def rfm_summary(
    orders: Any,
    *,
    customer_col: str = CUSTOMER_ID,
    date_col: str = ORDER_DATE,
    amount_col: str = AMOUNT,
    order_col: str = ORDER_ID,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
    convention: str = "days",
    freq: str = "D",
    freq_multiplier: float = 1,
    frequency: str = "days",
    keep_non_buyers: bool = True,
) -> Any:
    """Summarise an orders table into one row per customer: recency, frequency, monetary.

    Parameters
    ----------
    orders : DataFrame, LazyFrame, DuckDB relation, PySpark or Dask DataFrame
        Order lines with a customer, a datetime and an amount column (a clean orders table from
        :func:`analysis_kit.clean_table`). pandas (the default, numpy- or Arrow-backed), Polars
        ``DataFrame`` or ``LazyFrame``, DuckDB relations, PySpark and Dask DataFrames are
        accepted, through narwhals. (PySpark: timestamps are read in the session time zone;
        set ``spark.sql.session.timeZone`` to ``UTC`` for the dates pandas would see.)
    customer_col, date_col, amount_col : str
        Column names; default to the canonical ``customer_id``, ``order_date``, ``amount``.
        ``date_col`` must hold datetimes or dates (parse text dates with ``clean_table`` first).
        Times with a time zone count on their local calendar day (pandas and Polars keep the
        zone per column; DuckDB reads zoned times in its session ``TimeZone``).
    order_col : str, default="order_id"
        Order id column, used only by ``frequency="orders"`` and only if present.
    as_of : str, date or datetime, optional
        The analysis date (lifetimes' ``observation_period_end``). Defaults to the latest order
        date in the data (among lines with a customer and a date). Only its calendar day is
        used: a time of day is dropped, and so is a time zone, keeping the local date
        (``"2024-07-01T02:00+08:00"`` is 1 July). Every line dated on the ``as_of`` day counts,
        whatever its time (17:42, 23:59). Lines dated after ``as_of`` are **excluded**: in the
        ``days`` convention every line after the ``as_of`` day; in the ``lifetimes`` convention
        every line after the ``freq`` period that contains ``as_of`` (lifetimes compares whole
        periods, so a later order in the same week or month is kept).
    convention : {"days", "lifetimes"}, default="days"
        Which summary to build; see Returns.
    freq : {"D", "W", "M"}, default="D"
        Period length for ``convention="lifetimes"``: days, weeks (Monday to Sunday, pandas'
        ``W-SUN``) or calendar months. Ignored by the ``days`` convention.
    freq_multiplier : float, default=1
        ``convention="lifetimes"`` only, as lifetimes' own parameter: ``recency`` and ``T`` are
        divided by it, so ``freq="D", freq_multiplier=7`` counts purchase *days* and measures time
        in weeks of 7 days. This is how the published CDNOW BG/NBD figures were computed
        (Fader, Hardie and Lee 2005: r 0.243, α 4.414, a 0.793, b 2.426); ``freq="W"`` merges
        purchases of one Monday-to-Sunday week instead and gives other figures.
    frequency : {"days", "orders"}, default="days"
        What the ``days`` convention counts: distinct purchase days, or orders (distinct values
        of ``order_col`` per customer if the column exists, otherwise order lines).
    keep_non_buyers : bool, default=True
        ``days`` convention only: keep customers with no purchase before ``as_of`` (only refunds
        or zero amounts) with ``frequency`` 0 and missing ``recency``, ``first_purchase`` and
        ``last_purchase``. ``False`` drops them. The ``lifetimes`` convention always drops
        customers without a purchase period (only refunds: its ``T`` needs a first purchase);
        a customer whose only lines are 0.00 has purchase periods there, as in lifetimes.

    Returns
    -------
    DataFrame, LazyFrame, DuckDB relation, PySpark or Dask DataFrame
        The same kind of object as ``orders``: pandas in, pandas out; Polars ``DataFrame`` in,
        Polars ``DataFrame`` out; lazy inputs (Polars ``LazyFrame``, DuckDB relation, PySpark
        and Dask DataFrames) stay lazy until the caller collects them. One row per customer,
        sorted by customer.

        ``convention="days"``:

        - ``customer_col`` – the customer.
        - ``recency`` – days from the last purchase day to the ``as_of`` day, as a float on
          every engine (missing for non-buyers).
        - ``frequency`` – number of purchase days (or orders / lines, see ``frequency``).
        - ``monetary`` – net total: all amounts up to ``as_of``, refunds subtracted.
        - ``monetary_mean`` – ``monetary / frequency``: net spend per purchase day (or order);
          missing when ``frequency`` is 0.
        - ``first_purchase``, ``last_purchase`` – first and last purchase day (datetime at
          midnight; missing for non-buyers).

        ``convention="lifetimes"`` (floats, as lifetimes returns them):

        - ``customer_col`` – the customer.
        - ``frequency`` – number of repeat periods: periods with a purchase (any line, 0.00
          included, as in lifetimes; see Notes for refunds), minus 1.
        - ``recency`` – periods between the first and the last purchase period.
        - ``T`` – periods between the first purchase period and the ``as_of`` period.
        - ``monetary_value`` – mean of the per-period net totals of the repeat periods (the first
          period left out; a period of 0.00 lines counts as 0); 0 when ``frequency`` is 0.

    Notes
    -----
    **Money in cents.** Amounts are compared in cents: a net amount is positive when it rounds
    to at least 0.01 (it is >= 0.005) and a line is a refund when it rounds to at most -0.01.
    Float sums are not exact (-17.80 + 16.95 + 0.85 gives -1.4e-15, 1.10 + 2.20 - 3.30 gives
    +4.4e-16), so a day bought and fully refunded nets to 0.00 on every engine, never to a
    "purchase" of 4e-16. The reported sums themselves are not rounded.

    **Refunds and zero amounts, days convention.** Lines are netted per purchase event first:
    per day (``days``), per order (``orders``) or per line (``orders`` without an order id
    column). An event counts as a purchase only when its net amount is positive, so a refund on
    the day of the purchase reduces that day's value, a zero-amount line is never a purchase and
    a day with a full refund is not a purchase day. ``monetary`` is the net total of every line,
    so refunds on other days subtract too, and a customer whose lines are only refunds or zeros
    has ``frequency`` 0 and ``monetary`` <= 0.

    **Refunds and zero amounts, lifetimes convention.** This is lifetimes 0.11's
    ``summary_data_from_transaction_data(..., monetary_value_col=amount_col)``: the amounts of a
    period are summed and *every* period with a line is a purchase period, whatever its amount,
    so 0.00 lines (samples, free replacements) count as purchases worth 0 and a customer whose
    only purchases were 0.00 is kept with ``frequency`` 0 or more. On orders without negative
    amounts the result equals lifetimes'. lifetimes has no notion of refunds: it would count a
    period holding only a refund as a purchase with a negative value, which the Gamma-Gamma
    model cannot use. Here refunds keep their rule: a period with a refund line (an amount of
    -0.01 or less) is a purchase period only when its net amount is positive (a partial refund
    lowers the period's value; a period fully refunded, or holding only refunds, is no
    purchase), and a customer with no purchase period is left out.

    **Missing values.** Lines without a customer or a date are ignored; a missing amount counts
    as 0.

    **Periods (lifetimes convention).** Like lifetimes, dates are mapped to ``freq`` periods
    (pandas ``to_period(freq)``), purchases in the same period are merged (their amounts summed)
    and ``recency`` and ``T`` are differences of period numbers: days for ``D``, Monday-to-Sunday
    weeks for ``W``, calendar months for ``M`` (Jan 31 to Feb 1 is one month; Feb 1 to Feb 28 is
    zero). For ``D`` and ``W`` this equals lifetimes 0.11's
    ``(period start - first period start) / np.timedelta64(1, freq)``; for ``M`` lifetimes 0.11
    divides by numpy's average month, which current pandas rejects, and earlier lifetimes
    versions subtracted the periods as here. All of this runs in narwhals on every backend.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame(
    ...     {
    ...         "customer_id": ["A", "A", "A", "B"],
    ...         "order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-10", "2024-01-05"]),
    ...         "amount": [100.0, 50.0, 30.0, 80.0],
    ...     }
    ... )
    >>> rfm_summary(orders)[["customer_id", "recency", "frequency", "monetary"]]
      customer_id  recency  frequency  monetary
    0           A      0.0          2     180.0
    1           B      5.0          1      80.0
    >>> rfm_summary(orders, convention="lifetimes")
      customer_id  frequency  recency    T  monetary_value
    0           A        1.0      9.0  9.0            30.0
    1           B        0.0      0.0  5.0             0.0
    """
    _check_choice("convention", convention, ("days", "lifetimes"))
    _check_choice("freq", freq, _FREQS)
    _check_choice("frequency", frequency, ("days", "orders"))
    if (
        isinstance(freq_multiplier, bool)
        or not isinstance(freq_multiplier, int | float)
        or not freq_multiplier > 0
    ):
        raise ParameterError(
            f"freq_multiplier must be a positive number, e.g. 7 for weeks of days; "
            f"got {freq_multiplier!r}"
        )
    frame = nw.from_native(orders)
    schema = frame.collect_schema()
    require_columns(
        schema.names(), (customer_col, date_col, amount_col), where="rfm_summary", table="orders"
    )
    date_type = schema[date_col]
    if not isinstance(date_type, nw.Datetime | nw.Date):
        raise TypeError(
            f"rfm_summary: date_col {date_col!r} must hold datetimes or dates, got {date_type}; "
            "parse dates first, e.g. with analysis_kit.clean_table"
        )
    as_of_number = None if as_of is None else _day_of(as_of)
    use_orders = frequency == "orders" and order_col in schema

    keep = [customer_col, date_col, amount_col] + ([order_col] if use_orders else [])
    frame = frame.select(keep)
    if getattr(date_type, "time_zone", None):
        # Days are the local calendar's: an order at 01:00 in Shanghai is that day's order.
        frame = frame.with_columns(nw.col(date_col).dt.replace_time_zone(None))
    frame, keys = _prepare_pandas(frame, customer_col, date_col)
    customer = _CUST if keys is not None else customer_col
    lines = frame.filter(~nw.col(customer).is_null(), ~nw.col(date_col).is_null())
    amount = nw.col(amount_col).cast(nw.Float64).fill_null(0.0).alias(_AMT)
    if _DN in lines.columns:
        lines = lines.with_columns(amount)
    else:
        day = nw.col(date_col)
        if frame.implementation.is_polars():
            # Polars counts days itself, about seven times faster than the calendar arithmetic.
            day = day.cast(nw.Date).cast(nw.Int64)
        else:
            day = _day_number(day)
        lines = lines.with_columns(amount, day.alias(_DN))
    if convention == "days":
        result = _days_summary(
            lines,
            customer_col=customer,
            date_col=date_col,
            order_col=order_col if use_orders else None,
            per_line=frequency == "orders" and not use_orders,
            as_of_day=as_of_number,
            keep_non_buyers=keep_non_buyers,
            packed=keys is not None,
        )
    else:
        result = _lifetimes_summary(
            lines,
            customer_col=customer,
            date_col=date_col,
            as_of_day=as_of_number,
            freq=freq,
            packed=keys is not None,
            multiplier=float(freq_multiplier),
        )
    native = result.sort(customer).to_native()
    if keys is not None:
        codes = native[_CUST].to_numpy()
        native = native.drop(columns=_CUST)
        native.insert(0, customer_col, keys.take(codes))
    if isinstance(native, pd.DataFrame):
        native = native.reset_index(drop=True)
    return native


def _prepare_pandas(frame: Any, customer_col: str, date_col: str) -> tuple[Any, pd.Index | None]:
    """Give a pandas frame sorted integer customer codes and day numbers, computed once.

    pandas hashes a text key again in every ``groupby``; grouping by integer codes is several
    times faster, and with sorted codes, sorting by code sorts by customer. A numpy datetime
    column also gives its day numbers (``_DN``) directly. Other backends group text keys and
    compute dates natively and are returned unchanged (``keys`` is None). Lines without a
    customer are left out here, as the null filter would leave them out.
    """
    if frame.implementation is not nw.Implementation.PANDAS:
        return frame, None
    native = frame.to_native()
    try:
        codes, keys = pd.factorize(native[customer_col], sort=True)
    except TypeError:  # mixed key types that do not sort: group them as they are
        return frame, None
    data = {name: native[name] for name in native.columns if name != customer_col}
    data[_CUST] = pd.Series(codes, index=native.index)
    dates = native[date_col]
    if isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M":
        # numpy floors when it converts to whole days; NaT lines are filtered out later
        days = dates.to_numpy().astype("datetime64[D]").view("int64")
        data[_DN] = pd.Series(days, index=native.index)
    prepared = pd.DataFrame(data, copy=False)
    if (codes < 0).any():
        prepared = prepared[codes >= 0]
    return nw.from_native(prepared), keys


def _group_by_customer_and(
    lines: Any, customer_col: str, column: str, values: list[str], *aggs: Any, packed: bool
) -> Any:
    """``lines.group_by(customer_col, column).agg(*aggs)``, faster on integer-coded pandas keys.

    ``aggs`` may only use the columns named in ``values``. With ``packed`` (customer codes from
    :func:`_prepare_pandas`, an eager frame) the two integer keys are packed into one,
    ``code * span + (value - lowest)``, and the lines sorted by it: pandas then groups a sorted
    integer key without hashing ten million values, and the result comes out sorted by customer,
    which makes every later per-customer step a fast sorted group-by too. The keys are unpacked
    after grouping.
    """
    if packed:
        low, high = lines.select(
            nw.col(column).min().alias("low"), nw.col(column).max().alias("high")
        ).row(0)
        if not pd.isna(low):
            low, span = int(low), int(high) - int(low) + 1
            key = nw.col(customer_col) * span + (nw.col(column) - low)
            return (
                lines.select(key.alias(_KEY), *values)
                .sort(_KEY)
                .group_by(_KEY)
                .agg(*aggs)
                .with_columns(
                    (nw.col(_KEY) // span).alias(customer_col),
                    # key - key // span * span, not %: Arrow-backed pandas has no modulo
                    (nw.col(_KEY) - nw.col(_KEY) // span * span + low).alias(column),
                )
                .drop(_KEY)
            )
    return lines.group_by(customer_col, column).agg(*aggs)


def _with_as_of(per_customer: Any, lines: Any, column: str, as_of: int | None) -> Any:
    """Add the as-of day or period: the given one, or the latest in ``lines``."""
    if as_of is not None:
        return per_customer.with_columns(nw.lit(as_of, dtype=nw.Int64).alias(_ASOF))
    latest = lines.select(nw.col(column).max().alias(_ASOF))
    return per_customer.join(latest, how="cross")


def _days_summary(
    lines: Any,
    *,
    customer_col: str,
    date_col: str,
    order_col: str | None,
    per_line: bool,
    as_of_day: int | None,
    keep_non_buyers: bool,
    packed: bool,
) -> Any:
    """Summary in the analyst's convention: recency in days, purchase days or orders."""
    if as_of_day is not None:
        lines = lines.filter(nw.col(_DN) <= as_of_day)
    if per_line:
        events = lines.select(customer_col, date_col, _DN, _AMT)
    else:
        if order_col is None:
            keys = None
        else:
            # Lines without an order id: one order per customer and day.
            lines = lines.with_columns(
                nw.col(order_col).cast(nw.String).fill_null("").alias(_OKEY),
                nw.when(nw.col(order_col).is_null())
                .then(nw.col(_DN))
                .otherwise(nw.lit(-1, dtype=nw.Int64))
                .alias(_OKDAY),
            )
            keys = [customer_col, _OKEY, _OKDAY]
        aggs = [nw.col(_AMT).sum(), nw.col(date_col).min()]
        if order_col is not None:
            aggs.append(nw.col(_DN).min())
        if keys is None:
            events = _group_by_customer_and(
                lines, customer_col, _DN, [_AMT, date_col], *aggs, packed=packed
            )
        else:
            events = lines.group_by(keys).agg(*aggs)
    buy = is_positive_money(nw.col(_AMT))
    events = events.with_columns(
        nw.when(buy)
        .then(nw.lit(1, dtype=nw.Int64))
        .otherwise(nw.lit(0, dtype=nw.Int64))
        .alias(_BUY),
        nw.when(buy).then(nw.col(date_col)).alias(_BDAY),
        nw.when(buy).then(nw.col(_DN)).alias(_BDN),
    )
    per_customer = events.group_by(customer_col).agg(
        nw.col(_AMT).sum().alias("monetary"),
        nw.col(_BUY).sum().alias("frequency"),
        nw.col(_BDAY).min().alias("first_purchase"),
        nw.col(_BDAY).max().alias("last_purchase"),
        nw.col(_BDN).max().alias(_BDN),
    )
    if not keep_non_buyers:
        per_customer = per_customer.filter(nw.col("frequency") > 0)
    per_customer = _with_as_of(per_customer, lines, _DN, as_of_day)
    return per_customer.select(
        nw.col(customer_col),
        # Float on every backend: pandas turns the column float as soon as a day is not a
        # purchase (a refund), the others keep integers; one dtype whatever the data or engine.
        (nw.col(_ASOF) - nw.col(_BDN)).cast(nw.Float64).alias("recency"),
        nw.col("frequency").cast(nw.Int64),
        nw.col("monetary"),
        (nw.col("monetary") / nw.when(nw.col("frequency") > 0).then(nw.col("frequency"))).alias(
            "monetary_mean"
        ),
        nw.col("first_purchase").cast(nw.Datetime("us")).dt.truncate("1d"),
        nw.col("last_purchase").cast(nw.Datetime("us")).dt.truncate("1d"),
    )


def _lifetimes_summary(
    lines: Any,
    *,
    customer_col: str,
    date_col: str,
    as_of_day: int | None,
    freq: str,
    packed: bool,
    multiplier: float,
) -> Any:
    """Summary in lifetimes' convention: repeat periods, recency, T, monetary_value."""
    if freq == "D":
        period = nw.col(_DN)
    elif freq == "W":
        period = (nw.col(_DN) + (_WEEK_SHIFT + _WEEK_OFFSET)) // 7 - _WEEK_OFFSET // 7
    else:
        date = nw.col(date_col)
        period = date.dt.year().cast(nw.Int64) * 12 + date.dt.month().cast(nw.Int64)
    refund = nw.when(is_negative_money(nw.col(_AMT))).then(nw.lit(1, dtype=nw.Int64))
    lines = lines.with_columns(
        period.cast(nw.Int64).alias(_PER),
        refund.otherwise(nw.lit(0, dtype=nw.Int64)).alias(_NEG),
    )
    as_of_period = None if as_of_day is None else _period_of(as_of_day, freq)
    if as_of_period is not None:
        lines = lines.filter(nw.col(_PER) <= as_of_period)
    periods = (
        _group_by_customer_and(
            lines,
            customer_col,
            _PER,
            [_AMT, _NEG],
            nw.col(_AMT).sum(),
            nw.col(_NEG).max(),
            packed=packed,
        )
        # lifetimes counts every period with a line, a zero amount too; a period with a refund
        # line counts only when it nets to a positive amount (lifetimes has no refunds).
        .filter(is_positive_money(nw.col(_AMT)) | (nw.col(_NEG) == 0))
        .with_columns(nw.col(_PER).min().over(customer_col).alias(_FIRST))
        .with_columns(
            nw.when(nw.col(_PER) > nw.col(_FIRST))
            .then(nw.col(_AMT))
            .otherwise(nw.lit(0.0, dtype=nw.Float64))
            .alias(_REP)
        )
    )
    per_customer = periods.group_by(customer_col).agg(
        nw.col(_PER).count().alias(_NPER),
        nw.col(_FIRST).min(),
        nw.col(_PER).max().alias(_LAST),
        nw.col(_REP).sum(),
    )
    per_customer = _with_as_of(per_customer, lines, _PER, as_of_period)
    repeat = nw.col(_NPER) - 1
    return per_customer.select(
        nw.col(customer_col),
        repeat.cast(nw.Float64).alias("frequency"),
        ((nw.col(_LAST) - nw.col(_FIRST)).cast(nw.Float64) / multiplier).alias("recency"),
        ((nw.col(_ASOF) - nw.col(_FIRST)).cast(nw.Float64) / multiplier).alias("T"),
        nw.when(repeat > 0)
        .then(nw.col(_REP) / repeat)
        .otherwise(nw.lit(0.0, dtype=nw.Float64))
        .alias("monetary_value"),
    )


def _day_number(date: Any) -> Any:
    """Return a narwhals expression: the day number (days since 1970-01-01) of a date column.

    Built from the calendar year and the day of the year with integer arithmetic only, because
    that is what every backend computes alike: durations (``dt.total_seconds``) are missing on
    Spark and integer casts of datetimes give seconds on one backend and microseconds on
    another. The divisions act on positive numbers (years from 1 on), where backends agree.
    Times of day are ignored: 23:59 is the same day as 00:00.

    Parameters
    ----------
    date : narwhals Expr
        A datetime or date expression, e.g. ``nw.col("order_date")``.

    Returns
    -------
    narwhals Expr
        Int64 day numbers; missing where ``date`` is missing.

    Examples
    --------
    >>> import narwhals as nw
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"d": pd.to_datetime(["1970-01-02 23:59", "2024-03-01 00:00"])})
    >>> nw.from_native(frame).select(_day_number(nw.col("d"))).to_native()["d"].tolist()
    [1, 19783]
    """
    before = date.dt.year().cast(nw.Int64) - 1
    # floor of a true division, not ``//``: narwhals spells ``//`` on DuckDB as a long CASE
    # (for negative operands) that costs a quarter of the whole summary; the quotients of
    # years by 4, 100 and 400 are exact in float64.
    days = before * 365 + (before / 4).floor() - (before / 100).floor() + (before / 400).floor()
    return (days + date.dt.ordinal_day().cast(nw.Int64) - 1 - _EPOCH_ORDINAL).cast(nw.Int64)


def _day_of(value: str | dt.date | dt.datetime | pd.Timestamp) -> int:
    """Return the day number (days since 1970-01-01) of the as-of day."""
    return int((as_of_day(value) - pd.Timestamp(_EPOCH)).days)


def _period_of(day: int, freq: str) -> int:
    """Return the period number of day number ``day``, as computed in :func:`_lifetimes_summary`."""
    if freq == "D":
        return day
    if freq == "W":
        return (day + _WEEK_SHIFT) // 7
    stamp = pd.Timestamp(_EPOCH) + pd.Timedelta(days=day)
    return stamp.year * 12 + stamp.month


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


def rfm_scores(
    summary: Any,
    *,
    bins: int = 5,
    recency_col: str = "recency",
    frequency_col: str = "frequency",
    monetary_col: str = "monetary",
) -> pd.DataFrame:
    """Score recency, frequency and monetary value from 1 to ``bins`` by rank.

    Each value's score is ``1 + floor(bins * (rank - 1) / n)``, where ``rank`` is its rank with
    ``method="min"`` (tied values share the lowest rank of their group) and ``n`` the number of
    non-missing values. Frequency and monetary rank ascending (more = higher score); recency
    ranks descending (the most recent customers, lowest recency, score highest). With distinct
    values this is an equal-size split into ``bins`` groups, like ``qcut`` on ranks; tied values
    always get the same score, which depends only on the values, never on row order; with fewer
    distinct values than ``bins`` some scores are simply unused. Missing values (e.g. the recency
    of a customer who never bought) score 1.

    Parameters
    ----------
    summary : DataFrame
        One row per customer, as returned by :func:`rfm_summary` (a Polars or DuckDB result is
        converted to pandas).
    bins : int, default=5
        Number of score levels.
    recency_col, frequency_col, monetary_col : str
        Columns to score.

    Returns
    -------
    DataFrame
        A pandas copy of ``summary`` with ``r_score``, ``f_score`` and ``m_score`` (int64,
        1..``bins``) added. ``summary`` itself is not modified.

    Examples
    --------
    >>> import pandas as pd
    >>> rfm = pd.DataFrame({"recency": [1, 10, 10, 40], "frequency": [5, 1, 1, 2],
    ...                     "monetary": [900.0, 100.0, 50.0, 300.0]})
    >>> rfm_scores(rfm, bins=4)[["r_score", "f_score", "m_score"]]
       r_score  f_score  m_score
    0        4        4        4
    1        2        1        2
    2        2        1        1
    3        1        3        3
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1; got {bins!r}")
    frame = as_pandas(summary)
    require_columns(frame.columns, [recency_col, frequency_col, monetary_col], where="rfm_scores")
    out = frame.copy()
    out["r_score"] = _rank_score(frame[recency_col], int(bins), ascending=False)
    out["f_score"] = _rank_score(frame[frequency_col], int(bins), ascending=True)
    out["m_score"] = _rank_score(frame[monetary_col], int(bins), ascending=True)
    return out


def _rank_score(values: pd.Series, bins: int, *, ascending: bool) -> pd.Series:
    """Score 1..bins from min-ranks; missing values score 1."""
    numbers = pd.to_numeric(values, errors="raise").astype("float64")
    valid = numbers.notna().to_numpy()
    n = int(valid.sum())
    ranks = numbers.rank(method="min", ascending=ascending).to_numpy()
    scores = np.ones(len(numbers), dtype=np.int64)
    if n:
        below = ranks[valid].astype(np.int64) - 1
        scores[valid] = below * bins // n + 1
    return pd.Series(scores, index=values.index, dtype="int64")


# ---------------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------------


def rfm_segments(
    scores_or_summary: Any,
    *,
    scheme: str = "cn8",
    lang: str = "zh",
    segments: Mapping[str, Mapping[str, Any]] | None = None,
    recency_col: str = "recency",
    frequency_col: str = "frequency",
    monetary_col: str = "monetary",
    r_score_col: str = "r_score",
    f_score_col: str = "f_score",
) -> pd.DataFrame:
    """Assign each customer an RFM segment, its label and a recommended action.

    ``scheme="cn8"`` – the Chinese 8-class model (RFM 八类客户). Each of R, F, M is high (1) or
    low (0) against the mean over all customers: R is high when ``recency`` is **below** its
    mean (a recent buyer), F when ``frequency`` is above its mean, M when ``monetary`` is above
    its mean. A value equal to the mean is low (the rule is strict), and a missing value is low;
    means skip missing values. The code is R, F, M in order: 111 重要价值客户, 101 重要发展客户,
    011 重要保持客户, 001 重要挽留客户, 110 一般价值客户, 100 一般发展客户, 010 一般保持客户,
    000 一般挽留客户 (see :data:`CN8_SEGMENTS`).

    ``scheme="classic"`` – the 10-segment R×F grid of the Miuul CRM-analytics course (its
    ``seg_map``, found in many public Kaggle RFM notebooks) on 1-5 scores, r = ``r_score``,
    f = ``f_score``:

    ===================  ===  ===  ==============
    segment              r    f    中文
    ===================  ===  ===  ==============
    Champions            5    4-5  冠军客户
    Loyal Customers      3-4  4-5  忠诚客户
    Potential Loyalists  4-5  2-3  潜力忠诚客户
    New Customers        5    1    新客户
    Promising            4    1    有潜力客户
    Need Attention       3    3    需要关注客户
    About To Sleep       3    1-2  即将沉睡客户
    At Risk              1-2  3-4  流失风险客户
    Can't Lose Them      1-2  5    不能失去的客户
    Hibernating          1-2  1-2  沉睡客户
    ===================  ===  ===  ==============

    Every (r, f) pair is in exactly one segment. Scores are computed with
    :func:`rfm_scores` (``bins=5``) when the score columns are absent.

    Parameters
    ----------
    scores_or_summary : DataFrame
        Output of :func:`rfm_summary` or :func:`rfm_scores` (converted to pandas if needed).
    scheme : {"cn8", "classic"}, default="cn8"
        Segmentation model.
    lang : {"zh", "en"}, default="zh"
        Language of the ``segment`` and ``action`` columns.
    segments : mapping, optional
        Replaces the scheme's map (:data:`CN8_SEGMENTS` or :data:`CLASSIC_SEGMENTS`). For cn8:
        each of the 8 codes → ``{"zh", "en", "action_zh", "action_en"}``. For classic: segment
        key → the same plus ``"r"`` and ``"f"`` as inclusive ``(low, high)`` score ranges that
        together cover every pair of 1-5 scores exactly once.
    recency_col, frequency_col, monetary_col : str
        Value columns used by cn8.
    r_score_col, f_score_col : str
        Score columns used by classic.

    Returns
    -------
    DataFrame
        A pandas copy of the input with these columns added (the input is not modified):

        - ``segment_code`` – the cn8 code (``"111"`` …) or the classic key (``"champions"`` …).
        - ``segment`` – the segment's label in ``lang``.
        - ``action`` – the recommended action in ``lang``.
        - ``r_score``, ``f_score``, ``m_score`` – classic only, when they had to be computed.

    Examples
    --------
    >>> import pandas as pd
    >>> rfm = pd.DataFrame({"recency": [2, 50], "frequency": [6, 1], "monetary": [900.0, 80.0]})
    >>> rfm_segments(rfm)[["segment_code", "segment"]]
      segment_code segment
    0          111  重要价值客户
    1          000  一般挽留客户
    """
    _check_choice("scheme", scheme, ("cn8", "classic"))
    _check_choice("lang", lang, ("zh", "en"))
    frame = as_pandas(scores_or_summary)
    if scheme == "cn8":
        table = _checked_map(CN8_SEGMENTS if segments is None else segments, scheme)
        missing = sorted(set(CN8_SEGMENTS) - set(table))
        if missing:
            raise ValueError(f"segments for scheme 'cn8' must define every code; missing {missing}")
        require_columns(
            frame.columns, [recency_col, frequency_col, monetary_col], where="rfm_segments"
        )
        out = frame.copy()
        r_high = _above(-_numbers(frame[recency_col]))
        f_high = _above(_numbers(frame[frequency_col]))
        m_high = _above(_numbers(frame[monetary_col]))
        codes = (
            np.where(r_high, "1", "0").astype(object)
            + np.where(f_high, "1", "0").astype(object)
            + np.where(m_high, "1", "0").astype(object)
        )
    else:
        table = _checked_map(CLASSIC_SEGMENTS if segments is None else segments, scheme)
        grid = _classic_grid(table)
        if r_score_col in frame.columns and f_score_col in frame.columns:
            out = frame.copy()
        else:
            require_columns(
                frame.columns, [recency_col, frequency_col, monetary_col], where="rfm_segments"
            )
            out = rfm_scores(
                frame,
                bins=5,
                recency_col=recency_col,
                frequency_col=frequency_col,
                monetary_col=monetary_col,
            )
            r_score_col, f_score_col = "r_score", "f_score"
        r = _scores_1_to_5(out[r_score_col], r_score_col)
        f = _scores_1_to_5(out[f_score_col], f_score_col)
        codes = grid[r - 1, f - 1]
    codes = pd.Series(codes, index=out.index, dtype=object)
    out["segment_code"] = codes.astype("str")
    out["segment"] = codes.map(lambda c: table[c][lang]).astype("str")
    out["action"] = codes.map(lambda c: table[c][f"action_{lang}"]).astype("str")
    return out


def _checked_map(
    table: Mapping[str, Mapping[str, Any]], scheme: str
) -> dict[str, Mapping[str, Any]]:
    needed = _LABEL_KEYS + (("r", "f") if scheme == "classic" else ())
    bad = {str(k): [n for n in needed if n not in v] for k, v in table.items()}
    bad = {k: v for k, v in bad.items() if v}
    if bad:
        raise ValueError(f"segments for scheme {scheme!r} lack keys: {bad}")
    return {str(k): v for k, v in table.items()}


def _classic_grid(table: Mapping[str, Mapping[str, Any]]) -> np.ndarray:
    """Return a 5×5 array of segment keys indexed by (r - 1, f - 1); check full, single cover."""
    grid = np.full((5, 5), None, dtype=object)
    for key, rule in table.items():
        (r_lo, r_hi), (f_lo, f_hi) = rule["r"], rule["f"]
        for r in range(max(int(r_lo), 1), min(int(r_hi), 5) + 1):
            for f in range(max(int(f_lo), 1), min(int(f_hi), 5) + 1):
                if grid[r - 1, f - 1] is not None:
                    raise ValueError(
                        f"classic segments overlap at r={r}, f={f}: "
                        f"{grid[r - 1, f - 1]!r} and {key!r}"
                    )
                grid[r - 1, f - 1] = key
    holes = [(r + 1, f + 1) for r in range(5) for f in range(5) if grid[r, f] is None]
    if holes:
        raise ValueError(f"classic segments leave (r, f) score pairs uncovered: {holes}")
    return grid


def _scores_1_to_5(values: pd.Series, name: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    ok = numbers.notna() & numbers.isin([1, 2, 3, 4, 5])
    if not bool(ok.all()):
        bad = sorted(set(values[~ok].astype(str)))[:5]
        raise ValueError(
            f"scheme 'classic' needs {name} scores from 1 to 5 (rfm_scores with bins=5); got {bad}"
        )
    return numbers.to_numpy().astype(np.int64)


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="raise").astype("float64")


def _above(values: pd.Series) -> np.ndarray:
    """Flag values strictly above the mean of the non-missing values (missing: False)."""
    mean = values.mean()
    return (values > mean).to_numpy(dtype=bool)


# ---------------------------------------------------------------------------------------------
# Segment table
# ---------------------------------------------------------------------------------------------


def segment_table(
    segmented: Any,
    *,
    segment_col: str = "segment",
    monetary_col: str = "monetary",
    recency_col: str = "recency",
    frequency_col: str = "frequency",
) -> pd.DataFrame:
    """Summarise segments: customers, revenue, their shares and mean R, F, M.

    Parameters
    ----------
    segmented : DataFrame
        One row per customer with a segment, e.g. the output of :func:`rfm_segments`.
    segment_col : str, default="segment"
        Column to group by (``"segment_code"`` for codes).
    monetary_col, recency_col, frequency_col : str
        Value columns. Revenue is the sum of ``monetary_col``.

    Returns
    -------
    DataFrame
        One row per segment, sorted by revenue descending (then by segment), with columns
        ``segment_col``, ``customers``, ``customer_share`` (of all customers), ``revenue``,
        ``revenue_share`` (of total revenue; missing when the total is 0), ``mean_recency``,
        ``mean_frequency`` and ``mean_monetary``.

    Examples
    --------
    >>> import pandas as pd
    >>> seg = pd.DataFrame({"segment": ["a", "b", "a"], "recency": [1, 9, 3],
    ...                     "frequency": [4, 1, 2], "monetary": [300.0, 200.0, 100.0]})
    >>> segment_table(seg)[["segment", "customers", "revenue", "revenue_share"]]
      segment  customers  revenue  revenue_share
    0       a          2    400.0       0.666667
    1       b          1    200.0       0.333333
    """
    frame = as_pandas(segmented)
    require_columns(
        frame.columns,
        [segment_col, monetary_col, recency_col, frequency_col],
        where="segment_table",
    )
    values = pd.DataFrame(
        {
            "segment": frame[segment_col].to_numpy(),
            "recency": _numbers(frame[recency_col]).to_numpy(),
            "frequency": _numbers(frame[frequency_col]).to_numpy(),
            "monetary": _numbers(frame[monetary_col]).to_numpy(),
        }
    )
    grouped = values.groupby("segment", sort=True, dropna=False)
    table = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["monetary"].sum(),
            "mean_recency": grouped["recency"].mean(),
            "mean_frequency": grouped["frequency"].mean(),
            "mean_monetary": grouped["monetary"].mean(),
        }
    )
    total_customers = len(values)
    total_revenue = float(values["monetary"].sum())
    table["customer_share"] = table["customers"] / total_customers if total_customers else np.nan
    table["revenue_share"] = table["revenue"] / total_revenue if total_revenue else np.nan
    table = table.rename_axis(segment_col).reset_index()
    table = table.sort_values(
        ["revenue", segment_col], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    columns = [segment_col, "customers", "customer_share", "revenue", "revenue_share"]
    return table[columns + ["mean_recency", "mean_frequency", "mean_monetary"]]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
