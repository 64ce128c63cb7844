"""Readers: encodings, header mapping, table inference, text-only values, clear errors."""

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis_kit as ak
from analysis_kit.columns import (
    TABLES,
    header_unit,
    infer_table,
    map_headers,
    normalize_header,
)
from analysis_kit.io import detect_encoding

CUSTOMERS_CSV = (
    "客户编号,客户名称,所属行业,联系人,联系电话,预算范围（万元）,最近沟通时间,需求匹配度,备注\n"
    "007,上海恒达机械有限公司,制造业-机械设备,张伟,13800138000,30-50,2024/3/15,4分,老客户\n"
    "0012,北京数澜科技有限公司,信息技术-软件开发,李娜,010-12345678,10万以内,2024年3月1日,５,\n"
)


def write(tmp_path: Path, name: str, text: str, encoding: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    path = write(tmp_path, "客户.csv", CUSTOMERS_CSV, encoding)
    df = ak.read_table(path)
    assert df.attrs["table"] == "customers"
    assert df["customer_name"].tolist() == ["上海恒达机械有限公司", "北京数澜科技有限公司"]
    assert "\ufeff" not in "".join(df.columns)


def test_ids_and_phones_stay_text(tmp_path):
    df = ak.read_table(write(tmp_path, "c.csv", CUSTOMERS_CSV, "gbk"))
    assert df["customer_id"].tolist() == ["007", "0012"]
    assert df["contact_phone"].tolist() == ["13800138000", "010-12345678"]
    assert all(pd.api.types.is_string_dtype(df[c]) for c in df.columns if c != "source_row")


def test_unknown_columns_kept_and_provenance_added(tmp_path):
    df = ak.read_table(write(tmp_path, "c.csv", CUSTOMERS_CSV, "utf-8"))
    assert "备注" in df.columns
    assert df["source_row"].tolist() == [2, 3]
    assert set(df["source_file"]) == {"c.csv"}


def test_header_unit_recorded_for_cleaning(tmp_path):
    df = ak.read_table(write(tmp_path, "c.csv", CUSTOMERS_CSV, "utf-8"))
    assert df.attrs["units"] == {"budget": 10_000}
    clean = ak.clean_table(df).clean
    assert clean["budget_min"].tolist() == [300_000, 0]
    assert clean["budget_max"].tolist() == [500_000, 100_000]


@pytest.mark.parametrize(
    "header", ["预算范围（万元）", "预算范围(万元)", "预算范围 ", " 预算范围", "Budget Range"]
)
def test_header_variants_map_to_budget(header):
    assert map_headers([header], "customers")[header] == "budget"


def test_normalize_header_handles_chinese_and_ascii():
    assert normalize_header("\u3000客户名称 ") == "客户名称"
    assert normalize_header("Customer_Name") == normalize_header("customer name")
    assert header_unit("市场规模（亿元）") == 100_000_000


@pytest.mark.parametrize(
    ("headers", "table"),
    [
        (["订单编号", "客户名称", "成交日期", "金额", "产品"], "orders"),
        (["客户名称", "跟进日期", "跟进方式", "跟进内容"], "followups"),
        (["商机编号", "客户名称", "阶段", "进入日期"], "stages"),
        (["渠道", "月份", "投入金额"], "channel_costs"),
        (["销售负责人", "期间", "销售目标"], "targets"),
        (["行业", "市场规模（亿元）", "竞争对手", "市场份额"], "market"),
        (["客户名称", "联系人", "联系电话", "客户等级"], "customers"),
        (["Customer ID", "InvoiceDate", "Amount"], "orders"),
        (["foo", "bar"], None),
    ],
)
def test_infer_table(headers, table):
    assert infer_table(headers) == table


def test_every_template_header_maps_back_to_its_field():
    for name, spec in TABLES.items():
        headers = [f.headers[0] for f in spec.fields]
        mapping = map_headers(headers, name)
        assert [mapping[h] for h in headers] == list(spec.names), name


def test_missing_columns_listed_at_once(tmp_path):
    path = write(tmp_path, "订单.csv", "订单编号,客户名称,产品\nA1,甲公司,X\n", "utf-8")
    with pytest.raises(ak.SchemaError) as info:
        ak.read_table(path, table="orders")
    message = str(info.value)
    assert "订单.csv" in message
    assert "order_date (成交日期)" in message and "amount (成交金额)" in message


def test_unknown_table_is_a_clear_error(tmp_path):
    path = write(tmp_path, "x.csv", CUSTOMERS_CSV, "utf-8")
    with pytest.raises(ak.SchemaError, match="table must be one of"):
        ak.read_table(path, table="customer")


def test_uninferable_table_names_the_file(tmp_path):
    path = write(tmp_path, "mystery.csv", "a,b\n1,2\n", "utf-8")
    with pytest.raises(ak.SchemaError, match="mystery.csv"):
        ak.read_table(path)


def test_malformed_csv_names_file_and_row(tmp_path):
    text = "客户名称,联系人\n甲公司,张三\n乙公司,李四,多出来的,字段\n"
    path = write(tmp_path, "bad.csv", text, "utf-8")
    with pytest.raises(ak.ReadError, match=r"bad\.csv.*row 3"):
        ak.read_table(path)


def test_undecodable_bytes_name_the_row(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes("客户名称\n甲公司\n".encode() + b"\xff\xfe\xfd\n")
    with pytest.raises(ak.ReadError, match=r"broken\.csv.*row 3"):
        ak.read_table(path)


def test_missing_file():
    with pytest.raises(ak.ReadError, match="not found"):
        ak.read_table("no/such/file.csv")


def test_detect_encoding_prefers_utf8():
    assert detect_encoding("客户".encode()) == "utf-8-sig"
    assert detect_encoding("客户".encode("gbk")) == "gb18030"


def test_blank_lines_are_kept_for_the_audit(tmp_path):
    text = "客户名称,联系人\n甲公司,张三\n\n,\n乙公司,李四\n"
    df = ak.read_table(write(tmp_path, "c.csv", text, "utf-8"))
    assert len(df) == 4
    assert df["source_row"].tolist() == [2, 3, 4, 5]
    result = ak.clean_table(df)
    assert result.audit.rows_in == 4
    assert result.audit.reasons.get("empty_row") == 2


def test_quoted_newlines_keep_row_numbers(tmp_path):
    text = '客户名称,沟通内容摘要\n甲公司,"第一行\n第二行"\n乙公司,好\n'
    df = ak.read_table(write(tmp_path, "c.csv", text, "utf-8"))
    assert df["source_row"].tolist() == [2, 4]


def test_excel_sheets(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"说明": ["请按表头填写"]}).to_excel(
            writer, sheet_name="填写说明", index=False
        )
        pd.DataFrame(
            {
                "订单编号": ["SO1", "SO2"],
                "客户编号": ["007", "008"],
                "成交日期": [pd.Timestamp("2024-03-15"), pd.Timestamp("2024-03-16 14:30")],
                "成交金额": [1200.0, 99.5],
            }
        ).to_excel(writer, sheet_name="成交明细", index=False)
        pd.DataFrame({"客户名称": ["甲"], "联系电话": [13800138000]}).to_excel(
            writer, sheet_name="客户信息表", index=False
        )
    orders = ak.read_table(path)
    assert orders.attrs["table"] == "orders"
    assert orders["order_date"].tolist() == ["2024-03-15", "2024-03-16 14:30:00"]
    assert orders["amount"].tolist() == ["1200", "99.5"]
    assert orders["customer_id"].tolist() == ["007", "008"]
    customers = ak.read_table(path, sheet_name="客户信息表")
    assert customers["contact_phone"].tolist() == ["13800138000"]
    book = ak.read_workbook(path)
    assert set(book) == {"orders", "customers"}


def test_parquet_and_dataframe_sources(tmp_path):
    frame = pd.DataFrame(
        {
            "订单号": ["A", "B"],
            "客户": ["甲", "乙"],
            "日期": ["2024-01-01", "2024-01-02"],
            "金额": [1, 2],
        }
    )
    path = tmp_path / "o.parquet"
    frame.to_parquet(path)
    from_file = ak.read_table(path)
    from_frame = ak.read_table(frame)
    assert from_file.attrs["table"] == from_frame.attrs["table"] == "orders"
    assert from_file["amount"].tolist() == ["1", "2"]
    assert list(frame.columns) == ["订单号", "客户", "日期", "金额"]  # input not modified


def test_column_map_for_a_foreign_export(tmp_path):
    text = "Cust,When,Total\n1,2024-01-02,9.5\n"
    path = write(tmp_path, "export.csv", text, "utf-8")
    df = ak.read_table(
        path, column_map={"Cust": "customer_id", "When": "order_date", "Total": "amount"}
    )
    assert df.attrs["table"] == "orders"
    assert {"customer_id", "order_date", "amount"} <= set(df.columns)


cell_text = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(
            codec="gb18030", exclude_categories=("Cs", "Cc"), exclude_characters="\ufeff"
        ),
        max_size=12,
    ),
    st.sampled_from(["", " ", "　", "007", "13800138000", "2024/3/15", "¥1,234", "面议", '"', ","]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(cell_text, cell_text, cell_text), min_size=1, max_size=20),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_reader_never_loses_a_row(tmp_path, rows, encoding):
    frame = pd.DataFrame(rows, columns=["客户名称", "联系电话", "备注"], dtype="object")
    path = tmp_path / f"prop_{encoding}.csv"
    frame.to_csv(path, index=False, encoding=encoding)
    df = ak.read_table(path, table="customers")
    assert len(df) == len(frame)
    result = ak.clean_table(df)
    assert result.audit.balanced and result.audit.rows_in == len(frame)


def test_a_column_map_per_table_maps_one_header_two_ways():
    frame = pd.DataFrame({"Id": ["X1"], "Date": ["2024-01-02"], "Value": ["10"], "Step": ["Won"]})
    maps = {
        "Value": "amount",
        "orders": {"Id": "order_id", "Date": "order_date"},
        "stages": {"Id": "opportunity_id", "Date": "entered_at", "Step": "stage"},
    }
    orders = ak.read_table(frame, table="orders", column_map=maps)
    stages = ak.read_table(frame, table="stages", column_map=maps)
    assert {"order_id", "order_date", "amount"} <= set(orders.columns)
    assert {"opportunity_id", "entered_at", "stage", "amount"} <= set(stages.columns)
    with pytest.raises(ValueError, match="not a table"):
        ak.read_table(frame, table="orders", column_map={"invoices": {"Id": "order_id"}})
