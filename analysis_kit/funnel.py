"""Funnel and pipeline analyses: stage funnels, stage durations, pipeline KPIs, channel ROI, event funnels.

Every function is pure (data in, new data out, the input never modified).

Stage history (商机阶段记录: one row per opportunity and stage entered):

- :func:`stage_funnel` – reached, conversion from the previous and the first step, drop-off and
  days between steps, optionally amount-weighted and broken down ``by=`` any column. Also works
  without a history, from each unit's current stage (the customers table's 当前阶段).
- :func:`weakest_step` – the step with the lowest conversion from the previous one.
- :func:`deal_summary` – one row per opportunity: created, furthest stage, amount, outcome,
  cycle time, age.
- :func:`stage_durations` – days spent in each stage, and how long open deals have sat in theirs.
- :func:`pipeline_kpis` – win rate, average deal, cycle time, sales velocity, weighted pipeline.
- :func:`weighted_pipeline` – open amount × stage probability, per stage.
- :func:`deal_cohorts` – deals by creation month: created, won, lost, open, win rate.
- :func:`deals_to_history` – a stage history from a one-row-per-opportunity CRM table (stage,
  created and close dates), inferring nothing the table does not say.

A row without a stage but with an outcome (a recorded loss: ``Closed Lost``, ``输单``) is not a
step: the deal functions count it for the outcome and the close date, the funnels ignore it (see
:func:`deal_summary`).
- :func:`channel_roi` – leads, opportunities, won deals, revenue, cost and ROI per channel
  (展会 / 线上推广 / 转介绍 …).

Events (any log of unit, time, event):

- :func:`event_funnel` – a generic ordered funnel with a conversion window, ``order``
  (ordered / strict / any) and ``entry`` (first / any) as explicit parameters, and time to convert.
  Written once against narwhals: pandas (numpy- or Arrow-backed), Polars (eager or lazy), DuckDB
  and PySpark give the same answer.
- :func:`event_funnel_units` – the per-unit result behind it (steps reached, seconds to each
  step), for the distribution of time to convert.

The rules are data: the funnel presets (:data:`FUNNEL_PRESETS`), the stage probabilities
(:data:`DEFAULT_STAGE_PROBABILITIES`) and the outcome words (:data:`OUTCOME_WORDS`); pass your own
to override them.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from ._frames import as_pandas
from ._validate import as_of_day, as_of_end
from .columns import AMOUNT, CUSTOMER_ID, ORDER_DATE, OWNER, STAGE, STAGES, require_columns
from .parsing import parse_stage, stage_outcome
from .rfm import _day_number

__all__ = [
    "DEFAULT_STAGES",
    "DEFAULT_STAGE_PROBABILITIES",
    "FUNNEL_PRESETS",
    "OUTCOME_WORDS",
    "STEP_LABELS_EN",
    "STUCK_RULES",
    "channel_roi",
    "deal_cohorts",
    "deal_summary",
    "deals_to_history",
    "event_funnel",
    "event_funnel_units",
    "pipeline_kpis",
    "stage_durations",
    "stage_funnel",
    "step_names",
    "stuck_deals",
    "weakest_step",
    "weighted_pipeline",
]

# Column names of the stage history, channel costs and event tables that columns.py does not name.
OPPORTUNITY_ID = "opportunity_id"
ENTERED_AT = "entered_at"
OUTCOME = "outcome"
LEAD_SOURCE = "lead_source"
CHANNEL = "channel"
PERIOD = "period"
PERIOD_START = "period_start"
COST = "cost"
EVENT = "event"
EVENT_TIME = "event_time"

#: The template's six stages, in order (①初次接洽 … ⑥售后维护).
DEFAULT_STAGES: tuple[str, ...] = STAGES

#: The stage a deal is won at: reaching it (or any later stage) means the deal was signed.
WON_STAGE = "成交"

#: Named funnels: each maps a step label to the stage labels it covers, in order. ``template`` is
#: the six stages; ``lead`` is the five-step lead funnel (线索获取 → 需求沟通 → 方案报价 →
#: 合同签订 → 售后复购) over the same stages, with 商务谈判 counted inside 方案报价.
FUNNEL_PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "template": {stage: (stage,) for stage in STAGES},
    "lead": {
        "线索获取": ("初次接洽",),
        "需求沟通": ("需求确认",),
        "方案报价": ("方案提交", "商务谈判"),
        "合同签订": ("成交",),
        "售后复购": ("售后维护",),
    },
}

#: Probability that an open deal at a step closes as won, for the weighted pipeline. Keys are step
#: labels of both presets; override with your team's historical rates.
DEFAULT_STAGE_PROBABILITIES: dict[str, float] = {
    "初次接洽": 0.1,
    "需求确认": 0.2,
    "方案提交": 0.4,
    "商务谈判": 0.6,
    "成交": 1.0,
    "售后维护": 1.0,
    "线索获取": 0.1,
    "需求沟通": 0.2,
    "方案报价": 0.5,
    "合同签订": 1.0,
    "售后复购": 1.0,
}

#: English labels of the preset steps, for charts and tables in English.
STEP_LABELS_EN: dict[str, str] = {
    "初次接洽": "First contact",
    "需求确认": "Needs confirmed",
    "方案提交": "Proposal",
    "商务谈判": "Negotiation",
    "成交": "Won",
    "售后维护": "After-sales",
    "线索获取": "Lead",
    "需求沟通": "Needs discussed",
    "方案报价": "Proposal & quote",
    "合同签订": "Contract signed",
    "售后复购": "After-sales & repeat",
}

#: Words accepted in the outcome column (lower-cased, stripped) and what they mean.
OUTCOME_WORDS: dict[str, str] = {
    "won": "won",
    "win": "won",
    "赢单": "won",
    "成交": "won",
    "已成交": "won",
    "lost": "lost",
    "loss": "lost",
    "输单": "lost",
    "丢单": "lost",
    "open": "open",
    "进行中": "open",
    "跟进中": "open",
}

#: Channel label for leads, opportunities and orders without a channel.
UNKNOWN_CHANNEL = "未知"

_DAY_S = 86_400.0
# A time (µs since 1970) later than any real event: an attempt that stopped carries it, so the
# next as-of join finds nothing.
_NEVER = 2**62
_NO_SEQ = -10

# Private working columns; the "__fn" prefix keeps them clear of user column names.
_ID = "__fn_id"
_STEP = "__fn_step"
_T = "__fn_time"
_TU = "__fn_us"
_POS = "__fn_pos"
_SEQ = "__fn_seq"
_NXT = "__fn_next"
_R = "__fn_right"
_T0 = "__fn_anchor"
_S0 = "__fn_start"
_DEPTH = "__fn_depth"
_BEST = "__fn_best"
_OUTROW = "__fn_outcome_row"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")


def _names(value: str | Sequence[str] | None, name: str) -> list[str]:
    """Return a ``by=`` style argument as a list of column names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(dict.fromkeys(value))
    raise ValueError(f"{name} must be a column name or a list of column names; got {value!r}")


def _resolve_stages(
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]],
) -> tuple[list[str], dict[str, int]]:
    """Return the step labels and a lookup ``{stage or step label: step number}``."""
    if isinstance(stages, str):
        if stages not in FUNNEL_PRESETS:
            raise ValueError(
                f"stages must be a preset name {sorted(FUNNEL_PRESETS)}, a list of stage labels "
                f"or a mapping step → stage labels; got {stages!r}"
            )
        stages = FUNNEL_PRESETS[stages]
    if isinstance(stages, Mapping):
        items = [(str(k), (v,) if isinstance(v, str) else tuple(v)) for k, v in stages.items()]
    elif isinstance(stages, Sequence) and all(isinstance(s, str) for s in stages):
        items = [(s, (s,)) for s in stages]
    else:
        raise ValueError(
            "stages must be a preset name, a list of stage labels or a mapping step → stage "
            f"labels; got {stages!r}"
        )
    if not items:
        raise ValueError("stages must name at least one step; got an empty list")
    steps = [step for step, _ in items]
    if len(set(steps)) != len(steps):
        raise ValueError(f"stages must not repeat a step; got {steps}")
    lookup: dict[str, int] = {}
    for number, (_, labels) in enumerate(items):
        for label in labels:
            if label in lookup and lookup[label] != number:
                raise ValueError(f"stages: stage {label!r} is mapped to two steps")
            lookup[label] = number
    for number, step in enumerate(steps):
        lookup.setdefault(step, number)
    return steps, lookup


def _step_numbers(values: pd.Series, lookup: Mapping[str, int], *, where: str) -> pd.Series:
    """Map stage cells to step numbers (float, NaN when missing); unknown stages are an error.

    Cells that are not a label of ``lookup`` are parsed like the template's 当前阶段 column
    (``①初次接洽``, ``2-需求确认``, ``阶段3`` …) before they are rejected.
    """
    text = values.astype(object).where(values.notna(), None)
    numbers = text.map(lookup).astype("float64")
    unmatched = numbers.isna() & text.notna()
    if unmatched.any():
        parsed = parse_stage(text[unmatched]).astype(object)
        numbers[unmatched] = parsed.map(lookup).astype("float64")
        still = numbers.isna() & text.notna()
        if still.any():
            unknown = sorted({str(v) for v in text[still]})[:10]
            raise ValueError(
                f"{where}: stage values not in stages: {unknown}; the steps know "
                f"{sorted(lookup, key=lookup.__getitem__)}. Pass stages= with every stage label"
            )
    return numbers


def _datetimes(values: pd.Series, name: str, *, where: str) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values
    raise TypeError(
        f"{where}: {name!r} must hold datetimes or dates, got {values.dtype}; parse dates first, "
        "e.g. with analysis_kit.clean_table"
    )


def _ratio(num: Any, den: Any) -> Any:
    """``num / den`` with NaN where ``den`` is 0 or missing (no division by zero)."""
    num = pd.to_numeric(num, errors="coerce")
    den = pd.to_numeric(den, errors="coerce")
    if np.ndim(den) == 0:
        return float(num) / float(den) if pd.notna(den) and den != 0 else float("nan")
    den = pd.Series(den, dtype="float64")
    return pd.Series(num, dtype="float64") / den.where(den != 0)


def _stage_rows(
    history: Any,
    *,
    where: str,
    stages: Any,
    id_col: str,
    stage_col: str,
    time_col: str | None,
    as_of: Any,
    extra: Iterable[str] = (),
    optional: Iterable[str] = (),
    outcome_col: str | None = None,
) -> tuple[list[str], pd.DataFrame, pd.Timestamp | None]:
    """Validate and normalise a stage table: id, step number, time and extra columns.

    Returns the step labels, the rows (sorted by id, time, outcome rows after step rows, step;
    rows without id, stage or time, and rows after ``as_of``, dropped) and the as-of day
    (midnight), if any. With ``outcome_col`` (when the table has it), a row without a stage but
    with an outcome is kept as an *outcome row* (``_STEP`` -1, ``_OUTROW`` True): it records how
    the deal ended and when, not a step.
    """
    frame = as_pandas(history)
    extra = list(dict.fromkeys(extra))
    needed = [id_col, stage_col, *([time_col] if time_col else []), *extra]
    require_columns(frame.columns, needed, where=where)
    steps, lookup = _resolve_stages(stages)
    present = [c for c in dict.fromkeys(optional) if c in frame.columns and c not in extra]
    carry = [c for c in [*extra, *present] if c not in (id_col, _ID, _STEP, _T)]
    data = pd.DataFrame(
        {_ID: frame[id_col], _STEP: _step_numbers(frame[stage_col], lookup, where=where)},
        index=frame.index,
    )
    for col in carry:
        data[col] = frame[col]
    data[_OUTROW] = False
    if outcome_col is not None and outcome_col in frame.columns:
        recorded = frame[outcome_col].astype("string").str.strip()
        recorded = (recorded.notna() & (recorded != "")).fillna(False).astype(bool)
        data[_OUTROW] = data[_STEP].isna() & recorded
    keep = data[_ID].notna() & (data[_STEP].notna() | data[_OUTROW])
    day = None
    if time_col:
        data[_T] = _datetimes(frame[time_col], time_col, where=where)
        keep &= data[_T].notna()
        if as_of is not None:
            day = as_of_day(as_of)
            # the as-of day is a calendar day: zoned times are cut on their own wall clock
            by_then = _wall_clock(frame[time_col]) < day + pd.Timedelta(days=1)
            keep &= by_then
            if outcome_col is not None and outcome_col in carry:
                # an outcome written on step rows is known from the deal's last row on: a deal
                # with rows after the as-of day had not ended then
                going_on = (~by_then).groupby(frame[id_col]).transform("any")
                step_row = ~data[_OUTROW].to_numpy()
                data.loc[going_on.fillna(False).to_numpy(bool) & step_row, outcome_col] = None
    data = data[keep].copy()
    data[_STEP] = data[_STEP].fillna(-1).astype("int64")
    order = [_ID, _T, _OUTROW, _STEP] if time_col else [_ID, _OUTROW, _STEP]
    data = data.sort_values(order, kind="stable").reset_index(drop=True)
    return steps, data, day


def _wall_clock(values: pd.Series) -> pd.Series:
    """Datetimes without their time zone, each keeping its local wall-clock time."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None)
    return values


def _first_valid(data: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Per unit, the first non-missing value of each column in row order (time order)."""
    if not cols:
        return pd.DataFrame(index=pd.Index(data[_ID].unique(), name=_ID))
    return data.groupby(_ID, sort=True)[list(cols)].first()


def _collect_pandas(frame: Any) -> pd.DataFrame:
    """Collect a narwhals frame (eager or lazy, any backend) into pandas with a fresh index."""
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas().reset_index(drop=True)


def _stage_steps(
    history: Any,
    *,
    where: str,
    stages: Any,
    id_col: str,
    stage_col: str,
    time_col: str | None,
    as_of: Any,
    extra: Iterable[str] = (),
) -> tuple[list[str], Any]:
    """Validate a stage table and return its rows as a narwhals frame of the input's backend.

    Columns: ``_ID``, ``_STEP`` (Int64 step number), ``_TU`` (microseconds since 1970, only with
    ``time_col``) and the ``extra`` columns. Rows without id, stage or time, and rows after
    ``as_of``, are dropped. Stage cells are mapped to steps from the column's distinct values,
    which are collected (a small query) so that an unknown stage is an error at once.
    """
    frame = nw.from_native(history)
    schema = frame.collect_schema()
    extra = [c for c in dict.fromkeys(extra) if c != id_col]
    needed = [id_col, stage_col, *([time_col] if time_col else []), *extra]
    require_columns(schema.names(), needed, where=where)
    steps, lookup = _resolve_stages(stages)
    stage = nw.col(stage_col)
    if not isinstance(schema[stage_col], nw.String):
        stage = stage.cast(nw.String)
    distinct = _collect_pandas(
        frame.select(stage.alias(_STEP)).filter(~nw.col(_STEP).is_null()).unique()
    )[_STEP]
    numbers = _step_numbers(distinct, lookup, where=where)
    step = None
    for k in reversed(range(len(steps))):
        labels = distinct[(numbers == k).to_numpy()].tolist()
        if labels:
            branch = nw.when(stage.is_in(labels)).then(nw.lit(k, dtype=nw.Int64))
            step = branch if step is None else branch.otherwise(step)
    if step is None:  # every stage cell is missing: every row is dropped below
        step = nw.when(~stage.is_null()).then(nw.lit(0, dtype=nw.Int64))
    columns = [nw.col(id_col).alias(_ID), step.alias(_STEP), *[nw.col(c) for c in extra]]
    zoned = False
    if time_col:
        time_type = schema[time_col]
        if not isinstance(time_type, nw.Datetime | nw.Date):
            raise TypeError(
                f"{where}: {time_col!r} must hold datetimes or dates, got {time_type}; parse "
                "dates first, e.g. with analysis_kit.clean_table"
            )
        time = nw.col(time_col)
        zoned = bool(getattr(time_type, "time_zone", None))
        if isinstance(time_type, nw.Date):
            time = time.cast(nw.Datetime("us"))
        elif zoned:
            time = time.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        native = frame.implementation.is_pandas_like() or frame.implementation.is_polars()
        columns.append(_microseconds(time, native=native).alias(_TU))
    # Missing ids, stages and times go first: pandas cannot cast a missing clock field to int.
    keep = [~nw.col(id_col).is_null(), ~nw.col(stage_col).is_null()]
    keep += [~nw.col(time_col).is_null()] if time_col else []
    data = frame.filter(*keep)
    end_us = None
    if time_col and as_of is not None:
        end_us = (as_of_end(as_of) - pd.Timestamp(1970, 1, 1)) // pd.Timedelta(microseconds=1)
        if zoned:
            # The as-of day is a calendar day: zoned times are cut on their own wall clock.
            wall = _microseconds(nw.col(time_col).dt.replace_time_zone(None), native=native)
            data = data.filter(wall < nw.lit(int(end_us), dtype=nw.Int64))
    data = data.select(*columns)
    if end_us is not None and not zoned:
        data = data.filter(nw.col(_TU) < nw.lit(int(end_us), dtype=nw.Int64))
    return steps, data.with_columns(nw.col(_STEP).cast(nw.Int64))


def _unit_value(data: Any, col: str, *, last: bool, timed: bool) -> Any:
    """Per unit, the first (or last) non-missing value of ``col`` in time and step order.

    Rows tied on time and step give their smallest value (the largest for ``last``), so the
    answer never depends on row order.
    """
    rows = data.filter(~nw.col(col).is_null()).select(_ID, _STEP, col, *([_TU] if timed else []))
    for key in [_TU, _STEP] if timed else [_STEP]:
        rows = _keep_extreme(rows, key, _ID, largest=last)
    value = nw.col(col).max() if last else nw.col(col).min()
    return rows.group_by(_ID).agg(value)


def _step_days(data: Any, groups: Any, by_cols: list[str]) -> pd.DataFrame:
    """Median and mean days from entering step k - 1 to entering step k, per group and step.

    Only units with both entries recorded count. Returns pandas: the ``by`` columns,
    ``step_index`` (k + 1) and ``_median``, ``_mean``.
    """
    entries = data.group_by(_ID, _STEP).agg(nw.col(_TU).min())
    previous = entries.select(
        _ID, (nw.col(_STEP) + 1).cast(nw.Int64).alias(_STEP), nw.col(_TU).alias(_S0)
    )
    gaps = entries.join(previous, on=[_ID, _STEP], how="inner").select(
        _ID, _STEP, ((nw.col(_TU) - nw.col(_S0)) / (86_400 * 1_000_000)).alias(_T)
    )
    if by_cols:
        gaps = gaps.join(groups, on=_ID, how="left")
    table = _collect_pandas(
        gaps.group_by([*by_cols, _STEP]).agg(
            nw.col(_T).median().alias("_median"), nw.col(_T).mean().alias("_mean")
        )
    )
    table["step_index"] = pd.to_numeric(table[_STEP]).astype("int64") + 1
    return table[[*by_cols, "step_index", "_median", "_mean"]]


# ---------------------------------------------------------------------------------------------
# Stage funnel
# ---------------------------------------------------------------------------------------------


def stage_funnel(
    history: Any,
    *,
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    id_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    time_col: str | None = ENTERED_AT,
    amount_col: str = AMOUNT,
    weighted: bool = False,
    by: str | Sequence[str] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Count how many opportunities (or customers) reached each stage, and how many dropped off.

    **Reaching a later stage implies every earlier one.** An opportunity whose history goes from
    ①初次接洽 straight to ③方案提交 counts as having reached ② too: a skipped stage was passed,
    just not recorded. So every unit counts at each step up to its furthest stage, and the
    counts never grow from one step to the next. Rows without a stage (an outcome row such as a
    recorded loss, see :func:`deal_summary`) are not steps and are ignored, so a deal known only
    from such rows is in no step.

    **Without a history** (``time_col=None``), each row gives a unit's *current* stage (the
    customers table's 当前阶段 with ``id_col="customer_id"``): a customer at ④商务谈判 has reached
    ①–④. The day columns are then missing.

    Parameters
    ----------
    history : DataFrame, LazyFrame, DuckDB relation, PySpark or Dask DataFrame
        The stage history (商机阶段记录), one row per opportunity and stage entered, or a table of
        current stages. pandas (numpy- or Arrow-backed), Polars (eager or lazy), DuckDB,
        PySpark and Dask are accepted: the per-opportunity aggregation runs on that engine
        through narwhals and only the small per-step result is collected (the distinct stage
        values are collected first, so an unknown stage is an error at once).
    stages : str, list of str or mapping, default=DEFAULT_STAGES
        The funnel's steps in order: a preset name of :data:`FUNNEL_PRESETS` (``"template"``,
        ``"lead"``), a list of stage labels, or a mapping ``{step label: stage label(s)}`` that
        folds several stages into one step. Cells written like the template (``①初次接洽``,
        ``2-需求确认``) are recognised; any other stage value not covered is an error.
    id_col : str, default="opportunity_id"
        The unit counted (use ``"customer_id"`` for a customers table).
    stage_col : str, default="stage"
        The stage column.
    time_col : str or None, default="entered_at"
        When the unit entered the stage (datetimes); None for current stages only.
    amount_col : str, default="amount"
        The deal amount, used by ``weighted=True``: each unit's latest non-missing amount.
    weighted : bool, default=False
        Add amount-weighted columns (see Returns).
    by : str or list of str, optional
        Break the funnel down by these columns (lead source, owner, or industry after merging
        the customers table). A unit takes the first non-missing value in time order (on a tie
        in time and stage, the smallest value); units without one form their own group
        (missing value).
    as_of : date-like, optional
        Ignore rows entered after this day; rows entered on it count, whatever their time. Only
        its calendar day is used: a time zone is dropped, keeping the local date, and zoned
        times in ``time_col`` are compared on their own wall clock.

    Returns
    -------
    DataFrame
        Always pandas (the table is small whatever the input engine). One row per step (per
        group when ``by`` is given, groups first, missing group last), in step order:

        - ``by`` columns – the group.
        - ``step`` – the step label; ``step_index`` – its number, 1 for the first step.
        - ``reached`` – units whose furthest stage is this step or later.
        - ``conversion_from_previous`` – ``reached / reached`` of the previous step (missing for
          the first step, and when the previous step has no units).
        - ``conversion_from_first`` – ``reached / reached`` of the first step.
        - ``drop_off`` – units lost since the previous step (0 for the first step).
        - ``drop_off_rate`` – ``1 - conversion_from_previous``.
        - ``median_days_from_previous``, ``mean_days_from_previous`` – days between entering the
          previous step and this one, over units with both entries recorded (a skipped stage
          has no entry, so it gives no duration); missing without ``time_col``.
        - ``amount``, ``amount_conversion_from_previous``, ``amount_conversion_from_first`` –
          only with ``weighted=True``: the summed amount of the units that reached the step and
          its ratios, like the counts.

    See Also
    --------
    weakest_step : the step with the lowest ``conversion_from_previous``.

    Examples
    --------
    >>> import pandas as pd
    >>> history = pd.DataFrame(
    ...     {
    ...         "opportunity_id": ["A", "A", "A", "B", "B", "C"],
    ...         "stage": ["初次接洽", "需求确认", "方案提交", "初次接洽", "方案提交", "初次接洽"],
    ...         "entered_at": pd.to_datetime(
    ...             ["2024-01-01", "2024-01-05", "2024-01-15", "2024-01-02", "2024-01-20", "2024-02-01"]
    ...         ),
    ...     }
    ... )
    >>> stage_funnel(history, stages=["初次接洽", "需求确认", "方案提交"])[
    ...     ["step", "reached", "conversion_from_previous", "drop_off", "median_days_from_previous"]
    ... ]
       step  reached  conversion_from_previous  drop_off  median_days_from_previous
    0  初次接洽        3                       NaN         0                        NaN
    1  需求确认        2                  0.666667         1                        4.0
    2  方案提交        2                  1.000000         0                       10.0
    """
    by_cols = _names(by, "by")
    steps, data = _stage_steps(
        history,
        where="stage_funnel",
        stages=stages,
        id_col=id_col,
        stage_col=stage_col,
        time_col=time_col,
        as_of=as_of,
        extra=[*by_cols, *([amount_col] if weighted else [])],
    )
    n = len(steps)
    units = data.group_by(_ID).agg(nw.col(_STEP).max().alias(_DEPTH))
    values = [(c, False) for c in by_cols] + ([(amount_col, True)] if weighted else [])
    for col, last in values:
        units = units.join(
            _unit_value(data, col, last=last, timed=time_col is not None), on=_ID, how="left"
        )
    zero = nw.lit(0, dtype=nw.Int64)
    flags = [
        nw.when(nw.col(_DEPTH) >= k).then(nw.lit(1, dtype=nw.Int64)).otherwise(zero).alias(f"r{k}")
        for k in range(n)
    ]
    if weighted:
        amount = nw.col(amount_col).cast(nw.Float64).fill_null(0.0)
        none = nw.lit(0.0, dtype=nw.Float64)
        flags += [
            nw.when(nw.col(_DEPTH) >= k).then(amount).otherwise(none).alias(f"a{k}")
            for k in range(n)
        ]
    sums = [nw.col(f"r{k}").sum() for k in range(n)]
    sums += [nw.col(f"a{k}").sum() for k in range(n)] if weighted else []
    flagged = units.select(*by_cols, *flags)
    wide = _collect_pandas(
        flagged.group_by(by_cols).agg(*sums) if by_cols else flagged.select(sums)
    )
    durations = _step_days(data, units.select(_ID, *by_cols), by_cols) if time_col else None
    if not by_cols and len(wide):
        wide = wide.fillna(0)  # SQL engines sum no rows to NULL
    if wide.empty or (not by_cols and int(wide["r0"].iloc[0]) == 0):
        table = _empty_steps(steps, by_cols, weighted)
    else:
        blocks = []
        for k in range(n):
            block = wide[by_cols].copy()
            block["step_index"] = k + 1
            block["reached"] = pd.to_numeric(wide[f"r{k}"]).fillna(0).astype("int64").to_numpy()
            if weighted:
                block["amount"] = pd.to_numeric(wide[f"a{k}"]).astype("float64").to_numpy()
            blocks.append(block)
        table = pd.concat(blocks, ignore_index=True)
        if durations is None:
            table["_median"] = table["_mean"] = np.nan
        else:
            table = table.merge(durations, on=[*by_cols, "step_index"], how="left")
        table = table.rename(
            columns={"_median": "median_days_from_previous", "_mean": "mean_days_from_previous"}
        )
        for col in ("median_days_from_previous", "mean_days_from_previous"):
            table[col] = pd.to_numeric(table[col]).astype("float64")
        table = table.sort_values(
            [*by_cols, "step_index"], kind="stable", na_position="last"
        ).reset_index(drop=True)
    table.insert(len(by_cols), "step", [steps[i - 1] for i in table["step_index"]])
    table = _conversions(table, by_cols, "reached", "")
    if weighted:
        table = _conversions(table, by_cols, "amount", "amount_", counts=False)
    columns = [
        *by_cols,
        "step",
        "step_index",
        "reached",
        "conversion_from_previous",
        "conversion_from_first",
        "drop_off",
        "drop_off_rate",
        "median_days_from_previous",
        "mean_days_from_previous",
    ]
    if weighted:
        columns += ["amount", "amount_conversion_from_previous", "amount_conversion_from_first"]
    return table[columns].reset_index(drop=True)


def _empty_steps(steps: list[str], by_cols: list[str], weighted: bool) -> pd.DataFrame:
    if by_cols:
        table = pd.DataFrame({**{c: [] for c in by_cols}, "step_index": [], "reached": []})
    else:
        table = pd.DataFrame({"step_index": range(1, len(steps) + 1), "reached": 0})
    table = table.astype({"step_index": "int64", "reached": "int64"})
    table["median_days_from_previous"] = np.nan
    table["mean_days_from_previous"] = np.nan
    if weighted:
        table["amount"] = 0.0
    return table


def _conversions(
    table: pd.DataFrame, by_cols: list[str], value: str, prefix: str, *, counts: bool = True
) -> pd.DataFrame:
    """Add conversion from previous and first (and drop-off) within each group, in step order."""
    table = table.sort_values([*by_cols, "step_index"], kind="stable").reset_index(drop=True)
    if by_cols:
        groups = table.groupby(by_cols, dropna=False, sort=False)[value]
        previous = groups.shift(1)
        first = groups.transform("first")
    else:
        previous = table[value].shift(1)
        first = pd.Series(table[value].iloc[0] if len(table) else np.nan, index=table.index)
    table[f"{prefix}conversion_from_previous"] = _ratio(table[value], previous)
    table[f"{prefix}conversion_from_first"] = _ratio(table[value], first)
    if counts:
        table["drop_off"] = (previous.fillna(table[value]) - table[value]).astype("int64")
        table["drop_off_rate"] = 1.0 - table["conversion_from_previous"]
    return table


def step_names(
    frame: pd.DataFrame, lang: str = "zh", *, columns: Sequence[str] = ("step",)
) -> pd.DataFrame:
    """Return a copy of ``frame`` whose step names read in ``lang``.

    The preset steps (:data:`STEP_LABELS_EN`) get their English name when ``lang="en"``; other
    names, and every name in Chinese, stay as written. ``frame`` is not modified.

    Examples
    --------
    >>> table = pd.DataFrame({"step": ["初次接洽", "成交", "试用"], "reached": [10, 4, 2]})
    >>> step_names(table, "en")["step"].tolist()
    ['First contact', 'Won', '试用']
    """
    if lang not in ("zh", "en"):
        raise ValueError(f'lang must be "zh" or "en"; got {lang!r}')
    out = frame.copy()
    if lang == "en":
        for column in columns:
            if column in out.columns:
                out[column] = out[column].map(lambda s: STEP_LABELS_EN.get(s, s))
    return out


def weakest_step(
    funnel: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    through: str | None = WON_STAGE,
    step_col: str = "step",
    conversion_col: str = "conversion_from_previous",
) -> Any:
    """Name the step with the lowest conversion from the previous step: where most units drop off.

    The first step (no previous step) and steps with a missing conversion are skipped; on a tie
    the earlier step wins. Only the steps up to ``through`` (the won step, 成交) are candidates:
    after-sales (售后维护) follows a won deal, so few deals reaching it is not a sales loss (its
    conversion is reported on its own, in the funnel table). A funnel without a ``through`` step
    (an event funnel, a custom one) has every step as a candidate.

    Parameters
    ----------
    funnel : DataFrame
        As returned by :func:`stage_funnel` or :func:`event_funnel`, in step order.
    by : str or list of str, optional
        The group columns of a broken-down funnel: name the weakest step of each group.
    through : str or None, default=WON_STAGE
        The last step that can be the weakest; None considers every step.
    step_col, conversion_col : str
        Column names.

    Returns
    -------
    str, None or DataFrame
        Without ``by``: the step label, or None when no step has a conversion. With ``by``: one
        row per group with the ``by`` columns, ``step_col`` and ``conversion_col`` (groups without
        a conversion are left out).

    Examples
    --------
    >>> import pandas as pd
    >>> funnel = pd.DataFrame({"step": ["a", "b", "c"],
    ...                        "conversion_from_previous": [float("nan"), 0.5, 0.8]})
    >>> weakest_step(funnel)
    'b'
    """
    by_cols = _names(by, "by")
    require_columns(funnel.columns, [*by_cols, step_col, conversion_col], where="weakest_step")
    steps = list(dict.fromkeys(funnel[step_col]))
    if through is not None and through in steps:
        funnel = funnel[funnel[step_col].isin(steps[: steps.index(through) + 1])]
    valid = funnel[funnel[conversion_col].notna()]
    if not by_cols:
        if funnel[step_col].duplicated().any():
            raise ValueError(
                "weakest_step: the funnel has several rows per step; pass by= with its group "
                "columns"
            )
        if valid.empty:
            return None
        return valid.loc[valid[conversion_col].astype("float64").idxmin(), step_col]
    if valid.empty:
        return pd.DataFrame(columns=[*by_cols, step_col, conversion_col])
    rows = (
        valid[conversion_col]
        .astype("float64")
        .groupby([valid[c] for c in by_cols], dropna=False, sort=True)
        .idxmin()
    )
    return valid.loc[rows.to_numpy(), [*by_cols, step_col, conversion_col]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Deals: summary, durations, KPIs, weighted pipeline, cohorts
# ---------------------------------------------------------------------------------------------


def deal_summary(
    history: Any,
    *,
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    won_stage: str = WON_STAGE,
    id_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    time_col: str = ENTERED_AT,
    amount_col: str = AMOUNT,
    outcome_col: str = OUTCOME,
    carry: Sequence[str] | None = None,
    outcome_words: Mapping[str, str] = OUTCOME_WORDS,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Summarise a stage history into one row per opportunity.

    **Outcome.** The latest recorded value of ``outcome_col`` (won / lost / open, or a word of
    :data:`OUTCOME_WORDS` such as 赢单 / 输单 / 进行中), in time order. Where it is missing, or the
    column is absent, a deal that reached ``won_stage`` (or later) is won and any other deal is
    open: a lost deal cannot be recognised without the outcome. With ``as_of``, rows after that
    day are ignored, and a deal recorded as won whose won stage falls after ``as_of`` is open at
    ``as_of``.

    **Outcome rows.** A row with an outcome but no stage (what :func:`analysis_kit.clean_table`
    makes of a stage cell reading ``Closed Lost`` / ``Lost`` / ``输单``, and the closing row of
    :func:`deals_to_history`) records how the deal ended and when, not a step. It counts for the
    deal's outcome like any other row (at equal times it comes after the step rows, so it is the
    latest) and dates the close: a lost deal closes on its latest row recording the loss, and a
    row recording the win dates the win like an entry of ``won_stage``. It never counts as
    reaching a step, here or in :func:`stage_funnel`. A loss dated after ``as_of`` is not known
    on ``as_of``: the deal is open then. An outcome written on step rows has no date of its own:
    it is known from the deal's last row on, so a deal with rows after ``as_of`` is open then,
    and a lost one closes on its last stage entry. Rows without a stage and without an outcome
    are ignored.

    **Stage unknown.** A deal whose rows are all outcome rows (a history that only recorded its
    loss) is kept: its ``stage`` is missing and ``stage_index`` is 0 ("stage unknown", never
    guessed). It counts as an opportunity and as won, lost or open in :func:`pipeline_kpis` and
    :func:`deal_cohorts`, is in no step of :func:`stage_funnel`, :func:`stage_durations` or
    :func:`weighted_pipeline`, and, if open, adds nothing to the weighted pipeline (its stage
    has no probability).

    Parameters
    ----------
    history : DataFrame
        The stage history (商机阶段记录).
    stages : str, list of str or mapping, default=DEFAULT_STAGES
        The steps, as in :func:`stage_funnel`.
    won_stage : str, default="成交"
        The stage (or step) at which a deal is won.
    id_col, stage_col, time_col, amount_col, outcome_col : str
        Column names. ``amount_col`` and ``outcome_col`` are optional.
    carry : list of str, optional
        Columns copied to each deal (its first non-missing value in time order). Default:
        ``customer_id``, ``owner`` and ``lead_source``, those the history has.
    outcome_words : mapping, default=OUTCOME_WORDS
        Outcome cell (lower-cased, stripped) → ``"won"``, ``"lost"`` or ``"open"``; other
        non-missing values are an error.
    as_of : date-like, optional
        The analysis day; default the latest day in the history. Rows entered after it are
        ignored, rows entered on it count whatever their time. Only its calendar day is used: a
        time zone is dropped, keeping the local date, and zoned times in ``time_col`` are cut
        on their own wall clock.

    Returns
    -------
    DataFrame
        One row per opportunity, sorted by ``id_col``:

        - ``id_col`` and the ``carry`` columns.
        - ``created_at`` – the deal's first row: first entry of any stage, or the first
          outcome row if that is earlier (for a deal with outcome rows only, the first of them).
        - ``stage`` – the furthest step reached; ``stage_index`` – its number (1 = first);
          ``stage_entered_at`` – when that step was first entered. Stage unknown (outcome rows
          only): ``stage`` missing, ``stage_index`` 0, ``stage_entered_at`` missing.
        - ``amount`` – the latest non-missing amount, outcome rows included (missing without
          ``amount_col``).
        - ``outcome`` – ``"won"``, ``"lost"`` or ``"open"``.
        - ``won_at`` – first entry of ``won_stage`` or a later stage, or of an outcome row
          recording the win if earlier (won deals only).
        - ``closed_at`` – ``won_at`` for won deals; for lost ones the date of their latest
          outcome row recording the loss, or without one their last stage entry.
        - ``cycle_days`` – days from ``created_at`` to ``won_at`` (won deals only).
        - ``age_days`` – days from ``created_at`` to ``as_of`` (open deals only).
        - ``days_in_stage`` – days from ``stage_entered_at`` to ``as_of`` (open deals only).
    """
    carry_cols = (
        [CUSTOMER_ID, OWNER, LEAD_SOURCE] if carry is None else _names(list(carry), "carry")
    )
    steps, data, as_of_day = _stage_rows(
        history,
        where="deal_summary",
        stages=stages,
        id_col=id_col,
        stage_col=stage_col,
        time_col=time_col,
        as_of=as_of,
        extra=[] if carry is None else carry_cols,
        optional=[*carry_cols, amount_col, outcome_col],
        outcome_col=outcome_col,
    )
    _, lookup = _resolve_stages(stages)
    if won_stage not in lookup:
        raise ValueError(f"won_stage must be one of the stages {list(lookup)}; got {won_stage!r}")
    return _deals(
        data,
        steps,
        won_step=lookup[won_stage],
        id_col=id_col,
        amount_col=amount_col,
        outcome_col=outcome_col,
        carry=[c for c in carry_cols if c in data.columns],
        outcome_words=outcome_words,
        as_of_day=as_of_day,
    )


def _outcomes(values: pd.Series, words: Mapping[str, str]) -> pd.Series:
    text = values.astype(object).where(values.notna(), None)
    key = text.map(lambda v: v if v is None else str(v).strip().lower(), na_action="ignore")
    key = key.where(key != "", None)
    mapped = key.map(dict(words))
    bad = mapped.isna() & key.notna()
    if bad.any():
        raise ValueError(
            f"outcome values not understood: {sorted(set(key[bad]))[:10]}; outcome_words "
            f"knows {sorted(words)}"
        )
    if not set(mapped.dropna()) <= {"won", "lost", "open"}:
        raise ValueError("outcome_words must map to 'won', 'lost' or 'open'")
    return mapped


def _deals(
    data: pd.DataFrame,
    steps: list[str],
    *,
    won_step: int,
    id_col: str,
    amount_col: str,
    outcome_col: str,
    carry: list[str],
    outcome_words: Mapping[str, str],
    as_of_day: pd.Timestamp | None,
) -> pd.DataFrame:
    grouped = data.groupby(_ID, sort=True)
    furthest = grouped[_STEP].max()  # -1: the deal has outcome rows only, its stage is unknown
    ids = furthest.index
    if as_of_day is None:
        as_of_day = data[_T].max().normalize() if len(data) else pd.NaT
    step_rows = data[~data[_OUTROW]]
    at_furthest = step_rows[_STEP].to_numpy() == furthest.reindex(step_rows[_ID]).to_numpy()
    deals = _first_valid(data, carry).reindex(ids)
    deals["created_at"] = grouped[_T].min()
    deals["stage"] = [steps[i] if i >= 0 else None for i in furthest.to_numpy()]
    deals["stage_index"] = furthest.to_numpy() + 1
    deals["stage_entered_at"] = step_rows[at_furthest].groupby(_ID)[_T].min()
    if amount_col in data.columns:
        deals["amount"] = pd.to_numeric(grouped[amount_col].last(), errors="coerce")
    else:
        deals["amount"] = np.nan
    won_at = step_rows[step_rows[_STEP] >= won_step].groupby(_ID)[_T].min().reindex(ids)
    lost_on = pd.Series(pd.NaT, index=ids, dtype=data[_T].dtype)
    if outcome_col in data.columns:
        recorded = _outcomes(grouped[outcome_col].last(), outcome_words)
        out_rows = data[data[_OUTROW]]
        said = _outcomes(out_rows[outcome_col], outcome_words)
        # an outcome row recording the win dates it, like an entry of the won stage
        won_row = out_rows[(said == "won").to_numpy()].groupby(_ID)[_T].min().reindex(ids)
        won_at = pd.concat([won_at, won_row], axis=1).min(axis=1)
        lost_on = out_rows[(said == "lost").to_numpy()].groupby(_ID)[_T].max().reindex(ids)
    else:
        recorded = pd.Series(None, index=ids, dtype=object)
    reached_won = won_at.notna()
    outcome = recorded.where(recorded.notna(), np.where(reached_won, "won", "open"))
    # Won by the as-of day only if the won stage (or a row recording the win) was by then.
    outcome = outcome.where(~((outcome == "won") & ~reached_won), "open")
    deals["outcome"] = outcome.astype(object)
    won = deals["outcome"] == "won"
    lost = deals["outcome"] == "lost"
    is_open = deals["outcome"] == "open"
    deals["won_at"] = won_at.where(won)
    last_entry = step_rows.groupby(_ID)[_T].max().reindex(ids)
    lost_at = lost_on.where(lost_on.notna(), last_entry)
    deals["closed_at"] = deals["won_at"].where(won, lost_at.where(lost))
    deals["cycle_days"] = (deals["won_at"] - deals["created_at"]).dt.total_seconds() / _DAY_S
    deals["age_days"] = ((as_of_day - deals["created_at"]).dt.total_seconds() / _DAY_S).where(
        is_open
    )
    deals["days_in_stage"] = (
        (as_of_day - deals["stage_entered_at"]).dt.total_seconds() / _DAY_S
    ).where(is_open)
    deals.index.name = id_col
    return deals.reset_index()


def stage_durations(
    history: Any,
    *,
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    won_stage: str = WON_STAGE,
    id_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    time_col: str = ENTERED_AT,
    outcome_col: str = OUTCOME,
    by: str | Sequence[str] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Days spent in each stage, and how long open deals have been sitting in their current one.

    A deal's time in a step runs from its first entry of that step to its first entry of the next
    step it reached (a skipped step is passed over, so the time counts in the step before it).
    Durations are taken as recorded: a history that enters a later stage earlier gives a
    negative duration, which is a data error worth checking. Outcome rows (a recorded loss, see
    :func:`deal_summary`) are not entries of any step; they only decide which deals are open.

    Parameters
    ----------
    history : DataFrame
        The stage history (商机阶段记录).
    stages : str, list of str or mapping, default=DEFAULT_STAGES
        The steps, as in :func:`stage_funnel`.
    won_stage, id_col, stage_col, time_col, outcome_col : str
        As in :func:`deal_summary`, which decides which deals are open.
    by : str or list of str, optional
        Break down by these columns (first non-missing value of each deal).
    as_of : date-like, optional
        The analysis day; default the latest day in the history. Rows entered after it are
        ignored, rows entered on it count whatever their time. Only its calendar day is used: a
        time zone is dropped, keeping the local date, and zoned times in ``time_col`` are cut
        on their own wall clock.

    Returns
    -------
    DataFrame
        One row per step (per group with ``by``):

        - ``by`` columns, ``step``, ``step_index``.
        - ``entered`` – deals with a recorded entry of the step.
        - ``moved_on`` – of those, deals that went on to a later step (they have a duration).
        - ``median_days``, ``mean_days`` – days in the step, over ``moved_on`` deals.
        - ``still_open`` – open deals whose furthest step is this one.
        - ``median_days_open`` – their median days since entering it, up to ``as_of``.
    """
    by_cols = _names(by, "by")
    steps, data, as_of_day = _stage_rows(
        history,
        where="stage_durations",
        stages=stages,
        id_col=id_col,
        stage_col=stage_col,
        time_col=time_col,
        as_of=as_of,
        extra=by_cols,
        optional=[outcome_col],
        outcome_col=outcome_col,
    )
    _, lookup = _resolve_stages(stages)
    if won_stage not in lookup:
        raise ValueError(f"won_stage must be one of the stages {list(lookup)}; got {won_stage!r}")
    deals = _deals(
        data,
        steps,
        won_step=lookup[won_stage],
        id_col=_ID,
        amount_col=AMOUNT,
        outcome_col=outcome_col,
        carry=by_cols,
        outcome_words=OUTCOME_WORDS,
        as_of_day=as_of_day,
    ).set_index(_ID)
    entries = data[~data[_OUTROW]].groupby([_ID, _STEP], sort=True)[_T].min().reset_index()
    entries["_next"] = entries.groupby(_ID)[_T].shift(-1)
    entries["_days"] = (entries["_next"] - entries[_T]).dt.total_seconds() / _DAY_S
    entries["_moved"] = entries["_next"].notna().astype("int64")
    deal_info = deals[[*by_cols, "stage_index", "outcome", "days_in_stage"]]
    entries = entries.join(deal_info, on=_ID)
    current = (entries["outcome"] == "open") & (entries[_STEP] + 1 == entries["stage_index"])
    entries["_open"] = current.astype("int64")
    entries["_open_days"] = entries["days_in_stage"].where(current)
    full = _all_steps(entries, by_cols, len(steps))
    table = (
        full.groupby([*by_cols, _STEP], dropna=False, sort=True)
        .agg(
            entered=(_ID, "count"),
            moved_on=("_moved", "sum"),
            median_days=("_days", "median"),
            mean_days=("_days", "mean"),
            still_open=("_open", "sum"),
            median_days_open=("_open_days", "median"),
        )
        .reset_index()
    )
    table["step_index"] = table[_STEP] + 1
    table.insert(len(by_cols), "step", [steps[i] for i in table[_STEP]])
    table = table.astype({"moved_on": "int64", "still_open": "int64", "entered": "int64"})
    columns = [*by_cols, "step", "step_index", "entered", "moved_on", "median_days", "mean_days"]
    return table[[*columns, "still_open", "median_days_open"]]


#: When an open deal is stuck (:func:`stuck_deals`): its days in the current step are above
#: ``factor`` × the step's norm, the median days deals that moved on spent there, and at least
#: ``min_days``; a norm needs ``min_moved_on`` such deals, else the step has no norm and its deals
#: are not judged.
STUCK_RULES: dict[str, float] = {"factor": 1.5, "min_days": 14, "min_moved_on": 5}


def stuck_deals(
    history: Any,
    *,
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    rules: Mapping[str, float] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
    carry: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Open deals sitting in their step well beyond what deals that moved on took there.

    The norm of a step is the median days spent in it by deals that went on to a later step
    (:func:`stage_durations`'s ``median_days``), learned from the history itself. An open deal is
    stuck when its ``days_in_stage`` (from :func:`deal_summary`) is above ``factor`` × the norm
    and at least ``min_days`` (:data:`STUCK_RULES`). A step through which fewer than
    ``min_moved_on`` deals moved on has no norm: its deals are listed with ``norm_days``
    missing and ``stuck`` False, never judged on a guess.

    Parameters
    ----------
    history : DataFrame
        The stage history (商机阶段记录).
    stages : str, list of str or mapping, default=DEFAULT_STAGES
        The steps, as in :func:`stage_funnel`.
    rules : mapping, optional
        Overrides of :data:`STUCK_RULES`.
    as_of : date-like, optional
        The analysis day, as in :func:`deal_summary`.
    carry : list of str, optional
        Columns copied to each deal, as in :func:`deal_summary` (default: customer, owner, lead
        source).

    Returns
    -------
    DataFrame
        Every open deal with a known step: the ``carry`` columns, ``opportunity_id``, ``stage``,
        ``amount``, ``days_in_stage``, ``norm_days``, ``over_norm`` (``days_in_stage`` ÷
        ``norm_days``) and ``stuck``; stuck deals first, longest over their norm first.

    Examples
    --------
    >>> rows = [(f"W{i}", s, f"2024-01-{d:02d}", "won") for i in range(5)
    ...         for s, d in (("初次接洽", 1), ("需求确认", 11), ("成交", 21))]
    >>> rows += [("S", "初次接洽", "2024-01-01", "open"), ("S", "需求确认", "2024-01-05", "open"),
    ...          ("F", "初次接洽", "2024-06-20", "open")]
    >>> history = pd.DataFrame(rows, columns=["opportunity_id", "stage", "entered_at", "outcome"])
    >>> history["entered_at"] = pd.to_datetime(history["entered_at"])
    >>> stuck_deals(history, as_of="2024-06-30")[["opportunity_id", "days_in_stage", "norm_days", "stuck"]]
      opportunity_id  days_in_stage  norm_days  stuck
    0              S          177.0       10.0   True
    1              F           10.0       10.0  False
    """
    merged = {**STUCK_RULES, **dict(rules or {})}
    unknown = sorted(set(merged) - set(STUCK_RULES))
    if unknown:
        raise ValueError(f"unknown stuck rules {unknown}; valid: {sorted(STUCK_RULES)}")
    deals = deal_summary(history, stages=stages, as_of=as_of, carry=carry)
    durations = stage_durations(history, stages=stages, as_of=as_of)
    enough = durations["moved_on"] >= merged["min_moved_on"]
    norms = durations["median_days"].where(enough)
    norms.index = durations["step"]
    open_deals = deals[(deals["outcome"] == "open") & deals["stage"].notna()].copy()
    open_deals["norm_days"] = open_deals["stage"].map(norms).astype("float64")
    open_deals["over_norm"] = open_deals["days_in_stage"] / open_deals["norm_days"].where(
        open_deals["norm_days"] > 0
    )
    open_deals["stuck"] = (
        (
            (open_deals["days_in_stage"] > merged["factor"] * open_deals["norm_days"])
            & (open_deals["days_in_stage"] >= merged["min_days"])
        )
        .fillna(False)
        .astype(bool)
    )
    keep = [c for c in open_deals.columns if c in (carry or [CUSTOMER_ID, OWNER, LEAD_SOURCE])]
    columns = [OPPORTUNITY_ID, *keep, "stage", "amount", "days_in_stage", "norm_days"]
    columns += ["over_norm", "stuck"]
    ordered = open_deals.sort_values(
        ["stuck", "over_norm", "days_in_stage", OPPORTUNITY_ID],
        ascending=[False, False, False, True],
        na_position="last",
        kind="stable",
    )
    return ordered[[c for c in columns if c in ordered.columns]].reset_index(drop=True)


def _all_steps(entries: pd.DataFrame, by_cols: list[str], n: int) -> pd.DataFrame:
    """Add one empty row for every (group, step) pair the entries lack, so each step is listed."""
    if by_cols:
        groups = entries[by_cols].drop_duplicates()
    else:
        groups = pd.DataFrame(index=[0])
    grid = groups.merge(pd.DataFrame({_STEP: np.arange(n)}), how="cross")
    blank = grid.assign(**{_ID: None, "_moved": 0, "_open": 0})
    return pd.concat([entries, blank], ignore_index=True)


def pipeline_kpis(
    history: Any,
    *,
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    won_stage: str = WON_STAGE,
    stage_probabilities: Mapping[str, float] = DEFAULT_STAGE_PROBABILITIES,
    id_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    time_col: str = ENTERED_AT,
    amount_col: str = AMOUNT,
    outcome_col: str = OUTCOME,
    by: str | Sequence[str] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Win rate, average deal, cycle time, sales velocity and weighted pipeline.

    - **win rate** = won ÷ (won + lost): of the *closed* deals only, so open deals do not pull it
      down before they are decided.
    - **average deal** = mean amount of won deals.
    - **cycle time** = days from a won deal's first stage entry (first contact) to its won stage.
    - **sales velocity** = open deals × win rate × average deal ÷ mean cycle days: the revenue the
      current pipeline is expected to bring in per day.
    - **weighted pipeline** = Σ amount × probability of the open deal's stage
      (``stage_probabilities``), see :func:`weighted_pipeline`.

    Ratios with nothing to divide by (no closed deal, no won deal, zero cycle) are missing.
    Every deal of :func:`deal_summary` counts, including a deal known only from a row recording
    its loss (stage unknown): it is one of the ``lost``, so the win rate sees it; an open deal of
    unknown stage counts in ``open`` and ``open_amount`` but adds 0 to the weighted pipeline.

    Parameters
    ----------
    history : DataFrame
        The stage history (商机阶段记录).
    stages, won_stage, id_col, stage_col, time_col, amount_col, outcome_col
        As in :func:`deal_summary`.
    stage_probabilities : mapping, default=DEFAULT_STAGE_PROBABILITIES
        Step label → probability (0–1) that an open deal at that step is won.
    by : str or list of str, optional
        Break down by these columns (first non-missing value of each deal).
    as_of : date-like, optional
        The analysis day; see :func:`deal_summary`.

    Returns
    -------
    DataFrame
        One row (per group with ``by``): ``by`` columns, ``opportunities``, ``open``, ``won``,
        ``lost``, ``win_rate``, ``average_deal``, ``cycle_days_mean``, ``cycle_days_median``,
        ``sales_velocity`` (amount per day), ``open_amount``, ``weighted_pipeline``.
    """
    by_cols = _names(by, "by")
    deals = deal_summary(
        history,
        stages=stages,
        won_stage=won_stage,
        id_col=id_col,
        stage_col=stage_col,
        time_col=time_col,
        amount_col=amount_col,
        outcome_col=outcome_col,
        carry=by_cols,
        as_of=as_of,
    )
    deals["_weighted"] = _weights(deals, stage_probabilities)
    deals["_won"] = (deals["outcome"] == "won").astype("int64")
    deals["_lost"] = (deals["outcome"] == "lost").astype("int64")
    deals["_open"] = (deals["outcome"] == "open").astype("int64")
    deals["_won_amount"] = deals["amount"].where(deals["_won"] == 1)
    deals["_open_amount"] = deals["amount"].where(deals["_open"] == 1)
    keys = by_cols or ["_all"]
    table = (
        deals.assign(_all=0)
        .groupby(keys, dropna=False, sort=True)
        .agg(
            opportunities=(id_col, "count"),
            open=("_open", "sum"),
            won=("_won", "sum"),
            lost=("_lost", "sum"),
            average_deal=("_won_amount", "mean"),
            cycle_days_mean=("cycle_days", "mean"),
            cycle_days_median=("cycle_days", "median"),
            open_amount=("_open_amount", "sum"),
            weighted_pipeline=("_weighted", "sum"),
        )
    )
    if table.empty and not by_cols:
        table = pd.DataFrame(
            [[0, 0, 0, 0, np.nan, np.nan, np.nan, 0.0, 0.0]], columns=table.columns
        )
    table["win_rate"] = _ratio(table["won"], table["won"] + table["lost"]).to_numpy()
    cycle = table["cycle_days_mean"].where(table["cycle_days_mean"] > 0)
    table["sales_velocity"] = table["open"] * table["win_rate"] * table["average_deal"] / cycle
    table = table.reset_index(drop=not by_cols)
    columns = [
        *by_cols,
        "opportunities",
        "open",
        "won",
        "lost",
        "win_rate",
        "average_deal",
        "cycle_days_mean",
        "cycle_days_median",
        "sales_velocity",
        "open_amount",
        "weighted_pipeline",
    ]
    return table[columns]


def _probabilities(probabilities: Mapping[str, float], needed: Iterable[str]) -> dict[str, float]:
    if not isinstance(probabilities, Mapping):
        raise ValueError(
            f"stage_probabilities must be a mapping step → probability; got {probabilities!r}"
        )
    missing = sorted(set(needed) - set(probabilities))
    if missing:
        raise ValueError(
            f"stage_probabilities has no probability for the steps {missing}; "
            f"it has {sorted(probabilities)}"
        )
    clean = {}
    for step, p in probabilities.items():
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ValueError(
                f"stage_probabilities values must be numbers from 0 to 1; got {step!r}: {p!r}"
            )
        clean[step] = float(p)
    return clean


def _weights(deals: pd.DataFrame, probabilities: Mapping[str, float]) -> pd.Series:
    """Weighted amount of each open deal: amount × probability of its step (0 if no amount)."""
    is_open = deals["outcome"] == "open"
    probs = _probabilities(probabilities, deals.loc[is_open, "stage"].dropna().unique())
    weight = deals["stage"].map(probs).astype("float64")
    return (deals["amount"] * weight).where(is_open).fillna(0.0).where(is_open)


def weighted_pipeline(
    history: Any,
    *,
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    won_stage: str = WON_STAGE,
    stage_probabilities: Mapping[str, float] = DEFAULT_STAGE_PROBABILITIES,
    id_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    time_col: str = ENTERED_AT,
    amount_col: str = AMOUNT,
    outcome_col: str = OUTCOME,
    by: str | Sequence[str] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Open deals per stage, their amount and the amount weighted by the stage's win probability.

    An open deal sits at its furthest step. Its weighted amount is amount × the step's
    probability in ``stage_probabilities``; a deal without an amount counts in ``open_deals`` but
    adds nothing. Every step at which some deal is open needs a probability (a missing one is an
    error, not a guess). An open deal whose stage is unknown (see :func:`deal_summary`) is in no
    step's row.

    Parameters
    ----------
    history : DataFrame
        The stage history (商机阶段记录).
    stages, won_stage, id_col, stage_col, time_col, amount_col, outcome_col
        As in :func:`deal_summary`.
    stage_probabilities : mapping, default=DEFAULT_STAGE_PROBABILITIES
        Step label → probability (0–1).
    by : str or list of str, optional
        Break down by these columns (first non-missing value of each deal).
    as_of : date-like, optional
        The analysis day; see :func:`deal_summary`.

    Returns
    -------
    DataFrame
        One row per step (per group with ``by``): ``by`` columns, ``step``, ``step_index``,
        ``open_deals``, ``amount`` (sum of open amounts), ``probability`` (missing for a step with
        none given and no open deal) and ``weighted_amount``.

    Examples
    --------
    >>> import pandas as pd
    >>> history = pd.DataFrame({"opportunity_id": ["A", "B", "B"],
    ...                         "stage": ["初次接洽", "初次接洽", "商务谈判"],
    ...                         "entered_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
    ...                         "amount": [100_000.0, 50_000.0, 50_000.0]})
    >>> weighted_pipeline(history)[["step", "open_deals", "weighted_amount"]].head(4)
       step  open_deals  weighted_amount
    0  初次接洽           1          10000.0
    1  需求确认           0              0.0
    2  方案提交           0              0.0
    3  商务谈判           1          30000.0
    """
    by_cols = _names(by, "by")
    deals = deal_summary(
        history,
        stages=stages,
        won_stage=won_stage,
        id_col=id_col,
        stage_col=stage_col,
        time_col=time_col,
        amount_col=amount_col,
        outcome_col=outcome_col,
        carry=by_cols,
        as_of=as_of,
    )
    steps, _ = _resolve_stages(stages)
    deals["_weighted"] = _weights(deals, stage_probabilities)
    open_deals = deals[(deals["outcome"] == "open") & (deals["stage_index"] > 0)].assign(_n=1)
    open_deals = open_deals.assign(**{_STEP: open_deals["stage_index"] - 1})
    groups = deals[by_cols].drop_duplicates() if by_cols else pd.DataFrame(index=[0])
    grid = groups.merge(pd.DataFrame({_STEP: np.arange(len(steps))}), how="cross")
    full = pd.concat([open_deals, grid.assign(_n=0)], ignore_index=True)
    table = (
        full.groupby([*by_cols, _STEP], dropna=False, sort=True)
        .agg(
            open_deals=("_n", "sum"), amount=("amount", "sum"), weighted_amount=("_weighted", "sum")
        )
        .reset_index()
    )
    table["step_index"] = table[_STEP] + 1
    table.insert(len(by_cols), "step", [steps[i] for i in table[_STEP]])
    known = {k: float(v) for k, v in stage_probabilities.items()}
    table["probability"] = table["step"].map(known).astype("float64")
    table = table.astype({"open_deals": "int64"})
    columns = [*by_cols, "step", "step_index", "open_deals", "amount", "probability"]
    return table[[*columns, "weighted_amount"]]


def deal_cohorts(
    history: Any,
    *,
    freq: str = "M",
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    won_stage: str = WON_STAGE,
    id_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    time_col: str = ENTERED_AT,
    amount_col: str = AMOUNT,
    outcome_col: str = OUTCOME,
    by: str | Sequence[str] | None = None,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Group deals by the month (quarter, year) they were created and follow how each cohort ended.

    A cohort's win rate only settles once its deals are closed: recent cohorts still hold open
    deals, so compare ``open`` before reading a low win rate as a bad month.

    Parameters
    ----------
    history : DataFrame
        The stage history (商机阶段记录).
    freq : {"M", "Q", "Y"}, default="M"
        Cohort length: calendar months, quarters or years of ``created_at``.
    stages, won_stage, id_col, stage_col, time_col, amount_col, outcome_col
        As in :func:`deal_summary`.
    by : str or list of str, optional
        Break down by these columns as well.
    as_of : date-like, optional
        The analysis day; see :func:`deal_summary`.

    Returns
    -------
    DataFrame
        One row per cohort (per group with ``by``), in time order: ``by`` columns, ``cohort``
        (e.g. ``"2024-03"``, ``"2024Q1"``, ``"2024"``), ``created``, ``won``, ``lost``, ``open``,
        ``win_rate`` (won ÷ closed), ``conversion`` (won ÷ created) and ``won_amount``.
    """
    _check_choice("freq", freq, ("M", "Q", "Y"))
    by_cols = _names(by, "by")
    deals = deal_summary(
        history,
        stages=stages,
        won_stage=won_stage,
        id_col=id_col,
        stage_col=stage_col,
        time_col=time_col,
        amount_col=amount_col,
        outcome_col=outcome_col,
        carry=by_cols,
        as_of=as_of,
    )
    deals["_period"] = deals["created_at"].dt.to_period(freq)
    deals["_won"] = (deals["outcome"] == "won").astype("int64")
    deals["_lost"] = (deals["outcome"] == "lost").astype("int64")
    deals["_open"] = (deals["outcome"] == "open").astype("int64")
    deals["_won_amount"] = deals["amount"].where(deals["_won"] == 1).fillna(0.0)
    table = (
        deals.groupby([*by_cols, "_period"], dropna=False, sort=True)
        .agg(
            created=(id_col, "count"),
            won=("_won", "sum"),
            lost=("_lost", "sum"),
            open=("_open", "sum"),
            won_amount=("_won_amount", "sum"),
        )
        .reset_index()
    )
    table.insert(len(by_cols), "cohort", table["_period"].astype(str))
    table["win_rate"] = _ratio(table["won"], table["won"] + table["lost"]).to_numpy()
    table["conversion"] = _ratio(table["won"], table["created"]).to_numpy()
    columns = [*by_cols, "cohort", "created", "won", "lost", "open", "win_rate", "conversion"]
    return table[[*columns, "won_amount"]]


def deals_to_history(
    deals: Any,
    *,
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    won_stage: str = WON_STAGE,
    created_stage: str | None = None,
    id_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    created_col: str = "created_at",
    closed_col: str = "closed_at",
    amount_col: str = AMOUNT,
    outcome_col: str = OUTCOME,
    carry: Sequence[str] | None = None,
    outcome_words: Mapping[str, str] = OUTCOME_WORDS,
) -> pd.DataFrame:
    """Turn a one-row-per-opportunity table into a stage history, inferring nothing it does not say.

    CRM exports often hold each opportunity once, with its current stage and a few dates (the
    Maven "CRM Sales Opportunities" ``sales_pipeline.csv``: ``opportunity_id``, ``sales_agent``,
    ``product``, ``account``, ``deal_stage`` Prospecting / Engaging / Won / Lost, ``engage_date``,
    ``close_date``, ``close_value``). This gives the rows :func:`deal_summary`,
    :func:`pipeline_kpis`, :func:`deal_cohorts` and :func:`stage_funnel` read.

    **The outcome** of a deal is ``outcome_col`` where the table has it (a word of
    ``outcome_words``); otherwise it is read from the stage: ``won_stage`` or a later stage is
    won, a stage cell recording a loss (``Lost``, ``Closed Lost``, ``输单`` …, see
    :func:`analysis_kit.parsing.stage_outcome`) is lost, any other deal is open.

    **The rows**, each with the outcome known on its date:

    - every deal: a row dated ``created_col``. An open deal's row is its current stage (outcome
      ``open``); a closed deal's row is ``created_stage`` (the stage ``created_col`` records:
      the first step by default; for Maven's ``engage_date`` pass ``created_stage="Engaging"``),
      outcome ``open``.
    - a won deal: a row dated ``closed_col`` at its stage (``won_stage``, or the later stage the
      table names), outcome ``won``.
    - a lost deal: a row dated ``closed_col`` with no stage and outcome ``lost`` (an outcome row,
      see :func:`deal_summary`). When the table names the stage a lost deal had reached (a step
      in ``stage_col`` with ``lost`` in ``outcome_col``) and it lies after the created row's
      stage, a row for that stage comes first, dated ``closed_col``: the latest day it can have
      been reached.

    **Not inferred:** the stage a lost deal reached when the table does not name it (Maven's
    ``Lost``): the deal has reached ``created_stage`` and nothing more is claimed, so
    :func:`stage_funnel` never counts it further; the dates of stages in between (there are no
    rows for them; reaching a later stage implies them, as everywhere in this module); the day
    an open deal entered its current stage (the table has none: its row carries the created
    date, so its days in stage and age both count from creation); a missing date (the row
    keeps it missing, and the functions that need dates ignore that row: a deal without
    ``created_col`` that is still open is then in no dated analysis, and a won deal without
    ``closed_col`` is open to them). No row is dropped and no amount is changed.

    Parameters
    ----------
    deals : DataFrame
        One row per opportunity (a repeated id is an error), with dates parsed (datetimes).
    stages : str, list of str or mapping, default=DEFAULT_STAGES
        The steps, as in :func:`stage_funnel`. Stage cells are read like there (the template's
        ``③方案提交``, English CRM stages such as ``Prospecting``, ``Engaging``, ``Won``); an
        unknown stage is an error.
    won_stage : str, default="成交"
        The stage at which a deal is won.
    created_stage : str, optional
        The stage a deal had reached on its ``created_col`` date; default the first step.
    id_col, stage_col, created_col, closed_col : str
        Columns of ``deals``; ``closed_col`` is the won or lost date.
    amount_col, outcome_col : str
        Optional columns of ``deals``: the deal amount (copied to each of its rows) and the
        outcome.
    carry : list of str, optional
        Columns copied to each row (owner, product, account …). Default: every other column.
    outcome_words : mapping, default=OUTCOME_WORDS
        Outcome cell (lower-cased, stripped) → ``"won"``, ``"lost"`` or ``"open"``.

    Returns
    -------
    DataFrame
        A stage history in this module's column names, sorted by opportunity and date (missing
        dates last): ``opportunity_id``, ``stage`` (the step label of ``stages``, missing on a
        loss row and for an open deal without a stage), ``entered_at``, ``amount`` (only when
        ``deals`` has ``amount_col``), ``outcome`` (``open``, ``won`` or ``lost``) and the
        ``carry`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> deals = pd.DataFrame(
    ...     {
    ...         "opportunity_id": ["A", "B", "C"],
    ...         "deal_stage": ["Won", "Lost", "Engaging"],
    ...         "engage_date": pd.to_datetime(["2024-01-02", "2024-01-05", "2024-02-01"]),
    ...         "close_date": pd.to_datetime(["2024-03-01", "2024-02-10", None]),
    ...         "close_value": [1200.0, 0.0, None],
    ...     }
    ... )
    >>> history = deals_to_history(
    ...     deals,
    ...     stage_col="deal_stage",
    ...     created_col="engage_date",
    ...     closed_col="close_date",
    ...     amount_col="close_value",
    ...     created_stage="Engaging",
    ... )
    >>> history[["opportunity_id", "stage", "entered_at", "outcome"]]
      opportunity_id stage entered_at outcome
    0              A  需求确认 2024-01-02    open
    1              A    成交 2024-03-01     won
    2              B  需求确认 2024-01-05    open
    3              B   NaN 2024-02-10    lost
    4              C  需求确认 2024-02-01    open
    >>> pipeline_kpis(history)[["opportunities", "won", "lost", "open", "win_rate"]]
       opportunities  won  lost  open  win_rate
    0              3    1     1     1       0.5
    """
    where = "deals_to_history"
    frame = as_pandas(deals)
    require_columns(frame.columns, [id_col, stage_col, created_col, closed_col], where=where)
    used = [id_col, stage_col, created_col, closed_col, amount_col, outcome_col]
    if carry is None:
        carry_cols = [c for c in frame.columns if c not in used]
    else:
        carry_cols = _names(list(carry), "carry")
        require_columns(frame.columns, carry_cols, where=where)
    has_amount = amount_col in frame.columns
    names = [OPPORTUNITY_ID, STAGE, ENTERED_AT, *([AMOUNT] if has_amount else []), OUTCOME]
    clash = sorted(set(carry_cols) & set(names))
    if clash:
        raise ValueError(f"{where}: carry must not name the output columns {clash}")
    repeated = frame[id_col][frame[id_col].notna() & frame[id_col].duplicated()]
    if len(repeated):
        raise ValueError(
            f"{where}: deals must hold one row per opportunity; {id_col!r} repeats "
            f"{sorted({str(v) for v in repeated})[:10]}"
        )
    steps, lookup = _resolve_stages(stages)

    def one_step(name: str, value: str) -> int:
        number = _step_numbers(pd.Series([value], dtype=object), lookup, where=f"{where} {name}")
        return int(number.iloc[0])

    won_step = one_step("won_stage", won_stage)
    created_step = 0 if created_stage is None else one_step("created_stage", created_stage)

    def dates(col: str) -> pd.Series:
        values = frame[col]
        if values.isna().all():
            return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
        return _datetimes(values, col, where=where)

    created, closed = dates(created_col), dates(closed_col)
    text = frame[stage_col].astype(object).where(frame[stage_col].notna(), None)
    loss_word = stage_outcome(pd.Series(text, dtype="str")).notna().to_numpy()
    step = pd.Series(np.nan, index=frame.index)
    step[~loss_word] = _step_numbers(text[~loss_word], lookup, where=where)
    from_stage = np.where(loss_word, "lost", np.where(step >= won_step, "won", "open"))
    if outcome_col in frame.columns:
        recorded = _outcomes(frame[outcome_col], outcome_words)
        outcome = recorded.where(recorded.notna(), from_stage)
    else:
        outcome = pd.Series(from_stage, index=frame.index)
    outcome = outcome.astype(object).to_numpy()
    is_open, won, lost = outcome == "open", outcome == "won", outcome == "lost"
    known = step.notna().to_numpy()
    steps_known = step.fillna(-1).astype("int64").to_numpy()

    first_step = np.where(is_open, steps_known, created_step)
    first_step = np.where(lost & known, np.minimum(first_step, steps_known), first_step)
    reached = lost & known & (steps_known > first_step)
    close_step = np.where(won, np.maximum(steps_known, won_step), -1)
    pieces = [
        (np.ones(len(frame), dtype=bool), first_step, created, "open", 0),
        (reached, steps_known, closed, "open", 1),
        (won | lost, close_step, closed, outcome, 2),
    ]
    parts = []
    for chosen, numbers, when, said, seq in pieces:
        part = pd.DataFrame(
            {
                OPPORTUNITY_ID: frame[id_col].to_numpy(),
                "_step": numbers,
                ENTERED_AT: when.to_numpy(),
                OUTCOME: said,
                "_deal": np.arange(len(frame)),
                "_seq": seq,
            }
        )
        if has_amount:
            part.insert(3, AMOUNT, frame[amount_col].to_numpy())
        for col in carry_cols:
            part[col] = frame[col].to_numpy()
        parts.append(part[chosen])
    rows = pd.concat(parts, ignore_index=True)
    rows.insert(1, STAGE, [steps[k] if k >= 0 else None for k in rows.pop("_step")])
    rows[OUTCOME] = rows[OUTCOME].astype("str")
    rows = rows.sort_values(
        [OPPORTUNITY_ID, ENTERED_AT, "_deal", "_seq"], kind="stable", na_position="last"
    )
    return rows.drop(columns=["_deal", "_seq"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Channel ROI
# ---------------------------------------------------------------------------------------------


_PERIOD_RE = re.compile(r"^\d{4}(?:-\d{1,2}|Q[1-4])?$")


def _period(value: Any) -> pd.Period:
    """Parse ``"2024"``, ``"2024-03"`` or ``"2024Q1"`` (or take a pandas Period)."""
    if isinstance(value, pd.Period):
        return value
    text = str(value).strip()
    if not _PERIOD_RE.match(text):
        raise ValueError(f"not a period: {value!r}")
    return pd.Period(text)


def _period_bounds(period: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Return the first and last instant of ``period`` (one period or a (start, end) pair)."""
    if period is None:
        return None
    pair = (period, period) if isinstance(period, str | pd.Period) else period
    try:
        start, end = pair
        first, last = _period(start).start_time, _period(end).end_time
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "period must be a period such as '2024-03', '2024Q1' or '2024', or a (start, end) "
            f"pair of them; got {period!r}"
        ) from exc
    if last < first:
        raise ValueError(f"period must end after it starts; got {period!r}")
    return first, last


def channel_roi(
    leads_or_history: Any,
    orders: Any,
    costs: Any,
    *,
    by: str = LEAD_SOURCE,
    attribution: str = "customer",
    period: str | tuple[str, str] | None = None,
    customer_col: str = CUSTOMER_ID,
    opportunity_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    outcome_col: str = OUTCOME,
    lead_date_col: str = ENTERED_AT,
    date_col: str = ORDER_DATE,
    amount_col: str = AMOUNT,
    channel_col: str = CHANNEL,
    period_col: str = PERIOD,
    cost_col: str = COST,
    stages: str | Sequence[str] | Mapping[str, str | Sequence[str]] = DEFAULT_STAGES,
    won_stage: str = WON_STAGE,
    qualified_stage: str = "需求确认",
    unknown: str = UNKNOWN_CHANNEL,
) -> pd.DataFrame:
    """Leads, deals, revenue and cost per channel, and what each channel returns on its cost.

    The templates' question: is 展会 (trade fairs), 线上推广 (online ads) or 转介绍 (referrals)
    worth its money? How each number is counted:

    - **leads** – distinct customers in ``leads_or_history`` per channel. A customer belongs to the
      channel of its first row (earliest ``lead_date_col`` when the table has it), so each
      customer is one lead of one channel.
    - **opportunities** – with a stage history (the table has ``opportunity_col``): distinct
      opportunities, each under its own channel (first row). With a customers table: customers
      whose current stage is ``qualified_stage`` (②需求确认, need confirmed) or later.
    - **won** – with a stage history: opportunities won (see :func:`deal_summary`). With a
      customers table: customers whose current stage is ``won_stage`` (⑤成交) or later.
    - **revenue** – net order amounts (refunds subtract). ``attribution="customer"`` credits each
      order to the channel of its customer's lead (the channel that brought the customer: orders
      of customers not in ``leads_or_history`` go to ``unknown``); ``"order"`` uses the orders'
      own ``by`` column.
    - **cost** – the channel costs (渠道投入) whose ``channel_col`` equals the channel.
    - ``conversion`` = won ÷ leads; ``cost_per_lead`` = cost ÷ leads; ``cost_per_won`` = cost ÷
      won; ``roi`` = (revenue − cost) ÷ cost. Each is missing when its divisor is 0.

    Missing channels are labelled ``unknown``. ``period`` keeps orders dated in it, cost rows whose
    period starts in it (a quarter's cost counts whole if its first day is inside) and leads and
    opportunities first seen in it (by ``lead_date_col``; a table without it is not filtered).

    Parameters
    ----------
    leads_or_history : DataFrame
        The stage history (商机阶段记录) or the customers table (客户信息表).
    orders : DataFrame
        The orders (成交明细) with ``customer_col``, ``date_col`` and ``amount_col``.
    costs : DataFrame
        The channel costs (渠道投入): ``channel_col``, ``period_col`` (``"2024-03"``,
        ``"2024Q1"`` …; a clean table's ``period_start`` is used when present) and ``cost_col``.
    by : str, default="lead_source"
        The channel column of ``leads_or_history`` (and of ``orders`` for ``attribution="order"``).
    attribution : {"customer", "order"}, default="customer"
        How revenue finds its channel (see above).
    period : str or (str, str), optional
        One period (``"2024"``, ``"2024Q1"``, ``"2024-03"``) or an inclusive ``(start, end)`` pair.
    customer_col, opportunity_col, stage_col, outcome_col, lead_date_col : str
        Columns of ``leads_or_history``.
    date_col, amount_col : str
        Columns of ``orders``.
    channel_col, period_col, cost_col : str
        Columns of ``costs``.
    stages, won_stage : optional
        The steps and the won stage, as in :func:`deal_summary`.
    qualified_stage : str, default="需求确认"
        For a customers table: the stage from which a lead counts as an opportunity.
    unknown : str, default="未知"
        Label of the missing channel.

    Returns
    -------
    DataFrame
        One row per channel, sorted by revenue (largest first): ``by`` (the channel), ``leads``,
        ``opportunities``, ``won``, ``revenue``, ``cost``, ``conversion``, ``cost_per_lead``,
        ``cost_per_won``, ``roi``.
    """
    _check_choice("attribution", attribution, ("customer", "order"))
    bounds = _period_bounds(period)
    leads = as_pandas(leads_or_history)
    require_columns(leads.columns, [customer_col, by], where="channel_roi")
    order_frame = as_pandas(orders)
    order_needed = [customer_col, date_col, amount_col, *([by] if attribution == "order" else [])]
    require_columns(order_frame.columns, order_needed, where="channel_roi", table="orders")
    cost_frame = as_pandas(costs)
    require_columns(
        cost_frame.columns, [channel_col, cost_col], where="channel_roi", table="channel_costs"
    )
    if PERIOD_START not in cost_frame.columns:
        require_columns(
            cost_frame.columns, [period_col], where="channel_roi", table="channel_costs"
        )

    def label(values: pd.Series) -> pd.Series:
        text = values.astype(object).where(values.notna(), None)
        text = text.map(lambda v: str(v).strip(), na_action="ignore")
        return text.where(text.notna() & (text != ""), unknown)

    dated = lead_date_col in leads.columns
    rows = pd.DataFrame({"_cust": leads[customer_col], "_channel": label(leads[by])})
    if dated:
        rows["_date"] = _datetimes(leads[lead_date_col], lead_date_col, where="channel_roi")
    rows = rows[rows["_cust"].notna()]
    order = ["_cust", "_date"] if dated else ["_cust"]
    rows = rows.sort_values(order, kind="stable")
    first = rows.drop_duplicates("_cust")
    if bounds is not None and dated:
        first = first[first["_date"].between(*bounds)]
    lead_counts = first.groupby("_channel")["_cust"].nunique()

    if opportunity_col in leads.columns and stage_col in leads.columns and dated:
        deals = deal_summary(
            leads.assign(**{"__fn_channel": label(leads[by])}),
            stages=stages,
            won_stage=won_stage,
            id_col=opportunity_col,
            stage_col=stage_col,
            time_col=lead_date_col,
            outcome_col=outcome_col,
            carry=["__fn_channel"],
        )
        if bounds is not None:
            deals = deals[deals["created_at"].between(*bounds)]
        opp_counts = deals.groupby("__fn_channel")[opportunity_col].nunique()
        won_counts = (
            deals[deals["outcome"] == "won"].groupby("__fn_channel")[opportunity_col].count()
        )
    elif stage_col in leads.columns:
        _, lookup = _resolve_stages(stages)
        for name, value in (("won_stage", won_stage), ("qualified_stage", qualified_stage)):
            if value not in lookup:
                raise ValueError(f"{name} must be one of the stages {list(lookup)}; got {value!r}")
        step = _step_numbers(leads[stage_col], lookup, where="channel_roi")
        current = pd.DataFrame({"_cust": leads[customer_col], "_step": step})
        current = current.groupby("_cust")["_step"].max()
        first = first.assign(_step=first["_cust"].map(current))
        opp_counts = first[first["_step"] >= lookup[qualified_stage]].groupby("_channel").size()
        won_counts = first[first["_step"] >= lookup[won_stage]].groupby("_channel").size()
    else:
        opp_counts = won_counts = None

    dates = _datetimes(order_frame[date_col], date_col, where="channel_roi")
    amounts = pd.to_numeric(order_frame[amount_col], errors="coerce").fillna(0.0)
    keep = dates.notna()
    if bounds is not None:
        keep &= dates.between(*bounds)
    if attribution == "customer":
        channel_of = rows.drop_duplicates("_cust").set_index("_cust")["_channel"]
        order_channel = order_frame[customer_col].map(channel_of).fillna(unknown)
    else:
        order_channel = label(order_frame[by])
    revenue = amounts[keep].groupby(order_channel[keep]).sum()

    cost_channel = label(cost_frame[channel_col])
    cost_values = pd.to_numeric(cost_frame[cost_col], errors="coerce").fillna(0.0)
    if bounds is not None:
        if PERIOD_START in cost_frame.columns:
            starts = pd.to_datetime(cost_frame[PERIOD_START])
        else:
            text = cost_frame[period_col].astype(str)
            unique = {}
            for value in text.unique():
                try:
                    unique[value] = _period(value).start_time
                except ValueError as exc:
                    raise ValueError(
                        f"channel_roi: costs column {period_col!r} holds {value!r}, not a period "
                        "such as '2024-03', '2024Q1' or '2024'"
                    ) from exc
            starts = text.map(unique)
        cost_keep = starts.between(*bounds)
        cost_values, cost_channel = cost_values[cost_keep], cost_channel[cost_keep]
    cost = cost_values.groupby(cost_channel).sum()

    channels = sorted(set(lead_counts.index) | set(revenue.index) | set(cost.index))
    table = pd.DataFrame(index=pd.Index(channels, name=by))
    table["leads"] = lead_counts.reindex(channels).fillna(0).astype("int64")
    if opp_counts is None:
        table["opportunities"] = pd.NA
        table["won"] = pd.NA
    else:
        table["opportunities"] = opp_counts.reindex(channels).fillna(0).astype("int64")
        table["won"] = won_counts.reindex(channels).fillna(0).astype("int64")
    table["revenue"] = revenue.reindex(channels).fillna(0.0).astype("float64")
    table["cost"] = cost.reindex(channels).fillna(0.0).astype("float64")
    table["conversion"] = _ratio(table["won"], table["leads"]).to_numpy()
    table["cost_per_lead"] = _ratio(table["cost"], table["leads"]).to_numpy()
    table["cost_per_won"] = _ratio(table["cost"], table["won"]).to_numpy()
    table["roi"] = _ratio(table["revenue"] - table["cost"], table["cost"]).to_numpy()
    table = table.reset_index().sort_values(["revenue", by], ascending=[False, True])
    return table.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Event funnel (narwhals: pandas, Polars, DuckDB, PySpark)
# ---------------------------------------------------------------------------------------------


def _window_us(window: Any) -> int | None:
    if window is None:
        return None
    if isinstance(window, bool) or isinstance(window, int | float | np.number):
        raise ValueError(
            "window must be None or a duration such as pd.Timedelta(days=7), "
            f"datetime.timedelta(hours=1) or '7D'; got the number {window!r}"
        )
    try:
        span = pd.Timedelta(window)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"window must be None or a duration such as pd.Timedelta(days=7) or '7D'; got {window!r}"
        ) from exc
    if pd.isna(span) or span < pd.Timedelta(0):
        raise ValueError(f"window must be a duration of 0 or more; got {window!r}")
    return int(span // pd.Timedelta(microseconds=1))


def _check_steps(steps: Any) -> list[str]:
    if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise ValueError(f"steps must be a non-empty list of event names; got {steps!r}")
    values = list(steps)
    if any(v is None for v in values) or len(set(values)) != len(values):
        raise ValueError(f"steps must be distinct, non-missing event names; got {values!r}")
    return values


def _t(k: int) -> str:
    return f"__fn_t{k}"


def _key(k: int) -> str:
    return f"__fn_k{k}"


def _q(k: int) -> str:
    return f"__fn_q{k}"


def event_funnel_units(
    events: Any,
    steps: Sequence[Any],
    *,
    unit_col: str = CUSTOMER_ID,
    time_col: str = EVENT_TIME,
    event_col: str = EVENT,
    order: str = "ordered",
    window: Any = None,
    entry: str = "any",
    breakdown: str | Sequence[str] | None = None,
) -> Any:
    """Follow each unit through an event funnel: how far it got and when it reached each step.

    The per-unit result behind :func:`event_funnel` (which documents every parameter); use it for
    the distribution of time to convert.

    Parameters
    ----------
    events : DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame
        One row per event; pandas (numpy- or Arrow-backed), Polars (eager or lazy), DuckDB or
        PySpark (not Dask: its as-of joins are not supported).
    steps : list
        The event names of the steps, in funnel order.
    unit_col, time_col, event_col : str
        Who did it, when (datetimes or dates) and what.
    order : {"ordered", "strict", "any"}, default="ordered"
        See :func:`event_funnel`.
    window : duration, optional
        See :func:`event_funnel`.
    entry : {"any", "first"}, default="any"
        See :func:`event_funnel`.
    breakdown : str or list of str, optional
        Columns copied from the event that starts the unit's counted attempt.

    Returns
    -------
    DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame
        The same kind of object as ``events`` (lazy stays lazy until the caller collects;
        with a Polars LazyFrame and ``order="any"``, Polars may warn at ``collect`` that it
        cannot check the sortedness of the as-of join, which is sorted), one row per unit that
        has a step-1 event (for ``order="any"``: any step event), in no particular order:

        - ``unit_col`` and the ``breakdown`` columns.
        - ``start`` – when the counted attempt started (datetime, microseconds).
        - ``steps_reached`` – how many steps the attempt reached (1 … number of steps; 0 is
          possible only with ``order="any"`` when no window holds step 1).
        - ``seconds_1`` … ``seconds_n`` – seconds from ``start`` to reaching each step (float;
          missing for steps not reached). With ``order="any"`` a step is "reached" when it and
          every earlier step have happened, so ``seconds_k`` is the latest of their first times.
    """
    _check_choice("order", order, ("ordered", "strict", "any"))
    _check_choice("entry", entry, ("any", "first"))
    step_names = _check_steps(steps)
    window_us = _window_us(window)
    breakdown_cols = _names(breakdown, "breakdown")
    frame = nw.from_native(events)
    eager = isinstance(frame, nw.DataFrame)
    schema = frame.collect_schema()
    require_columns(
        schema.names(), [unit_col, time_col, event_col, *breakdown_cols], where="event_funnel"
    )
    clash = {unit_col, time_col, event_col} & set(breakdown_cols)
    if clash:
        raise ValueError(
            f"breakdown must not repeat unit, time or event columns; got {sorted(clash)}"
        )
    time_type = schema[time_col]
    if not isinstance(time_type, nw.Datetime | nw.Date):
        raise TypeError(
            f"event_funnel: time_col {time_col!r} must hold datetimes or dates, got {time_type}; "
            "parse dates first, e.g. with analysis_kit.clean_table"
        )
    units = _funnel_units(
        frame.lazy(),
        step_names,
        unit_col=unit_col,
        time_col=time_col,
        time_type=time_type,
        event_col=event_col,
        event_type=schema[event_col],
        order=order,
        window_us=window_us,
        entry=entry,
        breakdown=breakdown_cols,
        method=_join_method(frame.implementation),
    )
    n = len(step_names)
    out = units.select(
        unit_col,
        *breakdown_cols,
        nw.col(_S0).alias("start"),
        nw.col(_DEPTH).cast(nw.Int64).alias("steps_reached"),
        *[
            nw.when(nw.col(_DEPTH) >= k + 1)
            .then((nw.col(_t(k)) - nw.col(_T0)) / 1_000_000)
            .alias(f"seconds_{k + 1}")
            for k in range(n)
        ],
    )
    if eager:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sortedness", category=UserWarning)
            out = out.collect(backend=frame.implementation)
    return out.to_native()


def _funnel_units(
    frame: Any,
    steps: list[Any],
    *,
    unit_col: str,
    time_col: str,
    time_type: Any,
    event_col: str,
    event_type: Any,
    order: str,
    window_us: int | None,
    entry: str,
    breakdown: list[str],
    method: str,
) -> Any:
    """Per-unit attempt table (lazy): unit, breakdown, start, depth and the times of each step.

    ``method`` (from :func:`_join_method`) says how a step finds the unit's next event.
    """
    n = len(steps)
    time = nw.col(time_col)
    if isinstance(time_type, nw.Date):
        time = time.cast(nw.Datetime("us"))
    elif getattr(time_type, "time_zone", None):
        time = time.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    event = nw.col(event_col)
    if isinstance(event_type, nw.Categorical | nw.Enum):
        event = event.cast(nw.String)
    base = frame.filter(
        ~nw.col(unit_col).is_null(), ~nw.col(time_col).is_null(), ~nw.col(event_col).is_null()
    ).select(
        nw.col(unit_col),
        event.alias(event_col),
        time.cast(nw.Datetime("us")).alias(_S0),
        _microseconds(time, native=method != "join").alias(_TU),
        *[nw.col(c) for c in breakdown],
    )
    position = nw.lit(n, dtype=nw.Int64)
    for k in reversed(range(n)):
        position = (
            nw.when(nw.col(event_col) == steps[k])
            .then(nw.lit(k, dtype=nw.Int64))
            .otherwise(position)
        )
    base = base.with_columns(position.alias(_POS))
    if order == "strict":
        # Every tracked event gets its place in the unit's sequence; at equal times the steps come
        # in funnel order and other events after them.
        base = base.with_row_index(_SEQ, order_by=[unit_col, _TU, _POS, event_col, *breakdown])
    else:
        base = base.filter(nw.col(_POS) < n)

    def step_events(k: int) -> Any:
        return base.filter(nw.col(_POS) == k)

    limit = None if window_us is None else nw.col(_T0) + window_us

    def in_window(col: str) -> Any:
        ok = ~nw.col(col).is_null()
        return ok if limit is None else ok & (nw.col(col) <= limit)

    carried = [_S0, *breakdown]
    following = []
    if order == "ordered" and method == "fill":
        base = _next_steps(base, n, unit_col)
        following = [_t(k) for k in range(1, n)]
    if order == "any":
        anchors = base.filter(nw.col(_POS) < n)
    else:
        anchors = step_events(0)
    keep = [unit_col, _TU, *carried, *following, *([_SEQ] if order == "strict" else [])]
    anchors = anchors.select(keep).rename({_TU: _T0})
    if entry == "first":
        # Window expressions rather than a join back, so each intermediate frame is used once.
        first = _SEQ if order == "strict" else _T0
        anchors = _keep_extreme(anchors, first, unit_col, largest=False)
        if order != "strict":
            anchors = anchors.group_by(unit_col, _T0).agg(
                *[nw.col(c).min() for c in [*carried, *following]]
            )

    cur = anchors
    if following:
        # The anchor read the raw times of the steps that follow it; keep those in the window.
        ok = nw.lit(True)
        times = [nw.col(_T0).alias(_t(0))]
        for k in range(1, n):
            ok = ok & in_window(_t(k))
            times.append(nw.when(ok).then(nw.col(_t(k))).alias(_t(k)))
        cur = cur.with_columns(*times)
        reached = [~nw.col(_t(k)).is_null() for k in range(n)]
    elif order == "ordered":
        cur = cur.with_columns(nw.col(_T0).alias(_t(0)), nw.col(_T0).alias(_key(0)))
        for k in range(1, n):
            right = step_events(k).select(unit_col, nw.col(_TU).alias(_R), nw.col(_TU).alias(_t(k)))
            cur = _asof(
                cur,
                right,
                left_on=_key(k - 1),
                result=_t(k),
                method=method,
                unit_col=unit_col,
                window_us=window_us,
            )
            ok = in_window(_t(k))
            cur = cur.with_columns(
                nw.when(ok).then(nw.col(_t(k))).alias(_t(k)),
                nw.when(ok)
                .then(nw.col(_t(k)))
                .otherwise(nw.lit(_NEVER))
                .cast(nw.Int64)
                .alias(_key(k)),
            )
        reached = [~nw.col(_t(k)).is_null() for k in range(n)]
    elif order == "strict":
        cur = cur.with_columns(nw.col(_T0).alias(_t(0)), nw.col(_SEQ).alias(_q(0)))
        for k in range(1, n):
            right = step_events(k).select(
                unit_col,
                nw.col(_SEQ).alias(_NXT),
                nw.col(_SEQ).alias(_q(k)),
                nw.col(_TU).alias(_t(k)),
            )
            cur = cur.with_columns((nw.col(_q(k - 1)) + 1).cast(nw.Int64).alias(_NXT)).join(
                right, on=[unit_col, _NXT], how="left"
            )
            ok = in_window(_t(k))
            cur = cur.with_columns(
                nw.when(ok).then(nw.col(_t(k))).alias(_t(k)),
                nw.when(ok)
                .then(nw.col(_q(k)))
                .otherwise(nw.lit(_NO_SEQ))
                .fill_null(_NO_SEQ)
                .cast(nw.Int64)
                .alias(_q(k)),
            ).drop(_NXT)
        reached = [~nw.col(_t(k)).is_null() for k in range(n)]
    else:
        for k in range(n):
            right = step_events(k).select(unit_col, nw.col(_TU).alias(_R), nw.col(_TU).alias(_t(k)))
            cur = _asof(
                cur,
                right,
                left_on=_T0,
                result=_t(k),
                method=method,
                unit_col=unit_col,
                window_us=window_us,
            )
            cur = cur.with_columns(nw.when(in_window(_t(k))).then(nw.col(_t(k))).alias(_t(k)))
        # Step k is reached once it and every earlier step happened: at the latest of their times.
        for k in range(1, n):
            both = ~nw.col(_t(k - 1)).is_null() & ~nw.col(_t(k)).is_null()
            cur = cur.with_columns(
                nw.when(both).then(nw.max_horizontal(_t(k - 1), _t(k))).alias(_t(k))
            )
        reached = [~nw.col(_t(k)).is_null() for k in range(n)]
    depth = nw.sum_horizontal(
        *[
            nw.when(r).then(nw.lit(1, dtype=nw.Int64)).otherwise(nw.lit(0, dtype=nw.Int64))
            for r in reached
        ]
    )
    cur = cur.with_columns(depth.cast(nw.Int64).alias(_DEPTH))
    times = [_t(k) for k in range(n)]
    cur = cur.select(unit_col, _T0, _DEPTH, *times, *carried)
    if entry == "any":
        # The best attempt: the deepest, then the earliest start, then the smallest values.
        cur = _keep_extreme(cur, _DEPTH, unit_col, largest=True)
        cur = _keep_extreme(cur, _T0, unit_col, largest=False)
        cur = cur.group_by(unit_col).agg(
            nw.col(_T0).min(), nw.col(_DEPTH).max(), *[nw.col(c).min() for c in [*times, *carried]]
        )
    return cur


def _join_method(implementation: Any) -> str:
    """How :func:`_funnel_units` finds each unit's next event for a step, per backend.

    - ``"fill"`` (Polars): for ``order="ordered"``, a backward fill over each unit's events in
      time order (:func:`_next_steps`); Polars' as-of join grouped by a string unit key took
      most of the funnel's time at 50 M events. Other orders use the as-of join.
    - ``"asof"`` (pandas): a forward as-of join on sorted inputs. The fill is not used: with
      narwhals 2.29, pandas' ``fill_null(strategy="backward").over(unit, order_by=...)`` filled
      some rows forward when the order had ties.
    - ``"join"`` (DuckDB, PySpark and the rest): a join and a ``min`` (:func:`_asof`), which SQL
      engines run in parallel; a windowed fill was 25 % slower on DuckDB at 50 M events.
    """
    if implementation.is_polars():
        return "fill"
    if implementation.is_pandas_like():
        return "asof"
    return "join"


def _next_steps(events: Any, n: int, unit_col: str) -> Any:
    """Add ``_t(1)`` … ``_t(n - 1)`` to each event: the times of the ordered steps after it.

    Reading a unit's events in time order (at equal times in step order, so a step and the
    next one at the same instant count as in order), ``_t(k)`` of an event is the time of the
    unit's first step-k event at or after it, and ``_t(k + 1)`` … those that follow from that
    step-k event on: a backward fill of the step-k events' own values, from the last step to
    the second. A step-k event whose later step is missing has none after it either, so the
    fill never reaches past it to a wrong value. No window is applied here.
    """

    def from_next(value: Any) -> Any:
        return value.fill_null(strategy="backward").over(unit_col, order_by=[_TU, _POS])

    for k in range(n - 1, 0, -1):
        at_step = nw.col(_POS) == k
        events = events.with_columns(
            from_next(nw.when(at_step).then(nw.col(_TU))).alias(_t(k)),
            *[
                from_next(nw.when(at_step).then(nw.col(_t(j)))).alias(_t(j))
                for j in range(k + 1, n)
            ],
        )
    return events


def _microseconds(time: Any, *, native: bool) -> Any:
    """Microseconds since 1970-01-01 of a (time-zone-free) datetime expression, as Int64.

    With ``native`` (pandas and Polars) the backend's own count, about ten times faster;
    otherwise assembled from the day number and the clock fields, which every backend computes
    alike (Spark has no duration arithmetic in narwhals, and integer casts of datetimes differ).
    """
    if native:
        return time.dt.timestamp("us").cast(nw.Int64)
    clock = (time.dt.hour().cast(nw.Int64) * 60 + time.dt.minute().cast(nw.Int64)) * 60
    clock = (clock + time.dt.second().cast(nw.Int64)) * 1_000_000
    micros = _day_number(time) * (86_400 * 1_000_000) + clock
    return (micros + time.dt.microsecond().cast(nw.Int64)).cast(nw.Int64)


def _keep_extreme(frame: Any, col: str, unit_col: str, *, largest: bool) -> Any:
    """Keep each unit's rows where ``col`` is at its largest (or smallest) value."""
    extreme = nw.col(col).max() if largest else nw.col(col).min()
    frame = frame.with_columns(extreme.over(unit_col).alias(_BEST))
    return frame.filter(nw.col(col) == nw.col(_BEST)).drop(_BEST)


def _asof(
    left: Any,
    right: Any,
    *,
    left_on: str,
    result: str,
    method: str,
    unit_col: str,
    window_us: int | None,
) -> Any:
    """Add ``result``: the unit's first right time at or after ``left_on`` (and in the window).

    pandas and Polars use a forward as-of join on sorted inputs; SQL engines (DuckDB) join each
    attempt to the unit's right times and keep the smallest one in range, which they run in
    parallel and which works on any connection (narwhals' DuckDB as-of join needs the default
    one). Identical attempts are merged, which changes no result. ``right`` holds ``unit_col``
    and the time twice (``_R`` and ``result``): some backends drop the right join key.
    """
    if method != "join":
        joined = left.sort(left_on).join_asof(
            right.sort(_R), left_on=left_on, right_on=_R, by=unit_col, strategy="forward"
        )
        if _R in joined.collect_schema().names():
            joined = joined.drop(_R)
        return joined
    # Every attempt column is a group key, so ``left`` is used once: SQL engines inline each
    # intermediate step, and a second use would compute the whole chain again.
    columns = left.collect_schema().names()
    joined = left.join(right.select(unit_col, _R), on=unit_col, how="left")
    in_range = nw.col(_R) >= nw.col(left_on)
    if window_us is not None:
        in_range = in_range & (nw.col(_R) <= nw.col(_T0) + window_us)
    joined = joined.with_columns(nw.when(in_range).then(nw.col(_R)).alias(_R))
    return joined.group_by(columns).agg(nw.col(_R).min().alias(result))


def event_funnel(
    events: Any,
    steps: Sequence[Any],
    *,
    unit_col: str = CUSTOMER_ID,
    time_col: str = EVENT_TIME,
    event_col: str = EVENT,
    order: str = "ordered",
    window: Any = None,
    entry: str = "any",
    breakdown: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Count the units that go through a sequence of events, and how long they take.

    A unit (a customer, an opportunity, a visitor) *attempts* the funnel from a step-1 event (the
    attempt's start) and *reaches* step k when it did steps 1 … k by the rules below. Every
    choice is a parameter:

    ``order`` – how later steps must follow:

    - ``"ordered"`` (default): each step at or after the previous step's time; **ties count**
      (a step logged at the same instant as the previous one follows it). Other events in
      between do not matter. Each step takes the earliest event that qualifies.
    - ``"strict"``: each step is the unit's very next *tracked* event after the previous step –
      tracked meaning any row of ``events`` for the unit, so filter ``events`` to what you track.
      At equal times, steps are taken in funnel order and other events after them.
    - ``"any"``: the steps in any order. The attempt starts at any step event (not only step 1)
      and reaches step k once steps 1 … k each happened at or after the start, within the window.

    ``window`` – the conversion window, measured from the attempt's start, **inclusive**: a step
    exactly ``window`` after the start counts, one microsecond later does not. None = no limit.
    Give a duration (``pd.Timedelta(days=7)``, ``datetime.timedelta``, ``"7D"``), not a number.

    ``entry`` – which attempts count:

    - ``"any"`` (default): every step-1 event starts an attempt and the unit's best one counts
      (the most steps, then the earliest start).
    - ``"first"``: only the unit's first step-1 event starts an attempt (``order="any"``: its
      first step event); a unit that failed then is not given another chance.

    ``breakdown`` – group the funnel by columns taken from the event that starts each unit's
    counted attempt (e.g. the campaign of the sign-up); every unit is in exactly one group.

    Events without unit, time or event are ignored. Each unit counts once.

    Parameters
    ----------
    events : DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame
        One row per event; pandas (numpy- or Arrow-backed), Polars (eager or lazy), DuckDB or
        PySpark, through narwhals.
    steps : list
        The event names of the steps, in funnel order (distinct).
    unit_col : str, default="customer_id"
        Who did the event.
    time_col : str, default="event_time"
        When (datetimes or dates; time zones are compared in UTC).
    event_col : str, default="event"
        What happened.
    order : {"ordered", "strict", "any"}, default="ordered"
        See above.
    window : duration, optional
        See above.
    entry : {"any", "first"}, default="any"
        See above.
    breakdown : str or list of str, optional
        See above.

    Returns
    -------
    DataFrame
        Always pandas whatever the input engine (it is small), one row per step (per group
        with ``breakdown``, groups first and missing values last), in step order:

        - ``breakdown`` columns – the group.
        - ``step`` – the event name; ``step_index`` – 1 for the first step.
        - ``reached`` – units that reached the step.
        - ``conversion_from_previous``, ``conversion_from_first`` – ``reached`` over the previous
          and the first step's (missing when that is 0; the first step's from-previous is missing).
        - ``drop_off`` (0 for the first step), ``drop_off_rate`` – as in :func:`stage_funnel`.
        - ``mean_seconds_from_previous``, ``median_seconds_from_previous`` – time from reaching
          the previous step to reaching this one, over units that reached this one.
        - ``mean_seconds_from_first``, ``median_seconds_from_first`` – time from the start.

        For the full distribution use :func:`event_funnel_units`.

    Examples
    --------
    Three people sign up at 12:00, 14:00 and 14:00, reach step 2 at 13:00, 16:00 and 16:00 and
    step 3 at 15:00, never and 17:00:

    >>> import pandas as pd
    >>> events = pd.DataFrame(
    ...     {
    ...         "customer_id": ["a", "a", "a", "b", "b", "c", "c", "c"],
    ...         "event": ["signup", "trial", "buy", "signup", "trial", "signup", "trial", "buy"],
    ...         "event_time": pd.to_datetime(
    ...             ["2024-01-01 12:00", "2024-01-01 13:00", "2024-01-01 15:00",
    ...              "2024-01-01 14:00", "2024-01-01 16:00",
    ...              "2024-01-01 14:00", "2024-01-01 16:00", "2024-01-01 17:00"]
    ...         ),
    ...     }
    ... )
    >>> result = event_funnel(events, ["signup", "trial", "buy"], window="7D")
    >>> result[["step", "reached", "mean_seconds_from_previous", "median_seconds_from_previous"]]
         step  reached  mean_seconds_from_previous  median_seconds_from_previous
    0  signup        3                         NaN                           NaN
    1   trial        3                      6000.0                        7200.0
    2     buy        2                      5400.0                        5400.0
    """
    step_names = _check_steps(steps)
    breakdown_cols = _names(breakdown, "breakdown")
    units = event_funnel_units(
        events,
        step_names,
        unit_col=unit_col,
        time_col=time_col,
        event_col=event_col,
        order=order,
        window=window,
        entry=entry,
        breakdown=breakdown_cols,
    )
    frame = nw.from_native(units).lazy()
    n = len(step_names)
    columns = []
    for k in range(1, n + 1):
        previous = (
            nw.col(f"seconds_{k}") - nw.col(f"seconds_{k - 1}")
            if k > 1
            else nw.lit(None, dtype=nw.Float64)
        )
        columns += [
            nw.when(nw.col("steps_reached") >= k)
            .then(nw.lit(1, dtype=nw.Int64))
            .otherwise(nw.lit(0, dtype=nw.Int64))
            .alias(f"r{k}"),
            previous.cast(nw.Float64).alias(f"p{k}"),
            nw.col(f"seconds_{k}").cast(nw.Float64).alias(f"f{k}"),
        ]
    frame = frame.select(*breakdown_cols, *columns)
    aggs = []
    for k in range(1, n + 1):
        aggs += [
            nw.col(f"r{k}").sum().alias(f"r{k}"),
            nw.col(f"p{k}").mean().alias(f"pm{k}"),
            nw.col(f"p{k}").median().alias(f"pd{k}"),
            nw.col(f"f{k}").mean().alias(f"fm{k}"),
            nw.col(f"f{k}").median().alias(f"fd{k}"),
        ]
    summary = frame.group_by(breakdown_cols).agg(*aggs) if breakdown_cols else frame.select(*aggs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sortedness", category=UserWarning)
        wide = summary.collect(backend="pandas").to_native()
    if not breakdown_cols and wide.empty:
        wide = pd.DataFrame([{f"r{k}": 0 for k in range(1, n + 1)}])
    blocks = []
    for k in range(1, n + 1):
        block = wide[breakdown_cols].copy()
        block["step"] = step_names[k - 1]
        block["step_index"] = k
        block["reached"] = pd.to_numeric(wide[f"r{k}"]).fillna(0).astype("int64").to_numpy()
        for name, col in (
            ("mean_seconds_from_previous", f"pm{k}"),
            ("median_seconds_from_previous", f"pd{k}"),
            ("mean_seconds_from_first", f"fm{k}"),
            ("median_seconds_from_first", f"fd{k}"),
        ):
            block[name] = pd.to_numeric(wide[col], errors="coerce").astype("float64").to_numpy()
        blocks.append(block)
    table = pd.concat(blocks, ignore_index=True)
    if breakdown_cols:
        table = table.sort_values(
            [*breakdown_cols, "step_index"], kind="stable", na_position="last"
        ).reset_index(drop=True)
    table = _conversions(table, breakdown_cols, "reached", "")
    columns = [
        *breakdown_cols,
        "step",
        "step_index",
        "reached",
        "conversion_from_previous",
        "conversion_from_first",
        "drop_off",
        "drop_off_rate",
        "mean_seconds_from_previous",
        "median_seconds_from_previous",
        "mean_seconds_from_first",
        "median_seconds_from_first",
    ]
    return table[columns]
