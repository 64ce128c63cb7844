"""The figures a sales manager reads first: this period's KPIs, their change and their trend.

:func:`period_kpis` computes each KPI of :data:`KPIS` for the report's period (the month of
``as_of``, up to that day), for the same days of the previous month and of the same month a year
earlier, and for each of the last twelve months (the trend line). A change has the meaning of its
KPI: amounts and counts change by a percentage of the earlier value, ratios by percentage points;
whether a rise is good is the KPI's own (more churn-risk customers is bad). Keys are stable
identifiers, the same in every language; labels come from :data:`KPIS`.

Flows (revenue, win rate, attainment) are summed over the period's days; stocks (weighted pipeline,
customers at churn risk) are counted at the period's last day, from the rows dated up to then, so
an earlier period is computed as it stood then and a report re-run a month later gives the same
earlier figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ._validate import as_of_day
from .columns import AMOUNT, CUSTOMER_ID, ORDER_DATE
from .funnel import OUTCOME

__all__ = [
    "KPIS",
    "SENTENCES",
    "Kpi",
    "format_change",
    "format_value",
    "kpi_sentences",
    "period_kpis",
    "period_windows",
    "sparkline",
]


class Kpi(NamedTuple):
    """One headline figure: stable key, labels, unit and which way is good."""

    key: str
    zh: str
    en: str
    unit: str  # "money" (元), "ratio" (0–1), "count"
    higher_is_better: bool


#: The headline figures, in the order the index shows them.
KPIS: tuple[Kpi, ...] = (
    Kpi("revenue", "本月销售额", "Revenue this month", "money", True),
    Kpi("win_rate", "赢单率", "Win rate", "ratio", True),
    Kpi("weighted_pipeline", "加权管道", "Weighted pipeline", "money", True),
    Kpi("churn_risk", "流失风险客户", "Customers at churn risk", "count", False),
    Kpi("target_attainment", "目标达成率", "Target attainment", "ratio", True),
)
_BY_KEY = {k.key: k for k in KPIS}


class Window(NamedTuple):
    """A period: its first and last day (both included) and its label."""

    start: pd.Timestamp
    end: pd.Timestamp
    label: str


def period_windows(as_of: Any, *, months: int = 12) -> dict[str, object]:
    """Return the report's period and the periods it is compared with.

    The period is the month of ``as_of`` up to that day. ``previous`` and ``year_ago`` cover the
    same days of the month before and of the same month a year earlier (to their month's end when
    ``as_of`` is a month end, or when the earlier month is shorter), so a month-to-date figure is
    never compared with a whole month. ``trend`` holds the ``months`` months ending with the
    period, each whole except the last.

    Examples
    --------
    >>> w = period_windows("2024-03-15")
    >>> w["current"].start.date(), w["current"].end.date(), w["previous"].end.date()
    (datetime.date(2024, 3, 1), datetime.date(2024, 3, 15), datetime.date(2024, 2, 15))
    >>> period_windows("2024-03-31")["previous"].end.date()
    datetime.date(2024, 2, 29)
    """
    day = as_of_day(as_of)
    month = day.to_period("M")
    month_end = day == month.end_time.normalize()

    def same_days(period: pd.Period) -> Window:
        start = period.start_time
        last = period.end_time.normalize()
        end = last if month_end else min(start + pd.Timedelta(days=day.day - 1), last)
        return Window(start, end, str(period))

    trend = []
    for back in range(months - 1, -1, -1):
        period = month - back
        end = day if back == 0 else period.end_time.normalize()
        trend.append(Window(period.start_time, end, str(period)))
    return {
        "current": Window(month.start_time, day, str(month)),
        "previous": same_days(month - 1),
        "year_ago": same_days(month - 12),
        "trend": trend,
    }


def period_kpis(
    tables: Mapping[str, pd.DataFrame], *, as_of: Any, rules: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Compute every KPI of :data:`KPIS` for the period, the compared periods and the trend.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Clean tables by name (``orders``, ``stages``, ``targets``, ``customers``, ``followups``);
        a KPI whose table is absent is missing (shown as "—"), never guessed.
    as_of : date
        The analysis day; the period is its month up to that day.
    rules : mapping, optional
        Tagging rules for the churn-risk count (:func:`analysis_kit.tagging.apply_tags`).

    Returns
    -------
    DataFrame
        One row per KPI, in :data:`KPIS` order: ``key``, ``zh``, ``en``, ``unit``,
        ``higher_is_better``, ``value``, ``previous``, ``year_ago``, ``mom`` and ``yoy`` (the
        change: relative for amounts and counts, in points (0.05 = 5 points) for ratios; missing
        where an earlier value is missing or, for a relative change, zero), ``change_kind``
        (``"relative"`` or ``"points"``), ``good`` (whether the month-on-month change is good;
        missing when there is none), ``basis`` (for the win rate: the deals closed in the period)
        and ``trend`` (the twelve monthly values, oldest first).
    """
    windows = period_windows(as_of)
    periods = [windows["current"], windows["previous"], windows["year_ago"], *windows["trend"]]
    values = {w: _values(tables, w, rules) for w in dict.fromkeys(periods)}
    rows = []
    for kpi in KPIS:
        now = values[windows["current"]][kpi.key]
        before = values[windows["previous"]][kpi.key]
        year = values[windows["year_ago"]][kpi.key]
        mom, yoy = _change(now, before, kpi.unit), _change(now, year, kpi.unit)
        good = None if mom is None or mom == 0 else (mom > 0) == kpi.higher_is_better
        rows.append(
            {
                **kpi._asdict(),
                "value": now,
                "previous": before,
                "year_ago": year,
                "mom": mom,
                "yoy": yoy,
                "change_kind": "points" if kpi.unit == "ratio" else "relative",
                "good": good,
                "basis": values[windows["current"]]["closed_deals"]
                if kpi.key == "win_rate"
                else None,
                "trend": [values[w][kpi.key] for w in windows["trend"]],
            }
        )
    return pd.DataFrame(rows)


def _change(now: float | None, before: float | None, unit: str) -> float | None:
    if _missing(now) or _missing(before):
        return None
    if unit == "ratio":
        return float(now - before)
    return float((now - before) / abs(before)) if before else None


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _values(tables: Mapping[str, pd.DataFrame], window: Window, rules) -> dict[str, float | None]:
    orders = tables.get("orders")
    stages = tables.get("stages")
    revenue = None
    if orders is not None and {ORDER_DATE, AMOUNT} <= set(orders.columns):
        revenue = float(orders.loc[_within(orders[ORDER_DATE], window), AMOUNT].sum())
    win_rate = pipeline = closed = None
    if stages is not None and len(stages):
        win_rate, closed, pipeline = _deal_figures(stages, window)
    return {
        "revenue": revenue,
        "win_rate": win_rate,
        "closed_deals": closed,
        "weighted_pipeline": pipeline,
        "churn_risk": _churn_risk(tables, window, rules),
        "target_attainment": _attainment(tables.get("targets"), revenue, window),
    }


def _within(dates: pd.Series, window: Window) -> pd.Series:
    days = pd.to_datetime(dates).dt.normalize()
    return (days >= window.start) & (days <= window.end)


def _deal_figures(stages: pd.DataFrame, window: Window):
    """Win rate and number of the deals closed in the window; the weighted pipeline at its end."""
    from . import funnel

    deals = funnel.deal_summary(stages, as_of=window.end)  # each deal as it stood then
    closed = deals[_within(deals["closed_at"], window) & deals["outcome"].isin(["won", "lost"])]
    win_rate = closed_count = None
    if OUTCOME in stages.columns:  # without outcomes lost deals are unknown: no win rate
        closed_count = len(closed)
        win_rate = float((closed["outcome"] == "won").mean()) if len(closed) else None
    pipeline = None
    if AMOUNT in stages.columns:  # without amounts there is nothing to weigh
        table = funnel.weighted_pipeline(stages, as_of=window.end)
        pipeline = float(table["weighted_amount"].sum())
    return win_rate, closed_count, pipeline


def _churn_risk(tables, window: Window, rules) -> float | None:
    """Count customers tagged at churn risk on the window's last day (rows up to then)."""
    from . import tagging

    customers, orders = tables.get("customers"), tables.get("orders")
    if customers is None or orders is None or CUSTOMER_ID not in orders.columns:
        return None
    # apply_tags ignores orders, follow-ups and contact dates after the day
    tagged = tagging.apply_tags(
        customers, orders=orders, followups=tables.get("followups"), as_of=window.end, rules=rules
    )
    return float(tagged["churn_risk"].fillna(False).astype(bool).sum())


def _attainment(targets: pd.DataFrame | None, revenue: float | None, window: Window):
    """Revenue over the targets of the window, each target spread evenly over its period's days."""
    if targets is None or revenue is None or not len(targets):
        return None
    starts = pd.to_datetime(targets["period_start"])
    freq = targets["period_freq"].astype("str")
    ends = pd.Series(
        [
            (pd.Period(s, f).end_time.normalize() if pd.notna(s) else pd.NaT)
            for s, f in zip(starts, freq, strict=True)
        ],
        index=targets.index,
    )
    days = (ends - starts).dt.days + 1
    overlap_start = starts.where(starts > window.start, window.start)
    overlap_end = ends.where(ends < window.end, window.end)
    overlap = ((overlap_end - overlap_start).dt.days + 1).clip(lower=0)
    target = float((targets["target"].astype("float64") * overlap / days).sum())
    return revenue / target if target > 0 else None


def format_value(value: object, unit: str, lang: str = "zh") -> str:
    """Write a KPI value as a reader expects it: 万元 or yuan, a percentage, a count; "—" if none.

    Examples
    --------
    >>> format_value(49_509_580.0, "money"), format_value(0.6316, "ratio"), format_value(None, "count")
    ('4,951.0 万元', '63.2%', '—')
    >>> format_value(49_509_580.0, "money", "en")
    '¥49.51M'
    """
    if _missing(value):
        return "—"
    if unit == "money":
        if lang == "en":
            return f"¥{value / 1e6:,.2f}M" if abs(value) >= 1e6 else f"¥{value:,.0f}"
        return f"{value / 1e4:,.1f} 万元"
    if unit == "ratio":
        return f"{value:.1%}"
    return f"{int(round(value)):,d}"


def format_change(change: object, kind: str, lang: str = "zh") -> str:
    """Write a change: ``+12.3%`` for relative ones, ``+4.5 个百分点`` / ``+4.5 pts`` for ratios."""
    if _missing(change):
        return "—"
    if kind == "points":
        points = change * 100
        return f"{points:+.1f} 个百分点" if lang == "zh" else f"{points:+.1f} pts"
    return f"{change:+.1%}"


#: The three sentences of :func:`kpi_sentences`, by language; the third has a variant for when
#: churn risk cannot be counted.
SENTENCES = {
    "zh": (
        "本月销售额 {revenue}，环比 {revenue_mom}，同比 {revenue_yoy}。",
        "赢单率 {win_rate}（较上月 {win_rate_mom}），加权管道 {weighted_pipeline}"
        "（{weighted_pipeline_mom}）。",
        "流失风险客户 {churn_risk} 位，上月同期 {churn_risk_previous} 位；"
        "目标达成率 {target_attainment}。",
        "没有客户表或订单表，无法计算流失风险客户。",
    ),
    "en": (
        "Revenue this month is {revenue}, {revenue_mom} on last month and {revenue_yoy} on a "
        "year ago.",
        "Win rate {win_rate} ({win_rate_mom} on last month); weighted pipeline "
        "{weighted_pipeline} ({weighted_pipeline_mom}).",
        "{churn_risk} customers are at churn risk ({churn_risk_previous} a month earlier); "
        "target attainment {target_attainment}.",
        "Without a customer or orders table, churn risk cannot be counted.",
    ),
}


def kpi_sentences(kpis: pd.DataFrame, lang: str = "zh") -> list[str]:
    """Say in three sentences what changed: revenue, deals, and customers at risk."""
    words = {}
    for row in kpis.to_dict("records"):
        key, unit, kind = row["key"], row["unit"], row["change_kind"]
        words[key] = format_value(row["value"], unit, lang)
        words[f"{key}_previous"] = format_value(row["previous"], unit, lang)
        words[f"{key}_mom"] = format_change(row["mom"], kind, lang)
        words[f"{key}_yoy"] = format_change(row["yoy"], kind, lang)
    revenue, deals, risk, no_risk = SENTENCES[lang]
    third = no_risk if words["churn_risk"] == "—" else risk
    return [text.format(**words) for text in (revenue, deals, third)]


def sparkline(values: list[object], *, width: int = 120, height: int = 28) -> str:
    """Return an inline SVG polyline of ``values`` (missing values break the line); "" if none."""
    points = [(i, float(v)) for i, v in enumerate(values) if not _missing(v)]
    if len(points) < 2:
        return ""
    ys = np.array([p[1] for p in points])
    low, high = float(ys.min()), float(ys.max())
    span = high - low or 1.0
    step = width / max(len(values) - 1, 1)
    coords = " ".join(
        f"{i * step:.1f},{height - 2 - (y - low) / span * (height - 4):.1f}" for i, y in points
    )
    last_x, last_y = coords.split(" ")[-1].split(",")
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-hidden="true"><polyline fill="none" stroke="currentColor" '
        f'stroke-width="1.5" points="{coords}"/><circle cx="{last_x}" cy="{last_y}" r="2.5" '
        f'fill="currentColor"/></svg>'
    )
