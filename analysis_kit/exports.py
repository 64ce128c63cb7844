"""Files a report hands on: labelled CSVs for people, Parquet for tools, the customer workbook.

Every result table a report writes goes out twice, both with personal data masked:

- ``<name>.csv`` for people who open it in Excel or WPS: headers in the report's language (the
  labels :func:`analysis_kit.tables.column_label` gives every page), money with at most two
  decimals and shares with four instead of sixteen-digit floats, yes/no as 是/否, dates without a
  time. A code made of digits (the RFM segment code ``001``) is written after a tab so a
  spreadsheet keeps it as text instead of turning it into 1; a text cell that starts like a
  formula (``=``, ``+``, ``-``, ``@``) gets a leading apostrophe so it can never run as one.
- ``data/<name>.parquet`` for tools and for the kit itself (the index, the workbook, a later
  report): the same rows with stable column names and full-precision values.

:func:`customer_actions` joins the per-customer results (tags and due dates, RFM segment, CLV, the
best cross-sell offer) into one row per customer, and :func:`write_customer_actions` writes it as
``customer_actions.xlsx``: a sheet with everyone, then a sheet per sales rep, codes stored as text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .privacy import mask_frame
from .tables import _MONEY, _SHARE, column_label

__all__ = [
    "ACTION_COLUMNS",
    "actions_from_report",
    "DATA_FOLDER",
    "customer_actions",
    "for_people",
    "read_result",
    "write_customer_actions",
    "write_result",
    "write_table",
]

#: The report's sub-folder of machine-readable results.
DATA_FOLDER = "data"
#: Columns always written as text: codes whose leading zeros matter.
CODE_COLUMNS: tuple[str, ...] = ("segment_code", "customer_id", "order_id", "cluster_code")
#: Columns of :func:`customer_actions`, in order.
ACTION_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "customer_name",
    "owner",
    "priority",
    "segment_code",
    "segment",
    "tags",
    "clv_12m",
    "offer",
    "action",
    "next_followup_due",
    "overdue",
)
_YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DIGITS = re.compile(r"\d+")
#: Tags of :func:`customer_actions`, from the boolean tag columns of 02's ``customer_tags``.
_TAGS = {
    "high_value": ("高价值", "high value"),
    "potential": ("潜力", "potential"),
    "churn_risk": ("流失风险", "churn risk"),
}


def _check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise ValueError(f'lang must be "zh" or "en"; got {lang!r}')


def _safe_text(value: object) -> object:
    """Give a text cell that starts like a formula a leading apostrophe; leave the rest as is."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def for_people(
    frame: pd.DataFrame, *, lang: str = "zh", codes: Iterable[str] = CODE_COLUMNS
) -> pd.DataFrame:
    r"""Return ``frame`` as a CSV for people shows it (see the module documentation).

    Parameters
    ----------
    frame : DataFrame
        A result table with the kit's column names. Not modified; not masked here.
    lang : {"zh", "en"}, default="zh"
        Language of the headers and of yes/no.
    codes : iterable of str
        Columns whose all-digit values are kept as text by a leading tab.

    Returns
    -------
    DataFrame
        Labelled headers, rounded numbers, formulas defused; one row per row of ``frame``.

    Examples
    --------
    >>> df = pd.DataFrame({"segment_code": ["001"], "revenue": [1234.5678], "share": [1 / 3],
    ...                    "overdue": [True], "customer_name": ["=HYPERLINK(1)"]})
    >>> print(for_people(df).to_csv(index=False, sep=";").replace("\t", "<tab>"))
    分群代码;销售额（元）;占比;已逾期;客户名称
    <tab>001;1234.57;0.3333;是;'=HYPERLINK(1)
    <BLANKLINE>
    >>> list(for_people(df, lang="en").columns)
    ['Segment code', 'Revenue (¥)', 'Share', 'Overdue', 'Customer name']
    """
    _check_lang(lang)
    codes = set(codes)
    out = {}
    for name in frame.columns:
        values = frame[name]
        text = str(name)
        if pd.api.types.is_bool_dtype(values):
            yes, no = _YES_NO[lang]
            values = values.map({True: yes, False: no})
        elif pd.api.types.is_float_dtype(values):
            digits = 4 if _SHARE.search(text) and not _MONEY.search(text) else 2
            values = values.round(digits)
        elif pd.api.types.is_datetime64_any_dtype(values):
            timed = values.notna() & (values != values.dt.normalize())
            fmt = "%Y-%m-%d %H:%M" if timed.any() else "%Y-%m-%d"
            values = values.dt.strftime(fmt)
        elif not pd.api.types.is_numeric_dtype(values):
            values = values.astype(object).where(values.notna(), None).map(_safe_text)
            if text in codes:
                values = values.map(
                    lambda v: "\t" + v if isinstance(v, str) and _DIGITS.fullmatch(v) else v
                )
        out[column_label(name, lang)] = values
    return pd.DataFrame(out, index=frame.index)


def write_result(
    frame: pd.DataFrame,
    output_dir: str | os.PathLike,
    name: str,
    *,
    lang: str = "zh",
    codes: Iterable[str] = CODE_COLUMNS,
) -> Path:
    """Write ``frame`` masked as ``<name>.csv`` for people and ``data/<name>.parquet`` for tools.

    Returns the path of the CSV. Row order and rows are those of ``frame``; its index is left out
    (pass a frame with the index as a column when it means something).
    """
    _check_lang(lang)
    folder = Path(output_dir)
    (folder / DATA_FOLDER).mkdir(parents=True, exist_ok=True)
    masked = mask_frame(frame.reset_index(drop=True))
    masked.to_parquet(folder / DATA_FOLDER / f"{name}.parquet", index=False)
    path = folder / f"{name}.csv"
    for_people(masked, lang=lang, codes=codes).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def read_result(output_dir: str | os.PathLike, name: str) -> pd.DataFrame | None:
    """Return the machine-readable copy of a result :func:`write_result` wrote (None if absent)."""
    path = Path(output_dir) / DATA_FOLDER / f"{name}.parquet"
    return pd.read_parquet(path) if path.exists() else None


def _tag_text(frame: pd.DataFrame, lang: str) -> pd.Series:
    parts = []
    for column, labels in _TAGS.items():
        if column in frame.columns:
            hit = frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)
            parts.append(np.where(hit, labels[0 if lang == "zh" else 1], ""))
    joiner = "、" if lang == "zh" else ", "
    if not parts:
        return pd.Series("", index=frame.index, dtype=object)
    return pd.Series(
        [joiner.join(p for p in row if p) for row in zip(*parts, strict=True)],
        index=frame.index,
        dtype=object,
    )


def customer_actions(
    tags: pd.DataFrame | None,
    *,
    segments: pd.DataFrame | None = None,
    clv: pd.DataFrame | None = None,
    offers: pd.DataFrame | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """Return one row per customer: who, whose, which segment, tags, CLV, offer, next action, due.

    Parameters
    ----------
    tags : DataFrame or None
        02's ``customer_tags``: ``customer_id`` and any of ``customer_name``, ``owner``,
        ``priority``, the
        boolean tags ``high_value`` / ``potential`` / ``churn_risk``, ``next_followup_due``,
        ``overdue``.
    segments : DataFrame, optional
        03's ``rfm_segments``: ``customer_id``, ``segment_code``, ``segment``, ``action``.
    clv : DataFrame, optional
        07's ``clv``: ``customer_id``, ``clv_12m``.
    offers : DataFrame, optional
        07's ``cross_sell``: ``customer_id``, ``rank``, ``offer``; the first-ranked offer is kept.
    lang : {"zh", "en"}, default="zh"
        Language of the tag names.

    Returns
    -------
    DataFrame
        :data:`ACTION_COLUMNS`; every customer of any input once (none is dropped), overdue
        first, then by due date, then by CLV, highest first. Missing values stay missing.

    Examples
    --------
    >>> tags = pd.DataFrame({"customer_id": ["C1", "C2"], "churn_risk": [True, False],
    ...                      "overdue": [False, True]})
    >>> seg = pd.DataFrame({"customer_id": ["C1", "C3"], "segment_code": ["001", "111"],
    ...                     "segment": ["重要挽留客户", "重要价值客户"], "action": ["挽回", "维护"]})
    >>> customer_actions(tags, segments=seg)[["customer_id", "tags", "segment_code"]].values.tolist()
    [['C2', '', nan], ['C1', '流失风险', '001'], ['C3', nan, '111']]
    """
    _check_lang(lang)
    pieces = []
    if tags is not None:
        keep = [c for c in ("customer_id", "customer_name", "owner", "priority") if c in tags]
        keep += [c for c in ("next_followup_due", "overdue") if c in tags.columns]
        piece = tags[keep].copy()
        piece["tags"] = _tag_text(tags, lang)
        pieces.append(piece)
    if segments is not None:
        keep = [c for c in ("customer_id", "segment_code", "segment", "action") if c in segments]
        pieces.append(segments[keep])
    if clv is not None and "clv_12m" in clv.columns:
        pieces.append(clv[["customer_id", "clv_12m"]])
    if offers is not None and "offer" in offers.columns:
        ordered = offers.sort_values("rank", kind="stable") if "rank" in offers else offers
        pieces.append(ordered.drop_duplicates("customer_id")[["customer_id", "offer"]])
    table = pd.DataFrame({"customer_id": pd.Series(dtype=object)})
    for piece in pieces:
        doubled = piece["customer_id"].duplicated()
        if doubled.any():
            first = piece.loc[doubled, "customer_id"].iloc[0]
            raise ValueError(f"customer_id {first!r} appears twice in one per-customer table")
        table = table.merge(piece, on="customer_id", how="outer", sort=False)
    for column in ACTION_COLUMNS:
        if column not in table.columns:
            table[column] = pd.NA if column != "overdue" else pd.Series(pd.NA, dtype="boolean")
    table["overdue"] = table["overdue"].astype("boolean")
    table["next_followup_due"] = pd.to_datetime(table["next_followup_due"])
    table["clv_12m"] = pd.to_numeric(table["clv_12m"])
    table = table.sort_values(
        ["overdue", "next_followup_due", "clv_12m", "customer_id"],
        ascending=[False, True, False, True],
        na_position="last",
        kind="stable",
    )
    return table[list(ACTION_COLUMNS)].reset_index(drop=True)


def _sheet_titles(owners: Iterable[object], lang: str) -> list[str]:
    """Return a valid, distinct sheet title per owner (at most 31 characters, none of []:*?/ or backslash)."""
    titles: list[str] = []
    used = {"全部客户" if lang == "zh" else "All customers"}
    for owner in owners:
        if owner is None or (isinstance(owner, float) and np.isnan(owner)) or owner is pd.NA:
            base = "未分配" if lang == "zh" else "Unassigned"
        else:
            # a masked name keeps its look: 张** becomes 张＊＊ (Excel forbids the ASCII *)
            base = str(owner).replace("*", "＊")
            base = re.sub(r"[\[\]:?/\\]", "_", base).strip("'") or "_"
        base = base[:27]
        title, n = base, 2
        while title in used:
            title, n = f"{base} ({n})", n + 1
        used.add(title)
        titles.append(title)
    return titles


def _write_sheet(sheet, rows: pd.DataFrame, headers: list[str], lang: str) -> None:
    """Fill an openpyxl sheet: bold headers, then ``rows`` with every text cell stored as text."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    yes, no = _YES_NO[lang]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r, record in enumerate(rows.itertuples(index=False), start=2):
        for c, value in enumerate(record, start=1):
            cell = sheet.cell(row=r, column=c)
            if value is None or value is pd.NA or value is pd.NaT:
                continue
            if (isinstance(value, float) and np.isnan(value)) or value == "":
                continue
            if isinstance(value, bool | np.bool_):
                cell.value = yes if value else no
                cell.data_type = "s"
            elif isinstance(value, pd.Timestamp):
                cell.value = value.to_pydatetime().date()
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, int | np.integer):
                cell.value = int(value)
                cell.number_format = "#,##0"
            elif isinstance(value, float | np.floating):
                cell.value = float(value)
                cell.number_format = "#,##0" if float(value).is_integer() else "#,##0.00"
            else:
                cell.value = str(value)
                cell.data_type = "s"  # text, never a formula; codes keep their zeros
    sheet.freeze_panes = "A2"
    for c, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = max(10, min(40, 2 * len(header)))


def write_table(
    frame: pd.DataFrame, path: str | os.PathLike, *, lang: str = "zh", sheet: str | None = None
) -> Path:
    """Write one table, masked, as an Excel workbook of one sheet, as a page shows it.

    Headers are the page's labels in ``lang`` (:func:`analysis_kit.tables.column_label`), yes/no
    as 是/否 or yes/no, dates as dates, numbers as numbers, and every text cell stored as text: a
    code keeps its zeros (``001``) and ``=HYPERLINK(…)`` never runs. Names, phones and emails
    are masked (:func:`analysis_kit.privacy.mask_frame`). The explorers' "save to Excel" button
    writes through this.

    Parameters
    ----------
    frame : DataFrame
        The table; a named index is written as a first column. Not modified.
    path : path
        The ``.xlsx`` file to write.
    lang : {"zh", "en"}, default="zh"
        Language of the headers and of yes/no.
    sheet : str, optional
        The sheet's title (at most 31 characters); "Sheet" by default.

    Returns
    -------
    Path
        ``path``.
    """
    from openpyxl import Workbook

    _check_lang(lang)
    frame = frame.reset_index() if frame.index.name is not None else frame
    masked = mask_frame(frame.reset_index(drop=True))
    book = Workbook()
    if sheet:
        book.active.title = str(sheet)[:31]
    _write_sheet(book.active, masked, [column_label(c, lang) for c in masked.columns], lang)
    path = Path(path)
    book.save(path)
    return path


def write_customer_actions(
    actions: pd.DataFrame, path: str | os.PathLike, *, lang: str = "zh"
) -> Path:
    """Write :func:`customer_actions`' table, masked, as an Excel workbook: all, then per rep.

    Every text cell is stored as text (codes keep their zeros, a value starting with ``=`` is
    never a formula), dates as dates, CLV as a number with thousands separators.
    """
    from openpyxl import Workbook

    _check_lang(lang)
    masked = mask_frame(actions)
    headers = [column_label(c, lang) for c in masked.columns]
    book = Workbook()
    # one sheet per rep, grouped by the name as written: two reps masked alike (张强 and 张伟 are
    # both 张**) keep their own sheets, titled by the masked name and a number
    owners = actions["owner"].astype(object).where(actions["owner"].notna(), None)
    reps = list(dict.fromkeys(owners.tolist()))
    shown = dict(zip(owners.tolist(), masked["owner"].tolist(), strict=True))
    titles = _sheet_titles([shown[r] if r is not None else None for r in reps], lang)
    groups = [("全部客户" if lang == "zh" else "All customers", masked)]
    for rep, title in zip(reps, titles, strict=True):
        groups.append((title, masked[(owners == rep) if rep is not None else owners.isna()]))
    for at, (title, rows) in enumerate(groups):
        sheet = book.active if at == 0 else book.create_sheet()
        sheet.title = title
        _write_sheet(sheet, rows, headers, lang)
    path = Path(path)
    book.save(path)
    return path


def actions_from_report(output_dir: str | os.PathLike, *, lang: str = "zh") -> pd.DataFrame | None:
    """Return :func:`customer_actions` of the results a report folder holds (None without any)."""
    parts: Mapping[str, pd.DataFrame | None] = {
        name: read_result(output_dir, name)
        for name in ("customer_tags", "rfm_segments", "clv", "cross_sell")
    }
    if all(part is None for part in parts.values()):
        return None
    return customer_actions(
        parts["customer_tags"],
        segments=parts["rfm_segments"],
        clv=parts["clv"],
        offers=parts["cross_sell"],
        lang=lang,
    )
