"""Tests for analysis_kit.widgets: each explorer shows what the pure function returns, masked."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from analysis_kit.clustering import cluster_customers
from analysis_kit.errors import AnalysisKitError, SchemaError
from analysis_kit.funnel import FUNNEL_PRESETS, STEP_LABELS_EN, event_funnel, stage_funnel
from analysis_kit.privacy import find_unmasked
from analysis_kit.rfm import CLASSIC_SEGMENTS, rfm_scores, rfm_segments, segment_table
from analysis_kit.tagging import call_list
from analysis_kit.widgets import (
    Explorer,
    cluster_explorer,
    customer_filter,
    funnel_explorer,
    rfm_explorer,
)

pytest.importorskip("ipywidgets")

# Charts of Chinese labels without a CJK font configured warn about glyphs; not what is tested.
pytestmark = pytest.mark.filterwarnings("ignore:Glyph:UserWarning")

TEMPLATE = list(FUNNEL_PRESETS["template"])


def _shown_text(explorer: Explorer) -> str:
    """Everything the explorer wrote to its output: tables (HTML and text) and messages."""
    parts = []
    for out in explorer.output.outputs:
        data = out.get("data", {})
        parts += [data.get("text/html", ""), data.get("text/plain", ""), out.get("text", "")]
    return "\n".join(parts)


def _kinds(explorer: Explorer) -> list[str]:
    kinds = []
    for out in explorer.output.outputs:
        data = out.get("data", {})
        kinds.append("png" if "image/png" in data else "table" if "text/html" in data else "text")
    return kinds


# --- RFM -------------------------------------------------------------------------------------------


@pytest.fixture
def summary() -> pd.DataFrame:
    """Means: recency 28.25, frequency 3.25, monetary 447.5 → A, B are 111 and C, D are 000."""
    return pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "recency": [1, 2, 50, 60],
            "frequency": [5, 6, 1, 1],
            "monetary": [900.0, 800.0, 50.0, 40.0],
        }
    )


def test_rfm_explorer_shows_the_direct_calls(summary):
    before = summary.copy()
    explorer = rfm_explorer(summary, lang="en")
    direct = segment_table(rfm_segments(rfm_scores(summary, bins=5), scheme="cn8", lang="en"))
    pd.testing.assert_frame_equal(explorer.table, direct)
    assert explorer.table["segment"].tolist() == ["Important value", "General win-back"]
    assert explorer.table["customers"].tolist() == [2, 2]

    explorer.controls["bins"].value = 3
    scores = rfm_scores(summary, bins=3)
    pd.testing.assert_frame_equal(explorer.results["scores"], scores)
    pd.testing.assert_frame_equal(
        explorer.table, segment_table(rfm_segments(scores, scheme="cn8", lang="en"))
    )
    # segment table, charts, the note that cn8 bins change the heat map only, heading, members
    assert _kinds(explorer) == ["table", "png", "text", "text", "table"]
    pd.testing.assert_frame_equal(summary, before)


def test_rfm_explorer_lists_the_chosen_segment(summary):
    explorer = rfm_explorer(summary, lang="en", segment="Important value")
    assert explorer.results["members"]["customer_id"].tolist() == ["A", "B"]  # by spend
    explorer.controls["segment"].value = None
    assert explorer.results["members"]["customer_id"].tolist() == ["A", "B", "C", "D"]
    explorer.controls["segment"].value = "General win-back"
    assert explorer.results["members"]["customer_id"].tolist() == ["C", "D"]
    assert "General win-back: 2 customers" in _shown_text(explorer)


def test_rfm_explorer_switches_scheme_and_its_segment_options(summary):
    explorer = rfm_explorer(summary, lang="zh", segment="重要价值客户")
    explorer.controls["scheme"].value = "classic"
    labels = [label for label, value in explorer.controls["segment"].options if value is not None]
    assert labels == [v["zh"] for v in CLASSIC_SEGMENTS.values()]
    assert explorer.controls["segment"].value is None  # the cn8 label is not a classic one
    direct = segment_table(rfm_segments(rfm_scores(summary, bins=5), scheme="classic", lang="zh"))
    pd.testing.assert_frame_equal(explorer.table, direct)


def test_rfm_explorer_shows_an_error_and_recovers(summary):
    explorer = rfm_explorer(summary, scheme="classic", lang="en")
    explorer.controls["bins"].value = 7  # classic needs scores 1-5
    assert explorer.table is None
    assert "1 to 5" in explorer.error
    assert _kinds(explorer) == ["text"] and "⚠" in _shown_text(explorer)
    with pytest.raises(ValueError, match="1 to 5"):
        explorer.update()  # a direct call raises
    explorer.controls["bins"].value = 5
    assert explorer.error is None and explorer.table is not None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bins": 1}, "bins must be an integer from 2 to 10; got 1"),
        ({"scheme": "rfm"}, r"scheme must be one of \['cn8', 'classic'\]; got 'rfm'"),
        ({"segment": "Champions"}, "segment must be one of .*got 'Champions'"),
        ({"lang": "fr"}, "lang must be one of .*got 'fr'"),
        ({"top_n": 0}, "top_n must be an integer >= 1; got 0"),
    ],
)
def test_rfm_explorer_rejects_bad_parameters(summary, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rfm_explorer(summary, **kwargs)


def test_rfm_explorer_names_missing_columns(summary):
    with pytest.raises(SchemaError, match="monetary"):
        rfm_explorer(summary.drop(columns="monetary"))


def test_explorer_leaks_no_pyplot_figures_and_displays_as_a_widget(summary):
    before = plt.get_fignums()
    explorer = rfm_explorer(summary, lang="en")
    for bins in (2, 3, 4):
        explorer.controls["bins"].value = bins
    assert plt.get_fignums() == before
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_importing_widgets_does_not_import_ipywidgets():
    code = (
        "import sys, analysis_kit, analysis_kit.widgets;"
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- customer filter -------------------------------------------------------------------------------


@pytest.fixture
def tagged() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "customer_name": ["甲公司", "乙公司", "丙公司", "丁公司", "戊公司"],
            "grade": ["重点", "重点", "普通", "重点", None],
            "priority": ["中", "高", "高", "低", "高"],
            "match_score": pd.array([4, 5, 5, 3, None], dtype="Int64"),
            "industry_l1": ["制造业", "信息技术", "制造业", "制造业", "零售"],
            "churn_risk": pd.array([True, False, True, None, True], dtype="boolean"),
            "owner": ["王磊", "李娜", "王磊", "张强", "刘洋"],
            "contact_name": ["赵敏", "孙浩", "陈静", "周杰", "黄伟"],
            "contact_phone": ["13800138000", "13900139000", None, "010-12345678", None],
        }
    )


def _loop(frame: pd.DataFrame, keep) -> list[str]:
    """Ids of the rows ``keep(row)`` accepts, 高 priority first, then match score (missing last)."""
    rank = {"高": 0, "中": 1, "低": 2}
    rows = [r for r in frame.to_dict("records") if keep(r)]
    rows.sort(
        key=lambda r: (
            rank.get(r["priority"], 9),
            np.inf if pd.isna(r["match_score"]) else -r["match_score"],
        )
    )
    return [r["customer_id"] for r in rows]


def test_customer_filter_matches_call_list_and_a_loop(tagged):
    before = tagged.copy()
    explorer = customer_filter(tagged, lang="en")
    assert list(explorer.controls) == ["grade", "min_match", "priority", "industry", "churn_risk"]
    assert explorer.table["customer_id"].tolist() == ["C2", "C3", "C5", "C1", "C4"]

    explorer.controls["grade"].value = "重点"
    explorer.controls["min_match"].value = 4
    direct = call_list(tagged, "客户等级 == 重点 and 需求匹配度 >= 4")
    pd.testing.assert_frame_equal(explorer.table, direct)
    assert explorer.table["customer_id"].tolist() == ["C2", "C1"]  # 高 before 中

    explorer.controls["grade"].value = None
    explorer.controls["min_match"].value = None
    explorer.controls["churn_risk"].value = True
    expected = _loop(tagged, lambda r: r["churn_risk"] is True)
    assert explorer.table["customer_id"].tolist() == expected == ["C3", "C5", "C1"]

    explorer.controls["churn_risk"].value = False  # a missing churn risk is neither yes nor no
    assert explorer.table["customer_id"].tolist() == ["C2"]
    explorer.controls["industry"].value = "制造业"
    assert explorer.table.empty
    assert "0 customers" in _shown_text(explorer)
    pd.testing.assert_frame_equal(tagged, before)


def test_customer_filter_offers_known_values_in_template_order(tagged):
    explorer = customer_filter(tagged, lang="zh")
    grades = [v for _, v in explorer.controls["grade"].options]
    assert grades == [None, "重点", "普通"]  # 潜在 absent from the data; missing not offered
    priorities = [v for _, v in explorer.controls["priority"].options]
    assert priorities == [None, "高", "中", "低"]
    plain = customer_filter(tagged.drop(columns=["churn_risk", "industry_l1"]))
    assert list(plain.controls) == ["grade", "min_match", "priority"]


def test_customer_filter_masks_every_name_and_phone_it_shows(tagged):
    columns = ["customer_name", "owner", "contact_name", "contact_phone", "grade"]
    explorer = customer_filter(tagged, columns=columns, lang="en")
    text = _shown_text(explorer)
    names = pd.concat([tagged["owner"], tagged["contact_name"]]).tolist()
    assert find_unmasked(text, names=names) == []
    assert "王**" in text and "138****8000" in text and "010-****5678" in text
    assert "甲公司" in text  # company names are not personal data
    assert explorer.table["owner"].tolist()[0] in set(tagged["owner"])  # results stay unmasked


def test_customer_filter_rejects_values_not_in_the_data(tagged):
    with pytest.raises(ValueError, match=r"grade must be one of .*got 'VIP'"):
        customer_filter(tagged, grade="VIP")
    with pytest.raises(ValueError, match="churn_risk=True needs the column 'churn_risk'"):
        customer_filter(tagged.drop(columns="churn_risk"), churn_risk=True)


# --- funnel ----------------------------------------------------------------------------------------


@pytest.fixture
def history() -> pd.DataFrame:
    """A: ①②④⑤ (③ skipped), ⑤ 19 days after ①. B: ①, ② 28 days later. C: ① only."""
    rows = [
        ("A", "初次接洽", "2024-01-01", "展会", "王磊"),
        ("A", "需求确认", "2024-01-03", "展会", "王磊"),
        ("A", "商务谈判", "2024-01-05", "展会", "王磊"),
        ("A", "成交", "2024-01-20", "展会", "王磊"),
        ("B", "初次接洽", "2024-01-02", "转介绍", "李娜"),
        ("B", "需求确认", "2024-01-30", "转介绍", "李娜"),
        ("C", "初次接洽", "2024-01-03", "展会", "张强"),
    ]
    frame = pd.DataFrame(
        rows, columns=["opportunity_id", "stage", "entered_at", "lead_source", "owner"]
    )
    frame["entered_at"] = pd.to_datetime(frame["entered_at"])
    return frame


def test_funnel_explorer_stage_funnel_by_hand(history):
    before = history.copy()
    explorer = funnel_explorer(history, lang="en")
    assert explorer.results["kind"] == "stage"
    pd.testing.assert_frame_equal(explorer.table, stage_funnel(history))
    # reaching ④ implies ③: A counts at every step up to 成交
    assert explorer.table["reached"].tolist() == [3, 2, 1, 1, 1, 0]
    explorer.controls["stages"].value = "lead"
    pd.testing.assert_frame_equal(explorer.table, stage_funnel(history, stages="lead"))
    assert explorer.table["reached"].tolist() == [3, 2, 1, 1, 0]
    assert _kinds(explorer) == ["text", "png", "table"]
    pd.testing.assert_frame_equal(history, before)


def test_funnel_explorer_window_gives_the_event_funnel(history):
    explorer = funnel_explorer(history, window_days=10, lang="en")
    assert explorer.results["kind"] == "event"
    direct = event_funnel(
        history,
        TEMPLATE,
        unit_col="opportunity_id",
        time_col="entered_at",
        event_col="stage",
        window=pd.Timedelta(days=10),
    )
    pd.testing.assert_frame_equal(explorer.table, direct)
    # within 10 days: A reaches ② (day 2) but skipped ③, so no later step; B's ② is too late
    assert explorer.table["reached"].tolist() == [3, 1, 0, 0, 0, 0]
    explorer.controls["stages"].value = "lead"
    # 方案报价 covers 商务谈判: A gets there on day 4; 合同签订 on day 19 is outside the window
    assert explorer.table["step"].tolist() == list(FUNNEL_PRESETS["lead"])
    assert explorer.table["reached"].tolist() == [3, 1, 1, 0, 0]
    explorer.controls["window_days"].value = 30
    assert explorer.table["reached"].tolist() == [3, 2, 1, 1, 0]


def test_funnel_explorer_breakdown_is_masked(history):
    explorer = funnel_explorer(history, lang="en")
    assert [v for _, v in explorer.controls["breakdown"].options] == [None, "lead_source", "owner"]
    explorer.controls["breakdown"].value = "owner"
    pd.testing.assert_frame_equal(explorer.table, stage_funnel(history, by="owner"))
    text = _shown_text(explorer)
    assert find_unmasked(text, names=history["owner"].unique()) == []
    assert "王**" in text


def test_funnel_explorer_rejects_bad_parameters(history):
    with pytest.raises(ValueError, match=r"stages must be one of \['template', 'lead'\]"):
        funnel_explorer(history, stages="sales")
    with pytest.raises(ValueError, match="breakdown must be one of .*got 'industry_l1'"):
        funnel_explorer(history, breakdown="industry_l1")
    with pytest.raises(ValueError, match="window_days must be None or an integer >= 1; got 0"):
        funnel_explorer(history, window_days=0)
    with pytest.raises(SchemaError, match="entered_at"):
        funnel_explorer(history.drop(columns="entered_at"))


# --- clustering ------------------------------------------------------------------------------------


@pytest.fixture
def features() -> pd.DataFrame:
    """25 recent, frequent, big spenders and 15 dormant small ones: two clusters by eye."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "recency": np.r_[rng.integers(1, 30, 25), rng.integers(200, 400, 15)],
            "frequency": np.r_[rng.integers(8, 15, 25), rng.integers(1, 3, 15)],
            "monetary": np.r_[rng.normal(2e5, 2e4, 25), rng.normal(5e3, 1e3, 15)],
        },
        index=pd.Index([f"C{i:03d}" for i in range(40)], name="customer_id"),
    )


def test_cluster_explorer_shows_the_direct_call(features):
    before = features.copy()
    explorer = cluster_explorer(features, k_range=(2, 5), lang="en")
    assert explorer.results["result"].k == 2
    assert explorer.table["size"].tolist() == [25, 15]
    explorer.controls["k"].value = 3
    explorer.controls["features"].value = ("monetary", "recency")
    direct = cluster_customers(
        features, k=3, k_range=(2, 5), columns=["recency", "monetary"], random_state=0
    )
    pd.testing.assert_frame_equal(explorer.table, direct.profiles)
    pd.testing.assert_series_equal(explorer.results["result"].labels, direct.labels)
    assert set(explorer.results["embedding"]["name"]) == set(direct.profiles["name_en"])
    assert _kinds(explorer)[-2:] == ["table", "png"]
    pd.testing.assert_frame_equal(features, before)


def test_cluster_explorer_with_one_or_no_feature(features):
    explorer = cluster_explorer(features, k=2, lang="en")
    explorer.controls["features"].value = ("monetary",)
    assert explorer.results["embedding"] is None
    assert "at least two features" in _shown_text(explorer)
    explorer.controls["features"].value = ()
    assert explorer.table is None and "feature" in explorer.error


def test_cluster_explorer_rejects_bad_parameters(features):
    with pytest.raises(ValueError, match="k must be 'auto' or an integer >= 2; got 1"):
        cluster_explorer(features, k=1)
    with pytest.raises(ValueError, match="random_state must be an integer"):
        cluster_explorer(features, random_state=None)
    with pytest.raises(SchemaError, match="employees"):
        cluster_explorer(features, columns=["recency", "employees"])


# --- explore sections of notebooks 02-05 under papermill --------------------------------------------


def _widget_state_text(executed) -> str:
    """The widget state saved in an executed notebook, decoded (names are not \\u-escaped)."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return json.dumps(state, ensure_ascii=False)


def _html_widget_state(html: str) -> str:
    found = re.findall(
        r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', html, re.S
    )
    return "".join(json.dumps(json.loads(s), ensure_ascii=False) for s in found)


@pytest.mark.notebook
def test_explore_sections_run_clean_under_papermill(cleaned_sample, tmp_path):
    from analysis_kit.reports import run_report

    run_report(
        tmp_path,
        notebooks=["02", "03", "04", "05"],
        parameters={"clean_dir": str(cleaned_sample.clean_dir), "lang": "zh"},
    )
    clean = cleaned_sample.clean_dir
    customers = pd.read_parquet(clean / "customers.parquet")
    owners = [pd.read_parquet(clean / f"{t}.parquet")["owner"] for t in ("stages", "orders")]
    names = pd.concat([customers["contact_name"], customers["owner"], *owners]).dropna()
    names = names.str.split("; ").explode().str.strip().unique()
    for stem in (
        "02_customer_profile",
        "03_rfm_segmentation",
        "04_customer_clustering",
        "05_sales_funnel",
    ):
        state = _widget_state_text(tmp_path / f"{stem}.ipynb")
        assert '"OutputModel"' in state, stem  # the explorer was built and displayed
        assert "text/html" in state, stem  # … and wrote its table
        assert "⚠" not in state and "Glyph" not in state and "Traceback" not in state, stem
        assert find_unmasked(state, names=names) == [], stem
        html = (tmp_path / f"{stem}.html").read_text(encoding="utf-8")
        assert "探索 Explore" in html, stem
        assert find_unmasked(_html_widget_state(html), names=names) == [], stem


# --- what a user sees: labels, days, honest controls, saving to Excel -------------------------------


def _dropdowns(explorer: Explorer) -> dict:
    import ipywidgets

    return {n: c for n, c in explorer.controls.items() if isinstance(c, ipywidgets.Dropdown)}


def _pick(control, label: str) -> None:
    """Choose an option by its label, as a click in the browser does (it sends the index)."""
    control.index = [text for text, _ in control.options].index(label)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_option_shows_a_label_and_none_shows_all(tagged, history, summary, features, lang):
    explorers = [
        rfm_explorer(summary, lang=lang),
        customer_filter(tagged, lang=lang),
        funnel_explorer(history, lang=lang),
        cluster_explorer(features, k=2, lang=lang),
    ]
    every = {"zh": "全部", "en": "All"}[lang]
    none = {"zh": "无", "en": "None"}[lang]
    for explorer in explorers:
        for name, control in explorer.controls.items():
            assert control.style.description_width == "initial", name  # never cut off
            assert isinstance(control.description, str) and control.description.strip(), name
        for name, control in _dropdowns(explorer).items():
            labels = [label for label, _ in control.options]
            assert all(isinstance(label, str) and label.strip() for label in labels), name
            assert len(set(labels)) == len(labels), name
            if control.value is None:  # ipywidgets would show a blank box: the label shows
                assert control.index is not None and control.label in (every, none), name
    # choosing "all" again after a value selects the labelled option, not a blank one
    grade = explorers[1].controls["grade"]
    grade.value = "重点"
    grade.value = None
    assert grade.label == every and explorers[1].table["customer_id"].tolist() == [
        "C2",
        "C3",
        "C5",
        "C1",
        "C4",
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_choosing_all_or_none_is_the_call_without_that_filter(tagged, history, summary, lang):
    every = {"zh": "全部", "en": "All"}[lang]
    none = {"zh": "无", "en": "None"}[lang]
    calls = customer_filter(tagged, lang=lang)
    for name, value in [
        ("grade", "重点"),
        ("min_match", 4),
        ("priority", "高"),
        ("industry", "制造业"),
        ("churn_risk", True),
    ]:
        calls.controls[name].value = value
        assert len(calls.table) < len(tagged), name
        _pick(calls.controls[name], every)
        assert calls.controls[name].value is None, name
        pd.testing.assert_frame_equal(calls.table, call_list(tagged, []))

    funnel = funnel_explorer(history, breakdown="owner", window_days=30, lang=lang)
    _pick(funnel.controls["window_days"], none)
    _pick(funnel.controls["breakdown"], none)
    assert funnel.values == {"stages": "template", "breakdown": None, "window_days": None}
    pd.testing.assert_frame_equal(funnel.table, stage_funnel(history))

    rfm = rfm_explorer(summary, lang=lang)
    rfm.controls["segment"].index = 1
    assert len(rfm.results["members"]) == 2
    _pick(rfm.controls["segment"], every)
    segmented = rfm_segments(rfm_scores(summary, bins=5), scheme="cn8", lang=lang)
    expected = segmented.sort_values("monetary", ascending=False, kind="stable")
    pd.testing.assert_frame_equal(rfm.results["members"], expected)


def test_options_are_labelled_and_their_values_stay_column_names(history, features, tagged):
    explorer = funnel_explorer(history, lang="zh")
    assert explorer.controls["breakdown"].options == (
        ("无", None),
        ("线索来源", "lead_source"),
        ("销售负责人", "owner"),
    )
    assert [label for label, _ in explorer.controls["stages"].options] == ["模板六阶段", "线索五步"]
    explorer.controls["breakdown"].value = "lead_source"
    pd.testing.assert_frame_equal(explorer.table, stage_funnel(history, by="lead_source"))
    english = funnel_explorer(history, lang="en")
    assert [label for label, _ in english.controls["breakdown"].options] == [
        "None",
        "Lead source",
        "Owner",
    ]
    clusters = cluster_explorer(features, k=2, lang="en")
    labels = dict((v, label) for label, v in clusters.controls["features"].options)
    assert labels == {
        "recency": "Recency (days)",
        "frequency": "Frequency (days bought)",
        "monetary": "Monetary (¥)",
    }
    assert clusters.controls["k"].options[0] == ("auto (silhouette)", "auto")
    chinese = cluster_explorer(features.rename(columns={"monetary": "total_amount"}), k=2)
    assert [label for label, _ in chinese.controls["features"].options] == [
        "最近购买（天前）",
        "购买天数",
        "total amount（元）",  # no label on the page: as written, never snake_case
    ]
    # the template's grades and priorities read in English; the values stay the data's
    calls = customer_filter(tagged, lang="en")
    assert calls.controls["grade"].options == (
        ("All", None),
        ("Key (重点)", "重点"),
        ("Regular (普通)", "普通"),
    )
    assert [label for label, _ in calls.controls["priority"].options][1:] == [
        "High (高)",
        "Medium (中)",
        "Low (低)",
    ]
    # a blank value is not offered: it would be an empty line in the list
    blank = customer_filter(tagged.assign(industry_l1=["制造业", "", " ", None, "零售"]))
    assert blank.controls["industry"].options == (
        ("全部", None),
        ("制造业", "制造业"),
        ("零售", "零售"),
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_event_funnel_shows_days_not_seconds(history, lang):
    explorer = funnel_explorer(history, stages="lead", window_days=30, lang=lang)
    seconds = explorer.table  # what event_funnel returns, unchanged
    shown = explorer.listed
    day_columns = [c.replace("_seconds_", "_days_") for c in seconds.columns if "_seconds_" in c]
    assert len(day_columns) == 4
    for column in [c for c in seconds.columns if "_seconds_" in c]:
        days = column.replace("_seconds_", "_days_")
        expected = (seconds[column] / 86_400).round(1)
        pd.testing.assert_series_equal(shown[days], expected, check_names=False)
        # days × 86400 is the seconds of event_funnel (the test data are whole days)
        pd.testing.assert_series_equal(shown[days] * 86_400, seconds[column], check_names=False)
    assert not any("_seconds_" in c for c in shown.columns)
    # A signs (合同签订, its 成交) 19 days after 初次接洽: the table says 19, not 1641600
    signed = list(FUNNEL_PRESETS["lead"])[3]
    step = STEP_LABELS_EN[signed] if lang == "en" else signed
    text = _shown_text(explorer)
    assert "1641600" not in text.replace(",", "")
    assert shown.loc[shown["step"] == step, "mean_days_from_first"].item() == 19.0
    headers = {
        "zh": ["距上一步天数（平均）", "距第一步天数（平均）", "距第一步天数（中位数）"],
        "en": ["Days from previous (mean)", "Days from first (mean)", "Days from first (median)"],
    }[lang]
    for header in headers:
        assert f"<th>{header}</th>" in text
    assert "mean days from first" not in text.lower()  # the unlabelled fallback
    # the stage funnel's days are rounded the same way; its table stays stage_funnel's
    explorer.controls["window_days"].value = None
    pd.testing.assert_frame_equal(explorer.table, stage_funnel(history, stages="lead"))
    days = explorer.listed["mean_days_from_previous"].dropna()
    assert (days == days.round(1)).all()


def test_the_bins_slider_is_off_while_cn8_ignores_it(summary):
    explorer = rfm_explorer(summary, lang="en")
    slider = explorer.controls["bins"]
    note = "the bins do not change its segments"
    assert slider.disabled and note in slider.tooltip
    assert note in _shown_text(explorer)  # ... and under the table
    segments = explorer.table.copy()
    slider.value = 2  # a value set in code still applies: cn8's segments do not move
    pd.testing.assert_frame_equal(explorer.table, segments)

    explorer.controls["scheme"].value = "classic"
    assert not slider.disabled and not slider.tooltip
    assert note not in _shown_text(explorer)
    slider.value = 5
    five = explorer.table.copy()
    slider.value = 3  # classic segments follow the scores: the table changes
    assert not explorer.table.equals(five)
    direct = segment_table(rfm_segments(rfm_scores(summary, bins=3), scheme="classic", lang="en"))
    pd.testing.assert_frame_equal(explorer.table, direct)
    assert explorer.table["segment"].tolist() != five["segment"].tolist()

    explorer.controls["scheme"].value = "cn8"
    assert slider.disabled
    assert not rfm_explorer(summary, scheme="classic").controls["bins"].disabled


def _sheet(path):
    """The first sheet of a saved workbook and its rows of values."""
    import openpyxl

    sheet = openpyxl.load_workbook(path).active
    return sheet, list(sheet.iter_rows(values_only=True))


def _file_text(rows) -> str:
    return "\n".join(str(v) for row in rows for v in row if v is not None)


def _shown_rows(explorer: Explorer) -> int:
    """Rows of the last table on screen (its HTML: one header row, then the body)."""
    outputs = [o.get("data", {}) for o in explorer.output.outputs]
    tables = [data["text/html"] for data in outputs if "text/html" in data]
    return tables[-1].count("<tr>") - 1


def test_save_to_excel_writes_the_list_on_screen_masked(tmp_path, summary, tagged, monkeypatch):
    # a formula-like name must stay text; C and D are low on R, F and M: segment code 000
    named = summary.assign(customer_name=['=HYPERLINK("x")', "乙公司", "丙公司", "丁公司"])
    explorer = rfm_explorer(named, lang="zh")
    path = explorer.export(tmp_path / "segment.xlsx")
    assert path == tmp_path / "segment.xlsx"
    sheet, rows = _sheet(path)
    assert rows[0] == (
        "客户编号",
        "客户名称",
        "最近购买（天前）",
        "购买天数",
        "购买金额（元）",
        "R 分",
        "F 分",
        "M 分",
        "分群代码",
        "客户分群",
    )  # the page's labels, as on screen
    assert len(rows) - 1 == len(explorer.listed) == _shown_rows(explorer) == 4
    assert [row[8] for row in rows[1:]] == ["111", "111", "000", "000"]  # codes keep their zeros
    assert all(cell.data_type == "s" for cell in sheet["I"])
    cells = {c.value: c for row in sheet.iter_rows() for c in row}
    assert cells['=HYPERLINK("x")'].data_type == "s"  # text, never a formula
    explorer.controls["segment"].value = "一般挽留客户"
    _, rows = _sheet(explorer.export(tmp_path / "winback.xlsx"))
    assert [row[0] for row in rows[1:]] == ["C", "D"]  # the chosen segment only
    explorer.controls["scheme"].value = "classic"  # classic codes are internal keys: not shown
    assert "segment_code" not in explorer.listed.columns

    calls = customer_filter(
        tagged,
        columns=["customer_id", "customer_name", "owner", "contact_name", "contact_phone", "grade"],
        lang="en",
    )
    _, rows = _sheet(calls.export(tmp_path / "calls.xlsx"))
    assert rows[0] == (
        "Customer id",
        "Customer name",
        "Owner",
        "Contact name",
        "Contact phone",
        "Grade",
    )
    assert len(rows) - 1 == len(calls.listed) == _shown_rows(calls) == 5
    text = _file_text(rows)
    names = pd.concat([tagged["owner"], tagged["contact_name"]]).tolist()
    assert find_unmasked(text, names=names) == []
    for raw in [*names, *tagged["contact_phone"].dropna()]:
        assert raw not in text
    assert "王**" in text and "138****8000" in text and "010-****5678" in text
    assert "甲公司" in text  # company names are not personal data
    # clicking does the same, in the current folder, and says which file it wrote
    monkeypatch.chdir(tmp_path)
    calls.button.click()
    saved = sorted(tmp_path.glob("call_list_*.xlsx"))
    assert len(saved) == 1 and saved[0].name in calls.status.value
    assert re.fullmatch(r"call_list_\d{8}-\d{6}\.xlsx", saved[0].name)
    assert "Saved 5 rows" in calls.status.value
    calls.controls["grade"].value = "重点"  # another list: the old line goes
    assert calls.status.value == ""


def test_save_to_excel_of_the_funnel_in_days_to_export_dir(tmp_path, history):
    folder = tmp_path / "exports"  # created when missing
    explorer = funnel_explorer(
        history, breakdown="owner", window_days=30, lang="zh", export_dir=folder
    )
    explorer.button.click()
    saved = list(folder.glob("funnel_*.xlsx"))
    assert len(saved) == 1
    assert saved[0].name in explorer.status.value
    assert f"已保存 {len(explorer.listed)} 行" in explorer.status.value
    _, rows = _sheet(saved[0])
    header = rows[0]
    assert header[:2] == ("销售负责人", "阶段")
    for label in ("距上一步天数（平均）", "距第一步天数（平均）", "距第一步天数（中位数）"):
        assert label in header
    assert len(rows) - 1 == len(explorer.listed) == _shown_rows(explorer)
    mean_first = [row[header.index("距第一步天数（平均）")] for row in rows[1:]]
    seconds = explorer.table["mean_seconds_from_first"]
    expected = [None if pd.isna(v) else v / 86_400 for v in seconds]
    assert mean_first == expected
    text = _file_text(rows)
    assert find_unmasked(text, names=history["owner"].unique()) == []
    assert "王**" in text and "王磊" not in text


def test_save_to_excel_of_the_clusters_into_a_folder(tmp_path, features):
    explorer = cluster_explorer(features, k=2, lang="zh")
    path = explorer.export(tmp_path)  # a folder: the default name in it
    assert path.parent == tmp_path and re.fullmatch(r"clusters_\d{8}-\d{6}\.xlsx", path.name)
    _, rows = _sheet(path)
    assert rows[0][:3] == ("类别", "名称", "人数")
    assert "英文名称" not in rows[0]  # the page's language only, as on screen
    assert "购买金额（元，平均）" in rows[0]  # the mean of monetary, not spend per day
    assert len(rows) - 1 == len(explorer.listed) == _shown_rows(explorer) == 2
    assert [row[2] for row in rows[1:]] == [25, 15]
    pd.testing.assert_frame_equal(explorer.table, explorer.results["result"].profiles)


def test_nothing_to_save_after_a_failed_update(tmp_path, summary):
    explorer = rfm_explorer(summary, scheme="classic", lang="en", export_dir=tmp_path)
    explorer.controls["bins"].value = 7  # classic needs scores 1-5
    with pytest.raises(AnalysisKitError, match="nothing to save: .*1 to 5"):
        explorer.export()
    explorer.button.click()
    assert explorer.status.value.startswith("⚠") and list(tmp_path.iterdir()) == []


def test_codes_stay_text_in_the_saved_file(tmp_path):
    import openpyxl

    from analysis_kit.exports import write_table

    frame = pd.DataFrame({"segment_code": ["001", "010"], "customers": [3, 4]})
    sheet = openpyxl.load_workbook(write_table(frame, tmp_path / "t.xlsx")).active
    assert [c.value for c in sheet["A"]] == ["分群代码", "001", "010"]
    assert all(c.data_type == "s" for c in sheet["A"])
    assert [c.value for c in sheet["B"][1:]] == [3, 4]  # numbers stay numbers
