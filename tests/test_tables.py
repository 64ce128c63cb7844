"""The table style every page uses: no raw artifacts reach a reader."""

import pandas as pd
import pytest
from notebook_checks import reader_artifacts

from analysis_kit.tables import column_label, show_table


@pytest.fixture
def raw():
    """A table as an analysis returns it: every artifact the reports used to show."""
    return pd.DataFrame(
        {
            "customer_name": ["星辰科技", "华为技术", None],
            "amount": [1.53e2, 1234567.891234, float("nan")],
            "revenue_share": [0.587912, 0.1, None],
            "p_alive": [0.2436636384410903, 1.0, 0.5],
            "lift": [1.234567, 12.0, float("nan")],
            "first_order": pd.to_datetime(["2024-06-30", "2024-06-30 09:15", None], format="mixed"),
            "high_value": [True, False, True],
            "tags": [["高价值", "潜力"], [], ["流失风险"]],
        }
    )


def test_a_raw_table_reaches_the_reader_without_artifacts(raw):
    before = reader_artifacts(raw.to_html(), lang="zh")
    assert before["scientific"] and before["long_floats"] and before["missing"]
    assert before["index_column"] and before["snake_case_headers"]
    page = str(show_table(raw))
    assert sum(reader_artifacts(page, lang="zh").values()) == 0
    assert "1,234,568" in page and "153" in page and "58.8%" in page and "24.4%" in page
    assert "2024-06-30</td>" in page and "2024-06-30 09:15" in page
    assert ">是<" in page and ">否<" in page and "高价值、潜力" in page
    assert page.count("—") == 5  # every missing cell, and nothing else
    assert "客户名称" in page and "成交金额（元）" in page


def test_english_headers_and_long_tables(raw):
    long = pd.concat([raw] * 20, ignore_index=True)
    page = str(show_table(long, lang="en", max_rows=10))
    assert "first 10 of 60 rows" in page and page.count("<tr>") == 11
    assert "Revenue share" in page and ">yes<" in page and "客户" not in page.split("<tbody>")[0]
    assert sum(reader_artifacts(page, lang="en").values()) == 0
    zh = str(show_table(long, max_rows=10))
    assert "显示前 10 / 共 60 行" in zh


def test_row_numbers_are_never_shown_even_after_sorting(raw):
    page = str(show_table(raw.sort_values("amount")))
    assert ">index<" not in page and reader_artifacts(page)["index_column"] == 0
    assert reader_artifacts(raw.sort_values("amount").reset_index().to_html())["index_column"]


def test_a_meaningful_index_is_a_column_and_input_is_untouched(raw):
    by_segment = raw.set_index("customer_name")
    copy = by_segment.copy()
    page = str(show_table(by_segment))
    assert page.index("客户名称") < page.index("成交金额")
    pd.testing.assert_frame_equal(by_segment, copy)
    assert column_label("weird_column", "en") == "Weird column"
    with pytest.raises(ValueError, match="lang"):
        show_table(raw, lang="fr")


def test_codes_read_as_words_in_the_pages_language():
    from analysis_kit.schema import MESSAGES
    from analysis_kit.tables import readable_codes

    frame = pd.DataFrame(
        {
            "table": ["customers", "orders", "my_table"],
            "field": ["contact_phone", "amount", "自定义列"],
            "issue": ["unreadable", "not_in_list", "something else"],
            "reason": ["empty_row", "trade names differ", "收入下滑"],
            "decision": ["review", "same_core", None],
            "message": [MESSAGES["empty_row"], "amount=abc: 无法识别 value cannot be read", None],
            "customers": [1, 2, 3],
        }
    )
    before = frame.copy()
    zh = readable_codes(frame, "zh")
    assert zh.iloc[0].tolist()[:5] == ["客户信息表", "联系电话", "无法识别", "空行", "待人工确认"]
    assert zh.iloc[1].tolist()[:5] == [
        "成交明细",
        "成交金额（元）",
        "不在列表中",
        "字号不同",
        "核心名称相同，合并",
    ]
    # values the kit did not write stay as written, and numbers are untouched
    assert zh.iloc[2].tolist()[:4] == ["my_table", "自定义列", "something else", "收入下滑"]
    assert zh["message"].iloc[0] == "空行"
    en = readable_codes(frame, "en")
    assert en.iloc[0].tolist()[:5] == [
        "Customers",
        "Contact phone",
        "unreadable",
        "blank row",
        "to review",
    ]
    pd.testing.assert_frame_equal(frame, before)  # not modified
    # show_table applies it: no code on a Chinese page
    html = str(show_table(frame, lang="zh"))
    assert "客户信息表" in html and "unreadable" not in html and "empty_row" not in html
