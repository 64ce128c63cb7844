"""Customer profile: group summaries, need trends, associations, competitors and personas.

Every function takes the customers table (clean, one row per customer) first and returns new
tables; the input is never modified. Multi-valued cells (``need_tags``, ``pain_points``, ``tags``,
``competitor``) are split on ``、 , ， ; ；`` where a function says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._validate import as_of_day, local_days
from .columns import CHOICES, CUSTOMER_ID, describe_columns, require_columns
from .errors import SchemaError

__all__ = [
    "TAG_SEP",
    "Association",
    "CompetitorSummary",
    "NeedTrends",
    "association",
    "competitor_summary",
    "group_summary",
    "need_trends",
    "personas",
    "split_tags",
]

#: Separators of multi-valued cells: 、 , ， ; ； (after NFKC a full-width comma is a comma).
TAG_SEP = r"[、,，;；]"
#: Columns that hold several values in one cell; :func:`association` splits them by default.
MULTI_VALUE_COLUMNS = ("need_tags", "pain_points", "tags", "competitor")
#: Label of a group whose key is missing.
MISSING_LABEL = "未填写"
#: Values that say "none" (竞品名称 = 无, 痛点 = 暂无): :func:`split_tags` drops them, so 无 is
#: never counted as a competitor or a concern.
NONE_WORDS = frozenset({"无", "没有", "暂无", "无竞品", "none", "no", "n/a", "na", "-", "—", "/"})
_WON_STAGES = ("成交", "售后维护")


# --- helpers ---------------------------------------------------------------------------------------


def _budget(df: pd.DataFrame, budget_col: str) -> pd.Series:
    value = pd.to_numeric(df[budget_col], errors="coerce").astype("float64")
    if budget_col == "budget_max" and "budget_min" in df.columns:
        # an open-ended budget ("50万以上") has only a floor: count it at that floor
        value = value.fillna(pd.to_numeric(df["budget_min"], errors="coerce").astype("float64"))
    return value


def _keys(values: pd.Series) -> pd.Series:
    """Return group keys as objects with missing values labelled :data:`MISSING_LABEL`."""
    keys = values.astype("object")
    return keys.where(keys.notna(), MISSING_LABEL)


def _order(values: pd.Series, name: str, counts: pd.Series) -> list[object]:
    """Order groups: categories or template choices in their order, else by size then label."""
    present = list(counts.index)
    natural: list[object] | None = None
    if isinstance(values.dtype, pd.CategoricalDtype) and values.dtype.ordered:
        natural = list(values.dtype.categories)
    elif name in CHOICES:
        natural = list(CHOICES[name])
    if natural is not None:
        head = [v for v in natural if v in present]
        rest = sorted((v for v in present if v not in head), key=lambda v: (-counts[v], str(v)))
        return head + rest
    return sorted(present, key=lambda v: (-counts[v], str(v)))


def split_tags(values: pd.Series, *, sep: str = TAG_SEP) -> pd.Series:
    """Split multi-valued cells into one row per value, keeping the original index.

    Values are stripped; empty pieces, repeats within one cell and words that mean "none"
    (:data:`NONE_WORDS`: 无, 没有, 暂无, none …) are dropped.

    Parameters
    ----------
    values : Series
        Text such as ``"降本增效、数据安全"``.
    sep : str, default=TAG_SEP
        Regular expression of separators.

    Returns
    -------
    Series
        Object dtype, index repeated once per value; missing cells are dropped.

    Examples
    --------
    >>> split_tags(pd.Series(["降本增效、数据安全", None, "a，b,a", "无"])).tolist()
    ['降本增效', '数据安全', 'a', 'b']
    """
    text = values.dropna().astype("str")
    pieces = text.str.split(sep, regex=True).explode().str.strip()
    none = pieces.str.lower().isin(NONE_WORDS).fillna(False).astype(bool)
    pieces = pieces[pieces.notna() & (pieces != "") & ~none]
    frame = pd.DataFrame({"i": pieces.index, "v": pieces.to_numpy()})
    frame = frame.drop_duplicates()
    return pd.Series(frame["v"].to_numpy(), index=frame["i"].to_numpy(), name=values.name).astype(
        "object"
    )


def _modes(groups: pd.Series, values: pd.Series) -> pd.Series:
    """Return the most common value per group; ties go to the value that sorts first."""
    frame = pd.DataFrame({"g": groups, "v": values}).dropna()
    if frame.empty:
        return pd.Series(dtype="object")
    counts = frame.groupby(["g", "v"], sort=False).size().rename("n").reset_index()
    counts["v_text"] = counts["v"].astype("str")
    counts = counts.sort_values(["n", "v_text"], ascending=[False, True], kind="stable")
    first = counts.drop_duplicates("g")
    return pd.Series(first["v"].to_numpy(), index=first["g"].to_numpy(), dtype="object")


# --- group summary ---------------------------------------------------------------------------------


def group_summary(
    customers: pd.DataFrame,
    *,
    by: str | Sequence[str] = "industry_l1",
    budget_col: str = "budget_max",
) -> pd.DataFrame:
    """Count customers and total their budgets per group.

    Parameters
    ----------
    customers : DataFrame
        Clean customers, one row per customer.
    by : str or list of str, default="industry_l1"
        Grouping column(s), e.g. ``industry_l1``, ``industry_l2``, ``grade``, ``need_type``,
        ``region``, ``owner``. A missing key is its own group, labelled ``未填写``.
    budget_col : str, default="budget_max"
        The budget figure to total: ``budget_max`` (default: the most the customer said it could
        spend; an open-ended budget such as “50万以上” has no maximum and counts at its
        ``budget_min``) or ``budget_min`` (the conservative lower end). 面议 budgets are unknown.

    Returns
    -------
    DataFrame
        One row per group with the ``by`` column(s) and:

        ``customers``
            Number of rows (customers) in the group.
        ``share``
            ``customers`` / all customers (0–1).
        ``budget_known``
            Customers with a budget figure.
        ``budget_total``
            Sum of the budget figures (元).
        ``budget_median``
            Median of the known budget figures (元); missing when none is known.

        Groups follow the template order for closed lists (grade 重点/潜在/普通, stage …), else
        the largest first. ``customers`` is not modified.

    Examples
    --------
    >>> df = pd.DataFrame({"grade": ["重点", "普通", "重点"], "budget_max": [3e5, None, 5e5]})
    >>> group_summary(df, by="grade")
      grade  customers     share  budget_known  budget_total  budget_median
    0    重点          2  0.666667             2      800000.0       400000.0
    1    普通          1  0.333333             0           0.0            NaN
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    require_columns(
        customers.columns, [*by_cols, budget_col], where="group_summary", table="customers"
    )
    frame = pd.DataFrame({c: _keys(customers[c]) for c in by_cols}, index=customers.index)
    frame["__budget"] = _budget(customers, budget_col)
    grouped = frame.groupby(by_cols, sort=False)["__budget"]
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "budget_known": grouped.count(),
            "budget_total": grouped.sum(min_count=0),
            "budget_median": grouped.median(),
        }
    )
    out.insert(1, "share", out["customers"] / max(len(customers), 1))
    if len(by_cols) == 1:
        order = _order(customers[by_cols[0]], by_cols[0], out["customers"])
        out = out.loc[order]
        out.index.name = by_cols[0]
    else:
        out = out.sort_values("customers", ascending=False, kind="stable")
    out = out.reset_index()
    out["customers"] = out["customers"].astype("int64")
    out["budget_known"] = out["budget_known"].astype("int64")
    return out


# --- need trends -----------------------------------------------------------------------------------


@dataclass
class NeedTrends:
    """The outcome of :func:`need_trends`.

    Attributes
    ----------
    monthly : DataFrame
        One row per month and need type, every month from the first with data to the month of
        ``as_of``: ``month`` (Period), the need column, ``customers`` (customers with that need
        that month), ``month_total`` (customers that month) and ``share`` (0–1, missing in a month
        without data).
    change : DataFrame
        One row per need type: ``customers_prev``, ``total_prev``, ``share_prev`` (the ``window``
        months before the last ``window``), ``customers_last``, ``total_last``, ``share_last``
        (the last ``window`` months, up to and including the month of ``as_of``), ``change_pp``
        (``share_last - share_prev`` in percentage points), ``reliable`` (both windows hold at
        least ``min_customers`` customers) and ``sentence``. Sorted by
        ``change_pp``, largest rise first.
    window : int
        Months per window.
    """

    monthly: pd.DataFrame
    change: pd.DataFrame
    window: int

    def wide(self) -> pd.DataFrame:
        """Return the monthly shares as a month × need-type table (for a line chart)."""
        need = self.monthly.columns[1]
        return self.monthly.pivot(index="month", columns=need, values="share")


def need_trends(
    customers_or_followups: pd.DataFrame,
    *,
    need_col: str = "need_type",
    date_col: str = "last_contact_date",
    as_of: str | pd.Timestamp,
    window: int = 3,
    customer_id_col: str | None = CUSTOMER_ID,
    min_customers: int = 5,
    lang: str = "zh",
) -> NeedTrends:
    """Follow each need type's share of customers by month, and its recent change.

    A customer counts in the month of ``date_col`` (rows after ``as_of`` or without a date or need
    are ignored). The share of a need in a month is the number of distinct customers with that need
    divided by the number of distinct customers that month (rows when ``customer_id_col`` is None
    or absent). The change compares the pooled share of the last ``window`` calendar months (the
    month of ``as_of`` and the ``window - 1`` before it, so a partial current month counts) with
    the ``window`` months before, and is reported in **percentage points**: 30% → 45% is
    “提升15.0个百分点”, not a 50% relative rise.

    Parameters
    ----------
    customers_or_followups : DataFrame
        Customers (dated by ``last_contact_date``), or follow-ups joined with the customer's need
        type (``date_col="followup_date"``).
    need_col : str, default="need_type"
        The need column.
    date_col : str, default="last_contact_date"
        The date that places a row in a month.
    as_of : str or Timestamp
        The last day counted: rows dated on it count, whatever their time. Only its calendar day
        is used (a time zone is dropped, keeping the local date; zoned dates in ``date_col``
        count on their own wall clock too).
    window : int, default=3
        Months per comparison window.
    customer_id_col : str or None, default="customer_id"
        Count distinct customers by this column; None counts rows.
    min_customers : int, default=5
        Fewer customers than this in either window make a share too noisy to act on: such rows
        get ``reliable`` False and their sentence says the sample is small (two customers out of
        four is already “50%”).
    lang : {"zh", "en"}, default="zh"
        Language of ``sentence``; the figures are the same.

    Returns
    -------
    NeedTrends
        ``monthly`` and ``change`` tables (see :class:`NeedTrends`), e.g. a sentence
        ``近3个月数据分析系统需求占比提升15.0个百分点（30.0% → 45.0%）``.

    Examples
    --------
    >>> df = pd.DataFrame({"need_type": ["BI", "CRM", "BI", "BI"],
    ...                    "last_contact_date": pd.to_datetime(
    ...                        ["2024-03-05", "2024-03-09", "2024-05-02", "2024-06-01"])})
    >>> trends = need_trends(df, as_of="2024-06-30", window=2, min_customers=1)
    >>> trends.change.loc[trends.change.need_type == "BI", "sentence"].item()
    '近2个月BI需求占比提升50.0个百分点（50.0% → 100.0%）'
    >>> need_trends(df, as_of="2024-06-30", window=2).change["reliable"].tolist()
    [False, False]
    """
    if int(window) < 1:
        raise ValueError(f"window must be a positive number of months; got {window!r}")
    _check_lang(lang)
    window = int(window)
    df = customers_or_followups
    require_columns(df.columns, [need_col, date_col], where="need_trends", table="customers")
    as_of = as_of_day(as_of)
    day = local_days(df[date_col])
    use_id = customer_id_col is not None and customer_id_col in df.columns
    frame = pd.DataFrame(
        {
            "month": day.dt.to_period("M"),
            "need": df[need_col].astype("object"),
            "who": df[customer_id_col] if use_id else pd.Series(np.arange(len(df)), df.index),
        }
    )
    frame = frame[day.notna() & (day <= as_of) & frame["need"].notna() & frame["who"].notna()]
    end = as_of.to_period("M")
    needs = sorted(frame["need"].unique(), key=str)
    first = frame["month"].min() if len(frame) else end
    months = pd.period_range(min(first, end - 2 * window + 1), end, freq="M")

    counts = frame.groupby(["month", "need"])["who"].nunique()
    totals = frame.groupby("month")["who"].nunique().reindex(months, fill_value=0)
    grid = pd.MultiIndex.from_product([months, needs], names=["month", need_col])
    monthly = pd.DataFrame({"customers": counts.reindex(grid, fill_value=0).astype("int64")})
    monthly["month_total"] = totals.reindex(grid.get_level_values("month")).to_numpy()
    monthly["share"] = monthly["customers"] / monthly["month_total"].where(
        monthly["month_total"] > 0
    )
    monthly = monthly.reset_index()

    def pooled(lo: pd.Period, hi: pd.Period) -> tuple[pd.Series, int]:
        part = frame[(frame["month"] >= lo) & (frame["month"] <= hi)]
        return part.groupby("need")["who"].nunique().reindex(needs, fill_value=0), int(
            part["who"].nunique()
        )

    last_n, last_total = pooled(end - window + 1, end)
    prev_n, prev_total = pooled(end - 2 * window + 1, end - window)
    change = pd.DataFrame(
        {
            need_col: needs,
            "customers_prev": prev_n.to_numpy(dtype="int64"),
            "total_prev": prev_total,
            "share_prev": prev_n.to_numpy() / prev_total if prev_total else np.nan,
            "customers_last": last_n.to_numpy(dtype="int64"),
            "total_last": last_total,
            "share_last": last_n.to_numpy() / last_total if last_total else np.nan,
        }
    )
    change["change_pp"] = (change["share_last"] - change["share_prev"]) * 100
    change["reliable"] = bool(min(prev_total, last_total) >= int(min_customers))
    small = (
        ""
        if change["reliable"].all()
        else _TREND_TEXT[lang]["small"].format(window=window, prev=prev_total, last=last_total)
    )
    change["sentence"] = [
        _trend_sentence(n, p, q, d, window, lang) + small
        for n, p, q, d in zip(
            change[need_col],
            change["share_prev"],
            change["share_last"],
            change["change_pp"],
            strict=True,
        )
    ]
    change = change.sort_values(
        ["change_pp", need_col], ascending=[False, True], kind="stable", na_position="last"
    ).reset_index(drop=True)
    return NeedTrends(monthly=monthly, change=change, window=window)


_TREND_TEXT = {
    "zh": {
        "no_prev": "近{window}个月{need}需求占比{last:.1%}（前{window}个月无数据，无法比较）",
        "no_last": "近{window}个月无{need}需求数据（前{window}个月占比{prev:.1%}）",
        "flat": "近{window}个月{need}需求占比持平（{prev:.1%} → {last:.1%}）",
        "up": "近{window}个月{need}需求占比提升{pp:.1f}个百分点（{prev:.1%} → {last:.1%}）",
        "down": "近{window}个月{need}需求占比下降{pp:.1f}个百分点（{prev:.1%} → {last:.1%}）",
        "small": "；样本少（前{window}个月{prev}位、近{window}个月{last}位客户），仅供参考",
    },
    "en": {
        "no_prev": "{need}: {last:.1%} of customers in the last {window} months (no data in the"
        " {window} months before)",
        "no_last": "{need}: no data in the last {window} months ({prev:.1%} in the {window} months"
        " before)",
        "flat": "{need}: share unchanged over the last {window} months ({prev:.1%} → {last:.1%})",
        "up": "{need}: share up {pp:.1f} points over the last {window} months ({prev:.1%} →"
        " {last:.1%})",
        "down": "{need}: share down {pp:.1f} points over the last {window} months ({prev:.1%} →"
        " {last:.1%})",
        "small": "; small sample (customers: {prev} in the {window} months before, {last} in the"
        " last {window}): indicative only",
    },
}


def _check_lang(lang: object) -> None:
    if lang not in _TREND_TEXT:
        raise ValueError(f"lang must be one of {sorted(_TREND_TEXT)}; got {lang!r}")


def _trend_sentence(
    need: object, prev: float, last: float, pp: float, window: int, lang: str = "zh"
) -> str:
    text = _TREND_TEXT[lang]
    if math.isnan(prev):
        key = "no_prev"
    elif math.isnan(last):
        key = "no_last"
    elif abs(pp) < 0.05:
        key = "flat"
    else:
        key = "up" if pp > 0 else "down"
    return text[key].format(window=window, need=need, prev=prev, last=last, pp=abs(pp))


# --- association -----------------------------------------------------------------------------------


@dataclass
class Association:
    """The outcome of :func:`association`.

    Attributes
    ----------
    table : DataFrame
        Observed counts, rows × columns (customers; one per customer and value pair).
    expected : DataFrame
        Expected counts under independence.
    residuals : DataFrame
        Adjusted standardised residuals ``(O - E) / sqrt(E (1 - row/n) (1 - col/n))``; about
        N(0, 1) under independence.
    pairs : DataFrame
        The standing-out cells, ``|residual| >= threshold``: the row and column labels,
        ``observed``, ``expected``, ``residual``, ``direction`` (偏高 over-represented / 偏低
        under-represented), largest ``|residual|`` first.
    chi2, p_value : float
        Pearson's chi-square (no continuity correction) and its p-value
        (:func:`scipy.stats.chi2_contingency`, ``correction=False``).
    dof : int
        Degrees of freedom.
    cramers_v : float
        Cramér's V, 0 (independent) to 1; bias-corrected (Bergsma 2013) when ``bias_corrected``.
    n : int
        Total count.
    bias_corrected : bool
        Which V was computed.
    small_expected_share : float
        Share of cells with an expected count below 5: above 0.2 the p-value is unreliable.
    split : bool
        Whether a customer can count in several cells (a multi-value column was split), which the
        chi-square test assumes away.
    """

    table: pd.DataFrame
    expected: pd.DataFrame
    residuals: pd.DataFrame
    pairs: pd.DataFrame
    chi2: float
    p_value: float
    dof: int
    cramers_v: float
    n: int
    bias_corrected: bool
    small_expected_share: float
    split: bool = False

    def doubts(self, alpha: float = 0.05) -> list[str]:
        """Return why the standing-out pairs should not be read as findings; empty if none.

        ``"not_significant"`` (p-value ≥ ``alpha`` or not computable: the pairs are what chance
        alone gives), ``"small_expected"`` (more than 20% of the cells expect fewer than 5
        customers, so the p-value itself is unreliable) and ``"split_cells"`` (customers count in
        several cells). A page prints pairs with any doubt as indicative only, never as a finding.

        Examples
        --------
        >>> df = pd.DataFrame({"industry_l1": ["制造业", "零售"] * 3,
        ...                    "need_type": ["ERP", "CRM", "CRM", "ERP", "ERP", "CRM"]})
        >>> association(df).doubts()
        ['not_significant', 'small_expected']
        """
        out = []
        if not self.p_value < alpha:  # NaN counts as not significant
            out.append("not_significant")
        if not self.small_expected_share <= 0.2:
            out.append("small_expected")
        if self.split:
            out.append("split_cells")
        return out


_DIRECTION = {"zh": ("偏高", "偏低"), "en": ("over", "under")}

#: Why standing-out pairs are indicative only, by :meth:`Association.doubts` code and language.
DOUBT_TEXT = {
    "not_significant": {
        "zh": "p ≥ 0.05，这些组合单凭偶然也会出现",
        "en": "p ≥ 0.05: chance alone gives pairs like these",
    },
    "small_expected": {
        "zh": "超过 20% 的格子期望客户数不足 5，p 值本身不可靠",
        "en": "over 20% of the cells expect fewer than 5 customers, so the p-value itself is "
        "unreliable",
    },
    "split_cells": {
        "zh": "一个客户可以有多个值，会重复计数",
        "en": "a customer with several values counts several times",
    },
}


def association_lines(
    result: Association, title: str, *, lang: str = "zh", alpha: float = 0.05
) -> list[str]:
    """Return the sentences a page prints about an association, guardrails included.

    The first line gives V, p and n; when :meth:`Association.doubts` has any, a line says the
    result is indicative only and why; when the test is not significant, a last line says how
    many pairs stood out by chance and that they are not listed (a page shows ``pairs`` only
    when ``"not_significant"`` is not among the doubts).

    Examples
    --------
    >>> df = pd.DataFrame({"industry_l1": ["制造业", "零售"] * 3,
    ...                    "need_type": ["ERP", "CRM", "CRM", "ERP", "ERP", "CRM"]})
    >>> association_lines(association(df), "Industry × need", lang="en")[0]
    "Industry × need: Cramér's V = 0.33, χ² p = 0.41, 6 customers."
    """
    _check_lang(lang)
    zh = lang == "zh"
    v, p, n = result.cramers_v, result.p_value, result.n
    out = [
        f"{title}：Cramér's V = {v:.2f}，χ² p = {p:.2f}，{n} 位客户。"
        if zh
        else f"{title}: Cramér's V = {v:.2f}, χ² p = {p:.2f}, {n} customers."
    ]
    doubts = result.doubts(alpha)
    if doubts:
        reasons = [DOUBT_TEXT[d][lang] for d in doubts]
        out.append(
            "⚠ 仅供参考，不作为结论：" + "；".join(reasons) + "。"
            if zh
            else "⚠ Indicative only, not a finding: " + "; ".join(reasons) + "."
        )
    if "not_significant" in doubts:
        k = len(result.pairs)
        out.append(
            f"|残差| ≥ 2 的组合有 {k} 个，在这个 p 值下属于偶然，不列出。"
            if zh
            else f"Pairs with |residual| ≥ 2: {k}; at this p-value that is chance, so they are "
            "not listed."
        )
    return out


def _cramers_v(chi2: float, n: int, shape: tuple[int, int], *, bias_corrected: bool) -> float:
    r, c = shape
    if n == 0 or min(r, c) < 2:
        return float("nan")
    if not bias_corrected:
        return math.sqrt(chi2 / (n * (min(r, c) - 1)))
    if n < 2:
        return float("nan")
    phi2 = max(0.0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
    r_c = r - (r - 1) ** 2 / (n - 1)
    c_c = c - (c - 1) ** 2 / (n - 1)
    denom = min(r_c - 1, c_c - 1)
    return math.sqrt(phi2 / denom) if denom > 0 else float("nan")


def association(
    customers: pd.DataFrame,
    *,
    row: str = "industry_l1",
    col: str = "need_type",
    explode: Sequence[str] | None = None,
    sep: str = TAG_SEP,
    threshold: float = 2.0,
    bias_corrected: bool = False,
    lang: str = "zh",
) -> Association:
    """Cross-tabulate two customer attributes and measure how strongly they go together.

    Parameters
    ----------
    customers : DataFrame
        Clean customers.
    row, col : str, default="industry_l1", "need_type"
        The two attributes, e.g. ``industry_l1`` × ``need_tags`` (concerns) or ``pain_points``.
    explode : list of str, optional
        Which of ``row`` and ``col`` hold several values per cell, split on ``sep`` (one count per
        customer and value; a customer naming a value twice counts once). By default the columns
        listed in ``MULTI_VALUE_COLUMNS`` (need_tags, pain_points, tags, competitor) are split.
        With split cells a customer counts in several cells, which the chi-square test assumes
        away: read the p-value as indicative.
    sep : str, default=TAG_SEP
        Separators (regular expression).
    threshold : float, default=2.0
        ``|adjusted residual|`` from which a cell is listed in ``pairs`` (≈ 5% two-sided).
    bias_corrected : bool, default=False
        False: the classic ``V = sqrt(chi2 / (n (min(r, c) - 1)))``, equal to
        ``scipy.stats.contingency.association(method="cramer")``. True: Bergsma's bias
        correction, better for small samples and many categories.
    lang : {"zh", "en"}, default="zh"
        Language of ``direction`` (偏高 / 偏低, or over / under).

    Returns
    -------
    Association
        ``table``, ``expected``, ``residuals``, ``pairs``, ``chi2``, ``p_value``, ``dof``,
        ``cramers_v``, ``n``, ``small_expected_share`` (see :class:`Association`). Rows or columns
        with missing values are left out; with fewer than two rows or columns the statistics are
        NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"industry_l1": ["制造业"] * 3 + ["零售"] * 3,
    ...                    "need_type": ["ERP", "ERP", "CRM", "CRM", "CRM", "CRM"]})
    >>> round(association(df).cramers_v, 4)
    0.7071
    """
    require_columns(customers.columns, [row, col], where="association", table="customers")
    _check_lang(lang)
    if row == col:
        raise ValueError(f"row and col must differ; got {row!r} twice")
    split = set(MULTI_VALUE_COLUMNS if explode is None else explode)
    unknown = split - set(MULTI_VALUE_COLUMNS) - {row, col}
    if explode is not None and unknown:
        raise ValueError(f"explode must name row or col ({row!r}, {col!r}); got {sorted(unknown)}")

    def values(name: str) -> pd.Series:
        if name in split:
            return split_tags(customers[name], sep=sep)
        return customers[name].dropna().astype("object")

    cut = split & {row, col}
    left = values(row).rename("r")
    right = values(col).rename("c")
    pairs = (
        pd.DataFrame({"r": left})
        .join(pd.DataFrame({"c": right}), how="inner")
        .reset_index()
        .drop_duplicates()
    )
    table = pd.crosstab(pairs["r"], pairs["c"]).rename_axis(index=row, columns=col)
    n = int(table.to_numpy().sum())
    shape = table.shape
    if min(shape) < 2:
        nan = pd.DataFrame(np.nan, index=table.index, columns=table.columns)
        empty = pd.DataFrame(columns=[row, col, "observed", "expected", "residual", "direction"])
        return Association(
            table, nan, nan, empty, np.nan, np.nan, 0, np.nan, n, bias_corrected, np.nan, bool(cut)
        )
    chi2, p_value, dof, expected = stats.chi2_contingency(table.to_numpy(), correction=False)
    expected = pd.DataFrame(expected, index=table.index, columns=table.columns)
    row_p = table.sum(axis=1).to_numpy()[:, None] / n
    col_p = table.sum(axis=0).to_numpy()[None, :] / n
    resid = (table - expected) / np.sqrt(expected * (1 - row_p) * (1 - col_p))
    long = pd.DataFrame(
        {
            "observed": table.stack(),
            "expected": expected.stack(),
            "residual": resid.stack(),
        }
    ).reset_index()
    long = long[long["residual"].abs() >= threshold].copy()
    over, under = _DIRECTION[lang]
    long["direction"] = np.where(long["residual"] > 0, over, under)
    long = long.reindex(long["residual"].abs().sort_values(ascending=False, kind="stable").index)
    return Association(
        table=table,
        expected=expected,
        residuals=resid,
        pairs=long.reset_index(drop=True),
        chi2=float(chi2),
        p_value=float(p_value),
        dof=int(dof),
        cramers_v=_cramers_v(float(chi2), n, shape, bias_corrected=bias_corrected),
        n=n,
        bias_corrected=bias_corrected,
        small_expected_share=float((expected.to_numpy() < 5).mean()),
        split=bool(cut),
    )


# --- competitors -----------------------------------------------------------------------------------


@dataclass
class CompetitorSummary:
    """The outcome of :func:`competitor_summary`.

    Attributes
    ----------
    table : DataFrame
        One row per competitor: ``competitor``, ``customers`` (customers naming it),
        ``share_of_customers`` (of all customers), ``share_of_comparing`` (of customers comparing
        us), ``deals``, ``wins``, ``win_rate`` (our deals with those customers) and, when a market
        table is given, ``market_share`` (mean over the industries it is listed in),
        ``industries``, ``core_products``, ``pricing``, ``strengths``, ``weaknesses`` (distinct
        values joined with ``；``). Most named first; competitors only in the market table have
        0 customers.
    overall : DataFrame
        Two rows, ``with_competitor`` True (有竞品) and False (无竞品): ``label``, ``deals``,
        ``wins``, ``win_rate``.
    comparing_share : float
        Share of customers comparing us with a competitor.
    n_customers : int
        Customers in the input.
    deal_source : str
        ``"customers"`` (win = stage 成交/售后维护) or ``"stages"`` (closed opportunities).
    """

    table: pd.DataFrame
    overall: pd.DataFrame
    comparing_share: float
    n_customers: int
    deal_source: str


_WITH_COMPETITOR = {"zh": ("有竞品", "无竞品"), "en": ("with a competitor", "no competitor")}


def _join_unique(values: pd.Series) -> object:
    distinct = list(dict.fromkeys(str(v) for v in values.dropna()))
    return "；".join(distinct) if distinct else np.nan


def competitor_summary(
    customers: pd.DataFrame,
    *,
    stages: pd.DataFrame | None = None,
    market: pd.DataFrame | None = None,
    customer_id_col: str = CUSTOMER_ID,
    competitor_col: str = "competitor",
    contact_col: str = "competitor_contact",
    stage_col: str = "stage",
    won_stages: Sequence[str] = _WON_STAGES,
    sep: str = TAG_SEP,
    lang: str = "zh",
) -> CompetitorSummary:
    """Summarise competitors: how often each is named and how we fare against it.

    A customer *compares us* when ``competitor_contact`` is true or it names a competitor. A deal
    *has a competitor* on the same test for its customer.

    Deals and wins:

    * without ``stages``: each customer is one deal, won when its ``stage`` is 成交 or 售后维护;
      deals still open count as not won (the customers table records no losses), so this win
      rate is a conversion rate;
    * with ``stages`` (stage history): each opportunity is one deal with the ``outcome`` of its
      latest row (by ``entered_at``); only closed deals (won or lost) count, open ones are left out,
      and so are deals of customers not in ``customers``.

    Parameters
    ----------
    customers : DataFrame
        Clean customers with ``customer_id``, ``competitor`` (several names split on ``sep``),
        ``competitor_contact`` and ``stage`` (the last two used when present).
    stages : DataFrame, optional
        Clean stage history: ``opportunity_id``, ``customer_id``, ``entered_at``, ``outcome``.
    market : DataFrame, optional
        Clean market table: ``competitor`` and any of ``industry``, ``market_share``,
        ``core_products``, ``pricing``, ``strengths``, ``weaknesses``.
    customer_id_col, competitor_col, contact_col, stage_col : str
        Columns of ``customers``.
    won_stages : sequence of str, default=("成交", "售后维护")
        Stages that count as a win without stage history.
    sep : str, default=TAG_SEP
        Separators of several competitor names in one cell.
    lang : {"zh", "en"}, default="zh"
        Language of ``overall["label"]`` (有竞品 / 无竞品, or with a competitor / no competitor).

    Returns
    -------
    CompetitorSummary
        ``table`` per competitor, ``overall`` with/without competitor, ``comparing_share`` (see
        :class:`CompetitorSummary`).
    """
    require_columns(
        customers.columns,
        [customer_id_col, competitor_col],
        where="competitor_summary",
        table="customers",
    )
    _check_lang(lang)
    ids = customers[customer_id_col]
    names = split_tags(customers[competitor_col], sep=sep)
    named = pd.Series(customers.index.isin(names.index), index=customers.index)
    comparing = named.copy()
    if contact_col in customers.columns:
        comparing |= customers[contact_col].astype("boolean").fillna(False).astype(bool)
    n_customers = len(customers)

    # deals: one row per deal with the customer's id and whether we won
    if stages is None:
        if stage_col not in customers.columns:
            raise SchemaError(
                f"competitor_summary: 缺少列 missing columns: "
                f"{describe_columns([stage_col], 'customers')} (or pass stages=)"
            )
        deals = pd.DataFrame(
            {"cid": ids, "won": customers[stage_col].astype("object").isin(list(won_stages))}
        )
        source = "customers"
    else:
        require_columns(
            stages.columns,
            ["opportunity_id", customer_id_col, "entered_at", "outcome"],
            where="competitor_summary stages",
            table="stages",
        )
        latest = stages.sort_values(["opportunity_id", "entered_at"], kind="stable")
        latest = latest.drop_duplicates("opportunity_id", keep="last")
        latest = latest[latest["outcome"].isin(["won", "lost"])]
        deals = pd.DataFrame(
            {"cid": latest[customer_id_col], "won": latest["outcome"] == "won"}
        ).reset_index(drop=True)
        source = "stages"
    deals = deals[deals["cid"].isin(ids)]  # deals of customers outside the table are unknown
    comparing_by_id = pd.Series(comparing.to_numpy(), index=ids.to_numpy())
    comparing_by_id = comparing_by_id.groupby(level=0).any()
    deals["with_competitor"] = deals["cid"].map(comparing_by_id).fillna(False).astype(bool)

    overall = (
        deals.groupby("with_competitor")["won"]
        .agg(deals="size", wins="sum")
        .reindex([True, False], fill_value=0)
    )
    overall["wins"] = overall["wins"].astype("int64")
    overall["win_rate"] = overall["wins"] / overall["deals"].where(overall["deals"] > 0)
    overall.insert(0, "label", list(_WITH_COMPETITOR[lang]))
    overall = overall.reset_index()

    # per competitor
    mentions = pd.DataFrame({"cid": ids.loc[names.index].to_numpy(), "competitor": names.values})
    per = mentions.groupby("competitor")["cid"].nunique().rename("customers").to_frame()
    per["share_of_customers"] = per["customers"] / max(n_customers, 1)
    n_comparing = int(comparing.sum())
    per["share_of_comparing"] = per["customers"] / n_comparing if n_comparing else np.nan
    joined = mentions.drop_duplicates().merge(deals[["cid", "won"]], on="cid", how="inner")
    stats_ = joined.groupby("competitor")["won"].agg(deals="size", wins="sum")
    per = per.join(stats_, how="left")
    per[["deals", "wins"]] = per[["deals", "wins"]].fillna(0).astype("int64")
    per["win_rate"] = per["wins"] / per["deals"].where(per["deals"] > 0)

    if market is not None:
        require_columns(
            market.columns, ["competitor"], where="competitor_summary market", table="market"
        )
        rows = market[market["competitor"].notna()]
        grouped = rows.groupby(rows["competitor"].astype("str").str.strip())
        extra = pd.DataFrame(index=grouped.size().index)
        if "market_share" in rows.columns:
            extra["market_share"] = grouped["market_share"].mean()
        for column, name in [
            ("industry", "industries"),
            ("core_products", "core_products"),
            ("pricing", "pricing"),
            ("strengths", "strengths"),
            ("weaknesses", "weaknesses"),
        ]:
            if column in rows.columns:
                extra[name] = grouped[column].agg(_join_unique)
        per = per.join(extra, how="outer")
        per["customers"] = per["customers"].fillna(0).astype("int64")
        for column in ("share_of_customers", "deals", "wins"):
            per[column] = per[column].fillna(0)
        if n_comparing:
            per["share_of_comparing"] = per["share_of_comparing"].fillna(0.0)
        per[["deals", "wins"]] = per[["deals", "wins"]].astype("int64")
    per.index.name = "competitor"
    per = per.reset_index()
    per = per.sort_values(
        ["customers", "competitor"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    return CompetitorSummary(
        table=per,
        overall=overall,
        comparing_share=float(comparing.mean()) if n_customers else float("nan"),
        n_customers=n_customers,
        deal_source=source,
    )


# --- personas --------------------------------------------------------------------------------------

_PERSONA_MODES = (
    "industry_l1",
    "company_size",
    "region",
    "need_type",
    "need_tags",
    "decision_process",
)


def personas(
    customers: pd.DataFrame,
    *,
    by: str = "grade",
    budget_col: str = "budget_max",
    sep: str = TAG_SEP,
    lang: str = "zh",
) -> pd.DataFrame:
    """Describe the typical customer of each tier or segment.

    Parameters
    ----------
    customers : DataFrame
        Clean (or tagged, or clustered) customers.
    by : str, default="grade"
        The segment column, e.g. ``grade``, ``value_grade``, ``potential_rating``, ``size_tier``
        or a cluster label. A missing key is its own segment, ``未填写``.
    budget_col : str, default="budget_max"
        Budget figure for ``budget_median`` (as in :func:`group_summary`).
    sep : str, default=TAG_SEP
        Separators of ``need_tags``.
    lang : {"zh", "en"}, default="zh"
        Language of ``description``.

    Returns
    -------
    DataFrame
        One row per segment with the ``by`` column and:

        ``customers``, ``share``
            Size of the segment and its share of all customers.
        ``industry_l1``, ``company_size``, ``region``, ``need_type``, ``need_tags``, ``decision_process``
            The most common value in the segment (``need_tags`` after splitting cells into
            single tags); ties go to the value that sorts first; missing when the column is
            absent or empty.
        ``employees_median``, ``budget_median``
            Medians (people, 元).
        ``description``
            One line in ``lang`` built from the modes, e.g. ``制造业中型企业，关注降本增效，主要需求
            数据分析系统`` or ``制造业 中型 company, focused on 降本增效, main need 数据分析系统``
            (the focus is the ``need_tags`` mode, else the need type).

        Segments in template order for closed lists, else largest first.
    """
    require_columns(customers.columns, [by], where="personas", table="customers")
    _check_lang(lang)
    key = _keys(customers[by])
    sizes = key.value_counts()
    order = _order(customers[by], by, sizes)
    out = pd.DataFrame(index=pd.Index(order, name=by))
    out["customers"] = sizes.reindex(order).astype("int64")
    out["share"] = out["customers"] / max(len(customers), 1)
    for column in _PERSONA_MODES:
        if column not in customers.columns:
            out[column] = np.nan
        elif column == "need_tags":
            tags = split_tags(customers[column], sep=sep)
            out[column] = _modes(key.loc[tags.index], tags).reindex(order)
        else:
            out[column] = _modes(key, customers[column]).reindex(order)
    for column, name in (("employees", "employees_median"), (budget_col, "budget_median")):
        if column in customers.columns:
            values = (
                _budget(customers, column)
                if column == budget_col
                else pd.to_numeric(customers[column], errors="coerce").astype("float64")
            )
            out[name] = values.groupby(key).median().reindex(order)
        else:
            out[name] = np.nan
    out["description"] = [
        _persona_line(r.industry_l1, r.company_size, r.need_tags, r.need_type, lang)
        for r in out.itertuples()
    ]
    return out.reset_index()


def _persona_line(
    industry: object, size: object, tag: object, need: object, lang: str = "zh"
) -> str:
    def text(value: object) -> str:
        return "" if pd.isna(value) else str(value)

    if lang == "en":
        company = " ".join(t for t in (text(industry), text(size)) if t)
        focus = text(tag) or text(need)
        line = f"{company} company" if company else "Company"
        line += f", focused on {focus}" if focus else ""
        if text(need) and text(need) != focus:
            line += f", main need {text(need)}"
        return line
    size_text = text(size)
    company = f"{text(industry)}{size_text}{'' if size_text.endswith('企业') else '企业'}"
    focus = text(tag) or text(need)
    line = company + (f"，关注{focus}" if focus else "")
    if text(need) and text(need) != focus:
        line += f"，主要需求{text(need)}"
    return line
