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
                "广州云帆信息有限公司",  # 7 bad phone -> kept, phone blanked
                "深圳启明医疗器械有限公司",  # 8 score 9 -> kept, score blanked
                "杭州远见教育科技有限公司",  # 9 ambiguous date -> kept, date blanked
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
        7: "kept",
        8: "kept",
        9: "kept",
        10: "kept",
    }
    kept_as = result.rows.set_index("source_row")["kept_as"]
    assert kept_as[3] == 2 and kept_as[6] == 5
    assert result.audit.balanced
    assert (result.audit.rows_in, result.audit.kept, result.audit.merged) == (9, 6, 1)
    assert (result.audit.dropped_duplicates, result.audit.quarantined) == (1, 1)


def test_unreadable_descriptive_cells_are_blanked_and_reported(customers):
    result = ak.clean_table(customers, table="customers", as_of="2024-06-30")
    q = result.quarantine.set_index("source_row")
    assert q.index.tolist() == [4] and q.loc[4, "reason"] == "empty_row"
    assert dict(result.audit.reasons) == {"empty_row": 1}
    clean = result.clean.set_index("source_row")
    assert pd.isna(clean.loc[7, "contact_phone"])
    assert pd.isna(clean.loc[8, "match_score"])
    assert pd.isna(clean.loc[9, "last_contact_date"])
    # every other field of those rows is still there
    assert clean.loc[8, "grade"] == "重点" and clean.loc[8, "budget_kind"] == "from"
    issues = result.issues.set_index(["source_row", "column"])
    assert issues.loc[(7, "contact_phone"), ["raw_value", "reason", "action"]].tolist() == [
        "12345",
        "unparseable",
        "blanked",
    ]
    assert issues.loc[(8, "match_score"), "reason"] == "out_of_range"
    assert issues.loc[(9, "last_contact_date"), "raw_value"] == "24/3/15"
    cells = result.audit.cells.set_index("column")
    assert cells["cells"].to_dict() == {
        "contact_phone": 1,
        "last_contact_date": 1,
        "match_score": 1,
    }
    assert result.audit.to_dict()["cells_blanked"] == cells["cells"].to_dict()


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
    assert "future_date" not in set(ak.clean_table(late, table="customers").issues["reason"])
    result = ak.clean_table(late, table="customers", as_of="2024-06-30")
    # 最近沟通时间 is descriptive for a customer: the date is emptied, the customer stays
    assert result.audit.quarantined == 1  # the blank line, which has only the date
    assert result.clean["last_contact_date"].isna().all()
    cells = result.audit.cells.set_index(["column", "reason"])["cells"]
    assert cells[("last_contact_date", "future_date")] == result.audit.kept + result.audit.merged


def test_as_of_is_a_whole_day_and_a_future_order_date_is_a_key_field():
    orders = pd.DataFrame(
        {
            "订单编号": ["A", "B", "C", "D"],
            "成交日期": ["2024-06-30 09:15:00", "2024/6/30 23:59", "2024-07-01 00:00", "20240630"],
            "成交金额": ["100", "200", "300", "400"],
        }
    )
    result = ak.clean_table(orders, table="orders", as_of="2024-06-30")
    assert result.clean["order_id"].tolist() == ["A", "B", "D"]
    assert result.quarantine["order_id"].tolist() == ["C"]
    assert result.quarantine["reason"].tolist() == ["future_date"]
    # a zoned as-of is read on its own wall clock: 1 July keeps C
    zoned = ak.clean_table(orders, table="orders", as_of="2024-07-01T02:00+08:00")
    assert zoned.audit.quarantined == 0


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
    assert audit.summary("zh").startswith("customers: 输入 9 行，保留 6 行，合并 1 行")
    assert "3 个无法识别的单元格置空" in audit.summary("zh")
    assert (
        "9 rows in, 6 kept, 1 merged, 1 exact duplicates dropped, 1 quarantined"
        in audit.summary("en")
    )
    assert "3 unreadable cells emptied" in audit.summary("en")
    assert audit.to_dict()["reasons"] == {"empty_row": 1}


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
    # the same product twice on one order with different quantities: two lines of the order
    assert fates[6] == fates[7] == "kept"
    assert fates[8] == "quarantined"  # unreadable amount, a key field
    assert result.audit.reasons.to_dict() == {"unparseable": 1}
    assert result.clean["amount"].sum() == 1000 + 700
    assert result.audit.balanced


def test_identical_lines_without_an_id_are_two_purchases_unless_asked():
    orders = pd.DataFrame(
        {
            "客户编号": ["1", "1", "2"],
            "成交日期": ["1997-01-01"] * 3,
            "成交金额": ["29.33", "29.33", "10"],
        }
    )
    result = ak.clean_table(orders, table="orders")
    assert result.audit.kept == 3 and result.audit.flagged == 1
    flagged = result.issues[result.issues["reason"] == "possible_double_export"]
    assert flagged[["source_row", "raw_value", "action"]].values.tolist() == [[3, "= 2", "kept"]]
    assert result.clean["amount"].sum() == pytest.approx(68.66)
    dropped = ak.clean_table(orders, table="orders", drop_identical=True)
    assert dropped.audit.dropped_duplicates == 1 and dropped.audit.kept == 2
    assert dropped.rows.set_index("source_row").loc[3, "kept_as"] == 2


def test_paid_more_than_amount_blanks_the_paid_amount():
    orders = pd.DataFrame(
        {
            "客户名称": ["甲", "乙"],
            "成交日期": ["2024-01-01"] * 2,
            "金额": ["100", "100"],
            "回款": ["100", "120"],
        }
    )
    result = ak.clean_table(orders, table="orders")
    assert result.audit.quarantined == 0
    assert result.clean["paid_amount"].tolist()[0] == 100 and pd.isna(
        result.clean["paid_amount"][1]
    )
    issue = result.issues[result.issues["reason"] == "paid_exceeds_amount"]
    assert issue[["source_row", "action"]].values.tolist() == [[3, "blanked"]]


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


def test_closed_lists_are_open_vocabularies():
    df = pd.DataFrame(
        {
            "客户名称": ["甲", "乙", "丙", "丁", "戊", "己"],
            "沟通方式": ["微信", "企业微信", "钉钉", "上门拜访", "展会", "展会"],
        }
    )
    result = ak.clean_table(df, table="customers")
    assert result.audit.kept == 6 and result.audit.quarantined == 0
    # the variants real teams use are recognised; a value outside the list is kept as written
    assert result.clean["contact_method"].tolist() == [
        "微信",
        "微信",
        "钉钉",
        "面谈",
        "展会",
        "展会",
    ]
    unlisted = result.issues[result.issues["reason"] == "unlisted_value"]
    assert unlisted[["source_row", "raw_value", "action"]].values.tolist() == [
        [6, "展会", "kept"],
        [7, "展会", "kept"],
    ]
    assert result.audit.to_dict()["values_kept_as_written"] == {"contact_method": 2}
    other = ak.clean_table(df, table="customers", unlisted="other")
    assert other.clean["contact_method"].tolist()[-2:] == ["其他", "其他"]
    extended = {"contact_method": (*ak.columns.CHOICES["contact_method"], "展会")}
    assert ak.clean_table(df, table="customers", choices=extended).issues.empty
    # choices replaces the list: 微信 is then outside it, kept and reported
    narrow = ak.clean_table(df, table="customers", choices={"contact_method": ("电话", "展会")})
    assert narrow.audit.cell_totals("kept") == {"contact_method": 4}
    with pytest.raises(ValueError, match="unlisted must be"):
        ak.clean_table(df, table="customers", unlisted="drop")


def test_a_customer_export_with_every_descriptive_column_unreadable_keeps_every_row():
    # Each descriptive field holds something the parsers cannot read; only the names are usable.
    n = 5
    df = pd.DataFrame(
        {
            "客户名称": [f"客户{i}有限公司" for i in range(n)],
            "客户规模": ["很大", "不清楚", "？", "看情况", "N/A?"],
            "员工人数": ["很多"] * n,
            "年营收": ["保密"] * n,
            "成立时间": ["很久以前"] * n,
            "联系电话": ["微信同号"] * n,
            "预算范围": ["预算充足"] * n,
            "最近沟通时间": ["上周"] * n,
            "沟通方式": ["飞书"] * n,
            "当前阶段": ["观望"] * n,
            "客户等级": ["S级"] * n,
            "跟进优先级": ["看情况"] * n,
            "需求匹配度": ["较高"] * n,
            "合作可能性": ["★★★★★★"] * n,
            "是否接触竞品": ["不清楚"] * n,
        }
    )
    result = ak.clean_table(df, table="customers", as_of="2024-06-30")
    assert result.audit.kept == n and result.audit.quarantined == 0 and result.audit.balanced
    assert result.clean["customer_name"].tolist() == df["客户名称"].tolist()
    # every unreadable cell is reported with its column and raw text
    blanked = result.audit.cell_totals("blanked")
    kept = result.audit.cell_totals("kept")
    described = set(blanked) | set(kept)
    assert described == set(result.clean.columns) & {
        "company_size",
        "employees",
        "annual_revenue",
        "founded",
        "contact_phone",
        "budget",
        "last_contact_date",
        "contact_method",
        "stage",
        "grade",
        "priority",
        "match_score",
        "cooperation_score",
        "competitor_contact",
    }
    assert all(v == n for v in (blanked | kept).values())
    assert set(kept) == {"company_size", "contact_method", "grade", "priority"}
    assert result.clean["contact_method"].eq("飞书").all()
    assert result.clean["match_score"].isna().all() and result.clean["budget_min"].isna().all()


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


def test_orders_without_a_buyer_or_an_amount_are_kept():
    # A shop export: no buyer column; a retail file: quantity and unit price, no amount.
    orders = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536365", "C536379", "536380"],
            "Description": ["WHITE HANGING HEART", "LANTERN", "Discount", "MUG"],
            "Quantity": ["6", "2", "-1", "abc"],
            "InvoiceDate": ["2010-12-01 08:26:00"] * 4,
            "UnitPrice": ["2.55", "3.39", "27.50", "1.00"],
        }
    )
    result = ak.clean_table(orders, table="orders")
    assert result.audit.kept == 3 and result.audit.quarantined == 1
    assert result.clean["amount"].tolist() == [15.3, 6.78, -27.5]
    assert result.audit.derived == {"amount": 3}
    assert result.audit.to_dict()["derived"] == {"amount": 3}
    assert "customer_id" not in result.clean.columns
    # the line whose amount cannot be made is quarantined for it, naming the cell
    assert result.quarantine["reason"].tolist() == ["missing_required"]
    blank_qty = result.issues[result.issues["column"] == "quantity"]
    assert blank_qty["raw_value"].tolist() == ["abc"]
    # an amount column that is there wins; only its blanks are derived
    with_amount = orders.assign(Amount=["15.30", None, "-27.50", "9"])
    both = ak.clean_table(with_amount, table="orders")
    assert both.clean["amount"].tolist() == [15.3, 6.78, -27.5, 9.0]
    assert both.audit.derived == {"amount": 1}


def test_a_crm_pipeline_with_english_stages_and_no_account():
    deals = pd.DataFrame(
        {
            "Opportunity ID": ["1C1I7A6R", "Z063OYW0", "EC4QE1BX", "MV1LWRNH", "PE84CX4O"],
            "Sales Agent": [
                "Moses Frase",
                "Darcel Schlecht",
                "Darcel Schlecht",
                "Moses Frase",
                "Zane",
            ],
            "Account": ["Cancity", "Isdom", None, "Codehow", None],
            "Deal Stage": ["Won", "Lost", "Engaging", "Prospecting", "Closed Lost"],
            "Date": ["2016-10-20", "2016-10-25", "2016-10-25", "2016-10-26", "2017-03-01"],
            "Close Value": ["1054", "0", None, None, "0"],
        }
    )
    result = ak.clean_table(deals, table="stages")
    assert result.audit.kept == 5 and result.audit.quarantined == 0
    clean = result.clean.set_index("opportunity_id")
    assert clean["stage"].tolist()[0] == "成交" and pd.isna(clean.loc["Z063OYW0", "stage"])
    assert clean.loc["EC4QE1BX", "stage"] == "需求确认"
    assert clean.loc["MV1LWRNH", "stage"] == "初次接洽"
    assert clean["outcome"].tolist()[1::3] == ["lost", "lost"]
    assert clean["outcome"].isna().sum() == 3
    assert result.audit.derived == {"outcome": 2}
    assert clean["customer_name"].isna().sum() == 2  # deals without an account yet are kept


def test_customers_written_like_the_template_example_are_kept():
    customers = pd.DataFrame(
        {
            "客户名称": ["甲科技有限公司", "乙制造有限公司", "丙贸易", "丁集团"],
            "客户规模": ["员工100-500人，年营收5000万-1亿", "员工50-99人", "50人以下", "500人以上"],
            "沟通方式": ["微信", "电话", "钉钉", "面谈"],
        }
    )
    result = ak.clean_table(customers, table="customers")
    assert result.audit.kept == 4 and result.issues.empty
    clean = result.clean
    assert clean["company_size"].tolist() == customers["客户规模"].tolist()
    assert clean["employees_min"].tolist()[:2] == [100, 50]
    assert clean["employees_max"].tolist()[:3] == [500, 99, 50]
    assert clean["annual_revenue_max"][0] == 1e8


def test_a_retail_export_with_month_first_dates_reads_with_its_declared_format():
    # UCI Online Retail writes `12/1/2010 8:26`: day or month first? The user says which.
    orders = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536366", "536367"],
            "Quantity": ["6", "6", "12"],
            "InvoiceDate": ["12/1/2010 8:26", "12/13/2010 9:01", "2010-12-14 10:00"],
            "UnitPrice": ["2.55", "1.85", "0.001"],
            "CustomerID": ["17850", "17850", "13047"],
        }
    )
    refused = ak.clean_table(orders, table="orders")
    assert refused.quarantine["order_date"].tolist() == ["12/1/2010 8:26", "12/13/2010 9:01"]
    read = ak.clean_table(orders, table="orders", date_format="%m/%d/%Y %H:%M")
    assert read.audit.quarantined == 0
    assert read.clean["order_date"].tolist() == [
        pd.Timestamp("2010-12-01 08:26"),
        pd.Timestamp("2010-12-13 09:01"),
        pd.Timestamp("2010-12-14 10:00"),
    ]
    per_column = ak.clean_table(
        orders, table="orders", date_format={"order_date": "%m/%d/%Y %H:%M"}
    )
    assert per_column.audit.quarantined == 0
    # a price below a cent is kept as written, and so is the amount made from it
    assert read.clean["unit_price"].tolist()[2] == 0.001
    assert read.clean["amount"].tolist() == [15.3, 11.1, 0.012]


def test_an_amount_derived_from_a_rejected_price_is_not_kept():
    orders = pd.DataFrame(
        {
            "InvoiceNo": ["A563185", "536365", "536365"],
            "Description": ["Adjust bad debt", "LANTERN", "LANTERN"],
            "Quantity": ["1", "2", "2"],
            "InvoiceDate": ["2011-08-12 14:50"] * 3,
            "UnitPrice": ["-11062.06", "3.39", "3.39"],
        }
    )
    result = ak.clean_table(orders, table="orders")
    assert result.quarantine["reason"].tolist() == ["unfounded_amount"]
    assert result.audit.dropped_duplicates == 1  # the same line of one invoice, twice
    # the derived count is of lines in the analysis: not the quarantined, not the duplicate
    assert result.audit.derived == {"amount": 1}
    assert result.clean["amount"].tolist() == [6.78]


def test_a_merged_customer_keeps_first_values_fills_blanks_and_lists_conflicts():
    # Rows 2, 3, 4 and 6 are one company written four ways; row 5 is another.
    raw = pd.DataFrame(
        {
            "客户名称": [
                "星辰科技有限公司",
                "星辰科技",
                "（北京）星辰科技有限公司",
                "华为技术有限公司",
                "星辰科技股份有限公司",
            ],
            "联系人": ["张伟", None, "李娜", "王芳", "张伟"],
            "联系电话": ["13800138000", None, "13900139000", "13700137000", "13800138000"],
            "客户等级": [None, "重点", "潜在", "普通", "重点"],
            "需求匹配度": ["4", "5", None, "3", "4"],
            "最近沟通时间": ["2024-03-01", "2024-03-20", "2024-02-01", "2024-01-05", None],
        }
    )
    result = ak.clean_table(raw, table="customers", as_of="2024-06-30")
    rows = result.rows.set_index("source_row")
    assert rows["fate"].to_dict() == {2: "kept", 3: "merged", 4: "merged", 5: "kept", 6: "merged"}
    assert rows.loc[[3, 4, 6], "kept_as"].tolist() == [2, 2, 2]
    star = result.clean.set_index("source_row").loc[2]
    assert star["grade"] == "重点"  # blank in row 2: the first value in row order fills it
    assert star["match_score"] == 4  # row 2's own value stands
    assert star["last_contact_date"] == pd.Timestamp("2024-03-20")  # the latest contact
    assert star["contact_name"] == "张伟; 李娜" and star["contact_count"] == 2
    assert star["contact_phone"] == "13800138000; 13900139000"
    conflicts = result.audit.merge_conflicts.set_index("column")
    assert set(conflicts["customer_id"]) == {star["customer_id"]}
    assert conflicts.loc["grade", ["kept_value", "other_values"]].tolist() == ["重点", "潜在"]
    assert conflicts.loc["match_score", ["kept_value", "other_values"]].tolist() == ["4", "5"]
    assert "last_contact_date" not in conflicts.index  # the latest is taken, not a conflict
    assert len(result.contacts) == 3  # 张伟 twice with one phone is one contact; 王芳 is 华为's


def test_messages_in_chinese_name_the_field_by_its_header():
    from analysis_kit.cleaning import message_in

    message = "followup_date=2024-00-12: 无法识别 value cannot be read"
    assert message_in(message, "zh") == "跟进日期=2024-00-12：无法识别"
    assert message_in(message, "en") == "followup_date=2024-00-12: value cannot be read"
    assert message_in("空行 blank row", "zh") == "空行"
    assert message_in("only english", "zh") == "only english"  # nothing Chinese: as written
    assert message_in(None, "zh") is None
