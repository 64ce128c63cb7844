"""Customer segmentation with scikit-learn: automatic k, profiles, readable names and a 2-D view.

:func:`cluster_customers` takes one row per customer (RFM features from :mod:`analysis_kit.rfm`,
profile fields such as ``employees`` or ``match_score``) and runs one scikit-learn
:class:`~sklearn.pipeline.Pipeline`:

1. ``log1p`` – :class:`ClippedLog1p`: ``log1p`` of skewed, non-negative money and count columns
   (negative values, i.e. net refunds, are clipped to 0 first); ``±inf`` becomes missing;
2. ``impute`` – missing values become the column median (:class:`~sklearn.impute.SimpleImputer`);
3. ``scale`` – :class:`~sklearn.preprocessing.StandardScaler`, so every feature weighs the same;
4. ``kmeans`` – :class:`~sklearn.cluster.KMeans` (``n_init`` fixed), or
   :class:`~sklearn.cluster.MiniBatchKMeans` above ``minibatch_above`` rows.

k is the one in ``k_range`` with the highest silhouette score. On large data k is chosen on a
seeded sample of ``k_sample_size`` rows and the chosen k is then fitted on every row, starting from
the sample's centres. Clusters are renumbered so that
cluster 0 is the largest, and each gets a readable name in Chinese and English from
:data:`CLUSTER_NAME_RULES` (business rules as data; pass your own with ``name_rules=``).

Same input and ``random_state`` give the same labels and names; so does the same input with its
rows in another order, because rows are put in customer-id order before fitting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .columns import CUSTOMER_ID, require_columns
from .errors import AnalysisKitError, SchemaError

__all__ = [
    "CLUSTER_NAME_RULES",
    "FEATURE_LABELS",
    "ClippedLog1p",
    "ClusterResult",
    "ClusteringError",
    "REPORT_FEATURES",
    "REPORT_K_RANGE",
    "cluster_customers",
    "customer_features",
    "name_clusters",
    "silhouette_scores",
]

RECENCY = "recency"
FREQUENCY = "frequency"
MONETARY = "monetary"

#: Features and k range of the report's clustering: notebook 04's defaults, and what 00 uses, so
#: every page of a report shows the same clusters.
REPORT_FEATURES: tuple[str, ...] = ("recency", "frequency", "monetary", "monetary_mean")
REPORT_K_RANGE: tuple[int, int] = (2, 8)

#: ``n_init`` of :class:`~sklearn.cluster.KMeans`: best of 10 k-means++ starts.
KMEANS_N_INIT = 10
#: ``batch_size`` of :class:`~sklearn.cluster.MiniBatchKMeans` (``minibatch_above``).
MINIBATCH_BATCH_SIZE = 4096
#: Default ``k_sample_size``: see :func:`cluster_customers`, Notes, for the measurements.
K_SAMPLE_SIZE = 20_000
#: Rows of the silhouette sample whose distances are computed at once (memory: this × sample).
SILHOUETTE_CHUNK = 1_000
#: A column is log-transformed automatically when its skewness exceeds this ...
LOG_SKEW_THRESHOLD = 1.0
#: ... and at most this share of its values is negative (0 would be the strict "min ≥ 0").
LOG_MAX_NEGATIVE_SHARE = 0.01
#: A cluster's level on a feature is ``high`` when its centre, in standard deviations of all
#: customers (after log and scaling), is at least this; ``low`` when at most minus this.
NAME_LEVEL_Z = 0.25

#: Naming rules, tried in order; the first whose every condition holds names the cluster.
#: ``when`` maps a feature to ``"high"``, ``"low"`` or ``"mid"`` (see :data:`NAME_LEVEL_Z`).
#: The keys ``recency``, ``frequency`` and ``monetary`` are roles resolved through the
#: ``recency_col=``, ``frequency_col=`` and ``monetary_col=`` arguments; other keys are column
#: names. A rule whose features are not all clustered is skipped. Recency is days since the last
#: purchase, so ``recency: low`` means "bought recently". A cluster no rule names is called after
#: its most distinctive feature (``消费金额偏高`` / ``High spend``), or ``一般`` / ``Average``.
CLUSTER_NAME_RULES: tuple[Mapping[str, Any], ...] = (
    {
        "name_zh": "高价值活跃",
        "name_en": "High value, active",
        "when": {MONETARY: "high", RECENCY: "low"},
    },
    {"name_zh": "流失风险", "name_en": "At risk", "when": {MONETARY: "high", RECENCY: "high"}},
    {"name_zh": "流失风险", "name_en": "At risk", "when": {FREQUENCY: "high", RECENCY: "high"}},
    {"name_zh": "新客", "name_en": "New", "when": {RECENCY: "low", FREQUENCY: "low"}},
    {
        "name_zh": "低价值沉睡",
        "name_en": "Low value, dormant",
        "when": {MONETARY: "low", RECENCY: "high"},
    },
    {"name_zh": "高价值", "name_en": "High value", "when": {MONETARY: "high"}},
    {"name_zh": "活跃", "name_en": "Active", "when": {RECENCY: "low"}},
    {"name_zh": "沉睡", "name_en": "Dormant", "when": {RECENCY: "high"}},
    {"name_zh": "低价值", "name_en": "Low value", "when": {MONETARY: "low"}},
)

#: Readable (Chinese, English) labels of common features, used in fallback names.
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    RECENCY: ("最近购买间隔", "recency"),
    FREQUENCY: ("购买频次", "frequency"),
    MONETARY: ("消费金额", "spend"),
    "monetary_mean": ("客单价", "average order"),
    "employees": ("员工人数", "headcount"),
    "annual_revenue": ("年营收", "annual revenue"),
    "match_score": ("需求匹配度", "match score"),
    "cooperation_score": ("合作可能性", "cooperation score"),
}

_LEVELS = ("high", "low", "mid")


class ClusteringError(AnalysisKitError, ValueError):
    """A clustering parameter or input is unusable; the message names it and the bad value."""


class ClippedLog1p(TransformerMixin, BaseEstimator):
    """``log1p(max(x, 0))`` on chosen columns; ``±inf`` becomes NaN in every column.

    Negative values (a customer whose refunds exceed purchases) are clipped to 0 rather than
    shifted, so the transform does not depend on the data it was fitted on and a net-refund
    customer counts as one with no net spend. Missing values stay missing for the next step.

    Parameters
    ----------
    columns : sequence of str, default=()
        Names of the columns to transform; the others pass through unchanged.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Column names seen in :meth:`fit`; :meth:`transform` selects them by name.
    n_features_in_ : int
        Number of columns seen in :meth:`fit`.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"monetary": [-5.0, 0.0, 99.0], "score": [1.0, 2.0, 3.0]})
    >>> ClippedLog1p(columns=["monetary"]).fit_transform(X).round(3).tolist()
    [[0.0, 1.0], [0.0, 2.0], [4.605, 3.0]]
    """

    def __init__(self, columns: Sequence[str] = ()):
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: object = None) -> ClippedLog1p:
        """Record the column names and check that ``columns`` are among them.

        Parameters
        ----------
        X : DataFrame
            Numeric features, one column per feature.
        y : None
            Ignored.

        Returns
        -------
        ClippedLog1p
            The fitted transformer.
        """
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"ClippedLog1p needs a DataFrame; got {type(X).__name__}")
        names = list(X.columns)
        unknown = [c for c in self.columns if c not in names]
        if unknown:
            raise SchemaError(f"ClippedLog1p columns not in X: {unknown}")
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self._log_index = np.asarray([names.index(c) for c in self.columns], dtype=int)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the transformed values as a float array, columns in fitted order.

        Parameters
        ----------
        X : DataFrame
            Must hold every column seen in :meth:`fit` (extra columns are ignored).

        Returns
        -------
        ndarray of shape (n_rows, n_features_in_)
            ``log1p(max(x, 0))`` in ``columns``, the rest as they were; ``±inf`` as NaN.
        """
        if not hasattr(self, "feature_names_in_"):
            raise AttributeError("ClippedLog1p is not fitted yet; call fit first")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"ClippedLog1p needs a DataFrame; got {type(X).__name__}")
        require_columns(X.columns, self.feature_names_in_, where="ClippedLog1p")
        values = X[list(self.feature_names_in_)].to_numpy(dtype="float64", na_value=np.nan)
        values = values.copy()
        values[np.isinf(values)] = np.nan
        if self._log_index.size:
            values[:, self._log_index] = np.log1p(np.clip(values[:, self._log_index], 0.0, None))
        return values

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Return the output column names, which are the input names.

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        ndarray of str
            ``feature_names_in_``.
        """
        return np.asarray(self.feature_names_in_, dtype=object)


@dataclass(frozen=True, repr=False)
class ClusterResult:
    """What :func:`cluster_customers` learned.

    Attributes
    ----------
    labels : Series of int
        Cluster of each customer, 0..k-1, indexed exactly like the input (same index, same
        order), named ``cluster``. Cluster 0 is the largest.
    k : int
        The number of clusters used.
    silhouette : DataFrame
        One row per k tried (index ``k``), columns ``silhouette`` (mean silhouette coefficient,
        -1..1, higher is better; NaN when it cannot be computed), ``inertia`` (within-cluster sum
        of squares on the scaled features of the rows k was tried on: every row, or the k sample)
        and ``chosen`` (bool, True for :attr:`k`).
    profiles : DataFrame
        One row per cluster (index ``cluster``), columns ``name_zh``, ``name_en``, ``size``
        (customers), ``share`` (of customers, sums to 1), ``revenue_share`` (share of the total
        of ``monetary_col``, sums to 1; only when that column is in the input), then
        ``<feature>_mean`` and ``<feature>_median`` for every clustered feature, in its own units
        (before log, scaling and imputation; missing values are skipped).
    names : DataFrame
        One row per cluster (index ``cluster``), columns ``name_zh`` and ``name_en`` (unique
        within the result), ``rule`` (position of the rule in the naming rules that matched, or
        -1 for a fallback name) and ``basis`` (the levels the name was derived from, e.g.
        ``recency=low, frequency=high, monetary=high``).
    centers : DataFrame
        Cluster centres in the scaled space (standard deviations from the mean customer after
        log and imputation): index ``cluster``, one column per feature.
    pipeline : Pipeline
        The fitted scikit-learn pipeline (steps ``log1p``, ``impute``, ``scale``, ``kmeans``).
        Its clusters are already renumbered: ``pipeline.predict(X)`` returns :attr:`labels`.
    scaled : DataFrame
        The features after log, imputation and scaling, indexed like :attr:`labels`; what
        KMeans, the silhouette and :meth:`embedding` see.
    columns : list of str
        The clustered features, in pipeline order.
    log_columns : list of str
        The features that were log-transformed.
    notes : list of str
        Everything the function decided on its own: a shrunk k range, sampling for the
        silhouette or for choosing k, dropped or constant columns, clipped negatives,
        MiniBatchKMeans.
    """

    labels: pd.Series
    k: int
    silhouette: pd.DataFrame
    profiles: pd.DataFrame
    names: pd.DataFrame
    centers: pd.DataFrame
    pipeline: Pipeline
    scaled: pd.DataFrame
    columns: list[str]
    log_columns: list[str]
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        names = ", ".join(self.names["name_zh"])
        return (
            f"ClusterResult(k={self.k}, n={len(self.labels)}, columns={self.columns}, "
            f"names=[{names}], notes={len(self.notes)})"
        )

    def embedding(self, n_components: int = 2) -> pd.DataFrame:
        """Project the scaled features with PCA, for a 2-D view of the clusters.

        Parameters
        ----------
        n_components : int, default=2
            Number of principal components, 1..min(rows, features).

        Returns
        -------
        DataFrame
            Indexed like :attr:`labels`, columns ``pc1`` .. ``pc<n_components>`` and
            ``cluster``. ``.attrs["explained_variance_ratio"]`` holds the share of variance of
            each component (a list of floats) and ``.attrs["loadings"]`` a DataFrame of the
            components (rows ``pc1``.., one column per feature).
        """
        limit = min(self.scaled.shape)
        if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
            raise ClusteringError(f"n_components must be an int; got {n_components!r}")
        if not 1 <= n_components <= limit:
            raise ClusteringError(
                f"n_components must be between 1 and {limit} (rows and features available); "
                f"got {n_components}"
            )
        pca = PCA(n_components=int(n_components), svd_solver="full")
        coords = pca.fit_transform(self.scaled.to_numpy())
        names = [f"pc{i + 1}" for i in range(int(n_components))]
        out = pd.DataFrame(coords, index=self.scaled.index, columns=names)
        out["cluster"] = self.labels.to_numpy()
        out.attrs["explained_variance_ratio"] = [float(v) for v in pca.explained_variance_ratio_]
        out.attrs["loadings"] = pd.DataFrame(pca.components_, index=names, columns=self.columns)
        return out

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Assign new customers to the learned clusters.

        Parameters
        ----------
        features : DataFrame
            Must hold every column in :attr:`columns`; missing values are imputed as in fitting.

        Returns
        -------
        Series of int
            Cluster of each row, indexed like ``features``, named ``cluster``.
        """
        require_columns(features.columns, self.columns, where="features")
        pred = self.pipeline.predict(features[self.columns])
        return pd.Series(pred.astype("int64"), index=features.index, name="cluster")


def customer_features(
    summary: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    features: Sequence[str] = REPORT_FEATURES,
    *,
    customer_id_col: str = CUSTOMER_ID,
) -> pd.DataFrame:
    """Return the features to cluster on: one row per customer of ``summary``, indexed by id.

    Parameters
    ----------
    summary : DataFrame
        :func:`analysis_kit.rfm.rfm_summary`'s table (pandas), one row per customer.
    customers : DataFrame, optional
        The clean customer table; its numeric columns named in ``features`` (employees, scores …)
        are joined as floats. Customers of ``summary`` it does not hold get missing values (imputed later).
    features : sequence of str, default=:data:`REPORT_FEATURES`
        Wanted columns, in order; those neither table has are left out.
    customer_id_col : str, default="customer_id"

    Returns
    -------
    DataFrame
        Indexed by customer id in ``summary``'s order, the wanted columns found. Inputs are not
        modified.

    Examples
    --------
    >>> summary = pd.DataFrame({"customer_id": ["C2", "C1"], "recency": [3.0, 40.0],
    ...                         "frequency": [2, 1], "monetary": [500.0, 80.0]})
    >>> customers = pd.DataFrame({"customer_id": ["C1"], "employees": [120]})
    >>> customer_features(summary, customers, ["recency", "employees", "unknown"])
    ... # doctest: +NORMALIZE_WHITESPACE
                 recency  employees
    customer_id
    C2               3.0        NaN
    C1              40.0      120.0
    """
    table = summary.set_index(customer_id_col) if customer_id_col in summary else summary
    extra = [c for c in features if c not in table.columns]
    if customers is not None and extra:
        by_id = customers.set_index(customer_id_col) if customer_id_col in customers else customers
        extra = [c for c in extra if c in by_id.columns]
        table = table.join(by_id[extra].astype("float64"), how="left")
    return table[[c for c in features if c in table.columns]]


def cluster_customers(
    features: pd.DataFrame,
    *,
    k: int | str = "auto",
    k_range: tuple[int, int] = (2, 10),
    columns: Sequence[str] | None = None,
    log_columns: Sequence[str] | None = None,
    random_state: int | None = 0,
    sample_size: int = 10_000,
    k_sample_size: int | None = K_SAMPLE_SIZE,
    minibatch_above: int | None = None,
    customer_id_col: str = CUSTOMER_ID,
    recency_col: str = RECENCY,
    frequency_col: str = FREQUENCY,
    monetary_col: str = MONETARY,
    name_rules: Sequence[Mapping[str, Any]] | None = None,
) -> ClusterResult:
    """Segment customers with k-means, choosing k by silhouette, and profile and name each cluster.

    Parameters
    ----------
    features : DataFrame
        One row per customer. The customer id is the index, or the ``customer_id_col`` column
        when there is one. Not modified.
    k : int or "auto", default="auto"
        Number of clusters, or ``"auto"`` for the k in ``k_range`` with the best silhouette
        (ties go to the smaller k). A given k must be at least 2 and at most rows - 1; the
        silhouette table then covers ``k_range`` and k.
    k_range : tuple of (int, int), default=(2, 10)
        Smallest and largest k to try, inclusive, 2 <= low <= high. When the data has too few
        rows (k must not exceed rows - 1 nor the number of distinct rows) the range is shrunk
        and :attr:`ClusterResult.notes` says so.
    columns : sequence of str, optional
        Features to cluster on. None means every numeric (non-bool) column except
        ``customer_id_col``. Columns that are entirely missing are dropped, with a note.
    log_columns : sequence of str, optional
        Features to ``log1p``-transform (after clipping negatives to 0). None detects them:
        skewness > 1 (:data:`LOG_SKEW_THRESHOLD`) and no more than 1 % of values negative
        (:data:`LOG_MAX_NEGATIVE_SHARE`; a money column with a few net-refund customers is
        still a skewed money column). Pass ``[]`` for no log transform.
    random_state : int or None, default=0
        Seed of k-means initialisation and of the silhouette sample. None is not reproducible.
    sample_size : int, default=10_000
        The silhouette is computed on at most this many rows, drawn with ``random_state`` from
        the rows in customer-id order (the silhouette costs O(rows²)). At least 10.
    k_sample_size : int or None, default=20_000
        When the data has more rows than this, every k in ``k_range`` is tried on a sample of this
        many rows (drawn with ``random_state`` from the rows in customer-id order; the silhouette
        sample is drawn from it), and only the chosen k is fitted on every row, starting from the
        centres found on the sample. None tries every k on every row. At least 10. See Notes.
    minibatch_above : int or None, default=None
        Fit the chosen k with :class:`~sklearn.cluster.MiniBatchKMeans` (from the sample's
        centres) when the data has more rows than this; None never does. See Notes.
    customer_id_col : str, default="customer_id"
        Column holding the customer id, if not the index.
    recency_col, frequency_col, monetary_col : str
        The columns the naming rules call recency, frequency and monetary. ``monetary_col`` also
        gives the ``revenue_share`` of each profile when the input has it.
    name_rules : sequence of mapping, optional
        Naming rules in the form of :data:`CLUSTER_NAME_RULES` (the default).

    Returns
    -------
    ClusterResult
        ``labels`` (Series indexed like ``features``), ``k``, ``silhouette`` (columns
        ``silhouette``, ``inertia``, ``chosen``, index ``k``), ``profiles`` (``name_zh``,
        ``name_en``, ``size``, ``share``, ``revenue_share``, ``<feature>_mean``,
        ``<feature>_median``), ``names`` (``name_zh``, ``name_en``, ``rule``, ``basis``),
        ``centers``, ``pipeline``, ``scaled``, ``columns``, ``log_columns``, ``notes`` and the
        methods ``embedding(n_components=2)`` and ``predict(features)``; see
        :class:`ClusterResult`.

    Raises
    ------
    TypeError
        ``features`` is not a DataFrame.
    SchemaError
        A requested column is missing or not numeric, or no numeric column is left.
    ClusteringError
        A bad parameter value (named in the message), an empty frame, duplicate customer ids,
        or too few rows (or distinct rows) for any k.

    Notes
    -----
    Negative values in a log-transformed column (net refunds) are clipped to 0, not shifted: a
    shift would depend on the data and move every customer. In log space a customer with no net
    spend lies far from paying customers and may form a small cluster of its own, which is
    usually what an analyst wants to see.

    Rows are sorted by customer id before fitting, so the result does not depend on row order.
    Clusters are renumbered by size, largest first; equal sizes are ordered by their centres in
    the scaled space, column by column, smallest first.

    Why k is chosen on a sample: trying k = 2..8 with KMeans (10 starts) on every row and a
    silhouette per k took over a minute at 50,000 customers on this project's 2-core machine, and
    the time grows with the rows. On 1,000,000 generated customers in five overlapping groups, the
    silhouettes on 20,000 and 50,000-row samples put the k in the same order and choose the same
    k; the 50,000-row sweep took 35 s, the 20,000-row sweep a few seconds. The fit of the chosen
    k on every row from the sample's centres converges in a few Lloyd iterations (0.3 s at
    1,000,000 rows, inertia 0.0002 % below ten fresh k-means++ starts on every row, which took
    3–4 s). The silhouettes of all k are computed in one pass over the sample's distances, in
    blocks of :data:`SILHOUETTE_CHUNK` rows (equal to :func:`sklearn.metrics.silhouette_score`
    to 1e-9, about ten times faster for seven k). ``benchmarks/bench_clustering.py`` times the
    whole function on 1,000,000 customers.

    :class:`~sklearn.cluster.MiniBatchKMeans` (``minibatch_above``) is for tens of millions of
    rows, where even one exact pass per iteration is slow; its inertia is a little higher.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> features = pd.DataFrame(
    ...     {
    ...         "recency": np.r_[rng.integers(1, 30, 25), rng.integers(200, 400, 15)],
    ...         "frequency": np.r_[rng.integers(8, 15, 25), rng.integers(1, 3, 15)],
    ...         "monetary": np.r_[rng.normal(2e5, 2e4, 25), rng.normal(5e3, 1e3, 15)],
    ...     },
    ...     index=[f"C{i:03d}" for i in range(40)],
    ... )
    >>> result = cluster_customers(features, k_range=(2, 5))
    >>> result.k
    2
    >>> result.names["name_en"].tolist()
    ['High value, active', 'Low value, dormant']
    >>> result.profiles["size"].tolist(), result.profiles["revenue_share"].round(3).tolist()
    ([25, 15], [0.985, 0.015])
    >>> result.labels.loc[["C000", "C039"]].tolist()
    [0, 1]
    """
    if not isinstance(features, pd.DataFrame):
        raise TypeError(f"features must be a pandas DataFrame; got {type(features).__name__}")
    if len(features) == 0:
        raise ClusteringError("features is empty (0 rows); clustering needs at least 3 rows")
    notes: list[str] = []
    rules = CLUSTER_NAME_RULES if name_rules is None else tuple(name_rules)
    _check_params(k, k_range, random_state, sample_size, k_sample_size, minibatch_above)
    _check_rules(rules)

    ids = _customer_ids(features, customer_id_col)
    cols = _feature_columns(features, columns, customer_id_col)
    raw = features[cols].astype("float64")
    n_inf = int(np.isinf(raw.to_numpy()).sum())
    if n_inf:
        raw = raw.mask(np.isinf(raw))
        notes.append(f"{n_inf} infinite value(s) treated as missing.")
    empty = [c for c in cols if raw[c].isna().all()]
    if empty:
        cols = [c for c in cols if c not in empty]
        if not cols:
            raise SchemaError(f"columns: every feature is entirely missing: {empty}")
        raw = raw[cols]
        notes.append(f"Dropped feature(s) with no values: {', '.join(empty)}.")
    n_missing = raw.isna().sum()
    for c in cols:
        if n_missing[c]:
            notes.append(f"{c}: {n_missing[c]} missing value(s) imputed with the median.")

    logs = _log_columns(raw, log_columns, cols)
    for c in logs:
        n_neg = int((raw[c] < 0).sum())
        if n_neg:
            notes.append(f"{c}: {n_neg} negative value(s) clipped to 0 before log1p.")

    # Canonical row order: by customer id, so shuffled input gives the same result.
    order = _id_order(ids, notes)
    ordered = raw.iloc[order]
    prep = Pipeline(
        [
            ("log1p", ClippedLog1p(columns=logs)),
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )
    Z = prep.fit_transform(ordered)
    constant = [c for c, s in zip(cols, prep.named_steps["scale"].var_, strict=True) if s == 0]
    if constant:
        notes.append(f"Constant feature(s) carry no information: {', '.join(constant)}.")

    n = len(Z)
    rng = np.random.default_rng(random_state)
    tried = np.arange(n)  # rows every candidate k is fitted on
    if k_sample_size is not None and n > k_sample_size:
        tried = np.sort(rng.choice(n, size=k_sample_size, replace=False))
        notes.append(
            f"k chosen on a sample of {k_sample_size} of {n} rows (random_state={random_state}); "
            "the chosen k was then fitted on every row."
        )
    Zt = Z[tried]
    n_tried = len(Zt)
    n_distinct = len(pd.DataFrame(Zt).drop_duplicates())
    max_k = min(n_tried - 1, n_distinct)
    if max_k < 2:
        raise ClusteringError(
            f"features has {n_tried} row(s) with {n_distinct} distinct value(s) after "
            "preprocessing; clustering needs at least 3 rows and 2 distinct rows"
        )
    candidates = _candidates(k, k_range, max_k, n_tried, n_distinct, notes)

    sample = np.arange(n_tried)  # positions in Zt of the silhouette sample
    if n_tried > sample_size:
        sample = np.sort(rng.choice(n_tried, size=sample_size, replace=False))
        notes.append(
            f"Silhouette computed on a sample of {sample_size} of {n_tried} rows "
            f"(random_state={random_state})."
        )

    fitted: dict[int, KMeans] = {}
    inertias: dict[int, float] = {}
    for kk in candidates:
        est = KMeans(n_clusters=kk, n_init=KMEANS_N_INIT, random_state=random_state).fit(Zt)
        fitted[kk] = est
        inertias[kk] = float(((Zt - est.cluster_centers_[est.labels_]) ** 2).sum())
    scores = silhouette_scores(Zt[sample], [fitted[kk].labels_[sample] for kk in candidates])
    table = pd.DataFrame(
        {"silhouette": scores, "inertia": [inertias[kk] for kk in candidates]},
        index=pd.Index(candidates, name="k"),
    )
    if k == "auto":
        scores = table["silhouette"]
        if scores.isna().all():
            raise ClusteringError(f"no k in {candidates} gives a silhouette score")
        chosen = int(scores.idxmax())  # first maximum: ties go to the smaller k
    else:
        chosen = int(k)
    table["chosen"] = table.index == chosen

    minibatch = minibatch_above is not None and n > minibatch_above
    if minibatch:
        notes.append(f"MiniBatchKMeans used: {n} rows > minibatch_above={minibatch_above}.")
    if minibatch or len(tried) < n:
        fitted[chosen] = _fit_all(Z, fitted[chosen].cluster_centers_, minibatch, random_state)

    est = fitted[chosen]
    raw_labels = est.labels_
    mapping = _relabel(raw_labels, Z, chosen)
    est.cluster_centers_ = est.cluster_centers_[np.argsort(mapping)]
    est.labels_ = mapping[raw_labels]
    pipeline = Pipeline([*prep.steps, ("kmeans", est)])

    labels_sorted = est.labels_.astype("int64")
    labels_arr = np.empty(n, dtype="int64")
    labels_arr[order] = labels_sorted
    labels = pd.Series(labels_arr, index=features.index, name="cluster")
    z_in_order = np.empty_like(Z)
    z_in_order[order] = Z
    scaled = pd.DataFrame(z_in_order, index=features.index, columns=cols)

    centers = scaled.groupby(labels_arr).mean()
    centers.index.name = "cluster"
    names = name_clusters(
        centers,
        rules=rules,
        recency_col=recency_col,
        frequency_col=frequency_col,
        monetary_col=monetary_col,
    )
    revenue = None
    if monetary_col in features.columns and pd.api.types.is_numeric_dtype(features[monetary_col]):
        revenue = features[monetary_col].astype("float64")
    profiles = _profiles(raw, labels_arr, names, revenue, notes)
    return ClusterResult(
        labels=labels,
        k=chosen,
        silhouette=table,
        profiles=profiles,
        names=names,
        centers=centers,
        pipeline=pipeline,
        scaled=scaled,
        columns=list(cols),
        log_columns=list(logs),
        notes=notes,
    )


def name_clusters(
    centers: pd.DataFrame,
    *,
    rules: Sequence[Mapping[str, Any]] | None = None,
    level_z: float = NAME_LEVEL_Z,
    recency_col: str = RECENCY,
    frequency_col: str = FREQUENCY,
    monetary_col: str = MONETARY,
) -> pd.DataFrame:
    """Name clusters from their centres in the scaled space, in Chinese and English.

    Each feature of each centre is ``high`` (z >= ``level_z``), ``low`` (z <= -``level_z``) or
    ``mid``. The first rule of ``rules`` whose conditions all hold gives the name; with none, the
    feature with the largest absolute z names it (``消费金额偏高`` / ``High spend``), or
    ``一般`` / ``Average`` when every feature is ``mid``. Names used by more than one cluster get
    a suffix `` #1``, `` #2``... in cluster order, so names are unique.

    Parameters
    ----------
    centers : DataFrame
        One row per cluster (index = cluster), one column per feature, in standard deviations
        from the mean customer (:attr:`ClusterResult.centers`).
    rules : sequence of mapping, optional
        Rules as in :data:`CLUSTER_NAME_RULES` (the default): ``name_zh``, ``name_en`` and
        ``when``, a mapping of feature (or role ``recency``/``frequency``/``monetary``) to level.
    level_z : float, default=0.25
        Threshold between ``mid`` and ``high``/``low``, in standard deviations.
    recency_col, frequency_col, monetary_col : str
        Columns the roles ``recency``, ``frequency`` and ``monetary`` refer to.

    Returns
    -------
    DataFrame
        Indexed like ``centers``, columns ``name_zh``, ``name_en``, ``rule`` (position of the
        matching rule, -1 for a fallback name) and ``basis`` (``feature=level`` for every
        feature).

    Examples
    --------
    >>> centers = pd.DataFrame(
    ...     {"recency": [-1.0, 1.2, -0.9], "frequency": [1.1, 0.4, -0.8], "monetary": [1.3, 0.8, -0.9]}
    ... )
    >>> names = name_clusters(centers)
    >>> names["name_zh"].tolist(), names["name_en"].tolist()
    (['高价值活跃', '流失风险', '新客'], ['High value, active', 'At risk', 'New'])
    >>> names.loc[1, "basis"]
    'recency=high, frequency=high, monetary=high'
    """
    rules = CLUSTER_NAME_RULES if rules is None else tuple(rules)
    _check_rules(rules)
    if not level_z > 0:
        raise ClusteringError(f"level_z must be > 0; got {level_z!r}")
    roles = {RECENCY: recency_col, FREQUENCY: frequency_col, MONETARY: monetary_col}
    records = []
    for cluster, row in centers.iterrows():
        levels = {
            c: "high" if z >= level_z else "low" if z <= -level_z else "mid" for c, z in row.items()
        }
        match = -1
        for i, rule in enumerate(rules):
            when = {roles.get(f, f): lvl for f, lvl in rule["when"].items()}
            if all(c in levels and levels[c] == lvl for c, lvl in when.items()):
                match = i
                break
        if match >= 0:
            zh, en = rules[match]["name_zh"], rules[match]["name_en"]
        else:
            zh, en = _fallback_name(row, level_z)
        basis = ", ".join(f"{c}={lvl}" for c, lvl in levels.items())
        records.append((cluster, zh, en, match, basis))
    out = pd.DataFrame(records, columns=["cluster", "name_zh", "name_en", "rule", "basis"])
    out = out.set_index("cluster")
    out.index.name = centers.index.name
    for col in ("name_zh", "name_en"):
        out[col] = _dedupe(out[col].tolist())
    return out


def _fallback_name(row: pd.Series, level_z: float) -> tuple[str, str]:
    if row.empty or row.abs().max() < level_z:
        return "一般", "Average"
    feature = str(row.abs().idxmax())
    zh, en = FEATURE_LABELS.get(feature, (feature, feature))
    if row[feature] > 0:
        return f"{zh}偏高", f"High {en}"
    return f"{zh}偏低", f"Low {en}"


def _dedupe(names: list[str]) -> list[str]:
    counts = pd.Series(names).value_counts()
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            out.append(f"{name} #{seen[name]}")
        else:
            out.append(name)
    return out


def _check_params(
    k: object,
    k_range: object,
    random_state: object,
    sample_size: object,
    k_sample_size: object,
    minibatch_above: object,
) -> None:
    def is_int(v: object) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if not (k == "auto" if isinstance(k, str) else is_int(k)):
        raise ClusteringError(f"k must be 'auto' or an int >= 2; got {k!r}")
    if is_int(k) and k < 2:
        raise ClusteringError(f"k must be 'auto' or an int >= 2; got {k!r}")
    if not (
        isinstance(k_range, tuple | list)
        and len(k_range) == 2
        and all(is_int(v) for v in k_range)
        and 2 <= k_range[0] <= k_range[1]
    ):
        raise ClusteringError(
            f"k_range must be two ints (low, high) with 2 <= low <= high; got {k_range!r}"
        )
    if not (random_state is None or is_int(random_state)):
        raise ClusteringError(f"random_state must be an int or None; got {random_state!r}")
    if not (is_int(sample_size) and sample_size >= 10):
        raise ClusteringError(f"sample_size must be an int >= 10; got {sample_size!r}")
    if not (k_sample_size is None or (is_int(k_sample_size) and k_sample_size >= 10)):
        raise ClusteringError(f"k_sample_size must be an int >= 10 or None; got {k_sample_size!r}")
    if not (minibatch_above is None or (is_int(minibatch_above) and minibatch_above >= 0)):
        raise ClusteringError(
            f"minibatch_above must be an int >= 0 or None; got {minibatch_above!r}"
        )


def _check_rules(rules: Sequence[Mapping[str, Any]]) -> None:
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not {"name_zh", "name_en", "when"} <= set(rule):
            raise ClusteringError(
                f"name_rules[{i}] must be a mapping with keys name_zh, name_en, when; got {rule!r}"
            )
        bad = {f: lvl for f, lvl in rule["when"].items() if lvl not in _LEVELS}
        if bad:
            raise ClusteringError(
                f"name_rules[{i}]['when'] levels must be one of {list(_LEVELS)}; got {bad!r}"
            )


def _customer_ids(features: pd.DataFrame, customer_id_col: str) -> pd.Index:
    if customer_id_col in features.columns:
        ids = pd.Index(features[customer_id_col])
        where = f"column {customer_id_col!r}"
    else:
        ids = features.index
        where = "the index"
    if ids.has_duplicates:
        dups = ids[ids.duplicated()].unique()[:5].tolist()
        raise ClusteringError(
            f"features must have one row per customer; duplicate ids in {where}: {dups}"
        )
    return ids


def _feature_columns(
    features: pd.DataFrame, columns: Sequence[str] | None, customer_id_col: str
) -> list[str]:
    if columns is None:
        cols = [
            c
            for c in features.columns
            if c != customer_id_col
            and pd.api.types.is_numeric_dtype(features[c])
            and not pd.api.types.is_bool_dtype(features[c])
        ]
        if not cols:
            raise SchemaError(
                "features has no numeric column to cluster on; columns are "
                f"{[str(c) for c in features.columns]}"
            )
        return cols
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols:
        raise SchemaError("columns must name at least one feature; got an empty list")
    require_columns(features.columns, cols, where="columns")
    if len(set(cols)) != len(cols):
        raise SchemaError(f"columns lists a feature twice: {cols}")
    bad = {
        c: str(features[c].dtype) for c in cols if not pd.api.types.is_numeric_dtype(features[c])
    }
    if bad:
        desc = ", ".join(f"{c} ({t})" for c, t in bad.items())
        raise SchemaError(f"columns must be numeric; not numeric: {desc}")
    return cols


def _log_columns(
    raw: pd.DataFrame, log_columns: Sequence[str] | None, cols: list[str]
) -> list[str]:
    if log_columns is not None:
        wanted = [log_columns] if isinstance(log_columns, str) else list(log_columns)
        unknown = [c for c in wanted if c not in cols]
        if unknown:
            raise SchemaError(
                f"log_columns must be among the clustered features {cols}; got unknown {unknown}"
            )
        return [c for c in cols if c in wanted]
    out = []
    for c in cols:
        values = raw[c].dropna()
        if len(values) < 3 or (values < 0).mean() > LOG_MAX_NEGATIVE_SHARE:
            continue
        skew = values.clip(lower=0).skew()
        if pd.notna(skew) and skew > LOG_SKEW_THRESHOLD:
            out.append(c)
    return out


def _id_order(ids: pd.Index, notes: list[str]) -> np.ndarray:
    try:
        return np.asarray(ids.argsort(kind="stable"))
    except TypeError:
        notes.append("Customer ids of mixed types were ordered as text.")
        return np.asarray(ids.astype(str).argsort(kind="stable"))


def _candidates(
    k: int | str, k_range: tuple[int, int], max_k: int, n: int, n_distinct: int, notes: list[str]
) -> list[int]:
    low, high = int(k_range[0]), int(k_range[1])
    if k != "auto" and k > max_k:
        raise ClusteringError(
            f"k={k} is too many for features with {n} rows ({n_distinct} distinct): "
            f"k must be at most {max_k} (rows - 1 and distinct rows)"
        )
    if high > max_k:
        new = (min(low, max_k), max_k)
        notes.append(
            f"k_range shrunk from {(low, high)} to {new}: {n} rows ({n_distinct} distinct) "
            f"allow at most k={max_k}."
        )
        low, high = new
    ks = set(range(low, high + 1))
    if k != "auto":
        ks.add(int(k))
    return sorted(ks)


def _fit_all(
    Z: np.ndarray, centres: np.ndarray, minibatch: bool, random_state: int | None
) -> KMeans | MiniBatchKMeans:
    """Fit k-means on every row, starting from ``centres`` (one start: they are already good)."""
    k = len(centres)
    if minibatch:
        return MiniBatchKMeans(
            n_clusters=k,
            init=centres,
            n_init=1,
            batch_size=MINIBATCH_BATCH_SIZE,
            random_state=random_state,
        ).fit(Z)
    return KMeans(n_clusters=k, init=centres, n_init=1, random_state=random_state).fit(Z)


def silhouette_scores(X: np.ndarray, labelings: Sequence[np.ndarray]) -> list[float]:
    """Mean silhouette coefficient of several labelings of the same rows, in one pass.

    Same definition as :func:`sklearn.metrics.silhouette_score` (Euclidean distance; a point alone
    in its cluster scores 0), but the pairwise distances are computed once, in blocks of
    :data:`SILHOUETTE_CHUNK` rows, and each block is multiplied by the one-hot labels of every
    labeling: one matrix product gives every point's summed distance to every cluster of every
    labeling. Memory is O(block × rows), never O(rows²).

    Parameters
    ----------
    X : ndarray of shape (n, features)
        The points.
    labelings : sequence of ndarray of int, each of shape (n,)
        Cluster labels (non-negative ints; gaps allowed) of each labeling.

    Returns
    -------
    list of float
        One score per labeling, -1..1; NaN when a labeling has fewer than 2 or more than n - 1
        distinct labels (the silhouette is undefined there).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> pairs, lonely = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    >>> [round(s, 3) for s in silhouette_scores(X, [pairs, lonely])]
    [0.9, 0.026]

    With ``lonely`` the point 0 is alone (0); 1 is 9.5 from its cluster on average and 1 from
    the other ((1 - 9.5) / 9.5); 10 and 11 score (10 - 5) / 10 and (11 - 5.5) / 11.
    """
    X = np.asarray(X, dtype="float64")
    n = len(X)
    codes = [np.unique(np.asarray(lab), return_inverse=True)[1].ravel() for lab in labelings]
    widths = [int(c.max()) + 1 if n else 0 for c in codes]
    onehot = np.zeros((n, sum(widths)))
    offsets = np.cumsum([0, *widths])
    for c, off in zip(codes, offsets[:-1], strict=True):
        onehot[np.arange(n), off + c] = 1.0
    sums = np.empty_like(onehot)
    sq = np.einsum("ij,ij->i", X, X)
    for start in range(0, n, SILHOUETTE_CHUNK):
        block = X[start : start + SILHOUETTE_CHUNK]
        d2 = sq[start : start + len(block), None] + sq[None, :] - 2.0 * (block @ X.T)
        np.maximum(d2, 0.0, out=d2)
        sums[start : start + len(block)] = np.sqrt(d2, out=d2) @ onehot
    rows = np.arange(n)
    scores = []
    for c, width, off in zip(codes, widths, offsets[:-1], strict=True):
        if not 2 <= width <= n - 1:
            scores.append(float("nan"))
            continue
        to_cluster = sums[:, off : off + width]
        size = np.bincount(c, minlength=width).astype("float64")
        own = size[c]
        a = to_cluster[rows, c] / np.maximum(own - 1.0, 1.0)
        mean_to = to_cluster / size
        mean_to[rows, c] = np.inf
        b = mean_to.min(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
        scores.append(float(np.nan_to_num(s, nan=0.0).mean()))
    return scores


def _relabel(raw_labels: np.ndarray, Z: np.ndarray, k: int) -> np.ndarray:
    """Return ``mapping`` with ``mapping[old] = new``: largest first, ties by centre."""
    sizes = np.bincount(raw_labels, minlength=k)
    centres = np.vstack(
        [Z[raw_labels == j].mean(axis=0) if sizes[j] else np.zeros(Z.shape[1]) for j in range(k)]
    )
    # lexsort: last key is primary. Primary -size; then centre columns, first column first.
    keys = [centres[:, j] for j in range(Z.shape[1] - 1, -1, -1)] + [-sizes]
    new_order = np.lexsort(keys)  # new_order[new] = old
    mapping = np.empty(k, dtype="int64")
    mapping[new_order] = np.arange(k)
    return mapping


def _profiles(
    raw: pd.DataFrame,
    labels: np.ndarray,
    names: pd.DataFrame,
    revenue: pd.Series | None,
    notes: list[str],
) -> pd.DataFrame:
    grouped = raw.groupby(labels)
    size = grouped.size()
    out = pd.DataFrame(
        {
            "name_zh": names["name_zh"].to_numpy(),
            "name_en": names["name_en"].to_numpy(),
            "size": size.to_numpy().astype("int64"),
            "share": (size / size.sum()).to_numpy(),
        },
        index=pd.Index(size.index, name="cluster"),
    )
    if revenue is not None:
        by_cluster = revenue.mask(np.isinf(revenue)).groupby(labels).sum()
        total = by_cluster.sum()
        if total > 0:
            out["revenue_share"] = (by_cluster / total).reindex(out.index).to_numpy()
        else:
            out["revenue_share"] = np.nan
            notes.append("revenue_share is missing: total monetary value is not positive.")
    means = grouped.mean()
    medians = grouped.median()
    for c in raw.columns:
        out[f"{c}_mean"] = means[c].to_numpy()
        out[f"{c}_median"] = medians[c].to_numpy()
    return out
