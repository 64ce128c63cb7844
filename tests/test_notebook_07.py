"""Notebook 07 (CLV and cross-sell) run under papermill; its metrics checked against plain loops."""

from __future__ import annotations

import itertools
import json
import math

import pandas as pd
import pytest
from notebook_checks import people_names, stderr_of

from analysis_kit.exports import read_result
from analysis_kit.privacy import find_unmasked
from analysis_kit.reports import run_report
from analysis_kit.rfm import rfm_segments, rfm_summary

pytestmark = pytest.mark.notebook

AS_OF = pd.Timestamp("2024-06-30")  # a Sunday: the last day of its week


def _orders(cleaned_sample) -> pd.DataFrame:
    return pd.read_parquet(cleaned_sample.clean_dir / "orders.parquet")


def _weekly_purchases(orders: pd.DataFrame, last_day: pd.Timestamp) -> dict[str, list[int]]:
    """Purchase weeks (Monday-Sunday) per customer up to the week of ``last_day``: a plain loop."""
    last_week = (last_day.normalize() - pd.Timestamp("1969-12-29")).days // 7
    net: dict[tuple[str, int], float] = {}
    for customer, day, amount in zip(
        orders["customer_id"], orders["order_date"], orders["amount"], strict=True
    ):
        if pd.isna(customer) or pd.isna(day):
            continue
        week = (day.normalize() - pd.Timestamp("1969-12-29")).days // 7
        if week <= last_week:
            key = (customer, week)
            net[key] = net.get(key, 0.0) + (0.0 if pd.isna(amount) else amount)
    weeks: dict[str, list[int]] = {}
    for (customer, week), value in sorted(net.items()):
        if value > 0:
            weeks.setdefault(customer, []).append(week)
    return weeks


def _holdout_purchases(orders: pd.DataFrame, cal_end: pd.Timestamp, last_day: pd.Timestamp):
    """Calibration customers and their holdout purchase weeks, by a plain loop.

    Lines are cut by their day first (as lifetimes' calibration_and_holdout_data): a line dated
    after ``cal_end`` is in the holdout even within ``cal_end``'s week. Per customer and week the
    lines are netted; a week is a purchase when it has no refund line, or its net amount is
    positive in cents.
    """
    monday = pd.Timestamp("1969-12-29")
    net: dict[tuple[str, bool, int], float] = {}
    refund: dict[tuple[str, bool, int], bool] = {}
    for customer, day, amount in zip(
        orders["customer_id"], orders["order_date"], orders["amount"], strict=True
    ):
        if pd.isna(customer) or pd.isna(day) or day.normalize() > last_day:
            continue
        value = 0.0 if pd.isna(amount) else float(amount)
        key = (customer, day.normalize() > cal_end, (day.normalize() - monday).days // 7)
        net[key] = net.get(key, 0.0) + value
        refund[key] = refund.get(key, False) or value < 0
    bought = [k for k, v in net.items() if not refund[k] or v >= 0.005]
    calibration = {c for c, later, _ in bought if not later}
    return calibration, sum(1 for c, later, _ in bought if later and c in calibration)


def _summary_loop(
    orders: pd.DataFrame, last_day: pd.Timestamp
) -> list[tuple[int, int, int, float]]:
    """(x, t_x, T, m) per customer in weeks, written from the definitions."""
    last_week = (last_day.normalize() - pd.Timestamp("1969-12-29")).days // 7
    weeks = _weekly_purchases(orders, last_day)
    value: dict[tuple[str, int], float] = {}
    for customer, day, amount in zip(
        orders["customer_id"], orders["order_date"], orders["amount"], strict=True
    ):
        if pd.notna(customer) and pd.notna(day):
            key = (customer, (day.normalize() - pd.Timestamp("1969-12-29")).days // 7)
            value[key] = value.get(key, 0.0) + (0.0 if pd.isna(amount) else amount)
    rows = []
    for customer, ws in weeks.items():
        repeat = [value[(customer, w)] for w in ws[1:]]
        m = sum(repeat) / len(repeat) if repeat else 0.0
        rows.append((len(ws) - 1, ws[-1] - ws[0], last_week - ws[0], m))
    return rows


def _bgnbd_ll(params: dict, rows) -> float:
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    total = 0.0
    for x, t_x, T, _ in rows:
        log_common = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
        log_beta = math.lgamma(b + x) + math.lgamma(a + b) - math.lgamma(b) - math.lgamma(a + b + x)
        first = math.exp(log_common + log_beta - (r + x) * math.log(alpha + T))
        second = 0.0
        if x > 0:
            second = math.exp(
                log_common + log_beta + math.log(a / (b + x - 1)) - (r + x) * math.log(alpha + t_x)
            )
        total += math.log(first + second)
    return total


def _gg_ll(params: dict, rows) -> float:
    p, q, v = params["p"], params["q"], params["v"]
    total = 0.0
    for x, _, _, m in rows:
        if x > 0:
            total += (
                math.lgamma(p * x + q)
                - math.lgamma(p * x)
                - math.lgamma(q)
                + q * math.log(v)
                + (p * x - 1) * math.log(m)
                + p * x * math.log(x)
                - (p * x + q) * math.log(v + m * x)
            )
    return total


def _rule_count(orders: pd.DataFrame, min_support: float, min_confidence: float) -> int:
    """Brute force over customer baskets (a product counts when its net amount is > 0)."""
    net: dict[tuple[str, str], float] = {}
    for customer, product, amount in zip(
        orders["customer_id"], orders["product"], orders["amount"], strict=True
    ):
        if pd.notna(customer) and isinstance(product, str) and product.strip():
            key = (customer, product.strip())
            net[key] = net.get(key, 0.0) + (0.0 if pd.isna(amount) else amount)
    baskets: dict[str, set[str]] = {}
    for (customer, product), value in net.items():
        if value > 0:
            baskets.setdefault(customer, set()).add(product)
    n = len(baskets)
    products = sorted(set().union(*baskets.values()))
    count = 0
    for a, b in itertools.permutations(products, 2):
        both = sum(a in s and b in s for s in baskets.values())
        has_a = sum(a in s for s in baskets.values())
        if both and both / n >= min_support - 1e-12 and both / has_a >= min_confidence - 1e-12:
            count += 1
    return count


@pytest.fixture(scope="module")
def default_run(cleaned_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("clv")
    metrics = run_report(
        out,
        notebooks=["07"],
        parameters={
            "clean_dir": str(cleaned_sample.clean_dir),
            "as_of": "2024-06-30",
            "lang": "en",
        },
    )
    return out, json.loads(metrics.read_text(encoding="utf-8"))["07_clv_cross_sell"]


def test_models_fit_on_the_sample_and_match_independent_likelihoods(cleaned_sample, default_run):
    _, recorded = default_run
    rows = _summary_loop(_orders(cleaned_sample), AS_OF)
    assert recorded["customers"] == len(rows) > 20
    assert recorded["repeat_buyers"] == sum(x > 0 for x, *_ in rows)
    assert recorded["fit_note"] == ""
    bgnbd, gg = recorded["bgnbd"], recorded["gamma_gamma"]
    assert bgnbd is not None and gg is not None  # the fit succeeds on the 60-customer sample
    assert bgnbd["log_likelihood"] == pytest.approx(_bgnbd_ll(bgnbd["params"], rows), abs=1e-3)
    assert gg["log_likelihood"] == pytest.approx(_gg_ll(gg["params"], rows), abs=1e-3)
    # A maximum: moving any parameter by 2% lowers the independently computed likelihood.
    for name in bgnbd["params"]:
        for factor in (0.98, 1.02):
            moved = {**bgnbd["params"], name: bgnbd["params"][name] * factor}
            assert _bgnbd_ll(moved, rows) < bgnbd["log_likelihood"], name
    for name in gg["params"]:
        for factor in (0.98, 1.02):
            moved = {**gg["params"], name: gg["params"][name] * factor}
            assert _gg_ll(moved, rows) < gg["log_likelihood"], name
    assert all(se > 0 for se in bgnbd["std_errors"].values())


def test_clv_holdout_and_protect_list(cleaned_sample, default_run):
    out, recorded = default_run
    totals = recorded["clv_total"]
    assert 0 < totals["3m"] < totals["6m"] < totals["12m"]
    clv = read_result(out, "clv")
    assert len(clv) == recorded["customers"]
    assert clv["clv_12m"].sum() == pytest.approx(totals["12m"], abs=0.01)
    # Holdout: calibration ends 6 months before as_of (Saturday 2023-12-30, its week ends Dec 31;
    # a purchase on Sunday Dec 31 is a holdout purchase).
    orders = _orders(cleaned_sample)
    cal_end = AS_OF - pd.DateOffset(months=6)
    calibration, actual = _holdout_purchases(orders, cal_end, AS_OF)
    holdout = recorded["holdout"]
    assert holdout["customers"] == len(calibration)
    assert holdout["actual"] == actual
    assert 0 < holdout["predicted"] < 3 * actual
    # Protect list: only customers of the chosen cn8 segment (none of them is 重要挽留 here).
    segments = rfm_segments(rfm_summary(orders, as_of="2024-06-30"))
    members = set(segments.loc[segments["segment_code"] == "001", "customer_id"])
    assert set(recorded["protect"]) <= members
    assert bool(recorded["protect"]) == bool(members)


def test_rules_and_suggestions(cleaned_sample, default_run):
    out, recorded = default_run
    orders = _orders(cleaned_sample)
    assert recorded["rules"] == _rule_count(orders, 0.1, 0.3) > 0
    suggestions = read_result(out, "cross_sell")
    assert len(suggestions) == recorded["suggestions"] > 0
    owned = orders.dropna(subset=["product"]).groupby("customer_id")["product"].agg(set)
    for customer, offer, lift in zip(
        suggestions["customer_id"], suggestions["offer"], suggestions["lift"], strict=True
    ):
        assert offer not in owned[customer]
        assert lift > 1
    assert suggestions.groupby("customer_id").size().max() <= 3


def test_report_has_no_unmasked_names_and_no_missing_glyph(cleaned_sample, default_run):
    out, _ = default_run
    names = people_names(cleaned_sample.clean_dir)
    html = (out / "07_clv_cross_sell.html").read_text(encoding="utf-8")
    assert "<title>07 CLV and cross-sell</title>" in html
    assert find_unmasked(html, names=names) == []
    for csv in ("clv_protect.csv", "cross_sell.csv"):
        assert find_unmasked((out / csv).read_text(encoding="utf-8-sig"), names=names) == []
    assert "Glyph" not in stderr_of(out / "07_clv_cross_sell.ipynb")


def test_overridden_parameters(cleaned_sample, tmp_path):
    orders = _orders(cleaned_sample)
    segments = rfm_segments(rfm_summary(orders, as_of="2024-06-30"))
    segment = segments["segment_code"].value_counts().index[0]
    params = {
        "clean_dir": str(cleaned_sample.clean_dir),
        "lang": "zh",
        "freq": "D",
        "months": [2, 1],
        # 12 months of holdout leave too few repeat buyers in calibration: the fit runs away and
        # the notebook records a note instead of failing.
        "holdout_months": 12,
        "min_support": 0.15,
        "min_confidence": 0.2,
        "top_n": 1,
        "protect_segment": segment,
        "protect_top": 3,
    }
    metrics = run_report(tmp_path, notebooks=["07"], parameters=params)
    recorded = json.loads(metrics.read_text(encoding="utf-8"))["07_clv_cross_sell"]
    assert recorded["freq"] == "D"
    assert set(recorded["clv_total"]) == {"1m", "2m"}
    assert recorded["clv_total"]["1m"] < recorded["clv_total"]["2m"]
    assert recorded["holdout"] is None and "did not converge" in recorded["holdout_note"]
    assert recorded["rules"] == _rule_count(orders, 0.15, 0.2)
    suggestions = read_result(tmp_path, "cross_sell")
    assert suggestions.groupby("customer_id").size().max() <= 1
    # The protect list: the segment's best customers by the longest horizon's CLV (2 months).
    clv = read_result(tmp_path, "clv").set_index("customer_id")
    members = set(segments.loc[segments["segment_code"] == segment, "customer_id"])
    protect = recorded["protect"]
    assert len(protect) == min(3, len(members & set(clv.index)))
    assert set(protect) <= members
    values = clv.loc[protect, "clv_2m"].tolist()
    assert values == sorted(values, reverse=True)
    rest = members & set(clv.index) - set(protect)
    assert all(clv.loc[c, "clv_2m"] <= values[-1] for c in rest)
    assert "Glyph" not in stderr_of(tmp_path / "07_clv_cross_sell.ipynb")
    html = (tmp_path / "07_clv_cross_sell.html").read_text(encoding="utf-8")
    assert find_unmasked(html, names=people_names(cleaned_sample.clean_dir)) == []
