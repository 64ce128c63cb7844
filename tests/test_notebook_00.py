"""Notebook 00 (quickstart) run under papermill; its metrics checked against the package and loops."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from notebook_checks import people_names, reader_artifacts, stderr_of

import analysis_kit as ak
from analysis_kit.clustering import cluster_customers
from analysis_kit.columns import STAGES
from analysis_kit.datasets import SAMPLE_FILES
from analysis_kit.privacy import find_unmasked
from analysis_kit.reports import run_report
from analysis_kit.rfm import rfm_scores, rfm_segments, rfm_summary, segment_table
from analysis_kit.tagging import apply_tags, call_list

pytestmark = pytest.mark.notebook

TABLES = ("customers", "orders", "followups", "stages")


def _direct(data_dir, as_of: str) -> dict:
    """The quickstart's figures from the package functions, called here directly."""
    raw = {t: ak.read_table(data_dir / SAMPLE_FILES[t][0], table=t) for t in TABLES}
    clean = {t: ak.clean_table(df, table=t, as_of=as_of) for t, df in raw.items()}
    customers, orders = clean["customers"].clean, clean["orders"].clean
    tagged = apply_tags(customers, orders=orders, followups=clean["followups"].clean, as_of=as_of)
    summary = rfm_summary(orders, as_of=as_of)
    # metrics name segments in Chinese whatever the language
    segments = segment_table(rfm_segments(rfm_scores(summary), lang="zh"))
    # 04's recipe: these four features, k from 2 to 8, seed 0
    columns = ["recency", "frequency", "monetary", "monetary_mean"]
    clusters = cluster_customers(
        summary.set_index("customer_id")[columns], k_range=(2, 8), random_state=0
    )
    return {
        "rows_kept": {t: int(r.audit.kept) for t, r in clean.items()},
        "high_value": int(tagged["high_value"].fillna(False).sum()),
        "churn_risk": int(tagged["churn_risk"].fillna(False).sum()),
        "call_list": len(call_list(tagged, [("grade", "==", "重点"), ("match_score", ">=", 4)])),
        "segments": dict(zip(segments["segment"], segments["customers"].tolist(), strict=True)),
        "k": clusters.k,
        "cluster_sizes": clusters.profiles["size"].tolist(),
    }


def _furthest_counts(stages: pd.DataFrame, as_of: pd.Timestamp) -> list[int]:
    """Reached per stage by a loop: each opportunity counts at every stage up to its furthest."""
    order = {s: i for i, s in enumerate(STAGES)}
    furthest: dict[str, int] = {}
    for opp, stage, entered in zip(
        stages["opportunity_id"], stages["stage"], stages["entered_at"], strict=True
    ):
        if pd.isna(opp) or pd.isna(stage) or pd.isna(entered) or entered.normalize() > as_of:
            continue
        furthest[opp] = max(furthest.get(opp, -1), order[stage])
    return [sum(f >= i for f in furthest.values()) for i in range(len(STAGES))]


def _revenue(orders: pd.DataFrame, as_of: pd.Timestamp) -> float:
    total = 0.0
    for day, amount in zip(orders["order_date"], orders["amount"], strict=True):
        if pd.notna(day) and day.normalize() <= as_of and pd.notna(amount):
            total += amount
    return total


@pytest.fixture(scope="module")
def default_run(cleaned_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    metrics = run_report(
        out,
        notebooks=["00"],
        parameters={"data_dir": str(cleaned_sample.data_dir), "as_of": "2024-06-30", "lang": "en"},
    )
    return out, json.loads(metrics.read_text(encoding="utf-8"))["00_quickstart"]


def test_quickstart_matches_the_package(cleaned_sample, default_run):
    _, recorded = default_run
    direct = _direct(cleaned_sample.data_dir, "2024-06-30")
    for key, value in direct.items():
        assert recorded[key] == value, key


def test_quickstart_matches_notebook_01_and_plain_loops(cleaned_sample, default_run):
    _, recorded = default_run
    as_of = pd.Timestamp("2024-06-30")
    clean = cleaned_sample.clean_dir
    # rows read: what the generator wrote; customers: what notebook 01 kept
    assert recorded["rows_read"] == {t: len(cleaned_sample.tables[t]) for t in TABLES}
    assert recorded["customers"] == len(pd.read_parquet(clean / "customers.parquet"))
    orders = pd.read_parquet(clean / "orders.parquet")
    assert recorded["revenue"] == pytest.approx(_revenue(orders, as_of), abs=0.01)
    buyers = orders.loc[orders["order_date"] < as_of + pd.Timedelta(days=1), "customer_id"]
    assert recorded["rfm_customers"] == buyers.nunique()
    assert sum(recorded["segments"].values()) == recorded["rfm_customers"]
    assert sum(recorded["cluster_sizes"]) == recorded["rfm_customers"]
    assert len(recorded["cluster_sizes"]) == recorded["k"]
    stages = pd.read_parquet(clean / "stages.parquet")
    reached = _furthest_counts(stages, as_of)
    assert recorded["funnel_reached"] == reached
    conversion = {s: reached[i] / reached[i - 1] for i, s in enumerate(STAGES) if i}
    sales = {s: v for s, v in conversion.items() if s != "售后维护"}  # after-sales is no loss
    assert recorded["weakest_step"] == min(sales, key=sales.get)
    assert recorded["last_month"] == "2024-06"


def test_quickstart_report_is_clean(cleaned_sample, default_run):
    out, _ = default_run
    assert "Glyph" not in stderr_of(out / "00_quickstart.ipynb")
    html = (out / "00_quickstart.html").read_text(encoding="utf-8")
    assert "<title>00 Quickstart</title>" in html  # an English run: the English title
    assert "read_table(" not in html  # no code in the report
    assert reader_artifacts(html, lang="en") == dict.fromkeys(reader_artifacts(""), 0)
    assert find_unmasked(html, names=people_names(cleaned_sample.clean_dir)) == []
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".parquet") == []


def test_quickstart_with_overridden_parameters(cleaned_sample, tmp_path):
    params = {"data_dir": str(cleaned_sample.data_dir), "as_of": "2024-03-31", "lang": "zh"}
    metrics = run_report(tmp_path, notebooks=["00"], parameters=params)
    recorded = json.loads(metrics.read_text(encoding="utf-8"))["00_quickstart"]
    assert recorded["as_of"] == "2024-03-31" and recorded["last_month"] == "2024-03"
    direct = _direct(cleaned_sample.data_dir, "2024-03-31")
    for key, value in direct.items():
        assert recorded[key] == value, key
    page = (tmp_path / "00_quickstart.html").read_text(encoding="utf-8")
    assert reader_artifacts(page, lang="zh") == dict.fromkeys(reader_artifacts(""), 0)
    assert set(recorded["segments"]) <= {
        "重要价值客户",
        "重要发展客户",
        "重要保持客户",
        "重要挽留客户",
        "一般价值客户",
        "一般发展客户",
        "一般保持客户",
        "一般挽留客户",
    }
    # rows after the analysis date are set aside: the same counts as a loop over the rows
    # notebook 01 kept, stopped at 2024-03-31
    march = pd.Timestamp("2024-03-31")
    stages = pd.read_parquet(cleaned_sample.clean_dir / "stages.parquet")
    assert recorded["funnel_reached"] == _furthest_counts(stages, march)
    orders = pd.read_parquet(cleaned_sample.clean_dir / "orders.parquet")
    assert recorded["revenue"] == pytest.approx(_revenue(orders, march), abs=0.01)
    assert "Glyph" not in stderr_of(tmp_path / "00_quickstart.ipynb")
    html = (tmp_path / "00_quickstart.html").read_text(encoding="utf-8")
    assert find_unmasked(html, names=people_names(cleaned_sample.clean_dir)) == []


def test_quickstart_skips_an_export_without_the_sample_files(cleaned_sample, tmp_path):
    """Run first in a full report on another team's export, it notes the skip and lets 01 go on."""
    export = tmp_path / "export"
    export.mkdir()
    orders = SAMPLE_FILES["orders"][0]
    (export / orders).write_bytes((cleaned_sample.data_dir / orders).read_bytes())
    metrics = run_report(tmp_path / "out", notebooks=["00"], parameters={"data_dir": str(export)})
    recorded = json.loads(metrics.read_text(encoding="utf-8"))["00_quickstart"]
    skipped = recorded["skipped"]
    for table in ("customers", "followups", "stages"):
        assert SAMPLE_FILES[table][0] in skipped
    assert orders not in skipped
    page = (tmp_path / "out" / "00_quickstart.html").read_text(encoding="utf-8")
    assert "跳过 Skipped." in page and "Traceback" not in page
