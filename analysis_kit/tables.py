"""One table style for every table a reader sees: headers in the page's language, readable values.

:func:`show_table` turns a DataFrame into an HTML table for a notebook page or the index:

- headers in the page's language: template fields by their template header (``customer_name`` →
  客户名称), analysis columns from :data:`LABELS`, the rest as written; money columns say their
  unit in the header (``金额（元）``);
- money with thousands separators and no cents noise, shares and rates as percentages, other
  numbers with at most two decimals (never scientific notation), dates as dates, booleans as
  是/否 or yes/no, missing values as "—";
- no index column (a meaningful index is shown as a first column), long tables cut with
  "显示前 N / 共 M 行", wide tables scroll inside their box instead of running off the page.

The result displays itself in Jupyter (``_repr_html_``) and gives its HTML with ``str()``.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CODE_WORDS",
    "LABELS",
    "TABLE_NAMES_EN",
    "Table",
    "column_label",
    "readable_codes",
    "show_table",
]

#: Labels of analysis columns (template fields are labelled by their template header).
LABELS: dict[str, tuple[str, str]] = {
    "customers": ("客户数", "Customers"),
    "revenue": ("销售额", "Revenue"),
    "orders": ("订单数", "Orders"),
    "share": ("占比", "Share"),
    "revenue_share": ("销售额占比", "Revenue share"),
    "recency": ("最近购买（天前）", "Recency (days)"),
    "frequency": ("购买天数", "Frequency (days bought)"),
    "monetary": ("购买金额", "Monetary"),
    "segment": ("客户分群", "Segment"),
    "segment_code": ("分群代码", "Segment code"),
    "cluster": ("类别", "Cluster"),
    "size": ("人数", "Size"),
    "step": ("阶段", "Step"),
    "reached": ("到达数", "Reached"),
    "conversion_from_previous": ("较上一步转化率", "Conversion from previous"),
    "conversion_from_first": ("较第一步转化率", "Conversion from first"),
    "drop_off": ("流失数", "Drop-off"),
    "drop_off_rate": ("流失率", "Drop-off rate"),
    "win_rate": ("赢单率", "Win rate"),
    "weighted_amount": ("加权金额", "Weighted amount"),
    "probability": ("赢单概率", "Probability"),
    "open_deals": ("在途商机", "Open deals"),
    "target": ("目标", "Target"),
    "attainment": ("达成率", "Attainment"),
    "p_alive": ("仍活跃概率", "P(alive)"),
    "expected_value": ("预期客单价", "Expected order value"),
    "clv_3m": ("3 个月 CLV", "CLV 3 months"),
    "clv_6m": ("6 个月 CLV", "CLV 6 months"),
    "clv_12m": ("12 个月 CLV", "CLV 12 months"),
    "support": ("支持度", "Support"),
    "confidence": ("置信度", "Confidence"),
    "lift": ("提升度", "Lift"),
    "rank": ("排名", "Rank"),
    "action": ("建议动作", "Suggested action"),
    "reason": ("原因", "Reason"),
    "column": ("列", "Column"),
    "rows": ("行数", "Rows"),
    "cells": ("单元格数", "Cells"),
    "value": ("数值", "Value"),
    "metric": ("指标", "Metric"),
    "high_value": ("高价值", "High value"),
    "potential": ("潜力", "Potential"),
    "churn_risk": ("流失风险", "Churn risk"),
    "overdue": ("已逾期", "Overdue"),
    "next_followup_due": ("下次跟进", "Next follow-up"),
    "size_tier": ("规模", "Size tier"),
    "month": ("月份", "Month"),
    "period": ("期间", "Period"),
    "roi": ("投入产出比", "ROI"),
    "first_order": ("首次购买", "First order"),
    "last_order": ("最近购买", "Last order"),
    "order_lines": ("订单行数", "Order lines"),
    "refund_lines": ("退款行数", "Refund lines"),
    "net_amount": ("净额", "Net amount"),
    "tags": ("标签", "Tags"),
    "name_zh": ("名称", "Name (Chinese)"),
    "name_en": ("英文名称", "Name"),
    "silhouette": ("轮廓系数", "Silhouette"),
    "k": ("类别数 k", "k"),
    "step_index": ("序号", "No."),
    "median_days_from_previous": ("距上一步天数（中位数）", "Days from previous (median)"),
    "mean_days_from_previous": ("距上一步天数（平均）", "Days from previous (mean)"),
    "median_days_from_first": ("距第一步天数（中位数）", "Days from first (median)"),
    "mean_days_from_first": ("距第一步天数（平均）", "Days from first (mean)"),
    "amount_conversion_from_previous": (
        "金额转化率（较上一步）",
        "Amount conversion from previous",
    ),
    "amount_conversion_from_first": ("金额转化率（较第一步）", "Amount conversion from first"),
    "median_days": ("停留天数（中位数）", "Days in stage (median)"),
    "mean_days": ("停留天数（平均）", "Days in stage (mean)"),
    "open": ("在途商机", "Open"),
    "won": ("赢单", "Won"),
    "lost": ("输单", "Lost"),
    "average_deal": ("平均成交额（元）", "Average deal (¥)"),
    "cycle_days_mean": ("平均成交周期（天）", "Average cycle (days)"),
    "sales_velocity": ("销售速度（元/天）", "Sales velocity (¥/day)"),
    "weighted_pipeline": ("加权管道（元）", "Weighted pipeline (¥)"),
    "monetary_mean": ("平均每天购买额（元）", "Monetary per day (¥)"),
    "first_purchase": ("首次购买", "First purchase"),
    "last_purchase": ("最近购买", "Last purchase"),
    "customer_share": ("客户占比", "Customer share"),
    "mean_recency": ("平均最近购买（天前）", "Mean recency (days)"),
    "mean_frequency": ("平均购买天数", "Mean frequency"),
    "mean_monetary": ("平均购买金额（元）", "Mean monetary (¥)"),
    "offer": ("推荐产品", "Offer"),
    "customer_actions": ("客户行动清单", "Customer actions"),
    "chosen": ("选中", "Chosen"),
    "inertia": ("组内平方和", "Inertia"),
    "recency_mean": ("最近购买（天前，平均）", "Recency (days, mean)"),
    "recency_median": ("最近购买（天前，中位数）", "Recency (days, median)"),
    "frequency_mean": ("购买天数（平均）", "Frequency (mean)"),
    "frequency_median": ("购买天数（中位数）", "Frequency (median)"),
    "monetary_mean_mean": ("平均每天购买额（元，平均）", "Monetary per day (¥, mean)"),
    "monetary_mean_median": ("平均每天购买额（元，中位数）", "Monetary per day (¥, median)"),
    "monetary_median": ("购买金额（元，中位数）", "Monetary (¥, median)"),
    "conversion": ("转化率", "Conversion"),
    "cost_per_lead": ("单条线索成本（元）", "Cost per lead (¥)"),
    "cost_per_won": ("单个赢单成本（元）", "Cost per won deal (¥)"),
    "created": ("新建商机", "Created"),
    "entered": ("进入", "Entered"),
    "leads": ("线索数", "Leads"),
    "median_days_open": ("在途天数（中位数）", "Days open (median)"),
    "moved_on": ("进入下一阶段", "Moved on"),
    "reached_no_window": ("到达数（不限时间）", "Reached (no window)"),
    "reached_within_window": ("到达数（窗口内）", "Reached (within window)"),
    "still_open": ("仍在途", "Still open"),
    "cycle_days_median": ("成交周期（天，中位数）", "Cycle (days, median)"),
    "open_amount": ("在途金额（元）", "Open amount (¥)"),
    "cost": ("成本（元）", "Cost (¥)"),
    "opportunities": ("商机数", "Opportunities"),
    "file": ("文件", "File"),
    "table": ("表", "Table"),
    "columns": ("列数", "Columns"),
    "pop_growth": ("环比", "Change on previous"),
    "yoy_growth": ("同比", "Change on a year ago"),
    "label": ("期间", "Period"),
    "tag": ("标签", "Tag"),
    "clean": ("清洗后", "Clean"),
    "raw": ("原始值", "Raw"),
    "decision": ("判定", "Decision"),
    "dropped_duplicates": ("删除重复", "Duplicates dropped"),
    "field": ("字段", "Field"),
    "issue": ("问题", "Issue"),
    "kept": ("保留", "Kept"),
    "linked": ("已关联", "Linked"),
    "merged": ("合并", "Merged"),
    "message": ("说明", "Message"),
    "no_customer": ("无客户", "No customer"),
    "not_in_customers": ("不在客户表", "Not in customers"),
    "possible_double_exports": ("疑似重复导出", "Possible double exports"),
    "quarantined": ("隔离", "Quarantined"),
    "left_name": ("名称甲", "Name A"),
    "right_name": ("名称乙", "Name B"),
    "rows_in": ("读入行数", "Rows in"),
    "score": ("相似度", "Score"),
    "source_file": ("来源文件", "Source file"),
    "source_row": ("来源行号", "Source row"),
    "header": ("表头", "Header"),
    "filled": ("已填", "Filled"),
    "suggestion": ("建议", "Suggestion"),
    "customer_id_raw": ("原始客户编号", "Customer ID as written"),
    "link_status": ("关联状态", "Link status"),
    "kept_value": ("保留值", "Kept value"),
    "other_values": ("其他值", "Other values"),
    "cohort": ("商机批次", "Cohort"),
    "industry_l1": ("行业", "Industry"),
    "budget_known": ("有预算的客户", "Customers with a budget"),
    "budget_total": ("预算合计", "Total budget"),
    "budget_median": ("预算中位数", "Median budget"),
    "size_tier_en": ("规模", "Size tier"),
    "high_value_reason": ("高价值原因", "Why high value"),
    "churn_risk_reason": ("流失风险原因", "Why at risk"),
    "potential_reason": ("有潜力原因", "Why potential"),
    "value_grade_calc": ("价值等级", "Value grade"),
    "potential_rating_calc": ("潜力评级", "Potential rating"),
    "days_overdue": ("逾期天数", "Days overdue"),
    "customers_prev": ("前期客户数", "Customers before"),
    "total_prev": ("前期客户总数", "All customers before"),
    "share_prev": ("前期占比", "Share before"),
    "customers_last": ("近期客户数", "Customers recently"),
    "total_last": ("近期客户总数", "All customers recently"),
    "share_last": ("近期占比", "Share recently"),
    "change_pp": ("变化（百分点）", "Change (points)"),
    "reliable": ("样本足够", "Enough customers"),
    "sentence": ("说明", "Summary"),
    "observed": ("实际客户数", "Observed"),
    "expected": ("期望客户数", "Expected"),
    "residual": ("调整残差", "Adjusted residual"),
    "direction": ("方向", "Direction"),
    "deals": ("商机数", "Deals"),
    "wins": ("赢单数", "Wins"),
    "share_of_customers": ("占全部客户", "Share of all customers"),
    "share_of_comparing": ("占对比客户", "Share of customers comparing"),
    "industries": ("所在行业", "Industries"),
    "employees_median": ("员工数中位数", "Median employees"),
    "description": ("典型客户", "Typical customer"),
    "aov": ("客单价", "Average order"),
    "revenue_mean": ("月均销售额", "Mean revenue"),
    "seasonality_index": ("季节指数", "Seasonality index"),
    "season": ("季节", "Season"),
    "cumulative_share": ("累计占比", "Cumulative share"),
    "margin_rate": ("毛利率", "Margin rate"),
    "abc": ("ABC 类", "ABC class"),
    "revenue_change": ("收入变化", "Revenue change"),
    "change_vs_all": ("相对整体的变化", "Change beyond the business"),
    "product_class": ("产品类别", "Class"),
    "products": ("产品数", "Products"),
    "gap": ("差额", "Gap"),
    "avg_deal": ("平均单额", "Average deal"),
    "new_customers": ("新客户", "New customers"),
    "paid": ("已回款", "Paid"),
    "collection_rate": ("回款率", "Collection rate"),
    "history": ("近期业绩（元）", "Recent revenue (¥)"),
    "pipeline": ("在谈商机（元）", "Open pipeline (¥)"),
    "weight": ("权重", "Weight"),
    "r_score": ("R 分", "R score"),
    "f_score": ("F 分", "F score"),
    "m_score": ("M 分", "M score"),
    "lost_reason": ("丢单原因", "Loss reason"),
    "lost_deals": ("输单数", "Lost deals"),
    "lost_amount": ("输单金额", "Lost amount"),
    "lost_share": ("占输单数", "Share of lost deals"),
    "lost_amount_share": ("占输单金额", "Share of lost amount"),
    "indicative": ("仅供参考", "Indicative only"),
    "days_in_stage": ("当前阶段停留天数", "Days in this stage"),
    "norm_days": ("该阶段常规天数", "Usual days in the stage"),
    "over_norm": ("为常规的倍数", "Times the usual"),
    "stuck": ("卡住", "Stuck"),
    "closed": ("已成交（元）", "Closed (¥)"),
    "commit": ("确定（元）", "Commit (¥)"),
    "best_case": ("乐观（元）", "Best case (¥)"),
    "weighted": ("加权管道（元）", "Weighted pipeline (¥)"),
    "forecast": ("预测（元）", "Forecast (¥)"),
    "remaining": ("距目标（元）", "Remaining to target (¥)"),
    "coverage": ("覆盖率", "Coverage"),
    "closed_reached": ("到过该阶段的已结束商机", "Closed deals that reached it"),
    "learned": ("历史赢单比例", "Learned"),
    "default": ("默认概率", "Default"),
    "source": ("采用", "Used"),
    "parameter": ("参数", "Parameter"),
    "estimate": ("估计值", "Estimate"),
    "std_error": ("标准误", "Standard error"),
    "lower_95": ("95% 区间下限", "95% interval, low"),
    "upper_95": ("95% 区间上限", "95% interval, high"),
    "expected_purchases": ("预期购买次数", "Expected purchases"),
    "expected_purchases_3m": ("3 个月预期购买次数", "Expected purchases, 3 months"),
    "expected_purchases_6m": ("6 个月预期购买次数", "Expected purchases, 6 months"),
    "expected_purchases_12m": ("12 个月预期购买次数", "Expected purchases, 12 months"),
    "antecedent": ("已购产品", "Bought"),
    "consequent": ("关联产品", "Also bought"),
    "baskets": ("两者都买的客户数", "Customers with both"),
    "antecedent_support": ("已购产品的支持度", "Support of the first"),
    "consequent_support": ("关联产品的支持度", "Support of the second"),
    "leverage": ("杠杆值", "Leverage"),
    "conviction": ("确信度", "Conviction"),
    "bought": ("已购产品", "Bought"),
    "actual": ("实际平均购买次数", "Actual purchases (mean)"),
    "predicted": ("预测平均购买次数", "Predicted purchases (mean)"),
}
#: Columns holding money (元), by name or by the end of their name.
_MONEY = re.compile(
    r"(^|_)(amount|revenue|monetary|price|cost|budget(_min|_max|_total|_median)?|target|"
    r"clv(_\d+m)?|"
    r"expected_value|gross_margin|paid_amount|weighted_amount|value_12m|average_deal|"
    r"weighted_pipeline|aov|gap|avg_deal|paid|revenue_mean)$"
)
#: Columns holding a share (0–1) shown as a percentage.
_SHARE = re.compile(r"(^|_)(share|rate|conversion(_from_\w+)?|probability|p_alive|attainment)$")
#: Labels of booleans.
_BOOL = {"zh": ("是", "否"), "en": ("yes", "no")}
_MISSING = "—"


#: English names of the template tables (the Chinese ones are their titles in columns.TABLES).
TABLE_NAMES_EN: dict[str, str] = {
    "customers": "Customers",
    "followups": "Follow-ups",
    "orders": "Orders",
    "stages": "Stage history",
    "market": "Market analysis",
    "channel_costs": "Channel costs",
    "targets": "Targets",
}

#: Words of the codes the kit writes into tables (issue kinds, decisions, match reasons), by
#: the column that holds them; the cleaning reasons come from :data:`analysis_kit.schema.MESSAGES`.
CODE_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "issue": {
        "unreadable": ("无法识别", "unreadable"),
        "not_in_list": ("不在列表中", "not in the list"),
    },
    "decision": {
        "same_core": ("核心名称相同，合并", "same core name, merged"),
        "fuzzy": ("名称相似，合并", "similar names, merged"),
        "review": ("待人工确认", "to review"),
    },
    "reason": {
        "equal cores": ("核心名称相同", "equal cores"),
        "personal customer": ("个人客户", "personal customer"),
        "numbers differ": ("名称中的数字不同", "numbers differ"),
        "regions differ": ("地区不同", "regions differ"),
        "below review threshold": ("相似度低于复核线", "below review threshold"),
        "trade names differ": ("字号不同", "trade names differ"),
        "below threshold": ("相似度低于合并线", "below threshold"),
        "short name": ("名称过短", "short name"),
        "similar cores": ("核心名称相似", "similar cores"),
        "would chain": ("会连锁合并", "would chain"),
        "different ids": ("客户编号不同", "different ids"),
        "ambiguous": ("有多个可能的匹配", "ambiguous"),
    },
}


@functools.cache
def _code_words(column: str) -> dict[str, tuple[str, str]]:
    """Return the words of one code column: CODE_WORDS, cleaning reasons, tables, fields."""
    from .columns import TABLES
    from .schema import MESSAGES

    if column in ("field", "column"):
        fields = {f.name for spec in TABLES.values() for f in spec.fields} | set(LABELS)
        return {v: (column_label(v, "zh"), column_label(v, "en")) for v in fields}
    if column == "table":
        return {k: (spec.title, TABLE_NAMES_EN.get(k, k)) for k, spec in TABLES.items()}
    words = dict(CODE_WORDS.get(column, {}))
    if column in ("reason", "issue"):
        for code, text in MESSAGES.items():  # "无法识别 value cannot be read"
            latin = re.search(r"[A-Za-z]", text)
            if latin:
                words.setdefault(code, (text[: latin.start()].strip(), text[latin.start() :]))
    if column == "message":
        for text in MESSAGES.values():
            latin = re.search(r"[A-Za-z]", text)
            if latin:
                words[text] = (text[: latin.start()].strip(), text[latin.start() :])
    return words


def readable_codes(frame: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Return ``frame`` with the kit's codes in its code columns as words in ``lang``.

    Columns ``table`` (``customers`` → 客户信息表), ``field`` and ``column`` (a template field →
    its header), ``issue``, ``reason``, ``decision`` and ``message`` (a bilingual message → its
    half in ``lang``). Only known codes change; every other value stays as written, and
    ``frame`` is not modified. :func:`show_table` applies it to every table.

    Examples
    --------
    >>> df = pd.DataFrame({"table": ["customers"], "field": ["contact_phone"],
    ...                    "issue": ["unreadable"], "reason": ["my own words"]})
    >>> readable_codes(df).iloc[0].tolist()
    ['客户信息表', '联系电话', '无法识别', 'my own words']
    """
    pick = 0 if lang == "zh" else 1
    out = None
    for column in frame.columns:
        name = str(column)
        values = frame[column]
        if name not in ("field", "column", "table", "issue", "reason", "decision", "message"):
            continue
        words = {k: w[pick] for k, w in _code_words(name).items()}
        if values.dtype.kind in "biufcmM" or not words:
            continue
        mapped = values.map(lambda v, w=words: w[v] if isinstance(v, str) and v in w else v)
        if not mapped.equals(values):
            out = frame.copy() if out is None else out
            out[column] = mapped
    return frame if out is None else out


def column_label(name: object, lang: str = "zh") -> str:
    """Return a column's header in ``lang``: its template header, :data:`LABELS`, or as written.

    Examples
    --------
    >>> column_label("customer_name"), column_label("recency", "en"), column_label("amount")
    ('客户名称', 'Recency (days)', '成交金额（元）')
    """
    from .columns import TABLES

    text = str(name)
    label = None
    if text in LABELS:
        label = LABELS[text][0 if lang == "zh" else 1]
    elif lang == "zh":
        for spec in TABLES.values():
            field = next((f for f in spec.fields if f.name == text), None)
            if field is not None:
                label = field.headers[0]
                break
    if label is None:  # never snake_case in front of a reader
        label = text.replace("_", " ")
        if lang == "en":
            label = label[:1].upper() + label[1:]
    if _MONEY.search(text) and "元" not in label and "¥" not in label:
        label += "（元）" if lang == "zh" else " (¥)"
    return label


class Table:
    """An HTML table ready for a page: ``display()`` it in Jupyter, ``str()`` for its HTML."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def show_table(
    frame: pd.DataFrame | pd.Series,
    *,
    lang: str = "zh",
    max_rows: int | None = 20,
    money: Iterable[str] = (),
    percent: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> Table:
    """Return ``frame`` as a table a reader can read (see the module documentation).

    Parameters
    ----------
    frame : DataFrame or Series
        The table. Not modified. A named index, or one of labels, becomes the first column; an
        unnamed integer index (row numbers, also after sorting) is left out.
    lang : {"zh", "en"}, default="zh"
        The page's language, for headers, booleans and the "first N of M rows" line.
    max_rows : int or None, default=20
        Rows shown; the rest are counted in a line under the table. None shows every row.
    money, percent : iterable of str
        Columns to format as money or as a percentage beyond those recognised by name.
    labels : mapping, optional
        Headers for some columns, overriding the defaults.
    caption : str, optional
        A line above the table.

    Returns
    -------
    Table
        The HTML, with a ``div`` that scrolls sideways when the table is wider than the page.

    Examples
    --------
    >>> df = pd.DataFrame({"customer_name": ["星辰科技"], "amount": [1234567.891], "share": [0.25]})
    >>> html = str(show_table(df))
    >>> "1,234,568" in html and "25.0%" in html and "客户名称" in html
    True
    """
    if lang not in ("zh", "en"):
        raise ValueError(f'lang must be "zh" or "en"; got {lang!r}')
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame
    # a named index or one of labels means something; an unnamed integer one is a row number
    named = any(n is not None for n in data.index.names)
    if named or not pd.api.types.is_integer_dtype(data.index.dtype):
        data = data.reset_index()
    total = len(data)
    shown = readable_codes(data if max_rows is None else data.head(max_rows), lang)
    money, percent = set(money), set(percent)
    names = dict(labels or {})
    head = "".join(
        f"<th>{html.escape(names.get(str(c), column_label(c, lang)))}</th>" for c in shown.columns
    )
    body = []
    for column in shown.columns:
        kind = _kind(str(column), shown[column], money, percent)
        body.append([_cell(v, kind, lang) for v in shown[column].tolist()])
    rows = []
    for cells in zip(*body, strict=True) if body else []:
        rows.append("<tr>" + "".join(cells) + "</tr>")
    parts = ['<div class="ak-table" style="overflow-x:auto;max-width:100%">']
    if caption:
        parts.append(f'<div style="font-weight:600;margin:0.3rem 0">{html.escape(caption)}</div>')
    parts.append(
        '<table style="border-collapse:collapse;font-size:0.9em;white-space:nowrap">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    if len(shown) < total:
        line = (
            f"显示前 {len(shown):,d} / 共 {total:,d} 行"
            if lang == "zh"
            else f"first {len(shown):,d} of {total:,d} rows"
        )
        parts.append(f'<div style="color:#59636e;font-size:0.85em">{line}</div>')
    parts.append("</div>")
    return Table("".join(parts))


def _kind(name: str, values: pd.Series, money: set[str], percent: set[str]) -> str:
    if name in money or (_MONEY.search(name) and pd.api.types.is_numeric_dtype(values)):
        return "money"
    if name in percent or (_SHARE.search(name) and pd.api.types.is_numeric_dtype(values)):
        return "percent"
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    return "text"


def _cell(value: Any, kind: str, lang: str) -> str:
    text = _text(value, kind, lang)
    align = "right" if kind in ("money", "percent", "number") and text != _MISSING else "left"
    return (
        f'<td style="text-align:{align};padding:0.15rem 0.6rem;border-bottom:1px solid #eaeef2;'
        f'white-space:nowrap;font-variant-numeric:tabular-nums">{html.escape(text)}</td>'
    )


def _text(value: Any, kind: str, lang: str) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return _MISSING
    if isinstance(value, float) and math.isnan(value):
        return _MISSING
    if isinstance(value, bool | np.bool_):
        return _BOOL[lang][0 if value else 1]
    if isinstance(value, pd.Timestamp):
        if value == value.normalize():
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, int | np.integer) and kind != "percent":
        return f"{int(value):,d}"
    if isinstance(value, float | np.floating):
        number = float(value)
        if kind == "money":
            return (
                f"{number:,.0f}" if abs(number) >= 100 or number.is_integer() else f"{number:,.2f}"
            )
        if kind == "percent":
            return f"{number:.1%}"
        if number.is_integer():
            return f"{int(number):,d}"
        return f"{number:,.2f}"
    if isinstance(value, dict | list | tuple | set):
        return "、".join(str(v) for v in value) if lang == "zh" else ", ".join(map(str, value))
    return str(value)
