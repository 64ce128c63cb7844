"""The main job as a report owner runs it: the full report on the bundled sample, read as a reader.

Both languages run once per session (about 90 s each). Every page and the index must show no raw
artifacts, the English report no Chinese outside the data's own values, and the folder must hold
the customer workbook the index links to.
"""

import json

import openpyxl
import pandas as pd
import pytest
from notebook_checks import data_values, han_outside_data, reader_artifacts, visible_text

import analysis_kit as ak
from analysis_kit.datasets import SAMPLE_FILES
from analysis_kit.exports import read_result
from analysis_kit.funnel import STEP_LABELS_EN
from analysis_kit.reports import DATA_DIR, run_report


@pytest.fixture(scope="module")
def sample_reports(tmp_path_factory):
    """The bundled sample's report in each language."""
    reports = {}
    for lang in ("zh", "en"):
        reports[lang] = tmp_path_factory.mktemp(f"sample_{lang}")
        run_report(reports[lang], parameters={"lang": lang})
    return reports


@pytest.fixture(params=["zh", "en"])
def sample_report(request, sample_reports):
    return sample_reports[request.param], request.param


def _pages(out):
    pages = sorted(out.glob("[0-9][0-9]_*.html")) + [out / "index.html"]
    assert len(pages) == 9  # eight notebooks and the index, every one in the table style
    return pages


def test_no_page_shows_raw_artifacts(sample_report):
    out, lang = sample_report
    found = {
        page.name: {
            k: v for k, v in reader_artifacts(page.read_text("utf-8"), lang=lang).items() if v
        }
        for page in _pages(out)
    }
    assert {name: counts for name, counts in found.items() if counts} == {}


def test_an_english_report_has_no_chinese_outside_the_data(sample_reports):
    out = sample_reports["en"]
    inputs = [ak.read_table(DATA_DIR / name) for name, _ in SAMPLE_FILES.values()]
    clean = [pd.read_parquet(p) for p in sorted((out / "clean").glob("*.parquet"))]
    values = data_values(inputs + clean)
    left = {}
    for page in _pages(out):
        found = han_outside_data(
            visible_text(page.read_text("utf-8")), values, not_data=STEP_LABELS_EN
        )
        if found:
            left[page.name] = found[:5] + ([f"… {len(found)} in all"] if len(found) > 5 else [])
    assert left == {}


def test_the_customer_workbook_has_every_customer_once(sample_report):
    out, lang = sample_report
    path = out / "customer_actions.xlsx"
    assert 'href="customer_actions.xlsx"' in (out / "index.html").read_text("utf-8")
    book = openpyxl.load_workbook(path, read_only=True)
    everyone = "全部客户" if lang == "zh" else "All customers"
    assert book.sheetnames[0] == everyone
    sheets = pd.read_excel(path, sheet_name=None, dtype=str)
    ids = sheets[everyone].iloc[:, 0]
    tags, segments = read_result(out, "customer_tags"), read_result(out, "rfm_segments")
    assert ids.is_unique
    assert set(ids) == set(tags["customer_id"]) | set(segments["customer_id"])
    per_rep = pd.concat([frame for name, frame in sheets.items() if name != everyone])
    assert sorted(per_rep.iloc[:, 0]) == sorted(ids)  # each customer on exactly one rep's sheet
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    assert len(tags) == metrics["02_customer_profile"]["customers"]


def test_every_page_clusters_the_customers_alike(sample_report):
    out, _ = sample_report
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    quick, full = metrics["00_quickstart"], metrics["04_customer_clustering"]
    assert quick["k"] == full["k"]
    assert sorted(quick["cluster_sizes"]) == sorted(full["clusters"].values())


def test_metrics_are_the_same_in_both_languages(sample_reports):
    """metrics.json is for comparing periods: its keys and values never depend on the language."""
    zh, en = (
        json.loads((sample_reports[lang] / "metrics.json").read_text("utf-8"))
        for lang in ("zh", "en")
    )
    assert set(zh) == set(en)
    for notebook in zh:
        assert zh[notebook] == en[notebook], notebook
