"""clean_table: every row accounted for, merges keep contacts, nothing guessed, input untouched."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis_kit as ak


@pytest.fixture
def customers():
    # Rows 2..10 in spreadsheet numbering; each has a known fate written beside it.
    return pd.DataFrame(
        {
            "客户名称": [
                "上海恒达机械（集团）有限公司",  # 2 kept
                "上海恒达机械(集团)有限公司\u3000",  # 3 merged into 2 (cosmetic difference)
                None,  # 4 blank row
                "北京数澜科技有限公司",  # 5 kept
                "北京数澜科技有限公司",  # 6 exact duplicate of 5
                "广州云帆信息有限公司",  # 7 bad phone -> quarantined
                "深圳启明医疗器械有限公司",  # 8 score 9 -> quarantined
                "杭州远见教育科技有限公司",  # 9 ambiguous date -> quarantined
                "成都天府零售有限公司",  # 10 kept
            ],
            "联系人": ["张伟", "李娜", None, "王芳", "王芳", "刘洋", "陈静", "杨帆", "赵磊"],
            "联系电话": [
                "13800138000",
                "+86 139-0013-9000",
                None,
                "(010)12345678",
                "(010)12345678",
                "12345",
                "13700137000",
                "13600136000",
                "１３５００１３５０００",
            ],
            "客户等级": ["重点客户", "重点", None, "潜在", "潜在", "普通", "重点", "潜在", "普通"],
            "需求匹配度": ["4分", "4", None, "５", "５", "3", "9分", "2", "4.0"],
            "预算范围": [
                "30-50万",
                "30-50万",
                None,
                "面议",
                "面议",
                "10万以内",
                "50万以上",
                "20万",
                "5-8万",
            ],
            "最近沟通时间": [
                "2024/3/15",
                "2024年3月20日",
                None,
                "45366",
                "45366",
                "2024.3.1",
                "2024-03-02",
                "24/3/15",
                "2024-03-15 14:30",
            ],
            "当前阶段": [
                "④商务谈判",
                "4-商务谈判",
                None,
                "②需求确认",
                "②需求确认",
                "①初次接洽",
                "③方案提交",
                "2",
                "⑤成交",
            ],
            "客户反馈": [
                "满意，认可方案",
                "",
                None,
                "需要内部讨论",
                "需要内部讨论",
                "价格偏高",
                "积极",
                "中性",
                "不满意售后",
            ],
        }
    )


def test_every_row_has_its_expected_fate(customers):
    result = ak.clean_table(customers, table="customers", as_of="2024-06-30")
    fates = dict(zip(result.rows["source_row"], result.rows["fate"], strict=True))
    assert fates == {
        2: "kept",
        3: "merged",
        4: "quarantined",
        5: "kept",
        6: "duplicate",
        7: "quarantined",
        8: "quarantined",
        9: "quarantined",
        10: "kept",
    }
    kept_as = result.rows.set_index("source_row")["kept_as"]
    assert kept_as[3] == 2 and kept_as[6] == 5
    assert result.audit.balanced
    assert (result.audit.rows_in, result.audit.kept, result.audit.merged) == (9, 3, 1)
    assert (result.audit.dropped_duplicates, result.audit.quarantined) == (1, 4)


def test_quarantine_names_row_column_and_raw_value(customers):
    result = ak.clean_table(customers, table="customers", as_of="2024-06-30")
    q = result.quarantine.set_index("source_row")
    assert q.loc[4, "reason"] == "empty_row"
    assert q.loc[7, "reason"] == "unparseable" and "contact_phone=12345" in q.loc[7, "message"]
    assert q.loc[8, "reason"] == "out_of_range" and "match_score=9分" in q.loc[8, "message"]
    assert "last_contact_date=24/3/15" in q.loc[9, "message"]
    # the quarantine shows the row as it was read
    assert q.loc[7, "contact_phone"] == "12345"
    assert dict(result.audit.reasons) == {"empty_row": 1, "out_of_range": 1, "unparseable": 2}


def test_merge_keeps_every_contact(customers):
    result = ak.clean_table(customers, table="customers", as_of="2024-06-30")
    clean = result.clean.set_index("source_row")
    assert clean.loc[2, "contact_name"] == "张伟; 李娜"
    assert clean.loc[2, "contact_phone"] == "13800138000; 13900139000"
    assert clean.loc[2, "contact_count"] == 2
    assert clean.loc[2, "last_contact_date"] == pd.Timestamp("2024-03-20")
    contacts = result.contacts
    hengda = contacts[contacts["customer_id"] == clean.loc[2, "customer_id"]]
    assert sorted(hengda["contact_name"]) == ["张伟", "李娜"]


def test_parsed_values(customers):
    clean = ak.clean_table(customers, table="customers").clean.set_index("source_row")
    assert clean.loc[5, "contact_phone"] == "010-12345678"
    assert clean.loc[10, "contact_phone"] == "13500135000"
    assert clean.loc[5, "last_contact_date"] == pd.Timestamp("2024-03-15")
    assert clean.loc[2, "grade"] == "重点" and clean.loc[10, "match_score"] == 4
    assert clean.loc[5, "budget_kind"] == "negotiable"
    assert (clean.loc[10, "budget_min"], clean.loc[10, "budget_max"]) == (50_000, 80_000)
    assert clean.loc[2, "stage"] == "商务谈判"
    assert clean.loc[2, "sentiment"] == "积极" and clean.loc[10, "sentiment"] == "消极"
    assert clean["customer_id"].is_unique


def test_future_dates_need_as_of(customers):
    late = customers.assign(最近沟通时间="2030-01-01")
    assert ak.clean_table(late, table="customers").audit.quarantined < len(late)
    result = ak.clean_table(late, table="customers", as_of="2024-06-30")
    assert result.audit.reasons.get("future_date", 0) >= 5


def test_input_not_modified(customers):
    before = customers.copy()
    ak.clean_table(customers, table="customers", as_of="2024-06-30")
    pd.testing.assert_frame_equal(customers, before)


def test_trace_shows_raw_beside_clean(customers):
    result = ak.clean_table(customers, table="customers")
    trace = result.trace("contact_phone").set_index("source_row")
    assert trace.loc[10, "raw"] == "１３５００１３５０００"
    assert trace.loc[10, "clean"] == "13500135000"


def test_summary_in_both_languages(customers):
    audit = ak.clean_table(customers, table="customers", as_of="2024-06-30").audit
    assert audit.summary("zh").startswith("customers: 输入 9 行，保留 3 行，合并 1 行")
    assert (
        "9 rows in, 3 kept, 1 merged, 1 exact duplicates dropped, 4 quarantined"
        in audit.summary("en")
    )
    assert audit.to_dict()["reasons"]["unparseable"] == 2


def test_stable_customer_id_is_shared_by_cosmetic_variants():
    ids = ak.stable_customer_id(pd.Series(["甲（集团）公司", " 甲(集团)公司", "乙公司"]))
    assert ids[0] == ids[1] != ids[2]
    assert ids[0] == ak.stable_customer_id(pd.Series(["甲(集团)公司"]))[0]


def test_orders_duplicates_refunds_and_conflicts():
    orders = pd.DataFrame(
        {
            "订单编号": ["SO1", "SO1", "SO2", "SO2", "SO3", "SO3", "SO4"],
            "客户名称": ["甲公司"] * 7,
            "成交日期": ["2024-01-05"] * 7,
            "产品名称": ["A", "A", "B", "B", "C", "C", "D"],
            "成交金额": ["¥1,000", "¥1,000", "500", "-500", "300", "400", "abc"],
            "回款金额": ["1000", "1000", "500", None, None, None, None],
        }
    )
    result = ak.clean_table(orders, table="orders")
    fates = result.rows.set_index("source_row")["fate"].to_dict()
    assert fates[3] == "duplicate"  # SO1 exported twice
    assert fates[4] == fates[5] == "kept"  # a sale and its refund
    assert fates[6] == fates[7] == "quarantined"  # same id and product, different amounts
    assert fates[8] == "quarantined"  # unreadable amount
    assert result.audit.reasons["conflicting_duplicate"] == 2
    assert result.clean["amount"].sum() == 1000
    assert result.audit.balanced


def test_paid_more_than_amount_is_quarantined():
    orders = pd.DataFrame(
        {
            "客户名称": ["甲", "乙"],
            "成交日期": ["2024-01-01"] * 2,
            "金额": ["100", "100"],
            "回款": ["100", "120"],
        }
    )
    result = ak.clean_table(orders, table="orders")
    assert result.quarantine["reason"].tolist() == ["paid_exceeds_amount"]


def test_other_tables_clean():
    costs = pd.DataFrame(
        {"渠道": ["展会", "线上推广"], "月份": ["2024年3月", "2024Q1"], "投入": ["5万", "¥8,000"]}
    )
    clean = ak.clean_table(costs, table="channel_costs").clean
    assert clean["period"].tolist() == ["2024-03", "2024Q1"]
    assert clean["cost"].tolist() == [50_000, 8_000]
    market = pd.DataFrame({"行业": ["制造业"], "市场份额": ["15%"], "增长率": ["0.12"]})
    clean = ak.clean_table(market, table="market").clean
    assert clean["market_share"].tolist() == [0.15]


def test_missing_required_value_is_quarantined_not_dropped():
    followups = pd.DataFrame(
        {"客户名称": ["甲", None], "跟进日期": [None, "2024-01-01"], "跟进内容": ["x", "y"]}
    )
    result = ak.clean_table(followups, table="followups")
    reasons = result.quarantine.set_index("source_row")["reason"].to_dict()
    assert reasons == {2: "missing_required", 3: "no_customer"}


def test_unknown_table_and_missing_columns():
    with pytest.raises(ak.SchemaError, match="table must be one of"):
        ak.clean_table(pd.DataFrame({"a": [1]}), table="nope")
    with pytest.raises(ak.SchemaError, match=r"order_date \(成交日期\)"):
        ak.clean_table(pd.DataFrame({"客户名称": ["甲"], "金额": ["1"]}), table="orders")


def test_closed_lists_can_be_extended():
    df = pd.DataFrame({"客户名称": ["甲"], "沟通方式": ["微信"]})
    assert ak.clean_table(df, table="customers").audit.quarantined == 1
    extended = {"contact_method": ("电话", "面谈", "邮件", "线上会议", "微信")}
    assert ak.clean_table(df, table="customers", choices=extended).audit.kept == 1


cell = st.one_of(
    st.none(),
    st.just(""),
    st.sampled_from(
        ["甲公司", "甲公司 ", "甲（集团）", "甲(集团)", "乙", "13800138000", "4分", "9分", "面议"]
    ),
    st.sampled_from(["2024/3/15", "2024年3月15日", "24/3/15", "45366", "¥1,234", "1.28万", "abc"]),
    st.text(max_size=8),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["customers", "orders", "followups"]),
    st.lists(st.tuples(cell, cell, cell, cell, cell), min_size=1, max_size=25),
)
def test_no_row_is_ever_lost(table, rows):
    headers = {
        "customers": ["客户名称", "联系电话", "需求匹配度", "最近沟通时间", "预算范围"],
        "orders": ["客户名称", "订单编号", "成交金额", "成交日期", "产品名称"],
        "followups": ["客户名称", "跟进日期", "联系电话", "跟进内容", "客户反馈"],
    }[table]
    df = pd.DataFrame(rows, columns=headers, dtype="object")
    result = ak.clean_table(df, table=table, as_of="2024-06-30")
    audit = result.audit
    assert audit.balanced and audit.rows_in == len(df)
    assert len(result.rows) == len(df)
    assert sorted(result.rows["source_row"]) == list(range(2, len(df) + 2))
    assert len(result.clean) == audit.kept
    assert len(result.quarantine) == audit.quarantined
    # rows merged or dropped point at a row that is kept
    pointers = result.rows.loc[result.rows["fate"].isin(["merged", "duplicate"]), "kept_as"]
    fate_of = result.rows.set_index("source_row")["fate"]
    assert set(fate_of[pointers.astype(int)]) <= {"kept", "quarantined"}
