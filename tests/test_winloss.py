"""Tests for analysis_kit.winloss: loss reasons and win rates, checked against plain pandas."""

import numpy as np
import pandas as pd
import pytest

from analysis_kit.cleaning import clean_table
from analysis_kit.datasets import make_tables
from analysis_kit.funnel import deal_summary
from analysis_kit.winloss import NO_COMPETITOR, loss_reasons, win_rates, with_competitors

CARRY = ["customer_id", "owner", "lead_source", "lost_reason"]


@pytest.fixture(scope="module")
def pipeline():
    tables = make_tables(n_customers=120, messy=True, random_state=21)
    stages = clean_table(tables["stages"], table="stages", as_of="2024-06-30").clean
    customers = clean_table(tables["customers"], table="customers", as_of="2024-06-30").clean
    deals = deal_summary(stages, carry=CARRY, as_of="2024-06-30")
    return stages, customers, deals


def _plain_deals(stages: pd.DataFrame) -> pd.DataFrame:
    """One row per opportunity by hand: the last recorded outcome, first reason, last amount."""
    rows = stages.sort_values(["opportunity_id", "entered_at"], kind="stable")
    out = rows.groupby("opportunity_id").agg(
        outcome=("outcome", lambda s: s.dropna().iloc[-1] if s.notna().any() else None),
        lost_reason=("lost_reason", lambda s: s.dropna().iloc[0] if s.notna().any() else None),
        amount=("amount", lambda s: s.dropna().iloc[-1] if s.notna().any() else np.nan),
        owner=("owner", lambda s: s.dropna().iloc[0] if s.notna().any() else None),
    )
    return out


def test_loss_reasons_count_each_lost_deal_once_like_plain_pandas(pipeline):
    stages, _, deals = pipeline
    plain = _plain_deals(stages)
    lost = plain[plain["outcome"] == "lost"]
    assert len(lost) > 10 and len(stages[stages["outcome"] == "lost"]) > len(lost)  # rows repeat
    reason = lost["lost_reason"].map(lambda v: " ".join(str(v).split()) if v else None)
    expected = (
        lost.assign(reason=reason.fillna("未填写"))
        .groupby("reason")
        .agg(n=("amount", "size"), amount=("amount", "sum"))
    )
    table = loss_reasons(deals).set_index("lost_reason")
    assert table["lost_deals"].to_dict() == expected["n"].to_dict()
    pd.testing.assert_series_equal(
        table["lost_amount"].sort_index(), expected["amount"].sort_index(), check_names=False
    )
    assert table["lost_deals"].sum() == len(lost)
    assert table["lost_share"].sum() == pytest.approx(1.0)
    assert table["lost_amount_share"].sum() == pytest.approx(1.0)
    counts = table["lost_deals"].tolist()
    assert counts == sorted(counts, reverse=True)  # most lost deals first


def test_a_blank_reason_is_counted_not_dropped():
    deals = pd.DataFrame(
        {
            "outcome": ["lost", "lost", "lost", "won"],
            "lost_reason": ["价格高于竞品", "价格高于竞品　", None, None],  # a full-width space
            "amount": [100.0, 50.0, 20.0, 999.0],
            "stage": ["商务谈判", "方案提交", "商务谈判", "成交"],
        }
    )
    table = loss_reasons(deals, lang="en")
    assert table[["lost_reason", "lost_deals", "lost_amount"]].values.tolist() == [
        ["价格高于竞品", 2, 150.0],
        ["not given", 1, 20.0],
    ]
    by_stage = loss_reasons(deals, by="stage")
    assert by_stage["lost_deals"].sum() == 3
    at = by_stage.set_index(["stage", "lost_reason"])
    assert at.loc[("商务谈判", "未填写"), "lost_share"] == pytest.approx(0.5)  # 1 of 2 there
    assert at.loc[("方案提交", "价格高于竞品"), "lost_share"] == 1.0
    empty = loss_reasons(deals[deals["outcome"] == "won"])
    assert empty.empty and "lost_share" in empty.columns


def test_win_rates_by_owner_like_plain_pandas(pipeline):
    stages, _, deals = pipeline
    plain = _plain_deals(stages)
    table = win_rates(deals, "owner").set_index("owner")
    for owner, rows in plain.groupby("owner"):
        won = int((rows["outcome"] == "won").sum())
        lost = int((rows["outcome"] == "lost").sum())
        assert (table.loc[owner, "won"], table.loc[owner, "lost"]) == (won, lost), owner
        if won + lost:
            assert table.loc[owner, "win_rate"] == pytest.approx(won / (won + lost))
        assert table.loc[owner, "indicative"] == (won + lost < 5)
    assert table["deals"].sum() == len(deals)


def test_win_rates_against_each_competitor(pipeline):
    _, customers, deals = pipeline
    rows = with_competitors(deals, customers)
    # every deal is there at least once; a deal whose customer named k competitors k times
    assert set(rows["opportunity_id"]) == set(deals["opportunity_id"])
    named = customers.set_index("customer_id")["competitor"].dropna()
    many = named[named.str.contains("、")]
    if len(many):
        customer = many.index[0]
        k = len([p for p in many.iloc[0].split("、") if p.strip()])
        per_deal = rows[rows["customer_id"] == customer].groupby("opportunity_id").size()
        assert (per_deal == k).all()
    table = win_rates(rows, "competitor").set_index("competitor")
    assert NO_COMPETITOR["zh"] in table.index
    assert "无" not in table.index  # 无 names no competitor
    assert table["deals"].sum() == len(rows)


def test_with_competitors_reads_none_words_and_several_names():
    deals = pd.DataFrame(
        {
            "opportunity_id": ["A", "B", "C", "D"],
            "customer_id": ["C1", "C2", "C3", "C9"],
            "outcome": ["won", "lost", "lost", "won"],
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ["C1", "C2", "C3"], "competitor": ["星河云、 云图BI", "无", None]}
    )
    rows = with_competitors(deals, customers, lang="en")
    assert rows[["opportunity_id", "competitor"]].values.tolist() == [
        ["A", "星河云"],
        ["A", "云图BI"],
        ["B", "no competitor"],
        ["C", "no competitor"],
        ["D", "no competitor"],  # a customer not in the table named none
    ]
    table = win_rates(rows, "competitor", min_closed=1).set_index("competitor")
    assert table.loc["no competitor", ["won", "lost"]].tolist() == [1, 2]
    assert table.loc["星河云", "win_rate"] == 1.0
    with pytest.raises(ValueError, match="min_closed"):
        win_rates(rows, "competitor", min_closed=0)
