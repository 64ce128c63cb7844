"""Why deals are lost and against whom we win: loss reasons and win rates, one row per deal.

Both functions take :func:`analysis_kit.funnel.deal_summary`'s table, one row per opportunity,
so a deal counts once however many stage rows repeat its loss reason (the sample's 59 lost rows
are 28 lost deals):

- :func:`loss_reasons` – lost deals and lost amount per reason, overall or by a column (the stage
  the deal was lost at, the rep, the lead source, the competitor, the quarter it closed), with
  each reason's share of the lost deals and amount. A lost deal without a reason is counted as
  未填写 / not given, never dropped.
- :func:`win_rates` – won, lost, open and the win rate (won ÷ closed) per group, each group's
  figure marked ``indicative`` when it rests on fewer closed deals than ``min_closed``.

:func:`with_competitors` gives each deal the competitors its customer compared us with (a cell
such as ``星河云、云图BI`` names two; ``无`` and blanks name none), one row per deal and
competitor, so win rates by competitor are win rates *against* each one, and deals where no
competitor was named form their own group.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .columns import CUSTOMER_ID, require_columns
from .profile import split_tags

__all__ = ["NO_COMPETITOR", "NOT_GIVEN", "loss_reasons", "win_rates", "with_competitors"]

#: The reason of a lost deal whose reason was left blank.
NOT_GIVEN: dict[str, str] = {"zh": "未填写", "en": "not given"}
#: The competitor group of deals where no competitor was named.
NO_COMPETITOR: dict[str, str] = {"zh": "无竞品", "en": "no competitor"}
_SEP = r"[、,，;；/|]+"


def _check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise ValueError(f'lang must be "zh" or "en"; got {lang!r}')


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    return [] if by is None else [by] if isinstance(by, str) else list(by)


def _reason_text(values: pd.Series) -> pd.Series:
    """Reasons as people typed them, made comparable: NFKC, trimmed, inner spaces collapsed."""

    def tidy(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return None
        text = " ".join(unicodedata.normalize("NFKC", str(value)).split())
        return text or None

    return values.astype(object).map(tidy)


def loss_reasons(
    deals: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    reason_col: str = "lost_reason",
    amount_col: str = "amount",
    lang: str = "zh",
) -> pd.DataFrame:
    """Count the lost deals and the lost amount per reason, overall or within groups.

    Parameters
    ----------
    deals : DataFrame
        One row per opportunity with ``outcome`` and ``reason_col``, as
        :func:`analysis_kit.funnel.deal_summary` returns with ``carry=[..., "lost_reason"]``.
        Not modified.
    by : str or list of str, optional
        Columns to break the reasons down by, e.g. ``stage`` (the stage the deal was lost at),
        ``owner``, ``lead_source``, ``competitor`` (after :func:`with_competitors`) or a period.
    reason_col, amount_col : str
        The reason and the deal's amount (an absent amount column gives missing amounts).
    lang : {"zh", "en"}, default="zh"
        Language of the "not given" reason.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``lost_reason`` (as typed, tidied: full-width to half-width, spaces
        trimmed; "未填写" for a blank), ``lost_deals``, ``lost_amount``, ``lost_share`` and
        ``lost_amount_share`` (within the group, 0–1). Most lost deals first within each
        group, then the larger amount, then the reason. Empty (same columns) without lost deals.

    Examples
    --------
    >>> deals = pd.DataFrame({"opportunity_id": ["A", "B", "C", "D"],
    ...                       "outcome": ["lost", "lost", "won", "lost"],
    ...                       "lost_reason": ["价格高", "价格高 ", None, None],
    ...                       "amount": [100.0, 50.0, 80.0, 10.0]})
    >>> loss_reasons(deals)[["lost_reason", "lost_deals", "lost_amount", "lost_share"]]
      lost_reason  lost_deals  lost_amount  lost_share
    0         价格高           2        150.0    0.666667
    1         未填写           1         10.0    0.333333
    """
    _check_lang(lang)
    groups = _by_list(by)
    require_columns(deals.columns, ["outcome", reason_col, *groups], where="loss_reasons")
    lost = deals[deals["outcome"] == "lost"]
    reason = _reason_text(lost[reason_col]).fillna(NOT_GIVEN[lang])
    amount = (
        pd.to_numeric(lost[amount_col], errors="coerce")
        if amount_col in lost.columns
        else pd.Series(np.nan, index=lost.index)
    )
    frame = lost[groups].assign(lost_reason=reason, _amount=amount)
    keys = [*groups, "lost_reason"]
    columns = [*keys, "lost_deals", "lost_amount", "lost_share", "lost_amount_share"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    table = (
        frame.groupby(keys, dropna=False, sort=False)
        .agg(
            lost_deals=("lost_reason", "size"),
            lost_amount=("_amount", lambda s: s.sum(min_count=1)),
        )
        .reset_index()
    )
    if groups:
        within = table.groupby(groups, dropna=False, sort=False)
        deals_total = within["lost_deals"].transform("sum")
        amount_total = within["lost_amount"].transform("sum")
    else:
        deals_total = pd.Series(table["lost_deals"].sum(), index=table.index)
        amount_total = pd.Series(table["lost_amount"].sum(), index=table.index)
    table["lost_share"] = table["lost_deals"] / deals_total
    table["lost_amount_share"] = table["lost_amount"] / amount_total.where(amount_total != 0)
    table = table.sort_values(
        [*groups, "lost_deals", "lost_amount", "lost_reason"],
        ascending=[True] * len(groups) + [False, False, True],
        kind="stable",
        na_position="last",
    )
    return table[columns].reset_index(drop=True)


def win_rates(
    deals: pd.DataFrame,
    by: str | Sequence[str],
    *,
    min_closed: int = 5,
) -> pd.DataFrame:
    """Won, lost and open deals and the win rate per group.

    Parameters
    ----------
    deals : DataFrame
        One row per opportunity (or per opportunity and competitor, after
        :func:`with_competitors`) with ``outcome``.
    by : str or list of str
        The group columns; a missing value is its own group.
    min_closed : int, default=5
        Fewer closed (won or lost) deals than this make a group's win rate ``indicative``.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``deals``, ``won``, ``lost``, ``open``, ``win_rate`` (won ÷ (won +
        lost), missing without a closed deal) and ``indicative``. Most closed deals first.

    Examples
    --------
    >>> deals = pd.DataFrame({"owner": ["王", "王", "李"], "outcome": ["won", "lost", "open"]})
    >>> win_rates(deals, "owner", min_closed=2)[["owner", "won", "lost", "win_rate", "indicative"]]
      owner  won  lost  win_rate  indicative
    0     王    1     1       0.5       False
    1     李    0     0       NaN        True
    """
    groups = _by_list(by)
    if not groups:
        raise ValueError("by must name at least one column")
    if isinstance(min_closed, bool) or not isinstance(min_closed, int) or min_closed < 1:
        raise ValueError(f"min_closed must be an integer >= 1; got {min_closed!r}")
    require_columns(deals.columns, ["outcome", *groups], where="win_rates")
    flags = pd.DataFrame(
        {k: (deals["outcome"] == k).astype("int64") for k in ("won", "lost", "open")},
        index=deals.index,
    )
    table = (
        pd.concat([deals[groups], flags], axis=1)
        .groupby(groups, dropna=False, sort=False)
        .agg(deals=("won", "size"), won=("won", "sum"), lost=("lost", "sum"), open=("open", "sum"))
        .reset_index()
    )
    closed = table["won"] + table["lost"]
    table["win_rate"] = table["won"] / closed.where(closed > 0)
    table["indicative"] = closed < min_closed
    order = table.assign(_closed=closed).sort_values(
        ["_closed", "deals", *groups],
        ascending=[False, False, *[True] * len(groups)],
        kind="stable",
    )
    return order.drop(columns="_closed").reset_index(drop=True)


def with_competitors(
    deals: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    competitor_col: str = "competitor",
    customer_id_col: str = CUSTOMER_ID,
    lang: str = "zh",
) -> pd.DataFrame:
    """One row per deal and competitor its customer named; deals naming none in their own group.

    Parameters
    ----------
    deals : DataFrame
        One row per opportunity with ``customer_id_col``.
    customers : DataFrame
        The customers with ``competitor_col`` (竞品名称). A cell can name several competitors
        (``星河云、云图BI``); ``无``, ``没有``, ``none`` and blanks name none
        (:data:`analysis_kit.profile.NONE_WORDS`).
    competitor_col, customer_id_col : str
        Column names.
    lang : {"zh", "en"}, default="zh"
        Language of the no-competitor group's name.

    Returns
    -------
    DataFrame
        ``deals`` with a ``competitor`` column: a deal whose customer named two competitors is
        there twice, one naming none once with :data:`NO_COMPETITOR`. Deals of customers not in
        ``customers`` count as naming none.

    Examples
    --------
    >>> deals = pd.DataFrame({"opportunity_id": ["A", "B"], "customer_id": ["C1", "C2"],
    ...                       "outcome": ["won", "lost"]})
    >>> customers = pd.DataFrame({"customer_id": ["C1", "C2"], "competitor": ["星河云、云图BI", "无"]})
    >>> with_competitors(deals, customers)[["opportunity_id", "competitor"]].values.tolist()
    [['A', '星河云'], ['A', '云图BI'], ['B', '无竞品']]
    """
    _check_lang(lang)
    require_columns(deals.columns, [customer_id_col], where="with_competitors deals")
    require_columns(
        customers.columns, [customer_id_col, competitor_col], where="with_competitors customers"
    )
    pieces = split_tags(_reason_text(customers[competitor_col]), sep=_SEP)
    named = pd.DataFrame(
        {
            customer_id_col: customers[customer_id_col].loc[pieces.index].to_numpy(),
            competitor_col: pieces.to_numpy(),
        }
    ).drop_duplicates()
    out = deals.drop(columns=[competitor_col], errors="ignore").merge(
        named.rename(columns={competitor_col: "competitor"}), on=customer_id_col, how="left"
    )
    out["competitor"] = out["competitor"].fillna(NO_COMPETITOR[lang])
    return out.reset_index(drop=True)
