"""Tests for analysis_kit.funnel: hand-computed funnels, a plain-Python reference, backend parity."""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest

from analysis_kit.cleaning import clean_table
from analysis_kit.datasets import make_tables
from analysis_kit.errors import ParameterError, SchemaError
from analysis_kit.funnel import (
    DEFAULT_STAGE_PROBABILITIES,
    FUNNEL_PRESETS,
    channel_roi,
    deal_cohorts,
    deal_summary,
    deals_to_history,
    event_funnel,
    event_funnel_units,
    pipeline_kpis,
    stage_durations,
    stage_funnel,
    weakest_step,
    weighted_pipeline,
)
from analysis_kit.funnel import _microseconds as microseconds
from analysis_kit.reports import to_pandas

NaN = np.nan
STEPS = ["signup", "trial", "buy"]


def _ts(values):
    return pd.to_datetime(pd.Series(values), format="ISO8601")


def _events(rows, columns=("customer_id", "event", "event_time")) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["event_time"] = _ts(frame["event_time"])
    return frame


BACKENDS = {
    "pandas": lambda df: df,
    "polars": lambda df: pl.from_pandas(df),
    "polars_lazy": lambda df: pl.from_pandas(df).lazy(),
    # A connection of its own, as a user with a memory limit would have.
    "duckdb": lambda df: duckdb.connect().from_df(df),
}


@pytest.fixture(params=list(BACKENDS))
def backend(request):
    return BACKENDS[request.param]


def _column(result: pd.DataFrame, name: str) -> list:
    return result[name].tolist()


# ---------------------------------------------------------------------------------------------
# Event funnel: golden tests written by hand
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def golden() -> pd.DataFrame:
    """Three people sign up at 12:00, 14:00, 14:00; step 2 at 13:00, 16:00, 16:00; step 3 at
    15:00, never, 17:00."""
    return _events(
        [
            ("a", "signup", "2024-01-01 12:00"),
            ("a", "trial", "2024-01-01 13:00"),
            ("a", "buy", "2024-01-01 15:00"),
            ("b", "signup", "2024-01-01 14:00"),
            ("b", "trial", "2024-01-01 16:00"),
            ("c", "signup", "2024-01-01 14:00"),
            ("c", "trial", "2024-01-01 16:00"),
            ("c", "buy", "2024-01-01 17:00"),
        ]
    )


def test_golden_three_people(golden, backend):
    result = event_funnel(backend(golden), STEPS, window=pd.Timedelta(days=7))
    assert _column(result, "step") == STEPS
    assert _column(result, "reached") == [3, 3, 2]
    trial = result.iloc[1]
    # 1 h, 2 h, 2 h: mean 5/3 h = 6,000 s, median 2 h = 7,200 s
    assert trial["mean_seconds_from_previous"] == pytest.approx(6000.0)
    assert trial["median_seconds_from_previous"] == pytest.approx(7200.0)
    buy = result.iloc[2]
    # a: 13:00 -> 15:00 (2 h), c: 16:00 -> 17:00 (1 h); from the start: 3 h and 3 h
    assert buy["mean_seconds_from_previous"] == pytest.approx(5400.0)
    assert buy["mean_seconds_from_first"] == pytest.approx(10800.0)
    assert _column(result, "conversion_from_previous")[1:] == pytest.approx([1.0, 2 / 3])
    assert _column(result, "conversion_from_first") == pytest.approx([1.0, 1.0, 2 / 3])
    assert _column(result, "drop_off") == [0, 0, 1]
    assert np.isnan(result["mean_seconds_from_previous"].iloc[0])
    assert result["mean_seconds_from_first"].iloc[0] == 0.0


def test_window_boundary_is_inclusive(backend):
    # a: trial exactly 7 days after signup (counts); b: 7 days and 1 second (does not);
    # c: buy exactly at the boundary, measured from the signup, not from the trial.
    events = _events(
        [
            ("a", "signup", "2024-01-01 00:00:00"),
            ("a", "trial", "2024-01-08 00:00:00"),
            ("b", "signup", "2024-01-01 00:00:00"),
            ("b", "trial", "2024-01-08 00:00:01"),
            ("c", "signup", "2024-01-01 00:00:00"),
            ("c", "trial", "2024-01-05 00:00:00"),
            ("c", "buy", "2024-01-08 00:00:00"),
            ("d", "signup", "2024-01-01 00:00:00"),
            ("d", "trial", "2024-01-05 00:00:00"),
            ("d", "buy", "2024-01-09 00:00:00"),
        ]
    )
    result = event_funnel(backend(events), STEPS, window=dt.timedelta(days=7))
    assert _column(result, "reached") == [4, 3, 1]
    no_window = event_funnel(backend(events), STEPS)
    assert _column(no_window, "reached") == [4, 4, 2]


def test_strict_needs_the_very_next_event(backend):
    # a: signup, a page view, trial: ordered yes, strict no. b: signup, trial next: both.
    # c: signup and trial at the same instant: ties count in both (steps first at a tie), and the
    # page view at the same instant sorts after them. d: trial before signup: neither.
    events = _events(
        [
            ("a", "signup", "2024-01-01 10:00"),
            ("a", "view", "2024-01-01 10:30"),
            ("a", "trial", "2024-01-01 11:00"),
            ("b", "signup", "2024-01-01 10:00"),
            ("b", "trial", "2024-01-01 12:00"),
            ("b", "view", "2024-01-01 12:30"),
            ("b", "buy", "2024-01-01 13:00"),
            ("c", "view", "2024-01-01 10:00"),
            ("c", "trial", "2024-01-01 10:00"),
            ("c", "signup", "2024-01-01 10:00"),
            ("d", "trial", "2024-01-01 09:00"),
            ("d", "signup", "2024-01-01 10:00"),
        ]
    )
    ordered = event_funnel(backend(events), STEPS, order="ordered")
    strict = event_funnel(backend(events), STEPS, order="strict")
    assert _column(ordered, "reached") == [4, 3, 1]
    assert _column(strict, "reached") == [4, 2, 0]
    # c's tie: 0 seconds from signup to trial
    units = event_funnel_units(events, STEPS, order="strict").set_index("customer_id")
    assert units.loc["c", "steps_reached"] == 2 and units.loc["c", "seconds_2"] == 0.0
    assert units.loc["a", "steps_reached"] == 1 and np.isnan(units.loc["a", "seconds_2"])


def test_first_entry_versus_best_attempt(backend):
    # a signs up on day 0 (no trial within 7 days), again on day 10 and tries on day 11.
    events = _events(
        [
            ("a", "signup", "2024-01-01"),
            ("a", "signup", "2024-01-11"),
            ("a", "trial", "2024-01-12"),
        ]
    )
    first = event_funnel(backend(events), STEPS, window="7D", entry="first")
    best = event_funnel(backend(events), STEPS, window="7D", entry="any")
    assert _column(first, "reached") == [1, 0, 0]
    assert _column(best, "reached") == [1, 1, 0]
    assert best["mean_seconds_from_previous"].iloc[1] == 86_400.0
    # Without a window the first attempt converts too, after 11 days.
    open_first = event_funnel(backend(events), STEPS, entry="first")
    assert _column(open_first, "reached") == [1, 1, 0]
    assert open_first["mean_seconds_from_previous"].iloc[1] == 11 * 86_400.0


def test_any_order_accepts_steps_out_of_order(backend):
    # trial 10:00, signup 11:00, buy 12:00: in order the signup is followed by nothing earlier.
    events = _events(
        [
            ("a", "trial", "2024-01-01 10:00"),
            ("a", "signup", "2024-01-01 11:00"),
            ("a", "buy", "2024-01-01 12:00"),
        ]
    )
    assert _column(event_funnel(backend(events), STEPS, order="ordered"), "reached") == [1, 0, 0]
    anyway = event_funnel(backend(events), STEPS, order="any")
    assert _column(anyway, "reached") == [1, 1, 1]
    # The attempt starts at the trial (10:00): all three are done at 12:00.
    assert anyway["mean_seconds_from_first"].tolist() == [3600.0, 3600.0, 7200.0]
    # A one-hour window from 10:00 holds trial and signup but not buy.
    hour = event_funnel(backend(events), STEPS, order="any", window="1h")
    assert _column(hour, "reached") == [1, 1, 0]
    # entry="first" under "any": only the first step event (the trial) starts an attempt.
    first = event_funnel(backend(events), STEPS, order="any", window="1h", entry="first")
    assert _column(first, "reached") == [1, 1, 0]


def test_breakdown_takes_the_value_of_the_starting_event(backend):
    events = _events(
        [
            ("a", "signup", "2024-01-01 10:00", "ads"),
            ("a", "trial", "2024-01-01 11:00", "mail"),  # a stays in "ads"
            ("b", "signup", "2024-01-01 10:00", "mail"),
            ("c", "signup", "2024-01-01 10:00", "ads"),
            ("c", "trial", "2024-01-02 10:00", "ads"),
            ("c", "buy", "2024-01-02 11:00", None),
            ("d", "signup", "2024-01-01 10:00", None),
        ],
        columns=("customer_id", "event", "event_time", "campaign"),
    )
    result = event_funnel(backend(events), STEPS, breakdown="campaign")
    assert result["campaign"].iloc[:3].tolist() == ["ads"] * 3
    assert result["campaign"].iloc[3:6].tolist() == ["mail"] * 3
    assert result["campaign"].iloc[6:].isna().all()
    assert _column(result, "reached") == [2, 2, 1, 1, 0, 0, 1, 0, 0]
    assert _column(result, "step_index") == [1, 2, 3] * 3
    mail = result[result["campaign"] == "mail"]
    assert np.isnan(mail["conversion_from_previous"].iloc[2])  # 0 / 0 is missing, not an error
    assert weakest_step(result, by="campaign")["step"].tolist() == ["buy", "trial", "trial"]


def test_empty_and_missing_values(backend):
    events = _events(
        [
            (None, "signup", "2024-01-01"),
            ("a", None, "2024-01-01"),
            ("a", "trial", None),
        ]
    )
    result = event_funnel(backend(events), STEPS)
    assert _column(result, "reached") == [0, 0, 0]
    assert result["conversion_from_first"].isna().all()


def test_date_column_and_categorical_events():
    events = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "event": ["signup", "trial", "signup"],
            "event_time": [dt.date(2024, 1, 1), dt.date(2024, 1, 3), dt.date(2024, 1, 1)],
        }
    ).with_columns(pl.col("event").cast(pl.Categorical))
    result = event_funnel(events, STEPS[:2], window="2D")
    assert _column(result, "reached") == [2, 1]
    assert result["mean_seconds_from_previous"].iloc[1] == 2 * 86_400.0


def test_event_funnel_does_not_modify_its_input(golden):
    before = golden.copy()
    event_funnel(golden, STEPS, window="7D", order="strict", breakdown=None)
    event_funnel(golden, STEPS, order="any", entry="first")
    pd.testing.assert_frame_equal(golden, before)


def test_event_funnel_units_keeps_the_backend(golden):
    lazy = event_funnel_units(pl.from_pandas(golden).lazy(), STEPS)
    assert isinstance(lazy, pl.LazyFrame)
    eager = event_funnel_units(pl.from_pandas(golden), STEPS)
    assert isinstance(eager, pl.DataFrame)
    units = event_funnel_units(golden, STEPS).sort_values("customer_id")
    assert units["steps_reached"].tolist() == [3, 2, 3]
    assert units["seconds_2"].tolist() == [3600.0, 7200.0, 7200.0]
    assert units["start"].tolist() == list(_ts(["2024-01-01 12:00", "2024-01-01 14:00"] * 1)) + [
        pd.Timestamp("2024-01-01 14:00")
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"order": "sequential"}, "order must be one of"),
        ({"entry": "last"}, "entry must be one of"),
        ({"window": 7}, "window must be None or a duration"),
        ({"window": "-1D"}, "0 or more"),
        ({"window": "soon"}, "window must be None"),
    ],
)
def test_event_funnel_bad_parameters(golden, kwargs, match):
    with pytest.raises(ValueError, match=match):
        event_funnel(golden, STEPS, **kwargs)


def test_event_funnel_bad_steps_and_columns(golden):
    with pytest.raises(ValueError, match="steps must be a non-empty list"):
        event_funnel(golden, "signup")
    with pytest.raises(ValueError, match="distinct"):
        event_funnel(golden, ["signup", "signup"])
    with pytest.raises(SchemaError, match="missing columns: visitor"):
        event_funnel(golden, STEPS, unit_col="visitor")
    with pytest.raises(TypeError, match="must hold datetimes"):
        event_funnel(golden.assign(event_time="2024-01-01"), STEPS)


# ---------------------------------------------------------------------------------------------
# Event funnel: a plain-Python reference on random data, and every backend against it
# ---------------------------------------------------------------------------------------------


def _reference_units(events: pd.DataFrame, steps, *, order, window, entry) -> dict:
    """Walk each unit's events one by one, exactly as the docstring of event_funnel says."""
    pos = {s: i for i, s in enumerate(steps)}
    limit = None if window is None else pd.Timedelta(window)
    valid = events.dropna(subset=["customer_id", "event", "event_time"])
    result = {}
    for unit, group in valid.groupby("customer_id"):
        evs = sorted(
            zip(group["event_time"], group["event"], strict=True),
            key=lambda e: (e[0], pos.get(e[1], len(steps)), e[1]),
        )
        starts = [
            i for i, (_, e) in enumerate(evs) if (e in pos if order == "any" else e == steps[0])
        ]
        if not starts:
            continue
        if entry == "first":
            starts = starts[:1]
        attempts = []
        for i in starts:
            t0 = evs[i][0]

            def ok(t, t0=t0):
                return limit is None or t <= t0 + limit

            if order == "ordered":
                times, prev = [t0], t0
                for step in steps[1:]:
                    later = [t for t, e in evs if e == step and t >= prev and ok(t)]
                    if not later:
                        break
                    prev = min(later)
                    times.append(prev)
            elif order == "strict":
                times, j = [t0], i
                for step in steps[1:]:
                    if j + 1 < len(evs) and evs[j + 1][1] == step and ok(evs[j + 1][0]):
                        j += 1
                        times.append(evs[j][0])
                    else:
                        break
            else:
                firsts = []
                for step in steps:
                    found = [t for t, e in evs if e == step and t >= t0 and ok(t)]
                    if not found:
                        break
                    firsts.append(min(found))
                times = [max(firsts[: k + 1]) for k in range(len(firsts))]
            attempts.append((len(times), -t0.value, t0, times))
        depth, _, t0, times = max(attempts, key=lambda a: (a[0], a[1]))
        if depth:
            result[unit] = [(t - t0).total_seconds() for t in times]
    return result


def _random_events(seed: int, n_units: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    names = [*STEPS, "view"]
    for u in range(n_units):
        for _ in range(rng.integers(0, 9)):
            hour = int(rng.integers(0, 30))  # few distinct hours: many ties
            rows.append(
                (
                    f"u{u:02d}",
                    names[rng.integers(0, 4)],
                    pd.Timestamp("2024-01-01") + pd.Timedelta(hours=hour),
                )
            )
    frame = pd.DataFrame(rows, columns=["customer_id", "event", "event_time"])
    frame["campaign"] = np.where(rng.random(len(frame)) < 0.5, "ads", "mail")
    return frame


TIMES = pd.to_datetime(
    [
        "1969-12-31 23:59:59.9999995",  # before 1970, below a microsecond: floors to -1
        "1900-03-01 12:00:00.0000019",
        "2024-02-29 23:59:59.999999999",
        "1970-01-01 00:00:00.000000",
    ]
)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"t": TIMES}),
        pd.DataFrame({"t": TIMES.astype("datetime64[us]")}),
        pd.DataFrame({"t": TIMES}).convert_dtypes(dtype_backend="pyarrow"),
        pl.DataFrame({"t": TIMES}),
        pl.DataFrame({"t": TIMES}).with_columns(pl.col("t").cast(pl.Datetime("us"))),
    ],
    ids=["pandas-ns", "pandas-us", "pandas-arrow", "polars-ns", "polars-us"],
)
def test_native_microseconds_equal_the_assembled_ones(frame):
    # pandas and Polars count microseconds themselves; DuckDB and Spark assemble them from the
    # calendar fields. Both must give the same integers, so the funnels agree across engines.
    frame = nw.from_native(frame)
    native = frame.select(microseconds(nw.col("t"), native=True)).to_native()["t"]
    assembled = frame.select(microseconds(nw.col("t"), native=False)).to_native()["t"]
    assert list(native) == list(assembled) == [-1, -2203847999999999, 1709251199999999, 0]


COMBINATIONS = list(itertools.product(("ordered", "strict", "any"), ("any", "first"), (None, "5h")))


@pytest.mark.parametrize("seed", [3, 11])
@pytest.mark.parametrize(("order", "entry", "window"), COMBINATIONS)
def test_event_funnel_units_match_a_plain_python_walk(backend, order, entry, window, seed):
    # Each backend finds the next step its own way (pandas: as-of join; Polars: a backward fill
    # for "ordered"; DuckDB: a join and a min), so each is held to the walk.
    events = _random_events(seed)
    expected = _reference_units(events, STEPS, order=order, window=window, entry=entry)
    units = to_pandas(
        event_funnel_units(backend(events), STEPS, order=order, window=window, entry=entry)
    )
    units = units[units["steps_reached"] > 0].set_index("customer_id").sort_index()
    assert sorted(expected) == list(units.index)
    for unit, seconds in expected.items():
        row = units.loc[unit]
        assert row["steps_reached"] == len(seconds), unit
        got = [row[f"seconds_{k + 1}"] for k in range(len(seconds))]
        assert got == pytest.approx(seconds), unit
        if len(seconds) < len(STEPS):
            assert np.isnan(row[f"seconds_{len(seconds) + 1}"]), unit


@pytest.mark.parametrize(("order", "entry", "window"), COMBINATIONS)
def test_every_backend_gives_the_same_funnel(order, entry, window):
    events = _random_events(5, n_units=60)
    kwargs = {"order": order, "entry": entry, "window": window, "breakdown": "campaign"}
    expected = event_funnel(events, STEPS, **kwargs)
    assert expected["reached"].sum() > 0
    for name, convert in BACKENDS.items():
        result = event_funnel(convert(events), STEPS, **kwargs)
        pd.testing.assert_frame_equal(result, expected, check_dtype=False, obj=name)


# ---------------------------------------------------------------------------------------------
# Stage funnel
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def history() -> pd.DataFrame:
    """Five opportunities, checkable by eye.

    O1: ① 01-01, ② 01-11, ③ 01-21, ④ 02-10, ⑤ 03-01 – won (amount 100 then 120).
    O2: ① 01-05, ③ 02-04 (skipped ②) – lost.
    O3: ① 01-10, ② 01-12 – open.
    O4: ① 02-01 – open, no amount.
    O5: ①2024-01-01 written "①初次接洽", ⑤ 04-01 written "5-成交" (skipped ②–④) – won.
    """
    rows = [
        ("O1", "C1", "初次接洽", "2024-01-01", 100.0, "展会", "张伟", "won"),
        ("O1", "C1", "需求确认", "2024-01-11", 100.0, "展会", "张伟", "won"),
        ("O1", "C1", "方案提交", "2024-01-21", 100.0, "展会", "张伟", "won"),
        ("O1", "C1", "商务谈判", "2024-02-10", 120.0, "展会", "张伟", "won"),
        ("O1", "C1", "成交", "2024-03-01", 120.0, "展会", "张伟", "won"),
        ("O2", "C2", "初次接洽", "2024-01-05", 50.0, "线上推广", "李娜", "lost"),
        ("O2", "C2", "方案提交", "2024-02-04", 50.0, "线上推广", "李娜", "lost"),
        ("O3", "C3", "初次接洽", "2024-01-10", 200.0, "展会", "李娜", "open"),
        ("O3", "C3", "需求确认", "2024-01-12", 200.0, "展会", "李娜", "open"),
        ("O4", "C4", "初次接洽", "2024-02-01", None, None, "王芳", "open"),
        ("O5", "C5", "①初次接洽", "2024-01-01", 80.0, "转介绍", "王芳", "won"),
        ("O5", "C5", "5-成交", "2024-04-01", 80.0, "转介绍", "王芳", "won"),
    ]
    columns = [
        "opportunity_id",
        "customer_id",
        "stage",
        "entered_at",
        "amount",
        "lead_source",
        "owner",
        "outcome",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["entered_at"] = _ts(frame["entered_at"])
    return frame


def test_stage_funnel_by_hand(history):
    before = history.copy()
    result = stage_funnel(history)
    pd.testing.assert_frame_equal(history, before)
    assert result["step"].tolist() == list(FUNNEL_PRESETS["template"])
    # furthest steps: O1 5, O2 3, O3 2, O4 1, O5 5
    assert result["reached"].tolist() == [5, 4, 3, 2, 2, 0]
    assert result["drop_off"].tolist() == [0, 1, 1, 1, 0, 2]
    assert result["conversion_from_previous"].tolist()[1:] == pytest.approx(
        [0.8, 0.75, 2 / 3, 1.0, 0.0]
    )
    assert result["conversion_from_first"].tolist() == pytest.approx([1, 0.8, 0.6, 0.4, 0.4, 0.0])
    # days from the previous step, only where both entries are recorded:
    # ②: O1 10, O3 2 -> median 6; ③: O1 10 (O2 skipped ②); ④: O1 20; ⑤: O1 20 (Feb 10 -> Mar 1
    # in a leap year; O5 skipped ④)
    assert result["median_days_from_previous"].tolist()[1:5] == [6.0, 10.0, 20.0, 20.0]
    assert result["mean_days_from_previous"].tolist()[1:5] == [6.0, 10.0, 20.0, 20.0]
    assert np.isnan(result["median_days_from_previous"].iloc[5])
    # after-sales follows a won deal: its low conversion is not the weakest *sales* step
    assert weakest_step(result) == weakest_step(result.iloc[:5]) == "商务谈判"
    assert weakest_step(result, through=None) == "售后维护"
    tie = pd.DataFrame({"step": ["a", "b", "c"], "conversion_from_previous": [NaN, 0.5, 0.5]})
    assert weakest_step(tie) == "b"  # a tie goes to the earlier step
    assert weakest_step(tie.iloc[:1]) is None
    with pytest.raises(ValueError, match="several rows per step"):
        weakest_step(pd.concat([tie, tie]))


def test_stage_funnel_weighted_and_as_of(history):
    result = stage_funnel(history, weighted=True)
    # latest amounts: O1 120, O2 50, O3 200, O4 none, O5 80
    # ② reached by O1, O2 (skipped it), O3, O5; O4 stays at ① without an amount
    assert result["amount"].tolist() == [450.0, 450.0, 250.0, 200.0, 200.0, 0.0]
    assert result["amount_conversion_from_previous"].iloc[2] == pytest.approx(250 / 450)
    assert result["amount_conversion_from_first"].iloc[3] == pytest.approx(200 / 450)
    early = stage_funnel(history, as_of="2024-01-31")
    # by Jan 31: O1 at ③, O2 at ①, O3 at ②, O5 at ①; O4 not created yet
    assert early["reached"].tolist() == [4, 2, 1, 0, 0, 0]


def test_stage_funnel_breakdown_and_preset(history):
    result = stage_funnel(history, stages="lead", by="lead_source")
    assert result.columns[0] == "lead_source"
    groups = result.groupby("lead_source", dropna=False, sort=False)["reached"].apply(list)
    table = {k if isinstance(k, str) else "missing": v for k, v in groups.items()}
    # lead preset: 线索获取 需求沟通 方案报价(③+④) 合同签订 售后复购
    assert table == {
        "展会": [2, 2, 1, 1, 0],
        "线上推广": [1, 1, 1, 0, 0],
        "转介绍": [1, 1, 1, 1, 0],
        "missing": [1, 0, 0, 0, 0],
    }
    weakest = weakest_step(result, by="lead_source")
    assert weakest.set_index("lead_source")["step"].to_dict()["线上推广"] == "合同签订"


def test_stage_funnel_implied_from_current_stage():
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E"],
            "stage": pd.Categorical(["商务谈判", "初次接洽", "成交", None, "需求确认"]),
        }
    )
    result = stage_funnel(customers, id_col="customer_id", time_col=None)
    assert result["reached"].tolist() == [4, 3, 2, 2, 1, 0]
    assert result["median_days_from_previous"].isna().all()


def test_stage_funnel_unknown_stage_is_an_error(history):
    bad = pd.concat([history, history.iloc[:1].assign(stage="报价中")])
    with pytest.raises(ValueError, match="报价中"):
        stage_funnel(bad)
    with pytest.raises(ValueError, match="preset name"):
        stage_funnel(history, stages="six")
    with pytest.raises(SchemaError, match="entered_at"):
        stage_funnel(history.drop(columns="entered_at"))


def test_stage_funnel_matches_a_loop_on_generated_data():
    tables = make_tables(n_customers=80, messy=True, random_state=4)
    stages = clean_table(tables["stages"], table="stages").clean
    order = {s: i for i, s in enumerate(FUNNEL_PRESETS["template"])}
    furthest: dict[str, int] = {}
    for opp, stage in zip(stages["opportunity_id"], stages["stage"], strict=True):
        if isinstance(stage, str):
            furthest[opp] = max(furthest.get(opp, -1), order[stage])
    expected = [sum(f >= k for f in furthest.values()) for k in range(6)]
    assert stage_funnel(stages)["reached"].tolist() == expected


# ---------------------------------------------------------------------------------------------
# Deals, durations, KPIs, pipeline, cohorts
# ---------------------------------------------------------------------------------------------


def test_deal_summary_by_hand(history):
    deals = deal_summary(history, as_of="2024-04-30").set_index("opportunity_id")
    assert deals["outcome"].to_dict() == {
        "O1": "won",
        "O2": "lost",
        "O3": "open",
        "O4": "open",
        "O5": "won",
    }
    assert deals["stage"].to_dict()["O2"] == "方案提交"
    assert deals.loc["O1", "cycle_days"] == 60.0  # 01-01 -> 03-01 (leap year)
    assert deals.loc["O5", "cycle_days"] == 91.0
    assert deals.loc["O3", "age_days"] == 111.0  # 01-10 -> 04-30
    assert deals.loc["O3", "days_in_stage"] == 109.0
    assert deals.loc["O2", "closed_at"] == pd.Timestamp("2024-02-04")
    assert deals.loc["O1", "amount"] == 120.0
    assert deals["owner"].to_dict()["O1"] == "张伟"
    # as of Feb 29, O1 and O5 have not reached 成交 yet: open, though recorded as won
    early = deal_summary(history, as_of="2024-02-29").set_index("opportunity_id")
    assert early.loc["O1", "outcome"] == "open" and early.loc["O5", "outcome"] == "open"


def test_deal_summary_infers_outcome_without_the_column(history):
    deals = deal_summary(history.drop(columns="outcome")).set_index("opportunity_id")
    # without the outcome column a lost deal cannot be told from an open one
    assert deals["outcome"].to_dict() == {
        "O1": "won",
        "O2": "open",
        "O3": "open",
        "O4": "open",
        "O5": "won",
    }
    with pytest.raises(ValueError, match="outcome values not understood"):
        deal_summary(history.assign(outcome="maybe"))
    chinese = history.assign(
        outcome=history["outcome"].map({"won": "赢单", "lost": "输单", "open": "进行中"})
    )
    assert deal_summary(chinese)["outcome"].tolist() == deal_summary(history)["outcome"].tolist()


def test_pipeline_kpis_by_hand(history):
    kpis = pipeline_kpis(history, as_of="2024-04-30").iloc[0]
    assert (kpis["opportunities"], kpis["open"], kpis["won"], kpis["lost"]) == (5, 2, 2, 1)
    assert kpis["win_rate"] == pytest.approx(2 / 3)
    assert kpis["average_deal"] == pytest.approx(100.0)  # (120 + 80) / 2
    assert kpis["cycle_days_mean"] == pytest.approx(75.5)  # (60 + 91) / 2
    # 2 open × 2/3 × 100 ÷ 75.5 days
    assert kpis["sales_velocity"] == pytest.approx(2 * (2 / 3) * 100 / 75.5)
    # O3 at 需求确认 (0.2 × 200); O4 has no amount
    assert kpis["weighted_pipeline"] == pytest.approx(40.0)
    assert kpis["open_amount"] == pytest.approx(200.0)


def test_pipeline_kpis_zero_divisions_and_breakdown(history):
    open_only = history[history["opportunity_id"].isin(["O3", "O4"])]
    kpis = pipeline_kpis(open_only).iloc[0]
    assert kpis["won"] == 0 and np.isnan(kpis["win_rate"]) and np.isnan(kpis["sales_velocity"])
    by_owner = pipeline_kpis(history, by="owner").set_index("owner")
    assert by_owner["opportunities"].to_dict() == {"张伟": 1, "李娜": 2, "王芳": 2}
    assert by_owner.loc["李娜", "win_rate"] == 0.0  # one lost, no won
    assert by_owner.loc["王芳", "win_rate"] == 1.0  # O5 won, O4 open


def test_weighted_pipeline_and_probabilities(history):
    table = weighted_pipeline(history)
    assert table["open_deals"].tolist() == [1, 1, 0, 0, 0, 0]
    assert table["weighted_amount"].tolist() == [0.0, 40.0, 0.0, 0.0, 0.0, 0.0]
    custom = weighted_pipeline(history, stage_probabilities={"初次接洽": 0.5, "需求确认": 0.5})
    assert custom["weighted_amount"].sum() == 100.0
    with pytest.raises(ValueError, match=r"no probability for the steps \['需求确认'\]"):
        weighted_pipeline(history, stage_probabilities={"初次接洽": 0.5})
    with pytest.raises(ValueError, match="from 0 to 1"):
        weighted_pipeline(
            history, stage_probabilities={**DEFAULT_STAGE_PROBABILITIES, "需求确认": 20}
        )


def test_stage_durations_by_hand(history):
    table = stage_durations(history, as_of="2024-04-30").set_index("step")
    # ①: O1 10 (to ②), O2 30 (to ③), O3 2, O5 91 (to ⑤); O4 still there
    assert table.loc["初次接洽", "entered"] == 5
    assert table.loc["初次接洽", "moved_on"] == 4
    assert table.loc["初次接洽", "median_days"] == pytest.approx(20.0)
    assert table.loc["初次接洽", "mean_days"] == pytest.approx((10 + 30 + 2 + 91) / 4)
    assert table.loc["初次接洽", "still_open"] == 1  # O4, 89 days (02-01 -> 04-30)
    assert table.loc["初次接洽", "median_days_open"] == 89.0
    assert table.loc["需求确认", "still_open"] == 1  # O3
    assert table.loc["售后维护", "entered"] == 0 and np.isnan(table.loc["售后维护", "median_days"])


def test_deal_cohorts_by_hand(history):
    table = deal_cohorts(history, as_of="2024-04-30")
    assert table["cohort"].tolist() == ["2024-01", "2024-02"]
    assert table["created"].tolist() == [4, 1]
    assert table["won"].tolist() == [2, 0]
    assert table["lost"].tolist() == [1, 0]
    assert table["open"].tolist() == [1, 1]
    assert table["win_rate"].iloc[0] == pytest.approx(2 / 3)
    assert np.isnan(table["win_rate"].iloc[1])
    assert table["won_amount"].tolist() == [200.0, 0.0]
    with pytest.raises(ValueError, match="freq must be one of"):
        deal_cohorts(history, freq="W")


# ---------------------------------------------------------------------------------------------
# Outcome rows: a stage history that records a loss (and when) without a stage
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def with_losses() -> pd.DataFrame:
    """L1 reaches ② then is lost on 02-20; L2 is only a loss row; L3 is lost after the as-of day;
    W1 is won; O1 is open at ③."""
    rows = [
        ("L1", "初次接洽", "2024-01-01", 100.0, None),
        ("L1", "需求确认", "2024-01-11", 100.0, None),
        ("L1", None, "2024-02-20", None, "lost"),
        ("L2", None, "2024-02-05", 40.0, "输单"),
        ("L3", "初次接洽", "2024-03-01", 70.0, None),
        ("L3", None, "2024-05-15", None, "lost"),
        ("W1", "初次接洽", "2024-01-05", 300.0, None),
        ("W1", "成交", "2024-03-05", 300.0, None),
        ("O1", "初次接洽", "2024-02-01", 500.0, None),
        ("O1", "方案提交", "2024-02-15", 500.0, None),
        ("X1", None, "2024-02-01", 9.0, None),  # neither stage nor outcome: ignored
    ]
    frame = pd.DataFrame(
        rows, columns=["opportunity_id", "stage", "entered_at", "amount", "outcome"]
    )
    frame["entered_at"] = _ts(frame["entered_at"])
    return frame


def test_outcome_rows_count_for_the_outcome_and_close_date(with_losses):
    before = with_losses.copy()
    deals = deal_summary(with_losses, as_of="2024-04-30").set_index("opportunity_id")
    pd.testing.assert_frame_equal(with_losses, before)
    assert deals["outcome"].to_dict() == {
        "L1": "lost",
        "L2": "lost",
        "L3": "open",  # its loss is dated after the as-of day
        "O1": "open",
        "W1": "won",
    }
    assert deals.loc["L1", "closed_at"] == pd.Timestamp("2024-02-20")  # the loss row's date
    assert deals.loc["L1", "stage"] == "需求确认" and deals.loc["L1", "stage_index"] == 2
    # only a loss row: kept, stage unknown, closed and created on that row's date
    assert pd.isna(deals.loc["L2", "stage"]) and deals.loc["L2", "stage_index"] == 0
    assert pd.isna(deals.loc["L2", "stage_entered_at"])
    assert (
        deals.loc["L2", "closed_at"] == deals.loc["L2", "created_at"] == pd.Timestamp("2024-02-05")
    )
    assert deals.loc["L2", "amount"] == 40.0
    later = deal_summary(with_losses, as_of="2024-06-30").set_index("opportunity_id")
    assert later.loc["L3", "outcome"] == "lost"
    assert later.loc["L3", "closed_at"] == pd.Timestamp("2024-05-15")


def test_outcome_rows_in_every_kpi(with_losses):
    kpis = pipeline_kpis(with_losses, as_of="2024-04-30").iloc[0]
    assert (kpis["opportunities"], kpis["won"], kpis["lost"], kpis["open"]) == (5, 1, 2, 2)
    assert kpis["win_rate"] == pytest.approx(1 / 3)
    assert kpis["weighted_pipeline"] == pytest.approx(0.1 * 70 + 0.4 * 500)
    cohorts = deal_cohorts(with_losses, as_of="2024-04-30").set_index("cohort")
    assert cohorts["created"].to_dict() == {"2024-01": 2, "2024-02": 2, "2024-03": 1}
    assert cohorts.loc["2024-02", "lost"] == 1  # L2, created on its loss day
    pipeline = weighted_pipeline(with_losses, as_of="2024-04-30")
    assert pipeline["open_deals"].tolist() == [1, 0, 1, 0, 0, 0]
    durations = stage_durations(with_losses, as_of="2024-04-30").set_index("step")
    # a loss row is not an entry: L1 entered ② and never moved on from it
    assert durations.loc["需求确认", ["entered", "moved_on", "still_open"]].tolist() == [1, 0, 0]
    assert durations.loc["初次接洽", "still_open"] == 1  # L3
    funnel = stage_funnel(with_losses, as_of="2024-04-30")
    assert funnel["reached"].tolist() == [4, 3, 2, 1, 1, 0]  # L2 is in no step


def test_an_open_deal_of_unknown_stage_adds_nothing_weighted():
    history = pd.DataFrame(
        {
            "opportunity_id": ["A", "B"],
            "stage": [None, "初次接洽"],
            "entered_at": _ts(["2024-01-01", "2024-01-02"]),
            "amount": [1000.0, 100.0],
            "outcome": ["open", None],
        }
    )
    kpis = pipeline_kpis(history, stage_probabilities={"初次接洽": 0.5}).iloc[0]
    assert (kpis["open"], kpis["open_amount"]) == (2, 1100.0)
    assert kpis["weighted_pipeline"] == 50.0
    table = weighted_pipeline(history, stage_probabilities={"初次接洽": 0.5})
    assert table["open_deals"].sum() == 1


def test_a_closed_lost_stage_cell_is_a_loss_row_after_cleaning():
    raw = pd.DataFrame(
        {
            "商机编号": ["A", "A", "A", "B", "B"],
            "阶段": ["初次接洽", "需求确认", "Closed Lost", "初次接洽", "成交"],
            "进入日期": ["2024-01-01", "2024-01-09", "2024-02-01", "2024-01-03", "2024-03-01"],
        }
    )
    clean = clean_table(raw, table="stages").clean
    deals = deal_summary(clean).set_index("opportunity_id")
    assert deals["outcome"].to_dict() == {"A": "lost", "B": "won"}
    assert deals.loc["A", "closed_at"] == pd.Timestamp("2024-02-01")
    assert pipeline_kpis(clean)["win_rate"].iloc[0] == 0.5


# ---------------------------------------------------------------------------------------------
# deals_to_history: one row per opportunity (CRM exports)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def maven() -> pd.DataFrame:
    """A few lines in the shape of the Maven CRM Sales Opportunities sales_pipeline.csv."""
    rows = [
        (
            "1C1I7A6R",
            "Moses Frase",
            "GTX Plus Basic",
            "Cancity",
            "Won",
            "2016-10-20",
            "2017-03-01",
            1054,
        ),
        ("Z063OYW0", "Darcel Schlecht", "GTXPro", "Isdom", "Won", "2016-10-25", "2017-03-11", 4514),
        (
            "EC4QE1BX",
            "Darcel Schlecht",
            "MG Special",
            "Cancity",
            "Won",
            "2016-10-25",
            "2017-03-07",
            50,
        ),
        ("MV1LWRNH", "Moses Frase", "GTX Basic", "Codehow", "Won", "2016-10-25", "2017-03-09", 588),
        ("PE84CX4O", "Zane Levy", "GTX Basic", "Hatfan", "Lost", "2016-10-25", "2017-03-02", 0),
        (
            "ZNBS69V1",
            "Anna Snelling",
            "MG Special",
            "Ron-tech",
            "Lost",
            "2016-10-29",
            "2017-03-01",
            0,
        ),
        (
            "9ZCSUDQ0",
            "Vicki Laflamme",
            "GTX Plus Pro",
            "Sonron",
            "Lost",
            "2016-11-01",
            "2017-03-18",
            0,
        ),
        ("HAXMC4IX", "James Ascencio", "GTX Basic", None, "Engaging", "2017-02-18", None, None),
        ("ZZY4516R", "Zane Levy", "GTX Plus Basic", None, "Prospecting", None, None, None),
    ]
    columns = [
        "opportunity_id",
        "sales_agent",
        "product",
        "account",
        "deal_stage",
        "engage_date",
        "close_date",
        "close_value",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("engage_date", "close_date"):
        frame[col] = pd.to_datetime(frame[col], format="ISO8601")
    frame["close_value"] = frame["close_value"].astype("float64")
    return frame


MAVEN = {
    "stage_col": "deal_stage",
    "created_col": "engage_date",
    "closed_col": "close_date",
    "amount_col": "close_value",
    "created_stage": "Engaging",
}


def test_deals_to_history_rows_in_the_maven_shape(maven):
    before = maven.copy()
    history = deals_to_history(maven, **MAVEN)
    pd.testing.assert_frame_equal(maven, before)
    assert list(history.columns) == [
        "opportunity_id",
        "stage",
        "entered_at",
        "amount",
        "outcome",
        "sales_agent",
        "product",
        "account",
    ]
    rows = history.set_index("opportunity_id")
    won = rows.loc["1C1I7A6R"]  # engaged (需求确认) on the engage date, won on the close date
    assert won["stage"].tolist() == ["需求确认", "成交"]
    assert won["entered_at"].tolist() == list(_ts(["2016-10-20", "2017-03-01"]))
    assert won["outcome"].tolist() == ["open", "won"]
    lost = rows.loc["PE84CX4O"]  # no stage is claimed beyond the engage date's
    assert lost["stage"].isna().tolist() == [False, True]
    assert lost["outcome"].tolist() == ["open", "lost"]
    assert rows.loc["HAXMC4IX", "stage"] == "需求确认"
    # a prospect without a date keeps its row, with the date missing
    assert rows.loc["ZZY4516R", "stage"] == "初次接洽"
    assert pd.isna(rows.loc["ZZY4516R", "entered_at"])
    assert len(history) == 2 * 7 + 2


def test_deals_to_history_win_rate_and_average_deal_match_plain_pandas(maven):
    history = deals_to_history(maven, **MAVEN)
    kpis = pipeline_kpis(history, as_of="2017-06-30").iloc[0]
    won = maven[maven["deal_stage"] == "Won"]
    lost = maven[maven["deal_stage"] == "Lost"]
    assert kpis["won"] == len(won) and kpis["lost"] == len(lost)
    assert kpis["win_rate"] == pytest.approx(len(won) / (len(won) + len(lost)))
    assert kpis["average_deal"] == pytest.approx(won["close_value"].mean())
    cycle = (won["close_date"] - won["engage_date"]).dt.days
    assert kpis["cycle_days_mean"] == pytest.approx(cycle.mean())
    assert kpis["open"] == 1  # the dated Engaging deal; the undated prospect is in no dated count
    deals = deal_summary(history, as_of="2017-06-30").set_index("opportunity_id")
    assert deals.loc["PE84CX4O", "closed_at"] == pd.Timestamp("2017-03-02")
    assert deals.loc["PE84CX4O", "stage"] == "需求确认"
    # before the close dates every closed deal is still open
    early = pipeline_kpis(history, as_of="2017-02-28").iloc[0]
    assert (early["won"], early["lost"], early["open"]) == (0, 0, 8)
    # the snapshot funnel (no dates) counts the prospect too, and no loss as a step
    snapshot = stage_funnel(history, time_col=None)
    assert snapshot["reached"].tolist()[:2] == [len(maven), len(maven) - 1]
    assert snapshot["reached"].iloc[4] == len(won)


def test_deals_to_history_with_an_outcome_column_and_named_stages():
    deals = pd.DataFrame(
        {
            "opportunity_id": ["A", "B", "C"],
            "stage": ["商务谈判", "③方案提交", None],
            "outcome": ["输单", "won", "open"],
            "created_at": _ts(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "closed_at": _ts(["2024-03-01", "2024-02-01", None]),
        }
    )
    history = deals_to_history(deals)
    rows = history.set_index("opportunity_id")
    # A's table names the stage it had reached: dated on the loss day, before the loss row
    assert rows.loc["A", "stage"].tolist()[:2] == ["初次接洽", "商务谈判"]
    assert rows.loc["A", "outcome"].tolist() == ["open", "open", "lost"]
    # B is won at the won stage, although its stage cell says 方案提交
    assert rows.loc["B", "stage"].tolist() == ["初次接洽", "成交"]
    # C has no stage: one row recording it open, stage unknown
    assert pd.isna(rows.loc["C", "stage"]) and rows.loc["C", "outcome"] == "open"
    summary = deal_summary(history).set_index("opportunity_id")
    assert summary.loc["A", "stage"] == "商务谈判" and summary.loc["A", "outcome"] == "lost"
    assert summary.loc["C", "stage_index"] == 0 and summary.loc["C", "outcome"] == "open"


def test_deals_to_history_errors(maven):
    with pytest.raises(ValueError, match="one row per opportunity"):
        deals_to_history(pd.concat([maven, maven.iloc[:1]]), **MAVEN)
    with pytest.raises(ValueError, match="Pending"):
        deals_to_history(maven.assign(deal_stage="Pending"), **MAVEN)
    with pytest.raises(TypeError, match="engage_date"):
        deals_to_history(maven.assign(engage_date=maven["engage_date"].astype(str)), **MAVEN)
    with pytest.raises(SchemaError, match="close_date"):
        deals_to_history(maven.drop(columns="close_date"), **MAVEN)
    with pytest.raises(ValueError, match="carry must not name"):
        deals_to_history(maven.assign(stage="x"), carry=["stage"], **MAVEN)


# ---------------------------------------------------------------------------------------------
# Channel ROI
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def orders() -> pd.DataFrame:
    rows = [
        ("C1", "2024-03-05", 120.0, "展会"),
        ("C1", "2024-05-01", 30.0, "转介绍"),
        ("C5", "2024-04-02", 80.0, "转介绍"),
        ("C5", "2024-04-20", -10.0, "转介绍"),
        ("C9", "2024-04-20", 40.0, None),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount", "lead_source"])
    frame["order_date"] = _ts(frame["order_date"])
    return frame


@pytest.fixture
def costs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel": ["展会", "展会", "线上推广", "转介绍"],
            "period": ["2024-01", "2024-03", "2024-01", "2024-02"],
            "cost": [50.0, 50.0, 20.0, 0.0],
        }
    )


def test_channel_roi_from_history(history, orders, costs):
    before = (history.copy(), orders.copy(), costs.copy())
    table = channel_roi(history, orders, costs).set_index("lead_source")
    for frame, copy in zip((history, orders, costs), before, strict=True):
        pd.testing.assert_frame_equal(frame, copy)
    assert table["leads"].to_dict() == {"展会": 2, "线上推广": 1, "转介绍": 1, "未知": 1}
    assert table["opportunities"].to_dict() == {"展会": 2, "线上推广": 1, "转介绍": 1, "未知": 1}
    assert table["won"].to_dict() == {"展会": 1, "线上推广": 0, "转介绍": 1, "未知": 0}
    # by customer: C1 (展会) 150, C5 (转介绍) 70, C9 not a lead -> 未知 40
    assert table["revenue"].to_dict() == {
        "展会": 150.0,
        "线上推广": 0.0,
        "转介绍": 70.0,
        "未知": 40.0,
    }
    assert table["cost"].to_dict() == {"展会": 100.0, "线上推广": 20.0, "转介绍": 0.0, "未知": 0.0}
    assert table.loc["展会", "roi"] == pytest.approx(0.5)
    assert table.loc["线上推广", "roi"] == pytest.approx(-1.0)
    assert np.isnan(table.loc["转介绍", "roi"])  # no cost: no ROI, not infinity
    assert table.loc["展会", "cost_per_won"] == 100.0
    assert np.isnan(table.loc["线上推广", "cost_per_won"])
    assert table.loc["展会", "conversion"] == 0.5
    assert list(table.index[:2]) == ["展会", "转介绍"]  # by revenue


def test_channel_roi_order_attribution_and_period(history, orders, costs):
    by_order = channel_roi(history, orders, costs, attribution="order").set_index("lead_source")
    assert by_order["revenue"].to_dict() == {
        "展会": 120.0,
        "线上推广": 0.0,
        "转介绍": 100.0,
        "未知": 40.0,
    }
    march = channel_roi(history, orders, costs, period=("2024-02", "2024-03")).set_index(
        "lead_source"
    )
    # orders in Feb-Mar: C1's 120; costs starting in Feb-Mar: 展会 50, 转介绍 0;
    # leads first seen in Feb-Mar: only C4 (unknown channel, 02-01)
    assert march["revenue"].to_dict()["展会"] == 120.0
    assert march["cost"].to_dict()["展会"] == 50.0
    assert march["leads"].to_dict() == {"展会": 0, "转介绍": 0, "未知": 1}
    with pytest.raises(ValueError, match="period must be"):
        channel_roi(history, orders, costs, period="March")
    with pytest.raises(ValueError, match="period must end after it starts"):
        channel_roi(history, orders, costs, period=("2024-05", "2024-01"))
    with pytest.raises(ValueError, match="attribution must be one of"):
        channel_roi(history, orders, costs, attribution="last_touch")


def test_channel_roi_from_customers(orders, costs):
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C5"],
            "stage": ["成交", "初次接洽", "需求确认", "售后维护"],
            "lead_source": ["展会", "展会", "线上推广", "转介绍"],
        }
    )
    table = channel_roi(customers, orders, costs).set_index("lead_source")
    assert table["leads"].to_dict() == {"展会": 2, "线上推广": 1, "转介绍": 1, "未知": 0}
    assert table["opportunities"].to_dict() == {"展会": 1, "线上推广": 1, "转介绍": 1, "未知": 0}
    assert table["won"].to_dict() == {"展会": 1, "线上推广": 0, "转介绍": 1, "未知": 0}
    assert table.loc["展会", "cost_per_lead"] == 50.0


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# The as-of day
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def late_day() -> pd.DataFrame:
    """As of June 30: P1 enters ① on June 1 and ② at 09:15 on June 30; P2 enters ① at 23:59 on
    June 30 and ② at midnight on July 1, after the as-of day."""
    rows = [
        ("P1", "初次接洽", "2024-06-01 00:00"),
        ("P1", "需求确认", "2024-06-30 09:15"),
        ("P2", "初次接洽", "2024-06-30 23:59"),
        ("P2", "需求确认", "2024-07-01 00:00"),
    ]
    frame = pd.DataFrame(rows, columns=["opportunity_id", "stage", "entered_at"])
    frame["entered_at"] = _ts(frame["entered_at"])
    return frame


def test_every_stage_entered_on_the_as_of_day_counts(late_day, backend):
    got = to_pandas(stage_funnel(backend(late_day), as_of="2024-06-30"))
    assert got["reached"].tolist() == [2, 1, 0, 0, 0, 0]
    deals = deal_summary(late_day, as_of="2024-06-30")
    assert deals["stage_index"].tolist() == [2, 1]
    durations = stage_durations(late_day, as_of="2024-06-30")
    assert durations["entered"].tolist()[:2] == [2, 1]


# A zoned as-of is read on its own wall clock: 23:00 in New York on June 30 is June 30 (July 1 in
# UTC) and 02:00 in Shanghai on July 1 is July 1 (June 30 in UTC).
ZONED_AS_OF = [("2024-06-30T23:00-05:00", "2024-06-30"), ("2024-07-01T02:00+08:00", "2024-07-01")]


@pytest.mark.parametrize(("as_of", "day"), ZONED_AS_OF)
def test_zoned_as_of_is_its_local_day(late_day, backend, as_of, day):
    got = to_pandas(stage_funnel(backend(late_day), as_of=as_of))
    pd.testing.assert_frame_equal(got, to_pandas(stage_funnel(backend(late_day), as_of=day)))
    assert got["reached"].tolist()[:2] == ([2, 1] if day == "2024-06-30" else [2, 2])
    pd.testing.assert_frame_equal(
        deal_summary(late_day, as_of=as_of), deal_summary(late_day, as_of=day)
    )
    pd.testing.assert_frame_equal(
        pipeline_kpis(late_day, as_of=as_of), pipeline_kpis(late_day, as_of=day)
    )


@pytest.mark.parametrize("convert", ["pandas", "polars"])
def test_zoned_stage_times_are_cut_on_their_wall_clock(late_day, convert):
    # In Shanghai, P2 enters ② at midnight on July 1 (16:00 on June 30 in UTC): after June 30.
    zoned = late_day.assign(entered_at=late_day["entered_at"].dt.tz_localize("Asia/Shanghai"))
    native = zoned if convert == "pandas" else pl.from_pandas(zoned)
    got = to_pandas(stage_funnel(native, as_of="2024-06-30"))
    assert got["reached"].tolist() == [2, 1, 0, 0, 0, 0]
    deals = deal_summary(zoned, as_of="2024-06-30")
    assert deals["stage_index"].tolist() == [2, 1]


def test_bad_as_of_names_the_parameter_and_the_value(late_day):
    message = r"as_of must be a date .*got 'June 30th'"
    for function in (stage_funnel, deal_summary, stage_durations, pipeline_kpis):
        with pytest.raises(ParameterError, match=message):
            function(late_day, as_of="June 30th")


@pytest.fixture
def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


def test_funnel_charts(plt, history, orders, costs):
    from matplotlib.colors import to_hex

    from analysis_kit import plotting
    from analysis_kit.funnel import STEP_LABELS_EN

    table = stage_funnel(history)
    ax = plotting.funnel_bars(table, highlight="商务谈判", labels=STEP_LABELS_EN, lang="en")
    assert len(ax.patches) == 6
    assert [to_hex(p.get_facecolor()) for p in ax.patches].count("#c44e52") == 1
    assert to_hex(ax.patches[3].get_facecolor()) == "#c44e52"
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "First contact"
    assert "drop-off 1  → 80%" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="lang must be one of"):
        plotting.funnel_bars(table, lang="fr")

    roi = channel_roi(history, orders, costs)
    ax = plotting.channel_roi_bars(roi, lang="en")
    assert len(ax.patches) == roi["roi"].notna().sum()  # 转介绍 has no ROI (no cost)
    colors = {
        t.get_text(): to_hex(p.get_facecolor())
        for t, p in zip(ax.get_yticklabels(), ax.patches, strict=True)
    }
    assert colors["线上推广"] == "#c44e52" and colors["展会"] == "#4c72b0"

    cohorts = deal_cohorts(history)
    ax = plotting.cohort_bars(cohorts, lang="zh")
    assert len(ax.patches) == 3 * len(cohorts)

    by_source = stage_funnel(history, by="lead_source")
    ax = plotting.funnel_breakdown_lines(by_source, by="lead_source", lang="en")
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {
        "展会",
        "线上推广",
        "转介绍",
        "—",
    }

    units = event_funnel_units(
        history,
        ["初次接洽", "成交"],
        unit_col="opportunity_id",
        time_col="entered_at",
        event_col="stage",
    )
    ax = plotting.conversion_time_hist(units, lang="en")
    assert ax.get_xlabel() == "Days"
    with pytest.raises(ValueError, match="unit must be one of"):
        plotting.conversion_time_hist(units, unit="weeks")


def test_an_outcome_on_step_rows_is_known_from_the_deals_last_row():
    rows = [
        ("B", "初次接洽", "2024-05-03", "lost"),
        ("B", "需求确认", "2024-06-12", "lost"),  # the loss is written on every row
        ("A", "初次接洽", "2024-05-02", "lost"),  # one row: lost from that day
    ]
    history = pd.DataFrame(rows, columns=["opportunity_id", "stage", "entered_at", "outcome"])
    history["entered_at"] = _ts(history["entered_at"])
    may = deal_summary(history, as_of="2024-05-31").set_index("opportunity_id")
    assert may["outcome"].to_dict() == {"A": "lost", "B": "open"}  # B was still going in May
    june = deal_summary(history, as_of="2024-06-30").set_index("opportunity_id")
    assert june.loc["B", "outcome"] == "lost"
    assert june.loc["B", "closed_at"] == pd.Timestamp("2024-06-12")


def test_stuck_deals_against_a_plain_computation():
    from analysis_kit.funnel import STUCK_RULES, stuck_deals

    tables = make_tables(n_customers=150, random_state=8)
    history = clean_table(tables["stages"], table="stages").clean
    as_of = pd.Timestamp("2024-06-30")
    got = stuck_deals(history, as_of=as_of)
    rows = history[history["entered_at"] < as_of + pd.Timedelta(days=1)]
    rows = rows.dropna(subset=["stage"])
    order = {s: i for i, s in enumerate(FUNNEL_PRESETS["template"])}
    first = (
        rows.assign(step=rows["stage"].map(order))
        .groupby(["opportunity_id", "step"])["entered_at"]
        .min()
        .reset_index()
        .sort_values(["opportunity_id", "step"])
    )
    # days in a step for deals that reached a later one: first entry of the next step reached
    first["next"] = first.groupby("opportunity_id")["entered_at"].shift(-1)
    moved = first.dropna(subset=["next"])
    days = (moved["next"] - moved["entered_at"]).dt.total_seconds() / 86_400
    per_step = days.groupby(moved["step"])
    norm = per_step.median().where(per_step.size() >= STUCK_RULES["min_moved_on"])
    outcome = rows.sort_values("entered_at").groupby("opportunity_id")["outcome"].last()
    furthest = first.groupby("opportunity_id").tail(1).set_index("opportunity_id")
    open_ids = outcome[outcome == "open"].index.intersection(furthest.index)
    expected = {}
    for opp in open_ids:
        step, since = furthest.loc[opp, "step"], furthest.loc[opp, "entered_at"]
        in_step = (as_of - since).total_seconds() / 86_400
        limit = norm.get(step, np.nan)
        expected[opp] = bool(
            in_step > STUCK_RULES["factor"] * limit and in_step >= STUCK_RULES["min_days"]
        )
    assert dict(zip(got["opportunity_id"], got["stuck"], strict=True)) == expected
    assert got["stuck"].any() and not got["stuck"].all()
    flags = got["stuck"].tolist()
    assert flags == sorted(flags, reverse=True)  # stuck deals first
    looser = stuck_deals(history, as_of=as_of, rules={"factor": 100.0})
    assert looser["stuck"].sum() < got["stuck"].sum()
    with pytest.raises(ValueError, match="unknown stuck rules"):
        stuck_deals(history, as_of=as_of, rules={"factr": 2})
