"""Files a report hands on: labelled CSVs, their Parquet copies, the customer action workbook."""

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analysis_kit.exports import (
    ACTION_COLUMNS,
    actions_from_report,
    customer_actions,
    for_people,
    read_result,
    write_customer_actions,
    write_result,
)
from analysis_kit.privacy import mask_frame


@pytest.fixture
def segments():
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "recency": [10.0, 400.0, 35.5, 2.0],
            "monetary": [1234.5678, 99.999, 1e7 / 3, 0.0],
            "share": [1 / 3, 0.123456, 0.5, 0.0],
            "segment_code": ["001", "111", "000", None],
            "segment": ["重要挽留客户", "重要价值客户", "一般挽留客户", None],
            "action": ["挽回", "维护", "唤醒", None],
            "first_purchase": pd.to_datetime(["2023-01-05", "2022-03-01", None, "2024-06-01"]),
            "loyal": [True, False, True, False],
        }
    )


def test_a_csv_for_people_keeps_every_row_and_value_and_reads_in_a_spreadsheet(segments):
    shown = for_people(segments)
    assert len(shown) == len(segments)
    assert list(shown.columns)[:4] == ["客户编号", "最近购买（天前）", "购买金额（元）", "占比"]
    text = shown.to_csv(index=False)
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    # money to the cent, shares to 0.01 %, no sixteen-digit floats
    assert back["购买金额（元）"].tolist() == ["1234.57", "100.0", "3333333.33", "0.0"]
    assert back["占比"].tolist() == ["0.3333", "0.1235", "0.5", "0.0"]
    assert np.allclose(back["购买金额（元）"].astype(float), segments["monetary"], atol=0.005)
    # codes stay text in Excel (a leading tab), missing stays empty, dates without a time
    assert back["分群代码"].tolist() == ["\t001", "\t111", "\t000", ""]
    assert back["首次购买"].tolist() == ["2023-01-05", "2022-03-01", "", "2024-06-01"]
    assert back["loyal"].tolist() == ["是", "否", "是", "否"]
    assert for_people(segments, lang="en")["Loyal"].tolist() == ["yes", "no", "yes", "no"]
    assert segments["segment_code"].iloc[0] == "001"  # the input is not modified


@pytest.mark.parametrize(
    "value", ['=HYPERLINK("http://x","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"]
)
def test_a_text_cell_that_looks_like_a_formula_is_written_as_text(value):
    frame = pd.DataFrame({"customer_name": [value, "星辰科技"], "segment_code": [value, "010"]})
    shown = for_people(frame)
    assert shown["客户名称"].tolist() == ["'" + value, "星辰科技"]
    assert shown["分群代码"].tolist() == ["'" + value, "\t010"]


def test_write_result_masks_people_and_keeps_a_machine_copy(tmp_path, segments):
    frame = segments.assign(owner=["张强", "欧阳锋", None, "王五"])
    path = write_result(frame, tmp_path, "rfm_segments")
    text = path.read_text(encoding="utf-8-sig")
    assert "张强" not in text and "欧阳锋" not in text and "王五" not in text
    assert "张**" in text and "欧阳**" in text
    data = read_result(tmp_path, "rfm_segments")
    assert data["owner"].tolist()[:2] == ["张**", "欧阳**"]
    pd.testing.assert_frame_equal(
        data.drop(columns="owner"), segments, check_dtype=False
    )  # full precision, stable names
    assert read_result(tmp_path, "absent") is None


@pytest.fixture
def parts():
    tags = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C5"],
            "customer_name": ["甲公司", "乙公司", "=HYPERLINK(1)", "戊公司"],
            "owner": ["张强", "张伟", "张强", None],
            "high_value": [True, False, True, False],
            "potential": [False, True, pd.NA, False],
            "churn_risk": [True, False, False, False],
            "next_followup_due": pd.to_datetime(["2024-07-10", "2024-06-01", "2024-07-01", None]),
            "overdue": [False, True, False, pd.NA],
        }
    )
    segments = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C4"],
            "segment_code": ["001", "111", "010"],
            "segment": ["重要挽留客户", "重要价值客户", "一般发展客户"],
            "action": ["重点挽回", "维护关系", "培养"],
        }
    )
    clv = pd.DataFrame({"customer_id": ["C1", "C3", "C4"], "clv_12m": [5000.0, 1200.5, 80.0]})
    offers = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C4"],
            "rank": [2, 1, 1],
            "offer": ["培训服务", "云存储", "CRM系统"],
        }
    )
    return tags, segments, clv, offers


def test_customer_actions_has_every_customer_once_with_each_part(parts):
    tags, segments, clv, offers = parts
    table = customer_actions(tags, segments=segments, clv=clv, offers=offers)
    assert list(table.columns) == list(ACTION_COLUMNS)
    everyone = set(tags.customer_id) | set(segments.customer_id) | set(clv.customer_id)
    assert sorted(table.customer_id) == sorted(everyone | set(offers.customer_id))
    row = table.set_index("customer_id")
    # each value as the part that holds it says, looked up by hand
    assert row.loc["C1", "tags"] == "高价值、流失风险"
    assert row.loc["C2", "tags"] == "潜力" and row.loc["C3", "tags"] == "高价值"
    assert row.loc["C1", "offer"] == "云存储"  # the first-ranked offer
    assert row.loc["C4", "segment_code"] == "010" and row.loc["C4", "clv_12m"] == 80.0
    assert pd.isna(row.loc["C4", "owner"]) and pd.isna(row.loc["C4", "tags"])
    assert row.loc["C1", "action"] == "重点挽回"
    # overdue first, then the earliest due date, then the highest CLV
    assert table.customer_id.tolist()[:3] == ["C2", "C3", "C1"]
    en = customer_actions(tags, segments=segments, lang="en").set_index("customer_id")
    assert en.loc["C1", "tags"] == "high value, churn risk"


def test_customer_actions_refuses_a_customer_twice_in_one_part(parts):
    tags, segments, *_ = parts
    with pytest.raises(ValueError, match="C2"):
        customer_actions(tags, segments=pd.concat([segments, segments.iloc[[1]]]))


def test_the_workbook_has_a_sheet_per_rep_masked_with_codes_as_text(tmp_path, parts):
    tags, segments, clv, offers = parts
    table = customer_actions(tags, segments=segments, clv=clv, offers=offers)
    path = write_customer_actions(table, tmp_path / "customer_actions.xlsx")
    book = openpyxl.load_workbook(path)
    # 张强 and 张伟 both mask to 张**, and still get a sheet each
    assert book.sheetnames == ["全部客户", "张＊＊", "张＊＊ (2)", "未分配"]
    sheets = pd.read_excel(path, sheet_name=None, dtype=str)
    assert len(sheets["全部客户"]) == len(table)
    rows = {name: sorted(frame["客户编号"]) for name, frame in sheets.items()}
    assert sorted([rows["张＊＊"], rows["张＊＊ (2)"]]) == [["C1", "C3"], ["C2"]]
    assert rows["未分配"] == ["C4", "C5"]
    everything = " ".join(
        str(cell.value) for sheet in book for line in sheet.iter_rows() for cell in line
    )
    assert "张强" not in everything and "张伟" not in everything
    first = book["全部客户"]
    header = [c.value for c in first[1]]
    cells = {
        row[0].value: dict(zip(header, row, strict=True)) for row in first.iter_rows(min_row=2)
    }
    code = cells["C1"]["分群代码"]
    assert code.value == "001" and code.data_type == "s"  # not the number 1
    name = cells["C3"]["客户名称"]
    assert name.value == "=HYPERLINK(1)" and name.data_type == "s"  # text, never a formula
    assert cells["C1"]["12 个月 CLV（元）"].value == 5000.0
    assert str(cells["C2"]["下次跟进"].value)[:10] == "2024-06-01"
    assert cells["C2"]["已逾期"].value == "是"


def test_actions_from_a_report_folder_join_what_its_notebooks_wrote(tmp_path, parts):
    tags, segments, clv, offers = parts
    assert actions_from_report(tmp_path) is None  # nothing written yet
    write_result(tags, tmp_path, "customer_tags")
    write_result(segments, tmp_path, "rfm_segments")
    only_tags = actions_from_report(tmp_path)
    assert sorted(only_tags.customer_id) == sorted(
        set(tags.customer_id) | set(segments.customer_id)
    )
    write_result(clv, tmp_path, "clv")
    write_result(offers, tmp_path, "cross_sell")
    got = actions_from_report(tmp_path, lang="en")
    expected = customer_actions(
        mask_frame(tags), segments=segments, clv=clv, offers=offers, lang="en"
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert "张强" not in got["owner"].tolist()  # the folder holds masked names only
