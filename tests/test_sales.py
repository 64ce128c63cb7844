"""Tests for analysis_kit.sales: hand-computed answers on tiny frames, engines, cross-checks."""

from __future__ import annotations

import math
from fractions import Fraction

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from analysis_kit.cleaning import clean_table
from analysis_kit.datasets import make_tables
from analysis_kit.errors import ParameterError, SchemaError
from analysis_kit.sales import (
    PRODUCT_CLASSES,
    PRODUCT_REASONS,
    decompose_target,
    product_mix,
    sales_trend,
    team_performance,
)

NaN = np.nan


def _ts(values):
    return pd.to_datetime(pd.Series(values), format="ISO8601").astype("datetime64[ns]")


def _orders(rows, columns=("order_id", "customer_id", "order_date", "amount")) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["order_date"] = _ts(frame["order_date"])
    return frame


@pytest.fixture(scope="module")
def generated_orders() -> pd.DataFrame:
    tables = make_tables(n_customers=60, messy=True, random_state=3)
    return clean_table(tables["orders"], table="orders").clean


@pytest.fixture(scope="module")
def generated_tables() -> dict[str, pd.DataFrame]:
    tables = make_tables(n_customers=60, messy=True, random_state=3)
    return {
        name: clean_table(tables[name], table=name).clean
        for name in ("orders", "targets", "stages")
    }


# ---------------------------------------------------------------------------------------------
# sales_trend
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def monthly() -> pd.DataFrame:
    """January 100 + 50 (two customers), no February, March 120 + 60 (one customer, two orders).

    April: o5 bought for 80 and refunded in the same month (same id, -80): no order, revenue 0 for
    it; o6 sells 40. May: a refund with its own id (-30) and nothing else: revenue -30, 0 orders.
    June: 90.
    """
    return _orders(
        [
            ("o1", "x", "2024-01-05", 100.0),
            ("o2", "y", "2024-01-20 15:00", 50.0),
            ("o3", "x", "2024-03-02", 120.0),
            ("o4", "x", "2024-03-09", 60.0),
            ("o5", "y", "2024-04-03", 80.0),
            ("o5", "y", "2024-04-10", -80.0),
            ("o6", "z", "2024-04-11", 40.0),
            ("o6-R", "z", "2024-05-02", -30.0),
            ("o7", "x", "2024-06-30", 90.0),
        ]
    )


def test_trend_by_hand_with_missing_month_and_refunds(monthly):
    got = sales_trend(monthly).trend
    assert got["label"].tolist() == [f"2024-0{m}" for m in range(1, 7)]
    assert got["period"].tolist() == list(pd.date_range("2024-01-01", periods=6, freq="MS"))
    assert got["revenue"].tolist() == [150.0, 0.0, 180.0, 40.0, -30.0, 90.0]
    assert got["orders"].tolist() == [2, 0, 2, 1, 0, 1]
    assert got["customers"].tolist() == [2, 0, 1, 1, 0, 1]
    np.testing.assert_allclose(got["aov"], [75.0, NaN, 90.0, 40.0, NaN, 90.0])
    # Feb vs Jan: -100 %; Mar vs an empty Feb: NaN, not inf; Apr 40/180 - 1; May -30/40 - 1;
    # Jun vs a month of net refunds: NaN.
    np.testing.assert_allclose(got["pop_growth"], [NaN, -1.0, NaN, 40 / 180 - 1, -30 / 40 - 1, NaN])
    assert got["yoy_growth"].isna().all()
    assert not np.isinf(got[["pop_growth", "yoy_growth", "aov"]].to_numpy()).any()
    assert got["complete"].all()  # the latest order is on June 30


def test_trend_year_over_year_and_quarters():
    # 2023: Jan 100, Apr 50, Jul 0 (a line of 0), Oct 10. 2024: Jan 130, Apr 50, May 25.
    frame = _orders(
        [
            ("a", "c1", "2023-01-10", 100.0),
            ("b", "c1", "2023-04-10", 50.0),
            ("c", "c2", "2023-07-10", 0.0),
            ("d", "c2", "2023-10-10", 10.0),
            ("e", "c1", "2024-01-10", 130.0),
            ("f", "c2", "2024-04-10", 50.0),
            ("g", "c2", "2024-05-10", 25.0),
        ]
    )
    months = sales_trend(frame).trend.set_index("label")
    assert len(months) == 17  # 2023-01 .. 2024-05, every month
    assert months.loc["2024-01", "yoy_growth"] == pytest.approx(0.3)
    assert months.loc["2024-04", "yoy_growth"] == pytest.approx(0.0)
    assert pd.isna(months.loc["2024-02", "yoy_growth"])  # Feb 2023 had no revenue
    assert months.loc["2024-05", "complete"] == np.False_  # the latest order is May 10
    quarters = sales_trend(frame, freq="QS").trend.set_index("label")
    assert quarters.index.tolist() == ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1", "2024Q2"]
    assert quarters["revenue"].tolist() == [100.0, 50.0, 0.0, 10.0, 130.0, 75.0]
    assert quarters["orders"].tolist() == [1, 1, 0, 1, 1, 2]  # a zero line is no order
    assert quarters.loc["2024Q1", "pop_growth"] == pytest.approx(12.0)  # QoQ 130 / 10 - 1
    assert quarters.loc["2024Q2", "yoy_growth"] == pytest.approx(0.5)  # 75 / 50 - 1
    assert pd.isna(quarters.loc["2023Q4", "pop_growth"])  # from a zero quarter
    years = sales_trend(frame, freq="YS").trend
    assert years["label"].tolist() == ["2023", "2024"]
    assert years["pop_growth"].tolist()[1] == pytest.approx(205 / 160 - 1)
    assert years["yoy_growth"].tolist()[1] == pytest.approx(205 / 160 - 1)


def test_trend_orders_without_order_id_and_lines_without_customer():
    frame = _orders(
        [
            (None, "x", "2024-01-05 09:00", 10.0),
            (None, "x", "2024-01-05 17:00", 5.0),  # same customer and day: one order
            (None, "x", "2024-01-06", 5.0),
            ("o9", None, "2024-01-07", 20.0),  # no customer: revenue and an order only
        ]
    )
    got = sales_trend(frame).trend.iloc[0]
    assert (got["revenue"], got["orders"], got["customers"]) == (40.0, 3, 1)
    no_ids = sales_trend(frame.drop(columns=["order_id", "customer_id"])).trend.iloc[0]
    assert no_ids["orders"] == 3  # one order per day: Jan 5 (two lines), Jan 6, Jan 7
    assert pd.isna(no_ids["customers"])


def test_trend_by_group_fills_every_period(monthly):
    frame = monthly.assign(team=["e", "w", "e", "e", "w", "w", None, None, "e"])
    got = sales_trend(frame, by="team").trend
    assert got.groupby("team", dropna=False).size().tolist() == [6, 6, 6]
    east = got[got["team"] == "e"].set_index("label")
    assert east["revenue"].tolist() == [100.0, 0.0, 180.0, 0.0, 0.0, 90.0]
    assert pd.isna(east.loc["2024-06", "pop_growth"])
    missing = got[got["team"].isna()]
    assert missing["revenue"].tolist() == [0.0, 0.0, 0.0, 40.0, -30.0, 0.0]
    # The groups add up to the overall trend.
    total = got.groupby("label")[["revenue", "orders"]].sum()
    overall = sales_trend(monthly).trend.set_index("label")
    pd.testing.assert_frame_equal(total, overall[["revenue", "orders"]], check_dtype=False)


def test_trend_as_of_cuts_and_extends(monthly):
    cut = sales_trend(monthly, as_of="2024-03-05").trend
    assert cut["revenue"].tolist() == [150.0, 0.0, 120.0]
    assert cut["complete"].tolist() == [True, True, False]
    longer = sales_trend(monthly, as_of="2024-08-31").trend
    assert longer["label"].tolist()[-2:] == ["2024-07", "2024-08"]
    assert longer["revenue"].tolist()[-2:] == [0.0, 0.0]
    assert longer["pop_growth"].tolist()[-2] == -1.0


def _two_years() -> pd.DataFrame:
    """2022 and 2023 complete, month m sells 10 * m in 2022 and 30 * m in 2023; 2021-12 and
    2024-01 are partial years that must not count."""
    rows = [(f"a{m}", "c", f"2022-{m:02d}-15", 10.0 * m) for m in range(1, 13)]
    rows += [(f"b{m}", "c", f"2023-{m:02d}-15", 30.0 * m) for m in range(1, 13)]
    rows += [("z0", "c", "2021-12-15", 10_000.0), ("z1", "c", "2024-01-15", 10_000.0)]
    return _orders(rows)


def test_seasonality_over_complete_years_by_hand():
    result = sales_trend(_two_years(), as_of="2024-01-20")
    assert result.years == (2022, 2023)
    season = result.seasonality.set_index("month")
    # Mean of month m over the two years: 20 m; mean of all 24 months: 20 * 6.5 = 130.
    np.testing.assert_allclose(season["revenue_mean"], [20.0 * m for m in range(1, 13)])
    np.testing.assert_allclose(season["seasonality_index"], [m / 6.5 for m in range(1, 13)])
    assert result.peak_months == [8, 9, 10, 11, 12]  # index >= 1.2: m >= 7.8
    assert result.slack_months == [1, 2, 3, 4, 5]  # index <= 0.8: m <= 5.2
    assert season.loc[7, "season"] == "normal"
    top = result.highlights.iloc[0]
    assert (top["peak_month"], top["slack_month"]) == (12, 1)
    wide = sales_trend(_two_years(), as_of="2024-01-20", season_rules={"peak": 1.8})
    assert wide.peak_months == [12]


def test_seasonality_year_completeness_depends_on_as_of():
    frame = _two_years()
    # As of Dec 30 2023 the last December has not ended: only 2022 is complete.
    assert sales_trend(frame[frame["order_date"] < "2024-01-01"], as_of="2023-12-30").years == (
        2022,
    )
    assert sales_trend(frame[frame["order_date"] < "2024-01-01"], as_of="2023-12-31").years == (
        2022,
        2023,
    )


def test_seasonality_without_a_complete_year_is_missing(monthly):
    result = sales_trend(monthly)
    assert result.years == ()
    assert len(result.seasonality) == 12
    assert result.seasonality["seasonality_index"].isna().all()
    assert result.peak_months == [] and result.slack_months == []
    assert pd.isna(result.highlights.loc[0, "peak_month"])


def test_seasonality_ties_pick_the_earliest_month():
    rows = [(f"a{m}", "c", f"2023-{m:02d}-01", 50.0 if m in (3, 9) else 10.0) for m in range(1, 13)]
    result = sales_trend(_orders(rows), as_of="2023-12-31")
    assert result.highlights.loc[0, "peak_month"] == 3
    assert result.highlights.loc[0, "slack_month"] == 1


def test_trend_matches_plain_pandas_resample(generated_orders):
    trend = sales_trend(generated_orders).trend.set_index("period")
    lines = generated_orders.dropna(subset=["order_date"])
    resampled = lines.set_index("order_date")["amount"].resample("MS").sum()
    np.testing.assert_allclose(trend["revenue"], resampled.reindex(trend.index, fill_value=0.0))
    # Orders and customers by a plain loop over the rows: net amount per (month, order id).
    net: dict[tuple, float] = {}
    who: dict[tuple, object] = {}
    for row in lines.itertuples(index=False):
        key = (pd.Timestamp(row.order_date).to_period("M"), row.order_id)
        net[key] = net.get(key, 0.0) + (0.0 if pd.isna(row.amount) else row.amount)
        who[key] = row.customer_id
    orders: dict[pd.Period, int] = {}
    buyers: dict[pd.Period, set] = {}
    for (month, order), value in net.items():
        if value > 0:
            orders[month] = orders.get(month, 0) + 1
            buyers.setdefault(month, set()).add(who[month, order])
    months = trend.index.to_period("M")
    assert trend["orders"].tolist() == [orders.get(m, 0) for m in months]
    assert trend["customers"].tolist() == [len(buyers.get(m, ())) for m in months]
    assert (lines["amount"] < 0).any()  # the sample has refunds, so netting was exercised


def test_trend_quarters_match_pandas_groupby(generated_orders):
    trend = sales_trend(generated_orders, freq="QS", by="team").trend
    lines = generated_orders.dropna(subset=["order_date"])
    quarter = lines["order_date"].dt.to_period("Q").astype(str)
    expected = lines.groupby(["team", quarter])["amount"].sum()
    got = trend.set_index(["team", "label"])["revenue"]
    np.testing.assert_allclose(got.reindex(expected.index), expected)
    assert got.drop(expected.index).eq(0).all()


BACKENDS = {
    "polars": pl.from_pandas,
    "polars_lazy": lambda df: pl.from_pandas(df).lazy(),
    "duckdb": duckdb.from_df,
}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize(
    "options", [{}, {"freq": "QS"}, {"by": "team"}, {"freq": "YS", "by": ["team", "product"]}]
)
def test_engines_agree(generated_orders, backend, options):
    frame = generated_orders.drop(columns=["source_row"])
    expected = sales_trend(frame, **options)
    got = sales_trend(BACKENDS[backend](frame), **options)
    assert len(expected.trend) > 10
    pd.testing.assert_frame_equal(got.trend, expected.trend, check_dtype=False)
    pd.testing.assert_frame_equal(got.seasonality, expected.seasonality, check_dtype=False)
    assert got.years == expected.years


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_engines_agree_on_hand_frame(monthly, backend):
    frame = monthly.assign(team=["e", "w", "e", "e", "w", "w", None, None, "e"])
    expected = sales_trend(frame, by="team", as_of="2024-07-15").trend
    got = sales_trend(BACKENDS[backend](frame), by="team", as_of="2024-07-15").trend
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_trend_accepts_date_dtype():
    frame = pl.DataFrame(
        {
            "order_id": ["a", "b"],
            "customer_id": ["x", "x"],
            "order_date": [pd.Timestamp("2024-01-03").date(), pd.Timestamp("2024-02-03").date()],
            "amount": [10.0, 30.0],
        }
    )
    assert sales_trend(frame).trend["pop_growth"].tolist()[1] == pytest.approx(2.0)


def test_trend_does_not_modify_input(monthly):
    before = monthly.copy()
    sales_trend(monthly, by="customer_id", freq="QS", as_of="2024-12-31")
    pd.testing.assert_frame_equal(monthly, before)


def test_trend_errors(monthly):
    with pytest.raises(ValueError, match=r"freq must be one of \['MS', 'QS', 'YS'\]; got 'M'"):
        sales_trend(monthly, freq="M")
    with pytest.raises(SchemaError, match=r"order_date \(成交日期\), team \(销售团队\)"):
        sales_trend(monthly.drop(columns="order_date"), by="team")
    with pytest.raises(TypeError, match="datetimes or dates"):
        sales_trend(monthly.assign(order_date=monthly["order_date"].astype(str)))
    with pytest.raises(ValueError, match="season_rules keys"):
        sales_trend(monthly, season_rules={"high": 2})
    with pytest.raises(ValueError, match="slack must be <= peak"):
        sales_trend(monthly, season_rules={"slack": 1.5})
    with pytest.raises(ValueError, match="by must be a column name"):
        sales_trend(monthly, by=3)
    with pytest.raises(ValueError, match="as_of must be a date"):
        sales_trend(monthly, as_of="soon")


def test_trend_empty_input():
    empty = _orders([], columns=("order_id", "customer_id", "order_date", "amount"))
    empty["amount"] = empty["amount"].astype("float64")
    result = sales_trend(empty)
    assert len(result.trend) == 0
    assert {"revenue", "pop_growth", "yoy_growth"} <= set(result.trend.columns)
    assert result.seasonality["seasonality_index"].isna().all()


# ---------------------------------------------------------------------------------------------
# The as-of day and money in cents (every analysis)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def late_day() -> pd.DataFrame:
    """As of June 30: o1 on June 1, o2 at 09:15 and o3 at 23:59 on June 30, o4 at midnight on
    July 1, after the as-of day."""
    frame = _orders(
        [
            ("o1", "x", "2024-06-01 00:00", 100.0),
            ("o2", "x", "2024-06-30 09:15", 10.0),
            ("o3", "y", "2024-06-30 23:59", 1.0),
            ("o4", "y", "2024-07-01 00:00", 1000.0),
        ]
    )
    return frame.assign(product=["p", "q", "q", "p"], team="east")


def test_every_order_on_the_as_of_day_counts(late_day):
    trend = sales_trend(late_day, as_of="2024-06-30").trend
    assert trend[["label", "revenue", "orders", "customers"]].values.tolist() == [
        ["2024-06", 111.0, 3, 2]
    ]
    mix = product_mix(late_day, as_of="2024-06-30").set_index("product")
    assert mix["revenue"].to_dict() == {"p": 100.0, "q": 11.0}
    team = team_performance(late_day, period="2024-06", as_of="2024-06-30")
    assert team[["revenue", "orders"]].values.tolist() == [[111.0, 3]]


# A zoned as-of is read on its own wall clock: 23:00 in New York on June 30 is June 30 (July 1 in
# UTC) and 02:00 in Shanghai on July 1 is July 1 (June 30 in UTC).
ZONED_AS_OF = [("2024-06-30T23:00-05:00", "2024-06-30"), ("2024-07-01T02:00+08:00", "2024-07-01")]


@pytest.mark.parametrize(("as_of", "day"), ZONED_AS_OF)
def test_zoned_as_of_is_its_local_day(late_day, as_of, day):
    got, expected = sales_trend(late_day, as_of=as_of), sales_trend(late_day, as_of=day)
    pd.testing.assert_frame_equal(got.trend, expected.trend)
    assert got.as_of == pd.Timestamp(day)
    pd.testing.assert_frame_equal(
        product_mix(late_day, as_of=as_of), product_mix(late_day, as_of=day)
    )
    pd.testing.assert_frame_equal(
        team_performance(late_day, period="2024Q3", as_of=as_of),
        team_performance(late_day, period="2024Q3", as_of=day),
    )
    july = 1000.0 if day == "2024-07-01" else 0.0
    assert product_mix(late_day, as_of=as_of).set_index("product").loc["p", "revenue"] == (
        100.0 + july
    )


def test_bad_as_of_names_the_parameter_and_the_value(late_day):
    message = r"as_of must be a date .*got 'mid-June'"
    with pytest.raises(ParameterError, match=message):
        sales_trend(late_day, as_of="mid-June")
    with pytest.raises(ParameterError, match=message):
        product_mix(late_day, as_of="mid-June")
    with pytest.raises(ParameterError, match=message):
        team_performance(late_day, as_of="mid-June")


@pytest.mark.parametrize("backend", ["pandas", *BACKENDS])
def test_an_order_refunded_to_float_noise_is_no_order(backend):
    # o1 nets to 1.10 + 2.20 - 3.30 = +4.4e-16 and o2 to -17.80 + 16.95 + 0.85 = -1.4e-15:
    # both are fully refunded, so June has one order (o3) and one buying customer.
    assert 1.10 + 2.20 - 3.30 > 0
    frame = _orders(
        [
            ("o1", "x", "2024-06-03 09:00", 1.10),
            ("o1", "x", "2024-06-03 10:00", 2.20),
            ("o1", "x", "2024-06-04 09:00", -3.30),
            ("o2", "x", "2024-06-05 09:00", -17.80),
            ("o2", "x", "2024-06-05 10:00", 16.95),
            ("o2", "x", "2024-06-05 11:00", 0.85),
            ("o3", "y", "2024-06-07 00:00", 5.0),
        ]
    )
    convert = BACKENDS.get(backend, lambda df: df)
    trend = sales_trend(convert(frame)).trend
    assert trend[["orders", "customers"]].values.tolist() == [[1, 1]]
    assert trend["revenue"].tolist() == [pytest.approx(5.0)]
    assert trend["aov"].tolist() == [pytest.approx(5.0)]
    if backend == "pandas":
        team = team_performance(frame.assign(team="east"), period="2024-06")
        assert team[["orders", "customers"]].values.tolist() == [[1, 1]]


# ---------------------------------------------------------------------------------------------
# product_mix
# ---------------------------------------------------------------------------------------------


def _lines(revenue: dict[str, float], **extra) -> pd.DataFrame:
    frame = pd.DataFrame({"product": list(revenue), "amount": list(revenue.values())})
    return frame.assign(**extra)


def test_abc_boundary_product_that_crosses_is_a():
    # Running totals 50, 75 (crosses 80 % at c), 85, ... c is A; the next product is B.
    mix = product_mix(_lines({"a": 50, "b": 25, "c": 10, "d": 6, "e": 5, "f": 4}))
    assert mix["product"].tolist() == list("abcdef")
    # Shares before each product: a 0, b .50, c .75 (< .80: A), d .85 and e .91 (< .95: B),
    # f .96 (C).
    assert mix["abc"].tolist() == ["A", "A", "A", "B", "B", "C"]
    np.testing.assert_allclose(mix["cumulative_share"], [0.5, 0.75, 0.85, 0.91, 0.96, 1.0])


def test_abc_rule_by_hand_with_exact_boundaries():
    # before: a 0, b 0.6, c 0.8 (exactly A's limit -> B), d 0.9; e ties with d, so it starts
    # at 0.9 too (the share of strictly larger products) and is B like d.
    mix = product_mix(_lines({"a": 60, "b": 20, "c": 10, "d": 5, "e": 5}))
    assert dict(zip(mix["product"], mix["abc"], strict=True)) == {
        "a": "A",
        "b": "A",
        "c": "B",
        "d": "B",
        "e": "B",
    }
    # With B ending at 0.9, d and e (before = 0.9) are both C.
    mix = product_mix(_lines({"a": 60, "b": 20, "c": 10, "d": 5, "e": 5}), abc=(0.8, 0.1, 0.1))
    assert mix.set_index("product")["abc"].to_dict() == {
        "a": "A",
        "b": "A",
        "c": "B",
        "d": "C",
        "e": "C",
    }


def test_abc_ties_share_a_class_across_the_boundary():
    # x and y tie at 30: before = 0.4 for both, so both are A although y's running total is 1.0.
    mix = product_mix(_lines({"y": 30, "x": 30, "w": 40}), abc=(0.5, 0.3, 0.2))
    assert mix["product"].tolist() == ["w", "x", "y"]  # ties by name
    assert mix["abc"].tolist() == ["A", "A", "A"]
    assert mix["rank"].tolist() == [1, 2, 2]
    flipped = product_mix(_lines({"x": 30, "y": 30, "w": 40}), abc=(0.5, 0.3, 0.2))
    pd.testing.assert_frame_equal(flipped, mix)


def test_abc_matches_an_independent_loop(generated_orders):
    mix = product_mix(generated_orders)
    totals: dict[str, float] = {}
    for row in generated_orders.itertuples(index=False):
        if isinstance(row.product, str):
            totals[row.product] = totals.get(row.product, 0.0) + row.amount
    positive = sum(v for v in totals.values() if v > 0)
    expected = {}
    for name, value in totals.items():
        larger = sum(v for v in totals.values() if v > value and v > 0)
        share = larger / positive
        expected[name] = (
            "C"
            if value <= 0
            else "A"
            if share < 0.8 - 1e-12
            else "B"
            if share < 0.95 - 1e-12
            else "C"
        )
    assert mix.set_index("product")["abc"].to_dict() == expected
    assert mix.set_index("product")["revenue"].to_dict() == pytest.approx(totals)


def test_mix_margins_shares_and_top():
    lines = pd.DataFrame(
        {
            "product": ["p", "p", "q", "r", "s", "s", None],
            "amount": [100.0, 100.0, 100.0, 50.0, 40.0, -10.0, 999.0],
            "quantity": [1.0, 1.0, 4.0, 5.0, 2.0, -1.0, 1.0],
            "cost": [60.0, NaN, 0.0, NaN, 50.0, -12.5, 1.0],
            "gross_margin": [NaN, 90.0, NaN, NaN, NaN, NaN, NaN],
        }
    )
    mix = product_mix(lines, top_n=1).set_index("product")
    # The line without a product is left out. p: margins 40 (from cost) and 90 (given).
    assert mix.loc["p", "gross_margin"] == 130.0
    assert mix.loc["p", "margin_rate"] == pytest.approx(0.65)
    assert mix.loc["q", "margin_rate"] == 1.0  # zero cost: the whole amount is margin
    assert pd.isna(mix.loc["r", "gross_margin"]) and pd.isna(mix.loc["r", "margin_rate"])
    assert mix.loc["s", "gross_margin"] == pytest.approx(-7.5)  # -10, and +2.5 on the refund
    assert mix.loc["s", "revenue"] == 30.0 and mix.loc["s", "quantity"] == 1.0
    np.testing.assert_allclose(mix["revenue_share"], [200 / 380, 100 / 380, 50 / 380, 30 / 380])
    np.testing.assert_allclose(mix["quantity_share"], [2 / 12, 4 / 12, 5 / 12, 1 / 12])
    assert mix["top"].tolist() == [True, False, False, False]
    tied = product_mix(_lines({"a": 5, "b": 5, "c": 1}), top_n=1)
    assert tied["top"].tolist() == [True, True, False]  # ties at the boundary are all in


def test_mix_zero_revenue_and_refund_only_products_are_c():
    mix = product_mix(_lines({"a": 10.0, "z": 0.0, "r": -5.0}))
    assert mix.set_index("product")["abc"].to_dict() == {"a": "A", "z": "C", "r": "C"}
    assert mix.set_index("product")["revenue_share"].to_dict() == {"a": 1.0, "z": 0.0, "r": -0.5}


def test_stars_and_problems_by_rule():
    # Overall margin rate: (60 + 30 + 1 - 5) / (100 + 60 + 20 + 20) = 86 / 200 = 0.43.
    lines = pd.DataFrame(
        {
            "product": ["star", "big_low", "small_hi", "loss"],
            "amount": [100.0, 60.0, 20.0, 20.0],
            "gross_margin": [60.0, 30.0, 1.0, -5.0],  # small_hi: 5 %, below 0.5 x 0.43
        }
    )
    mix = product_mix(lines, lang="en").set_index("product")
    assert mix["star"].to_dict() == {
        "star": True,
        "big_low": True,
        "small_hi": False,
        "loss": False,
    }
    assert mix["problem"].to_dict() == {
        "star": False,
        "big_low": False,
        "small_hi": True,
        "loss": True,
    }
    assert mix.loc["loss", "reason"] == PRODUCT_REASONS["negative_margin"]["en"]
    assert mix.loc["small_hi", "reason"] == PRODUCT_REASONS["low_margin"]["en"]
    assert mix.loc["star", "reason"] == ""
    stricter = product_mix(lines, rules={"star_min_margin_ratio": 1.3}).set_index("product")
    assert stricter["star"].sum() == 1  # 0.6 >= 1.3 x 0.43 = 0.559; big_low 0.5 is not


def test_declining_products_use_windows_before_as_of():
    rows = [
        ("p", "2023-08-15", 100.0),  # previous window (2023-07-01 .. 2023-12-31)
        ("p", "2024-02-15", 60.0),  # recent window (2024-01-01 .. 2024-06-30): -40 %
        ("q", "2023-09-15", 100.0),
        ("q", "2024-03-15", 80.0),  # -20 %: not a problem at 30 %
        ("n", "2024-03-15", 80.0),  # new: no previous revenue
        ("p", "2024-07-15", 999.0),  # after as_of: left out
    ]
    frame = pd.DataFrame(rows, columns=["product", "order_date", "amount"])
    frame["order_date"] = _ts(frame["order_date"])
    mix = product_mix(frame, as_of="2024-06-30", lang="en").set_index("product")
    assert mix.loc["p", "revenue"] == 160.0
    assert mix.loc["p", "revenue_change"] == pytest.approx(-0.4)
    assert mix.loc["q", "revenue_change"] == pytest.approx(-0.2)
    assert pd.isna(mix.loc["n", "revenue_change"])
    assert mix["problem"].to_dict() == {"p": True, "q": False, "n": False}
    # all products: 200 before, 220 recently (+10 %); p fell 0.6 / 1.1 - 1 = 45.5 % beyond that
    assert mix.loc["p", "change_vs_all"] == pytest.approx(0.6 / 1.1 - 1)
    assert mix.loc["q", "change_vs_all"] == pytest.approx(0.8 / 1.1 - 1)  # -27.3 %
    assert mix.loc["p", "reason"] == PRODUCT_REASONS["declining"]["en"]
    looser = product_mix(frame, as_of="2024-06-30", rules={"problem_min_decline": 0.2})
    assert looser["problem"].sum() == 2


def test_products_falling_with_the_whole_business_are_not_problems():
    # every product loses 40 % in the recent window (a slack half-year): none is a problem
    rows = []
    for product, amount in (("a", 700.0), ("b", 220.0), ("c", 80.0)):
        rows += [(product, "2023-08-15", amount, amount * 0.4)]
        rows += [(product, "2024-02-15", amount * 0.6, amount * 0.6 * 0.4)]
    frame = pd.DataFrame(rows, columns=["product", "order_date", "amount", "cost"])
    frame["order_date"] = _ts(frame["order_date"])
    mix = product_mix(frame, as_of="2024-06-30").set_index("product")
    assert mix["revenue_change"].tolist() == pytest.approx([-0.4] * 3)
    assert mix["change_vs_all"].tolist() == pytest.approx([0.0] * 3, abs=1e-12)
    assert not mix["problem"].any()
    # a and b hold at least 10 % of revenue at the common margin: stars; c is regular
    assert mix["product_class"].to_dict() == {"a": "star", "b": "star", "c": "regular"}


def test_a_product_has_one_class():
    # a big, high-margin product collapsing while the rest holds: a problem, not also a star
    rows = [
        ("big", "2023-08-15", 1000.0, 300.0),
        ("big", "2024-02-15", 100.0, 30.0),
        ("steady", "2023-08-15", 500.0, 300.0),
        ("steady", "2024-02-15", 500.0, 300.0),
    ]
    frame = pd.DataFrame(rows, columns=["product", "order_date", "amount", "cost"])
    frame["order_date"] = _ts(frame["order_date"])
    mix = product_mix(frame, as_of="2024-06-30").set_index("product")
    assert mix.loc["big", "problem"] and not mix.loc["big", "star"]
    assert mix.loc["big", "product_class"] == "problem"
    assert not (mix["star"] & mix["problem"]).any()
    assert set(mix["product_class"]) <= set(PRODUCT_CLASSES)


def test_mix_does_not_modify_input_and_accepts_polars(generated_orders):
    before = generated_orders.copy()
    expected = product_mix(generated_orders)
    pd.testing.assert_frame_equal(generated_orders, before)
    got = product_mix(pl.from_pandas(generated_orders.drop(columns=["source_row"])))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_mix_errors():
    lines = _lines({"a": 1.0})
    for bad in [(0.8, 0.1), (0.8, 0.15, 0.1), (0.9, -0.1, 0.2), "abc"]:
        with pytest.raises(ValueError, match="abc must be three shares"):
            product_mix(lines, abc=bad)
    with pytest.raises(ValueError, match="top_n must be an integer >= 0; got -1"):
        product_mix(lines, top_n=-1)
    with pytest.raises(ValueError, match="rules keys"):
        product_mix(lines, rules={"stars": 1})
    with pytest.raises(ValueError, match=r"lang must be one of \['zh', 'en'\]"):
        product_mix(lines, lang="fr")
    with pytest.raises(SchemaError, match=r"amount \(成交金额\)"):
        product_mix(lines.drop(columns="amount"))
    with pytest.raises(SchemaError, match="order_date"):
        product_mix(lines, as_of="2024-01-01")


# ---------------------------------------------------------------------------------------------
# team_performance
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def team_orders() -> pd.DataFrame:
    """Q2 2024 (as of June 30). Customer c1 first bought in 2023, so it is not new in Q2.

    east/ann: o1 100 (paid 100) and o2 60 (paid missing) for c1; o3 40 for new customer c2
    (paid 10). east/bob: o4 50 (paid 50) for new customer c3, o4 refunded -50 in May (same id).
    west/cat: o5 200 (paid 100) for new customer c4. north/dan: only a 2023 order.
    """
    rows = [
        ("o0", "c1", "2023-11-01", 80.0, 80.0, "east", "ann"),
        ("o9", "c9", "2023-12-01", 70.0, 70.0, "north", "dan"),
        ("o1", "c1", "2024-04-02", 100.0, 100.0, "east", "ann"),
        ("o2", "c1", "2024-05-02", 60.0, NaN, "east", "ann"),
        ("o3", "c2", "2024-06-02", 40.0, 10.0, "east", "ann"),
        ("o4", "c3", "2024-04-20", 50.0, 50.0, "east", "bob"),
        ("o4", "c3", "2024-05-20", -50.0, -50.0, "east", "bob"),
        ("o5", "c4", "2024-06-30", 200.0, 100.0, "west", "cat"),
    ]
    columns = ["order_id", "customer_id", "order_date", "amount", "paid_amount", "team", "owner"]
    return _orders(rows, columns=columns)


@pytest.fixture
def targets() -> pd.DataFrame:
    """Owner targets for Q2 (monthly for bob), a team-level row for west, none for north."""
    rows = [
        ("ann", "east", "2024Q2", 250.0),
        ("bob", "east", "2024-04", 20.0),
        ("bob", "east", "2024-05", 20.0),
        ("bob", "east", "2024-06", 20.0),
        ("bob", "east", "2024-07", 999.0),  # Q3: outside
        ("cat", "west", "2024Q2", 150.0),
        (None, "west", "2024Q2", 160.0),  # west's own target wins over cat's
        ("ann", "east", "2024Q1", 999.0),
    ]
    return pd.DataFrame(rows, columns=["owner", "team", "period", "target"])


def test_team_performance_by_hand(team_orders, targets):
    got = team_performance(team_orders, targets=targets, period="2024Q2").set_index("team")
    # By attainment. north has neither sales nor a target in Q2: no row.
    assert got.index.tolist() == ["west", "east"]
    assert got["revenue"].to_dict() == {"west": 200.0, "east": 200.0}
    assert got.loc["west", "target"] == 160.0  # team row, not cat's 150
    assert got.loc["east", "target"] == 310.0  # ann 250 + bob's three months 60
    assert got.loc["west", "attainment"] == pytest.approx(1.25)
    assert got.loc["east", "attainment"] == pytest.approx(200 / 310)
    assert got.loc["east", "gap"] == 110.0
    assert got["orders"].to_dict() == {"west": 1, "east": 3}  # o4 nets to 0
    assert got.loc["east", "avg_deal"] == pytest.approx(200 / 3)
    assert got["customers"].to_dict() == {"west": 1, "east": 2}
    assert got["new_customers"].to_dict() == {"west": 1, "east": 2}  # c2 and c3, not c1
    # Collection: east lines with a paid value: 100/100, 40/10, 50/50, -50/-50 -> 110 / 140.
    assert got.loc["east", "paid"] == 110.0
    assert got.loc["east", "collection_rate"] == pytest.approx(110 / 140)
    assert got.loc["west", "collection_rate"] == pytest.approx(0.5)
    assert got["rank"].tolist() == [1, 2]
    assert (got["period"] == "2024Q2").all()
    unranked = team_performance(team_orders, targets=targets[targets["team"] == "west"])
    assert unranked.set_index("team")["rank"].to_dict() == {"west": 1, "east": 2}
    assert pd.isna(unranked.set_index("team").loc["east", "attainment"])  # no target


def test_team_performance_by_owner_and_default_period(team_orders, targets):
    got = team_performance(team_orders, targets=targets, by="owner").set_index("owner")
    assert set(got["period"]) == {"2024Q2"}  # the quarter of the latest order (June 30)
    # Owner rows only (west's team row is not cat's); bob's months add up inside the quarter.
    assert got["target"].to_dict() == {"ann": 250.0, "bob": 60.0, "cat": 150.0}
    assert got.loc["bob", "attainment"] == 0.0 and got.loc["bob", "orders"] == 0
    assert got.loc["cat", "attainment"] == pytest.approx(200 / 150)
    assert got.index.tolist() == ["cat", "ann", "bob"]
    by_revenue = team_performance(team_orders, targets=targets, by="owner", rank_by="revenue")
    assert by_revenue["owner"].tolist() == ["ann", "cat", "bob"]
    assert by_revenue["rank"].tolist() == [1, 1, 3]  # 200, 200, 0: ties share a rank


def test_team_performance_without_targets_and_several_periods(team_orders):
    got = team_performance(team_orders, by=["team", "owner"], period=["2023Q4", "2024Q2"])
    assert got["period"].unique().tolist() == ["2023Q4", "2024Q2"]
    q4 = got[got["period"] == "2023Q4"].set_index("owner")
    assert q4["revenue"].to_dict() == {"ann": 80.0, "dan": 70.0}
    assert q4["new_customers"].to_dict() == {"ann": 1, "dan": 1}
    assert got["target"].isna().all() and got["attainment"].isna().all()
    year = team_performance(team_orders, period="2024", as_of="2024-05-31").set_index("team")
    assert year.loc["east", "revenue"] == 160.0  # o3 (June) is after as_of
    assert "west" not in year.index


def test_team_performance_zero_target_and_no_paid_column(team_orders):
    zero = pd.DataFrame({"team": ["east"], "period": ["2024Q2"], "target": [0.0]})
    got = team_performance(team_orders.drop(columns="paid_amount"), targets=zero)
    east = got.set_index("team").loc["east"]
    assert pd.isna(east["attainment"]) and pd.isna(east["collection_rate"])


def test_team_performance_does_not_modify_inputs(team_orders, targets):
    before_orders, before_targets = team_orders.copy(), targets.copy()
    team_performance(team_orders, targets=targets, by="owner")
    pd.testing.assert_frame_equal(team_orders, before_orders)
    pd.testing.assert_frame_equal(targets, before_targets)


def test_team_performance_matches_independent_sums(generated_tables):
    orders, targets = generated_tables["orders"], generated_tables["targets"]
    got = team_performance(orders, targets=targets, period="2024Q1").set_index("team")
    q1 = orders[(orders["order_date"] >= "2024-01-01") & (orders["order_date"] < "2024-04-01")]
    revenue = q1.groupby("team")["amount"].sum()
    np.testing.assert_allclose(got["revenue"].reindex(revenue.index), revenue)
    target = targets[targets["period"] == "2024Q1"].groupby("team")["target"].sum()
    np.testing.assert_allclose(got["target"].reindex(target.index), target)
    np.testing.assert_allclose(
        got["attainment"].reindex(target.index), got["revenue"].reindex(target.index) / target
    )


def test_team_performance_errors(team_orders, targets):
    with pytest.raises(ValueError, match=r"period must be a period label .* got 'Q2'"):
        team_performance(team_orders, period="Q2")
    with pytest.raises(ValueError, match=r"rank_by must be one of \['attainment', 'revenue'\]"):
        team_performance(team_orders, rank_by="orders")
    with pytest.raises(SchemaError, match=r"targets\): 缺少列 missing columns: target"):
        team_performance(team_orders, targets=targets.drop(columns="target"))
    with pytest.raises(SchemaError, match="region"):
        team_performance(team_orders, by="region")


# ---------------------------------------------------------------------------------------------
# decompose_target
# ---------------------------------------------------------------------------------------------


def _hamilton(total: int, weights: list[float]) -> list[int]:
    """Largest remainder with exact fractions: an independent reference."""
    exact = [Fraction(total) * Fraction(w) / sum(Fraction(x) for x in weights) for w in weights]
    base = [math.floor(q) for q in exact]
    left = total - sum(base)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - base[i]), -weights[i], i))
    for i in order[:left]:
        base[i] += 1
    return base


def test_decompose_largest_remainder_by_hand():
    got = decompose_target(7, weights={"a": 5, "b": 3, "c": 2})
    # Quotas 3.5, 2.1, 1.4 -> floors 3, 2, 1 and the one unit left goes to a (0.5).
    assert got["target"].tolist() == [4, 2, 1]
    np.testing.assert_allclose(got["share"], [0.5, 0.3, 0.2])
    thirds = decompose_target(100, weights={"c": 1, "a": 1, "b": 1})
    assert thirds.set_index("owner")["target"].to_dict() == {"a": 34, "b": 33, "c": 33}


@pytest.mark.parametrize("seed", range(5))
def test_decompose_sums_exactly_and_is_proportional(seed):
    rng = np.random.default_rng(seed)
    weights = {f"r{i}": float(w) for i, w in enumerate(rng.uniform(0, 1e6, size=9))}
    total = int(rng.integers(1_000_000, 50_000_000))
    got = decompose_target(total, weights=weights)
    assert got["target"].sum() == total
    assert (np.abs(got["target"] - total * got["share"]) < 1).all()
    assert got["target"].tolist() == _hamilton(total, list(weights.values()))


def test_decompose_in_units_of_ten_thousand():
    got = decompose_target(1_000_000, weights={"a": 1, "b": 2}, unit=10_000)
    assert got["target"].tolist() == [330_000, 670_000]
    with pytest.raises(ValueError, match="whole multiple of unit=10000"):
        decompose_target(1_005_000, weights={"a": 1}, unit=10_000)


def test_decompose_hierarchy_from_history(team_orders):
    history = team_orders  # net revenue: ann 280, bob 0, cat 200, dan 70
    got = decompose_target(1001, history=history, by=["team", "owner"])
    assert got[["team", "owner"]].values.tolist() == [
        ["east", "ann"],
        ["east", "bob"],
        ["north", "dan"],
        ["west", "cat"],
    ]
    assert got["history"].tolist() == [280.0, 0.0, 70.0, 200.0]
    # Teams first: 1001 x (280, 70, 200) / 550 = 509.6, 127.4, 364.0 -> 510, 127, 364.
    teams = got.groupby("team")["target"].sum().to_dict()
    assert teams == {"east": 510, "north": 127, "west": 364}
    assert got.set_index("owner")["target"].to_dict() == {
        "ann": 510,
        "bob": 0,
        "dan": 127,
        "cat": 364,
    }
    assert got["target"].sum() == 1001


def test_decompose_pipeline_looks_up_teams_and_mixes(team_orders):
    stages = pd.DataFrame(
        {
            "opportunity_id": ["p1", "p1", "p2", "p3", "p4"],
            "owner": ["ann", "ann", "bob", "cat", "bob"],
            "entered_at": _ts(
                ["2024-05-01", "2024-06-01", "2024-06-01", "2024-06-01", "2024-01-01"]
            ),
            "amount": [100.0, 300.0, 100.0, 600.0, 900.0],
            "outcome": ["open", "open", "open", "open", "lost"],
        }
    )
    pipe = decompose_target(1000, pipeline=stages, history=team_orders, by="team", mix=0.0)
    # Open pipeline (latest row per opportunity): east 300 + 100, west 600; p4 is lost.
    assert pipe.set_index("team")["pipeline"].to_dict() == {
        "east": 400.0,
        "north": 0.0,
        "west": 600.0,
    }
    assert pipe.set_index("team")["target"].to_dict() == {"east": 400, "north": 0, "west": 600}
    mixed = decompose_target(1000, pipeline=stages, history=team_orders, by="team", mix=0.5)
    # History shares 280/550, 70/550, 200/550; pipeline 0.4, 0, 0.6; averaged.
    expected = {
        "east": 0.5 * 280 / 550 + 0.2,
        "north": 0.5 * 70 / 550,
        "west": 0.5 * 200 / 550 + 0.3,
    }
    assert mixed.set_index("team")["share"].to_dict() == pytest.approx(expected)
    assert mixed["target"].sum() == 1000
    only_pipe = decompose_target(10, pipeline=stages.assign(team="t"), by="owner")
    assert only_pipe.set_index("owner")["target"].to_dict() == {"ann": 3, "bob": 1, "cat": 6}


def test_decompose_weights_forms_agree():
    as_dict = decompose_target(
        90, weights={("e", "a"): 1, ("e", "b"): 2, ("w", "c"): 6}, by=["team", "owner"]
    )
    frame = pd.DataFrame({"team": ["e", "e", "w"], "owner": ["a", "b", "c"], "weight": [1, 2, 6]})
    as_frame = decompose_target(90, weights=frame, by=["team", "owner"])
    pd.testing.assert_frame_equal(as_dict, as_frame, check_dtype=False)
    assert as_dict["target"].tolist() == [10, 20, 60]


def test_decompose_does_not_modify_inputs(team_orders):
    before = team_orders.copy()
    decompose_target(100, history=team_orders, by="team")
    pd.testing.assert_frame_equal(team_orders, before)


def test_decompose_errors(team_orders):
    with pytest.raises(ValueError, match="needs history=, pipeline= or weights="):
        decompose_target(100)
    with pytest.raises(ValueError, match="weights replaces history"):
        decompose_target(100, weights={"a": 1}, history=team_orders)
    with pytest.raises(ValueError, match="every weight is zero"):
        decompose_target(100, weights={"a": 0, "b": 0})
    with pytest.raises(ValueError, match=r"weights must be numbers >= 0; got \[-1.0\]"):
        decompose_target(100, weights={"a": -1, "b": 2})
    with pytest.raises(ValueError, match="total must be a number >= 0; got -5"):
        decompose_target(-5, weights={"a": 1})
    with pytest.raises(ValueError, match="whole multiple of unit=1"):
        decompose_target(10.5, weights={"a": 1})
    with pytest.raises(ValueError, match="mix must be a number from 0 to 1; got 2"):
        decompose_target(10, history=team_orders, mix=2)
    with pytest.raises(SchemaError, match="region"):
        decompose_target(10, history=team_orders, by="region")


# ---------------------------------------------------------------------------------------------
# charts
# ---------------------------------------------------------------------------------------------


def test_sales_charts_draw_and_return_axes(monthly, team_orders, targets):
    import matplotlib.pyplot as plt

    from analysis_kit import plotting

    result = sales_trend(monthly)
    ax = plotting.trend_lines(result.trend, lang="en", annotate=3)
    # The last three points: Apr (-78 %), May (-175 %), Jun (no growth from a refund month).
    labels = [t.get_text() for t in ax.texts if "%" in t.get_text()]
    assert labels == ["-78%", "-175%"]
    assert ax.get_ylabel() == "Revenue (yuan)"
    ax = plotting.seasonality_bars(sales_trend(_two_years(), as_of="2024-01-20").seasonality)
    assert len(ax.patches) == 12 and ax.get_xlabel() == "月份"
    mix = product_mix(_lines({"a": 50, "b": 25, "c": 10, "d": 6, "e": 5, "f": 4}))
    ax = plotting.pareto_chart(mix, lang="en")
    assert len(ax.patches) == 6
    perf = team_performance(team_orders, targets=targets[targets["team"] == "west"])
    ax = plotting.attainment_bars(perf, lang="en")
    assert sorted(t.get_text().strip() for t in ax.texts) == ["125%", "no target"]
    with pytest.raises(ValueError, match=r"lang must be one of \['zh', 'en'\]; got 'fr'"):
        plotting.attainment_bars(perf, lang="fr")
    plt.close("all")
