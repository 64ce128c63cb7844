"""Parsers: hand-written tables of tricky inputs with the expected result, plus properties."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_kit import parsing as p

T = pd.Timestamp


def one(fn, value, **kw):
    out = fn(pd.Series([value], dtype="object"), **kw)
    return out.iloc[0]


def is_missing(value):
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-15", T("2024-03-15")),
        ("2024/3/15", T("2024-03-15")),
        ("2024.3.15", T("2024-03-15")),
        ("2024年3月15日", T("2024-03-15")),
        ("２０２４年３月１５日", T("2024-03-15")),
        ("2024年03月05日 09:05", T("2024-03-05 09:05")),
        ("2024/3/15 14:30:05", T("2024-03-15 14:30:05")),
        ("2024-03-15T10:20:30", T("2024-03-15 10:20:30")),
        ("2024-03-15 00:00:00", T("2024-03-15")),
        ("20240315", T("2024-03-15")),
        ("45366", T("2024-03-15")),
        ("45366.5", T("2024-03-15 12:00")),
        (45366, T("2024-03-15")),
        (" 2024-03-15 ", T("2024-03-15")),
        # never guessed
        ("24/3/15", None),
        ("15/3/2024", None),
        ("3/15/2024", None),
        ("2024-03", None),
        ("2024-02-30", None),
        ("2024-13-01", None),
        ("2024-03-15 25:00", None),
        ("12345", None),
        ("下周", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(raw, expected):
    got = one(p.parse_date, raw)
    if expected is None:
        assert is_missing(got)
    else:
        assert got == expected


def test_parse_date_passes_datetimes_through_and_keeps_index():
    s = pd.Series(pd.to_datetime(["2024-01-02", None]), index=[7, 9])
    out = p.parse_date(s)
    assert out.index.tolist() == [7, 9]
    assert out.iloc[0] == T("2024-01-02") and pd.isna(out.iloc[1])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234", 1234.0),
        ("1,234.00", 1234.0),
        ("¥1,234.00", 1234.0),
        ("￥1,234", 1234.0),
        ("1234元", 1234.0),
        ("1.28万", 12800.0),
        ("1.28万元", 12800.0),
        ("3亿", 3e8),
        ("-500", -500.0),
        ("(500)", -500.0),
        ("￥-1,000.50", -1000.5),
        ("１２３４", 1234.0),
        ("12k", 12000.0),
        ("RMB 800", 800.0),
        (1234.5, 1234.5),
        ("30-50万", None),
        ("面议", None),
        ("abc", None),
        ("1.2.3", None),
        ("", None),
    ],
)
def test_parse_amount(raw, expected):
    got = one(p.parse_amount, raw)
    assert is_missing(got) if expected is None else got == pytest.approx(expected)


def test_parse_amount_unit_from_header_applies_to_bare_numbers_only():
    got = p.parse_amount(pd.Series(["30", "30万", "5000元"]), unit=10_000).tolist()
    assert got == [300_000.0, 300_000.0, 50_000_000.0]


@pytest.mark.parametrize(
    ("raw", "lo", "hi", "kind"),
    [
        ("30-50万", 300_000, 500_000, "range"),
        ("30万-50万", 300_000, 500_000, "range"),
        ("30～50万", 300_000, 500_000, "range"),
        ("30至50万元", 300_000, 500_000, "range"),
        ("10万以内", 0, 100_000, "up_to"),
        ("10万以下", 0, 100_000, "up_to"),
        ("不超过10万", 0, 100_000, "up_to"),
        ("≤10万", 0, 100_000, "up_to"),
        ("50万以上", 500_000, None, "from"),
        ("≥50万", 500_000, None, "from"),
        ("50万+", 500_000, None, "from"),
        ("不低于50万", 500_000, None, "from"),
        ("20万", 200_000, 200_000, "exact"),
        ("200000", 200_000, 200_000, "exact"),
        ("面议", None, None, "negotiable"),
        ("待定", None, None, "negotiable"),
        ("50-30万", None, None, None),
        ("很多", None, None, None),
        (None, None, None, None),
    ],
)
def test_parse_budget(raw, lo, hi, kind):
    got = p.parse_budget(pd.Series([raw], dtype="object")).iloc[0]
    assert is_missing(got["budget_min"]) if lo is None else got["budget_min"] == lo
    assert is_missing(got["budget_max"]) if hi is None else got["budget_max"] == hi
    assert is_missing(got["budget_kind"]) if kind is None else got["budget_kind"] == kind


def test_parse_budget_header_unit():
    got = p.parse_budget(pd.Series(["30-50", "10万以内"]), unit=10_000)
    assert got["budget_min"].tolist() == [300_000, 0]
    assert got["budget_max"].tolist() == [500_000, 100_000]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4", 4),
        ("4分", 4),
        ("４", 4),
        ("４分", 4),
        ("4.0", 4),
        ("四分", 4),
        ("5/5", 5),
        (3, 3),
        ("4.5", None),
        ("9分", None),
        ("0", None),
        ("高", None),
        ("", None),
    ],
)
def test_parse_score(raw, expected):
    got = one(p.parse_score, raw)
    assert is_missing(got) if expected is None else got == expected


def test_parse_score_without_range_leaves_range_to_schema():
    assert one(p.parse_score, "9分", low=None) == 9


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("+86-138-0013-8000", "13800138000"),
        ("+86 13800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("(0755)88886666", "0755-88886666"),
        ("（0755）8888-6666", "0755-88886666"),
        ("0755-88886666", "0755-88886666"),
        ("010-12345678", "010-12345678"),
        ("010 1234 5678", "010-12345678"),
        ("02112345678", "021-12345678"),
        ("13800138000; 13900139000", "13800138000; 13900139000"),
        ("13800138000/010-12345678", "13800138000; 010-12345678"),
        ("12345", None),
        ("23800138000", None),
        ("13800138000/123", None),
        ("打电话给前台", None),
        ("", None),
    ],
)
def test_parse_phone(raw, expected):
    got = one(p.parse_phone, raw)
    assert is_missing(got) if expected is None else got == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("①初次接洽", "初次接洽"),
        ("② 需求确认", "需求确认"),
        ("1-初次接洽", "初次接洽"),
        ("2-需求确认", "需求确认"),
        ("3.方案提交", "方案提交"),
        ("阶段4", "商务谈判"),
        ("第5阶段", "成交"),
        ("商务谈判", "商务谈判"),
        ("⑥售后维护", "售后维护"),
        ("方案报价", "方案提交"),
        ("Closed Won", "成交"),
        ("Negotiation", "商务谈判"),
        ("4", "商务谈判"),
        ("2-方案提交", None),
        ("7", None),
        ("搁置", None),
    ],
)
def test_parse_stage(raw, expected):
    got = one(p.parse_stage, raw)
    assert is_missing(got) if expected is None else got == expected


def test_parse_stage_is_ordered():
    out = p.parse_stage(pd.Series(["⑤成交", "①初次接洽"]))
    assert out.cat.ordered and out.iloc[0] > out.iloc[1]


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("grade", "重点客户", "重点"),
        ("grade", "重点", "重点"),
        ("grade", "VIP", "重点"),
        ("grade", "潜在客户", "潜在"),
        ("grade", "一般客户", "普通"),
        ("grade", "金牌", None),
        ("priority", "高优先级", "高"),
        ("priority", "High", "高"),
        ("priority", "低", "低"),
        ("potential_rating", "a级", "A"),
        ("potential_rating", "Ｂ", "B"),
        ("contact_method", "视频会议", "线上会议"),
        ("contact_method", "上门拜访", "面谈"),
        ("contact_method", "Email", "邮件"),
        ("contact_method", "微信", "微信"),
        ("contact_method", "企业微信", "微信"),
        ("contact_method", "钉钉", "钉钉"),
        ("contact_method", "QQ", "QQ"),
        ("contact_method", "展会", None),
        ("company_size", "中型企业", "中型"),
        ("outcome", "赢单", "won"),
        ("outcome", "丢单", "lost"),
    ],
)
def test_parse_choice(field, raw, expected):
    got = one(p.parse_choice, raw, field=field)
    assert is_missing(got) if expected is None else got == expected


def test_parse_choice_allowed_list_is_overridable():
    out = p.parse_choice(pd.Series(["微信"]), "contact_method", allowed=("电话", "微信"))
    assert out.tolist() == ["微信"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("满意，认可方案", "积极"),
        ("对产品很感兴趣", "积极"),
        ("不满意售后", "消极"),
        ("价格偏高，暂不考虑", "消极"),
        ("需要内部讨论", "中性"),
        ("积极", "积极"),
        ("消极", "消极"),
        (None, None),
    ],
)
def test_parse_sentiment(raw, expected):
    got = one(p.parse_sentiment, raw)
    assert is_missing(got) if expected is None else got == expected


def test_parse_industry_keeps_both_levels():
    out = p.parse_industry(pd.Series(["制造业-机械设备", "信息技术－软件开发", "零售"]))
    assert out["industry_l1"].tolist() == ["制造业", "信息技术", "零售"]
    assert out["industry_l2"].tolist()[:2] == ["机械设备", "软件开发"]
    assert pd.isna(out["industry_l2"].iloc[2])


@pytest.mark.parametrize(
    ("raw", "period", "start", "freq"),
    [
        ("2024-03", "2024-03", "2024-03-01", "M"),
        ("2024/3", "2024-03", "2024-03-01", "M"),
        ("2024年3月", "2024-03", "2024-03-01", "M"),
        ("2024Q1", "2024Q1", "2024-01-01", "Q"),
        ("2024-Q3", "2024Q3", "2024-07-01", "Q"),
        ("2024年第二季度", "2024Q2", "2024-04-01", "Q"),
        ("2024", "2024", "2024-01-01", "Y"),
        ("2024年", "2024", "2024-01-01", "Y"),
    ],
)
def test_parse_period(raw, period, start, freq):
    got = p.parse_period(pd.Series([raw])).iloc[0]
    assert (got["period"], got["period_start"], got["period_freq"]) == (period, T(start), freq)


@pytest.mark.parametrize(
    ("raw", "start", "end"),
    [
        ("2024年Q3", "2024-07-01", "2024-09-30"),
        ("2024Q4", "2024-10-01", "2024-12-31"),
        ("2024年6月", "2024-06-01", "2024-06-30"),
        ("2024年下半年", "2024-07-01", "2024-12-31"),
        ("2024", "2024-01-01", "2024-12-31"),
        ("待定", None, None),
    ],
)
def test_parse_timeline(raw, start, end):
    got = p.parse_timeline(pd.Series([raw])).iloc[0]
    if start is None:
        assert pd.isna(got["purchase_start"]) and pd.isna(got["purchase_end"])
    else:
        assert (got["purchase_start"], got["purchase_end"]) == (T(start), T(end))


@pytest.mark.parametrize(
    ("fn", "raw", "expected"),
    [
        (p.parse_year, "2015年", 2015),
        (p.parse_year, "2015-05-01", 2015),
        (p.parse_year, "1700", None),
        (p.parse_number, "1,200人", 1200.0),
        (p.parse_number, "100-200人", None),
        (p.parse_percent, "12%", 0.12),
        (p.parse_percent, "0.12", 0.12),
        (p.parse_percent, "12", None),
        (p.parse_bool, "是", True),
        (p.parse_bool, "否", False),
        (p.parse_bool, "也许", None),
    ],
)
def test_small_parsers(fn, raw, expected):
    got = one(fn, raw)
    assert is_missing(got) if expected is None else got == pytest.approx(expected)


def test_company_key_ignores_cosmetic_differences():
    names = pd.Series(
        [
            "上海恒达机械（集团）有限公司",
            " 上海恒达机械(集团)有限公司\u3000",
            "上海恒达 机械(集团)有限公司",
        ]
    )
    assert p.company_key(names).nunique() == 1


def test_parsers_do_not_modify_their_input():
    s = pd.Series(["２０２４年３月１５日", " ¥1,234 ", "４分"], dtype="object")
    before = s.copy()
    for fn in (p.parse_date, p.parse_amount, p.parse_score, p.parse_phone, p.parse_budget):
        fn(s)
    pd.testing.assert_series_equal(s, before)


ALL_PARSERS = [
    p.parse_date,
    p.parse_amount,
    p.parse_number,
    p.parse_percent,
    p.parse_budget,
    p.parse_score,
    p.parse_phone,
    p.parse_stage,
    p.parse_bool,
    p.parse_sentiment,
    p.parse_industry,
    p.parse_year,
    p.parse_period,
    p.parse_timeline,
    lambda s: p.parse_choice(s, "grade"),
    p.company_key,
    p.normalize_text,
]

messy_text = st.one_of(
    st.text(max_size=30),
    st.text(
        alphabet="0123456789０１２３４５６７８９-/.年月日万亿¥￥,()（）+ 分Q季度以上内", max_size=20
    ),
    st.none(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(messy_text, min_size=1, max_size=12))
def test_parsers_never_raise_and_keep_length(values):
    s = pd.Series(values, dtype="object")
    for fn in ALL_PARSERS:
        out = fn(s)
        assert len(out) == len(s)
        assert out.index.equals(s.index)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1990, max_value=2100),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=28),
    st.sampled_from(["{y}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}日", "{y}.{m}.{d}"]),
)
def test_date_forms_round_trip(y, m, d, form):
    got = one(p.parse_date, form.format(y=y, m=m, d=d))
    assert got == T(year=y, month=m, day=d)


@settings(max_examples=100, deadline=None)
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_amount_thousands_separators_round_trip(value):
    text = f"¥{value:,.2f}"
    assert one(p.parse_amount, text) == pytest.approx(float(value))


def test_parsers_are_vectorised_on_large_input():
    # Not a timing test: the parsers must accept a large column in one call and agree with
    # the same values parsed one by one.
    rng = np.random.default_rng(0)
    values = pd.Series(rng.choice(["2024/3/15", "2024年3月1日", "45366", "bad"], size=5000))
    whole = p.parse_date(values)
    singles = pd.Series([one(p.parse_date, v) for v in values[:50]])
    assert whole[:50].reset_index(drop=True).equals(singles.astype("datetime64[ns]"))


@pytest.mark.parametrize(
    ("raw", "employees", "revenue"),
    [
        ("员工100-500人，年营收5000万-1亿", (100, 500), (5e7, 1e8)),
        ("员工50-99人", (50, 99), (None, None)),
        ("50人以下", (None, 50), (None, None)),
        ("少于50人", (None, 50), (None, None)),
        ("500人以上", (500, None), (None, None)),
        ("超过1000人", (1000, None), (None, None)),
        ("100-499人", (100, 499), (None, None)),
        ("1,000-5,000人", (1000, 5000), (None, None)),
        ("1000+", (1000, None), (None, None)),
        ("20-50", (20, 50), (None, None)),
        ("员工200人", (200, 200), (None, None)),
        ("年营收1亿以上", (None, None), (1e8, None)),
        ("营收约3000万", (None, None), (3e7, 3e7)),
        ("营收1-5亿", (None, None), (1e8, 5e8)),
        ("年营收3000万以下，员工30人", (30, 30), (None, 3e7)),
    ],
)
def test_parse_company_size_ranges(raw, employees, revenue):
    out = p.parse_company_size(pd.Series([raw])).iloc[0]
    got = (out["employees_min"], out["employees_max"], out["annual_revenue_min"])
    want = (*employees, revenue[0])
    assert [None if pd.isna(v) else v for v in got] == list(want)
    assert (None if pd.isna(out["annual_revenue_max"]) else out["annual_revenue_max"]) == revenue[1]
    assert out["size_understood"]
    assert out["company_size"] == raw  # the text is kept as written


@pytest.mark.parametrize(
    ("raw", "word"),
    [
        ("大型企业", "大型"),
        ("中小企业", "中小型"),
        ("小微", "小微"),
        ("个体户", "个人"),
        ("中型", "中型"),
    ],
)
def test_parse_company_size_words(raw, word):
    out = p.parse_company_size(pd.Series([raw])).iloc[0]
    assert out["company_size"] == word and out["size_understood"]
    assert out[["employees_min", "employees_max"]].isna().all()


def test_parse_company_size_keeps_what_it_cannot_read():
    out = p.parse_company_size(pd.Series(["看情况", None, "很大"]))
    assert out["size_understood"].tolist() == [False, False, False]
    assert out["company_size"].tolist()[0] == "看情况" and pd.isna(out["company_size"][1])


@given(st.text(max_size=30))
def test_parse_company_size_never_raises_and_keeps_bounds_ordered(text):
    out = p.parse_company_size(pd.Series([text]))
    row = out.iloc[0]
    for lo, hi in (
        ("employees_min", "employees_max"),
        ("annual_revenue_min", "annual_revenue_max"),
    ):
        if pd.notna(row[lo]) and pd.notna(row[hi]):
            assert row[lo] <= row[hi]
    assert row["size_understood"] == row.drop(
        ["company_size", "size_understood"]
    ).notna().any() or (row["company_size"] in p.CHOICE_VARIANTS["company_size"].values())


def test_parse_company_size_refuses_a_range_written_backwards():
    out = p.parse_company_size(pd.Series(["员工500-100人", "营收5亿-1亿"])).iloc[:, 1:5]
    assert out.isna().all().all()


@pytest.mark.parametrize(
    ("raw", "stage"),
    [
        ("Prospecting", "初次接洽"),
        ("Qualification", "需求确认"),
        ("Needs Analysis", "需求确认"),
        ("Engaging", "需求确认"),
        ("Proposal/Price Quote", "方案提交"),
        ("Negotiation/Review", "商务谈判"),
        ("Closed Won", "成交"),
        ("Won", "成交"),
        ("Closed Lost", None),
        ("Lost", None),
        ("Closed", None),  # won or lost? not guessed
    ],
)
def test_english_crm_stages(raw, stage):
    got = p.parse_stage(pd.Series([raw])).iloc[0]
    assert pd.isna(got) if stage is None else got == stage


def test_stage_outcome_reads_lost_stages_only():
    got = p.stage_outcome(pd.Series(["Closed Lost", "Lost", "输单", "Won", "成交", None]))
    assert got.tolist()[:3] == ["lost", "lost", "lost"]
    assert got[3:].isna().all()


def test_parse_date_ignores_a_weekday_written_after_the_date():
    # A pharmacy export writes every date as `2018-01-01 星期五` (and the weekday is wrong).
    got = p.parse_date(
        pd.Series(["2018-01-01 星期五", "2024/6/30 17:42 周日", "2024-06-30（周日）"])
    )
    assert got.tolist() == [
        pd.Timestamp("2018-01-01"),
        pd.Timestamp("2024-06-30 17:42"),
        pd.Timestamp("2024-06-30"),
    ]
    # the date still decides: an impossible date is not rescued by its weekday
    assert p.parse_date(pd.Series(["2018-02-29 星期一", "2024-06-30 星期八"])).isna().all()
