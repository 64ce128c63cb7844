"""tagging: every rule and boundary on hand-made frames, rules as data, filters as data."""

import duckdb
import pandas as pd
import polars as pl
import pytest

import analysis_kit as ak
from analysis_kit._frames import as_pandas
from analysis_kit.datasets import make_tables
from analysis_kit.errors import ParameterError
from analysis_kit.tagging import (
    DEFAULT_RULES,
    FilterError,
    apply_tags,
    call_list,
    filter_customers,
    merge_rules,
    overdue_list,
    purchase_stats,
)

AS_OF = "2024-06-30"


def _customers(n, **columns):
    base = {"customer_id": [f"C{i}" for i in range(1, n + 1)]}
    base.update(columns)
    return pd.DataFrame(base)


def _orders(rows):
    """rows: (customer_id, order_id, date, amount)."""
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "order_date", "amount"]).assign(
        order_date=lambda d: pd.to_datetime(d["order_date"])
    )


def _followups(rows):
    return pd.DataFrame(rows, columns=["customer_id", "followup_date"]).assign(
        followup_date=lambda d: pd.to_datetime(d["followup_date"])
    )


# --- rules as data ---------------------------------------------------------------------------------


def test_merge_rules_partial_and_nested_without_touching_defaults():
    before = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_RULES.items()}
    merged = merge_rules({"high_value_amount": 200_000, "followup_days": {"高": 3}})
    assert merged["high_value_amount"] == 200_000
    assert merged["followup_days"] == {"高": 3, "中": 14, "低": 30}
    assert merged["size_large_min"] == 500
    assert DEFAULT_RULES == before


def test_unknown_rule_is_an_error_naming_it():
    with pytest.raises(KeyError, match="high_valu_amount"):
        merge_rules({"high_valu_amount": 1})


# --- size tier -------------------------------------------------------------------------------------


def test_size_tier_boundaries():
    c = _customers(6, employees=[500, 499, 50, 49, 0, None])
    out = apply_tags(c, as_of=AS_OF)
    assert out["size_tier"].astype("object").tolist()[:5] == [
        "大型",
        "中小型",
        "中小型",
        "微型",
        "微型",
    ]
    assert pd.isna(out["size_tier"].iloc[5])
    assert out["size_tier_en"].astype("object").tolist()[:4] == ["large", "SME", "SME", "micro"]
    assert out["size_tier"].cat.ordered
    assert list(out["size_tier"].cat.categories) == ["微型", "中小型", "大型"]


def test_size_tier_from_the_company_size_as_written():
    raw = pd.DataFrame(
        {
            "客户名称": [f"客户{i}" for i in range(9)],
            "客户规模": [
                "员工100-500人，年营收5000万-1亿",  # the template's own example
                "50人以下",
                "500人以上",
                "1000+",
                "20-200人",  # across a threshold: no tier
                "大型企业",
                "小型",  # names no tier of the rule
                "看情况",
                "员工30人",
            ],
            "员工人数": [None, None, None, None, None, None, None, None, "800"],
        }
    )
    customers = ak.clean_table(raw, table="customers").clean
    out = apply_tags(customers, as_of=AS_OF)
    assert out["size_tier"].astype("object").where(out["size_tier"].notna(), None).tolist() == [
        "中小型",
        "微型",
        "大型",
        "大型",
        None,
        "大型",
        None,
        None,
        "大型",  # the headcount column wins over the size text
    ]
    assert out["size_tier_basis"].astype("object").fillna("none").tolist() == [
        "employees_range",
        "employees_range",
        "employees_range",
        "employees_range",
        "none",
        "word",
        "none",
        "none",
        "employees",
    ]


def test_size_tier_thresholds_and_labels_overridable():
    c = _customers(2, employees=[300, 299])
    out = apply_tags(c, as_of=AS_OF, rules={"size_large_min": 300, "size_labels": {"sme": "中型"}})
    assert out["size_tier"].astype("object").tolist() == ["大型", "中型"]


# --- high value ------------------------------------------------------------------------------------


def test_high_value_amount_boundary_and_window_edges():
    c = _customers(5)
    o = _orders(
        [
            ("C1", "O1", "2024-01-10", 100_000.0),  # exactly the threshold -> high value
            ("C2", "O2", "2024-01-10", 99_999.0),  # just below
            (
                "C3",
                "O3",
                "2023-06-30",
                150_000.0,
            ),  # exactly 12 months before as_of: previous window
            ("C3", "O4", "2024-07-01", 150_000.0),  # after as_of: ignored
            ("C4", "O5", "2023-07-01", 60_000.0),  # first day of the window
            ("C4", "O6", "2024-06-30", 40_000.0),  # as_of itself is included
            ("C5", "O7", "2024-02-01", 130_000.0),
            ("C5", "O7-R", "2024-03-01", -40_000.0),  # refund netted: 90,000
        ]
    )
    out = apply_tags(c, orders=o, as_of=AS_OF)
    assert out["high_value"].tolist() == [True, False, False, True, False]
    assert out["purchases_12m"].tolist() == [100_000, 99_999, 0, 100_000, 90_000]
    assert out["purchases_prev_12m"].tolist() == [0, 0, 150_000, 0, 0]
    assert out.loc[0, "high_value_reason"] == "近12个月采购 ¥100,000 ≥ ¥100,000"
    assert pd.isna(out.loc[1, "high_value_reason"])


def test_high_value_reason_example_from_the_issue():
    out = apply_tags(
        _customers(1), orders=_orders([("C1", "O1", "2024-05-01", 126_000.0)]), as_of=AS_OF
    )
    assert out.loc[0, "high_value_reason"] == "近12个月采购 ¥126,000 ≥ ¥100,000"


def test_high_value_repeat_purchases_boundary():
    # over all history C1: 4 orders = 3 repeat purchases; C2: 3 orders = 2; C3: a refund line is
    # no order. All of them years ago: the template's rule counts the last 12 months only.
    rows = [("C1", f"A{i}", f"202{i}-03-01", 1_000.0) for i in range(4)]
    rows += [("C2", f"B{i}", f"202{i}-03-01", 1_000.0) for i in range(3)]
    rows += [("C3", f"D{i}", f"202{i}-03-01", 1_000.0) for i in range(3)]
    rows += [("C3", "D2-R", "2022-04-01", -500.0)]
    out = apply_tags(_customers(3), orders=_orders(rows), as_of=AS_OF)
    assert out["repeat_purchases"].tolist() == [3, 2, 2]
    assert out["repeat_purchases_12m"].tolist() == [0, 0, 0]  # C1's 2023-03-01 is 16 months ago
    assert out["high_value"].tolist() == [False, False, False]
    history = apply_tags(
        _customers(3), orders=_orders(rows), as_of=AS_OF, rules={"high_value_repeat_scope": "all"}
    )
    assert history["high_value"].tolist() == [True, False, False]
    assert history.loc[0, "high_value_reason"] == "复购 3 次 ≥ 3 次（共 4 笔订单）"


def test_high_value_repeat_purchases_count_the_last_12_months():
    # C1: first order 2020, three more in the window: 3 repeat purchases there (the first is old)
    # C2: four orders, all in the window: the first of them is its first ever, so 3 repeats
    # C3: three orders in the window and one a year and a half ago: 3 repeats, 2 would not do
    rows = [("C1", "A0", "2020-05-01", 1_000.0)]
    rows += [("C1", f"A{i}", f"2024-0{i}-10", 1_000.0) for i in (1, 2, 3)]
    rows += [("C2", f"B{i}", f"2023-{m}-10", 1_000.0) for i, m in enumerate(("08", "10", "12"))]
    rows += [("C2", "B3", "2024-02-10", 1_000.0)]
    rows += [("C3", "D0", "2022-12-01", 1_000.0)]
    rows += [("C3", f"D{i}", f"2024-0{i}-10", 1_000.0) for i in (4, 5)]
    out = apply_tags(_customers(3), orders=_orders(rows), as_of=AS_OF)
    assert out["repeat_purchases_12m"].tolist() == [3, 3, 2]
    assert out["high_value"].tolist() == [True, True, False]
    assert out.loc[0, "high_value_reason"] == "近12个月复购 3 次 ≥ 3 次（近12个月共 3 笔订单）"
    with pytest.raises(ValueError, match="high_value_repeat_scope"):
        apply_tags(
            _customers(1), orders=_orders(rows), as_of=AS_OF, rules={"high_value_repeat_scope": "x"}
        )


def test_both_high_value_rules_are_listed():
    rows = [("C1", f"O{i}", f"2024-0{i + 1}-01", 50_000.0) for i in range(4)]
    out = apply_tags(_customers(1), orders=_orders(rows), as_of=AS_OF)
    assert out.loc[0, "high_value_reason"] == (
        "近12个月采购 ¥200,000 ≥ ¥100,000；近12个月复购 3 次 ≥ 3 次（近12个月共 4 笔订单）"
    )


def test_as_of_with_a_time_counts_the_whole_day():
    o = _orders([("C1", "O1", "2024-06-30 18:00", 100_000.0)])
    out = apply_tags(_customers(1), orders=o, as_of="2024-06-30 09:00")
    assert out["high_value"].tolist() == [True]


def test_order_without_order_id_counts_customer_days():
    o = _orders([("C1", None, f"2024-0{m}-01", 10.0) for m in (1, 2, 3, 4)]).drop(
        columns="order_id"
    )
    out = apply_tags(_customers(1), orders=o, as_of=AS_OF)
    assert out["repeat_purchases"].tolist() == [3]
    # a line without an id is a purchase of its own day
    o = _orders([("C1", "A", "2024-01-01", 10.0), ("C1", None, "2024-02-01", 10.0)])
    assert apply_tags(_customers(1), orders=o, as_of=AS_OF)["repeat_purchases"].tolist() == [1]


def test_high_value_and_potential_rules_overridden():
    o = _orders([("C1", "A", "2024-01-01", 100_000.0)])
    f = _followups([("C1", "2024-06-01")])
    c = _customers(1, stage=["初次接洽"])
    out = apply_tags(c, orders=o, followups=f, as_of=AS_OF)
    assert out["high_value"].tolist() == [True]
    assert out["potential"].tolist() == [False]  # one follow-up, and bought
    out = apply_tags(c, orders=o, as_of=AS_OF, rules={"high_value_amount": 200_000})
    assert out["high_value"].tolist() == [False]
    out = apply_tags(
        c, orders=o.iloc[:0], followups=f, as_of=AS_OF, rules={"potential_followups": 1}
    )
    assert out["potential"].tolist() == [True]
    assert out.loc[0, "potential_reason"] == "近3个月跟进 1 次 ≥ 1 次且未成交"


# --- potential -------------------------------------------------------------------------------------


def test_potential_followups_without_a_deal():
    c = _customers(
        5, stage=pd.Categorical(["需求确认", "需求确认", "成交", "需求确认", "需求确认"])
    )
    f = _followups(
        [
            ("C1", "2024-04-01"),
            ("C1", "2024-06-29"),  # 2 in the window -> potential
            ("C2", "2024-03-30"),  # exactly 3 months before: outside the window
            ("C2", "2024-06-01"),
            ("C3", "2024-05-01"),
            ("C3", "2024-06-01"),  # 2, but stage 成交 -> a deal
            ("C4", "2024-05-01"),
            ("C4", "2024-06-01"),  # 2, but bought -> a deal
            ("C5", "2024-03-31"),
            ("C5", "2024-07-05"),  # after as_of: ignored
        ]
    )
    o = _orders([("C4", "O1", "2021-01-01", 10.0)])
    out = apply_tags(c, orders=o, followups=f, as_of=AS_OF)
    assert out["followups_recent"].tolist() == [2, 1, 2, 2, 1]
    assert out["potential"].tolist() == [True, False, False, False, False]
    assert out.loc[0, "potential_reason"] == "近3个月跟进 2 次 ≥ 2 次且未成交"


def test_potential_purchases_growing():
    o = _orders(
        [
            ("C1", "A1", "2023-01-01", 10_000.0),
            ("C1", "A2", "2024-01-01", 20_000.0),  # growing
            ("C2", "B1", "2023-01-01", 10_000.0),
            ("C2", "B2", "2024-01-01", 10_000.0),  # flat
            ("C3", "D1", "2024-01-01", 10_000.0),  # new buyer: no baseline, not "growing"
        ]
    )
    out = apply_tags(_customers(3), orders=o, followups=_followups([]), as_of=AS_OF)
    assert out["potential"].tolist() == [True, False, False]
    assert out.loc[0, "potential_reason"] == "采购增长：近12个月 ¥20,000 > 前12个月 ¥10,000"


def test_potential_unknown_without_followups_but_growth_still_fires():
    o = _orders([("C1", "A1", "2023-01-01", 1.0), ("C1", "A2", "2024-01-01", 2.0)])
    out = apply_tags(_customers(2), orders=o, as_of=AS_OF)
    assert out["potential"].iloc[0]
    assert pd.isna(out["potential"].iloc[1])
    assert out.loc[1, "potential_reason"] == "无跟进记录数据"


# --- churn risk ------------------------------------------------------------------------------------


def test_churn_silence_boundary_six_months():
    c = _customers(
        4,
        last_contact_date=pd.to_datetime(["2023-12-30", "2023-12-31", "2023-06-01", None]),
    )
    f = _followups([("C3", "2024-05-01")])  # a later follow-up counts as contact
    out = apply_tags(c, orders=_orders([]), followups=f, as_of=AS_OF)
    assert out["churn_risk"].iloc[:3].tolist() == [True, False, False]
    assert pd.isna(out["churn_risk"].iloc[3])  # no contact date at all: unknown
    assert out.loc[3, "churn_risk_reason"] == "无沟通日期"
    assert out.loc[0, "churn_risk_reason"] == "已 183 天未跟进（最近 2023-12-30，≥ 6个月）"
    assert out["last_contact"].iloc[2] == pd.Timestamp("2024-05-01")


def test_churn_year_on_year_drop_boundary():
    c = _customers(4, last_contact_date=pd.to_datetime([AS_OF] * 4))
    o = _orders(
        [
            ("C1", "A1", "2023-01-01", 100_000.0),
            ("C1", "A2", "2024-01-01", 50_000.0),  # exactly -50% -> churn risk
            ("C2", "B1", "2023-01-01", 100_000.0),
            ("C2", "B2", "2024-01-01", 50_001.0),  # -49.999%
            ("C3", "D1", "2024-01-01", 10.0),  # nothing the year before: not applicable
            ("C4", "E1", "2022-06-30", 10.0),  # exactly 24 months before: outside both windows
        ]
    )
    out = apply_tags(c, orders=o, as_of=AS_OF)
    assert out["churn_risk"].tolist() == [True, False, False, False]
    assert out.loc[0, "churn_risk_reason"] == (
        "采购同比下降 50%（近12个月 ¥50,000，前12个月 ¥100,000）≥ 50%"
    )


def test_churn_rules_overridden():
    c = _customers(1, last_contact_date=pd.to_datetime(["2024-03-30"]))
    assert apply_tags(c, orders=_orders([]), as_of=AS_OF)["churn_risk"].tolist() == [False]
    out = apply_tags(c, as_of=AS_OF, rules={"churn_silent_months": 3})
    assert out["churn_risk"].tolist() == [True]


# --- value grade and potential rating --------------------------------------------------------------


def test_value_grade_boundaries():
    o = _orders(
        [
            ("C1", "A", "2024-01-01", 500_000.0),
            ("C2", "B", "2024-01-01", 499_999.0),
            ("C3", "D", "2024-01-01", 100_000.0),
            ("C4", "E", "2024-01-01", 99_999.0),
        ]
    )
    out = apply_tags(_customers(5), orders=o, as_of=AS_OF)
    assert out["value_grade_calc"].tolist() == ["高", "中", "中", "低", "低"]
    out = apply_tags(_customers(5), orders=o, as_of=AS_OF, rules={"value_mid": 50_000})
    assert out["value_grade_calc"].tolist() == ["高", "中", "中", "中", "低"]
    assert apply_tags(_customers(1), as_of=AS_OF)["value_grade_calc"].isna().all()


def test_potential_rating_rules():
    c = _customers(
        8,
        match_score=pd.array([4, 5, 2, 2, 4, 4, 4, None], dtype="Int64"),
        need_type=["BI", "BI", "BI", "BI", "BI", "BI", None, "BI"],
        need_description=["x", "x", "x", "x", "x", None, "x", "x"],
        budget_kind=["exact", "negotiable", "range", None, "up_to", "exact", "exact", None],
        budget_min=[100_000, None, 100_000, None, 0, 300_000, 300_000, None],
        budget_max=[100_000, None, 200_000, None, 50_000, 300_000, 300_000, None],
    )
    out = apply_tags(c, as_of=AS_OF)
    # A; 面议 -> B; low match but known budget -> B; nothing -> C; below floor -> B;
    # description missing -> B; need type missing -> B; nothing -> C
    assert out["potential_rating_calc"].tolist() == ["A", "B", "B", "C", "B", "B", "B", "C"]
    assert (
        out.loc[0, "potential_rating_reason"] == "匹配度 4 ≥ 4，需求明确，预算 ¥100,000 ≥ ¥100,000"
    )
    assert out.loc[3, "potential_rating_reason"] == "匹配度 2，需求明确，预算未知或面议"
    out = apply_tags(c, as_of=AS_OF, rules={"budget_floor": 40_000})
    assert out["potential_rating_calc"].iloc[4] == "A"


def test_open_ended_budget_counts_at_its_floor():
    c = _customers(
        1,
        match_score=[5],
        need_type=["BI"],
        budget_kind=["from"],
        budget_min=[500_000.0],
        budget_max=[None],
    )
    assert apply_tags(c, as_of=AS_OF)["potential_rating_calc"].tolist() == ["A"]


# --- follow-up due dates ---------------------------------------------------------------------------


def test_next_followup_due_and_overdue_boundary():
    c = _customers(
        5,
        priority=["高", "高", "中", "低", None],
        last_contact_date=pd.to_datetime(
            ["2024-06-23", "2024-06-22", "2024-06-01", "2024-06-01", "2024-06-01"]
        ),
    )
    f = _followups([("C3", "2024-06-20")])  # later than the customers table's date
    out = apply_tags(c, followups=f, as_of=AS_OF)
    assert out["next_followup_due"].tolist()[:4] == list(
        pd.to_datetime(["2024-06-30", "2024-06-29", "2024-07-04", "2024-07-01"])
    )
    assert out["overdue"].iloc[:4].tolist() == [False, True, False, False]
    assert pd.isna(out["next_followup_due"].iloc[4]) and pd.isna(out["overdue"].iloc[4])
    out = apply_tags(c, followups=f, as_of=AS_OF, rules={"followup_days": {"低": 7}})
    assert out["next_followup_due"].iloc[3] == pd.Timestamp("2024-06-08")


def test_overdue_list_sorted_by_priority_then_days():
    c = _customers(
        4,
        priority=["低", "高", "高", "中"],
        last_contact_date=pd.to_datetime(["2024-01-01", "2024-06-01", "2024-05-01", AS_OF]),
    )
    tagged = apply_tags(c, as_of=AS_OF)
    late = overdue_list(tagged, as_of=AS_OF)
    assert late["customer_id"].tolist() == ["C3", "C2", "C1"]
    assert late["days_overdue"].tolist() == [53, 22, 151]
    assert overdue_list(tagged, as_of="2024-01-01").empty
    with pytest.raises(ak.SchemaError, match="apply_tags"):
        overdue_list(c, as_of=AS_OF)


# --- the as-of day and money in cents --------------------------------------------------------------


def _late_day_orders():
    """C1 buys on June 1 and at 09:15 on June 30, C2 at 23:59 on June 30; C2's order at midnight
    on July 1 is after the as-of day."""
    return _orders(
        [
            ("C1", "A1", "2024-06-01 00:00", 100.0),
            ("C1", "A2", "2024-06-30 09:15", 20.0),
            ("C2", "B1", "2024-06-30 23:59", 5.0),
            ("C2", "B2", "2024-07-01 00:00", 1000.0),
        ]
    )


def test_every_order_on_the_as_of_day_counts():
    stats = purchase_stats(_late_day_orders(), as_of=AS_OF).set_index("customer_id")
    assert stats["purchases"].to_dict() == {"C1": 2, "C2": 1}
    assert stats["net_last_window"].to_dict() == {"C1": 120.0, "C2": 5.0}
    out = apply_tags(_customers(2), orders=_late_day_orders(), as_of=AS_OF)
    assert out["repeat_purchases"].tolist() == [1, 0]


# A zoned as-of is read on its own wall clock: 23:00 in New York on June 30 is June 30 (July 1 in
# UTC) and 02:00 in Shanghai on July 1 is July 1 (June 30 in UTC).
ZONED_AS_OF = [("2024-06-30T23:00-05:00", "2024-06-30"), ("2024-07-01T02:00+08:00", "2024-07-01")]


@pytest.mark.parametrize(("as_of", "day"), ZONED_AS_OF)
def test_zoned_as_of_is_its_local_day(as_of, day):
    orders = _late_day_orders()
    got = purchase_stats(orders, as_of=as_of)
    pd.testing.assert_frame_equal(got, purchase_stats(orders, as_of=day))
    assert got["purchases"].tolist() == ([2, 1] if day == "2024-06-30" else [2, 2])
    c = _customers(2, priority=["高", "低"], last_contact_date=pd.to_datetime(["2024-06-01"] * 2))
    tagged = apply_tags(c, orders=orders, as_of=as_of)
    pd.testing.assert_frame_equal(tagged, apply_tags(c, orders=orders, as_of=day))
    late = overdue_list(tagged, as_of=as_of)
    pd.testing.assert_frame_equal(late, overdue_list(tagged, as_of=day))


def test_bad_as_of_names_the_parameter_and_the_value():
    message = r"as_of must be a date .*got '2024-06-31'"
    with pytest.raises(ParameterError, match=message):
        purchase_stats(_late_day_orders(), as_of="2024-06-31")
    with pytest.raises(ParameterError, match=message):
        apply_tags(_customers(1), as_of="2024-06-31")
    tagged = apply_tags(_customers(1), as_of=AS_OF)
    with pytest.raises(ParameterError, match=message):
        overdue_list(tagged, as_of="2024-06-31")


@pytest.mark.parametrize("convert", ["pandas", "polars", "duckdb"])
def test_an_order_refunded_to_float_noise_is_no_purchase(convert):
    # A1 nets to 1.10 + 2.20 - 3.30 = +4.4e-16, fully refunded: no purchase. In the window before
    # (2022-07 to 2023-06) C2's A2 nets to the same noise: no base for a year-on-year drop.
    assert 1.10 + 2.20 - 3.30 > 0
    orders = _orders(
        [
            ("C1", "A1", "2024-03-01 09:00", 1.10),
            ("C1", "A1", "2024-03-01 10:00", 2.20),
            ("C1", "A1", "2024-03-02 09:00", -3.30),
            ("C1", "A3", "2024-04-01 00:00", 50.0),
            ("C2", "A2", "2023-03-01 09:00", 2.20),
            ("C2", "A2", "2023-03-01 10:00", 1.10),
            ("C2", "A2", "2023-03-02 09:00", -3.30),
        ]
    )
    native = {"pandas": lambda df: df, "polars": pl.from_pandas, "duckdb": duckdb.from_df}
    stats = as_pandas(purchase_stats(native[convert](orders), as_of=AS_OF))
    assert stats.set_index("customer_id")["purchases"].to_dict() == {"C1": 1, "C2": 0}
    c = _customers(2, last_contact_date=pd.to_datetime([AS_OF] * 2))
    out = apply_tags(c, orders=orders, as_of=AS_OF)
    assert out["repeat_purchases"].tolist() == [0, 0]
    assert out["churn_risk"].tolist() == [False, False]


# --- missing inputs, immutability ------------------------------------------------------------------


def test_without_orders_purchase_tags_are_unknown():
    c = _customers(2, last_contact_date=pd.to_datetime(["2023-01-01", AS_OF]))
    out = apply_tags(c, as_of=AS_OF)
    assert out["high_value"].isna().all()
    assert (out["high_value_reason"] == "无订单数据").all()
    assert out["churn_risk"].iloc[0]  # silence still fires without orders
    assert pd.isna(out["churn_risk"].iloc[1])
    assert out.loc[1, "churn_risk_reason"] == "无订单数据"


def test_inputs_are_not_modified():
    c = _customers(
        2,
        employees=[10, 600],
        priority=["高", "低"],
        last_contact_date=pd.to_datetime(["2024-01-01", "2024-06-01"]),
    )
    o = _orders([("C1", "A", "2024-01-01", 5.0)])
    f = _followups([("C2", "2024-06-10")])
    copies = [x.copy() for x in (c, o, f)]
    apply_tags(c, orders=o, followups=f, as_of=AS_OF)
    filter_customers(c, "priority == 高")
    for before, after in zip(copies, (c, o, f), strict=True):
        pd.testing.assert_frame_equal(before, after)


def test_missing_customer_id_is_a_schema_error():
    with pytest.raises(ak.SchemaError, match="customer_id"):
        apply_tags(pd.DataFrame({"x": [1]}), as_of=AS_OF)


# --- filters ---------------------------------------------------------------------------------------


@pytest.fixture
def people():
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "grade": ["重点", "重点", "普通", "重点", None],
            "match_score": pd.array([4, 5, 5, 3, 5], dtype="Int64"),
            "priority": ["低", "中", "高", "高", "高"],
            "region": ["华东-上海", "华北-北京", "华东-上海", "华南-深圳", "华东-上海"],
            "stage": pd.Categorical(
                ["成交", "商务谈判", "初次接洽", "需求确认", "成交"],
                categories=ak.STAGES,
                ordered=True,
            ),
            "competitor_contact": pd.array([True, False, None, True, False], dtype="boolean"),
        }
    )


@pytest.mark.parametrize(
    "condition",
    [
        "客户等级 == 重点 and 需求匹配度 >= 4",
        "grade == '重点' and match_score >= 4",
        "客户等级=重点 且 需求匹配度≥4",
        "客户等级=重点且需求匹配度≥4",
        "客户等级 ＝ “重点” ＆ 匹配度 ＞ 3",
        [("grade", "==", "重点"), ("match_score", ">=", 4)],
        [("客户等级", "=", "重点"), ("需求匹配度", "≥", "4")],
    ],
)
def test_filter_chinese_and_canonical_forms_agree(people, condition):
    out = filter_customers(people, condition)
    assert out["customer_id"].tolist() == ["C2", "C1"]  # 中 before 低


def test_filter_other_operators(people):
    def ids(cond):
        return filter_customers(people, cond)["customer_id"].tolist()

    assert ids("region in (华东-上海, 华南-深圳)") == ["C3", "C5", "C4", "C1"]
    assert ids("区域 in [华北-北京、华南-深圳]") == ["C4", "C2"]
    assert ids([("region", "in", ["华北-北京"])]) == ["C2"]
    assert ids("grade != 重点") == ["C3"]  # missing never matches
    assert ids("stage >= 商务谈判") == ["C5", "C2", "C1"]
    assert ids("是否接触竞品 == 是") == ["C4", "C1"]
    assert ids("match_score < 4") == ["C4"]
    assert ids("match_score > 4 and match_score <= 5") == ["C3", "C5", "C2"]
    assert ids(None) == ["C3", "C5", "C4", "C2", "C1"]
    assert call_list(people, "grade == 重点", n=2)["customer_id"].tolist() == ["C4", "C2"]


@pytest.mark.parametrize(
    ("condition", "token"),
    [
        ("客户等级 重点", "'重点'"),
        ("客户等级 ==", "end of condition"),
        ("grade == 重点 match_score >= 4", "'match_score'"),
        ("grade == 重点 or grade == 普通", "'or'"),
        ("(grade == 重点)", "'('"),
        ("region in (华东-上海", "end of condition"),
        ("foo == 1", "'foo'"),
        ("需求匹配度 >= 高", "'高'"),
        ("grade >= 重点", "'>='"),
        ("stage == 成交了", "'成交了'"),
        ("__import__('os').system('x') == 1", "'('"),
    ],
)
def test_filter_errors_name_the_bad_token(people, condition, token):
    with pytest.raises(FilterError) as info:
        filter_customers(people, condition)
    assert token in str(info.value)


def test_filter_error_is_a_value_error(people):
    with pytest.raises(ValueError, match="'~'"):
        filter_customers(people, [("grade", "~", "重点")])
    with pytest.raises(FilterError, match="column, op, value"):
        filter_customers(people, [("grade", "重点")])


def test_empty_filter_keeps_everyone(people):
    assert len(filter_customers(people, "  ")) == len(people)


# --- end to end ------------------------------------------------------------------------------------


def test_end_to_end_on_generated_tables():
    tables = make_tables(n_customers=120, random_state=3)
    clean = {
        t: ak.clean_table(tables[t], table=t, as_of=AS_OF).clean
        for t in ("customers", "orders", "followups")
    }
    customers = clean["customers"]
    before = customers.copy()
    tagged = apply_tags(
        customers, orders=clean["orders"], followups=clean["followups"], as_of=AS_OF
    )
    pd.testing.assert_frame_equal(customers, before)
    assert len(tagged) == len(customers)
    for tag in ("high_value", "potential", "churn_risk", "overdue"):
        assert tagged[tag].dtype == "boolean"
        assert tagged[tag].notna().all() or tag == "churn_risk"
    for tag in ("high_value", "potential", "churn_risk"):
        fired = tagged[tag].fillna(False).astype(bool)
        assert tagged.loc[fired, f"{tag}_reason"].notna().all()
        assert tagged.loc[~fired & tagged[tag].notna(), f"{tag}_reason"].isna().all()
    assert set(tagged["value_grade_calc"]) <= {"高", "中", "低"}
    assert set(tagged["potential_rating_calc"]) <= {"A", "B", "C"}
    # the rule and the figures it uses agree
    hv = (tagged["purchases_12m"] >= 100_000) | (tagged["repeat_purchases_12m"] >= 3)
    assert (tagged["high_value"] == hv).all()
    late = overdue_list(tagged, as_of=AS_OF)
    assert late["overdue"].all() and (late["days_overdue"] > 0).all()
    calls = call_list(tagged, "客户等级 == 重点 and 需求匹配度 >= 4 and overdue == 是", n=10)
    assert (calls["grade"] == "重点").all() and (calls["match_score"] >= 4).all()
    order = calls["priority"].map({"高": 0, "中": 1, "低": 2}).tolist()
    assert order == sorted(order)


def test_reasons_in_english_say_the_same_as_in_chinese():
    rows = [("C1", f"O{i}", f"2024-0{i + 1}-01", 50_000.0) for i in range(4)]
    rows += [("C2", "P1", "2023-03-01", 80_000.0)]  # bought a year ago, nothing since
    customers = _customers(
        3,
        last_contact_date=pd.to_datetime(["2024-06-01", "2023-10-06", None]),
        match_score=[5, 2, None],
        need_type=["BI", "CRM", None],
        budget_max=[300_000.0, 50_000.0, None],
        budget_kind=["range", "range", None],
    )
    orders = _orders(rows)
    zh = apply_tags(customers, orders=orders, as_of=AS_OF)
    en = apply_tags(customers, orders=orders, as_of=AS_OF, lang="en")
    tags = ["high_value", "potential", "churn_risk", "potential_rating_calc", "next_followup_due"]
    pd.testing.assert_frame_equal(zh[tags], en[tags])  # only the words change
    reasons = ["high_value_reason", "potential_reason", "churn_risk_reason"]
    reasons.append("potential_rating_reason")
    assert (zh[reasons].isna() == en[reasons].isna()).all().all()
    assert en.loc[0, "high_value_reason"] == (
        "purchases in the last 12 months ¥200,000 ≥ ¥100,000; 3 repeat purchases in the last 12 "
        "months ≥ 3 (4 orders there)"
    )
    assert en.loc[1, "churn_risk_reason"] == (
        "no follow-up for 268 days (last 2023-10-06, ≥ 6 months); purchases down 100% year on "
        "year (last 12 months ¥0, previous 12 months ¥80,000) ≥ 50%"
    )
    assert en.loc[0, "potential_rating_reason"] == (
        "match score 5 ≥ 4, clear need, budget ¥300,000 ≥ ¥100,000"
    )
    assert not en[reasons].stack().str.contains(r"[\u4e00-\u9fff]").any()
    with pytest.raises(ValueError, match="lang"):
        apply_tags(customers, as_of=AS_OF, lang="fr")


def test_a_filter_reads_as_its_columns_labels():
    from analysis_kit.tagging import describe_filter

    text = "客户等级 ＝ 重点 且 需求匹配度 ≥ 4"
    assert describe_filter(text, "zh") == "客户等级 = 重点 且 需求匹配度 ≥ 4"
    assert describe_filter(text, "en") == "Grade = 重点 and Match score ≥ 4"
    assert describe_filter([("priority", "in", ["高", "中"])], "en") == "Priority in 高、中"
    with pytest.raises(FilterError):
        describe_filter("客户等级 ＝", "en")


def test_a_filter_on_a_tag_column_matches_one_of_the_cells_tags():
    customers = _customers(
        4,
        tags=["重点跟进、决策快", "决策快", None, "重点跟进"],
        competitor=["星河云、云图BI", "无", "云图BI", None],
    )
    ids = lambda text: filter_customers(customers, text)["customer_id"].tolist()  # noqa: E731
    assert sorted(ids("标签 == 重点跟进")) == ["C1", "C4"]
    assert sorted(ids("标签 != 重点跟进")) == ["C2"]  # a missing cell matches neither
    assert sorted(ids("竞品名称 == 云图BI")) == ["C1", "C3"]
    assert sorted(ids("竞品名称 in (星河云, 慧策CRM)")) == ["C1"]
    assert ids("竞品名称 == 无") == []  # 无 names no competitor


def test_none_is_not_a_competitor_or_a_concern():
    from analysis_kit.profile import competitor_summary, split_tags

    assert split_tags(pd.Series(["无", "没有", "星河云、 无", "None"])).tolist() == ["星河云"]
    rivals = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "competitor": ["无", "星河云", "暂无"],
            "stage": ["成交", "初次接洽", "成交"],
        }
    )
    summary = competitor_summary(rivals)
    assert summary.table["competitor"].tolist() == ["星河云"]
    assert summary.comparing_share == pytest.approx(1 / 3)
