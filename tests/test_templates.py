import openpyxl
import pandas as pd
import pytest

from analysis_kit.columns import CHOICES, TABLES, map_headers
from analysis_kit.errors import SchemaError
from analysis_kit.templates import DEFAULT_TEMPLATE_TABLES, dropdown_values, write_template

TITLES = ["客户信息表", "跟进记录", "成交明细", "商机阶段记录", "市场分析汇总表"]


@pytest.fixture(scope="module")
def zh_path(tmp_path_factory):
    return write_template(tmp_path_factory.mktemp("zh") / "模板.xlsx")


@pytest.fixture(scope="module")
def zh_book(zh_path):
    return openpyxl.load_workbook(zh_path)


@pytest.fixture(scope="module")
def en_path(tmp_path_factory):
    return write_template(tmp_path_factory.mktemp("en") / "template.xlsx", lang="en")


def _row(ws, row):
    return [c.value for c in ws[row]]


def _validations(ws):
    """``{header: (values, showErrorMessage)}`` for every list dropdown on the sheet."""
    headers = {c.column_letter: c.value for c in ws[1]}
    found = {}
    for dv in ws.data_validations.dataValidation:
        assert dv.type == "list"
        ref = str(dv.sqref)
        start, end = ref.split(":")
        letter = start.rstrip("0123456789")
        assert start == f"{letter}2"
        assert end == f"{letter}1000"
        values = tuple(dv.formula1.strip('"').split(","))
        found[headers[letter]] = (values, dv.showErrorMessage)
    return found


def test_returns_path(zh_path):
    assert zh_path.exists()
    assert zh_path.suffix == ".xlsx"


def test_sheet_names(zh_book):
    assert zh_book.sheetnames == [*TITLES, "填写说明"]
    assert [TABLES[t].title for t in DEFAULT_TEMPLATE_TABLES] == TITLES


@pytest.mark.parametrize("table", DEFAULT_TEMPLATE_TABLES)
def test_header_row_is_the_spec_headers(zh_book, table):
    spec = TABLES[table]
    ws = zh_book[spec.title]
    assert _row(ws, 1) == [f.headers[0] for f in spec.fields]
    assert ws.freeze_panes == "A2"
    assert all(c.font.bold for c in ws[1])
    # required columns look different from optional ones
    either = {n for group in spec.any_of for n in group}
    fills = {
        f.required or f.name in either: ws.cell(1, i).fill.fgColor.rgb
        for i, f in enumerate(spec.fields, 1)
    }
    if len(fills) == 2:
        assert fills[True] != fills[False]


@pytest.mark.parametrize("table", DEFAULT_TEMPLATE_TABLES)
def test_example_row_is_the_spec_examples(zh_book, table):
    spec = TABLES[table]
    ws = zh_book[spec.title]
    assert _row(ws, 2) == [f.example or None for f in spec.fields]


def test_customer_example_row_is_the_source_template(zh_book):
    ws = zh_book["客户信息表"]
    example = dict(zip(_row(ws, 1), _row(ws, 2), strict=True))
    assert example["客户名称"] == "科技有限公司"
    assert example["所属行业"] == "信息技术-软件开发"
    assert example["预算范围"] == "30-50万"
    assert example["最近沟通时间"] == "2024-03-15"
    assert example["需求匹配度"] == "4分"
    assert example["合作可能性"] == "3分"


def test_instructions_cover_every_field(zh_book):
    ws = zh_book["填写说明"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("表", "字段", "英文名", "是否必填", "填写说明", "示例")
    expected = [
        (
            TABLES[t].title,
            f.headers[0],
            f.name,
            f.note or None,
            f.example or None,
        )
        for t in DEFAULT_TEMPLATE_TABLES
        for f in TABLES[t].fields
    ]
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows[1:]] == expected
    required = {(r[0], r[2]): r[3] for r in rows[1:]}
    assert required[("客户信息表", "customer_name")].startswith("至少填一项")
    assert required[("客户信息表", "industry")] == "否"
    assert required[("成交明细", "amount")] == "是"
    assert required[("跟进记录", "customer_name")].startswith("至少填一项")


def test_dropdowns_on_customers(zh_book):
    found = _validations(zh_book["客户信息表"])
    stages = ("①初次接洽", "②需求确认", "③方案提交", "④商务谈判", "⑤成交", "⑥售后维护")
    scores = ("1分", "2分", "3分", "4分", "5分")
    assert found == {
        "客户等级": (CHOICES["grade"], True),
        "跟进优先级": (CHOICES["priority"], True),
        "沟通方式": (CHOICES["contact_method"], True),
        "客户反馈": (("积极", "中性", "消极"), False),
        "当前阶段": (stages, True),
        "价值等级": (("高", "中", "低"), True),
        "潜力评级": (("A", "B", "C"), True),
        "客户规模": (("大型", "中型", "小型", "微型"), True),
        "是否接触竞品": (("是", "否"), True),
        "需求匹配度": (scores, True),
        "合作可能性": (scores, True),
    }


def test_dropdowns_on_other_tables(zh_book):
    followups = _validations(zh_book["跟进记录"])
    assert set(followups) == {"沟通方式", "客户反馈"}
    assert followups["客户反馈"][1] is False
    stages = _validations(zh_book["商机阶段记录"])
    assert stages["阶段"][0] == dropdown_values("stage")
    assert _validations(zh_book["成交明细"]) == {}


def test_phone_and_id_columns_are_text(zh_book):
    ws = zh_book["客户信息表"]
    letters = {c.value: c.column_letter for c in ws[1]}
    assert ws.column_dimensions[letters["联系电话"]].number_format == "@"
    assert ws.column_dimensions[letters["客户编号"]].number_format == "@"


@pytest.mark.parametrize("table", DEFAULT_TEMPLATE_TABLES)
def test_template_maps_back(zh_path, table):
    spec = TABLES[table]
    df = pd.read_excel(zh_path, sheet_name=spec.title, dtype=str)
    mapping = map_headers(df.columns, table)
    assert list(mapping.values()) == list(spec.names)


def test_customers_read_back_with_pandas(zh_path):
    df = pd.read_excel(zh_path, sheet_name="客户信息表", dtype=str)
    df = df.rename(columns=map_headers(df.columns, "customers"))
    assert set(df.columns) == set(TABLES["customers"].names)
    row = df.iloc[0]
    assert row["budget"] == "30-50万"
    assert row["contact_phone"] == "13800138000"
    assert row["match_score"] == "4分"


def test_english_template(en_path):
    book = openpyxl.load_workbook(en_path)
    assert book.sheetnames == [*DEFAULT_TEMPLATE_TABLES, "Instructions"]
    for table in DEFAULT_TEMPLATE_TABLES:
        spec = TABLES[table]
        headers = _row(book[table], 1)
        assert all(h.isascii() for h in headers)
        assert headers == [next(h for h in f.headers if h.isascii()) for f in spec.fields]
        df = pd.read_excel(en_path, sheet_name=table, dtype=str)
        assert list(map_headers(df.columns, table).values()) == list(spec.names)
    ws = book["Instructions"]
    assert _row(ws, 1) == ["Table", "Field", "Canonical name", "Required", "Notes", "Example"]
    assert ws.max_row - 1 == sum(len(TABLES[t].fields) for t in DEFAULT_TEMPLATE_TABLES)
    assert _validations(book["customers"])["Grade"] == (CHOICES["grade"], True)


def test_subset_and_order_of_tables(tmp_path):
    path = write_template(tmp_path / "t.xlsx", tables=["orders", "channel_costs"])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["成交明细", "渠道投入", "填写说明"]
    tables = {r[0] for r in book["填写说明"].iter_rows(min_row=2, values_only=True)}
    assert tables == {"成交明细", "渠道投入"}


def test_cell_content_is_deterministic(tmp_path):
    a = openpyxl.load_workbook(write_template(tmp_path / "a.xlsx"))
    b = openpyxl.load_workbook(write_template(tmp_path / "b.xlsx"))
    for name in a.sheetnames:
        assert list(a[name].values) == list(b[name].values)


def test_unknown_table(tmp_path):
    with pytest.raises(ValueError, match=r"customers.*got unknown 'clients'") as info:
        write_template(tmp_path / "t.xlsx", tables=["customers", "clients"])
    assert isinstance(info.value, SchemaError)
    for name in TABLES:
        assert name in str(info.value)
    assert not (tmp_path / "t.xlsx").exists()


@pytest.mark.parametrize("tables", [[], ["orders", "orders"]])
def test_empty_or_repeated_tables(tmp_path, tables):
    with pytest.raises(SchemaError, match="tables must"):
        write_template(tmp_path / "t.xlsx", tables=tables)


def test_unknown_lang(tmp_path):
    with pytest.raises(ValueError, match=r"lang must be one of \['zh', 'en'\]; got 'fr'"):
        write_template(tmp_path / "t.xlsx", lang="fr")


def test_single_table_name_as_string(tmp_path):
    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", tables="market"))
    assert book.sheetnames == ["市场分析汇总表", "填写说明"]
