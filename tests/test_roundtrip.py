"""Template round trip, and a file this project did not write, read and cleaned with no arguments."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import analysis_kit as ak
from analysis_kit.columns import TABLES
from analysis_kit.datasets import make_tables
from analysis_kit.templates import write_template

HERE = Path(__file__).resolve().parent
TABLES_IN_TEMPLATE = ("customers", "followups", "orders", "stages", "market")


def _cell(value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


@pytest.fixture(scope="module")
def filled_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "客户资料收集模板.xlsx"
    write_template(path)
    tables = make_tables(n_customers=20, messy=True, random_state=11)
    book = load_workbook(path)
    for table in TABLES_IN_TEMPLATE:
        sheet = book[TABLES[table].title]
        frame = tables[table]
        for r, row in enumerate(frame.itertuples(index=False), start=3):
            for c, value in enumerate(row, start=1):
                sheet.cell(row=r, column=c, value=_cell(value))
    book.save(path)
    return path, tables


def test_filled_template_reads_back_without_arguments(filled_template):
    path, tables = filled_template
    first = ak.read_table(path)  # no arguments: the first data sheet, its table inferred
    assert first.attrs["table"] == "customers"
    book = ak.read_workbook(path)
    assert set(book) == set(TABLES_IN_TEMPLATE)
    for table, frame in book.items():
        assert len(frame) == len(tables[table]) + 1, table  # the example row is read too


def test_filled_template_cleans_like_the_data_it_holds(filled_template):
    path, tables = filled_template
    book = ak.read_workbook(path)
    for table, frame in book.items():
        via_template = ak.clean_table(frame, as_of="2024-06-30")
        direct = ak.clean_table(tables[table], table=table, as_of="2024-06-30")
        audit = via_template.audit
        assert audit.balanced
        assert audit.rows_in == direct.audit.rows_in + 1
        assert audit.reasons.get("template_example", 0) == 1, table
        assert audit.kept == direct.audit.kept, table
        assert audit.merged == direct.audit.merged, table
        assert audit.dropped_duplicates == direct.audit.dropped_duplicates, table
        if "customer_id" in direct.clean:
            assert sorted(via_template.clean["customer_id"]) == sorted(direct.clean["customer_id"])
        if "amount" in direct.clean:
            assert via_template.clean["amount"].sum() == pytest.approx(direct.clean["amount"].sum())


def test_foreign_gbk_customer_sheet(tmp_path):
    """A GBK export typed by a sales team (committed as bytes, not written by this project)."""
    source = HERE / "data" / "外部客户表_gbk.csv"
    raw_bytes = source.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw_bytes.decode("utf-8")
    df = ak.read_table(source)
    assert df.attrs["table"] == "customers"
    result = ak.clean_table(df)
    audit = result.audit
    n_lines = len(raw_bytes.decode("gb18030").splitlines()) - 1
    assert audit.rows_in == n_lines == len(df)
    assert audit.balanced
    clean = result.clean.set_index("customer_name")
    # the two 华信 rows differ only by a full-width bracket and an ideographic space
    huaxin = clean.loc["华信(苏州)精密机械有限公司"]
    assert huaxin["contact_count"] == 2
    assert huaxin["budget_min"] == 300_000 and huaxin["budget_max"] == 500_000
    assert clean.loc["北京明远数据科技有限公司", "last_contact_date"] == pd.Timestamp("2024-03-15")
    assert clean.loc["北京明远数据科技有限公司", "contact_phone"] == "010-62345678"
    assert clean.loc["深圳前海云图信息技术有限公司", "stage"] == "方案提交"
    assert clean.loc["深圳前海云图信息技术有限公司", "budget_kind"] == "negotiable"
    reasons = result.quarantine.set_index("source_row")["reason"].to_dict()
    assert set(reasons.values()) <= {"empty_row", "unparseable", "out_of_range"}
    assert "empty_row" in reasons.values()
