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
    "cluster_scatter",
    "find_cjk_font",
    "need_share_lines",
    "rfm_heatmap",
    "segment_bars",
    "set_theme",
    "silhouette_curve",
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

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

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

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

    ax = _axes(ax)
    data = monthly.assign(**{month_col: monthly[month_col].astype("str")})
    sns.lineplot(data=data, x=month_col, y=share_col, hue=need_col, marker="o", ax=ax)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.tick_params(axis="x", rotation=45)
    ax.set_xlabel("")
    ax.legend(title="", bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    if title:
        ax.set_title(title)
    return ax
