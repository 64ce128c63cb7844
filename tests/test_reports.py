"""The report runner: parameter checks, dated folders, the index page, period over period."""

import json
import re

import nbformat
import pandas as pd
import pytest

from analysis_kit.datasets import SAMPLE_FILES
from analysis_kit.exports import write_result
from analysis_kit.reports import (
    ReportError,
    _previous_report,
    check_parameters,
    compare_metrics,
    markdown_in,
    record_metrics,
    run_report,
    write_index,
)
from analysis_kit.summary import format_change, format_value, period_kpis

SPECS = {
    "03_rfm.ipynb": {
        "bins": {"default": "5"},
        "scheme": {"default": '"cn8"'},
        "share": {"default": "0.5"},
        "flag": {"default": "True"},
        "segments": {"default": "{}"},
        "columns": {"default": '["a", "b"]'},
        "anything": {"default": "None"},
    }
}


def test_parameters_of_the_right_type_pass():
    check_parameters(
        {
            "bins": 3,
            "scheme": "classic",
            "share": 1,  # an int may stand for a float
            "flag": False,
            "segments": {"111": "x"},
            "columns": ("c",),
            "anything": [1, 2],
        },
        SPECS,
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("bins", "3", "bins='3' is str, 03_rfm.ipynb expects int"),
        ("bins", 2.5, "bins=2.5 is float"),
        ("bins", True, "bins=True is bool"),
        ("flag", 1, "flag=1 is int, 03_rfm.ipynb expects bool"),
        ("share", "0.5", "expects float"),
        ("segments", ["111"], "expects dict"),
    ],
)
def test_wrong_types_are_named(name, value, expected):
    with pytest.raises(ReportError, match="wrong parameter types") as err:
        check_parameters({name: value}, SPECS)
    assert expected in str(err.value)


def test_every_unknown_name_is_listed():
    with pytest.raises(ReportError, match=r"unknown parameters \['as_off', 'binz'\]"):
        check_parameters({"binz": 3, "as_off": "2024-01-01", "bins": 2}, SPECS)


def test_wrong_type_stops_the_report_before_anything_runs(tmp_path):
    with pytest.raises(ReportError, match="bins='5' is str"):
        run_report(tmp_path, notebooks=["03"], parameters={"bins": "5"})
    assert list(tmp_path.iterdir()) == []


def test_compare_metrics_by_hand():
    current = {
        "03": {"customers": 120, "scheme": "cn8", "segments": {"重要价值客户": 30, "新": 5}},
        "05": {"win_rate": 0.25, "funnel": [1, 2]},
    }
    previous = {"03": {"customers": 100, "scheme": "cn8", "segments": {"重要价值客户": 40}}}
    rows = {(r["notebook"], r["metric"]): r for r in compare_metrics(current, previous)}
    assert set(rows) == {
        ("03", "customers"),
        ("03", "scheme"),
        ("03", "segments.重要价值客户"),
        ("03", "segments.新"),
        ("05", "win_rate"),
    }  # lists are left out of the headline
    assert rows[("03", "customers")]["change"] == 20
    assert rows[("03", "customers")]["change_pct"] == pytest.approx(0.2)
    assert rows[("03", "segments.重要价值客户")]["change_pct"] == pytest.approx(-0.25)
    assert rows[("03", "scheme")]["change"] is None  # text has no change
    assert rows[("03", "segments.新")]["previous"] is None
    assert rows[("05", "win_rate")]["change"] is None


def test_change_from_zero_has_no_percentage():
    (row,) = compare_metrics({"a": {"n": 3}}, {"a": {"n": 0}})
    assert row["change"] == 3 and row["change_pct"] is None


def _fake_report(folder, customers, revenue):
    folder.mkdir(parents=True)
    record_metrics({"customers": customers, "revenue": revenue}, folder, "03_rfm_segmentation")
    (folder / "03_rfm_segmentation.html").write_text(
        "<html><head><title>03 RFM 客户分群</title></head></html>", encoding="utf-8"
    )
    return folder


def _kpi_report(folder, tables):
    """A report folder as run_report leaves it: clean tables, metrics, a page, action lists."""
    _fake_report(folder, 4, 1.0)
    record_metrics({"as_of": "2024-06-30"}, folder, "01_data_cleaning")
    (folder / "clean").mkdir()
    for name, table in tables.items():
        table.to_parquet(folder / "clean" / f"{name}.parquet")
    calls = pd.DataFrame(
        {
            "customer_name": ["<b>星辰</b>科技"] + [f"客户{i}" for i in range(6)],
            "owner": ["王**"] * 7,
            "next_followup_due": ["2024-06-20"] + ["2024-07-10"] * 6,
            "overdue": [True] + [False] * 6,
        }
    )
    write_result(calls, folder, "call_list")
    protect = pd.DataFrame(
        {"customer_name": ["华为技术"], "owner": ["李*"], "action": ["重点挽回"]}
    )
    write_result(protect, folder, "clv_protect")
    funnel = pd.DataFrame(
        {
            "step": ["初次接洽", "需求确认", "方案提交", "商务谈判", "成交", "售后维护"],
            "step_index": [1, 2, 3, 4, 5, 6],
            "conversion_from_previous": [None, 0.8, 0.6, 0.9, 0.7, 0.2],
        }
    )
    write_result(funnel, folder, "stage_funnel")
    return folder


def _card(page: str, key: str) -> str:
    start = page.index(f'data-key="{key}"')
    return page[start : page.index("</section>", start)].split('class="card"')[0]


def test_index_is_one_screen_of_the_month(kpi_tables, tmp_path):
    folder = _kpi_report(tmp_path / "2024-06-30", kpi_tables)
    page = write_index(folder).read_text(encoding="utf-8")
    assert "<title>销售分析报告 — 2024-06</title>" in page
    revenue = _card(page, "revenue")
    assert "120.0 万元" in revenue and "环比 +20.0%" in revenue and "同比 +100.0%" in revenue
    assert 'class="change good"' in revenue and "<svg" in revenue
    win = _card(page, "win_rate")
    assert "75.0%" in win and "+25.0 个百分点" in win and "基于 4 个结单" in win
    risk = _card(page, "churn_risk")
    assert 'class="change bad"' in risk and "▲ 环比 +100.0%" in risk
    # the action block: the call list says how much it shows, names are escaped
    assert "显示前 5 / 共 7 位" in page
    assert "&lt;b&gt;星辰&lt;/b&gt;科技" in page and "<b>星辰</b>" not in page
    assert "2024-06-20（已逾期）" in page and "重点挽回" in page
    # the weakest *sales* step: 方案提交 (60%), not after-sales (20%)
    weakest = page[page.index("最弱销售环节") :]
    assert '<div class="step">方案提交</div>' in weakest and "售后维护" not in weakest
    assert '<a href="03_rfm_segmentation.html">03 RFM 客户分群</a>' in page
    assert (
        "rows_kept" not in page and "customers" not in page.split("<main>")[1].split("metrics")[0]
    )
    assert write_index(folder).read_text(encoding="utf-8") == page  # the same bytes


def test_english_index_has_no_chinese_outside_the_data(kpi_tables, tmp_path):
    folder = _kpi_report(tmp_path / "2024-06-30", kpi_tables)
    page = write_index(folder, lang="en").read_text(encoding="utf-8")
    assert "Revenue this month" in page and "+25.0 pts" in page and "first 5 of 7" in page
    data = ["星辰", "科技", "客户", "王", "华为技术", "李", "重点挽回", "方案提交"]
    data += ["初次接洽", "需求确认", "03 RFM 客户分群"]
    text = page
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, "")
    assert not re.findall(r"[\u4e00-\u9fff]", text)


def test_index_of_a_folder_without_data_says_so(tmp_path):
    folder = _fake_report(tmp_path / "r", 5, 1.0)
    page = write_index(folder).read_text(encoding="utf-8")
    assert "03_rfm_segmentation.html" in page and "没有名单" in page
    with pytest.raises(ReportError, match="lang"):
        write_index(folder, lang="fr")


def test_previous_report_is_the_latest_earlier_dated_folder(tmp_path):
    for name in ("2024-03-31", "2024-05-31", "2024-07-31", "notes"):
        _fake_report(tmp_path / name, 1, 1.0)
    (tmp_path / "2024-06-15").mkdir()  # no metrics: not a finished report
    assert _previous_report(tmp_path / "2024-06-30") == tmp_path / "2024-05-31"
    assert _previous_report(tmp_path / "2024-01-31") is None


@pytest.mark.notebook
def test_same_inputs_give_the_same_metrics_bytes(cleaned_sample, tmp_path):
    params = {
        "data_dir": str(cleaned_sample.data_dir),
        "input_files": {table: name for table, (name, _) in SAMPLE_FILES.items()},
        "as_of": "2024-06-30",
        "lang": "zh",
    }
    first = run_report(tmp_path / "a", notebooks=["01", "03"], parameters=params)
    second = run_report(tmp_path / "b", notebooks=["01", "03"], parameters=params)
    assert first.read_bytes() == second.read_bytes()
    # Chinese parameter values stay readable in the executed notebook
    notebook = nbformat.read(tmp_path / "a" / "01_data_cleaning.ipynb", as_version=4)
    (injected,) = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert SAMPLE_FILES["customers"][0] in injected.source
    assert json.loads(first.read_text(encoding="utf-8"))["03_rfm_segmentation"]["customers"] > 0


@pytest.mark.notebook
def test_dated_runs_compare_with_the_previous_month(cleaned_sample, tmp_path, capsys):
    clean = str(cleaned_sample.clean_dir)
    may = run_report(
        tmp_path,
        notebooks=["03"],
        parameters={"clean_dir": clean, "as_of": "2024-05-31"},
        dated=True,
    )
    june = run_report(
        tmp_path,
        notebooks=["03"],
        parameters={"clean_dir": clean, "as_of": "2024-06-30"},
        dated=True,
    )
    assert may.parent.name == "2024-05-31" and june.parent.name == "2024-06-30"
    assert "[1/1] 03_rfm_segmentation.ipynb done" in capsys.readouterr().err
    index = (june.parent / "index.html").read_text(encoding="utf-8")
    assert "上期报告 2024-05-31" in index
    # the cards are the month's figures from the clean tables, computed as of each report's day
    clean = {p.stem: pd.read_parquet(p) for p in cleaned_sample.clean_dir.glob("*.parquet")}
    june_kpis = period_kpis(clean, as_of="2024-06-30").set_index("key")
    revenue = june_kpis.loc["revenue"]
    assert format_value(revenue["value"], "money") in index
    assert format_change(revenue["mom"], "relative") in index
    may_kpis = period_kpis(clean, as_of="2024-05-31").set_index("key")
    assert may_kpis.loc["revenue", "value"] == revenue["previous"]
    executed = (june.parent / "03_rfm_segmentation.ipynb").read_text(encoding="utf-8")
    assert 'as_of = \\"2024-06-30\\"' in executed


@pytest.mark.notebook
def test_an_orders_only_export_with_its_own_headers(cleaned_sample, tmp_path):
    """A foreign export: English headers mapped by column_map; notebooks needing customers skip."""
    orders = cleaned_sample.tables["orders"]
    foreign = orders[["order_id", "customer_id", "order_date", "amount"]].rename(
        columns={
            "order_id": "Invoice",
            "customer_id": "Customer ID",
            "order_date": "InvoiceDate",
            "amount": "Revenue",
        }
    )
    foreign.to_csv(tmp_path / "export.csv", index=False)
    empty = {table: "" for table in SAMPLE_FILES}
    params = {
        "data_dir": str(tmp_path),
        "input_files": {**empty, "orders": "export.csv"},
        "column_map": {
            "Customer ID": "customer_id",
            "InvoiceDate": "order_date",
            "Revenue": "amount",
            "Invoice": "order_id",
        },
        "as_of": "2024-06-30",
    }
    path = run_report(tmp_path / "out", notebooks=["01", "02", "03"], parameters=params)
    metrics = json.loads(path.read_text(encoding="utf-8"))
    assert "客户信息表 (customers.parquet)" in metrics["02_customer_profile"]["skipped"]
    page = (tmp_path / "out" / "02_customer_profile.html").read_text(encoding="utf-8")
    assert "跳过 Skipped." in page and "Traceback" not in page
    clean = pd.read_parquet(tmp_path / "out" / "clean" / "orders.parquet")
    assert set(clean.columns) >= {"order_id", "customer_id", "order_date", "amount"}
    assert metrics["01_data_cleaning"]["tables"]["orders"]["rows_in"] == len(foreign)
    buyers = clean.loc[clean["order_date"] < pd.Timestamp("2024-07-01"), "customer_id"].nunique()
    assert metrics["03_rfm_segmentation"]["customers"] == buyers
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "02_customer_profile.html" in index and "skipped" in index


def test_a_string_annotation_allows_several_types():
    specs = {"04.ipynb": {"k": {"default": '"auto"', "inferred_type_name": "int or str"}}}
    check_parameters({"k": 3}, specs)
    check_parameters({"k": "auto"}, specs)
    with pytest.raises(ReportError, match="k=2.5 is float, 04.ipynb expects int or str"):
        check_parameters({"k": 2.5}, specs)
    with pytest.raises(ReportError, match="k=True is bool"):
        check_parameters({"k": True}, specs)


@pytest.mark.notebook
def test_the_report_log_has_no_kernel_notices(cleaned_sample, tmp_path, capfd):
    run_report(tmp_path, notebooks=["03"], parameters={"clean_dir": str(cleaned_sample.clean_dir)})
    err = capfd.readouterr().err
    assert "03_rfm_segmentation.ipynb done" in err
    assert "IPKernelApp" not in err and "without encryption" not in err


def test_an_english_page_keeps_the_english_of_bilingual_markdown():
    text = "\n".join(
        [
            "## 2. 清洗 Clean",
            "**业务问题 The question:** 哪些行有问题？",
            "Which rows have problems?",
            "",
            "| 代码 | 名称 | Name |",
            "| --- | --- | --- |",
            "| 111 | 重要价值客户 | Champions |",
            "```python",
            'print("中文")  # code stays whole',
            "```",
            "本段只有中文。",
        ]
    )
    english = markdown_in(text, "en").splitlines()
    assert english[:3] == ["## 2. Clean", "**The question:**", "Which rows have problems?"]
    assert english[4:7] == ["| | | Name |", "| --- | --- | --- |", "| 111 | | Champions |"]
    assert english[7:10] == ["```python", 'print("中文")  # code stays whole', "```"]
    assert len(english) == 10  # the Chinese-only line is left out
    assert markdown_in(text, "zh") == text
