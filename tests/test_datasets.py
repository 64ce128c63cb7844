import re

import numpy as np
import pandas as pd
import pytest

from analysis_kit.columns import STAGES, TABLES
from analysis_kit.datasets import make_messy_customers, make_tables, to_template

AS_OF = pd.Timestamp("2024-06-30")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-\d{7,8}$")
FULLWIDTH_DIGIT = re.compile(r"[０-９]")


@pytest.fixture(scope="module")
def clean():
    return make_tables(80, random_state=7)


@pytest.fixture(scope="module")
def messy():
    return make_tables(60, messy=True, random_state=3)


def _blank_rows(df):
    return int(df.isna().all(axis=1).sum())


def test_same_seed_same_frames_and_different_seed_differs(clean):
    again = make_tables(80, random_state=7)
    for name in TABLES:
        pd.testing.assert_frame_equal(clean[name], again[name])
    other = make_tables(80, random_state=8)
    assert not clean["customers"].equals(other["customers"])
    assert not clean["orders"].equals(other["orders"])


def test_messy_is_deterministic_too(messy):
    again = make_tables(60, messy=True, random_state=3)
    for name in TABLES:
        pd.testing.assert_frame_equal(messy[name], again[name])


def test_generator_random_state_and_global_state_untouched():
    np.random.seed(123)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = make_tables(20, random_state=np.random.default_rng(5))
    b = make_tables(20, random_state=5)
    pd.testing.assert_frame_equal(a["orders"], b["orders"])
    assert (np.random.get_state()[1] == before).all()  # noqa: NPY002


@pytest.mark.parametrize("kind", ["clean", "messy"])
def test_every_table_has_exactly_its_spec_columns(kind, clean, messy):
    tables = clean if kind == "clean" else messy
    assert set(tables) == set(TABLES)
    for name, spec in TABLES.items():
        assert list(tables[name].columns) == list(spec.names), name
        assert len(tables[name]) > 0, name


def test_pareto_revenue_curve():
    orders = make_tables(200, random_state=11)["orders"]
    revenue = orders.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    top = int(np.ceil(0.2 * len(revenue)))
    assert revenue.iloc[:top].sum() / revenue.sum() >= 0.6


def test_churners_and_repeat_buyers_exist(clean):
    orders = clean["orders"]
    dates = pd.to_datetime(orders["order_date"], format="%Y-%m-%d")
    last = dates.groupby(orders["customer_id"]).max()
    assert (last < AS_OF - pd.DateOffset(months=9)).sum() >= 1
    assert (orders.groupby("customer_id").size() >= 2).sum() >= 5
    assert dates.max() <= AS_OF
    assert dates.min() > AS_OF - pd.DateOffset(years=3)


def test_funnel_attrition(clean):
    per_customer = clean["customers"].drop_duplicates("customer_id")["stage"].str[1:]
    counts = per_customer.value_counts().reindex(list(STAGES), fill_value=0)
    first_four = counts.iloc[:4].to_numpy()
    assert (np.diff(first_four) <= 0).all()
    assert counts.iloc[0] > counts.iloc[3]


def test_stage_text_written_as_template(clean):
    assert (
        clean["customers"]["stage"]
        .str.match(r"^[①②③④⑤⑥](初次接洽|需求确认|方案提交|商务谈判|成交|售后维护)$")
        .all()
    )


def test_company_size_matches_employees(clean):
    customers = clean["customers"]
    emp = customers["employees"]
    expected = np.select([emp >= 500, emp >= 50, emp >= 10], ["大型", "中型", "小型"], "微型")
    assert (customers["company_size"] == expected).all()
    assert {"大型", "中型", "小型"} <= set(customers["company_size"])


def test_contacts_repeat_customer_fields(clean):
    customers = clean["customers"]
    assert customers["customer_id"].duplicated().any()  # several contacts per customer
    contact_cols = {"contact_name", "contact_title", "contact_phone", "contact_role"}
    fixed = [c for c in customers.columns if c not in contact_cols]
    assert (customers.groupby("customer_id")[fixed].nunique(dropna=False) <= 1).all().all()
    names = customers.drop_duplicates("customer_id")["customer_name"]
    assert names.is_unique
    assert names.str.endswith("公司").all()


def test_phones_are_valid_in_clean_data(clean):
    phones = clean["customers"]["contact_phone"]
    valid = phones.str.match(MOBILE) | phones.str.match(LANDLINE)
    assert valid.all()
    assert phones.str.match(LANDLINE).any()


def test_orders_are_consistent(clean):
    orders = clean["orders"]
    assert orders["order_id"].is_unique
    assert (orders["amount"] == orders["quantity"] * orders["unit_price"]).all()
    assert (orders["gross_margin"] == orders["amount"] - orders["cost"]).all()
    assert (orders["paid_amount"] <= orders["amount"]).all()
    assert (orders["paid_amount"] < orders["amount"]).any()
    refunds = orders[orders["order_id"].str.endswith("-R")]
    assert len(refunds) >= 1
    assert (refunds["amount"] < 0).all() and (refunds["quantity"] < 0).all()
    assert refunds["order_id"].str[:-2].isin(orders["order_id"]).all()
    customers = clean["customers"].drop_duplicates("customer_id").set_index("customer_id")
    for col in ("owner", "region", "lead_source", "customer_name"):
        assert (
            orders[col].to_numpy() == customers.loc[orders["customer_id"], col].to_numpy()
        ).all()


def test_only_late_stage_and_some_others_buy(clean):
    customers = clean["customers"].drop_duplicates("customer_id")
    late = customers.loc[customers["stage"].str[1:].isin(["成交", "售后维护"]), "customer_id"]
    buyers = set(clean["orders"]["customer_id"])
    assert set(late) <= buyers


def test_stage_history_is_consistent(clean):
    stages = clean["stages"]
    stages = stages.assign(_d=pd.to_datetime(stages["entered_at"], format="%Y-%m-%d"))
    for _, opp in stages.groupby("opportunity_id"):
        assert opp["_d"].is_monotonic_increasing
        reached = opp["stage"].str[1:].tolist()
        assert reached == list(STAGES[: len(reached)])
        outcome = opp["outcome"].iloc[0]
        assert opp["outcome"].nunique() == 1
        if "成交" in reached:
            assert outcome == "won"
        else:
            assert outcome in {"lost", "open"}
        assert opp["lost_reason"].notna().all() == (outcome == "lost")
    assert set(stages["outcome"]) == {"won", "lost", "open"}


def test_followups_date_the_last_contact(clean):
    followups, customers = clean["followups"], clean["customers"]
    last = followups.groupby("customer_id")["followup_date"].max()
    shown = customers.drop_duplicates("customer_id").set_index("customer_id")["last_contact_date"]
    assert (shown == last.reindex(shown.index)).all()
    days = (AS_OF - pd.to_datetime(last, format="%Y-%m-%d")).dt.days
    assert (days > 183).any()
    assert set(followups["contact_method"]) <= {"电话", "面谈", "邮件", "线上会议"}


def test_targets_sit_above_actuals(clean):
    orders, targets = clean["orders"], clean["targets"]
    quarter = pd.PeriodIndex(pd.to_datetime(orders["order_date"]), freq="Q").astype(str)
    actual = orders.groupby(["owner", quarter])["amount"].sum()
    merged = targets.set_index(["owner", "period"])["target"]
    common = actual.index.intersection(merged.index)
    assert len(common) > 0
    assert (merged.loc[common] >= actual.loc[common]).all()


def test_channel_costs_and_market(clean):
    costs, market = clean["channel_costs"], clean["market"]
    assert set(costs["channel"]) == {"展会", "线上推广", "转介绍", "电话营销", "官网咨询"}
    assert costs["period"].str.match(r"^\d{4}-\d{2}$").all()
    assert (costs["cost"] > 0).all()
    assert market["growth_rate"].between(0, 1).all()
    assert market["competitor"].notna().all()


def test_messy_injects_each_kind_of_mess(messy):
    customers, followups, orders = messy["customers"], messy["followups"], messy["orders"]
    dates = pd.concat(
        [customers["last_contact_date"], followups["followup_date"], orders["order_date"]]
    ).astype(str)
    assert dates.str.match(r"^\d{4}年\d{1,2}月\d{1,2}日$").any()
    assert dates.str.match(r"^\d{4}/\d{1,2}/\d{1,2}$").any()
    assert dates.str.match(r"^\d{5}$").any()  # Excel serial
    assert dates.str.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$").any()
    amounts = orders["amount"].astype(str)
    assert amounts.str.contains(r"^[¥￥]").any()
    assert amounts.str.contains("万").any()
    assert customers.astype(str).apply(lambda s: s.str.contains(FULLWIDTH_DIGIT)).any().any()
    phones = customers["contact_phone"].astype(str)
    assert phones.str.startswith("+86").any()
    assert customers["stage"].astype(str).str.match(r"^\d-").any()
    assert customers["grade"].astype(str).str.endswith("客户").any()
    assert customers["customer_name"].astype(str).str.contains("[ \u3000]$").any()
    assert customers["customer_name"].astype(str).str.contains(r"\(").any()
    # An order exported twice, a blank row in every messy table.
    filled = orders.dropna(how="all")
    assert filled.duplicated().any()
    assert _blank_rows(customers) >= 1
    assert _blank_rows(followups) >= 1
    assert _blank_rows(orders) >= 1
    # Some genuinely bad values.
    assert dates.isin(["2024-13-45", "2023-02-30", "2024-00-12"]).any()
    assert amounts.isin(["abc", "待定", "1,2,3"]).any()


def test_messy_duplicate_customer_with_cosmetic_difference(messy):
    customers = messy["customers"].dropna(how="all")
    names = customers["customer_name"].astype(str)
    key = names.str.strip().str.replace("(", "（").str.replace(")", "）")
    variants = names.groupby(key).nunique()
    assert (variants >= 2).any()


def test_messy_rate_is_modest(messy):
    dates = messy["orders"]["order_date"].dropna().astype(str)
    iso = dates.str.match(r"^\d{4}-\d{2}-\d{2}$")
    assert 0.7 < iso.mean() < 0.99


def test_make_messy_customers():
    df = make_messy_customers(1000, random_state=1)
    assert len(df) == 1000
    assert list(df.columns) == list(TABLES["customers"].names)
    assert _blank_rows(df) >= 1
    assert df.dropna(how="all").duplicated().any()
    assert df["customer_id"].isna().sum() > _blank_rows(df)  # re-typed customers without an id
    names = df["customer_name"].dropna().astype(str)
    assert names.str.contains("[ \u3000]$").any()
    assert df.astype(str).apply(lambda s: s.str.contains(FULLWIDTH_DIGIT)).any().any()
    pd.testing.assert_frame_equal(df, make_messy_customers(1000, random_state=1))


def test_to_template_renames_and_does_not_mutate(clean):
    orders = clean["orders"].assign(extra=1)
    before = orders.copy()
    out = to_template(orders, "orders")
    assert out.columns[0] == "订单编号"
    assert "成交日期" in out.columns and "extra" in out.columns
    assert out.columns[-1] == "extra"
    pd.testing.assert_frame_equal(orders, before)
    with pytest.raises(ValueError, match="table must be one of"):
        to_template(orders, "nope")


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="n_customers"):
        make_tables(0)
    with pytest.raises(ValueError, match="years"):
        make_tables(10, years=0)
    with pytest.raises(ValueError, match="n_rows"):
        make_messy_customers(3)
