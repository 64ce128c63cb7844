"""Forecast the period and its coverage: what is closed, what the pipeline is likely to add.

- :func:`learned_probabilities` – the chance a deal that reached a stage is won, learned from the
  closed deals of the history where there are enough of them (:data:`FORECAST_RULES`
  ``min_closed``), else the defaults of :data:`analysis_kit.funnel.DEFAULT_STAGE_PROBABILITIES`,
  and which of the two each stage uses.
- :func:`period_forecast` – for one period (a quarter such as ``2024Q3``, a month, a year), per
  team or rep if asked: revenue closed so far (net order amounts in the period up to ``as_of``),
  the open pipeline, its ``commit`` / ``best case`` parts by stage, the weighted forecast
  (closed + Σ amount × probability), the target, what remains of it and the pipeline's
  coverage of what remains.

The stage history of the templates has no expected close date, so every open deal counts towards
the period being forecast; the page says so. A backtest is the same call made as of the day
before a past period began, compared with what that period closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .columns import AMOUNT, ORDER_DATE, OWNER, require_columns
from .funnel import DEFAULT_STAGE_PROBABILITIES, DEFAULT_STAGES, deal_summary
from .parsing import parse_period

__all__ = ["FORECAST_RULES", "learned_probabilities", "period_forecast"]

#: ``min_closed``: closed deals that reached a stage needed before its win rate is learned from
#: the history instead of taken from the defaults; ``commit_from`` / ``best_case_from``: the
#: first stage of the commit and best-case categories (open deals at that stage or later).
FORECAST_RULES: dict[str, Any] = {
    "min_closed": 20,
    "commit_from": "商务谈判",
    "best_case_from": "方案提交",
}


def _rules(rules: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = {**FORECAST_RULES, **dict(rules or {})}
    unknown = sorted(set(merged) - set(FORECAST_RULES))
    if unknown:
        raise ValueError(f"unknown forecast rules {unknown}; valid: {sorted(FORECAST_RULES)}")
    return merged


def learned_probabilities(
    history: Any,
    *,
    stages: Sequence[str] = DEFAULT_STAGES,
    defaults: Mapping[str, float] = DEFAULT_STAGE_PROBABILITIES,
    rules: Mapping[str, Any] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Return the chance that a deal which reached each stage is won, learned where possible.

    Among the closed deals (won or lost by ``as_of``, :func:`analysis_kit.funnel.deal_summary`),
    those whose furthest stage is this one or later are the deals that reached it; the share of
    them that were won is the learned probability. With fewer than ``min_closed`` such deals the
    default is used instead, and ``source`` says which.

    Returns
    -------
    DataFrame
        ``step``, ``step_index``, ``closed_reached``, ``won``, ``learned`` (missing below
        ``min_closed``), ``default``, ``probability`` (the one used) and ``source``
        (``"history"`` or ``"default"``).

    Examples
    --------
    >>> rows = [("A", "初次接洽", "won"), ("A", "成交", "won"), ("B", "初次接洽", "lost")]
    >>> history = pd.DataFrame(rows, columns=["opportunity_id", "stage", "outcome"])
    >>> history["entered_at"] = pd.Timestamp("2024-01-01")
    >>> table = learned_probabilities(history, rules={"min_closed": 2})
    >>> table[["step", "closed_reached", "won", "probability", "source"]].head(2)
       step  closed_reached  won  probability   source
    0  初次接洽               2    1          0.5  history
    1  需求确认               1    1          0.2  default
    """
    merged = _rules(rules)
    steps = list(stages)
    deals = deal_summary(history, stages=steps, as_of=as_of)
    closed = deals[deals["outcome"].isin(["won", "lost"])]
    rows = []
    for index, step in enumerate(steps, start=1):
        reached = closed[closed["stage_index"] >= index]
        won = int((reached["outcome"] == "won").sum())
        n = len(reached)
        learned = won / n if n >= merged["min_closed"] and n else np.nan
        default = float(defaults.get(step, np.nan))
        rows.append(
            {
                "step": step,
                "step_index": index,
                "closed_reached": n,
                "won": won,
                "learned": learned,
                "default": default,
                "probability": default if np.isnan(learned) else learned,
                "source": "default" if np.isnan(learned) else "history",
            }
        )
    return pd.DataFrame(rows)


def _period_bounds(period: object) -> tuple[str, pd.Timestamp, pd.Timestamp]:
    parsed = parse_period(pd.Series([period]))
    start = parsed["period_start"].iloc[0]
    if pd.isna(start):
        raise ValueError(f"period must be a month, quarter or year such as 2024Q3; got {period!r}")
    freq = parsed["period_freq"].iloc[0]
    end = start + {"M": pd.DateOffset(months=1), "Q": pd.DateOffset(months=3)}.get(
        str(freq), pd.DateOffset(years=1)
    )
    return str(parsed["period"].iloc[0]), pd.Timestamp(start), pd.Timestamp(end)


def period_forecast(
    history: pd.DataFrame,
    *,
    period: object,
    as_of: str | dt.date | dt.datetime | pd.Timestamp,
    orders: pd.DataFrame | None = None,
    targets: pd.DataFrame | None = None,
    by: str | None = None,
    probabilities: pd.DataFrame | Mapping[str, float] | None = None,
    stages: Sequence[str] = DEFAULT_STAGES,
    rules: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Return closed revenue, pipeline, categories, weighted forecast and coverage of a period.

    Parameters
    ----------
    history : DataFrame
        The stage history (pandas).
    period : str
        The period forecast, e.g. ``"2024Q3"``, ``"2024-07"`` or ``"2024"``.
    as_of : date-like
        The day the forecast is made: deals and orders after it are unknown.
    orders : DataFrame, optional
        Clean orders (``order_date``, ``amount``, and ``by`` when grouping): the period's net
        revenue up to ``as_of`` is what is already closed. Without them ``closed`` is missing.
    targets : DataFrame, optional
        The targets table (``period``, ``target`` and ``by``): the period's target, summed.
    by : str, optional
        ``"owner"`` or ``"team"`` (a deal's team comes from the targets' or the orders' owner →
        team, its latest row); None for the whole company.
    probabilities : DataFrame or mapping, optional
        :func:`learned_probabilities` (its ``probability``) or ``{stage: probability}``; by
        default learned from ``history`` as of ``as_of``.
    stages : sequence of str
        The steps.
    rules : mapping, optional
        Overrides of :data:`FORECAST_RULES`.

    Returns
    -------
    DataFrame
        One row (per group): ``by``, ``period``, ``closed``, ``open_deals``, ``pipeline`` (open
        amount), ``commit`` and ``best_case`` (open amount at ``commit_from`` / ``best_case_from``
        or later), ``weighted`` (Σ amount × probability), ``forecast`` (``closed`` +
        ``weighted``), ``target``, ``remaining`` (target − closed, not below 0) and
        ``coverage`` (pipeline ÷ remaining; missing when nothing remains).
    """
    merged = _rules(rules)
    name, start, end = _period_bounds(period)
    as_of_day = pd.Timestamp(as_of).normalize()
    steps = list(stages)
    if probabilities is None:
        probabilities = learned_probabilities(history, stages=steps, rules=rules, as_of=as_of)
    if isinstance(probabilities, pd.DataFrame):
        chance = dict(zip(probabilities["step"], probabilities["probability"], strict=True))
    else:
        chance = dict(probabilities)
    deals = deal_summary(history, stages=steps, as_of=as_of_day)
    open_deals = deals[deals["outcome"] == "open"].copy()
    open_deals["amount"] = pd.to_numeric(open_deals["amount"], errors="coerce").fillna(0.0)
    open_deals["p"] = open_deals["stage"].map(chance).astype("float64").fillna(0.0)
    index = {s: i for i, s in enumerate(steps, start=1)}
    commit = open_deals["stage_index"] >= index.get(merged["commit_from"], len(steps) + 1)
    best = open_deals["stage_index"] >= index.get(merged["best_case_from"], len(steps) + 1)
    groups = [] if by is None else [by]
    if by == "team":
        teams = _teams(targets, orders)
        open_deals["team"] = open_deals[OWNER].map(teams) if OWNER in open_deals else np.nan
    elif by is not None and by not in open_deals.columns:
        raise ValueError(f"by must be 'owner', 'team' or a column of the deals; got {by!r}")
    parts = open_deals.assign(
        open_deals=1,
        pipeline=open_deals["amount"],
        commit=open_deals["amount"].where(commit, 0.0),
        best_case=open_deals["amount"].where(best, 0.0),
        weighted=open_deals["amount"] * open_deals["p"],
    )
    measures = ["open_deals", "pipeline", "commit", "best_case", "weighted"]
    closed = _closed(orders, start, min(end, as_of_day + pd.Timedelta(days=1)), groups)
    target = _target(targets, name, groups)
    if groups:
        # every group with a deal, a sale or a target in the period: none is left out
        table = pd.concat(
            [
                parts.groupby(groups, dropna=False)[measures].sum(),
                closed.rename("closed") if isinstance(closed, pd.Series) else None,
                target.rename("target") if isinstance(target, pd.Series) else None,
            ],
            axis=1,
        )
        table[measures] = table[measures].fillna(0.0)
        if orders is not None:
            table["closed"] = table["closed"].fillna(0.0)
        for column in ("closed", "target"):
            if column not in table.columns:
                table[column] = np.nan
        table = table.rename_axis(groups).reset_index()
    else:
        table = parts[measures].sum().to_frame().T.reset_index(drop=True)
        table["closed"], table["target"] = closed, target
    table["open_deals"] = table["open_deals"].fillna(0).astype("int64")
    table["forecast"] = table["closed"].fillna(0.0) + table["weighted"].fillna(0.0)
    table.loc[table["closed"].isna(), "forecast"] = np.nan
    table["remaining"] = (table["target"] - table["closed"].fillna(0.0)).clip(lower=0.0)
    table["coverage"] = table["pipeline"] / table["remaining"].where(table["remaining"] > 0)
    table.insert(len(groups), "period", name)
    columns = [*groups, "period", "closed", "open_deals", "pipeline", "commit", "best_case"]
    columns += ["weighted", "forecast", "target", "remaining", "coverage"]
    return table[columns]


def _teams(targets: pd.DataFrame | None, orders: pd.DataFrame | None) -> pd.Series:
    """Owner → team, from the latest row of the targets, else of the orders."""
    for frame, when in ((targets, "period_start"), (orders, ORDER_DATE)):
        if frame is not None and {OWNER, "team"} <= set(frame.columns):
            rows = frame.sort_values(when) if when in frame.columns else frame
            return (
                rows.dropna(subset=[OWNER])
                .drop_duplicates(OWNER, keep="last")
                .set_index(OWNER)["team"]
            )
    return pd.Series(dtype=object)


def _closed(
    orders: pd.DataFrame | None, start: pd.Timestamp, stop: pd.Timestamp, groups: list[str]
) -> Any:
    if orders is None:
        return np.nan
    require_columns(orders.columns, [ORDER_DATE, AMOUNT, *groups], where="period_forecast orders")
    inside = orders[(orders[ORDER_DATE] >= start) & (orders[ORDER_DATE] < stop)]
    amount = pd.to_numeric(inside[AMOUNT], errors="coerce")
    if groups:
        return amount.groupby([inside[g] for g in groups], dropna=False).sum()
    return float(amount.sum())


def _target(targets: pd.DataFrame | None, period: str, groups: list[str]) -> Any:
    if targets is None or not {"period", "target"} <= set(targets.columns):
        return np.nan
    rows = targets[targets["period"].astype(str) == period]
    if groups and not set(groups) <= set(rows.columns):
        return np.nan
    amount = pd.to_numeric(rows["target"], errors="coerce")
    if groups:
        return amount.groupby([rows[g] for g in groups], dropna=False).sum()
    return float(amount.sum()) if len(rows) else np.nan
