import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_kit.privacy import (
    PERSONAL_COLUMNS,
    find_unmasked,
    mask_frame,
    mask_name,
    mask_names,
    mask_phone,
    mask_phones,
    mask_text,
)

# --- mask_phone ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13800138000", "138****8000"),
        ("+86-138-0013-8000", "138****8000"),
        ("+86 138 0013 8000", "138****8000"),
        ("+8613800138000", "138****8000"),
        ("0086 138 0013 8000", "138****8000"),
        ("008613800138000", "138****8000"),
        ("8613800138000", "138****8000"),
        ("138 0013 8000", "138****8000"),
        ("138-0013-8000", "138****8000"),
        ("１３８００１３８０００", "138****8000"),
        (" 13800138000 ", "138****8000"),
        (13800138000, "138****8000"),
        (13800138000.0, "138****8000"),
        ("13800138000.0", "138****8000"),
        ("010-12345678", "010-****5678"),
        ("01012345678", "010-****5678"),
        ("021-1234567", "021-****4567"),
        ("(0755)88886666", "0755-****6666"),
        ("（０７５５）８８８８６６６６", "0755-****6666"),
        ("0755 8888 6666", "0755-****6666"),
        ("075588886666", "0755-****6666"),
        ("0755-88886666", "0755-****6666"),
        ("+86 10 12345678", "010-****5678"),
        ("13800138000;13900139000", "138****8000; 139****9000"),
        ("13800138000；010-12345678", "138****8000; 010-****5678"),
        ("13800138000/13900139000", "138****8000; 139****9000"),
        ("13800138000、13900139000", "138****8000; 139****9000"),
        ("13800138000,13900139000", "138****8000; 139****9000"),
        ("13800138000 13900139000", "138****8000; 139****9000"),
        ("手机：13800138000", "138****8000"),
        ("13800138000(微信同号)", "138****8000"),
        ("张三 13800138000", "138****8000"),
        # anything else: first 3 and last 2 digits
        ("12345678", "123***78"),
        ("4008008888", "400*****88"),
        ("13800138000转8001", "138**********01"),
        ("1234567", "123**67"),
        ("123456", "****"),
        ("无", "****"),
        ("13800138000;", "138****8000"),
    ],
)
def test_mask_phone(value, expected):
    assert mask_phone(value) == expected


@pytest.mark.parametrize("value", [None, np.nan, pd.NA, "", "   ", float("nan"), pd.NaT, ";"])
def test_mask_phone_missing(value):
    assert mask_phone(value) is pd.NA


def test_mask_phones_matches_scalar_and_keeps_index():
    values = [
        "13800138000",
        None,
        "",
        "(0755)88886666",
        "13800138000",
        "12345678",
        "+86-138-0013-8000;010-12345678",
    ]
    series = pd.Series(values, index=list("abcdefg"), name="contact_phone", dtype=object)
    before = series.copy()
    out = mask_phones(series)
    pd.testing.assert_series_equal(series, before)
    assert out.index.tolist() == list("abcdefg")
    assert out.name == "contact_phone"
    for got, value in zip(out, values, strict=True):
        expected = mask_phone(value)
        if expected is pd.NA:
            assert pd.isna(got)
        else:
            assert got == expected


def test_mask_phones_keeps_string_dtype():
    series = pd.Series(["13800138000", None, "010-12345678"], dtype="str")
    out = mask_phones(series)
    assert out.dtype == series.dtype
    assert out.iloc[0] == "138****8000"
    assert pd.isna(out.iloc[1])
    assert out.iloc[2] == "010-****5678"


def test_mask_phones_numbers_from_excel():
    out = mask_phones(pd.Series([13800138000.0, np.nan, 13900139000.0]))
    assert out.iloc[0] == "138****8000"
    assert out.iloc[1] is pd.NA
    assert out.iloc[2] == "139****9000"


def test_mask_phones_empty_series():
    out = mask_phones(pd.Series([], dtype="str"))
    assert len(out) == 0


# --- mask_name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张三", "张**"),
        ("王小明", "王**"),
        (" 李四 ", "李**"),
        ("欧阳娜娜", "欧阳**"),
        ("司马懿", "司马**"),
        ("诸葛亮", "诸葛**"),
        ("上官婉儿", "上官**"),
        ("欧阳", "欧**"),
        ("张三(技术总监)", "张**"),
        ("John Smith", "J. S."),
        ("Ｊｏｈｎ Ｓｍｉｔｈ", "J. S."),
        ("Madonna", "M."),
        ("张三、李四", "张**; 李**"),
        ("张三；李四", "张**; 李**"),
        ("张三;John Smith", "张**; J. S."),
        ("张三,李四", "张**; 李**"),
        ("张三，李四", "张**; 李**"),
        ("---", "**"),
    ],
)
def test_mask_name(value, expected):
    assert mask_name(value) == expected


@pytest.mark.parametrize("value", [None, np.nan, pd.NA, "", "  "])
def test_mask_name_missing(value):
    assert mask_name(value) is pd.NA


def test_mask_names_matches_scalar_and_does_not_mutate():
    values = ["张三", "欧阳娜娜", None, "John Smith", "张三", "张三、李四"]
    series = pd.Series(values, name="owner", dtype="str")
    before = series.copy()
    out = mask_names(series)
    pd.testing.assert_series_equal(series, before)
    assert out.name == "owner"
    for got, value in zip(out, values, strict=True):
        expected = mask_name(value)
        if expected is pd.NA:
            assert pd.isna(got)
        else:
            assert got == expected


# --- mask_text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("联系王经理 13800138000", "联系王经理 138****8000"),
        ("联系王经理13800138000", "联系王经理138****8000"),
        ("电话：010-12345678，周一回访", "电话：010-****5678，周一回访"),
        ("座机(0755)88886666", "座机0755-****6666"),
        ("手机 +86 138 0013 8000。", "手机 138****8000。"),
        ("两个号码 13800138000/13900139000", "两个号码 138****8000/139****9000"),
        ("全角１３８００１３８０００", "全角138****8000"),
        # not phones: ids, dates, amounts
        ("订单 SO20240315001 已签", "订单 SO20240315001 已签"),
        ("2024-03-15 拜访", "2024-03-15 拜访"),
        ("金额 13800138000.00 元", "金额 13800138000.00 元"),
        ("比例 0.13800138000", "比例 0.13800138000"),
        ("预算30-50万", "预算30-50万"),
        ("", ""),
    ],
)
def test_mask_text(value, expected):
    assert mask_text(value) == expected


def test_mask_text_scalars_and_missing():
    assert mask_text(None) is None
    assert mask_text(pd.NA) is pd.NA
    assert mask_text(5) == 5
    assert mask_text(13800138000) == "138****8000"


def test_mask_text_series_matches_scalar():
    values = ["联系 13800138000", None, "无电话", "010-12345678", "联系 13800138000"]
    series = pd.Series(values, dtype=object)
    before = series.copy()
    out = mask_text(series)
    pd.testing.assert_series_equal(series, before)
    assert out.tolist() == [mask_text(v) for v in values]


# --- mask_frame ----------------------------------------------------------------------------------


@pytest.fixture
def customers():
    return pd.DataFrame(
        {
            "customer_name": ["甲科技有限公司", "乙制造有限公司", "丙软件有限公司"],
            "contact_name": ["张三", "欧阳娜娜", None],
            "contact_phone": ["13800138000", "(0755)88886666", None],
            "owner": ["王五", "John Smith", "赵六"],
            "contact_summary": ["王经理电话 13900139000", "无", None],
            "next_step": ["3月22日前回电 010-12345678", "发方案", "等待"],
            "backup_phone": ["13700137000", None, None],
            "notes": ["微信同号 13600136000", "订单 SO20240315001", "x"],
            "amount": [120000.0, 30000.5, np.nan],
            "order_date": pd.to_datetime(["2024-03-15", "2024-03-16", "2024-03-17"]),
        },
        index=[10, 11, 12],
    )


def test_mask_frame(customers):
    before = customers.copy()
    out = mask_frame(customers)
    pd.testing.assert_frame_equal(customers, before)
    assert out.columns.tolist() == customers.columns.tolist()
    assert out.index.tolist() == [10, 11, 12]
    assert out["customer_name"].tolist() == customers["customer_name"].tolist()
    assert out["contact_name"].tolist()[:2] == ["张**", "欧阳**"]
    assert pd.isna(out["contact_name"].iloc[2])
    assert out["contact_phone"].tolist()[:2] == ["138****8000", "0755-****6666"]
    assert out["owner"].tolist() == ["王**", "J. S.", "赵**"]
    assert out["contact_summary"].iloc[0] == "王经理电话 139****9000"
    assert out["next_step"].iloc[0] == "3月22日前回电 010-****5678"
    assert out["backup_phone"].iloc[0] == "137****7000"
    assert out["notes"].tolist()[:2] == ["微信同号 136****6000", "订单 SO20240315001"]
    pd.testing.assert_series_equal(out["amount"], customers["amount"])
    pd.testing.assert_series_equal(out["order_date"], customers["order_date"])
    text = out.to_html() + out.to_string()
    raw_names = customers["contact_name"].tolist() + customers["owner"].tolist()
    assert find_unmasked(text, names=raw_names) == []
    assert find_unmasked(customers.to_html(), names=raw_names) != []


def test_mask_frame_numeric_phone_column():
    df = pd.DataFrame({"联系方式": [13800138000, 13900139000], "qty": [1, 2]})
    out = mask_frame(df)
    assert out["联系方式"].tolist() == ["138****8000", "139****9000"]
    assert out["qty"].tolist() == [1, 2]


def test_mask_frame_explicit_columns(customers):
    out = mask_frame(customers, columns=["contact_phone"], text_columns=["notes", "absent"])
    assert out["contact_name"].tolist()[:2] == ["张三", "欧阳娜娜"]  # not asked for
    assert out["contact_phone"].iloc[0] == "138****8000"
    assert out["notes"].iloc[0] == "微信同号 136****6000"
    assert out["contact_summary"].iloc[0] == "王经理电话 13900139000"


def test_mask_frame_skips_absent_columns_and_handles_duplicates():
    df = pd.DataFrame([["13800138000", "张三"]], columns=["contact_phone", "contact_phone"])
    out = mask_frame(df)
    assert out.shape == (1, 2)
    assert out.iloc[0, 0] == "138****8000"
    empty = mask_frame(pd.DataFrame({"amount": []}))
    assert empty.columns.tolist() == ["amount"]


def test_personal_columns():
    assert PERSONAL_COLUMNS == ("contact_name", "contact_phone", "owner")


def test_mask_frame_rejects_non_frame():
    with pytest.raises(TypeError, match="df must be a pandas DataFrame"):
        mask_frame([1, 2])


# --- find_unmasked -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("联系 13800138000", ["13800138000"]),
        ("<td>138-0013-8000</td>", ["138-0013-8000"]),
        ("<td>+86 138 0013 8000</td>", ["+86 138 0013 8000"]),
        ("电话010-12345678", ["010-12345678"]),
        ("电话 0755 8888 6666。", ["0755 8888 6666"]),
        ("(0755)88886666", ["(0755)88886666"]),
        ("１３８００１３８０００", ["１３８００１３８０００"]),
        ("138****8000 and 010-****5678 and 0755-****6666", []),
        ("SO20240315001 INV13800138000 13800138000X", []),
        ("2024-03-15 2024-03-15T10:20:30 20240315", []),
        ("13800138000.00 0.13800138000 1,380,013,800.00", []),
        ("<td>120000.0</td><td>13</td><td>5</td>", []),
    ],
)
def test_find_unmasked_phones(text, expected):
    assert find_unmasked(text) == expected


def test_find_unmasked_names():
    text = "<td>张**</td><td>欧阳**</td><td>李四</td><td>Tomorrow</td><td>O&#x27;Brien</td>"
    names = ["张三", "欧阳娜娜", "李四、王五", None, "Tom", "O'Brien", "X"]
    assert find_unmasked(text, names=names) == ["李四", "O'Brien"]


def test_find_unmasked_rejects_non_text():
    with pytest.raises(TypeError, match="text must be a str"):
        find_unmasked(None)


# --- properties ----------------------------------------------------------------------------------

_PHONE_ALPHABET = "0123456789０１３８ -+()（）;；/、,.*SOabc张三\n"
_phoneish = st.text(alphabet=_PHONE_ALPHABET, max_size=60)
_mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
_seps = st.sampled_from(["", " ", "-"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), _phoneish))
def test_mask_text_leaves_nothing_to_find(text):
    assert find_unmasked(mask_text(text)) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_mobiles, _phoneish, st.text(max_size=12)), max_size=6), _seps)
def test_mask_text_on_mixed_numbers(parts, sep):
    text = " 备注 ".join(p[:3] + sep + p[3:] for p in parts)
    assert find_unmasked(mask_text(text)) == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), _phoneish, st.integers(), st.floats()))
def test_mask_phone_never_raises_nor_leaks(value):
    out = mask_phone(value)
    assert out is pd.NA or isinstance(out, str)
    if isinstance(out, str):
        assert not re.search(r"\d{5}", unicodedata.normalize("NFKC", out))
        assert find_unmasked(out) == []


@settings(max_examples=100, deadline=None)
@given(_mobiles, _seps)
def test_mask_phone_mobiles(number, sep):
    text = number[:3] + sep + number[3:7] + sep + number[7:]
    assert mask_phone(text) == f"{number[:3]}****{number[-4:]}"
    assert mask_text(f"电话{text}。") == f"电话{number[:3]}****{number[-4:]}。"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30))
def test_mask_name_never_raises_nor_leaks(value):
    out = mask_name(value)
    assert out is pd.NA or isinstance(out, str)


@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_mask_phones_mixed_values_and_duplicate_index(dtype):
    values = ["13800138000", "１３８００１３８０００", None, "010-12345678", "13900139000"]
    if dtype is object:
        values.append(13700137000)
    series = pd.Series(values, index=[0] * len(values), dtype=dtype)
    out = mask_phones(series)
    assert out.index.tolist() == [0] * len(values)
    expected = ["138****8000", "138****8000", None, "010-****5678", "139****9000"]
    if dtype is object:
        expected.append("137****7000")
    assert [None if pd.isna(v) else v for v in out] == expected


def test_a_uuid_is_not_a_phone_but_a_phone_beside_one_is():
    from analysis_kit.privacy import find_unmasked

    # the id nbconvert gives a widget's output: its groups 0215-4351-8052 look like a landline
    page = '<div id="005ae3ca-0215-4351-8052-05710afab13a"></div>'
    assert find_unmasked(page) == []
    assert find_unmasked(page + " 电话 0215-4351-8052") == ["0215-4351-8052"]
