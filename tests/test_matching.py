"""Name matching: one company written differently is one customer; nothing merges below threshold."""

import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

import analysis_kit as ak
from analysis_kit.datasets import make_messy_customers
from analysis_kit.errors import ParameterError, SchemaError
from analysis_kit.matching import (
    LEGAL_FORMS,
    LEGAL_FORMS_EN,
    LINK_STATUSES,
    REGIONS,
    REGIONS_EN,
    REVIEW_THRESHOLD,
    THRESHOLD,
    customer_groups,
    link_customers,
    link_report,
    match_names,
    name_core,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

XINGCHEN_FORMS = [
    "星辰科技有限公司",
    "星辰科技",
    "（北京）星辰科技有限公司",
    "北京星辰科技有限公司",
    "星辰科技股份有限公司",
    "星辰科技(深圳)有限公司",
    " 星辰科技有限公司\u3000",
    "星辰科技有限公司北京分公司",
    "广东省深圳市星辰科技有限公司",
]


@pytest.fixture
def customers():
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "customer_name": [
                "星辰科技有限公司",
                "华为技术有限公司",
                "明远生物医疗器械科技有限公司",
                "（北京）天府物流有限公司",
                "上海天府物流有限公司",
            ],
        }
    )


# --- cores ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("星辰科技有限公司", "星辰科技"),
        ("（北京）星辰科技有限公司", "星辰科技"),
        ("北京市星辰科技有限责任公司", "星辰科技"),
        ("星辰科技(深圳)股份有限公司", "星辰科技"),
        ("广东省深圳市星辰科技有限公司", "星辰科技"),
        ("上海恒达机械（集团）有限公司", "恒达机械"),
        ("华润集团", "华润"),
        ("微软(中国)有限公司", "微软"),
        ("星辰科技有限公司北京分公司", "星辰科技"),
        ("星辰科技有限公司销售分公司", "星辰科技销售"),
        ("Xingchen Tech Co., Ltd.", "xingchentech"),
        ("Xingchen Technology Co.,Ltd", "xingchentech"),
        ("XINGCHEN TECH (SHENZHEN) LIMITED", "xingchentech"),
        ("星辰机械厂", "星辰机械厂"),  # a factory is not stripped: it may be another company
        ("青岛啤酒股份有限公司", "青岛啤酒"),  # the region is the name: too little would remain
        ("北京银行", "北京银行"),
        ("北京嘉兴职业技能培训有限公司", "嘉兴职业技能培训"),  # one region only after a city
        ("张先生", "张先生"),
        ("李女士", "李女士"),
        ("有限公司", "有限公司"),  # stripped to nothing: keeps its key
        ("有限公司有限公司", "有限公司有限公司"),
        ("(a(北京)b)星辰科技有限公司", "ab星辰科技"),  # only the inner pair is a bracket pair
        ("星辰科技( 北京 )有限公司", "星辰科技"),
        ("星辰科技【上海】(中国)有限公司", "星辰科技"),
        ("星辰科技(有 限 公 司)", "星辰科技"),
        ("星辰科技(销售)有限公司", "星辰科技销售"),
        ("星辰科技(海淀区)有限公司", "星辰科技"),
        ("星 辰 科 技 有 限 公 司", "星辰科技"),
        ("星辰1号 2号有限公司", "星辰1号2号"),  # the space between two digits is not removed
        ("xx 有限公司 co", "xx"),
        ("abc co ltd 有限公司", "abc"),
        ("Xingchen Intl Intl Co Ltd", "xingcheninternationalinternational"),
        ("XINGCHEN TECHNOLOGY & SONS LIMITED", "xingchentechandsons"),
        ("O'Neil Mfg Co., Ltd.", "oneilmanufacturing"),
        ("Hong Kong Xingchen Ltd", "xingchen"),
        ("Guangdong Shenzhen Xingchen Ltd", "xingchen"),
        ("广西壮族自治区南宁星辰有限公司", "南宁星辰"),  # without the city too little would remain
        ("北京分公司", "北京"),
        ("星辰{Ltd}", "星辰"),
        ("张 先 生", "张先生"),
    ],
)
def test_name_core(name, core):
    assert name_core(pd.Series([name])).iloc[0] == core


def test_name_core_keeps_index_blanks_and_input():
    names = pd.Series(["北京星辰科技有限公司", None, "  "], index=[7, 8, 9], name="客户名称")
    before = names.copy()
    out = name_core(names)
    assert out.index.tolist() == [7, 8, 9] and out.name == "客户名称"
    assert out.iloc[0] == "星辰科技" and out.iloc[1:].isna().all()
    pd.testing.assert_series_equal(names, before)


def _strip_legal_forms(text):
    """The rule as documented: the longest Chinese form, or a Latin last word, again and again."""
    changed = True
    while changed and text:
        changed = False
        for form in sorted(LEGAL_FORMS, key=len, reverse=True):
            if text.endswith(form):
                text, changed = text[: -len(form)].rstrip(), True
                break
        words = text.split(" ")
        if words[-1] in LEGAL_FORMS_EN:
            text, changed = " ".join(words[:-1]), True
    return text


def test_legal_forms_are_stripped_from_the_end_one_at_a_time():
    ends = [*LEGAL_FORMS, " co", " ltd", " group", "公司 co", " co有限公司"]
    names = ["星辰科技" + a + b for a in ["", *ends] for b in ends] + list(LEGAL_FORMS)
    expected = [(_strip_legal_forms(n) or n).replace(" ", "") for n in names]
    assert name_core(pd.Series(names)).tolist() == expected


def test_name_core_of_other_dtypes():
    assert name_core(pd.Series([1.0, 2.5, None])).tolist()[:2] == ["1", "25"]
    assert name_core(pd.Series(["星辰科技有限公司", 7], dtype=object)).tolist() == ["星辰科技", "7"]


def test_no_region_name_starts_another():
    # the leading-region pattern tells a province by the alternative that matches
    for regions in (REGIONS, [f"{r} " for r in REGIONS_EN]):
        assert not [(a, b) for a in regions for b in regions if a != b and b.startswith(a)]


def test_plain_names_need_no_clean_up():
    # digits and CJK ideographs: word characters that NFKC and lower-casing leave as they are
    plain = [chr(c) for r in ((0x30, 0x3A), (0x3400, 0x4DC0), (0x4E00, 0xA000)) for c in range(*r)]
    assert all(c.isalnum() and unicodedata.normalize("NFKC", c) == c == c.lower() for c in plain)


def test_strip_regions_false_keeps_regions():
    names = pd.Series(["北京星辰科技有限公司", "星辰科技(深圳)有限公司", "星辰科技有限公司"])
    assert name_core(names, strip_regions=False).tolist() == [
        "北京星辰科技",
        "星辰科技深圳",
        "星辰科技",
    ]


# --- pairs and groups ----------------------------------------------------------------------------


def test_every_form_of_a_name_is_one_customer():
    groups = customer_groups(pd.Series(XINGCHEN_FORMS))
    assert groups.group.nunique() == 1
    assert set(groups.pairs["decision"]) == {"same_core"}


def test_regional_subsidiaries_merge_unless_regions_are_kept():
    names = pd.Series(["北京星辰科技有限公司", "上海星辰科技有限公司"])
    assert customer_groups(names).group.nunique() == 1
    kept = customer_groups(names, strip_regions=False)
    assert kept.group.nunique() == 2
    assert kept.pairs.empty  # different regions left in the names: not even for review
    # with regions kept, a region inside the name differs too: not the same company
    inside = pd.Series(["星辰北京科技发展有限公司", "星辰上海科技发展有限公司"])
    assert match_names(inside, strip_regions=False, threshold=50, review_threshold=10).empty


@pytest.mark.parametrize("threshold", [THRESHOLD, 60.0, 50.0])
def test_huawei_and_huarun_never_merge(threshold):
    names = pd.Series(["华为技术有限公司", "华润集团", "华为", "华润"])
    groups = customer_groups(names, threshold=threshold, review_threshold=min(threshold, 40.0))
    assert groups.group.iloc[0] != groups.group.iloc[1]
    assert groups.group.iloc[2] != groups.group.iloc[3]
    assert "fuzzy" not in set(groups.pairs["decision"])


def test_pair_just_below_threshold_is_review_and_not_merged():
    names = pd.Series(["星辰机械厂", "星辰机械有限公司"])  # 星辰机械厂 / 星辰机械: 88.9
    groups = customer_groups(names)
    assert groups.group.iloc[0] != groups.group.iloc[1]
    (pair,) = groups.review.itertuples()
    assert pair.decision == "review" and pair.reason == "below threshold"
    assert REVIEW_THRESHOLD <= pair.score < THRESHOLD
    lowered = customer_groups(names, threshold=88.0)
    assert lowered.group.nunique() == 1 and lowered.pairs["decision"].tolist() == ["fuzzy"]


def test_long_names_one_character_apart_merge_only_with_the_same_trade_name():
    same = pd.Series(["星辰生物医疗器械科技有限公司", "星辰生物医疗器材科技有限公司"])  # 90
    assert customer_groups(same).group.nunique() == 1
    other = pd.Series(["腾达生物医疗器械科技有限公司", "腾远生物医疗器械科技有限公司"])  # 90
    groups = customer_groups(other)
    assert groups.group.nunique() == 2
    assert groups.review["reason"].tolist() == ["trade names differ"]


@pytest.mark.parametrize(
    "names",
    [
        ["星辰1号科技发展有限公司", "星辰2号科技发展有限公司"],
        ["星辰一期科技发展有限公司", "星辰二期科技发展有限公司"],
        ["A Tech Ltd", "B Tech Ltd"],
        ["星辰", "星晨"],
    ],
)
def test_different_companies_are_not_paired(names):
    pairs = match_names(pd.Series(names), threshold=60, review_threshold=50)
    assert "fuzzy" not in set(pairs["decision"])
    assert customer_groups(pd.Series(names), threshold=60, review_threshold=50).group.nunique() == 2


def test_short_cores_never_merge_by_similarity():
    pairs = match_names(pd.Series(["星辰", "星辰网"]), threshold=75, review_threshold=70)
    assert pairs[["decision", "reason"]].values.tolist() == [["review", "short name"]]


def test_personal_customers_are_not_fuzzy_matched():
    names = pd.Series(["张先生", "张先生 ", "张女士", "李先生"])
    groups = customer_groups(names, threshold=30, review_threshold=10)
    assert groups.group.nunique() == 3  # the two typings of 张先生 are one
    assert groups.pairs.empty


def test_complete_linkage_does_not_chain():
    # A~B 90, B~C 90, A~C 80: complete linkage merges one pair and sends the other to review
    names = pd.Series(["星辰生物医疗器械科技", "星辰生物医疗器材科技", "星辰生物医药器材科技"])
    complete = customer_groups(names)
    assert complete.group.nunique() == 2
    assert "would chain" in set(complete.review["reason"])
    single = customer_groups(names, linkage="single")
    assert single.group.nunique() == 1


def test_explicit_ids_are_kept_apart_unless_asked():
    names = pd.Series(["星辰科技有限公司", "北京星辰科技有限公司", "星辰科技"])
    ids = pd.Series(["C2", "C1", None])
    groups = customer_groups(names, ids=ids)
    assert groups.group.tolist() == ["C2", "C1", groups.group.iloc[2]]
    assert groups.group.iloc[2] not in ("C1", "C2")  # ambiguous: joins neither id
    assert set(groups.review["reason"]) == {"different ids", "ambiguous"}
    merged = customer_groups(names, ids=ids, merge_ids=True)
    assert merged.group.tolist() == ["C1", "C1", "C1"]


def test_ids_shared_across_cores_are_decided_in_core_order():
    # C1 is typed with two names: its cores are decided one after the other
    names = pd.Series(
        ["星辰科技", "星辰科技有限公司", "天府物流", "天府物流有限公司", "星辰科技股份有限公司"]
    )
    groups = customer_groups(names, ids=pd.Series(["C1", "C2", "C1", None, None]))
    assert groups.group.tolist()[:4] == ["C1", "C2", "C1", "C1"]
    assert groups.group.iloc[4] not in ("C1", "C2")  # 星辰科技 has two ids: joins neither
    assert groups.pairs["reason"].tolist() == ["equal cores", "different ids", "ambiguous"]


def test_rows_without_id_join_the_id_of_their_company():
    names = pd.Series(["西安汇祥网络科技有限公司 ", "西安汇祥网络科技有限公司", "汇祥网络科技"])
    ids = pd.Series([None, "C00082", None])
    assert customer_groups(names, ids=ids).group.tolist() == ["C00082"] * 3


def test_groups_and_pairs_do_not_depend_on_row_order():
    rng = np.random.default_rng(3)
    names = pd.Series(
        XINGCHEN_FORMS
        + ["星辰机械厂", "星辰机械有限公司", "华为技术有限公司", "华润集团"]
        + ["星辰生物医疗器械科技", "星辰生物医疗器材科技", "星辰生物医药器材科技"]
        + ["腾达生物医疗器械科技有限公司", "腾远生物医疗器械科技有限公司"]
    )
    before = names.copy()
    first = customer_groups(names)
    pd.testing.assert_series_equal(names, before)
    for _ in range(5):
        order = rng.permutation(len(names))
        shuffled = names.iloc[order]
        again = customer_groups(shuffled)
        pd.testing.assert_series_equal(again.group.sort_index(), first.group)
        pd.testing.assert_frame_equal(again.pairs, first.pairs)
        pd.testing.assert_frame_equal(match_names(shuffled), match_names(names))


# --- property: nothing merges below the threshold -------------------------------------------------

_TRADE = "星辰晨华为润信明远天府腾达海祥"
_generated_name = st.builds(
    lambda region, trade, industry, form: region + trade + industry + form,
    st.sampled_from(["", "北京", "上海市", "(深圳)", "广东省广州市", "星辰"]),
    st.text(alphabet=_TRADE, min_size=1, max_size=4),
    st.sampled_from(["科技", "网络科技", "生物医疗器械科技", "", "1号", "2号", "机械厂"]),
    st.sampled_from([*LEGAL_FORMS, "", " Co., Ltd."]),
)
_any_name = st.one_of(_generated_name, st.text(max_size=14))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(_any_name, min_size=2, max_size=4),
    threshold=st.floats(50, 100),
    gap=st.floats(0, 40),
)
def test_no_pair_merges_below_threshold(names, threshold, gap):
    review_threshold = max(1.0, threshold - gap)
    series = pd.Series(names)
    pairs = match_names(series, threshold=threshold, review_threshold=review_threshold)
    fuzzy = pairs[pairs["decision"] == "fuzzy"]
    assert (fuzzy["score"] >= threshold).all()
    assert (pairs.loc[pairs["decision"] == "review", "score"] >= review_threshold).all()
    same = pairs[pairs["decision"] == "same_core"]
    assert (same["left_core"] == same["right_core"]).all()

    groups = customer_groups(series, threshold=threshold, review_threshold=review_threshold)
    cores = name_core(series)
    for i in range(len(series)):
        for j in range(i + 1, len(series)):
            gi, gj = groups.group.iloc[i], groups.group.iloc[j]
            if pd.isna(gi) or gi != gj or cores.iloc[i] == cores.iloc[j]:
                continue
            # different cores in one group (complete linkage): every two at or above the threshold
            assert fuzz.ratio(cores.iloc[i], cores.iloc[j]) >= threshold
    # a pair sent to review is never in one group
    label = dict(zip(ak.stable_customer_id(series), groups.group, strict=True))
    for left, right in zip(groups.review["left_id"], groups.review["right_id"], strict=True):
        assert label[left] != label[right]


# --- scale ---------------------------------------------------------------------------------------


def test_twenty_thousand_names_are_compared_in_blocks():
    rng = np.random.default_rng(7)
    chars = list(
        "星辰华信明远天府南沙云图腾达海祥盛隆恒通安源光和泰富方金鼎宏鸿永丰嘉新世中创博康佳宇长成利德正兴"
    )
    industries = [
        "科技",
        "网络科技",
        "信息技术",
        "机械设备",
        "生物医疗",
        "电子",
        "物流",
        "化工",
        "软件",
    ]
    regions = ["", "北京", "上海", "深圳市", "广东省广州市", "(杭州)"]
    forms = ["有限公司", "股份有限公司", "集团有限公司", "", "有限责任公司"]
    n = 20_000
    names = pd.Series(
        [
            rng.choice(regions) + "".join(rng.choice(chars, size=3)) + rng.choice(industries)
            + rng.choice(forms)
            for _ in range(n)
        ]
    )  # fmt: skip
    pairs = match_names(names)
    all_pairs = n * (n - 1) // 2
    assert 0 < pairs.attrs["comparisons"] <= all_pairs // 500  # at most 0.2% of all pairs
    assert pairs.attrs["comparisons"] <= 20 * n
    assert (pairs.loc[pairs["decision"] == "fuzzy", "score"] >= THRESHOLD).all()


def test_generated_customer_table_does_not_depend_on_row_order():
    table = make_messy_customers(20_000, random_state=5).astype("str")
    names, ids = table["customer_name"], table["customer_id"]
    first = customer_groups(names, ids=ids)
    assert first.group.notna().sum() > 0.9 * len(table)
    assert set(first.pairs["decision"]) <= {"same_core", "fuzzy", "review"}
    order = np.random.default_rng(6).permutation(len(table))
    again = customer_groups(names.iloc[order], ids=ids.iloc[order])
    pd.testing.assert_series_equal(again.group.sort_index(), first.group)
    pd.testing.assert_series_equal(again.core.sort_index(), first.core)
    pd.testing.assert_frame_equal(again.pairs, first.pairs)


# --- linking -------------------------------------------------------------------------------------


def test_every_form_links_to_its_customer(customers):
    rows = pd.DataFrame({"customer_name": XINGCHEN_FORMS})
    linked = link_customers(rows, customers)
    assert linked["customer_id"].tolist() == ["C1"] * len(XINGCHEN_FORMS)
    assert set(linked["link_status"]) == {"name", "core"}


def test_other_scripts_link_through_aliases(customers):
    rows = pd.DataFrame({"customer_name": ["Xingchen Tech Co., Ltd.", "XINGCHEN TECH CO LTD"]})
    assert link_customers(rows, customers)["link_status"].tolist() == ["orphan", "orphan"]
    linked = link_customers(
        rows, customers, aliases={"Xingchen Tech Co., Ltd.": "星辰科技有限公司"}
    )
    assert linked["customer_id"].tolist() == ["C1", "C1"]
    assert linked["link_status"].tolist() == ["alias", "alias"]  # any spelling of the alias
    by_id = link_customers(rows, customers, aliases={"xingchen technology": "C1"})
    assert by_id["customer_id"].tolist() == ["C1", "C1"]
    unknown = link_customers(rows, customers, aliases={"xingchen technology": "C404"})
    assert unknown["link_status"].tolist() == ["orphan", "orphan"]


def test_link_statuses_on_hand_made_orders(customers):
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(1, 11)],
            "customer_id": ["C2", "C99", None, None, None, None, None, "C77", None, "C3"],
            "customer_name": [
                "华为技术有限公司",  # id C2 in customers
                "星辰科技有限公司",  # id unknown, exact name → C1
                "北京星辰科技有限公司",  # core → C1
                "明远生物医疗器材科技有限公司",  # one character off a long name → C3
                "明远生物医疗器械有限公司",  # 88.9 against C3: review
                "天府物流",  # core shared by C4 and C5: review
                "华润集团",  # nobody
                None,  # an id that is not in the customer table
                None,  # nothing at all
                "华润集团",  # the id wins over the name
            ],
        }
    )
    before = orders.copy()
    linked = link_customers(orders, customers)
    pd.testing.assert_frame_equal(orders, before)
    assert linked["link_status"].tolist() == [
        "id",
        "name",
        "core",
        "fuzzy",
        "review",
        "review",
        "orphan",
        "orphan",
        "no_customer",
        "id",
    ]
    assert linked["customer_id"].tolist()[:4] == ["C2", "C1", "C1", "C3"]
    # not linked: the row keeps its own id; the proposal is in link_candidate
    assert pd.isna(linked["customer_id"].iloc[4])
    assert linked["customer_id"].iloc[7] == "C77"
    assert linked["link_candidate"].tolist()[4:6] == ["C3", "C4"]
    assert linked["customer_id_raw"].tolist()[:2] == ["C2", "C99"]
    assert linked["link_score"].iloc[3:5].tolist() == pytest.approx([90.0, 2 * 8 / 18 * 100])
    assert linked["link_score"].iloc[:3].tolist() == [100.0, 100.0, 100.0]
    assert np.isnan(linked["link_score"].iloc[8])
    assert linked["customer_name"].equals(orders["customer_name"])


def test_fuzzy_link_needs_a_clear_lead():
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "customer_name": ["星辰生物医疗器械科技有限公司", "星辰生物医疗器材科技有限公司"],
        }
    )
    rows = pd.DataFrame({"customer_name": ["星辰生物医疗器具科技有限公司"]})  # 90 to both
    linked = link_customers(rows, customers)
    assert linked["link_status"].tolist() == ["review"]
    assert link_customers(rows, customers, margin=0)["link_status"].tolist() == ["fuzzy"]


def test_link_works_with_only_ids_or_only_names(customers):
    only_ids = link_customers(pd.DataFrame({"customer_id": ["C1", "X", None]}), customers)
    assert only_ids["link_status"].tolist() == ["id", "orphan", "no_customer"]
    only_names = link_customers(pd.DataFrame({"customer_name": ["星辰科技"]}), customers)
    assert only_names["customer_id"].tolist() == ["C1"]
    assert only_names["customer_id_raw"].isna().all()


def test_link_report_counts_rows_by_table():
    report = link_report(
        {
            "orders": pd.DataFrame({"link_status": ["id", "id", "orphan", "name"]}),
            "followups": pd.Series(["review", "fuzzy", "no_customer"]),
        }
    )
    assert report.index.tolist() == ["orders", "followups"]
    assert report.columns.tolist() == ["rows", *LINK_STATUSES, "linked", "not_in_customers"]
    assert report.loc["orders", ["rows", "id", "name", "orphan", "linked"]].tolist() == [
        4,
        2,
        1,
        1,
        3,
    ]
    assert report.loc["followups", "not_in_customers"] == 1
    assert report.loc["followups", "no_customer"] == 1


def test_errors_name_the_parameter(customers):
    names = pd.Series(["星辰科技"])
    with pytest.raises(ParameterError, match="threshold"):
        match_names(names, threshold=120)
    with pytest.raises(ParameterError, match="review_threshold"):
        match_names(names, threshold=80, review_threshold=90)
    with pytest.raises(ParameterError, match="linkage"):
        customer_groups(names, linkage="average")
    with pytest.raises(ParameterError, match="ids"):
        customer_groups(names, ids=pd.Series(["C1"], index=[5]))
    with pytest.raises(SchemaError, match="customer_name"):
        link_customers(pd.DataFrame({"x": [1]}), customers)
    with pytest.raises(SchemaError, match="customer_id"):
        link_customers(pd.DataFrame({"customer_name": ["a"]}), customers[["customer_name"]])
    with pytest.raises(ParameterError, match="statuses"):
        link_report({"orders": pd.Series(["linked"])})


# --- the bundled sample --------------------------------------------------------------------------

_SAMPLE = {
    "customers": "客户信息表.csv",
    "orders": "成交明细.xlsx",
    "followups": "跟进记录.csv",
    "stages": "商机阶段记录.csv",
}


@pytest.fixture(scope="module")
def sample():
    return {
        table: ak.clean_table(ak.read_table(DATA / name), as_of="2024-06-30").clean
        for table, name in _SAMPLE.items()
    }


def test_sample_rows_link_to_the_customer_table(sample):
    customers = sample["customers"]
    known_ids = set(customers["customer_id"])
    known_keys = set(ak.parsing.company_key(customers["customer_name"]).dropna())
    linked = {t: link_customers(sample[t], customers) for t in ("orders", "followups", "stages")}
    report = link_report(linked)
    for table, frame in linked.items():
        id_missing = ~sample[table]["customer_id"].isin(known_ids)
        # every row whose id the customer table lacks is resolved by name, core or similarity,
        # or reported; none is silently dropped or relinked by id
        assert (frame.loc[~id_missing, "link_status"] == "id").all()
        assert report.loc[table, "rows"] - report.loc[table, "id"] == id_missing.sum()
        # an orphan's name is not in the customer table under any spelling
        orphans = frame[frame["link_status"] == "orphan"]
        assert not ak.parsing.company_key(orphans["customer_name"]).isin(known_keys).any()
        # rows typed with an id the customer table does not hold, but a name it does, link by name
        by_name = frame[
            id_missing & ak.parsing.company_key(frame["customer_name"]).isin(known_keys)
        ]
        assert (by_name["link_status"] == "name").all()
        assert by_name["customer_id"].isin(known_ids).all()
    xian = linked["stages"][linked["stages"]["customer_name"] == "西安汇祥网络科技有限公司"]
    assert len(xian) and xian["customer_id"].nunique() == 1


def test_sample_customer_table_pairs():
    raw = ak.read_table(DATA / "客户信息表.csv")
    groups = customer_groups(raw["customer_name"], ids=raw["customer_id"])
    # every row without an id joins the id of its company; no two ids merge
    assert groups.group.nunique() == raw["customer_id"].nunique()
    assert "fuzzy" not in set(groups.pairs["decision"])
    review = set(zip(groups.review["left_id"], groups.review["right_id"], strict=True))
    assert review == {("C00003", "C00082"), ("C00072", "C00107"), ("C00078", "C00106")}
    assert set(groups.review["reason"]) == {"trade names differ"}


def test_external_gbk_customer_sheet():
    table = ak.read_table(ROOT / "tests" / "data" / "外部客户表_gbk.csv")
    groups = customer_groups(table["customer_name"])
    assert name_core(table["customer_name"]).dropna().tolist() == [
        "华信精密机械",
        "华信精密机械",
        "明远数据科技",
        "前海云图信息技术",
        "南沙物流",
        "天府连锁超市",
    ]
    assert groups.group.iloc[0] == groups.group.iloc[1]
    assert groups.group.dropna().nunique() == 5
    assert groups.review.empty


def test_a_bracketed_shop_name_ending_in_market_is_not_a_region():
    # 超市 ends in 市 but is a supermarket, not a city: 天猫小店（心选超市） is another shop.
    cores = name_core(
        pd.Series(["天猫小店（心选超市）", "天猫小店", "星辰科技（深圳市）", "星辰科技"])
    )
    assert cores[0] != cores[1]
    assert cores[2] == cores[3]


def test_pair_table_stores_each_text_once_and_reads_as_text():
    names = pd.Series(
        ["星辰科技有限公司", "北京星辰科技有限公司", "星辰科技发展有限公司", "星晨科技发展有限公司"]
        + ["华为技术有限公司", "华润集团"]
    )
    pairs = customer_groups(names).pairs
    texts = [f"{side}_{what}" for what in ("id", "name", "core") for side in ("left", "right")]
    for left, right in zip(texts[::2], texts[1::2], strict=True):
        assert isinstance(pairs[left].dtype, pd.CategoricalDtype)
        # both sides share one sorted set of categories, so they compare and sort as text
        assert pairs[left].cat.categories.equals(pairs[right].cat.categories)
        assert list(pairs[left].cat.categories) == sorted(pairs[left].cat.categories)
    plain = pairs.astype({c: "str" for c in texts + ["decision", "reason"]})
    assert (pairs["left_core"] == pairs["right_core"]).tolist() == (
        plain["left_core"] == plain["right_core"]
    ).tolist()
    assert pairs.sort_values("left_name")["left_name"].tolist() == sorted(plain["left_name"])
    # counts list only what occurs
    assert pairs["decision"].value_counts().to_dict() == plain["decision"].value_counts().to_dict()
    assert pairs["reason"].value_counts().to_dict() == plain["reason"].value_counts().to_dict()


def test_derived_ids_given_by_the_caller_are_the_ones_it_would_derive():
    raw = make_messy_customers(400, random_state=5)
    names = raw["customer_name"].astype("str")
    ids = raw["customer_id"].astype("str").where(lambda s: s.str.strip() != "")
    own = customer_groups(names, ids=ids)
    given_ids = ak.stable_customer_id(names)
    passed = customer_groups(names, ids=ids, derived_ids=given_ids)
    pd.testing.assert_series_equal(passed.group, own.group)
    pd.testing.assert_frame_equal(passed.pairs, own.pairs)
    # the ids passed are the ones used
    other = customer_groups(names, derived_ids="X" + given_ids)
    assert other.group.dropna().str.startswith("X").all()
    assert other.group.str[1:].equals(customer_groups(names).group)
    with pytest.raises(ParameterError, match="derived_ids"):
        customer_groups(names, derived_ids=given_ids.reset_index(drop=True).iloc[1:])
