"""Notebooks run top to bottom under papermill on small data, and what they write is checked."""

import json

import pandas as pd
import pytest
from notebook_checks import reader_artifacts, stderr_of, stdout_of

import analysis_kit as ak
from analysis_kit.cli import main
from analysis_kit.datasets import SAMPLE_FILES, make_tables, write_sample
from analysis_kit.exports import read_result
from analysis_kit.privacy import find_unmasked
from analysis_kit.reports import ReportError, available_notebooks, run_report

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    tables = make_tables(n_customers=25, messy=True, random_state=7)
    write_sample(tables, folder)
    return folder, tables


@pytest.fixture(scope="module")
def report(small_data, tmp_path_factory):
    folder, _ = small_data
    out = tmp_path_factory.mktemp("report")
    metrics = run_report(  # the full report: every notebook, in order
        out, parameters={"data_dir": str(folder), "as_of": "2024-06-30", "lang": "en"}
    )
    return out, json.loads(metrics.read_text(encoding="utf-8"))


def test_cleaning_notebook_accounts_for_every_row(small_data, report):
    _, tables = small_data
    _, metrics = report
    recorded = metrics["01_data_cleaning"]["tables"]
    assert set(recorded) == set(SAMPLE_FILES)
    for table, counts in recorded.items():
        assert counts["rows_in"] == len(tables[table]), table
        assert counts["rows_in"] == (
            counts["kept"] + counts["merged"] + counts["dropped_duplicates"] + counts["quarantined"]
        )


def test_cleaning_notebook_matches_the_package(small_data, report):
    folder, _ = small_data
    out, metrics = report
    direct = ak.clean_table(ak.read_table(folder / "客户信息表.csv"), as_of="2024-06-30")
    written = pd.read_parquet(out / "clean" / "customers.parquet")
    assert len(written) == len(direct.clean) == metrics["01_data_cleaning"]["customers"]
    assert sorted(written["customer_id"]) == sorted(direct.clean["customer_id"])


def test_report_html_has_no_code_and_no_contact_data(small_data, report):
    _, tables = small_data
    out, _ = report
    html = (out / "01_data_cleaning.html").read_text(encoding="utf-8")
    assert "<title>01 Data cleaning</title>" in html  # an English report: English title
    assert "ak.clean_table" not in html and "input_files = " not in html
    names = pd.concat([tables["customers"]["contact_name"], tables["orders"]["owner"]])
    assert find_unmasked(html, names=names.dropna().str.strip().unique()) == []
    quarantine = (out / "quarantine_customers.csv").read_text(encoding="utf-8-sig")
    assert find_unmasked(quarantine, names=names.dropna().str.strip().unique()) == []


def test_no_page_of_the_full_report_shows_a_phone_or_a_name(small_data, report):
    _, tables = small_data
    out, metrics = report
    assert set(metrics) == {path.stem for path in available_notebooks().values()}
    people = pd.concat(
        [tables["customers"]["contact_name"]]
        + [tables[t]["owner"] for t in ("orders", "stages", "followups", "targets")]
    )
    names = people.dropna().astype(str).str.strip().unique()
    pages = sorted(out.glob("*.html")) + sorted(out.glob("*.csv"))
    assert (out / "index.html") in pages and len(pages) >= len(metrics) + 1
    for page in pages:
        encoding = "utf-8-sig" if page.suffix == ".csv" else "utf-8"
        assert find_unmasked(page.read_text(encoding=encoding), names=names) == [], page.name
    for data in sorted((out / "data").glob("*.parquet")):  # the copies written for tools
        text = pd.read_parquet(data).astype(str).to_csv(index=False)
        assert find_unmasked(text, names=names) == [], data.name


def test_unknown_parameter_is_an_error_before_running(tmp_path):
    with pytest.raises(ReportError, match="unknown parameters"):
        run_report(tmp_path, notebooks=["01"], parameters={"as_off": "2024-01-01"})
    assert not (tmp_path / "01_data_cleaning.ipynb").exists()


def test_failing_notebook_names_cell_and_keeps_traceback(small_data, tmp_path):
    folder, _ = small_data
    params = {"data_dir": str(folder), "as_of": "not a date"}
    with pytest.raises(ReportError, match=r"01_data_cleaning.ipynb: cell \d+ failed"):
        run_report(tmp_path, notebooks=["01"], parameters=params)
    executed = (tmp_path / "01_data_cleaning.ipynb").read_text(encoding="utf-8")
    assert "Traceback" in executed or "ValueError" in executed


def test_every_notebook_has_a_parameters_cell_and_no_definitions():
    import nbformat

    for path in available_notebooks().values():
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not any(
                    line.startswith(("def ", "class ")) for line in cell.source.splitlines()
                ), path.name


def test_cli_template_and_bad_arguments(tmp_path, capsys):
    path = tmp_path / "模板.xlsx"
    assert main(["template", str(path)]) == 0
    assert path.exists()
    assert main(["report", "--out", str(tmp_path / "r"), "-p", "nonsense", "1"]) == 1
    assert "unknown parameters" in capsys.readouterr().err


def test_rfm_notebook_segments_every_buying_customer(report):
    out, metrics = report
    recorded = metrics["03_rfm_segmentation"]
    orders = pd.read_parquet(out / "clean" / "orders.parquet")
    # every customer with an order line up to as_of is segmented, refund-only ones included
    in_window = orders[orders["order_date"] < pd.Timestamp("2024-07-01")]
    assert recorded["customers"] == in_window["customer_id"].nunique()
    assert sum(recorded["segments"].values()) == recorded["customers"]
    assert recorded["scheme"] == "cn8"
    segments = read_result(out, "rfm_segments")
    assert len(segments) == recorded["customers"]
    shown = pd.read_csv(out / "rfm_segments.csv", dtype=str, encoding="utf-8-sig")
    assert len(shown) == len(segments) and "Segment code" in shown.columns  # lang="en" headers
    assert (shown["Segment code"].str.strip() == segments["segment_code"]).all()
    assert "Glyph" not in stderr_of(out / "03_rfm_segmentation.ipynb")


def test_rfm_notebook_with_overridden_parameters(report, tmp_path):
    out, _ = report
    metrics = run_report(
        tmp_path,
        notebooks=["03"],
        parameters={"clean_dir": str(out / "clean"), "scheme": "classic", "bins": 3, "lang": "zh"},
    )
    recorded = json.loads(metrics.read_text(encoding="utf-8"))["03_rfm_segmentation"]
    assert recorded["scheme"] == "classic" and recorded["bins"] == 3
    from analysis_kit.rfm import CLASSIC_SEGMENTS

    labels = {v["zh"] for v in CLASSIC_SEGMENTS.values()}
    assert set(recorded["segments"]) <= labels
    assert "Glyph" not in stderr_of(tmp_path / "03_rfm_segmentation.ipynb")


def test_profile_notebook_tags_match_an_independent_count(report):
    out, metrics = report
    recorded = metrics["02_customer_profile"]
    customers = pd.read_parquet(out / "clean" / "customers.parquet")
    orders = pd.read_parquet(out / "clean" / "orders.parquet")
    as_of = pd.Timestamp("2024-06-30")
    recent = orders[(orders["order_date"] > as_of - pd.DateOffset(months=12))]
    recent = recent[recent["order_date"] < as_of + pd.Timedelta(days=1)]
    bought = recent.groupby("customer_id")["amount"].sum()
    history = orders[orders["order_date"] < as_of + pd.Timedelta(days=1)]
    per_order = history.groupby(["customer_id", "order_id"]).agg(
        amount=("amount", "sum"), day=("order_date", "min")
    )
    purchases = per_order[per_order["amount"] > 0].reset_index()
    # repeat purchases in the last 12 months: purchases there, less the first ever if it is there
    start = as_of - pd.DateOffset(months=12)
    there = (purchases["day"] > start).groupby(purchases["customer_id"]).sum()
    first_there = purchases.groupby("customer_id")["day"].min() > start
    repeats = there - first_there.astype(int)
    high = set(bought[bought >= 100_000].index) | set(repeats[repeats >= 3].index)
    assert recorded["customers"] == len(customers)
    assert recorded["high_value"] == len(high & set(customers["customer_id"]))
    html = (out / "02_customer_profile.html").read_text(encoding="utf-8")
    names = pd.concat([customers["contact_name"], orders["owner"]]).dropna()
    names = names.str.split("; ").explode().str.strip().unique()
    assert find_unmasked(html, names=names) == []


def test_profile_notebook_with_overridden_rules(report, tmp_path):
    out, _ = report
    params = {
        "clean_dir": str(out / "clean"),
        "rules": {"high_value_amount": 10**12, "high_value_repeat": 10**6},
        "call_filter": "客户等级 ＝ 重点",
    }
    metrics = run_report(tmp_path, notebooks=["02"], parameters=params)
    recorded = json.loads(metrics.read_text(encoding="utf-8"))["02_customer_profile"]
    customers = pd.read_parquet(out / "clean" / "customers.parquet")
    assert recorded["high_value"] == 0
    assert recorded["call_list"] == int((customers["grade"] == "重点").sum())


def test_clustering_notebook_groups_every_customer(report):
    out, metrics = report
    recorded = metrics["04_customer_clustering"]
    assert recorded["customers"] == metrics["03_rfm_segmentation"]["customers"]
    assert sum(recorded["clusters"].values()) == recorded["customers"]
    assert len(recorded["clusters"]) == recorded["k"]
    assert -1 <= recorded["silhouette"] <= 1
    assert "Glyph" not in stderr_of(out / "04_customer_clustering.ipynb")


def test_clustering_notebook_with_a_fixed_k(report, tmp_path):
    out, metrics = report
    params = {"clean_dir": str(out / "clean"), "k": 3, "features": ["recency", "monetary"]}
    first = json.loads(run_report(tmp_path / "a", notebooks=["04"], parameters=params).read_text())
    again = json.loads(run_report(tmp_path / "b", notebooks=["04"], parameters=params).read_text())
    assert first["04_customer_clustering"]["k"] == 3
    assert first == again  # same data and seed, same result


def test_notebooks_chain_with_their_own_defaults(tmp_path):
    """As in JupyterLab: 01 then 03, each with the defaults of its parameters cell."""
    import shutil

    import papermill as pm

    root = ak.reports.NOTEBOOK_DIR.parent
    shutil.copytree(root / "notebooks", tmp_path / "notebooks")
    shutil.copytree(root / "data", tmp_path / "data")
    for name in ("01_data_cleaning.ipynb", "03_rfm_segmentation.ipynb"):
        pm.execute_notebook(
            str(tmp_path / "notebooks" / name),
            str(tmp_path / f"run_{name}"),
            cwd=str(tmp_path / "notebooks"),
            progress_bar=False,
        )
    clean = tmp_path / "reports" / "clean" / "orders.parquet"
    assert clean.exists()  # 01 wrote where 03 reads
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text(encoding="utf-8"))
    buyers = pd.read_parquet(clean).query("amount > 0")["customer_id"].nunique()
    assert metrics["03_rfm_segmentation"]["customers"] == buyers


def test_a_missing_input_is_one_line_naming_the_path_and_the_fix(tmp_path):
    with pytest.raises(ak.reports.NotebookSkipped) as caught:
        ak.reports.load_tables(tmp_path / "clean", required=["orders"])
    message = str(caught.value)
    assert (
        str((tmp_path / "clean").resolve()) in message and "run 01_data_cleaning first" in message
    )
    # Jupyter shows what _render_traceback_ returns instead of a traceback
    assert caught.value._render_traceback_() == [f"NotebookSkipped: {message}"]


def test_every_page_links_back_to_the_summary_and_on(report):
    out, _ = report
    pages = sorted(out.glob("[0-9][0-9]_*.html"))
    for at, page in enumerate(pages):
        text = page.read_text(encoding="utf-8")
        nav = text.split('<nav class="ak-nav"')[1].split("</nav>")[0]
        assert 'href="index.html"' in nav
        assert (f'href="{pages[at - 1].name}"' in nav) == (at > 0)
        if at + 1 < len(pages):
            assert f'href="{pages[at + 1].name}"' in nav
        assert text.count('<nav class="ak-nav"') == 2  # top and bottom, once each


@pytest.mark.parametrize(
    "page",
    [
        "02_customer_profile",
        "03_rfm_segmentation",
        "04_customer_clustering",
        "05_sales_funnel",
        "06_sales_performance",
        "07_clv_cross_sell",
    ],
)
def test_pages_in_the_table_style_show_no_raw_artifacts(report, page):
    out, _ = report
    text = (out / f"{page}.html").read_text(encoding="utf-8")
    assert reader_artifacts(text, lang="en") == dict.fromkeys(reader_artifacts(""), 0)
    assert "计算引擎 engine:" not in text  # the engine line is kept in the notebook, not shown
    assert "计算引擎 engine:" in stdout_of(out / f"{page}.ipynb")


def test_rfm_page_and_file_say_who_is_in_each_segment(report):
    import html

    out, _ = report
    segments = pd.read_parquet(out / "data" / "rfm_segments.parquet")
    customers = pd.read_parquet(out / "clean" / "customers.parquet")
    names = customers.drop_duplicates("customer_id").set_index("customer_id")["customer_name"]
    assert list(segments.columns[:2]) == ["customer_id", "customer_name"]
    assert segments["customer_name"].tolist() == names.reindex(segments["customer_id"]).tolist()
    page = (out / "03_rfm_segmentation.html").read_text(encoding="utf-8")
    biggest = segments.sort_values("monetary", ascending=False).groupby("segment_code").head(1)
    for name in biggest["customer_name"].dropna():
        assert html.escape(name) in page, name  # each segment's biggest spender is named
