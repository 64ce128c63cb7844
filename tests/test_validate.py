"""Tests for analysis_kit._validate: the one as-of reader and money compared in cents."""

from __future__ import annotations

import datetime as dt

import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest

from analysis_kit._validate import (
    as_of_day,
    as_of_end,
    is_negative_money,
    is_positive_money,
    local_days,
)
from analysis_kit.errors import AnalysisKitError, ParameterError

JUNE_30 = pd.Timestamp("2024-06-30")


@pytest.mark.parametrize(
    "value",
    [
        "2024-06-30",
        " 2024-06-30 ",
        "2024-06-30 00:00",
        "2024-06-30 17:42",
        "2024-06-30T23:59:59.999999",
        "2024-06-30T23:00-05:00",  # July 1 in UTC: still June 30 on its own clock
        "2024-06-30T01:00+08:00",  # June 29 in UTC
        "2024-06-30T12:00Z",
        "2024年6月30日",
        "2024/6/30",
        "20240630",
        dt.date(2024, 6, 30),
        dt.datetime(2024, 6, 30, 23, 59),
        dt.datetime(2024, 6, 30, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        pd.Timestamp("2024-06-30 17:42"),
        pd.Timestamp("2024-06-30 23:00", tz="America/New_York"),
        np.datetime64("2024-06-30T12:00"),
    ],
)
def test_as_of_day_is_the_naive_midnight_of_the_local_day(value):
    got = as_of_day(value)
    assert got == JUNE_30 and got.tzinfo is None
    assert as_of_end(value) == pd.Timestamp("2024-07-01")


@pytest.mark.parametrize(
    "value",
    [
        "June",
        "today",
        "2024-06",
        "2024",
        "24/6/30",
        "2024-02-30",
        "2024-06-30 25:00",
        "",
        None,
        float("nan"),
        pd.NaT,
        20240630,
        True,
        ["2024-06-30"],
    ],
)
def test_unreadable_as_of_names_the_parameter_and_the_value(value):
    with pytest.raises(ParameterError, match=r"^as_of must be a date .*; got ") as info:
        as_of_day(value)
    assert repr(value) in str(info.value)
    assert isinstance(info.value, AnalysisKitError) and isinstance(info.value, ValueError)
    with pytest.raises(ParameterError, match=r"^holdout_end must be a date"):
        as_of_end(value, name="holdout_end")


def test_local_days_keep_the_wall_clock_date():
    naive = pd.Series(pd.to_datetime(["2024-06-30 00:30", "2024-06-30 23:59", None]))
    zoned = naive.dt.tz_localize("Asia/Shanghai")
    expected = pd.Series(pd.to_datetime(["2024-06-30", "2024-06-30", None]))
    for values in (naive, zoned, naive.astype(str).where(naive.notna())):
        got = local_days(values)
        assert got.dt.tz is None
        pd.testing.assert_series_equal(got, expected, check_dtype=False)


def test_money_is_compared_in_cents():
    noise = [1.10 + 2.20 - 3.30, -17.80 + 16.95 + 0.85, 0.1 + 0.2 - 0.3]
    assert [x != 0 for x in noise] == [True, True, True]
    values = np.array([*noise, 0.0, 0.004, 0.005, 0.01, -0.004, -0.005, -0.01, np.nan])
    positive = [False] * 3 + [False, False, True, True, False, False, False, False]
    negative = [False] * 3 + [False, False, False, False, False, True, True, False]
    assert is_positive_money(values).tolist() == positive
    assert is_negative_money(values).tolist() == negative
    assert is_positive_money(pd.Series(values)).tolist() == positive
    # The same rule as a narwhals expression, on an engine of its own
    frame = nw.from_native(pl.DataFrame({"x": values}, nan_to_null=True))
    got = frame.select(
        is_positive_money(nw.col("x")).alias("pos"), is_negative_money(nw.col("x")).alias("neg")
    ).to_native()
    assert got["pos"].to_list() == [*positive[:-1], None]
    assert got["neg"].to_list() == [*negative[:-1], None]
