"""Tests for analysis_kit.rfm: hand-computed answers on tiny frames, backend parity, segments."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_kit.cleaning import clean_table
from analysis_kit.datasets import make_tables
from analysis_kit.errors import ParameterError, SchemaError
from analysis_kit.rfm import (
    CLASSIC_SEGMENTS,
    CN8_SEGMENTS,
    rfm_scores,
    rfm_segments,
    rfm_summary,
    segment_table,
)

NaN = np.nan
NaT = pd.NaT


def _ts(values):
    return pd.to_datetime(pd.Series(values), format="ISO8601").astype("datetime64[ns]")


@pytest.fixture
def orders() -> pd.DataFrame:
    """Every rule of the days convention on a frame small enough to check by eye.

    A: two lines on Jan 1 (merged into one purchase day) and one on Jan 10.
    B: one purchase.            C: only a zero line and a refund.
    D: a purchase fully refunded the same day (same order id), a purchase on Jan 4, a refund on
       Jan 6.                   E: a missing amount and a 10 yuan line on the same day.
    A line without customer and a line without date are ignored. Latest date: Jan 10.
    """
    rows = [
        ("A", "o1", "2024-01-01 09:00", 100.0),
        ("A", "o2", "2024-01-01 15:00", 50.0),
        ("A", "o3", "2024-01-10 00:00", 30.0),
        ("B", "o4", "2024-01-05 00:00", 80.0),
        ("C", "o5", "2024-01-03 00:00", 0.0),
        ("C", "o6", "2024-01-08 00:00", -20.0),
        ("D", "o7", "2024-01-02 10:00", 200.0),
        ("D", "o7", "2024-01-02 16:00", -200.0),
        ("D", "o8", "2024-01-04 00:00", 100.0),
        ("D", "o9", "2024-01-06 00:00", -40.0),
        ("E", "o10", "2024-01-07 00:00", None),
        ("E", "o11", "2024-01-07 00:00", 10.0),
        (None, "o12", "2024-01-09 00:00", 999.0),
        ("F", "o13", None, 500.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "order_date", "amount"])
    frame["order_date"] = _ts(frame["order_date"])
    return frame


def _expected(rows) -> pd.DataFrame:
    columns = [
        "customer_id",
        "recency",
        "frequency",
        "monetary",
        "monetary_mean",
        "first_purchase",
        "last_purchase",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("first_purchase", "last_purchase"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[us]")
    return frame


def _same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected, check_dtype=False, check_exact=False
    )


# ---------------------------------------------------------------------------------------------
# rfm_summary, days convention
# ---------------------------------------------------------------------------------------------


def test_days_summary_by_hand(orders):
    expected = _expected(
        [
            ("A", 0, 2, 180.0, 90.0, "2024-01-01", "2024-01-10"),
            ("B", 5, 1, 80.0, 80.0, "2024-01-05", "2024-01-05"),
            ("C", NaN, 0, -20.0, NaN, NaT, NaT),
            ("D", 6, 1, 60.0, 60.0, "2024-01-04", "2024-01-04"),
            ("E", 3, 1, 10.0, 10.0, "2024-01-07", "2024-01-07"),
        ]
    )
    _same(rfm_summary(orders), expected)


def test_days_summary_frequency_orders(orders):
    # A has three orders; D's o7 nets to 0 and its refund o9 is negative: one order.
    got = rfm_summary(orders, frequency="orders").set_index("customer_id")
    assert got["frequency"].to_dict() == {"A": 3, "B": 1, "C": 0, "D": 1, "E": 1}
    assert got.loc["A", "monetary_mean"] == pytest.approx(60.0)
    assert got.loc["D", "first_purchase"] == pd.Timestamp("2024-01-04")


def test_days_summary_frequency_orders_without_order_id_counts_lines(orders):
    got = rfm_summary(orders.drop(columns="order_id"), frequency="orders").set_index("customer_id")
    # Lines with a positive amount: A 3, B 1, C 0, D 2 (200 and 100), E 1 (the missing amount is 0).
    assert got["frequency"].to_dict() == {"A": 3, "B": 1, "C": 0, "D": 2, "E": 1}
    assert got.loc["D", "first_purchase"] == pd.Timestamp("2024-01-02")
    assert got.loc["D", "monetary_mean"] == pytest.approx(30.0)


def test_days_summary_as_of_before_last_order_excludes_later_lines(orders):
    expected = _expected(
        [
            ("A", 4, 1, 150.0, 150.0, "2024-01-01", "2024-01-01"),
            ("B", 0, 1, 80.0, 80.0, "2024-01-05", "2024-01-05"),
            ("C", NaN, 0, 0.0, NaN, NaT, NaT),
            ("D", 1, 1, 100.0, 100.0, "2024-01-04", "2024-01-04"),
        ]
    )
    _same(rfm_summary(orders, as_of="2024-01-05"), expected)
    # Only the calendar day of as_of counts: a time of day or a date object changes nothing.
    _same(rfm_summary(orders, as_of="2024-01-05 08:00"), expected)
    _same(rfm_summary(orders, as_of=dt.date(2024, 1, 5)), expected)


def test_days_summary_as_of_after_data_adds_days(orders):
    got = rfm_summary(orders, as_of=pd.Timestamp("2024-01-20")).set_index("customer_id")
    assert got.loc["A", "recency"] == 10
    assert got.loc["B", "recency"] == 15


def test_days_summary_drops_non_buyers_on_request(orders):
    got = rfm_summary(orders, keep_non_buyers=False)
    assert got["customer_id"].tolist() == ["A", "B", "D", "E"]


def test_single_purchase_customer():
    one = pd.DataFrame({"customer_id": ["Z"], "order_date": _ts(["2024-03-01"]), "amount": [12.5]})
    expected = _expected([("Z", 0, 1, 12.5, 12.5, "2024-03-01", "2024-03-01")])
    _same(rfm_summary(one), expected)
    lt = rfm_summary(one, convention="lifetimes", as_of="2024-03-11")
    assert lt.iloc[0][["frequency", "recency", "T", "monetary_value"]].tolist() == [0, 0, 10, 0]


def test_only_refund_customer():
    refund = pd.DataFrame(
        {
            "customer_id": ["A", "R"],
            "order_date": _ts(["2024-03-01", "2024-03-02"]),
            "amount": [10.0, -15.0],
        }
    )
    got = rfm_summary(refund).set_index("customer_id")
    assert got.loc["R", "frequency"] == 0
    assert got.loc["R", "monetary"] == -15.0
    assert pd.isna(got.loc["R", "recency"]) and pd.isna(got.loc["R", "last_purchase"])
    # The lifetimes convention has no T without a first purchase: R is left out.
    assert rfm_summary(refund, convention="lifetimes")["customer_id"].tolist() == ["A"]


def test_summary_accepts_date_dtype():
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "a"],
            "order_date": [dt.date(2024, 1, 1), dt.date(2024, 1, 5)],
            "amount": [1.0, 2.0],
        }
    )
    got = rfm_summary(frame).to_pandas()
    assert got[["recency", "frequency", "monetary"]].iloc[0].tolist() == [0, 2, 3.0]


def test_summary_custom_column_names(orders):
    renamed = orders.rename(columns={"customer_id": "cid", "order_date": "d", "amount": "x"})
    got = rfm_summary(renamed, customer_col="cid", date_col="d", amount_col="x")
    expected = rfm_summary(orders).rename(columns={"customer_id": "cid"})
    _same(got, expected)


def test_summary_does_not_modify_input(orders):
    before = orders.copy()
    rfm_summary(orders)
    rfm_summary(orders, convention="lifetimes", freq="W")
    pd.testing.assert_frame_equal(orders, before)


def test_summary_errors(orders):
    with pytest.raises(SchemaError, match=r"order_date \(成交日期\), amount \(成交金额\)"):
        rfm_summary(orders.drop(columns=["order_date", "amount"]))
    with pytest.raises(ValueError, match="convention must be one of"):
        rfm_summary(orders, convention="weeks")
    with pytest.raises(ValueError, match="freq must be one of"):
        rfm_summary(orders, convention="lifetimes", freq="Q")
    with pytest.raises(ValueError, match="frequency must be one of"):
        rfm_summary(orders, frequency="lines")
    with pytest.raises(ValueError, match="as_of"):
        rfm_summary(orders, as_of="not a date")
    with pytest.raises(TypeError, match="datetimes or dates"):
        rfm_summary(orders.assign(order_date=orders["order_date"].astype(str)))


def test_summary_empty_input():
    empty = pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype="str"),
            "order_date": pd.Series([], dtype="datetime64[ns]"),
            "amount": pd.Series([], dtype="float64"),
        }
    )
    assert len(rfm_summary(empty)) == 0
    assert list(rfm_summary(empty, convention="lifetimes").columns) == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
    ]


# ---------------------------------------------------------------------------------------------
# rfm_summary, lifetimes convention
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def transactions() -> pd.DataFrame:
    """Lifetimes fixture. 2024-01-01 is a Monday; weeks run Monday to Sunday.

    X: Jan 1 (10), Jan 3 (20 + 5, same day), Jan 9 (40), Feb 2 (60).
    Y: Jan 31 (100).   Z: Sun Jan 7 (30), Mon Jan 8 (50), a refund Jan 20 (-10).
    R: a refund only.  Latest date (observation period end): Fri Feb 2.
    """
    rows = [
        ("X", "2024-01-01", 10.0),
        ("X", "2024-01-03 09:00", 20.0),
        ("X", "2024-01-03 17:00", 5.0),
        ("X", "2024-01-09", 40.0),
        ("X", "2024-02-02", 60.0),
        ("Y", "2024-01-31", 100.0),
        ("Z", "2024-01-07", 30.0),
        ("Z", "2024-01-08", 50.0),
        ("Z", "2024-01-20", -10.0),
        ("R", "2024-01-05", -15.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = _ts(frame["order_date"])
    return frame


def _lifetimes(rows) -> pd.DataFrame:
    columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    frame = pd.DataFrame(rows, columns=columns)
    frame[columns[1:]] = frame[columns[1:]].astype(float)
    return frame


LIFETIMES_CASES = {
    # Days: X buys on 4 distinct days (Jan 3 merged); recency = T = Jan 1 -> Feb 2 = 32 days;
    # monetary_value = mean(25, 40, 60). Z: the Jan 20 refund period is no purchase.
    ("D", None): [
        ("X", 3, 32, 32, (25 + 40 + 60) / 3),
        ("Y", 0, 0, 2, 0),
        ("Z", 1, 1, 26, 50),
    ],
    # Weeks: X in week 1 (35), week 2 (40), week 5 (60); Feb 2 is in week 5.
    # Z: Sunday Jan 7 is week 1, Monday Jan 8 week 2.
    ("W", None): [
        ("X", 2, 4, 4, (40 + 60) / 2),
        ("Y", 0, 0, 0, 0),
        ("Z", 1, 1, 4, 50),
    ],
    # Months: X has January (75) and February (60); Z's January nets to 70, one period.
    ("M", None): [
        ("X", 1, 1, 1, 60),
        ("Y", 0, 0, 1, 0),
        ("Z", 0, 0, 1, 0),
    ],
    # as_of Monday Jan 8: days after it are dropped (Jan 9 and later).
    ("D", "2024-01-08"): [
        ("X", 1, 2, 7, 25),
        ("Z", 1, 1, 1, 50),
    ],
    # Weekly, lifetimes keeps the whole as_of week: X's Tuesday Jan 9 stays in.
    ("W", "2024-01-08"): [
        ("X", 1, 1, 1, 40),
        ("Z", 1, 1, 1, 50),
    ],
    # Monthly as_of Jan 15: the whole of January is kept, February dropped.
    ("M", "2024-01-15"): [
        ("X", 0, 0, 0, 0),
        ("Y", 0, 0, 0, 0),
        ("Z", 0, 0, 0, 0),
    ],
}


@pytest.mark.parametrize(("freq", "as_of"), list(LIFETIMES_CASES))
def test_lifetimes_convention_by_hand(transactions, freq, as_of):
    got = rfm_summary(transactions, convention="lifetimes", freq=freq, as_of=as_of)
    _same(got, _lifetimes(LIFETIMES_CASES[freq, as_of]))


def test_lifetimes_month_boundaries():
    # Month periods count calendar months: Jan 31 -> Feb 1 is 1, Feb 1 -> Feb 29 is 0,
    # Dec 2023 -> Mar 2024 is 3.
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c", "c"],
            "order_date": _ts(
                ["2024-01-31", "2024-02-01", "2024-02-01", "2024-02-29", "2023-12-15", "2024-03-01"]
            ),
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    got = rfm_summary(frame, convention="lifetimes", freq="M", as_of="2024-03-31")
    expected = _lifetimes([("a", 1, 1, 2, 2.0), ("b", 0, 0, 1, 0.0), ("c", 1, 3, 3, 6.0)])
    _same(got, expected)


# ---------------------------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------------------------


def _as_pandas(result) -> pd.DataFrame:
    if isinstance(result, pl.LazyFrame):
        result = result.collect()
    if isinstance(result, pl.DataFrame):
        result = result.to_pandas()
    if isinstance(result, duckdb.DuckDBPyRelation):
        result = result.df()
    result = result.sort_values("customer_id").reset_index(drop=True)
    for col in result.columns:
        if pd.api.types.is_datetime64_any_dtype(result[col]):
            result[col] = result[col].astype("datetime64[us]")
    return result


BACKENDS = {
    "polars": pl.from_pandas,
    "polars_lazy": lambda df: pl.from_pandas(df).lazy(),
    "duckdb": duckdb.from_df,
}
OPTIONS = [
    {},
    {"frequency": "orders"},
    {"as_of": "2024-01-05"},
    {"keep_non_buyers": False},
    {"convention": "lifetimes"},
    {"convention": "lifetimes", "freq": "W"},
    {"convention": "lifetimes", "freq": "M", "as_of": "2024-01-06"},
]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(map(str, o.values())) or "days")
def test_backends_agree_on_hand_frame(orders, backend, options):
    expected = _as_pandas(rfm_summary(orders, **options))
    got = _as_pandas(rfm_summary(BACKENDS[backend](orders), **options))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


@pytest.fixture(scope="module")
def generated_orders() -> pd.DataFrame:
    tables = make_tables(n_customers=60, random_state=1)
    return clean_table(tables["orders"], table="orders").clean


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(map(str, o.values())) or "days")
def test_backends_agree_on_generated_data(generated_orders, backend, options):
    options = {k: v for k, v in options.items() if k != "as_of"}
    expected = _as_pandas(rfm_summary(generated_orders, **options))
    got = _as_pandas(rfm_summary(BACKENDS[backend](generated_orders), **options))
    assert len(expected) > 10
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-9)


LOCAL_TIMES = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "b", "c"],
        # Just before and after midnight, before 1970 and on a leap day.
        "order_date": pd.to_datetime(
            [
                "1969-12-31 23:00",
                "1970-01-01 00:30",
                "2024-02-29 23:59",
                "2024-03-01 00:01",
                "2024-01-01 20:00",
            ]
        ),
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
    }
)


@pytest.mark.parametrize(
    "convert",
    [
        lambda df: df,
        lambda df: df.convert_dtypes(dtype_backend="pyarrow"),
        pl.from_pandas,
        lambda df: pl.from_pandas(df).lazy(),
    ],
    ids=["pandas", "pandas-arrow", "polars", "polars-lazy"],
)
@pytest.mark.parametrize("convention", ["days", "lifetimes"])
def test_zoned_times_count_on_their_local_calendar_day(convert, convention):
    # An order at 00:30 in Shanghai is that day's order (16:30 the day before in UTC). Polars
    # counts days by a date cast, the others by calendar arithmetic: all agree with the same
    # wall-clock times without a zone, before 1970 too.
    zoned = LOCAL_TIMES.assign(order_date=LOCAL_TIMES["order_date"].dt.tz_localize("Asia/Shanghai"))
    expected = _as_pandas(rfm_summary(LOCAL_TIMES, convention=convention))
    assert expected["frequency"].tolist() == (
        [1.0, 1.0, 0.0] if convention == "lifetimes" else [2, 2, 1]
    )
    for frame in (LOCAL_TIMES, zoned):
        got = _as_pandas(rfm_summary(convert(frame), convention=convention))
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_lazy_inputs_stay_lazy(orders):
    assert isinstance(rfm_summary(pl.from_pandas(orders).lazy()), pl.LazyFrame)
    assert isinstance(rfm_summary(pl.from_pandas(orders)), pl.DataFrame)
    relation = rfm_summary(duckdb.from_df(orders), convention="lifetimes")
    assert isinstance(relation, duckdb.DuckDBPyRelation)


def test_generated_data_matches_independent_pandas(generated_orders):
    got = rfm_summary(generated_orders).set_index("customer_id")
    total = generated_orders.groupby("customer_id")["amount"].sum()
    pd.testing.assert_series_equal(
        got["monetary"], total.rename("monetary"), check_index_type=False, check_names=False
    )
    daily = generated_orders.groupby(
        ["customer_id", generated_orders["order_date"].dt.normalize()]
    )["amount"].sum()
    purchase_days = (daily > 0).groupby(level="customer_id").sum()
    assert got["frequency"].to_dict() == purchase_days.to_dict()
    last = daily[daily > 0].reset_index().groupby("customer_id")["order_date"].max()
    as_of = generated_orders["order_date"].max().normalize()
    recency = (as_of - last).dt.days
    assert got["recency"].dropna().astype(int).to_dict() == recency.to_dict()


# ---------------------------------------------------------------------------------------------
# The as-of day, money in cents, zero amounts in the lifetimes convention
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def late_day() -> pd.DataFrame:
    """As of June 30: A buys on June 1 and at 09:15 on June 30, B at 23:59 on June 30; B's
    line at midnight on July 1 is after the as-of day."""
    rows = [
        ("A", "2024-06-01 00:00", 10.0),
        ("A", "2024-06-30 09:15", 20.0),
        ("B", "2024-06-30 23:59", 5.0),
        ("B", "2024-07-01 00:00", 100.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = _ts(frame["order_date"])
    return frame


def test_every_line_on_the_as_of_day_counts(late_day):
    expected = _expected(
        [
            ("A", 0, 2, 30.0, 15.0, "2024-06-01", "2024-06-30"),
            ("B", 0, 1, 5.0, 5.0, "2024-06-30", "2024-06-30"),
        ]
    )
    _same(rfm_summary(late_day, as_of="2024-06-30"), expected)
    got = rfm_summary(late_day, convention="lifetimes", as_of="2024-06-30")
    _same(got, _lifetimes([("A", 1, 29, 29, 20.0), ("B", 0, 0, 0, 0.0)]))


# A zoned as-of is read on its own wall clock: 23:00 in New York on June 30 is June 30 (July 1 in
# UTC) and 02:00 in Shanghai on July 1 is July 1 (June 30 in UTC).
ZONED_AS_OF = [("2024-06-30T23:00-05:00", "2024-06-30"), ("2024-07-01T02:00+08:00", "2024-07-01")]


@pytest.mark.parametrize(("as_of", "day"), ZONED_AS_OF)
@pytest.mark.parametrize("convention", ["days", "lifetimes"])
def test_zoned_as_of_is_its_local_day(late_day, as_of, day, convention):
    got = rfm_summary(late_day, convention=convention, as_of=as_of)
    expected = rfm_summary(late_day, convention=convention, as_of=day)
    pd.testing.assert_frame_equal(got, expected)
    other = "2024-07-01" if day == "2024-06-30" else "2024-06-30"
    assert not got.equals(rfm_summary(late_day, convention=convention, as_of=other))


def test_bad_as_of_names_the_parameter_and_the_value(late_day):
    for convention in ("days", "lifetimes"):
        with pytest.raises(ParameterError, match=r"as_of must be a date .*got 'June'"):
            rfm_summary(late_day, convention=convention, as_of="June")


@pytest.fixture
def float_noise() -> pd.DataFrame:
    """Purchases fully refunded whose float sums are not 0: on Jan 3, 1.10 + 2.20 - 3.30 is
    +4.4e-16 and on Jan 4, -17.80 + 16.95 + 0.85 is -1.4e-15 (in one order each). N buys
    nothing; P buys 10 on Jan 5."""
    rows = [
        ("N", "o1", "2024-01-03 09:00", 1.10),
        ("N", "o1", "2024-01-03 10:00", 2.20),
        ("N", "o1", "2024-01-03 11:00", -3.30),
        ("N", "o2", "2024-01-04 09:00", -17.80),
        ("N", "o2", "2024-01-04 10:00", 16.95),
        ("N", "o2", "2024-01-04 11:00", 0.85),
        ("P", "o3", "2024-01-05 00:00", 10.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "order_date", "amount"])
    frame["order_date"] = _ts(frame["order_date"])
    return frame


@pytest.mark.parametrize("backend", ["pandas", *BACKENDS])
def test_a_day_refunded_in_full_is_no_purchase_despite_float_noise(float_noise, backend):
    assert 1.10 + 2.20 - 3.30 > 0  # the noise the rule must see through
    convert = BACKENDS.get(backend, lambda df: df)
    for frequency in ("days", "orders"):
        got = _as_pandas(rfm_summary(convert(float_noise), frequency=frequency)).set_index(
            "customer_id"
        )
        assert got["frequency"].to_dict() == {"N": 0, "P": 1}
        assert pd.isna(got.loc["N", "recency"]) and pd.isna(got.loc["N", "last_purchase"])
        assert got.loc["N", "monetary"] == pytest.approx(0.0, abs=1e-9)
    buyers = _as_pandas(rfm_summary(convert(float_noise), keep_non_buyers=False))
    assert buyers["customer_id"].tolist() == ["P"]
    lifetimes = _as_pandas(rfm_summary(convert(float_noise), convention="lifetimes"))
    _same(lifetimes, _lifetimes([("P", 0, 0, 0, 0.0)]))


def test_lifetimes_counts_zero_amount_periods_as_lifetimes_does():
    """As of Sat Jan 6. W: Jan 1 (10), Jan 3 (0.00), Jan 6 (20): two repeat days worth 0 and 20.
    Z: only 0.00 lines, Jan 2 and Jan 5 at 23:59: kept, one repeat day worth 0. S: one 0.00 line
    on Jan 4. Weekly, everything is in week 1 (Mon Jan 1 to Sun Jan 7) and Z, S are single
    periods of 0.00."""
    rows = [
        ("W", "2024-01-01 00:00", 10.0),
        ("W", "2024-01-03 09:15", 0.0),
        ("W", "2024-01-06 23:59", 20.0),
        ("Z", "2024-01-02 00:00", 0.0),
        ("Z", "2024-01-05 23:59", 0.0),
        ("S", "2024-01-04 00:00", 0.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = _ts(frame["order_date"])
    daily = rfm_summary(frame, convention="lifetimes", as_of="2024-01-06")
    expected = [("S", 0, 0, 2, 0.0), ("W", 2, 5, 5, 10.0), ("Z", 1, 3, 4, 0.0)]
    _same(daily, _lifetimes(expected))
    weekly = rfm_summary(frame, convention="lifetimes", freq="W", as_of="2024-01-06")
    _same(weekly, _lifetimes([("S", 0, 0, 0, 0.0), ("W", 0, 0, 0, 0.0), ("Z", 0, 0, 0, 0.0)]))
    # The days convention keeps its rule: a 0.00 line is never a purchase.
    days = rfm_summary(frame, as_of="2024-01-06").set_index("customer_id")
    assert days["frequency"].to_dict() == {"S": 0, "W": 2, "Z": 0}


def test_lifetimes_refunds_keep_their_rule():
    """As of Jan 5. A: Jan 1 buys 50; Jan 2 buys 30 and returns 10 (a purchase of 20); Jan 3
    buys 40 and returns it (no purchase); Jan 4 only returns 5 (no purchase); Jan 5 nets to
    float noise, 1.10 + 2.20 - 3.30 (no purchase). R only returns: left out."""
    rows = [
        ("A", "2024-01-01", 50.0),
        ("A", "2024-01-02", 30.0),
        ("A", "2024-01-02", -10.0),
        ("A", "2024-01-03", 40.0),
        ("A", "2024-01-03", -40.0),
        ("A", "2024-01-04", -5.0),
        ("A", "2024-01-05", 1.10),
        ("A", "2024-01-05", 2.20),
        ("A", "2024-01-05", -3.30),
        ("R", "2024-01-02", -7.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = _ts(frame["order_date"])
    got = rfm_summary(frame, convention="lifetimes")
    _same(got, _lifetimes([("A", 1, 1, 4, 20.0)]))


def _lifetimes_reference(lines: pd.DataFrame, freq: str, as_of: str | None) -> pd.DataFrame:
    """lifetimes 0.11.3's ``summary_data_from_transaction_data`` with ``monetary_value_col``,
    rewritten in plain pandas: dates become ``freq`` periods, lines after the as-of period are
    dropped, amounts are summed per customer and period and *every* such period counts;
    frequency = periods - 1, recency = last - first period, T = as-of period - first period,
    monetary_value = mean of the period sums after the first (0 without one)."""
    periods = lines["order_date"].dt.to_period(freq)
    end = pd.Timestamp(as_of) if as_of is not None else lines["order_date"].max()
    end_number = end.to_period(freq).ordinal
    numbers = pd.Series(pd.PeriodIndex(periods).asi8, index=lines.index)
    kept = lines.assign(number=numbers)[numbers <= end_number]
    sums = kept.groupby(["customer_id", "number"])["amount"].sum()
    rows = []
    for customer, per_period in sums.groupby(level="customer_id"):
        number = per_period.index.get_level_values("number")
        first, last = number.min(), number.max()
        repeat = per_period[number > first]
        value = float(repeat.mean()) if len(repeat) else 0.0
        rows.append((customer, len(per_period) - 1, last - first, end_number - first, value))
    return _lifetimes(rows)


@pytest.fixture(scope="module")
def zero_amount_transactions() -> pd.DataFrame:
    """Seeded transactions without refunds, a quarter of them 0.00, times of day included, and
    two customers who only ever bought at 0.00."""
    rng = np.random.default_rng(11)
    n = 600
    minutes = rng.integers(0, 150 * 24 * 60, size=n)
    amounts = np.round(rng.uniform(0.5, 300.0, size=n), 2) * (rng.random(n) >= 0.25)
    frame = pd.DataFrame(
        {
            "customer_id": rng.choice([f"c{i:02d}" for i in range(50)], size=n),
            "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(minutes, unit="min"),
            "amount": amounts,
        }
    )
    zeros = pd.DataFrame(
        {
            "customer_id": ["z1", "z1", "z2"],
            "order_date": _ts(["2024-02-01 10:00", "2024-03-03 23:59", "2024-03-01"]),
            "amount": [0.0, 0.0, 0.0],
        }
    )
    frame = pd.concat([frame, zeros], ignore_index=True)
    frame["order_date"] = frame["order_date"].astype("datetime64[ns]")
    return frame


@pytest.mark.parametrize("freq", ["D", "W", "M"])
@pytest.mark.parametrize("as_of", [None, "2024-03-15"])
def test_lifetimes_convention_equals_an_independent_lifetimes_rewrite(
    zero_amount_transactions, freq, as_of
):
    lines = zero_amount_transactions
    assert (lines["amount"] == 0).sum() > 100
    expected = _lifetimes_reference(lines, freq, as_of)
    assert {"z1", "z2"} <= set(expected["customer_id"])
    got = rfm_summary(lines, convention="lifetimes", freq=freq, as_of=as_of)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# rfm_scores
# ---------------------------------------------------------------------------------------------


def test_scores_by_hand_with_ties():
    rfm = pd.DataFrame(
        {
            "recency": [10, 10, 1, 5, 20],
            "frequency": [1, 1, 1, 2, 3],
            "monetary": [50.0, 10.0, 40.0, 30.0, 20.0],
        }
    )
    got = rfm_scores(rfm)
    # score = 1 + floor(5 * (min-rank - 1) / 5); recency ranks descending.
    assert got["r_score"].tolist() == [2, 2, 5, 4, 1]
    assert got["f_score"].tolist() == [1, 1, 1, 4, 5]
    assert got["m_score"].tolist() == [5, 1, 4, 3, 2]
    assert got["r_score"].dtype == np.int64


def test_scores_fewer_values_than_bins():
    assert rfm_scores(pd.DataFrame({"recency": [3], "frequency": [1], "monetary": [1.0]}))[
        ["r_score", "f_score", "m_score"]
    ].iloc[0].tolist() == [1, 1, 1]
    two = rfm_scores(pd.DataFrame({"recency": [3, 9], "frequency": [1, 1], "monetary": [1, 2]}))
    assert two["r_score"].tolist() == [3, 1]  # 1 + floor(5 * 1 / 2) = 3
    assert two["f_score"].tolist() == [1, 1]  # all tied
    assert two["m_score"].tolist() == [1, 3]


def test_scores_missing_recency_scores_one(orders):
    scored = rfm_scores(rfm_summary(orders)).set_index("customer_id")
    assert scored.loc["C", "r_score"] == 1  # C never bought: recency is missing
    assert scored["r_score"].between(1, 5).all()


def test_scores_do_not_modify_input():
    rfm = pd.DataFrame({"recency": [3, 9], "frequency": [1, 2], "monetary": [1.0, 2.0]})
    before = rfm.copy()
    out = rfm_scores(rfm, bins=3)
    pd.testing.assert_frame_equal(rfm, before)
    assert "r_score" not in rfm.columns and out is not rfm


def test_scores_errors():
    rfm = pd.DataFrame({"recency": [3], "frequency": [1]})
    with pytest.raises(SchemaError, match="monetary"):
        rfm_scores(rfm)
    with pytest.raises(ValueError, match="bins"):
        rfm_scores(rfm.assign(monetary=1.0), bins=0)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.tuples(st.integers(0, 6), st.integers(1, 4), st.integers(-2, 8)), min_size=1, max_size=30
    ),
    bins=st.integers(1, 7),
    seed=st.integers(0, 2**32 - 1),
)
def test_scores_invariant_to_row_order(values, bins, seed):
    rfm = pd.DataFrame(values, columns=["recency", "frequency", "monetary"])
    scored = rfm_scores(rfm, bins=bins)
    order = np.random.default_rng(seed).permutation(len(rfm))
    shuffled = rfm_scores(rfm.iloc[order], bins=bins).sort_index()
    pd.testing.assert_frame_equal(scored, shuffled)
    for col, score, sign in (("recency", "r_score", -1), ("frequency", "f_score", 1)):
        assert scored[score].between(1, bins).all()
        # Equal values share a score; a better value never scores lower.
        ordered = scored.assign(key=sign * scored[col]).sort_values("key")
        assert ordered[score].is_monotonic_increasing
        assert (scored.groupby(col)[score].nunique() == 1).all()


# ---------------------------------------------------------------------------------------------
# rfm_segments
# ---------------------------------------------------------------------------------------------

CN8_CODES = ["111", "101", "011", "001", "110", "100", "010", "000"]


def _cn8_frame() -> pd.DataFrame:
    # Each bit is high for 4 of 8 customers: every mean is 5, and high means 1 for recency
    # (recent) and 9 for frequency and monetary.
    return pd.DataFrame(
        {
            "customer_id": CN8_CODES,
            "recency": [1 if c[0] == "1" else 9 for c in CN8_CODES],
            "frequency": [9 if c[1] == "1" else 1 for c in CN8_CODES],
            "monetary": [9.0 if c[2] == "1" else 1.0 for c in CN8_CODES],
        }
    )


def test_cn8_every_segment():
    got = rfm_segments(_cn8_frame())
    assert got["segment_code"].tolist() == CN8_CODES
    assert got["segment"].tolist() == [
        "重要价值客户",
        "重要发展客户",
        "重要保持客户",
        "重要挽留客户",
        "一般价值客户",
        "一般发展客户",
        "一般保持客户",
        "一般挽留客户",
    ]
    assert got.loc[0, "action"] == "专属服务与折扣，优先维护"
    assert got.loc[1, "action"] == "激活复购，推送新品"
    assert got.loc[2, "action"] == "主动联系，防止流失"
    assert got.loc[3, "action"] == "重点挽回，了解流失原因"
    english = rfm_segments(_cn8_frame(), lang="en")
    assert english["segment"].tolist()[:4] == [
        "Important value",
        "Important development",
        "Important retention",
        "Important win-back",
    ]
    assert english["action"].tolist() == [CN8_SEGMENTS[c]["action_en"] for c in CN8_CODES]


def test_cn8_value_equal_to_mean_is_low():
    rfm = pd.DataFrame(
        {"recency": [0, 5, 10], "frequency": [1, 2, 3], "monetary": [10.0, 20.0, 30.0]}
    )
    # Means 5, 2, 20: the middle customer sits on every mean and is low on all three.
    assert rfm_segments(rfm)["segment_code"].tolist() == ["100", "000", "011"]


def test_cn8_missing_recency_is_low(orders):
    segmented = rfm_segments(rfm_summary(orders)).set_index("customer_id")
    assert segmented.loc["C", "segment_code"].startswith("0")
    # Hand check of the fixture: recency mean (0+5+6+3)/4 = 3.5, frequency mean 5/5 = 1,
    # monetary mean (180+80-20+60+10)/5 = 62.
    assert segmented["segment_code"].to_dict() == {
        "A": "111",
        "B": "001",
        "C": "000",
        "D": "000",
        "E": "100",
    }


def test_cn8_custom_segments_and_errors():
    custom = {
        code: {"zh": f"类{code}", "en": f"class {code}", "action_zh": "无", "action_en": "none"}
        for code in CN8_CODES
    }
    got = rfm_segments(_cn8_frame(), segments=custom, lang="en")
    assert got["segment"].tolist() == [f"class {c}" for c in CN8_CODES]
    with pytest.raises(ValueError, match="missing"):
        rfm_segments(_cn8_frame(), segments={"111": custom["111"]})
    with pytest.raises(ValueError, match="lack keys"):
        rfm_segments(_cn8_frame(), segments={**custom, "000": {"zh": "x"}})
    with pytest.raises(ValueError, match="scheme must be one of"):
        rfm_segments(_cn8_frame(), scheme="rfm11")
    with pytest.raises(ValueError, match="lang must be one of"):
        rfm_segments(_cn8_frame(), lang="fr")


def test_segments_do_not_modify_input():
    rfm = _cn8_frame()
    before = rfm.copy()
    rfm_segments(rfm)
    rfm_segments(rfm, scheme="classic")
    pd.testing.assert_frame_equal(rfm, before)


# The published map, written independently of the module: the Miuul CRM-analytics ``seg_map``
# (regular expressions over the two-digit string "<r_score><f_score>").
PUBLISHED_SEG_MAP = {
    r"[1-2][1-2]": "hibernating",
    r"[1-2][3-4]": "at_risk",
    r"[1-2]5": "cant_lose",
    r"3[1-2]": "about_to_sleep",
    r"33": "need_attention",
    r"[3-4][4-5]": "loyal_customers",
    r"41": "promising",
    r"51": "new_customers",
    r"[4-5][2-3]": "potential_loyalists",
    r"5[4-5]": "champions",
}


def test_classic_covers_every_score_combination_once():
    grid = pd.DataFrame(
        [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)],
        columns=["r_score", "f_score", "m_score"],
    )
    got = rfm_segments(grid, scheme="classic")
    for row in got.itertuples():
        key = f"{row.r_score}{row.f_score}"
        matches = [
            name for pattern, name in PUBLISHED_SEG_MAP.items() if re.fullmatch(pattern, key)
        ]
        assert matches == [row.segment_code]
        rules = [
            name
            for name, rule in CLASSIC_SEGMENTS.items()
            if rule["r"][0] <= row.r_score <= rule["r"][1]
            and rule["f"][0] <= row.f_score <= rule["f"][1]
        ]
        assert rules == [row.segment_code]
    assert set(got["segment_code"]) == set(CLASSIC_SEGMENTS)
    labels = rfm_segments(grid.head(1), scheme="classic", lang="en")
    assert labels.loc[0, "segment"] == "Hibernating"
    assert rfm_segments(grid.head(1), scheme="classic").loc[0, "segment"] == "沉睡客户"


def test_classic_boundaries_by_hand():
    cases = {
        (5, 5): "Champions",
        (5, 4): "Champions",
        (4, 5): "Loyal Customers",
        (3, 4): "Loyal Customers",
        (5, 3): "Potential Loyalists",
        (4, 2): "Potential Loyalists",
        (5, 1): "New Customers",
        (4, 1): "Promising",
        (3, 3): "Need Attention",
        (3, 2): "About To Sleep",
        (3, 1): "About To Sleep",
        (2, 4): "At Risk",
        (1, 3): "At Risk",
        (2, 5): "Can't Lose Them",
        (1, 5): "Can't Lose Them",
        (2, 2): "Hibernating",
        (1, 1): "Hibernating",
    }
    frame = pd.DataFrame(list(cases), columns=["r_score", "f_score"])
    got = rfm_segments(frame, scheme="classic", lang="en")
    assert got["segment"].tolist() == list(cases.values())


def test_classic_computes_scores_when_absent():
    rfm = pd.DataFrame(
        {
            "recency": [1, 2, 3, 4, 5],
            "frequency": [5, 4, 3, 2, 1],
            "monetary": [5.0, 4.0, 3.0, 2.0, 1.0],
        }
    )
    got = rfm_segments(rfm, scheme="classic", lang="en")
    assert got["r_score"].tolist() == [5, 4, 3, 2, 1]
    assert got["f_score"].tolist() == [5, 4, 3, 2, 1]
    assert got["segment"].tolist() == [
        "Champions",
        "Loyal Customers",
        "Need Attention",
        "Hibernating",
        "Hibernating",
    ]


def test_classic_rejects_bad_scores_and_bad_maps():
    with pytest.raises(ValueError, match="1 to 5"):
        rfm_segments(pd.DataFrame({"r_score": [6], "f_score": [1]}), scheme="classic")
    overlapping = {**CLASSIC_SEGMENTS, "extra": {**CLASSIC_SEGMENTS["champions"]}}
    with pytest.raises(ValueError, match="overlap"):
        rfm_segments(
            pd.DataFrame({"r_score": [1], "f_score": [1]}), scheme="classic", segments=overlapping
        )
    holes = {k: v for k, v in CLASSIC_SEGMENTS.items() if k != "promising"}
    with pytest.raises(ValueError, match=r"uncovered: \[\(4, 1\)\]"):
        rfm_segments(
            pd.DataFrame({"r_score": [1], "f_score": [1]}), scheme="classic", segments=holes
        )


# ---------------------------------------------------------------------------------------------
# segment_table
# ---------------------------------------------------------------------------------------------


def test_segment_table_by_hand():
    segmented = pd.DataFrame(
        {
            "segment": ["x", "y", "x", "z", "y"],
            "recency": [1, 10, 3, 7, 20],
            "frequency": [4, 1, 2, 1, 3],
            "monetary": [300.0, 50.0, 100.0, 450.0, 100.0],
        }
    )
    before = segmented.copy()
    got = segment_table(segmented)
    expected = pd.DataFrame(
        {
            "segment": ["z", "x", "y"],
            "customers": [1, 2, 2],
            "customer_share": [0.2, 0.4, 0.4],
            "revenue": [450.0, 400.0, 150.0],
            "revenue_share": [0.45, 0.40, 0.15],
            "mean_recency": [7.0, 2.0, 15.0],
            "mean_frequency": [1.0, 3.0, 2.0],
            "mean_monetary": [450.0, 200.0, 75.0],
        }
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    pd.testing.assert_frame_equal(segmented, before)


def test_pipeline_on_generated_data(generated_orders):
    summary = rfm_summary(generated_orders)
    for scheme in ("cn8", "classic"):
        segmented = rfm_segments(rfm_scores(summary), scheme=scheme)
        table = segment_table(segmented)
        assert table["customers"].sum() == len(summary)
        assert table["revenue"].sum() == pytest.approx(summary["monetary"].sum())
        assert table["revenue_share"].sum() == pytest.approx(1.0)
        assert table["revenue"].is_monotonic_decreasing
