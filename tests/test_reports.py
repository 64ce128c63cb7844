"""The report runner: parameter checks, dated folders, the index page, period over period."""

import json

import nbformat
import pandas as pd
import pytest

from analysis_kit.datasets import SAMPLE_FILES
from analysis_kit.reports import (
    ReportError,
    _previous_report,
    check_parameters,
    compare_metrics,
    record_metrics,
    run_report,
    write_index,
)

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


def test_index_links_pages_and_shows_changes(tmp_path):
    before = _fake_report(tmp_path / "2024-05-31", 100, 1_000.0)
    now = _fake_report(tmp_path / "2024-06-30", 120, 900.0)
    index = write_index(now, previous=before)
    page = index.read_text(encoding="utf-8")
    assert '<a href="03_rfm_segmentation.html">03 RFM 客户分群</a>' in page
    assert "<title>分析报告 Analysis report — 2024-06-30</title>" in page
    assert "2024-05-31" in page
    assert "▲ 20 (+20.0%)" in page
    assert "▼ -100.00 (-10.0%)" in page
    assert write_index(now, previous=before).read_text(encoding="utf-8") == page  # stable


def test_index_without_previous_has_no_change_column(tmp_path):
    now = _fake_report(tmp_path / "r", 5, 1.0)
    page = write_index(now).read_text(encoding="utf-8")
    assert "上期 Previous" not in page and '<td class="num">5</td>' in page


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
    assert "Compared with the previous report: <code>2024-05-31</code>" in index
    before = json.loads(may.read_text(encoding="utf-8"))["03_rfm_segmentation"]["customers"]
    after = json.loads(june.read_text(encoding="utf-8"))["03_rfm_segmentation"]["customers"]
    assert f'<td class="num">{before:,d}</td>' in index
    assert f'<td class="num">{after:,d}</td>' in index
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
