"""Every chart, drawn in process from the analyses' own outputs, with Chinese labels and no missing glyph."""

import warnings

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import analysis_kit as ak
from analysis_kit import funnel, plotting, profile, sales
from analysis_kit.clustering import cluster_customers
from analysis_kit.clv import (
    calibration_holdout,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    holdout_by_frequency,
    holdout_predictions,
)
from analysis_kit.datasets import make_tables
from analysis_kit.rfm import rfm_scores, rfm_segments, rfm_summary, segment_table

AS_OF = "2024-06-30"


@pytest.fixture(scope="module")
def clean():
    tables = make_tables(n_customers=80, random_state=4)
    return {name: ak.clean_table(df, table=name, as_of=AS_OF).clean for name, df in tables.items()}


@pytest.fixture(scope="module")
def outputs(clean):
    orders, stages, customers = clean["orders"], clean["stages"], clean["customers"]
    scores = rfm_scores(rfm_summary(orders, as_of=AS_OF))
    features = rfm_summary(orders, as_of=AS_OF).set_index("customer_id")
    result = cluster_customers(
        features[["recency", "frequency", "monetary"]].dropna(), k=3, random_state=0
    )
    view = result.embedding(2)
    view["name"] = view["cluster"].map(result.profiles["name_zh"])
    trend = sales.sales_trend(orders, as_of=AS_OF)
    history = stages.merge(customers[["customer_id", "industry_l1"]], on="customer_id")
    units = funnel.event_funnel_units(
        stages,
        ["初次接洽", "需求确认"],
        unit_col="opportunity_id",
        time_col="entered_at",
        event_col="stage",
    )
    weekly = rfm_summary(orders, as_of=AS_OF, convention="lifetimes", freq="W")
    bgnbd, gg = fit_bgnbd(weekly), fit_gamma_gamma(weekly)
    clv = customer_lifetime_value(bgnbd, gg, weekly, freq="W")
    calhold = calibration_holdout(orders, calibration_end="2023-12-31", holdout_end=AS_OF, freq="W")
    calibrated = fit_bgnbd(
        calhold, frequency_col="frequency_cal", recency_col="recency_cal", T_col="T_cal"
    )
    holdout = holdout_by_frequency(holdout_predictions(calibrated, calhold))
    return {
        "clv_distribution": (clv, {}),
        "holdout_purchases": (holdout, {}),
        "segment_bars": (segment_table(rfm_segments(scores)), {}),
        "rfm_heatmap": (scores, {}),
        "silhouette_curve": (result.silhouette, {}),
        "cluster_scatter": (view, {"hue": "name"}),
        "need_share_lines": (profile.need_trends(customers, as_of=AS_OF).monthly, {}),
        "trend_lines": (trend.trend, {}),
        "seasonality_bars": (trend.seasonality, {}),
        "pareto_chart": (sales.product_mix(orders, as_of=AS_OF), {}),
        "attainment_bars": (
            sales.team_performance(orders, targets=clean["targets"], as_of=AS_OF),
            {"group_col": "team"},
        ),
        "funnel_bars": (funnel.stage_funnel(stages, as_of=AS_OF), {}),
        "funnel_breakdown_lines": (
            funnel.stage_funnel(history, by="industry_l1", as_of=AS_OF),
            {"by": "industry_l1"},
        ),
        "cohort_bars": (funnel.deal_cohorts(stages, as_of=AS_OF), {}),
        "channel_roi_bars": (funnel.channel_roi(stages, orders, clean["channel_costs"]), {}),
        "conversion_time_hist": (units, {}),
    }


def test_every_chart_is_covered(outputs):
    charts = set(plotting.__all__) - {"find_cjk_font", "set_theme"}
    assert charts <= set(outputs), sorted(charts - set(outputs))


@pytest.mark.parametrize(
    "chart",
    [
        "segment_bars",
        "rfm_heatmap",
        "silhouette_curve",
        "cluster_scatter",
        "need_share_lines",
        "trend_lines",
        "seasonality_bars",
        "pareto_chart",
        "attainment_bars",
        "funnel_bars",
        "funnel_breakdown_lines",
        "cohort_bars",
        "channel_roi_bars",
        "conversion_time_hist",
        "clv_distribution",
        "holdout_purchases",
    ],
)
def test_chart_draws_chinese_on_the_given_axes_without_missing_glyphs(outputs, chart):
    if plotting.find_cjk_font() is None:
        pytest.skip("no CJK font installed (the README's set-up installs fonts-noto-cjk)")
    assert plotting.set_theme("zh") == "zh"
    data, kwargs = outputs[chart]
    before = data.copy(deep=True)
    fig, ax = plt.subplots()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            returned = getattr(plotting, chart)(data, title="图表标题 客户", ax=ax, **kwargs)
            fig.canvas.draw()  # glyphs are looked up when text is drawn
        glyphs = [str(w.message) for w in caught if "Glyph" in str(w.message)]
        assert glyphs == []
        assert returned is ax
        assert ax.get_title() == "图表标题 客户"
        assert ax.has_data() or ax.patches or ax.collections or ax.lines
        pd.testing.assert_frame_equal(data, before)  # the input is not modified
    finally:
        plt.close(fig)


def test_without_a_cjk_font_the_kit_says_so_once_and_uses_english(monkeypatch):
    monkeypatch.setattr(plotting, "find_cjk_font", lambda *a, **k: None)
    monkeypatch.setitem(plotting._WARNED, "no_cjk", False)
    with pytest.warns(UserWarning, match="fonts-noto-cjk"):
        assert plotting.set_theme("zh") == "en"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plotting.set_theme("zh") == "en"  # said once, not again
    assert plotting.set_theme("en") == "en"


def test_set_theme_rejects_an_unknown_language():
    with pytest.raises(ValueError, match="lang must be 'zh' or 'en'; got 'fr'"):
        plotting.set_theme("fr")
