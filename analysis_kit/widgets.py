"""Interactive explorers for JupyterLab: turn a knob, see the table and the chart change.

Each explorer is a thin layer over the package's pure functions, like seaborn's ``widgets.py``:
its controls only gather arguments, and every table it shows is what the analysis function
returns for them. There are four:

- :func:`rfm_explorer` – score bins, segment scheme and one segment → :func:`~analysis_kit.rfm.rfm_scores`,
  :func:`~analysis_kit.rfm.rfm_segments`, :func:`~analysis_kit.rfm.segment_table`, an R × F heat
  map and segment bars, and the customers of the chosen segment. The bins slider is switched off
  while the scheme is ``cn8``, whose segments split at the means whatever the bins.
- :func:`customer_filter` – grade, minimum match score, priority, industry and churn risk → the
  call list of :func:`~analysis_kit.tagging.call_list`.
- :func:`funnel_explorer` – funnel preset, breakdown column and conversion window →
  :func:`~analysis_kit.funnel.stage_funnel` (no window) or :func:`~analysis_kit.funnel.event_funnel`
  (a window) and the funnel chart.
- :func:`cluster_explorer` – k and features → :func:`~analysis_kit.clustering.cluster_customers`,
  the cluster profiles and the PCA scatter.

Each returns an :class:`Explorer`: ``controls`` (name → ipywidgets control), ``output`` (the
:class:`ipywidgets.Output` it writes to), ``widget`` (controls and output in one box, what a
notebook displays), ``results`` (everything the last update computed, ``table`` being the main
table) and ``update()``. Setting a control's value updates the explorer at once, so
``explorer.controls["bins"].value = 3; explorer.table`` is the segment table for 3 bins.

Every table shown goes through :func:`analysis_kit.privacy.mask_frame`, so names and phone
numbers are masked in the notebook and in a saved report, and then through
:func:`analysis_kit.tables.show_table`, so it reads like the tables of the pages: labelled
headers in the explorer's language, no long floats, durations in days. Options are labelled too
(全部 / All, 无 / None, column labels instead of column names; the values stay the raw values and
column names), descriptions are never cut off, and a "保存为 Excel / Save to Excel" button writes
the list on screen, masked, with the same headers and codes kept as text (:meth:`Explorer.export`,
through :func:`analysis_kit.exports.write_table`). ``results`` holds the unmasked
tables, as the analysis functions return them. Charts are drawn on figures that matplotlib's
pyplot never sees, written into the output as PNG and dropped, so nothing accumulates.

ipywidgets (the ``notebook`` extra) is imported only when an explorer is built: importing this
module needs nothing beyond the package, and the headless report path never needs ipywidgets.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import plotting
from .clustering import cluster_customers
from .columns import CHOICES, CUSTOMER_ID, STAGE, require_columns
from .errors import AnalysisKitError
from .funnel import (
    ENTERED_AT,
    FUNNEL_PRESETS,
    OPPORTUNITY_ID,
    STEP_LABELS_EN,
    event_funnel,
    stage_funnel,
    step_names,
    weakest_step,
)
from .privacy import PERSONAL_COLUMNS, mask_frame
from .rfm import CLASSIC_SEGMENTS, CN8_SEGMENTS, rfm_scores, rfm_segments, segment_table
from .tables import column_label, show_table
from .tagging import call_list, describe_filter

__all__ = [
    "CALL_LIST_COLUMNS",
    "DEFAULT_BREAKDOWNS",
    "LABELS",
    "RFM_MEMBER_COLUMNS",
    "WINDOW_CHOICES",
    "Explorer",
    "cluster_explorer",
    "customer_filter",
    "funnel_explorer",
    "rfm_explorer",
]

#: Columns the funnel explorer offers as breakdowns, when the history has them.
DEFAULT_BREAKDOWNS: tuple[str, ...] = ("lead_source", "owner", "industry_l1", "region", "team")

#: Conversion windows (days) the funnel explorer offers besides "none".
WINDOW_CHOICES: tuple[int, ...] = (7, 14, 30, 60, 90, 180, 365)

#: Columns of the call list the customer filter shows, when present (``owner`` is masked).
CALL_LIST_COLUMNS: tuple[str, ...] = (
    CUSTOMER_ID,
    "customer_name",
    "grade",
    "priority",
    "match_score",
    "industry_l1",
    "churn_risk",
    "next_followup_due",
    "overdue",
    "owner",
)

#: Columns of the customers list the RFM explorer shows, when present (``segment_code``, e.g.
#: ``"011"``, with the ``cn8`` scheme only: the classic scheme's codes are its internal keys).
RFM_MEMBER_COLUMNS: tuple[str, ...] = (
    CUSTOMER_ID,
    "customer_name",
    "recency",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "segment_code",
    "segment",
)

#: Control labels, option labels and messages in Chinese and English.
LABELS: dict[str, dict[str, str]] = {
    "bins": {"zh": "打分档数", "en": "Score bins"},
    "scheme": {"zh": "分群方法", "en": "Scheme"},
    "segment": {"zh": "客户群", "en": "Segment"},
    "grade": {"zh": "客户等级", "en": "Grade"},
    "min_match": {"zh": "匹配度 ≥", "en": "Match score ≥"},
    "priority": {"zh": "优先级", "en": "Priority"},
    "industry": {"zh": "行业", "en": "Industry"},
    "churn_risk": {"zh": "流失风险", "en": "Churn risk"},
    "stages": {"zh": "漏斗步骤", "en": "Funnel"},
    "breakdown": {"zh": "拆分维度", "en": "Breakdown"},
    "window_days": {"zh": "转化窗口（天）", "en": "Window (days)"},
    "k": {"zh": "簇数 k", "en": "Clusters k"},
    "features": {"zh": "特征", "en": "Features"},
    "all": {"zh": "全部", "en": "All"},
    "auto": {"zh": "自动（轮廓系数）", "en": "auto (silhouette)"},
    "cn8": {"zh": "八类模型 cn8", "en": "8 classes (cn8)"},
    "classic": {"zh": "R×F 网格 classic", "en": "R×F grid (classic)"},
    "template": {"zh": "模板六阶段", "en": "Template, six stages"},
    "lead": {"zh": "线索五步", "en": "Lead funnel, five steps"},
    "cn8_bins": {
        "zh": "八类模型按平均值划分高低，打分档数不改变分群，因此档数滑块已停用；"
        "选 R×F 网格 classic 后可调整。",
        "en": "The cn8 model splits at the means, so the bins do not change its segments: "
        "the bins slider is off until you choose the R×F grid (classic).",
    },
    "export": {"zh": "保存为 Excel", "en": "Save to Excel"},
    "exported": {"zh": "已保存 {n} 行：{path}", "en": "Saved {n} rows: {path}"},
    "none": {"zh": "无", "en": "None"},
    # option labels of the template's values (the values stay as the data has them)
    "grade:重点": {"zh": "重点", "en": "Key (重点)"},
    "grade:潜在": {"zh": "潜在", "en": "Prospect (潜在)"},
    "grade:普通": {"zh": "普通", "en": "Regular (普通)"},
    "priority:高": {"zh": "高", "en": "High (高)"},
    "priority:中": {"zh": "中", "en": "Medium (中)"},
    "priority:低": {"zh": "低", "en": "Low (低)"},
    # a cluster profile's statistic of a feature: "<feature label>（平均）"
    "mean": {"zh": "平均", "en": "mean"},
    "median": {"zh": "中位数", "en": "median"},
    "yes": {"zh": "是", "en": "Yes"},
    "no": {"zh": "否", "en": "No"},
    "customers": {"zh": "{n} 位客户", "en": "{n} customers"},
    "segment_customers": {
        "zh": "{segment}：{n} 位客户（按金额显示前 {top}）",
        "en": "{segment}: {n} customers (top {top} by spend shown)",
    },
    "conditions": {"zh": "筛选条件：{text}", "en": "Conditions: {text}"},
    "no_conditions": {"zh": "无（全部客户）", "en": "none (every customer)"},
    "stage_funnel": {
        "zh": "阶段漏斗（到达后面的阶段即算经过前面的阶段）",
        "en": "Stage funnel (reaching a later stage counts the earlier ones)",
    },
    "event_funnel": {
        "zh": "事件漏斗：从第一步起 {days} 天内完成的步骤",
        "en": "Event funnel: steps done within {days} days of the first",
    },
    "clusters": {"zh": "k = {k}，轮廓系数 {score:.3f}", "en": "k = {k}, silhouette {score:.3f}"},
    "two_features": {
        "zh": "至少选两个特征才能画二维图",
        "en": "Choose at least two features for the 2-D view",
    },
    "rfm_title": {"zh": "R × F 客户数", "en": "Customers by R and F score"},
    "bars_title": {"zh": "各群客户数（标注为收入占比）", "en": "Customers (label: revenue share)"},
    "funnel_title": {"zh": "漏斗（红色为最薄弱环节）", "en": "Funnel (red: the weakest step)"},
    "lines_title": {"zh": "各组到达各步骤的比例", "en": "Share of each group reaching each step"},
    "pca_title": {"zh": "PCA 二维视图：{share:.0%}", "en": "PCA view: {share:.0%}"},
}

_LANGS = ("zh", "en")
_CAUGHT = (AnalysisKitError, ValueError, KeyError)


# --- the explorer ----------------------------------------------------------------------------------


def _ipywidgets():
    """Import ipywidgets, or say how to install it."""
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - ipywidgets is in the notebook extra
        raise ImportError(
            "the explorers need ipywidgets: pip install 'analysis_kit[notebook]' "
            "(or conda install ipywidgets)"
        ) from exc
    return ipywidgets


@functools.cache
def _choice_dropdown() -> type:
    """Return the Dropdown subclass whose None option ("全部", "无") shows its label.

    ipywidgets takes a value of None as "nothing selected" and shows a blank box even when an
    option's value is None; this subclass selects that option instead. Built on first use, so
    importing this module needs no ipywidgets.
    """
    widgets = _ipywidgets()
    from traitlets import observe

    class ChoiceDropdown(widgets.Dropdown):
        @observe("value")
        def _propagate_value(self, change):
            if change.new is None and None in self._options_values:
                index = self._options_values.index(None)
                if self.index != index:
                    self.index = index
                return
            super()._propagate_value(change)

    return ChoiceDropdown


def _dropdown(**kwargs: Any):
    """Return a :func:`_choice_dropdown`, its description as wide as it needs."""
    kwargs.setdefault("style", {"description_width": "initial"})
    return _choice_dropdown()(**kwargs)


def _label(key: str, lang: str, **fields: object) -> str:
    text = LABELS[key][lang]
    return text.format(**fields) if fields else text


class _View:
    """What one update computed: results, the items to show, new control options, the list.

    ``headers`` maps a column of a shown table to its header where the page's labels
    (:func:`analysis_kit.tables.column_label`) have none or a misleading one; the screen and the
    saved file both use it.
    """

    def __init__(
        self,
        results: Mapping[str, Any],
        items: Sequence[object],
        options: Mapping[str, tuple[list, object]] | None = None,
        listed: pd.DataFrame | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self.results = dict(results)
        self.items = list(items)
        self.options = dict(options or {})
        self.listed = listed
        self.headers = dict(headers or {})


class Explorer:
    """Controls, an output area and the analysis call that fills it from the controls' values.

    Built by :func:`rfm_explorer`, :func:`customer_filter`, :func:`funnel_explorer` and
    :func:`cluster_explorer`; display it (or its ``widget``) in a notebook.

    Parameters
    ----------
    controls : mapping of str to ipywidgets control
        The controls, by name; each has a ``value``.
    compute : callable
        Takes ``{name: value}`` of the controls and returns what to show; it calls the package's
        analysis functions and nothing else.
    lang : {"zh", "en"}, default="zh"
        Language of the tables' headers, the button and its message.
    name : str, default="explorer"
        The start of the default file name of :meth:`export`.
    export_dir : path, optional
        The folder :meth:`export` and the button save to (created when missing); the current
        folder by default.

    Attributes
    ----------
    controls : dict
        Name → control. Setting ``controls[name].value`` updates the explorer.
    output : ipywidgets.Output
        The area the tables, messages and charts are written to.
    widget : ipywidgets.VBox
        The controls above the output: what the notebook shows.
    results : dict
        What the last update computed, unmasked; ``results["table"]`` is the main table.
    error : str or None
        The message of the last update when a control's value made the analysis fail (the
        output then shows it instead of a table); None after a successful update.
    button : ipywidgets.Button
        "保存为 Excel / Save to Excel": calls :meth:`export` and says where the file went.
    status : ipywidgets.HTML
        The line beside the button: the saved file's name and rows, or why saving failed.
    """

    def __init__(
        self,
        controls: Mapping[str, Any],
        compute: Callable[[dict], _View],
        *,
        lang: str = "zh",
        name: str = "explorer",
        export_dir: str | os.PathLike | None = None,
    ):
        widgets = _ipywidgets()
        _check_lang(lang)
        self.lang = lang
        self.name = name
        self.export_dir = None if export_dir is None else Path(export_dir)
        self.controls = dict(controls)
        self.output = widgets.Output()
        self.button = widgets.Button(
            description=_label("export", lang),
            icon="download",
            tooltip=_label("export", lang),
            layout={"width": "auto"},
        )
        self.status = widgets.HTML()
        self.button.on_click(self._export_clicked)
        self.widget = widgets.VBox(
            [
                widgets.HBox(list(self.controls.values()), layout={"flex_flow": "row wrap"}),
                widgets.HBox([self.button, self.status]),
                self.output,
            ]
        )
        self.results: dict[str, Any] = {}
        self.error: str | None = None
        self._listed: pd.DataFrame | None = None
        self._headers: dict[str, str] = {}
        self._compute = compute
        self._busy = False
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.update()

    @property
    def listed(self) -> pd.DataFrame | None:
        """The list on screen (unmasked, all its rows), what :meth:`export` saves."""
        return self._listed

    def export(self, path: str | os.PathLike | None = None) -> Path:
        """Save the list on screen, masked, as an Excel workbook; return its path.

        The rows are the whole list the screen shows the first rows of (the customers of the
        chosen segment, the call list, the funnel, the cluster profiles), with the headers,
        yes/no words and durations in days as shown; names and phones masked, codes stored as
        text (:func:`analysis_kit.exports.write_table`, which masks with
        :func:`analysis_kit.privacy.mask_frame`).

        Parameters
        ----------
        path : path, optional
            The file, or a folder to save ``<name>_<yyyymmdd-hhmmss>.xlsx`` in; by default that
            name in ``export_dir``, or in the current folder.

        Returns
        -------
        Path
            The file written.

        Raises
        ------
        AnalysisKitError
            When the last update failed, so there is no list to save.
        """
        from datetime import datetime

        from .exports import write_table

        if self._listed is None:
            raise AnalysisKitError(f"nothing to save: {self.error or 'no list yet'}")
        target = Path(path) if path is not None else self.export_dir or Path()
        if path is None or target.is_dir():
            target = target / f"{self.name}_{datetime.now():%Y%m%d-%H%M%S}.xlsx"
        target.parent.mkdir(parents=True, exist_ok=True)
        # headers the page's labels lack go in as the columns' names (never a personal column's:
        # masking goes by column name); write_table labels the rest as the screen does
        headers = {c: h for c, h in self._headers.items() if c not in PERSONAL_COLUMNS}
        return write_table(
            self._listed.rename(columns=headers), target, lang=self.lang, sheet=self.name
        )

    def _export_clicked(self, _button: Any) -> None:
        try:
            path = self.export()
        except (AnalysisKitError, OSError) as exc:
            self.status.value = html.escape(f"⚠ {exc}")
            return
        n = len(self._listed) if self._listed is not None else 0
        self.status.value = html.escape(_label("exported", self.lang, n=n, path=path.name))
        self.status.tooltip = str(path.resolve())

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    @property
    def table(self) -> pd.DataFrame | None:
        """The main table of the last update (unmasked), or None after a failed update."""
        return self.results.get("table")

    def update(self) -> None:
        """Recompute from the controls' values and redraw the output.

        Raises
        ------
        AnalysisKitError, ValueError, KeyError
            When the analysis rejects the values. (A change made through a control never
            raises: its message is shown in the output and kept in :attr:`error`.)
        """
        view = self._compute(self.values)
        self._set_options(view.options)
        self.results = view.results
        self._listed = view.listed
        self._headers = view.headers
        self.error = None
        self.status.value = ""
        self.output.outputs = tuple(_output(item, self.lang, view.headers) for item in view.items)

    def _changed(self, change: Mapping[str, Any]) -> None:
        if self._busy:
            return
        try:
            self.update()
        except _CAUGHT as exc:
            self.results = {}
            self._listed = None
            self._headers = {}
            self.error = f"{type(exc).__name__}: {exc}"
            self.output.outputs = (_text_output(f"⚠ {self.error}"),)

    def _set_options(self, options: Mapping[str, tuple[list, object]]) -> None:
        """Replace some controls' options without triggering another update."""
        self._busy = True
        try:
            for name, (choices, value) in options.items():
                control = self.controls[name]
                if list(control.options) != list(choices):
                    control.options = choices
                control.value = value
        finally:
            self._busy = False

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _text_output(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text + "\n"}


def _output(
    item: object, lang: str = "zh", headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One output of the ``Output`` widget: a masked table, a message or a PNG of a figure."""
    from matplotlib.figure import Figure

    if isinstance(item, pd.DataFrame):
        frame = item.reset_index() if item.index.name is not None else item
        frame = mask_frame(frame.reset_index(drop=True))
        return {
            "output_type": "display_data",
            "data": {
                "text/html": str(show_table(frame, lang=lang, max_rows=None, labels=headers)),
                "text/plain": frame.round(
                    dict.fromkeys(frame.select_dtypes("float").columns, 3)
                ).to_string(index=False),
            },
            "metadata": {},
        }
    if isinstance(item, Figure):
        buffer = io.BytesIO()
        item.savefig(buffer, format="png", bbox_inches="tight")
        return {
            "output_type": "display_data",
            "data": {
                "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "text/plain": f"<Figure {item.get_figwidth():g}x{item.get_figheight():g} in>",
            },
            "metadata": {},
        }
    return _text_output(str(item))


def _figure(ncols: int = 1, width: float = 7.0, height: float = 4.5):
    """Return a figure and axes outside pyplot's registry (nothing to close or show twice)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


# --- validation helpers ----------------------------------------------------------------------------


def _check_lang(lang: object) -> None:
    if lang not in _LANGS:
        raise ValueError(f"lang must be one of {list(_LANGS)}; got {lang!r}")


def _check_in(name: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")


def _choices(values: pd.Series, order: Sequence[str] = ()) -> list[str]:
    """Distinct non-blank values: those of ``order`` first, in its order, then the rest sorted.

    Missing and blank values are not offered: an option without a label shows as an empty line.
    """
    present = {str(v) for v in values.dropna().unique() if str(v).strip()}
    known = [v for v in order if v in present]
    return known + sorted(present - set(known))


def _with_all(
    choices: Sequence[object], lang: str, field: str | None = None
) -> list[tuple[str, object]]:
    """Return ``(label, value)`` options: "全部" / "All" (None) first, then each choice.

    A choice is labelled by ``LABELS["<field>:<choice>"]`` when there is one (the template's
    grades and priorities in English), else by its text; the values stay the choices.
    """
    options: list[tuple[str, object]] = [(_label("all", lang), None)]
    for choice in choices:
        key = f"{field}:{choice}"
        options.append((_label(key, lang) if key in LABELS else str(choice), choice))
    return options


# --- RFM -------------------------------------------------------------------------------------------


def _segment_options(scheme: str, lang: str) -> list[tuple[str, object]]:
    table = CN8_SEGMENTS if scheme == "cn8" else CLASSIC_SEGMENTS
    return _with_all([entry[lang] for entry in table.values()], lang)


def rfm_explorer(
    summary: pd.DataFrame,
    *,
    bins: int = 5,
    scheme: str = "cn8",
    segment: str | None = None,
    top_n: int = 20,
    lang: str = "zh",
    export_dir: str | os.PathLike | None = None,
    customer_col: str = CUSTOMER_ID,
    recency_col: str = "recency",
    frequency_col: str = "frequency",
    monetary_col: str = "monetary",
) -> Explorer:
    """Explore RFM scores and segments: bins, scheme and one segment's customers.

    Each update calls ``rfm_scores(summary, bins=bins)``, ``rfm_segments(scores, scheme=scheme,
    lang=lang)`` and ``segment_table(segmented)``, and draws
    :func:`analysis_kit.plotting.rfm_heatmap` beside :func:`analysis_kit.plotting.segment_bars`.

    Parameters
    ----------
    summary : DataFrame
        One row per customer, as :func:`analysis_kit.rfm.rfm_summary` returns (``days``
        convention). Columns such as ``customer_name`` joined to it are shown in the list.
    bins : int, default=5
        Initial number of score levels; the control offers 2 to 10 (the ``classic`` scheme
        needs scores 1–5, so more than 5 bins shows its error instead of a table).
    scheme : {"cn8", "classic"}, default="cn8"
        Initial segment scheme.
    segment : str, optional
        Initial segment label (in ``lang``) whose customers are listed; None lists everyone.
    top_n : int, default=20
        Customers listed, highest ``monetary`` first.
    lang : {"zh", "en"}, default="zh"
        Language of the segment labels, the controls and the charts.
    export_dir : path, optional
        Folder of the "save to Excel" button's files; the current folder by default.
    customer_col, recency_col, frequency_col, monetary_col : str
        Columns of ``summary``.

    Returns
    -------
    Explorer
        Controls ``bins`` (IntSlider; disabled while the scheme is ``cn8``, which splits at
        the means whatever the bins, with the reason in its tooltip and under the table),
        ``scheme`` and ``segment`` (Dropdowns; the segment's options follow the scheme, "all"
        is None). :attr:`Explorer.listed` and the Excel button: the chosen segment's customers
        (:data:`RFM_MEMBER_COLUMNS`, highest ``monetary`` first). ``results`` holds ``scores``
        (the output of ``rfm_scores``), ``segmented`` (of ``rfm_segments``), ``table`` (of
        ``segment_table``: ``segment``, ``customers``, ``customer_share``, ``revenue``,
        ``revenue_share``, ``mean_recency``, ``mean_frequency``, ``mean_monetary``) and
        ``members`` (the rows of ``segmented`` in the chosen segment, all columns, highest
        ``monetary`` first).

    Raises
    ------
    ValueError
        A bad ``bins``, ``scheme``, ``segment``, ``top_n`` or ``lang``.
    SchemaError
        ``summary`` lacks a column.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis_kit.rfm import rfm_scores, rfm_segments, segment_table
    >>> summary = pd.DataFrame({"customer_id": ["A", "B", "C", "D"], "recency": [1, 10, 10, 40],
    ...                         "frequency": [5, 1, 1, 2], "monetary": [900.0, 100.0, 50.0, 300.0]})
    >>> explorer = rfm_explorer(summary, lang="en")
    >>> explorer.controls["bins"].value = 3
    >>> direct = segment_table(rfm_segments(rfm_scores(summary, bins=3), lang="en"))
    >>> explorer.table.equals(direct)
    True
    """
    widgets = _ipywidgets()
    _check_lang(lang)
    _check_in("scheme", scheme, ("cn8", "classic"))
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 10:
        raise ValueError(f"bins must be an integer from 2 to 10; got {bins!r}")
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ValueError(f"top_n must be an integer >= 1; got {top_n!r}")
    options = _segment_options(scheme, lang)
    _check_in("segment", segment, [value for _, value in options])
    require_columns(
        summary.columns,
        [customer_col, recency_col, frequency_col, monetary_col],
        where="rfm_explorer",
    )
    shown = list(dict.fromkeys((customer_col, *RFM_MEMBER_COLUMNS)))
    controls = {
        "bins": widgets.IntSlider(
            value=bins,
            min=2,
            max=10,
            description=_label("bins", lang),
            style={"description_width": "initial"},
        ),
        "scheme": _dropdown(
            options=[(_label(k, lang), k) for k in ("cn8", "classic")],
            value=scheme,
            description=_label("scheme", lang),
        ),
        "segment": _dropdown(options=options, value=segment, description=_label("segment", lang)),
    }

    def bins_follow_scheme(_change: object = None) -> None:
        # cn8 splits at the means: the bins cannot change its segments, so the slider is off
        cn8 = controls["scheme"].value == "cn8"
        controls["bins"].disabled = cn8
        controls["bins"].tooltip = _label("cn8_bins", lang) if cn8 else None

    bins_follow_scheme()
    controls["scheme"].observe(bins_follow_scheme, names="value")  # before the explorer's update
    cols = {
        "recency_col": recency_col,
        "frequency_col": frequency_col,
        "monetary_col": monetary_col,
    }

    def compute(values: dict) -> _View:
        scores = rfm_scores(summary, bins=values["bins"], **cols)
        segmented = rfm_segments(scores, scheme=values["scheme"], lang=lang, **cols)
        table = segment_table(segmented, **cols)
        choices = _segment_options(values["scheme"], lang)
        chosen = values["segment"] if values["segment"] in [v for _, v in choices] else None
        members = segmented if chosen is None else segmented[segmented["segment"] == chosen]
        members = members.sort_values(monetary_col, ascending=False, kind="stable")
        fig, (left, right) = _figure(2, width=12.0)
        plotting.rfm_heatmap(scores, title=_label("rfm_title", lang), ax=left)
        plotting.segment_bars(table, title=_label("bars_title", lang), ax=right, lang=lang)
        heading = _label(
            "segment_customers",
            lang,
            segment=_label("all", lang) if chosen is None else chosen,
            n=len(members),
            top=top_n,
        )
        cn8 = values["scheme"] == "cn8"
        listed = members[
            [c for c in shown if c in members.columns and (cn8 or c != "segment_code")]
        ]
        items: list[object] = [table, fig]
        if cn8:  # why the bins slider is off
            items.append(_label("cn8_bins", lang))
        items += [heading, listed.head(top_n)]
        results = {"scores": scores, "segmented": segmented, "table": table, "members": members}
        return _View(results, items, {"segment": (choices, chosen)}, listed=listed)

    return Explorer(controls, compute, lang=lang, name="rfm", export_dir=export_dir)


# --- customer filter -------------------------------------------------------------------------------


def customer_filter(
    customers: pd.DataFrame,
    *,
    grade: str | None = None,
    min_match: int | None = None,
    priority: str | None = None,
    industry: str | None = None,
    churn_risk: bool | None = None,
    top_n: int = 20,
    columns: Sequence[str] = CALL_LIST_COLUMNS,
    lang: str = "zh",
    export_dir: str | os.PathLike | None = None,
    grade_col: str = "grade",
    match_score_col: str = "match_score",
    priority_col: str = "priority",
    industry_col: str = "industry_l1",
    churn_col: str = "churn_risk",
) -> Explorer:
    """Filter customers by the tag rules' fields and list whom to call first.

    Each update turns the controls into conditions for :func:`analysis_kit.tagging.call_list`
    (``grade == …``, ``match_score >= …``, ``priority == …``, ``industry_l1 == …``,
    ``churn_risk == …``; a control set to "all" adds none) and shows the first ``top_n`` rows,
    高 priority and best match first, with names masked.

    Parameters
    ----------
    customers : DataFrame
        Customers, best tagged by :func:`analysis_kit.tagging.apply_tags` (which adds
        ``churn_risk`` and ``next_followup_due``). A control is offered only for a column the
        table has.
    grade, priority, industry : str, optional
        Initial values (one of the values in the column); None is "all".
    min_match : int, optional
        Initial minimum match score, 1–5; None is "all".
    churn_risk : bool, optional
        Initial churn-risk choice; None is "all".
    top_n : int, default=20
        Rows shown.
    columns : sequence of str, default=CALL_LIST_COLUMNS
        Columns shown, when present.
    lang : {"zh", "en"}, default="zh"
        Language of the controls and messages (English option labels for the template's grades
        and priorities; the values stay as the data has them).
    export_dir : path, optional
        Folder of the "save to Excel" button's files; the current folder by default.
    grade_col, match_score_col, priority_col, industry_col, churn_col : str
        Columns of ``customers``.

    Returns
    -------
    Explorer
        Controls ``grade``, ``min_match``, ``priority``, ``industry`` and ``churn_risk``
        (Dropdowns, for the columns present). ``results`` holds ``conditions`` (the list of
        ``(column, op, value)`` passed to ``call_list``) and ``table`` (the call list: the
        matching rows of ``customers``, all columns, sorted by priority then match score).
        :attr:`Explorer.listed` and the Excel button: the whole call list in ``columns``.

    Raises
    ------
    ValueError
        An initial value that is not among the column's values, or a bad ``top_n`` or ``lang``.
    """
    _ipywidgets()  # say how to install it before anything else
    _check_lang(lang)
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ValueError(f"top_n must be an integer >= 1; got {top_n!r}")
    yes_no = [(_label("all", lang), None), (_label("yes", lang), True), (_label("no", lang), False)]
    specs = [
        (
            "grade",
            grade_col,
            "==",
            grade,
            lambda s: _with_all(_choices(s, CHOICES["grade"]), lang, "grade"),
        ),
        ("min_match", match_score_col, ">=", min_match, lambda s: _with_all(range(1, 6), lang)),
        (
            "priority",
            priority_col,
            "==",
            priority,
            lambda s: _with_all(_choices(s, CHOICES["priority"]), lang, "priority"),
        ),
        ("industry", industry_col, "==", industry, lambda s: _with_all(_choices(s), lang)),
        ("churn_risk", churn_col, "==", churn_risk, lambda s: yes_no),
    ]
    controls = {}
    fields = {}
    for name, column, op, value, make_options in specs:
        if column not in customers.columns:
            if value is not None:
                raise ValueError(f"{name}={value!r} needs the column {column!r}, which is absent")
            continue
        options = make_options(customers[column])
        _check_in(name, value, [v for _, v in options])
        controls[name] = _dropdown(options=options, value=value, description=_label(name, lang))
        fields[name] = (column, op)
    shown = [c for c in columns if c in customers.columns]

    def compute(values: dict) -> _View:
        conditions = [
            (column, op, values[name])
            for name, (column, op) in fields.items()
            if values[name] is not None
        ]
        table = call_list(
            customers, conditions, priority_col=priority_col, match_score_col=match_score_col
        )
        text = describe_filter(conditions, lang) if conditions else _label("no_conditions", lang)
        items = [
            _label("conditions", lang, text=text) + " → " + _label("customers", lang, n=len(table)),
            table[shown].head(top_n),
        ]
        return _View({"conditions": conditions, "table": table}, items, listed=table[shown])

    return Explorer(controls, compute, lang=lang, name="call_list", export_dir=export_dir)


# --- funnel ----------------------------------------------------------------------------------------


def funnel_explorer(
    history: pd.DataFrame,
    *,
    stages: str = "template",
    breakdown: str | None = None,
    window_days: int | None = None,
    breakdowns: Sequence[str] = DEFAULT_BREAKDOWNS,
    as_of: Any = None,
    lang: str = "zh",
    export_dir: str | os.PathLike | None = None,
    id_col: str = OPPORTUNITY_ID,
    stage_col: str = STAGE,
    time_col: str = ENTERED_AT,
) -> Explorer:
    """Explore the stage funnel: preset, breakdown and conversion window.

    Without a window each update calls :func:`analysis_kit.funnel.stage_funnel` (reaching a
    later stage counts the earlier ones); with a window of N days it calls
    :func:`analysis_kit.funnel.event_funnel` on the same rows as events, with
    ``window=pd.Timedelta(days=N)``: a step counts only when it was entered within N days of
    the first step, and skipped stages are not filled in. For the event funnel each stage is
    relabelled with the preset step that covers it (``lead`` folds 方案提交 and 商务谈判 into
    方案报价). The chart is :func:`analysis_kit.plotting.funnel_bars`, or
    :func:`analysis_kit.plotting.funnel_breakdown_lines` with a breakdown (names masked).

    Parameters
    ----------
    history : DataFrame
        The stage history (商机阶段记录), one row per opportunity and stage entered, with any
        breakdown columns merged in (e.g. ``industry_l1`` from the customers table).
    stages : str, default="template"
        Initial preset, a key of :data:`analysis_kit.funnel.FUNNEL_PRESETS`.
    breakdown : str, optional
        Initial breakdown column, one of the ``breakdowns`` the history has; None for none.
    window_days : int, optional
        Initial conversion window in days; None for the stage funnel.
    breakdowns : sequence of str, default=DEFAULT_BREAKDOWNS
        Columns offered as breakdowns (those the history has).
    as_of : date-like, optional
        Passed to ``stage_funnel`` (rows entered later are ignored).
    lang : {"zh", "en"}, default="zh"
        Language of the controls and charts (English step labels with ``"en"``).
    export_dir : path, optional
        Folder of the "save to Excel" button's files; the current folder by default.
    id_col, stage_col, time_col : str
        Columns of ``history``.

    Returns
    -------
    Explorer
        Controls ``stages``, ``breakdown`` and ``window_days`` (Dropdowns; None is "none").
        ``results`` holds ``kind`` (``"stage"`` or ``"event"``) and ``table``: the output of
        ``stage_funnel`` (``step``, ``step_index``, ``reached``, ``conversion_from_previous``,
        ``conversion_from_first``, ``drop_off``, ``drop_off_rate``,
        ``median_days_from_previous``, ``mean_days_from_previous``) or of ``event_funnel``
        (the same counts with ``mean_seconds_from_previous``, ``median_seconds_from_previous``,
        ``mean_seconds_from_first``, ``median_seconds_from_first``), the breakdown column first
        when there is one. The table on screen, :attr:`Explorer.listed` and the Excel button
        name the steps in ``lang`` (:func:`analysis_kit.funnel.step_names`) and give durations
        in days, one decimal (the event funnel's ``*_seconds_*`` columns become
        ``mean_days_from_previous`` …, labelled 距上一步天数（平均） / "Days from previous
        (mean)" …).

    Raises
    ------
    ValueError
        A bad ``stages``, ``breakdown``, ``window_days`` or ``lang``.
    SchemaError
        ``history`` lacks a column.
    """
    _ipywidgets()  # say how to install it before anything else
    _check_lang(lang)
    _check_in("stages", stages, list(FUNNEL_PRESETS))
    require_columns(history.columns, [id_col, stage_col, time_col], where="funnel_explorer")
    offered = [c for c in dict.fromkeys(breakdowns) if c in history.columns]
    _check_in("breakdown", breakdown, [None, *offered])
    windows = sorted({*WINDOW_CHOICES, *([window_days] if window_days is not None else [])})
    if window_days is not None and (
        isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1
    ):
        raise ValueError(f"window_days must be None or an integer >= 1; got {window_days!r}")
    none = _label("none", lang)
    controls = {
        "stages": _dropdown(
            options=[(_label(k, lang) if k in LABELS else k, k) for k in FUNNEL_PRESETS],
            value=stages,
            description=_label("stages", lang),
        ),
        "breakdown": _dropdown(
            options=[(none, None), *[(column_label(c, lang), c) for c in offered]],
            value=breakdown,
            description=_label("breakdown", lang),
        ),
        "window_days": _dropdown(
            options=[(none, None), *[(str(w), w) for w in windows]],
            value=window_days,
            description=_label("window_days", lang),
        ),
    }
    labels = STEP_LABELS_EN if lang == "en" else None

    def compute(values: dict) -> _View:
        preset, by, window = values["stages"], values["breakdown"], values["window_days"]
        if window is None:
            table = stage_funnel(
                history,
                stages=preset,
                id_col=id_col,
                stage_col=stage_col,
                time_col=time_col,
                by=by,
                as_of=as_of,
            )
            heading = _label("stage_funnel", lang)
        else:
            step_of = {s: step for step, group in FUNNEL_PRESETS[preset].items() for s in group}
            events = history.assign(**{stage_col: history[stage_col].astype(object).map(step_of)})
            table = event_funnel(
                events,
                list(FUNNEL_PRESETS[preset]),
                unit_col=id_col,
                time_col=time_col,
                event_col=stage_col,
                window=pd.Timedelta(days=window),
                breakdown=by,
            )
            heading = _label("event_funnel", lang, days=window)
        fig, ax = _figure()
        if by is None:
            plotting.funnel_bars(
                table,
                highlight=weakest_step(table),
                labels=labels,
                lang=lang,
                title=_label("funnel_title", lang),
                ax=ax,
            )
        else:
            plotting.funnel_breakdown_lines(
                mask_frame(table),
                by=by,
                labels=labels,
                lang=lang,
                title=_label("lines_title", lang),
                ax=ax,
            )
        kind = "stage" if window is None else "event"
        shown = step_names(_in_days(table), lang)
        return _View({"kind": kind, "table": table}, [heading, fig, shown], listed=shown)

    return Explorer(controls, compute, lang=lang, name="funnel", export_dir=export_dir)


def _in_days(table: pd.DataFrame) -> pd.DataFrame:
    """Return a funnel with its durations in days, one decimal (``*_seconds_*`` → ``*_days_*``)."""
    renamed = {c: c.replace("_seconds_", "_days_") for c in table.columns if "_seconds_" in c}
    days = table.assign(**{c: table[c] / 86_400 for c in renamed}).rename(columns=renamed)
    rounded = [c for c in days.columns if "_days_" in c and pd.api.types.is_float_dtype(days[c])]
    return days.assign(**{c: days[c].round(1) for c in rounded})


# --- clustering ------------------------------------------------------------------------------------


def cluster_explorer(
    features: pd.DataFrame,
    *,
    k: int | str = "auto",
    columns: Sequence[str] | None = None,
    k_range: tuple[int, int] = (2, 8),
    random_state: int = 0,
    lang: str = "zh",
    export_dir: str | os.PathLike | None = None,
    customer_id_col: str = CUSTOMER_ID,
) -> Explorer:
    """Explore k-means clusters: the number of clusters and the features.

    Each update calls ``cluster_customers(features, k=k, k_range=k_range, columns=chosen,
    random_state=random_state)`` and shows the cluster profiles and
    :func:`analysis_kit.plotting.cluster_scatter` of the PCA view, points named by cluster.

    Parameters
    ----------
    features : DataFrame
        One row per customer (id as the index or in ``customer_id_col``), numeric features, e.g.
        an :func:`analysis_kit.rfm.rfm_summary` with profile fields joined.
    k : int or "auto", default="auto"
        Initial number of clusters; ``"auto"`` picks it by silhouette within ``k_range``.
    columns : sequence of str, optional
        Initially chosen features; every numeric column by default.
    k_range : tuple of (int, int), default=(2, 8)
        The k values offered and searched by ``"auto"``.
    random_state : int, default=0
        Fixed seed: the same choices always give the same clusters.
    lang : {"zh", "en"}, default="zh"
        Language of the controls, the cluster names in the chart and the messages.
    export_dir : path, optional
        Folder of the "save to Excel" button's files; the current folder by default.
    customer_id_col : str, default="customer_id"
        The customer id column, if not the index.

    Returns
    -------
    Explorer
        Controls ``k`` (Dropdown: ``"auto"`` and each k) and ``features`` (SelectMultiple of the
        numeric columns). ``results`` holds ``result`` (the
        :class:`~analysis_kit.clustering.ClusterResult`), ``table`` (its ``profiles``: index
        ``cluster``, ``name_zh``, ``name_en``, ``size``, ``share``, ``revenue_share`` when
        ``monetary`` is a feature, ``<feature>_mean`` and ``<feature>_median``) and
        ``embedding`` (its 2-D PCA view with a ``name`` column; None with one feature).
        The table on screen, :attr:`Explorer.listed` and the Excel button: the profiles with
        the cluster names in ``lang`` only, ``<feature>_mean`` labelled as the feature
        (平均) / (mean).

    Raises
    ------
    ValueError
        A bad ``k``, ``k_range``, ``random_state`` or ``lang``.
    SchemaError
        A chosen column is not a numeric column of ``features``.
    """
    widgets = _ipywidgets()
    _check_lang(lang)
    if isinstance(random_state, bool) or not isinstance(random_state, int):
        raise ValueError(f"random_state must be an integer (a fixed seed); got {random_state!r}")
    low, high = k_range
    if not (isinstance(low, int) and isinstance(high, int) and 2 <= low <= high):
        raise ValueError(f"k_range must be (low, high) with 2 <= low <= high; got {k_range!r}")
    numeric = [
        str(c)
        for c in features.columns
        if c != customer_id_col
        and pd.api.types.is_numeric_dtype(features[c])
        and not pd.api.types.is_bool_dtype(features[c])
    ]
    chosen = numeric if columns is None else list(columns)
    require_columns(numeric, chosen, where="cluster_explorer (numeric columns)")
    ks = ["auto", *range(low, high + 1)]
    if k not in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ValueError(f"k must be 'auto' or an integer >= 2; got {k!r}")
        ks.append(k)
    controls = {
        "k": _dropdown(
            options=[(_label("auto", lang) if v == "auto" else str(v), v) for v in ks],
            value=k,
            description=_label("k", lang),
        ),
        "features": widgets.SelectMultiple(
            options=[(column_label(c, lang), c) for c in numeric],
            value=tuple(chosen),
            description=_label("features", lang),
            style={"description_width": "initial"},
        ),
    }
    name_col, other_name = ("name_zh", "name_en") if lang == "zh" else ("name_en", "name_zh")

    def compute(values: dict) -> _View:
        picked = [c for c in numeric if c in values["features"]]
        result = cluster_customers(
            features,
            k=values["k"],
            k_range=(low, high),
            columns=picked,
            random_state=random_state,
            customer_id_col=customer_id_col,
        )
        score = float(result.silhouette.loc[result.k, "silhouette"])
        items: list[object] = [_label("clusters", lang, k=result.k, score=score), *result.notes]
        shown = result.profiles.drop(columns=other_name)
        items.append(shown)
        view = None
        if len(result.columns) >= 2:
            view = result.embedding(2)
            view["name"] = view["cluster"].map(result.profiles[name_col])
            share = sum(view.attrs["explained_variance_ratio"])
            fig, ax = _figure()
            plotting.cluster_scatter(
                view, hue="name", title=_label("pca_title", lang, share=share), ax=ax
            )
            items.append(fig)
        else:
            items.append(_label("two_features", lang))
        results = {"result": result, "table": result.profiles, "embedding": view}
        headers = _stat_headers(result.columns, shown.columns, lang)
        return _View(results, items, listed=shown, headers=headers)

    return Explorer(controls, compute, lang=lang, name="clusters", export_dir=export_dir)


def _stat_headers(features: Sequence[str], columns: Sequence[object], lang: str) -> dict[str, str]:
    """Return headers of a cluster profile's ``<feature>_mean`` and ``<feature>_median``.

    The feature's label, then 平均 / mean or 中位数 / median: ``monetary_mean`` is the mean of
    ``monetary`` here, not the spend per day the page's label says.
    """
    headers = {}
    for feature in features:
        label = column_label(feature, lang)
        for stat in ("mean", "median"):
            column = f"{feature}_{stat}"
            if column not in columns:
                continue
            word = _label(stat, lang)
            if label.endswith("）"):
                headers[column] = f"{label[:-1]}，{word}）"
            elif label.endswith(")"):
                headers[column] = f"{label[:-1]}, {word})"
            else:
                headers[column] = f"{label}（{word}）" if lang == "zh" else f"{label} ({word})"
    return headers
