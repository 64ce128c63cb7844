"""profile: summaries, need trends, associations, competitors and personas on hand-made frames."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association as scipy_association

import analysis_kit as ak
from analysis_kit.datasets import make_tables
from analysis_kit.errors import ParameterError
from analysis_kit.profile import (
    association,
    competitor_summary,
    group_summary,
    need_trends,
    personas,
    split_tags,
)
from analysis_kit.tagging import apply_tags

AS_OF = "2024-06-30"


# --- group summary ---------------------------------------------------------------------------------


@pytest.fixture
def budgets():
    return pd.DataFrame(
        {
            "industry_l1": ["制造业", "制造业", "零售", None],
            "grade": ["普通", "重点", "重点", "潜在"],
            "budget_kind": ["range", "from", "negotiable", "up_to"],
            "budget_min": [100_000.0, 500_000.0, np.nan, 0.0],
            "budget_max": [300_000.0, np.nan, np.nan, 50_000.0],
        }
    )


def test_group_summary_by_industry_budget_max(budgets):
    out = group_summary(budgets)
    assert out["industry_l1"].tolist() == ["制造业", "未填写", "零售"]
    assert out["customers"].tolist() == [2, 1, 1]
    assert out["share"].tolist() == [0.5, 0.25, 0.25]
    assert out["budget_known"].tolist() == [2, 1, 0]
    # "50万以上" has no maximum: it counts at its floor of 500,000
    assert out["budget_total"].tolist() == [800_000.0, 50_000.0, 0.0]
    assert out["budget_median"].iloc[:2].tolist() == [400_000.0, 50_000.0]
    assert math.isnan(out["budget_median"].iloc[2])


def test_group_summary_budget_min_and_template_order(budgets):
    out = group_summary(budgets, by="grade", budget_col="budget_min")
    assert out["grade"].tolist() == ["重点", "潜在", "普通"]  # template order, not size
    assert out["budget_total"].tolist() == [500_000.0, 0.0, 100_000.0]


def test_group_summary_two_levels_and_missing_column(budgets):
    out = group_summary(budgets, by=["industry_l1", "grade"])
    assert out["customers"].sum() == 4 and len(out) == 4
    with pytest.raises(ak.SchemaError, match="region"):
        group_summary(budgets, by="region")


# --- need trends -----------------------------------------------------------------------------------


@pytest.fixture
def needs():
    rows = [
        ("C1", "A", "2024-01-05"),
        ("C2", "B", "2024-01-10"),
        ("C3", "B", "2024-01-20"),
        ("C4", "A", "2024-02-01"),
        # no row in March
        ("C5", "A", "2024-04-02"),
        ("C6", "A", "2024-05-03"),
        ("C6", "A", "2024-05-20"),  # the same customer twice in a month counts once
        ("C7", "A", "2024-05-09"),
        ("C8", "B", "2024-06-30"),  # as_of itself counts
        ("C9", "B", "2024-07-01"),  # after as_of: ignored
        ("C10", None, "2024-06-01"),  # no need: ignored
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "need_type", "last_contact_date"])
    return df.assign(last_contact_date=pd.to_datetime(df["last_contact_date"]))


def test_need_trends_change_by_hand(needs):
    trends = need_trends(needs, as_of=AS_OF, window=3, min_customers=4)
    change = trends.change.set_index("need_type")
    # Jan–Mar: 4 customers, A 2 (C1, C4), B 2; Apr–Jun: 4 customers (C5–C8), A 3, B 1
    assert change.loc[
        "A", ["customers_prev", "total_prev", "customers_last", "total_last"]
    ].tolist() == [
        2,
        4,
        3,
        4,
    ]
    assert change.loc["A", "share_prev"] == 0.5 and change.loc["A", "share_last"] == 0.75
    assert change.loc["A", "change_pp"] == pytest.approx(25.0)
    assert change.loc["B", "change_pp"] == pytest.approx(-25.0)
    assert change.loc["A", "sentence"] == "近3个月A需求占比提升25.0个百分点（50.0% → 75.0%）"
    assert change.loc["B", "sentence"] == "近3个月B需求占比下降25.0个百分点（50.0% → 25.0%）"
    assert trends.change["need_type"].tolist() == ["A", "B"]  # biggest rise first
    assert trends.change["reliable"].all()


def test_need_trends_flags_a_small_sample(needs):
    # 4 customers in each window: below the default of 5, the sentence says so
    change = need_trends(needs, as_of=AS_OF, window=3).change.set_index("need_type")
    assert not change["reliable"].any()
    assert change.loc["A", "sentence"] == (
        "近3个月A需求占比提升25.0个百分点（50.0% → 75.0%）"
        "；样本少（前3个月4位、近3个月4位客户），仅供参考"
    )
    assert need_trends(needs, as_of=AS_OF, min_customers=4).change["reliable"].all()


def test_need_trends_monthly_shares(needs):
    monthly = need_trends(needs, as_of=AS_OF).monthly.set_index(["month", "need_type"])
    jan = pd.Period("2024-01", "M")
    assert monthly.loc[(jan, "B"), "customers"] == 2
    assert monthly.loc[(jan, "B"), "share"] == pytest.approx(2 / 3)
    may = pd.Period("2024-05", "M")
    assert monthly.loc[(may, "A"), ["customers", "month_total", "share"]].tolist() == [2, 2, 1.0]
    assert math.isnan(monthly.loc[(pd.Period("2024-03", "M"), "A"), "share"])
    months = monthly.index.get_level_values("month")
    assert months.max() == pd.Period("2024-06", "M")  # July is after as_of


def test_need_trends_window_without_earlier_data(needs):
    trends = need_trends(needs, as_of="2024-02-29", window=1)
    a = trends.change.set_index("need_type").loc["A"]
    assert a["share_prev"] == pytest.approx(1 / 3) and a["share_last"] == 1.0
    early = need_trends(needs, as_of="2024-01-31", window=1).change
    assert early["sentence"].str.contains("无数据").all()
    with pytest.raises(ValueError, match="window"):
        need_trends(needs, as_of=AS_OF, window=0)


def _late_day_needs():
    """As of June 30: C1 (A) on June 1, C2 (B) at 09:15 and C3 (B) at 23:59 on June 30; C4 (A)
    at midnight on July 1 is after the as-of day."""
    rows = [
        ("C1", "A", "2024-06-01 00:00"),
        ("C2", "B", "2024-06-30 09:15"),
        ("C3", "B", "2024-06-30 23:59"),
        ("C4", "A", "2024-07-01 00:00"),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "need_type", "last_contact_date"])
    return df.assign(last_contact_date=pd.to_datetime(df["last_contact_date"], format="ISO8601"))


def test_need_trends_counts_every_row_on_the_as_of_day():
    monthly = need_trends(_late_day_needs(), as_of=AS_OF, window=1).monthly
    june = monthly[monthly["month"] == pd.Period("2024-06", "M")].set_index("need_type")
    assert june["customers"].to_dict() == {"A": 1, "B": 2}
    assert monthly["month"].max() == pd.Period("2024-06", "M")


# A zoned as-of is read on its own wall clock: 23:00 in New York on June 30 is June 30 (July 1 in
# UTC) and 02:00 in Shanghai on July 1 is July 1 (June 30 in UTC).
@pytest.mark.parametrize(
    ("as_of", "day"),
    [("2024-06-30T23:00-05:00", "2024-06-30"), ("2024-07-01T02:00+08:00", "2024-07-01")],
)
def test_need_trends_zoned_as_of_is_its_local_day(as_of, day):
    got = need_trends(_late_day_needs(), as_of=as_of, window=1)
    expected = need_trends(_late_day_needs(), as_of=day, window=1)
    pd.testing.assert_frame_equal(got.monthly, expected.monthly)
    pd.testing.assert_frame_equal(got.change, expected.change)


def test_need_trends_bad_as_of_names_the_parameter_and_the_value():
    with pytest.raises(ParameterError, match=r"as_of must be a date .*got 'Q2'"):
        need_trends(_late_day_needs(), as_of="Q2")


# --- association -----------------------------------------------------------------------------------


def _from_counts(counts, rows, cols, row="industry_l1", col="need_type"):
    records = []
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            records += [(r, c)] * counts[i][j]
    return pd.DataFrame(records, columns=[row, col])


def test_cramers_v_2x2_by_hand_and_against_scipy():
    counts = [[10, 20], [30, 5]]
    df = _from_counts(counts, ["制造业", "零售"], ["CRM", "ERP"])
    (a, b), (c, d) = counts
    n = a + b + c + d
    chi2 = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    result = association(df)
    assert result.n == n and result.dof == 1
    assert result.chi2 == pytest.approx(chi2)
    assert result.cramers_v == pytest.approx(math.sqrt(chi2 / n))
    assert result.cramers_v == pytest.approx(scipy_association(np.array(counts), method="cramer"))
    # a 2x2 table's adjusted residuals are all ±sqrt(chi2)
    assert np.abs(result.residuals.to_numpy()) == pytest.approx(np.full((2, 2), math.sqrt(chi2)))
    assert len(result.pairs) == 4
    top = result.pairs.set_index(["industry_l1", "need_type"])
    assert top.loc[("零售", "CRM"), "direction"] == "偏高"
    assert top.loc[("零售", "CRM"), "observed"] == 30
    # bias-corrected (Bergsma): phi2 - (r-1)(c-1)/(n-1), r~ = c~ = 2 - 1/(n-1)
    phi2c = chi2 / n - 1 / (n - 1)
    tilde = 2 - 1 / (n - 1)
    corrected = association(df, bias_corrected=True)
    assert corrected.cramers_v == pytest.approx(math.sqrt(phi2c / (tilde - 1)))
    assert corrected.chi2 == pytest.approx(chi2)


def test_cramers_v_3x4_against_scipy_and_p_value():
    counts = [[12, 3, 7, 1], [2, 15, 4, 6], [5, 5, 9, 11]]
    df = _from_counts(counts, ["制造业", "零售", "医疗"], ["BI", "CRM", "ERP", "OA"])
    result = association(df)
    assert result.cramers_v == pytest.approx(scipy_association(np.array(counts), method="cramer"))
    from scipy.stats import chi2_contingency

    expected = chi2_contingency(np.array(counts), correction=False)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.table.loc["零售", "CRM"] == 15


def test_independent_table_has_v_zero_and_no_pairs():
    df = _from_counts([[5, 5], [10, 10]], ["x", "y"], ["p", "q"])
    result = association(df)
    assert result.cramers_v == pytest.approx(0.0)
    assert result.p_value == pytest.approx(1.0)
    assert result.pairs.empty


def test_association_explodes_concern_tags():
    df = pd.DataFrame(
        {
            "industry_l1": ["制造业", "制造业", "零售", "零售", None],
            "need_tags": [
                "降本增效、数据安全",
                "降本增效",
                "数据安全，移动端",
                "移动端;移动端",
                "降本增效",
            ],
        }
    )
    result = association(df, col="need_tags")
    table = result.table
    assert table.loc["制造业"].to_dict() == {"数据安全": 1, "移动端": 0, "降本增效": 2}
    assert table.loc["零售"].to_dict() == {"数据安全": 1, "移动端": 2, "降本增效": 0}
    assert result.n == 6
    # without splitting, each whole cell is a category
    whole = association(df, col="need_tags", explode=[])
    assert "降本增效、数据安全" in whole.table.columns


def test_association_degenerate_table_is_nan():
    df = pd.DataFrame({"industry_l1": ["制造业"] * 3, "need_type": ["BI", "CRM", "BI"]})
    result = association(df)
    assert math.isnan(result.cramers_v) and math.isnan(result.p_value) and result.pairs.empty


def test_split_tags():
    out = split_tags(pd.Series(["a、b", None, "c，c; d", " "], index=[10, 11, 12, 13]))
    assert out.index.tolist() == [10, 10, 12, 12]
    assert out.tolist() == ["a", "b", "c", "d"]


# --- competitors -----------------------------------------------------------------------------------


@pytest.fixture
def rivals():
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
            "competitor": ["星河云、云图BI", "星河云", None, None, None, "云图BI", None],
            "competitor_contact": pd.array(
                [True, True, True, False, False, None, False], dtype="boolean"
            ),
            "stage": ["成交", "商务谈判", "售后维护", "成交", "初次接洽", "成交", "需求确认"],
        }
    )


def test_competitor_summary_from_customers(rivals):
    out = competitor_summary(rivals)
    assert out.comparing_share == pytest.approx(4 / 7)  # C1, C2, C3 and C6 (named)
    table = out.table.set_index("competitor")
    assert out.table["competitor"].tolist() == ["云图BI", "星河云"]
    assert table.loc["星河云", ["customers", "deals", "wins"]].tolist() == [2, 2, 1]
    assert table.loc["星河云", "share_of_customers"] == pytest.approx(2 / 7)
    assert table.loc["星河云", "share_of_comparing"] == pytest.approx(2 / 4)
    assert table.loc["云图BI", "win_rate"] == 1.0
    overall = out.overall.set_index("with_competitor")
    assert overall.loc[True, ["deals", "wins"]].tolist() == [4, 3]
    assert overall.loc[False, ["deals", "wins"]].tolist() == [3, 1]
    assert overall.loc[False, "win_rate"] == pytest.approx(1 / 3)
    assert out.deal_source == "customers"


def test_competitor_summary_with_stage_history_and_market(rivals):
    stages = pd.DataFrame(
        {
            "opportunity_id": ["OP1", "OP1", "OP2", "OP3", "OP4", "OP5"],
            "customer_id": ["C1", "C1", "C2", "C4", "C5", "C1"],
            "stage": ["初次接洽", "成交", "商务谈判", "成交", "需求确认", "方案提交"],
            "entered_at": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-01", "2024-04-01", "2024-05-01"]
            ),
            "outcome": ["open", "won", "lost", "won", "open", "lost"],
        }
    )
    market = pd.DataFrame(
        {
            "industry": ["制造业", "金融", "制造业"],
            "competitor": ["星河云", "星河云", "数智通"],
            "market_share": [0.2, 0.3, 0.1],
            "pricing": ["按容量计费", "按容量计费", "项目制"],
            "strengths": ["价格低", "弹性好", "案例多"],
            "weaknesses": ["方案少", "方案少", "周期长"],
        }
    )
    out = competitor_summary(rivals, stages=stages, market=market)
    overall = out.overall.set_index("with_competitor")
    assert overall.loc[True, ["deals", "wins"]].tolist() == [3, 1]  # OP1 won, OP2 & OP5 lost
    assert overall.loc[False, ["deals", "wins"]].tolist() == [1, 1]  # OP3; OP4 still open
    table = out.table.set_index("competitor")
    assert table.loc["星河云", ["deals", "wins"]].tolist() == [3, 1]
    assert table.loc["云图BI", ["deals", "wins"]].tolist() == [2, 1]
    assert table.loc["星河云", "market_share"] == pytest.approx(0.25)
    assert table.loc["星河云", "industries"] == "制造业；金融"
    assert table.loc["星河云", "strengths"] == "价格低；弹性好"
    assert table.loc["星河云", "weaknesses"] == "方案少"
    assert table.loc["数智通", "customers"] == 0 and table.loc["数智通", "pricing"] == "项目制"
    assert math.isnan(table.loc["云图BI", "market_share"])


# --- personas --------------------------------------------------------------------------------------


def test_personas_modes_and_description():
    df = pd.DataFrame(
        {
            "grade": ["重点", "重点", "重点", "普通"],
            "industry_l1": ["制造业", "制造业", "零售", None],
            "company_size": ["中型", "中型", "大型", "小型"],
            "region": ["华东-上海", "华北-北京", "华东-上海", "华南-深圳"],
            "need_type": ["BI", "BI", "CRM", "CRM"],
            "need_tags": ["降本增效、数据安全", "降本增效", "降本增效、移动端", None],
            "decision_process": ["总经理直接决策"] * 4,
            "employees": [100.0, 200.0, 600.0, 20.0],
            "budget_max": [100_000.0, 300_000.0, np.nan, 50_000.0],
        }
    )
    out = personas(df).set_index("grade")
    assert out.index.tolist() == ["重点", "普通"]
    key = out.loc["重点"]
    assert key[
        ["customers", "industry_l1", "company_size", "region", "need_type", "need_tags"]
    ].tolist() == [
        3,
        "制造业",
        "中型",
        "华东-上海",
        "BI",
        "降本增效",
    ]
    assert key["employees_median"] == 200.0 and key["budget_median"] == 200_000.0
    assert key["description"] == "制造业中型企业，关注降本增效，主要需求BI"
    assert out.loc["普通", "description"] == "小型企业，关注CRM"
    assert out["share"].tolist() == [0.75, 0.25]


# --- immutability and end to end -------------------------------------------------------------------


def test_end_to_end_on_generated_tables():
    tables = make_tables(n_customers=150, random_state=7)
    clean = {
        t: ak.clean_table(tables[t], table=t, as_of=AS_OF).clean
        for t in ("customers", "stages", "market", "orders", "followups")
    }
    customers = clean["customers"]
    before = {t: clean[t].copy() for t in clean}

    for by in ("industry_l1", "industry_l2", "grade", "need_type", "region", "owner"):
        summary = group_summary(customers, by=by)
        assert summary["customers"].sum() == len(customers)
        assert summary["share"].sum() == pytest.approx(1.0)

    trends = need_trends(customers, as_of=AS_OF)
    shares = trends.monthly.groupby("month")["share"].sum(min_count=1).dropna()
    assert np.allclose(shares, 1.0)  # one need per customer: shares add up each month
    assert trends.change["sentence"].str.startswith("近3个月").all()

    result = association(customers)
    table = result.table.to_numpy()
    assert result.cramers_v == pytest.approx(scipy_association(table, method="cramer"))
    assert 0 <= result.p_value <= 1
    concerns = association(customers, col="need_tags")
    assert concerns.n >= len(customers.dropna(subset=["need_tags", "industry_l1"]))

    rivals = competitor_summary(customers, stages=clean["stages"], market=clean["market"])
    assert rivals.overall["deals"].sum() > 0
    assert set(rivals.table["competitor"]) >= set(clean["market"]["competitor"].dropna())
    plain = competitor_summary(customers)
    assert plain.overall["deals"].sum() == len(customers)

    tagged = apply_tags(
        customers, orders=clean["orders"], followups=clean["followups"], as_of=AS_OF
    )
    for by in ("grade", "size_tier", "value_grade_calc"):
        people = personas(tagged, by=by)
        assert people["customers"].sum() == len(customers)
        assert people["description"].str.contains("企业").all()

    for t in clean:
        pd.testing.assert_frame_equal(clean[t], before[t])


def test_need_trend_sentences_in_english(needs):
    zh = need_trends(needs, as_of=AS_OF, window=3).change
    en = need_trends(needs, as_of=AS_OF, window=3, lang="en").change
    pd.testing.assert_frame_equal(zh.drop(columns="sentence"), en.drop(columns="sentence"))
    assert en.set_index("need_type").loc["A", "sentence"] == (
        "A: share up 25.0 points over the last 3 months (50.0% → 75.0%); small sample "
        "(customers: 4 in the 3 months before, 4 in the last 3): indicative only"
    )
    with pytest.raises(ValueError, match="lang"):
        need_trends(needs, as_of=AS_OF, lang="de")


def test_association_doubts_say_when_pairs_are_chance():
    # a strong link on many customers: significant, no cell expects fewer than 5
    strong = _from_counts([[40, 10], [10, 40]], ["x", "y"], ["p", "q"])
    result = association(strong)
    assert result.p_value < 0.05 and result.doubts() == []
    assert set(result.pairs["direction"]) == {"偏高", "偏低"}
    assert set(association(strong, lang="en").pairs["direction"]) == {"over", "under"}
    # the same proportions on a tenth of the customers: not significant, small cells
    weak = _from_counts([[4, 1], [1, 4]], ["x", "y"], ["p", "q"])
    assert association(weak).p_value >= 0.05
    assert association(weak).doubts() == ["not_significant", "small_expected"]
    # split concern tags count a customer in several cells
    tags = pd.DataFrame(
        {"industry_l1": ["制造业", "零售"] * 40, "need_tags": ["降本增效、数据安全", "移动端"] * 40}
    )
    assert "split_cells" in association(tags, col="need_tags").doubts()


def test_competitor_and_persona_words_in_english(rivals):
    en = competitor_summary(rivals, lang="en").overall
    zh = competitor_summary(rivals).overall
    assert en["label"].tolist() == ["with a competitor", "no competitor"]
    pd.testing.assert_frame_equal(zh.drop(columns="label"), en.drop(columns="label"))
    df = pd.DataFrame(
        {
            "grade": ["重点", "重点"],
            "industry_l1": ["制造业", "制造业"],
            "company_size": ["中型", "中型"],
            "need_type": ["BI", "BI"],
            "need_tags": ["降本增效", "降本增效"],
        }
    )
    line = personas(df, lang="en")["description"].item()
    assert line == "制造业 中型 company, focused on 降本增效, main need BI"
    assert personas(df)["description"].item() == "制造业中型企业，关注降本增效，主要需求BI"
