"""Tests for analysis_kit.clustering: known groups found, stable labels, profiles, names, errors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from analysis_kit.clustering import (
    CLUSTER_NAME_RULES,
    REPORT_FEATURES,
    REPORT_K_RANGE,
    SILHOUETTE_CHUNK,
    ClippedLog1p,
    ClusteringError,
    ClusterResult,
    cluster_customers,
    customer_features,
    name_clusters,
    silhouette_scores,
)
from analysis_kit.errors import AnalysisKitError, SchemaError

# Typical (recency days, frequency, monetary 元) of each synthetic group.
GROUPS = {
    "active": (10, 20, 200_000),  # 高价值活跃
    "at_risk": (300, 15, 180_000),  # 流失风险
    "new": (15, 1, 3_000),  # 新客
    "dormant": (400, 1, 2_000),  # 低价值沉睡
}


def rfm_blobs(seed: int = 0, groups=("active", "at_risk", "new"), sizes=(120, 80, 60, 40)):
    """Well separated RFM-like groups; returns (features, true group per customer)."""
    rng = np.random.default_rng(seed)
    parts, truth = [], []
    for name, n in zip(groups, sizes, strict=False):
        r, f, m = GROUPS[name]
        parts.append(
            pd.DataFrame(
                {
                    "recency": np.round(r * rng.lognormal(0, 0.2, n)),
                    "frequency": np.maximum(1, np.round(f * rng.lognormal(0, 0.15, n))),
                    "monetary": m * rng.lognormal(0, 0.25, n),
                }
            )
        )
        truth += [name] * n
    features = pd.concat(parts, ignore_index=True)
    features.index = pd.Index([f"C{i:04d}" for i in range(len(features))], name="customer_id")
    return features, pd.Series(truth, index=features.index, name="group")


@pytest.fixture(scope="module")
def blobs():
    return rfm_blobs(0)


@pytest.fixture(scope="module")
def result(blobs):
    return cluster_customers(blobs[0])


# --- finding the known structure ---------------------------------------------------------------


def test_auto_k_finds_the_three_groups(blobs, result):
    features, truth = blobs
    assert isinstance(result, ClusterResult)
    assert result.k == 3
    assert adjusted_rand_score(truth, result.labels) == 1.0
    assert result.labels.index.equals(features.index)
    assert result.labels.name == "cluster"
    assert result.labels.dtype == "int64"


def test_clusters_numbered_largest_first_and_named(blobs, result):
    _, truth = blobs
    # Sizes 120, 80, 60: cluster 0 is the largest group.
    assert pd.crosstab(result.labels, truth).idxmax(axis=1).tolist() == ["active", "at_risk", "new"]
    assert result.names["name_zh"].tolist() == ["高价值活跃", "流失风险", "新客"]
    assert result.names["name_en"].tolist() == ["High value, active", "At risk", "New"]
    assert result.names.loc[0, "basis"] == "recency=low, frequency=high, monetary=high"
    assert result.profiles["name_zh"].tolist() == result.names["name_zh"].tolist()


def test_four_groups_get_four_names():
    features, truth = rfm_blobs(1, groups=("active", "at_risk", "new", "dormant"))
    res = cluster_customers(features)
    assert res.k == 4
    assert adjusted_rand_score(truth, res.labels) == 1.0
    assert res.names["name_zh"].tolist() == ["高价值活跃", "流失风险", "新客", "低价值沉睡"]


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_same_labels_and_names(blobs, result):
    again = cluster_customers(blobs[0])
    pd.testing.assert_series_equal(again.labels, result.labels)
    pd.testing.assert_frame_equal(again.names, result.names)
    pd.testing.assert_frame_equal(again.silhouette, result.silhouette)


def test_shuffled_rows_same_label_per_customer(blobs, result):
    features, _ = blobs
    shuffled = features.sample(frac=1.0, random_state=7)
    res = cluster_customers(shuffled)
    assert res.labels.index.equals(shuffled.index)
    pd.testing.assert_series_equal(res.labels.loc[features.index], result.labels)
    pd.testing.assert_frame_equal(res.profiles, result.profiles)


def test_customer_id_column_used_for_order(blobs, result):
    features, _ = blobs
    flat = features.reset_index().sample(frac=1.0, random_state=3).reset_index(drop=True)
    res = cluster_customers(flat)
    assert res.columns == ["recency", "frequency", "monetary"]  # the id is not a feature
    by_id = pd.Series(res.labels.to_numpy(), index=flat["customer_id"].to_numpy())
    assert (by_id.loc[features.index].to_numpy() == result.labels.to_numpy()).all()


def test_input_not_modified(blobs):
    features, _ = blobs
    messy = features.copy()
    messy.loc["C0001", "monetary"] = np.nan
    messy.loc["C0002", "monetary"] = -500.0
    messy["note"] = "x"
    before = messy.copy(deep=True)
    cluster_customers(messy, log_columns=["monetary"])
    pd.testing.assert_frame_equal(messy, before)


# --- outputs -------------------------------------------------------------------------------------


def test_profiles_sizes_and_shares(blobs, result):
    features, _ = blobs
    p = result.profiles
    assert p.index.name == "cluster"
    assert p.index.tolist() == [0, 1, 2]
    assert p["size"].sum() == len(features)
    assert p["size"].tolist() == result.labels.value_counts().sort_index().tolist()
    assert p["share"].sum() == pytest.approx(1.0)
    assert p["revenue_share"].sum() == pytest.approx(1.0)
    expected = features["monetary"].groupby(result.labels).sum() / features["monetary"].sum()
    np.testing.assert_allclose(p["revenue_share"], expected.to_numpy())
    for c in ("recency", "frequency", "monetary"):
        np.testing.assert_allclose(p[f"{c}_mean"], features[c].groupby(result.labels).mean())
        np.testing.assert_allclose(p[f"{c}_median"], features[c].groupby(result.labels).median())


def test_no_revenue_share_without_monetary(blobs):
    features, _ = blobs
    res = cluster_customers(features.drop(columns="monetary"), k=3)
    assert "revenue_share" not in res.profiles.columns


def test_silhouette_table_covers_range(result):
    table = result.silhouette
    assert table.index.name == "k"
    assert table.index.tolist() == list(range(2, 11))
    assert list(table.columns) == ["silhouette", "inertia", "chosen"]
    assert table["chosen"].sum() == 1
    assert table.index[table["chosen"]].tolist() == [result.k]
    assert table["silhouette"].idxmax() == result.k
    assert table["silhouette"].between(-1, 1).all()
    assert table["inertia"].is_monotonic_decreasing


def test_silhouette_matches_sklearn_on_independently_scaled_data(blobs, result):
    features, _ = blobs
    # Rebuild the scaled features by hand: log1p of the logged columns, z-score with ddof=0.
    values = features[result.columns].to_numpy(dtype=float).copy()
    for j, c in enumerate(result.columns):
        if c in result.log_columns:
            values[:, j] = np.log1p(values[:, j])
    z = (values - values.mean(axis=0)) / values.std(axis=0)
    np.testing.assert_allclose(result.scaled.to_numpy(), z, atol=1e-12)
    expected = silhouette_score(z, result.labels.to_numpy())
    assert abs(result.silhouette.loc[result.k, "silhouette"] - expected) < 1e-9


def test_pipeline_predicts_the_relabelled_clusters(blobs, result):
    features, _ = blobs
    assert [name for name, _ in result.pipeline.steps] == ["log1p", "impute", "scale", "kmeans"]
    assert isinstance(result.pipeline.named_steps["kmeans"], KMeans)
    assert (result.pipeline.predict(features[result.columns]) == result.labels.to_numpy()).all()
    new = features.iloc[[0, 150, 250]].rename(index=lambda i: f"new-{i}")
    pred = result.predict(new)
    assert pred.index.equals(new.index)
    assert pred.tolist() == result.labels.iloc[[0, 150, 250]].tolist()


def test_embedding(result):
    emb = result.embedding()
    assert list(emb.columns) == ["pc1", "pc2", "cluster"]
    assert emb.index.equals(result.labels.index)
    assert (emb["cluster"] == result.labels).all()
    ratio = emb.attrs["explained_variance_ratio"]
    assert len(ratio) == 2 and ratio[0] >= ratio[1] > 0 and sum(ratio) <= 1 + 1e-12
    assert emb.attrs["loadings"].shape == (2, len(result.columns))
    assert result.embedding(n_components=3).attrs["explained_variance_ratio"] == pytest.approx(
        [*ratio, 1 - sum(ratio)]
    )
    with pytest.raises(ClusteringError, match=r"n_components must be between 1 and 3.*got 4"):
        result.embedding(n_components=4)


def test_repr_is_short(result):
    assert re.fullmatch(r"ClusterResult\(k=3, n=260, .*\)", repr(result))


# --- robustness ----------------------------------------------------------------------------------


def test_constant_column_and_missing_values(blobs):
    features, truth = blobs
    messy = features.assign(region_code=7.0)
    messy.loc[messy.index[::25], "frequency"] = np.nan
    messy.loc["C0003", "recency"] = np.inf
    res = cluster_customers(messy)
    assert res.k == 3
    assert adjusted_rand_score(truth, res.labels) == 1.0
    notes = " ".join(res.notes)
    assert "Constant feature(s) carry no information: region_code" in notes
    assert "frequency: 11 missing value(s) imputed with the median" in notes
    assert "1 infinite value(s) treated as missing" in notes
    assert (res.scaled["region_code"] == 0).all()
    assert not res.scaled.isna().any().any()


def test_all_missing_column_dropped(blobs):
    features, _ = blobs
    res = cluster_customers(features.assign(budget=np.nan), k=3)
    assert "budget" not in res.columns
    assert any("no values: budget" in n for n in res.notes)


def test_negative_monetary_clipped_before_log():
    features, truth = rfm_blobs(2)
    features.loc["C0200", "monetary"] = -1_500.0  # a net refund
    res = cluster_customers(features, log_columns=["recency", "frequency", "monetary"])
    assert any("monetary: 1 negative value(s) clipped to 0" in n for n in res.notes)
    assert np.isfinite(res.scaled.to_numpy()).all()
    # In log space a customer with no net spend is far from every paying customer: here it is a
    # cluster of its own, and everyone else is grouped as generated.
    rest = truth.index != "C0200"
    assert adjusted_rand_score(truth[rest], res.labels[rest]) == 1.0
    assert res.k == 4 and (res.labels == res.labels["C0200"]).sum() == 1
    assert res.names["name_zh"].tolist() == ["高价值活跃", "流失风险", "新客 #1", "新客 #2"]


def test_log_columns_auto_detection():
    rng = np.random.default_rng(5)
    n = 300
    features = pd.DataFrame(
        {
            "monetary": rng.lognormal(9, 1.2, n),  # skewed money
            "employees": rng.lognormal(4, 1.0, n).round(),  # skewed count
            "match_score": rng.integers(1, 6, n).astype(float),  # 1–5 score, not skewed
            "margin": rng.normal(0, 1, n) ** 3,  # skewed but half negative
        }
    )
    res = cluster_customers(features, k=3, k_range=(3, 3))
    assert res.log_columns == ["monetary", "employees"]
    # A few net refunds (≤ 1 %) do not stop a skewed money column being logged.
    features.loc[[0, 1], "monetary"] = -100.0
    assert cluster_customers(features, k=3, k_range=(3, 3)).log_columns == ["monetary", "employees"]
    assert cluster_customers(features, k=3, k_range=(3, 3), log_columns=[]).log_columns == []


def test_minibatch_path(blobs):
    features, truth = blobs
    res = cluster_customers(features, minibatch_above=100, k_range=(2, 5))
    assert isinstance(res.pipeline.named_steps["kmeans"], MiniBatchKMeans)
    assert any("MiniBatchKMeans used: 260 rows > minibatch_above=100" in n for n in res.notes)
    assert res.k == 3
    assert adjusted_rand_score(truth, res.labels) == 1.0
    again = cluster_customers(features, minibatch_above=100, k_range=(2, 5))
    pd.testing.assert_series_equal(res.labels, again.labels)
    assert (res.pipeline.predict(features[res.columns]) == res.labels.to_numpy()).all()


def test_silhouette_sample_is_seeded(blobs):
    features, truth = blobs
    res = cluster_customers(features, sample_size=100, k_range=(2, 5))
    assert any("sample of 100 of 260 rows" in n for n in res.notes)
    assert res.k == 3
    assert adjusted_rand_score(truth, res.labels) == 1.0
    again = cluster_customers(features.iloc[::-1], sample_size=100, k_range=(2, 5))
    pd.testing.assert_frame_equal(res.silhouette, again.silhouette)


def test_few_rows_shrink_k_range():
    features = pd.DataFrame(
        {"recency": [1, 2, 300, 310, 5.0], "monetary": [9e5, 8e5, 1e3, 2e3, 7e5]},
        index=list("abcde"),
    )
    res = cluster_customers(features)
    assert res.silhouette.index.tolist() == [2, 3, 4]
    assert any("k_range shrunk from (2, 10) to (2, 4)" in n for n in res.notes)
    assert res.k == 2
    assert res.labels.groupby(res.labels).size().tolist() == [3, 2]


def test_fixed_k_is_flagged_in_the_table(blobs):
    res = cluster_customers(blobs[0], k=5, k_range=(2, 3))
    assert res.k == 5
    assert res.silhouette.index.tolist() == [2, 3, 5]
    assert res.silhouette.loc[5, "chosen"]
    assert res.profiles["size"].sum() == 260


# --- names ---------------------------------------------------------------------------------------


def test_duplicate_names_get_suffixes():
    centers = pd.DataFrame(
        {"recency": [-1.0, -0.8, 1.0], "frequency": [1.0, 0.9, -1.0], "monetary": [1.0, 1.2, -1.0]}
    )
    names = name_clusters(centers)
    assert names["name_zh"].tolist() == ["高价值活跃 #1", "高价值活跃 #2", "低价值沉睡"]
    assert names["name_en"].tolist() == [
        "High value, active #1",
        "High value, active #2",
        *["Low value, dormant"],
    ]
    assert names["rule"].tolist() == [0, 0, 4]


def test_fallback_names_without_rfm_columns():
    centers = pd.DataFrame({"employees": [1.5, -0.1, -1.2], "match_score": [0.2, 0.1, 0.3]})
    names = name_clusters(centers)
    assert names["name_zh"].tolist() == ["员工人数偏高", "一般", "员工人数偏低"]
    assert names["name_en"].tolist() == ["High headcount", "Average", "Low headcount"]
    assert names["rule"].tolist() == [-1, -1, -1]


def test_custom_rules_and_role_columns():
    centers = pd.DataFrame({"days_since": [-1.0, 1.0], "spend": [1.0, -1.2]})
    rules = [{"name_zh": "好", "name_en": "Good", "when": {"monetary": "high"}}]
    names = name_clusters(centers, rules=rules, monetary_col="spend", recency_col="days_since")
    assert names["name_zh"].tolist() == ["好", "spend偏低"]
    assert names["name_en"].tolist() == ["Good", "Low spend"]
    assert names.loc[0, "rule"] == 0
    assert CLUSTER_NAME_RULES[0]["name_zh"] == "高价值活跃"


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 1}, "k must be 'auto' or an int >= 2; got 1"),
        ({"k": "three"}, "k must be 'auto' or an int >= 2; got 'three'"),
        ({"k": True}, "k must be 'auto' or an int >= 2; got True"),
        ({"k_range": (1, 5)}, r"k_range must be two ints .* got \(1, 5\)"),
        ({"k_range": (5, 3)}, r"k_range must be two ints .* got \(5, 3\)"),
        ({"random_state": 1.5}, "random_state must be an int or None; got 1.5"),
        ({"sample_size": 5}, "sample_size must be an int >= 10; got 5"),
        ({"k_sample_size": 9}, "k_sample_size must be an int >= 10 or None; got 9"),
        ({"minibatch_above": -1}, "minibatch_above must be an int >= 0 or None; got -1"),
        ({"k": 300}, r"k=300 is too many for features with 260 rows .* at most 259"),
        ({"name_rules": [{"name_zh": "x"}]}, r"name_rules\[0\] must be a mapping"),
        (
            {"name_rules": [{"name_zh": "x", "name_en": "x", "when": {"recency": "up"}}]},
            r"levels must be one of \['high', 'low', 'mid'\]; got \{'recency': 'up'\}",
        ),
    ],
)
def test_parameter_errors(blobs, kwargs, message):
    with pytest.raises(ClusteringError, match=message) as info:
        cluster_customers(blobs[0], **kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, AnalysisKitError)


def test_column_errors(blobs):
    features, _ = blobs
    with pytest.raises(SchemaError, match="缺少列 missing columns: spend, visits"):
        cluster_customers(features, columns=["recency", "spend", "visits"])
    named = features.assign(owner="张三", stage="成交")
    with pytest.raises(SchemaError, match=r"not numeric: owner \(\w+\), stage \(\w+\)"):
        cluster_customers(named, columns=["recency", "owner", "stage"])
    with pytest.raises(SchemaError, match="no numeric column"):
        cluster_customers(named[["owner", "stage"]])
    with pytest.raises(SchemaError, match=r"log_columns must be among .* unknown \['owner'\]"):
        cluster_customers(features, log_columns=["owner"])


def test_frame_errors(blobs):
    features, _ = blobs
    with pytest.raises(ClusteringError, match=r"features is empty \(0 rows\)"):
        cluster_customers(features.iloc[:0])
    with pytest.raises(TypeError, match="features must be a pandas DataFrame; got ndarray"):
        cluster_customers(features.to_numpy())
    dup = pd.concat([features.iloc[:5], features.iloc[:2]])
    with pytest.raises(ClusteringError, match=r"duplicate ids in the index: \['C0000', 'C0001'\]"):
        cluster_customers(dup)
    with pytest.raises(ClusteringError, match="2 row.*clustering needs at least 3 rows"):
        cluster_customers(features.iloc[:2])
    same = pd.DataFrame({"recency": [5.0] * 6, "monetary": [10.0] * 6})
    with pytest.raises(ClusteringError, match="6 row.*1 distinct"):
        cluster_customers(same)


def test_clipped_log1p_transformer():
    X = pd.DataFrame({"a": [-1.0, 0.0, np.e - 1, np.inf], "b": [1.0, np.nan, -np.inf, 4.0]})
    step = ClippedLog1p(columns=["a"]).fit(X)
    out = step.transform(X[["b", "a"]])  # selected by name
    np.testing.assert_allclose(out[:, 0], [0.0, 0.0, 1.0, np.nan])
    np.testing.assert_allclose(out[:, 1], [1.0, np.nan, np.nan, 4.0])
    assert step.get_feature_names_out().tolist() == ["a", "b"]
    assert X.loc[0, "a"] == -1.0  # input untouched
    with pytest.raises(SchemaError, match="missing columns: b"):
        step.transform(X[["a"]])


# --- silhouette and choosing k on a sample -------------------------------------------------------


def test_silhouette_scores_match_scikit_learn():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(c, 1.0, size=(700, 3)) for c in (0.0, 3.0, 9.0)])
    labelings = [KMeans(k, n_init=3, random_state=0).fit_predict(X) for k in (2, 3, 4, 5)]
    labelings.append(np.where(np.arange(len(X)) == 7, 9, labelings[1]))  # gap, one lonely point
    ours = silhouette_scores(X, labelings)
    theirs = [silhouette_score(X, lab) for lab in labelings]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    # More rows than one block, so the blocks are stitched together correctly.
    assert len(X) > SILHOUETTE_CHUNK


def test_silhouette_scores_undefined_labelings_are_nan():
    X = np.arange(8.0).reshape(4, 2)
    scores = silhouette_scores(X, [np.zeros(4, int), np.arange(4), np.array([0, 0, 1, 1])])
    assert np.isnan(scores[0]) and np.isnan(scores[1])
    assert scores[2] == pytest.approx(silhouette_score(X, [0, 0, 1, 1]))


def test_k_is_chosen_on_a_sample_and_fitted_on_every_row(blobs):
    features, truth = blobs
    res = cluster_customers(features, k_sample_size=120, sample_size=60, k_range=(2, 5))
    assert any("k chosen on a sample of 120 of 260 rows" in n for n in res.notes)
    assert any("Silhouette computed on a sample of 60 of 120 rows" in n for n in res.notes)
    assert res.k == 3
    # Every customer is labelled by the fit on all rows, and the pipeline agrees with the labels.
    assert adjusted_rand_score(truth, res.labels) == 1.0
    assert res.profiles["size"].sum() == 260
    assert (res.pipeline.predict(features[res.columns]) == res.labels.to_numpy()).all()
    # Row order does not change the sample (drawn from rows in customer-id order).
    again = cluster_customers(
        features.sample(frac=1, random_state=1), k_sample_size=120, sample_size=60, k_range=(2, 5)
    )
    pd.testing.assert_frame_equal(res.silhouette, again.silhouette)
    pd.testing.assert_series_equal(res.labels, again.labels.loc[res.labels.index])
    # The table's inertia is the sample's: the full data's is larger.
    full = cluster_customers(features, k_sample_size=None, k_range=(2, 5))
    assert res.silhouette.loc[3, "inertia"] < full.silhouette.loc[3, "inertia"]


def test_sampled_choice_matches_the_full_sweep_on_separated_groups():
    rng = np.random.default_rng(5)
    centres = np.array([[5.0, 2.0, 8.0], [60.0, 9.0, 11.0], [300.0, 1.0, 6.0], [30.0, 25.0, 12.5]])
    group = rng.integers(0, 4, 4000)
    values = centres[group] * rng.lognormal(0.0, 0.08, size=(4000, 3))
    features = pd.DataFrame(
        {"recency": values[:, 0], "frequency": values[:, 1], "monetary": np.exp(values[:, 2])},
        index=[f"C{i:05d}" for i in range(4000)],
    )
    sampled = cluster_customers(features, k_sample_size=800, k_range=(2, 7))
    exact = cluster_customers(features, k_sample_size=None, k_range=(2, 7))
    assert sampled.k == exact.k == 4
    assert adjusted_rand_score(exact.labels, sampled.labels) == 1.0
    assert adjusted_rand_score(group, sampled.labels) == 1.0


def test_customer_features_join_customer_columns_by_id_without_losing_anyone():
    summary = pd.DataFrame(
        {
            "customer_id": ["C3", "C1", "C2"],
            "recency": [5.0, 50.0, 500.0],
            "frequency": [3, 1, 2],
            "monetary": [300.0, 10.0, 20.0],
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ["C1", "C2", "C9"], "employees": [10, 2000, 7], "industry": list("abc")}
    )
    got = customer_features(summary, customers, ["monetary", "employees", "industry_code"])
    assert got.index.tolist() == ["C3", "C1", "C2"]  # summary's customers, in its order
    assert list(got.columns) == ["monetary", "employees"]
    by_hand = {"C3": np.nan, "C1": 10.0, "C2": 2000.0}
    assert got["employees"].to_dict() == pytest.approx(by_hand, nan_ok=True)
    assert "customer_id" in summary.columns  # the input keeps its column


def test_notebook_04_clusters_with_the_report_features_by_default():
    """00 and 04 both cluster with REPORT_FEATURES and REPORT_K_RANGE: one result per report."""
    import ast

    import papermill as pm

    from analysis_kit.reports import NOTEBOOK_DIR

    params = pm.inspect_notebook(str(NOTEBOOK_DIR / "04_customer_clustering.ipynb"))
    assert tuple(ast.literal_eval(params["features"]["default"])) == REPORT_FEATURES
    assert tuple(ast.literal_eval(params["k_range"]["default"])) == REPORT_K_RANGE
