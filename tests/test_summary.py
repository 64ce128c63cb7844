"""The index's KPIs: the right period, changes with the right meaning, earlier periods as they were."""

import pandas as pd
import pytest
from conftest import make_orders as _orders

from analysis_kit.summary import (
    format_change,
    format_value,
    kpi_sentences,
    period_kpis,
    period_windows,
)


def test_changes_have_the_meaning_of_their_kpi(kpi_tables):
    kpis = period_kpis(kpi_tables, as_of="2024-06-30").set_index("key")
    revenue = kpis.loc["revenue"]
    assert revenue["value"] == 1_200_000.0 and revenue["previous"] == 1_000_000.0
    assert revenue["mom"] == pytest.approx(0.2) and revenue["yoy"] == pytest.approx(1.0)
    assert revenue["change_kind"] == "relative" and revenue["good"]
    win = kpis.loc["win_rate"]
    assert (win["value"], win["previous"]) == (0.75, 0.5) and win["basis"] == 4
    assert win["mom"] == pytest.approx(0.25) and win["change_kind"] == "points"
    # the lost deal E was open in May (its loss is on its June row)
    assert format_change(win["mom"], "points") == "+25.0 个百分点"
    risk = kpis.loc["churn_risk"]
    assert (risk["value"], risk["previous"]) == (2, 1)  # D is six months silent from June 20
    assert risk["mom"] == pytest.approx(1.0)
    assert pd.notna(risk["good"]) and not risk["good"]  # more customers at risk is bad
    target = kpis.loc["target_attainment"]
    may_target = 1_000_000.0 + 910_000.0 * 31 / 91
    june_target = 910_000.0 * 30 / 91
    assert target["previous"] == pytest.approx(1_000_000.0 / may_target)
    assert target["value"] == pytest.approx(1_200_000.0 / june_target)
    assert target["mom"] == pytest.approx(target["value"] - target["previous"])
    assert list(kpis["trend"].loc["revenue"][-3:]) == [0.0, 1_000_000.0, 1_200_000.0]


def test_an_earlier_report_gives_the_figures_it_gave_then(kpi_tables):
    june = period_kpis(kpi_tables, as_of="2024-06-30").set_index("key")
    may = period_kpis(kpi_tables, as_of="2024-05-31").set_index("key")
    for key in ("revenue", "win_rate", "churn_risk", "target_attainment", "weighted_pipeline"):
        assert may.loc[key, "value"] == pytest.approx(june.loc[key, "previous"]), key
    assert may.loc["win_rate", "basis"] == 2


def test_a_month_to_date_is_compared_with_the_same_days():
    windows = period_windows("2024-06-12")
    assert windows["previous"].start == pd.Timestamp("2024-05-01")
    assert windows["previous"].end == pd.Timestamp("2024-05-12")
    assert windows["year_ago"].end == pd.Timestamp("2023-06-12")
    assert [w.label for w in windows["trend"]][-2:] == ["2024-05", "2024-06"]
    orders = _orders([("A", "2024-05-10", 100.0), ("A", "2024-05-20", 900.0)])
    orders = pd.concat([orders, _orders([("A", "2024-06-11", 150.0)])], ignore_index=True)
    revenue = period_kpis({"orders": orders}, as_of="2024-06-12").set_index("key").loc["revenue"]
    assert (revenue["value"], revenue["previous"]) == (150.0, 100.0)  # not May's 1,000
    assert revenue["mom"] == pytest.approx(0.5)


def test_missing_tables_give_missing_figures_not_zeros():
    kpis = period_kpis({}, as_of="2024-06-30").set_index("key")
    assert kpis["value"].isna().all() and kpis["mom"].isna().all()
    assert format_value(kpis.loc["revenue", "value"], "money") == "—"


def test_a_change_from_zero_has_no_percentage():
    orders = _orders([("A", "2024-06-03", 500.0)])
    revenue = period_kpis({"orders": orders}, as_of="2024-06-30").set_index("key").loc["revenue"]
    assert revenue["previous"] == 0 and pd.isna(revenue["mom"]) and pd.isna(revenue["good"])


def test_three_sentences_say_what_changed(kpi_tables):
    kpis = period_kpis(kpi_tables, as_of="2024-06-30")
    zh = kpi_sentences(kpis)
    assert zh[0] == "本月销售额 120.0 万元，环比 +20.0%，同比 +100.0%。"
    assert "赢单率 75.0%（较上月 +25.0 个百分点）" in zh[1]
    assert zh[2].startswith("流失风险客户 2 位，上月同期 1 位")
    en = kpi_sentences(kpis, "en")
    assert en[0].startswith("Revenue this month is ¥1.20M, +20.0% on last month")
    assert (
        kpi_sentences(period_kpis({}, as_of="2024-06-30"))[2]
        == "没有客户表或订单表，无法计算流失风险客户。"
    )


def test_a_stage_history_without_outcomes_or_amounts_has_no_win_rate_or_pipeline(kpi_tables):
    bare = kpi_tables["stages"].drop(columns=["outcome", "amount"])
    kpis = period_kpis({"stages": bare}, as_of="2024-06-30").set_index("key")
    # lost deals cannot be seen without outcomes, and nothing can be weighed without amounts
    assert pd.isna(kpis.loc["win_rate", "value"]) and pd.isna(kpis.loc["win_rate", "basis"])
    assert pd.isna(kpis.loc["weighted_pipeline", "value"])
    full = period_kpis({"stages": kpi_tables["stages"]}, as_of="2024-06-30").set_index("key")
    assert full.loc["weighted_pipeline", "value"] == 0  # every deal closed: an empty pipeline
