"""Notebook 05 (sales funnel) run under papermill; its metrics checked against plain loops."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from notebook_checks import people_names, reader_artifacts, stderr_of

from analysis_kit.funnel import FUNNEL_PRESETS
from analysis_kit.privacy import find_unmasked
from analysis_kit.reports import run_report

pytestmark = pytest.mark.notebook

AS_OF = pd.Timestamp("2024-06-30")
TEMPLATE = list(FUNNEL_PRESETS["template"])


def _history(cleaned_sample) -> pd.DataFrame:
    stages = pd.read_parquet(cleaned_sample.clean_dir / "stages.parquet")
    stages = stages[stages["entered_at"] < AS_OF + pd.Timedelta(days=1)]
    return stages.dropna(subset=["opportunity_id", "stage", "entered_at"])


def _deals(history: pd.DataFrame) -> dict[str, dict]:
    """One pass over the rows in time order: furthest stage, last amount and outcome, reached 成交."""
    order = {s: i for i, s in enumerate(TEMPLATE)}
    deals: dict[str, dict] = {}
    rows = history.sort_values(["opportunity_id", "entered_at"], kind="stable")
    for opp, stage, amount, outcome in zip(
        rows["opportunity_id"], rows["stage"], rows["amount"], rows["outcome"], strict=True
    ):
        deal = deals.setdefault(opp, {"furthest": -1, "amount": None, "outcome": None})
        deal["furthest"] = max(deal["furthest"], order[stage])
        if pd.notna(amount):
            deal["amount"] = amount
        if isinstance(outcome, str):
            deal["outcome"] = outcome
    for deal in deals.values():
        won_reached = deal["furthest"] >= order["成交"]
        recorded = deal["outcome"] or ("won" if won_reached else "open")
        deal["outcome"] = "open" if recorded == "won" and not won_reached else recorded
    return deals


def _roi(cleaned_sample, year: int | None = None) -> dict[str, float | None]:
    clean = cleaned_sample.clean_dir
    stages = pd.read_parquet(clean / "stages.parquet").sort_values("entered_at", kind="stable")
    channel = {}
    for customer, source in zip(stages["customer_id"], stages["lead_source"], strict=True):
        channel.setdefault(customer, source if isinstance(source, str) else "未知")
    orders = pd.read_parquet(clean / "orders.parquet")
    costs = pd.read_parquet(clean / "channel_costs.parquet")
    if year is not None:
        orders = orders[orders["order_date"].dt.year == year]
        costs = costs[costs["period_start"].dt.year == year]
    revenue: dict[str, float] = {}
    for customer, amount in zip(orders["customer_id"], orders["amount"], strict=True):
        key = channel.get(customer, "未知")
        revenue[key] = revenue.get(key, 0.0) + (0.0 if pd.isna(amount) else amount)
    cost = costs.groupby("channel")["cost"].sum().to_dict()
    result = {}
    for key in set(revenue) | set(cost) | set(channel.values()):
        spent = cost.get(key, 0.0)
        result[key] = None if spent == 0 else round((revenue.get(key, 0.0) - spent) / spent, 4)
    return result


def _check_roi(recorded: dict, expected: dict) -> None:
    assert set(recorded) <= set(expected)
    assert {k for k, v in expected.items() if v is not None} <= set(recorded)
    for channel, value in recorded.items():
        if expected[channel] is None:
            assert value is None, channel
        else:
            assert value == pytest.approx(expected[channel], abs=1e-4), channel


@pytest.fixture(scope="module")
def default_run(cleaned_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("funnel")
    metrics = run_report(
        out,
        notebooks=["05"],
        parameters={
            "clean_dir": str(cleaned_sample.clean_dir),
            "as_of": "2024-06-30",
            "lang": "en",
        },
    )
    return out, json.loads(metrics.read_text(encoding="utf-8"))["05_sales_funnel"]


def test_funnel_notebook_counts_match_a_loop(cleaned_sample, default_run):
    _, recorded = default_run
    deals = _deals(_history(cleaned_sample))
    expected = {s: sum(d["furthest"] >= i for d in deals.values()) for i, s in enumerate(TEMPLATE)}
    assert recorded["steps"] == TEMPLATE
    assert recorded["reached"] == expected
    assert recorded["opportunities"] == len(deals)
    conversion = {
        s: expected[s] / expected[p] for p, s in zip(TEMPLATE, TEMPLATE[1:], strict=False)
    }
    sales = {s: v for s, v in conversion.items() if s != "售后维护"}  # after-sales is no loss
    assert recorded["weakest_step"] == min(sales, key=sales.get)
    for step, value in conversion.items():
        assert recorded["conversion_from_previous"][step] == pytest.approx(value, abs=1e-4)
    won = sum(d["outcome"] == "won" for d in deals.values())
    lost = sum(d["outcome"] == "lost" for d in deals.values())
    assert recorded["win_rate"] == pytest.approx(won / (won + lost), abs=1e-4)
    _check_roi(recorded["roi"], _roi(cleaned_sample))
    # event funnel on the same stage rows: a window can only lower the counts
    no_window = recorded["event_funnel"]["reached_no_window"]
    within = recorded["event_funnel"]["reached_within_window"]
    assert no_window[0] == len(deals)
    assert all(w <= n for w, n in zip(within, no_window, strict=True))


def test_funnel_notebook_report_is_clean(cleaned_sample, default_run):
    out, _ = default_run
    assert "Glyph" not in stderr_of(out / "05_sales_funnel.ipynb")
    html = (out / "05_sales_funnel.html").read_text(encoding="utf-8")
    assert find_unmasked(html, names=people_names(cleaned_sample.clean_dir)) == []
    assert (out / "stage_funnel.csv").exists() and (out / "channel_roi.csv").exists()
    # no scientific notation, long floats, NaN, index columns, snake_case headers or reprs
    assert reader_artifacts(html, lang="zh") == dict.fromkeys(reader_artifacts(""), 0)
    assert "计算引擎 engine:" not in html  # the engine line is kept for the record, not shown


def test_funnel_notebook_with_overridden_parameters(cleaned_sample, tmp_path):
    params = {
        "clean_dir": str(cleaned_sample.clean_dir),
        "funnel": "lead",
        "breakdown": "owner",
        "stage_probabilities": {"方案报价": 0.9},
        "window_days": 7,
        "roi_period": "2024",
        "lang": "zh",
    }
    metrics = run_report(tmp_path, notebooks=["05"], parameters=params)
    recorded = json.loads(metrics.read_text(encoding="utf-8"))["05_sales_funnel"]
    deals = _deals(_history(cleaned_sample))
    assert recorded["steps"] == list(FUNNEL_PRESETS["lead"])
    counts = {s: sum(d["furthest"] >= i for d in deals.values()) for i, s in enumerate(TEMPLATE)}
    # 方案报价 covers ③ and ④: reaching it means reaching ③
    assert recorded["reached"] == {
        "线索获取": counts["初次接洽"],
        "需求沟通": counts["需求确认"],
        "方案报价": counts["方案提交"],
        "合同签订": counts["成交"],
        "售后复购": counts["售后维护"],
    }
    probability = {0: 0.1, 1: 0.2, 2: 0.9, 3: 0.9}  # ③ and ④ are 方案报价, overridden to 0.9
    weighted = sum(
        (d["amount"] or 0.0) * probability[d["furthest"]]
        for d in deals.values()
        if d["outcome"] == "open"
    )
    assert recorded["weighted_pipeline"] == pytest.approx(weighted, abs=0.01)
    _check_roi(recorded["roi"], _roi(cleaned_sample, year=2024))
    assert recorded["event_funnel"]["window_days"] == 7
    assert "Glyph" not in stderr_of(tmp_path / "05_sales_funnel.ipynb")
    html = (tmp_path / "05_sales_funnel.html").read_text(encoding="utf-8")
    assert find_unmasked(html, names=people_names(cleaned_sample.clean_dir)) == []


def test_loss_reasons_count_lost_deals_like_a_loop(cleaned_sample, default_run):
    out, recorded = default_run
    history = _history(cleaned_sample)
    deals = _deals(history)
    reasons: dict[str, int] = {}
    for opp, rows in history.sort_values("entered_at", kind="stable").groupby("opportunity_id"):
        if deals[opp]["outcome"] != "lost":
            continue
        given = rows["lost_reason"].dropna()
        reason = " ".join(str(given.iloc[0]).split()) if len(given) else "未填写"
        reasons[reason] = reasons.get(reason, 0) + 1
    assert recorded["loss_reasons"] == reasons
    assert sum(reasons.values()) == recorded["lost"]  # every lost deal, reason or not
    page = (out / "05_sales_funnel.html").read_text(encoding="utf-8")
    assert "Why deals are lost" in page and "Win rate against each competitor" in page
    written = pd.read_parquet(out / "data" / "loss_reasons.parquet")
    assert dict(zip(written["lost_reason"], written["lost_deals"], strict=True)) == {
        ("not given" if r == "未填写" else r): n for r, n in reasons.items()
    }


def test_stuck_deals_on_the_page_are_the_package_call(cleaned_sample, default_run):
    from analysis_kit.funnel import stuck_deals

    out, recorded = default_run
    stages = pd.read_parquet(cleaned_sample.clean_dir / "stages.parquet")
    expected = stuck_deals(stages, as_of="2024-06-30")
    assert recorded["stuck_deals"] == int(expected["stuck"].sum())
    written = pd.read_parquet(out / "data" / "stuck_deals.parquet")
    assert written["opportunity_id"].tolist() == expected["opportunity_id"].tolist()
    assert "Stuck deals" in (out / "05_sales_funnel.html").read_text(encoding="utf-8")
