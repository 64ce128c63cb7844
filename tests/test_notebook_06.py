"""Notebook 06 (sales performance) runs on the cleaned sample and records what an independent
computation from the clean Parquet tables finds."""

import json

import numpy as np
import pandas as pd
import pytest
from notebook_checks import people_names, stderr_of

from analysis_kit.privacy import find_unmasked
from analysis_kit.reports import run_report

pytestmark = pytest.mark.notebook

AS_OF = pd.Timestamp("2024-06-30")


def _orders(clean_dir) -> pd.DataFrame:
    orders = pd.read_parquet(clean_dir / "orders.parquet")
    return orders[orders["order_date"] < AS_OF + pd.Timedelta(days=1)]


def _abc_a(orders: pd.DataFrame, a_share: float) -> list[str]:
    """Products of class A by a plain loop: the share of strictly larger products is < a_share."""
    totals: dict[str, float] = {}
    for product, amount in zip(orders["product"], orders["amount"], strict=True):
        if isinstance(product, str):
            totals[product] = totals.get(product, 0.0) + amount
    positive = sum(v for v in totals.values() if v > 0)
    chosen = [
        p
        for p, v in totals.items()
        if v > 0 and sum(w for w in totals.values() if w > v) / positive < a_share - 1e-12
    ]
    return sorted(chosen, key=lambda p: (-totals[p], p))


def _attainment(orders, targets, start, end, label) -> dict[str, float]:
    period = orders[(orders["order_date"] >= start) & (orders["order_date"] < end)]
    revenue = period.groupby("team")["amount"].sum()
    target = targets[targets["period"] == label].groupby("team")["target"].sum()
    return {t: revenue.get(t, 0.0) / v for t, v in target.items()}


@pytest.fixture(scope="module")
def default_run(cleaned_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("nb06")
    metrics = run_report(
        out,
        notebooks=["06"],
        parameters={
            "clean_dir": str(cleaned_sample.clean_dir),
            "as_of": "2024-06-30",
            "lang": "en",
        },
    )
    return out, json.loads(metrics.read_text(encoding="utf-8"))["06_sales_performance"]


def test_sales_notebook_matches_an_independent_computation(cleaned_sample, default_run):
    out, recorded = default_run
    orders = _orders(cleaned_sample.clean_dir)
    assert recorded["total_revenue"] == pytest.approx(orders["amount"].sum(), abs=0.01)
    # Orders: per month and order id, net amount > 0 (a refund line is never an order).
    month = orders["order_date"].dt.to_period("M")
    net = orders.groupby([month, "order_id"])["amount"].sum()
    assert recorded["orders"] == int((net > 0).sum())
    assert recorded["aov"] == pytest.approx(orders["amount"].sum() / (net > 0).sum(), abs=0.01)
    monthly = orders.set_index("order_date")["amount"].resample("MS").sum()
    assert recorded["last_period"] == "2024-06"
    june, may = monthly[pd.Timestamp("2024-06-01")], monthly[pd.Timestamp("2024-05-01")]
    assert recorded["last_pop_growth"] == pytest.approx(june / may - 1, abs=1e-4)
    june_before = monthly.get(pd.Timestamp("2023-06-01"), 0.0)
    assert recorded["last_yoy_growth"] == pytest.approx(june / june_before - 1, abs=1e-4)
    # Peak month over complete calendar years (every month observed, up to December 2023).
    first = monthly.index.min()
    years = [y for y in range(first.year, 2024) if pd.Timestamp(y, 1, 1) >= first]
    full = monthly[monthly.index.year.isin(years)]
    assert len(full) == 12 * len(years) > 0
    index = full.groupby(full.index.month).mean() / full.mean()
    assert recorded["peak_month"] == int(index.idxmax())
    assert recorded["a_products"] == _abc_a(orders, 0.8)
    targets = pd.read_parquet(cleaned_sample.clean_dir / "targets.parquet")
    expected = _attainment(orders, targets, "2024-04-01", "2024-07-01", "2024Q2")
    assert recorded["team_period"] == "2024Q2"
    assert recorded["attainment"] == pytest.approx(expected, abs=1e-4)
    assert recorded["decomposed_total"] == 6_000_000


def test_sales_notebook_report_is_clean(cleaned_sample, default_run):
    out, _ = default_run
    assert "Glyph" not in stderr_of(out / "06_sales_performance.ipynb")
    html = (out / "06_sales_performance.html").read_text(encoding="utf-8")
    assert "<title>06 Sales performance</title>" in html
    assert "team_performance(" not in html  # no code in the report
    assert find_unmasked(html, names=people_names(cleaned_sample.clean_dir)) == []


def test_sales_notebook_with_overridden_parameters(cleaned_sample, tmp_path):
    params = {
        "clean_dir": str(cleaned_sample.clean_dir),
        "as_of": "2024-06-30",
        "freq": "QS",
        "abc": [0.5, 0.3, 0.2],
        "top_n": 3,
        "team_period": "2024Q1",
        "target_total": 1_000_000,
        "target_unit": 1,
        "pipeline_mix": 1.0,
        "lang": "zh",
    }
    metrics = run_report(tmp_path, notebooks=["06"], parameters=params)
    recorded = json.loads(metrics.read_text(encoding="utf-8"))["06_sales_performance"]
    orders = _orders(cleaned_sample.clean_dir)
    quarterly = orders.set_index("order_date")["amount"].resample("QS").sum()
    assert recorded["freq"] == "QS" and recorded["last_period"] == "2024Q2"
    q2, q1 = quarterly[pd.Timestamp("2024-04-01")], quarterly[pd.Timestamp("2024-01-01")]
    assert recorded["last_pop_growth"] == pytest.approx(q2 / q1 - 1, abs=1e-4)
    quarter = orders["order_date"].dt.to_period("Q")
    net = orders.groupby([quarter, "order_id"])["amount"].sum()
    assert recorded["orders"] == int((net > 0).sum())
    assert recorded["a_products"] == _abc_a(orders, 0.5)
    targets = pd.read_parquet(cleaned_sample.clean_dir / "targets.parquet")
    expected = _attainment(orders, targets, "2024-01-01", "2024-04-01", "2024Q1")
    assert recorded["team_period"] == "2024Q1"
    assert recorded["attainment"] == pytest.approx(expected, abs=1e-4)
    assert recorded["decomposed_total"] == 1_000_000
    assert "Glyph" not in stderr_of(tmp_path / "06_sales_performance.ipynb")
    html = (tmp_path / "06_sales_performance.html").read_text(encoding="utf-8")
    assert find_unmasked(html, names=people_names(cleaned_sample.clean_dir)) == []
    assert np.isfinite(recorded["total_revenue"])


def test_the_forecast_on_the_page_is_the_package_call_and_its_backtest(cleaned_sample, default_run):
    from analysis_kit.forecast import period_forecast

    out, recorded = default_run
    stages = pd.read_parquet(cleaned_sample.clean_dir / "stages.parquet")
    orders = _orders(cleaned_sample.clean_dir)
    targets = pd.read_parquet(cleaned_sample.clean_dir / "targets.parquet")
    expected = period_forecast(
        stages, period="2024Q2", as_of="2024-06-30", orders=orders, targets=targets
    ).iloc[0]
    for key in ("closed", "pipeline", "weighted", "forecast", "target"):
        assert recorded["forecast"][key] == pytest.approx(expected[key], abs=0.01), key
    # the backtest: Q2's method as of 31 March against what Q1 closed, by plain pandas
    early = period_forecast(
        stages, period="2024Q1", as_of="2023-12-31", orders=orders, targets=targets
    ).iloc[0]
    in_q1 = orders[(orders["order_date"] >= "2024-01-01") & (orders["order_date"] < "2024-04-01")]
    actual = in_q1["amount"].sum()
    assert recorded["forecast_backtest_miss"] == pytest.approx(
        early["forecast"] / actual - 1, abs=1e-4
    )
    page = (out / "06_sales_performance.html").read_text(encoding="utf-8")
    assert "Forecast and coverage" in page and "Looking back" in page
