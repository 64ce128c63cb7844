"""Seaborn charts of the analyses' outputs, and the one explicit call that sets style and font.

Every chart function takes the tidy output of an analysis first, ``ax=None`` (a new figure when
None), and returns the Axes; none calls ``plt.show()``. Importing this module changes nothing:
:func:`set_theme` is what sets seaborn's style and a font that can draw Chinese text. When no CJK
font is installed it says so once, with how to install one, and returns ``"en"`` so callers can
switch their labels to English instead of drawing empty boxes.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

__all__ = [
    "attainment_bars",
    "channel_roi_bars",
    "clv_distribution",
    "cluster_scatter",
    "cohort_bars",
    "conversion_time_hist",
    "find_cjk_font",
    "funnel_bars",
    "funnel_breakdown_lines",
    "holdout_purchases",
    "need_share_lines",
    "pareto_chart",
    "rfm_heatmap",
    "seasonality_bars",
    "segment_bars",
    "set_theme",
    "silhouette_curve",
    "trend_lines",
]

#: Font families that draw Chinese, in order of preference.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
    "Heiti SC",
)

_WARNED = {"no_cjk": False}


_CJK_FILE_HINTS = re.compile(
    r"cjk|wqy|wenquanyi|yahei|msyh|simhei|simsun|pingfang|sourcehan|heiti|notosanssc", re.I
)


def find_cjk_font(candidates: Sequence[str] = CJK_FONTS) -> str | None:
    """Return the first installed font family of ``candidates`` that can draw Chinese, or None.

    Matplotlib caches its font list when first used, so a font installed later is missing from
    it; such fonts are found among the system's font files and registered (this changes only
    matplotlib's in-memory font list, and only when called).
    """
    from matplotlib import font_manager

    def known() -> str | None:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in candidates if name in installed), None)

    found = known()
    if found is None:
        for path in font_manager.findSystemFonts():
            if _CJK_FILE_HINTS.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = known()
    return found


def set_theme(
    lang: str = "zh", *, font_file: str | Path | None = None, style: str = "whitegrid"
) -> str:
    """Set seaborn's style and a font for the chosen language; return the language charts can use.

    Parameters
    ----------
    lang : {"zh", "en"}, default="zh"
        The language of labels the caller wants.
    font_file : path, optional
        A ``.ttf``/``.otf``/``.ttc`` file to use for Chinese text when none is installed.
    style : str, default="whitegrid"
        A seaborn style.

    Returns
    -------
    str
        ``"zh"`` when Chinese can be drawn, else ``"en"`` (after one warning that says how to install
        a CJK font, e.g. ``apt-get install fonts-noto-cjk`` or ``conda install font-ttf-noto-cjk``).
    """
    import seaborn as sns
    from matplotlib import font_manager

    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en'; got {lang!r}")
    family = None
    if font_file is not None:
        font_manager.fontManager.addfont(str(font_file))
        family = font_manager.FontProperties(fname=str(font_file)).get_name()
    family = family or find_cjk_font()
    rc = {"axes.unicode_minus": False}
    if family:
        rc["font.family"] = "sans-serif"
        rc["font.sans-serif"] = [family, "DejaVu Sans"]
    sns.set_theme(style=style, rc=rc)
    if lang == "zh" and family is None:
        if not _WARNED["no_cjk"]:
            warnings.warn(
                "no CJK font found, so charts use English labels; install one "
                "(Debian: apt-get install fonts-noto-cjk; conda: font-ttf-noto-cjk) "
                "or pass font_file=",
                stacklevel=2,
            )
            _WARNED["no_cjk"] = True
        return "en"
    return lang


def _label(key: str, lang: str) -> str:
    """Return a chart's axis or legend text in ``lang`` from the label tables below."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be one of ['zh', 'en']; got {lang!r}")
    for table in (_SALES_LABELS, _FUNNEL_LABELS, _CLV_LABELS):
        if key in table:
            return table[key][lang]
    raise KeyError(key)


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def segment_bars(
    table: pd.DataFrame,
    *,
    segment_col: str = "segment",
    value_col: str = "customers",
    share_col: str | None = "revenue_share",
    title: str | None = None,
    ax=None,
    lang: str = "zh",
):
    """Bar chart of a segment table: one bar per segment, annotated with a share.

    Parameters
    ----------
    table : DataFrame
        As returned by :func:`analysis_kit.rfm.segment_table`.
    segment_col, value_col : str
        The segment labels and the bar heights.
    share_col : str or None, default="revenue_share"
        A 0–1 share printed at the end of each bar; None prints nothing.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    lang : {"zh", "en"}, default="zh"
        Language of the axis label (the column's label, e.g. 客户数 / Customers).

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

    from .tables import column_label

    ax = _axes(ax)
    data = table.sort_values(value_col, ascending=False)
    sns.barplot(data=data, y=segment_col, x=value_col, ax=ax, color="#4C72B0")
    if share_col is not None and share_col in data.columns:
        for patch, share in zip(ax.patches, data[share_col], strict=False):
            ax.annotate(
                f" {share:.0%}",
                (patch.get_width(), patch.get_y() + patch.get_height() / 2),
                va="center",
                fontsize=9,
            )
    ax.set_ylabel("")
    ax.set_xlabel(column_label(value_col, lang))
    if title:
        ax.set_title(title)
    return ax


def rfm_heatmap(
    scores: pd.DataFrame,
    *,
    r_col: str = "r_score",
    f_col: str = "f_score",
    value_col: str | None = None,
    title: str | None = None,
    ax=None,
):
    """R × F heat map: customers (or the mean of ``value_col``) per recency and frequency score.

    Parameters
    ----------
    scores : DataFrame
        As returned by :func:`analysis_kit.rfm.rfm_scores`.
    r_col, f_col : str
        The score columns.
    value_col : str, optional
        Show the mean of this column (e.g. ``monetary``) instead of customer counts.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

    ax = _axes(ax)
    if value_col is None:
        grid = pd.crosstab(scores[r_col], scores[f_col])
        fmt = "d"
    else:
        grid = scores.pivot_table(index=r_col, columns=f_col, values=value_col, aggfunc="mean")
        fmt = ".0f"
    grid = grid.sort_index(ascending=False)
    sns.heatmap(grid, annot=True, fmt=fmt, cmap="YlGnBu", ax=ax, cbar=False)
    ax.set_xlabel("F")
    ax.set_ylabel("R")
    if title:
        ax.set_title(title)
    return ax


def silhouette_curve(
    silhouette: pd.DataFrame,
    *,
    score_col: str = "silhouette",
    chosen_col: str = "chosen",
    title: str | None = None,
    ax=None,
):
    """Line of the silhouette score for each k, with the chosen k marked.

    Parameters
    ----------
    silhouette : DataFrame
        Indexed by k, as ``ClusterResult.silhouette`` from :mod:`analysis_kit.clustering`.
    score_col, chosen_col : str
        The score column and the boolean column flagging the chosen k.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    data = silhouette.dropna(subset=[score_col]).sort_index()
    ax.plot(data.index, data[score_col], marker="o", color="#4C72B0")
    if chosen_col in data.columns and data[chosen_col].any():
        best = data[data[chosen_col]]
        ax.plot(best.index, best[score_col], marker="o", markersize=12, color="#C44E52", ls="")
    ax.set_xlabel("k")
    ax.set_ylabel("silhouette")
    ax.set_xticks(list(data.index))
    if title:
        ax.set_title(title)
    return ax


def cluster_scatter(
    embedding: pd.DataFrame,
    *,
    x: str = "pc1",
    y: str = "pc2",
    hue: str = "cluster",
    title: str | None = None,
    ax=None,
):
    """Scatter of a 2-D embedding coloured by cluster (e.g. ``ClusterResult.embedding()``).

    Parameters
    ----------
    embedding : DataFrame
        One row per customer with the two coordinates and the cluster label or name.
    x, y, hue : str
        Column names.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

    ax = _axes(ax)
    sns.scatterplot(data=embedding, x=x, y=y, hue=hue, ax=ax, s=18, alpha=0.7, palette="tab10")
    if title:
        ax.set_title(title)
    return ax


def need_share_lines(
    monthly: pd.DataFrame,
    *,
    month_col: str = "month",
    need_col: str = "need_type",
    share_col: str = "share",
    title: str | None = None,
    ax=None,
    lang: str = "zh",
):
    """Lines of each need type's monthly share of customers (``NeedTrends.monthly``).

    Parameters
    ----------
    monthly : DataFrame
        Long table with one row per month and need type, as
        :func:`analysis_kit.profile.need_trends` returns in ``.monthly``.
    month_col, need_col, share_col : str
        Column names.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    lang : {"zh", "en"}, default="zh"
        Language of the axis label.

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

    from .tables import column_label

    ax = _axes(ax)
    data = monthly.assign(**{month_col: monthly[month_col].astype("str")})
    sns.lineplot(data=data, x=month_col, y=share_col, hue=need_col, marker="o", ax=ax)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.tick_params(axis="x", rotation=45)
    ax.set_xlabel("")
    ax.set_ylabel(column_label(share_col, lang))
    ax.legend(title="", bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    if title:
        ax.set_title(title)
    return ax


# --- sales performance (notebook 06) ----------------------------------------------------------------

_SALES_LABELS = {
    "revenue": {"zh": "收入（元）", "en": "Revenue (yuan)"},
    "pop_growth": {"zh": "标注：环比", "en": "labels: vs previous period"},
    "yoy_growth": {"zh": "标注：同比", "en": "labels: year over year"},
    "month": {"zh": "月份", "en": "Month"},
    "index": {"zh": "季节指数（1 = 平均月份）", "en": "Seasonality index (1 = average month)"},
    "cumulative": {"zh": "累计收入占比", "en": "Cumulative revenue share"},
    "attainment": {"zh": "目标达成率", "en": "Target attainment"},
    "no_target": {"zh": "无目标", "en": "no target"},
}
_ABC_COLORS = {"A": "#4C72B0", "B": "#DD8452", "C": "#A0A0A0"}
_SEASON_COLORS = {"peak": "#C44E52", "slack": "#4C72B0", "normal": "#A0A0A0"}


def _money_axis(axis, lang: str) -> None:
    """Format a revenue axis: 万 in Chinese, thousands (k) in English."""
    if lang == "zh":
        axis.set_major_formatter(lambda v, _: f"{v / 10_000:,.0f}万")
    else:
        axis.set_major_formatter(lambda v, _: f"{v / 1_000:,.0f}k")


def trend_lines(
    trend: pd.DataFrame,
    *,
    period_col: str = "period",
    value_col: str = "revenue",
    growth_col: str | None = "pop_growth",
    hue: str | None = None,
    annotate: int = 6,
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Line of revenue per period, the last points labelled with their growth.

    Parameters
    ----------
    trend : DataFrame
        ``SalesTrend.trend`` from :func:`analysis_kit.sales.sales_trend`.
    period_col, value_col : str
        The x (period start) and y columns.
    growth_col : str or None, default="pop_growth"
        Growth (0.12 = +12 %) printed above the last ``annotate`` points, e.g. ``"pop_growth"``
        (MoM / QoQ) or ``"yoy_growth"``; missing growth prints nothing. None prints nothing.
    hue : str, optional
        A group column: one line per group (no growth labels, to keep the chart readable).
    annotate : int, default=6
        How many of the last points get a growth label.
    lang : {"zh", "en"}, default="zh"
        Language of the axis labels.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

    revenue_label = _label("revenue", lang)
    ax = _axes(ax)
    data = trend.sort_values(period_col)
    if hue is not None:
        sns.lineplot(data=data, x=period_col, y=value_col, hue=hue, marker="o", ax=ax)
        ax.legend(title="", bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    else:
        ax.plot(data[period_col], data[value_col], marker="o", color="#4C72B0")
        if growth_col is not None and growth_col in data.columns and annotate > 0:
            tail = data.tail(annotate)
            for x, y, growth in zip(
                tail[period_col], tail[value_col], tail[growth_col], strict=True
            ):
                if pd.notna(growth):
                    ax.annotate(
                        f"{growth:+.0%}",
                        (x, y),
                        textcoords="offset points",
                        xytext=(0, 7),
                        ha="center",
                        fontsize=8,
                        color="#55A868" if growth >= 0 else "#C44E52",
                    )
            if growth_col in _SALES_LABELS:
                ax.text(
                    0.01,
                    0.97,
                    _label(growth_col, lang),
                    transform=ax.transAxes,
                    va="top",
                    fontsize=8,
                    color="#555555",
                )
    _money_axis(ax.yaxis, lang)
    ax.margins(y=0.12)
    ax.set_xlabel("")
    ax.set_ylabel(revenue_label)
    ax.tick_params(axis="x", rotation=45)
    if title:
        ax.set_title(title)
    return ax


def seasonality_bars(
    seasonality: pd.DataFrame,
    *,
    month_col: str = "month",
    index_col: str = "seasonality_index",
    season_col: str | None = "season",
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Bars of the seasonality index per calendar month, peak and slack months coloured.

    Parameters
    ----------
    seasonality : DataFrame
        ``SalesTrend.seasonality`` (one group) from :func:`analysis_kit.sales.sales_trend`.
    month_col, index_col : str
        Month (1–12) and index columns.
    season_col : str or None, default="season"
        ``"peak"`` / ``"slack"`` / ``"normal"`` colours; None draws every bar alike.
    lang : {"zh", "en"}, default="zh"
        Language of the axis labels.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    index_label = _label("index", lang)
    ax = _axes(ax)
    data = seasonality.sort_values(month_col)
    if season_col is not None and season_col in data.columns:
        colors = [_SEASON_COLORS.get(s, "#A0A0A0") for s in data[season_col].fillna("normal")]
    else:
        colors = ["#4C72B0"] * len(data)
    ax.bar(data[month_col].astype(int), data[index_col].fillna(0.0), color=colors)
    ax.axhline(1.0, color="#333333", lw=1, ls="--")
    ax.set_xticks(range(1, 13))
    ax.set_xlabel(_label("month", lang))
    ax.set_ylabel(index_label)
    if title:
        ax.set_title(title)
    return ax


def pareto_chart(
    mix: pd.DataFrame,
    *,
    product_col: str = "product",
    revenue_col: str = "revenue",
    cumulative_col: str = "cumulative_share",
    class_col: str | None = "abc",
    thresholds: Sequence[float] = (0.8, 0.95),
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Pareto chart: revenue bars per product coloured by ABC class, cumulative share line.

    Parameters
    ----------
    mix : DataFrame
        As returned by :func:`analysis_kit.sales.product_mix` (sorted by revenue).
    product_col, revenue_col, cumulative_col : str
        Bar labels, bar heights and the 0–1 cumulative share drawn on a second axis.
    class_col : str or None, default="abc"
        Colours the bars by class (A / B / C); None draws every bar alike.
    thresholds : sequence of float, default=(0.8, 0.95)
        Dashed lines on the share axis: the end of class A and of class B.
    lang : {"zh", "en"}, default="zh"
        Language of the axis labels.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
        The bar axes; the cumulative share line is drawn on its twin axes.
    """
    revenue_label = _label("revenue", lang)
    ax = _axes(ax)
    data = mix.reset_index(drop=True)
    positions = list(range(len(data)))
    if class_col is not None and class_col in data.columns:
        colors = [_ABC_COLORS.get(c, "#A0A0A0") for c in data[class_col]]
    else:
        colors = ["#4C72B0"] * len(data)
    ax.bar(positions, data[revenue_col], color=colors)
    ax.set_xticks(positions)
    ax.set_xticklabels(data[product_col].astype(str), rotation=45, ha="right")
    _money_axis(ax.yaxis, lang)
    ax.set_ylabel(revenue_label)
    share = ax.twinx()
    share.plot(positions, data[cumulative_col], color="#333333", marker="o", ms=4)
    for level in thresholds:
        share.axhline(level, color="#C44E52", lw=1, ls="--")
    share.set_ylim(0, 1.05)
    share.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    share.set_ylabel(_label("cumulative", lang))
    share.grid(False)
    if class_col is not None and class_col in data.columns:
        from matplotlib.patches import Patch

        present = [c for c in _ABC_COLORS if c in set(data[class_col])]
        ax.legend(
            handles=[Patch(color=_ABC_COLORS[c], label=c) for c in present],
            loc="center right",
            frameon=False,
        )
    if title:
        ax.set_title(title)
    return ax


def attainment_bars(
    performance: pd.DataFrame,
    *,
    group_col: str = "team",
    attainment_col: str = "attainment",
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Horizontal bars of target attainment per team or rep, with the 100 % line.

    Parameters
    ----------
    performance : DataFrame
        One period of :func:`analysis_kit.sales.team_performance`. Mask rep names (``owner``)
        with :func:`analysis_kit.privacy.mask_frame` before charting them in a report.
    group_col, attainment_col : str
        Bar labels and the 0–1 attainment (1 = target met). Groups without a target are
        labelled as such.
    lang : {"zh", "en"}, default="zh"
        Language of the axis labels.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    no_target = _label("no_target", lang)
    ax = _axes(ax)
    data = performance.sort_values(attainment_col, ascending=True, na_position="first")
    values = data[attainment_col].astype("float64")
    positions = list(range(len(data)))
    colors = ["#55A868" if v >= 1 else "#DD8452" for v in values.fillna(0.0)]
    ax.barh(positions, values.fillna(0.0), color=colors)
    ax.set_yticks(positions)
    ax.set_yticklabels(data[group_col].astype(str))
    ax.axvline(1.0, color="#333333", lw=1, ls="--")
    for y, value in zip(positions, values, strict=True):
        text = no_target if pd.isna(value) else f" {value:.0%}"
        ax.annotate(text, (0 if pd.isna(value) else value, y), va="center", fontsize=9)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel(_label("attainment", lang))
    ax.set_ylabel("")
    if title:
        ax.set_title(title)
    return ax


# --- funnel and pipeline (notebook 05) --------------------------------------------------------------

_FUNNEL_LABELS = {
    "reached": {"zh": "到达数", "en": "Reached"},
    "share": {"zh": "到达比例", "en": "Share reached"},
    "drop": {"zh": "流失", "en": "drop-off"},
    "roi": {"zh": "投资回报率 ROI", "en": "ROI"},
    "deals": {"zh": "商机数", "en": "Deals"},
    "won": {"zh": "赢单", "en": "won"},
    "lost": {"zh": "输单", "en": "lost"},
    "open": {"zh": "进行中", "en": "open"},
    "win_rate": {"zh": "赢单率", "en": "win rate"},
    "units": {"zh": "数量", "en": "Count"},
    "days": {"zh": "天数", "en": "Days"},
    "hours": {"zh": "小时", "en": "Hours"},
}


def funnel_bars(
    funnel: pd.DataFrame,
    *,
    step_col: str = "step",
    value_col: str = "reached",
    drop_col: str = "drop_off",
    conversion_col: str = "conversion_from_previous",
    highlight: str | None = None,
    labels: dict | None = None,
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Funnel chart: one centred bar per step, widest first, with each step's drop-off.

    Parameters
    ----------
    funnel : DataFrame
        One row per step in order, as :func:`analysis_kit.funnel.stage_funnel` or
        :func:`analysis_kit.funnel.event_funnel` return (without a breakdown, or filtered to one
        group).
    step_col, value_col : str
        The step labels and the bar widths.
    drop_col, conversion_col : str
        Printed beside each step after the first: units lost since the previous step and the
        conversion from it (skipped when a column is absent).
    highlight : str, optional
        A step drawn in red, e.g. the weakest step.
    labels : dict, optional
        Replacement step labels, e.g. :data:`analysis_kit.funnel.STEP_LABELS_EN` for English.
    lang : {"zh", "en"}, default="zh"
        Language of the axis and annotation words.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    word = _label("drop", lang)
    ax = _axes(ax)
    data = funnel.reset_index(drop=True)
    values = pd.to_numeric(data[value_col]).fillna(0).to_numpy(dtype=float)
    names = [str((labels or {}).get(s, s)) for s in data[step_col]]
    widest = max(values.max(), 1.0) if len(values) else 1.0
    y = list(range(len(data)))[::-1]
    colors = ["#C44E52" if s == highlight else "#4C72B0" for s in data[step_col]]
    ax.barh(y, values, left=(widest - values) / 2, color=colors, height=0.7)
    for i, (pos, value) in enumerate(zip(y, values, strict=True)):
        ax.text(widest / 2, pos, f"{value:,.0f}", ha="center", va="center", color="white")
        if i == 0:
            continue
        parts = []
        if drop_col in data.columns and pd.notna(data.loc[i, drop_col]):
            parts.append(f"{word} {data.loc[i, drop_col]:,.0f}")
        if conversion_col in data.columns and pd.notna(data.loc[i, conversion_col]):
            parts.append(f"→ {data.loc[i, conversion_col]:.0%}")
        if parts:
            ax.text(widest * 1.02, pos, "  ".join(parts), va="center", fontsize=9)
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.set_xlim(0, widest * 1.45)
    ax.set_xticks([])
    ax.set_xlabel(_label("reached", lang))
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax


def channel_roi_bars(
    roi: pd.DataFrame,
    *,
    channel_col: str = "lead_source",
    roi_col: str = "roi",
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Bars of ROI per channel, best first, red below zero (the channel lost money).

    Parameters
    ----------
    roi : DataFrame
        As returned by :func:`analysis_kit.funnel.channel_roi`.
    channel_col, roi_col : str
        The channel labels and the ROI (0.5 = the channel returned 1.5 times its cost).
    lang : {"zh", "en"}, default="zh"
        Language of the axis label.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    label = _label("roi", lang)
    ax = _axes(ax)
    data = roi.dropna(subset=[roi_col]).sort_values(roi_col, ascending=False)
    colors = ["#4C72B0" if v >= 0 else "#C44E52" for v in data[roi_col]]
    y = list(range(len(data)))[::-1]
    ax.barh(y, data[roi_col], color=colors, height=0.7)
    for pos, value in zip(y, data[roi_col], strict=True):
        ax.annotate(
            f" {value:.0%} ",
            (value, pos),
            va="center",
            fontsize=9,
            ha="left" if value >= 0 else "right",
        )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([str(c) for c in data[channel_col]])
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel(label)
    if title:
        ax.set_title(title)
    return ax


def cohort_bars(
    cohorts: pd.DataFrame,
    *,
    cohort_col: str = "cohort",
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Stacked bars of won, lost and open deals per creation cohort.

    Parameters
    ----------
    cohorts : DataFrame
        As returned by :func:`analysis_kit.funnel.deal_cohorts` (columns ``won``, ``lost``,
        ``open``).
    cohort_col : str, default="cohort"
        The cohort labels, in time order.
    lang : {"zh", "en"}, default="zh"
        Language of the legend and axis label.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    names = {k: _label(k, lang) for k in ("won", "lost", "open", "deals")}
    ax = _axes(ax)
    x = list(range(len(cohorts)))
    bottom = pd.Series(0.0, index=cohorts.index)
    for key, color in (("won", "#55A868"), ("lost", "#C44E52"), ("open", "#A0A0A0")):
        ax.bar(x, cohorts[key], bottom=bottom, color=color, label=names[key], width=0.8)
        bottom = bottom + cohorts[key]
    ax.set_xticks(x)
    ax.set_xticklabels([str(c) for c in cohorts[cohort_col]], rotation=45, ha="right")
    ax.set_ylabel(names["deals"])
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return ax


def conversion_time_hist(
    units: pd.DataFrame,
    *,
    seconds_col: str = "seconds_2",
    unit: str = "days",
    bins: int = 20,
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Histogram of time to convert, with the median marked.

    Parameters
    ----------
    units : DataFrame
        As returned by :func:`analysis_kit.funnel.event_funnel_units` (pandas).
    seconds_col : str, default="seconds_2"
        Seconds from the start to a step; units that did not reach it (missing) are left out.
    unit : {"days", "hours"}, default="days"
        The x-axis unit.
    bins : int, default=20
        Number of bars.
    lang : {"zh", "en"}, default="zh"
        Language of the axis labels.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    if unit not in ("days", "hours"):
        raise ValueError(f"unit must be one of ['days', 'hours']; got {unit!r}")
    xlabel = _label(unit, lang)
    ax = _axes(ax)
    values = pd.to_numeric(units[seconds_col]).dropna() / (86_400 if unit == "days" else 3_600)
    if len(values):
        ax.hist(values, bins=bins, color="#4C72B0")
        ax.axvline(values.median(), color="#C44E52", linestyle="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_label("units", lang))
    if title:
        ax.set_title(title)
    return ax


def funnel_breakdown_lines(
    funnel: pd.DataFrame,
    *,
    by: str,
    step_col: str = "step",
    value_col: str = "conversion_from_first",
    labels: dict | None = None,
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """One line per group through the funnel's steps: where each group loses its units.

    Parameters
    ----------
    funnel : DataFrame
        A broken-down funnel, as :func:`analysis_kit.funnel.stage_funnel` returns with ``by=``
        (mask personal names such as ``owner`` first).
    by : str
        The group column.
    step_col, value_col : str
        The steps (x, in row order) and the share of the group still in the funnel (y, 0–1).
    labels : dict, optional
        Replacement step labels, e.g. :data:`analysis_kit.funnel.STEP_LABELS_EN`.
    lang : {"zh", "en"}, default="zh"
        Language of the axis label.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

    ylabel = _label("share", lang)
    ax = _axes(ax)
    data = funnel.assign(
        **{
            step_col: [str((labels or {}).get(s, s)) for s in funnel[step_col]],
            by: funnel[by].astype("object").where(funnel[by].notna(), "—").astype(str),
        }
    )
    order = list(dict.fromkeys(data[step_col]))
    sns.pointplot(data=data, x=step_col, y=value_col, hue=by, order=order, ax=ax, errorbar=None)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=30)
    ax.legend(title="", bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    if title:
        ax.set_title(title)
    return ax


# --- CLV and cross-sell (notebook 07) ---------------------------------------------------------------

_CLV_LABELS = {
    "customers": {"zh": "客户数", "en": "Customers"},
    "value": {"zh": "预期价值（元）", "en": "Expected value (yuan)"},
    "median": {"zh": "中位数", "en": "median"},
    "mean": {"zh": "平均值", "en": "mean"},
    "frequency_cal": {"zh": "校准期复购次数", "en": "Repeat purchases in calibration"},
    "holdout": {"zh": "验证期平均购买次数", "en": "Mean purchases in holdout"},
    "actual": {"zh": "实际", "en": "actual"},
    "predicted": {"zh": "BG/NBD 预测", "en": "BG/NBD predicted"},
}


def clv_distribution(
    clv: pd.DataFrame,
    *,
    value_col: str = "clv_12m",
    bins: int = 20,
    log_scale: bool = False,
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Histogram of customer lifetime value, with the median and the mean marked.

    CLV is usually very skewed (a few customers hold most of the value): the mean lies far to
    the right of the median, which the two lines make visible. ``log_scale=True`` spreads the
    long tail out.

    Parameters
    ----------
    clv : DataFrame
        As returned by :func:`analysis_kit.clv.customer_lifetime_value`.
    value_col : str, default="clv_12m"
        The value to show; missing values are left out.
    bins : int, default=20
        Number of bars.
    log_scale : bool, default=False
        Log-scaled x axis (values <= 0 are left out then).
    lang : {"zh", "en"}, default="zh"
        Language of the axis labels.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    import numpy as np

    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1; got {bins!r}")
    labels = {k: _label(k, lang) for k in ("customers", "value", "median", "mean")}
    ax = _axes(ax)
    values = pd.to_numeric(clv[value_col]).dropna()
    if log_scale:
        values = values[values > 0]
    if len(values):
        edges = (
            np.geomspace(values.min(), values.max(), bins + 1)
            if log_scale and values.max() > values.min()
            else bins
        )
        ax.hist(values, bins=edges, color="#4C72B0")
        ax.axvline(
            values.median(),
            color="#C44E52",
            linestyle="--",
            label=f"{labels['median']} {values.median():,.0f}",
        )
        ax.axvline(
            values.mean(),
            color="#DD8452",
            linestyle=":",
            label=f"{labels['mean']} {values.mean():,.0f}",
        )
        ax.legend(frameon=False)
    if log_scale:
        ax.set_xscale("log")
    else:
        _money_axis(ax.xaxis, lang)
    ax.set_xlabel(labels["value"])
    ax.set_ylabel(labels["customers"])
    if title:
        ax.set_title(title)
    return ax


def holdout_purchases(
    by_frequency: pd.DataFrame,
    *,
    label_col: str = "label",
    actual_col: str = "actual",
    predicted_col: str = "predicted",
    lang: str = "zh",
    title: str | None = None,
    ax=None,
):
    """Mean actual against predicted holdout purchases by calibration frequency.

    The check of Fader, Hardie and Lee (2005, figure 4): when the two lines stay close, the
    BG/NBD model predicts the purchases it did not see.

    Parameters
    ----------
    by_frequency : DataFrame
        As returned by :func:`analysis_kit.clv.holdout_by_frequency`.
    label_col, actual_col, predicted_col : str
        The group labels (x, in row order) and the two means.
    lang : {"zh", "en"}, default="zh"
        Language of the axis labels and legend.
    title : str, optional
        The chart title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
    """
    labels = {k: _label(k, lang) for k in ("frequency_cal", "holdout", "actual", "predicted")}
    ax = _axes(ax)
    x = list(range(len(by_frequency)))
    ax.plot(x, by_frequency[actual_col], marker="o", color="#4C72B0", label=labels["actual"])
    ax.plot(
        x,
        by_frequency[predicted_col],
        marker="s",
        linestyle="--",
        color="#C44E52",
        label=labels["predicted"],
    )
    ax.set_xticks(x)
    ax.set_xticklabels([str(v) for v in by_frequency[label_col]])
    ax.set_xlabel(labels["frequency_cal"])
    ax.set_ylabel(labels["holdout"])
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return ax
