"""Vectorised parsers for the messy values sales templates hold.

Every parser takes a pandas Series of whatever the file held (text, numbers, datetimes) and returns
a new Series (or DataFrame) on the same index. A value that cannot be read with certainty becomes
missing; it is never guessed. :func:`analysis_kit.cleaning.clean_table` compares input and output
to send such rows to the quarantine with a reason. Parsers never raise on any text and never modify
their input. There are no per-row Python loops on the hot path: the work is done by pandas' string
methods and regular expressions over the whole column.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .columns import CHOICES, STAGES

__all__ = [
    "company_key",
    "normalize_text",
    "parse_amount",
    "parse_bool",
    "parse_budget",
    "parse_choice",
    "parse_company_size",
    "parse_date",
    "parse_industry",
    "parse_number",
    "parse_percent",
    "parse_period",
    "parse_phone",
    "parse_score",
    "parse_sentiment",
    "parse_stage",
    "parse_timeline",
    "stage_outcome",
    "parse_year",
]

#: Cell values that mean "nothing here" (compared after stripping and lower-casing).
BLANK_TOKENS = ("", "nan", "none", "null", "n/a", "na", "-", "--", "—", "/")
# Whitespace as a plain character class: pandas hands ``\s`` to Python's ``re`` one value at a
# time, while an explicit class runs in pyarrow's vectorised regex engine.
_WS = "[ \t\n\r\f\v\u00a0\u3000]"


def _as_text(values: pd.Series, *, nfkc: bool = True) -> pd.Series:
    """Return ``values`` as stripped text with blanks as missing (the common first step)."""
    s = values
    if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
        s = s.astype("str").where(s.notna())
    elif s.dtype == object:
        s = s.map(_scalar_text, na_action="ignore")
    s = s.astype("str")
    if nfkc:
        s = _nfkc(s)
    s = s.str.strip()
    return s.mask(s.isna() | s.str.lower().isin(BLANK_TOKENS))


def _nfkc(s: pd.Series) -> pd.Series:
    """NFKC-normalise text; in Arrow's compute kernel when the strings are Arrow-backed."""
    if getattr(s.dtype, "storage", None) != "pyarrow":
        return s.str.normalize("NFKC")
    arrow = pa.array(s, from_pandas=True)
    normalized = pc.utf8_normalize(arrow, form="NFKC")
    return pd.Series(pd.array(normalized, dtype=s.dtype), index=s.index, name=s.name)


def _scalar_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    return str(value)


def normalize_text(values: pd.Series, *, nfkc: bool = False) -> pd.Series:
    """Strip text, collapse runs of whitespace (ideographic spaces included), blanks to missing.

    Parameters
    ----------
    values : Series
        Any values; non-text values are turned into text.
    nfkc : bool, default=False
        Also apply Unicode NFKC (full-width letters, digits and brackets to half-width). Names and
        identifiers use it; free text keeps its Chinese punctuation.

    Returns
    -------
    Series
        ``str`` dtype, missing where the input was blank.
    """
    s = _as_text(values, nfkc=nfkc)
    return s.str.replace(_WS + "+", " ", regex=True)


def company_key(values: pd.Series) -> pd.Series:
    """Return the matching key of company names: NFKC, no whitespace, lower case.

    ``上海恒达 机械（集团）有限公司`` and ``上海恒达机械(集团)有限公司`` share one key.
    """
    s = _as_text(values, nfkc=True)
    return s.str.replace(_WS + "+", "", regex=True).str.lower()


# --- dates -----------------------------------------------------------------------------------------

_DATE_RE = (
    r"^(?P<y>(?:1[89]|2[01])\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:(?:\s+|T|\s*日?)(?P<H>\d{1,2})\s*[:时]\s*(?P<M>\d{1,2})"
    r"(?:\s*[:分]\s*(?P<S>\d{1,2})(?:\.\d+)?)?\s*秒?)?(?:\s*\+00:00|Z)?"
    r"(?:\s*[(（]?\s*(?:星期|周|礼拜)[一二三四五六日天][)）]?)?$"  # a weekday after it is not read
)
_COMPACT_DATE_RE = r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})$"
_SERIAL_RE = r"^\d{5}(?:\.\d+)?$"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def parse_date(values: pd.Series, *, format: str | None = None) -> pd.Series:
    """Parse dates written the ways Chinese templates write them.

    Accepted: ``2024-03-15``, ``2024/3/15``, ``2024.3.15``, ``2024年3月15日``, ``20240315``, each
    optionally followed by a time (``14:30``, ``14:30:05``, ``14时30分``) and a weekday
    (``2018-01-01 星期五``: the weekday is not read, the date decides); Excel serial day numbers
    (``45366``, between 1954 and 2119); values that already are datetimes. Two-digit years
    (``24/3/15``), day-first or month-first forms (``15/3/2024``), month-only values and impossible
    dates (``2024-02-30``) are not guessed: they come back missing.

    Parameters
    ----------
    values : Series
        Text, numbers or datetimes.
    format : str, optional
        A ``strftime`` format the file is known to use, e.g. ``"%m/%d/%Y %H:%M"`` for an export
        writing ``12/1/2010 8:26``: the user says what the order is, so nothing is guessed.
        Values that do not match it are read as above.

    Returns
    -------
    Series
        ``datetime64[ns]``, NaT where the value is blank or not certainly a date.

    Examples
    --------
    >>> parse_date(pd.Series(["2024年3月15日", "2024/3/15 14:30", "45366", "24/3/15"])).tolist()
    [Timestamp('2024-03-15 00:00:00'), Timestamp('2024-03-15 14:30:00'), \
Timestamp('2024-03-15 00:00:00'), NaT]
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.copy()
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[ns]")
    text = _as_text(values)
    parts = text.str.extract(_DATE_RE)
    compact = text.str.extract(_COMPACT_DATE_RE)
    for col in ("y", "m", "d"):
        parts[col] = parts[col].fillna(compact[col])
    nums = parts.apply(pd.to_numeric, errors="coerce").astype("float64")
    stamp = pd.to_datetime(
        pd.DataFrame(
            {
                "year": nums["y"],
                "month": nums["m"],
                "day": nums["d"],
                "hour": nums["H"].fillna(0),
                "minute": nums["M"].fillna(0),
                "second": nums["S"].fillna(0),
            }
        ).where(nums["y"].notna() & (nums["H"].fillna(0) < 24) & (nums["M"].fillna(0) < 60)),
        errors="coerce",
    )
    serial = pd.to_numeric(text.where(text.str.fullmatch(_SERIAL_RE).fillna(False)), "coerce")
    serial = serial.where((serial >= 20000) & (serial < 80000))
    from_serial = _EXCEL_EPOCH + pd.to_timedelta(serial.round(6), unit="D")
    out = stamp.fillna(from_serial)
    if format is not None:
        declared = pd.to_datetime(text, format=format, errors="coerce")
        out = declared.astype("datetime64[ns]").fillna(out)
    return out.astype("datetime64[ns]").rename(values.name)


# --- numbers ---------------------------------------------------------------------------------------

_UNIT_FACTOR = {"": 1.0, "千": 1e3, "k": 1e3, "万": 1e4, "w": 1e4, "亿": 1e8, "百万": 1e6, "m": 1e6}
_NUM = r"\d+(?:\.\d+)?|\.\d+"
_UNIT = r"百万|千|万|亿|k|w|m"


def _clean_money_text(values: pd.Series) -> pd.Series:
    text = _as_text(values).str.lower()
    text = text.str.replace(r"[¥$,\s]|人民币|rmb|cny|元整?|块", "", regex=True)
    # Accounting negatives: (1234) -> -1234
    return text.str.replace(r"^\((.+)\)$", r"-\1", regex=True)


def _scaled(number: pd.Series, unit: pd.Series, default: float) -> pd.Series:
    factor = unit.fillna("").map(_UNIT_FACTOR).astype("float64")
    factor = factor.where(unit.fillna("") != "", default)
    return pd.to_numeric(number, errors="coerce") * factor


#: Decimals kept when parsing money: enough for a unit price of 0.001, few enough to drop the float
#: noise of unit arithmetic (``1.28万`` is 12800.000000000002 before rounding). Values are never
#: rounded to cents; comparisons are (see ``analysis_kit._validate``).
_NOISE = 6


def parse_amount(values: pd.Series, *, unit: float = 1.0) -> pd.Series:
    """Parse money amounts into yuan (元).

    Accepted: ``1234``, ``1,234.00``, ``¥1,234``, ``￥1234``, ``1234元``, ``1.28万``, ``3亿``,
    ``-500`` and ``(500)`` for refunds, ``12k``. Ranges (``30-50万``), ``面议`` and other text come back
    missing.

    Parameters
    ----------
    values : Series
        Text or numbers.
    unit : float, default=1.0
        Multiplier for bare numbers, e.g. ``10000`` when the header said ``(万元)``. An explicit
        unit in the value (``万``, ``亿``) wins.

    Returns
    -------
    Series
        ``float64`` yuan as written (a price of ``0.001`` stays 0.001), NaN where unreadable.

    Examples
    --------
    >>> parse_amount(pd.Series(["¥1,234.00", "1.28万", "-500", "30-50万"])).tolist()
    [1234.0, 12800.0, -500.0, nan]
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        number = values.astype("float64")
        return (number.where(np.isfinite(number)) * unit).round(_NOISE).rename(values.name)
    parts = _clean_money_text(values).str.extract(rf"^(?P<sign>[+-]?)(?P<n>{_NUM})(?P<u>{_UNIT})?$")
    amount = _scaled(parts["n"], parts["u"], unit)
    amount = amount.where(parts["sign"] != "-", -amount)
    return amount.round(_NOISE).astype("float64").rename(values.name)


def parse_number(values: pd.Series) -> pd.Series:
    """Parse counts such as employees or quantities: ``200``, ``1,200人``, ``3台``, ``-2``, ``1.2万``.

    Returns
    -------
    Series
        ``float64``, NaN where unreadable (ranges such as ``100-200人`` included).
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64").rename(values.name)
    text = _as_text(values).str.lower().str.replace(r"[,\s]", "", regex=True)
    text = text.str.replace(r"(?:人|名|个|件|台|套|份|箱|pcs|units?)$", "", regex=True)
    parts = text.str.extract(rf"^(?P<sign>[+-]?)(?P<n>{_NUM})(?P<u>千|万|k|w)?$")
    number = _scaled(parts["n"], parts["u"], 1.0)
    return number.where(parts["sign"] != "-", -number).astype("float64").rename(values.name)


def parse_percent(values: pd.Series, *, unit: float | None = None) -> pd.Series:
    """Parse rates into fractions: ``12%`` and ``12.5％`` → 0.12, 0.125; ``0.12`` → 0.12.

    A bare number above 1 in absolute value is ambiguous (12 or 12 %?) and comes back missing unless
    ``unit`` says how to read it (``0.01`` when the header said ``(%)``).
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        num = values.astype("float64")
        return (num * unit if unit else num.where(num.abs() <= 1)).rename(values.name)
    text = _as_text(values).str.replace(r"\s", "", regex=True)
    parts = text.str.extract(rf"^(?P<sign>[+-]?)(?P<n>{_NUM})(?P<pct>%)?$")
    num = pd.to_numeric(parts["n"], errors="coerce")
    num = num.where(parts["sign"] != "-", -num)
    has_pct = parts["pct"].notna()
    out = num.where(~has_pct, num / 100)
    bare = ~has_pct
    out = out.where(~bare, num * unit) if unit else out.where(~bare | (num.abs() <= 1))
    return out.astype("float64").rename(values.name)


# --- budgets ---------------------------------------------------------------------------------------

BUDGET_KINDS = ("exact", "range", "up_to", "from", "negotiable")
_NEGOTIABLE = r"^(?:面议|待定|未定|不确定|暂无|暂定|无预算|未知|tbd|n/?a|negotiable|open)$"
_UPTO_PREFIX = r"(?:不超过|不高于|最多|最高|至多|≤|<=|<|低于|小于|少于|under|upto|below|max)"
_UPTO_SUFFIX = r"(?:以内|以下|之内|内)"
_FROM_PREFIX = r"(?:不低于|至少|最低|≥|>=|>|大于|超过|高于|over|above|min)"
_FROM_SUFFIX = r"(?:以上|起|\+)"
_N = rf"(?P<{{g}}>{_NUM})(?P<{{g}}u>{_UNIT})?"


def parse_budget(values: pd.Series, *, unit: float = 1.0) -> pd.DataFrame:
    """Parse budget text into a minimum, a maximum and a kind.

    ======================  ==========  ==========  ============
    value                   budget_min  budget_max  budget_kind
    ======================  ==========  ==========  ============
    ``30-50万``, ``30万~50万``  300000      500000      range
    ``10万以内``, ``≤10万``    0           100000      up_to
    ``50万以上``, ``≥50万``    500000      NaN         from
    ``20万``                200000      200000      exact
    ``面议``, ``待定``          NaN         NaN         negotiable
    ======================  ==========  ==========  ============

    A range whose low end exceeds its high end, and any other text, gives all three missing.

    Parameters
    ----------
    values : Series
        Budget text or numbers.
    unit : float, default=1.0
        Multiplier for bare numbers (``10000`` under a ``预算范围（万元）`` header). In a range the
        high end's unit also applies to a low end written without one (``30-50万``).

    Returns
    -------
    DataFrame
        Columns ``budget_min``, ``budget_max`` (float64 yuan) and ``budget_kind`` (str).
    """
    text = _clean_money_text(values).str.replace(r"[～~—–至到]", "-", regex=True)
    text = text.str.replace(r"^-(?=\d)", "", regex=True)  # stray leading dash is not a sign here
    n1, n2 = _N.format(g="a"), _N.format(g="b")
    exact = text.str.extract(rf"^{n1}$")
    rng = text.str.extract(rf"^{n1}-{n2}$")
    nc = _N.format(g="c")
    upto = text.str.extract(rf"^(?:{_UPTO_PREFIX}{n1}{_UPTO_SUFFIX}?|{nc}{_UPTO_SUFFIX})$")
    frm = text.str.extract(rf"^(?:{_FROM_PREFIX}{n1}{_FROM_SUFFIX}?|{nc}{_FROM_SUFFIX})$")

    lo_unit = rng["au"].fillna(rng["bu"])
    r_lo = _scaled(rng["a"], lo_unit, unit)
    r_hi = _scaled(rng["b"], rng["bu"], unit)
    u_hi = _scaled(upto["a"].fillna(upto["c"]), upto["au"].fillna(upto["cu"]), unit)
    f_lo = _scaled(frm["a"].fillna(frm["c"]), frm["au"].fillna(frm["cu"]), unit)
    e_val = _scaled(exact["a"], exact["au"], unit)

    kind = pd.Series(pd.NA, index=values.index, dtype="str")
    lo = pd.Series(np.nan, index=values.index)
    hi = pd.Series(np.nan, index=values.index)
    for name, k_lo, k_hi in (
        ("exact", e_val, e_val),
        ("range", r_lo, r_hi),
        ("up_to", u_hi * 0, u_hi),
        ("from", f_lo, pd.Series(np.nan, index=values.index)),
    ):
        hit = kind.isna() & (k_lo.notna() | k_hi.notna())
        kind = kind.mask(hit, name)
        lo = lo.mask(hit, k_lo)
        hi = hi.mask(hit, k_hi)
    negotiable = kind.isna() & text.str.fullmatch(_NEGOTIABLE, case=False).fillna(False)
    kind = kind.mask(negotiable, "negotiable")
    bad = lo.notna() & hi.notna() & (lo > hi)
    return pd.DataFrame(
        {
            "budget_min": lo.mask(bad).round(2),
            "budget_max": hi.mask(bad).round(2),
            "budget_kind": kind.mask(bad),
        },
        index=values.index,
    )


# --- company size ---------------------------------------------------------------------------------

_REVENUE_WORDS = (
    r"(?:年营业收入|年营收|年营业额|年收入|年销售额|营收|营业额|营业收入|收入|销售额|产值)"
)
_MONEY_UNIT = r"千万|百万|万|亿"
_MONEY_FACTOR = {"": 1.0, "千万": 1e7, "百万": 1e6, "万": 1e4, "亿": 1e8}
_EMP_UNIT = r"(?:人|名|员工)"


def _money(number: pd.Series, unit: pd.Series) -> pd.Series:
    return pd.to_numeric(number, errors="coerce") * unit.fillna("").map(_MONEY_FACTOR)


def parse_company_size(values: pd.Series) -> pd.DataFrame:
    """Read 客户规模 as teams write it: a size word, an employee range, a revenue range, or both.

    ==================================  ============  ============  =================  =======
    value                               employees     (min, max)    annual revenue     word
    ==================================  ============  ============  =================  =======
    ``员工100-500人，年营收5000万-1亿``   100           500           5e7 – 1e8
    ``50人以下`` / ``少于50人``           NaN           50
    ``500人以上`` / ``1000+``            500 / 1000    NaN
    ``100-499人`` / ``员工200人``         100 / 200     499 / 200
    ``年营收1亿以上`` / ``营收约3000万``    —             —             1e8 – / 3e7 – 3e7
    ``大型企业``, ``中小企业``, ``小微``     —             —             —                  大型, 中小型, 小微
    ==================================  ============  ============  =================  =======

    Bounds keep the words' own meaning: ``50人以下`` has ``employees_max`` 50 and no minimum. Text
    that holds none of these shapes is not an error: ``company_size`` keeps it as written and
    ``size_understood`` is False, so cleaning can report it.

    Parameters
    ----------
    values : Series
        The 客户规模 / 企业规模 cells.

    Returns
    -------
    DataFrame
        ``company_size`` (the size word's template form where the cell is one, else the text),
        ``employees_min``, ``employees_max``, ``annual_revenue_min``, ``annual_revenue_max``
        (float64; revenue in yuan) and ``size_understood`` (bool; False for blanks too).

    Examples
    --------
    >>> out = parse_company_size(pd.Series(["员工100-500人，年营收5000万-1亿", "50人以下", "大型企业"]))
    >>> out[["employees_min", "employees_max", "annual_revenue_max"]].values.tolist()
    [[100.0, 500.0, 100000000.0], [nan, 50.0, nan], [nan, nan, nan]]
    >>> out["company_size"].tolist()
    ['员工100-500人，年营收5000万-1亿', '50人以下', '大型']
    """
    text = _as_text(values)
    compact = text.str.lower().str.replace(r"(?<=\d),(?=\d{3})", "", regex=True)
    compact = compact.str.replace(_WS + "+", "", regex=True).str.replace(
        r"[～~—–至到]", "-", regex=True
    )
    num = r"\d+(?:\.\d+)?"
    # Revenue first, so its numbers are not read as headcounts.
    rev_rng = compact.str.extract(
        rf"{_REVENUE_WORDS}(?:约|大约|在)?(?P<a>{num})(?P<au>{_MONEY_UNIT})?元?-(?P<b>{num})"
        rf"(?P<bu>{_MONEY_UNIT})元?"
    )
    rev_one = compact.str.extract(
        rf"{_REVENUE_WORDS}(?:约|大约|在|超过|不足|少于|低于)?(?P<c>{num})(?P<cu>{_MONEY_UNIT})元?"
        r"(?P<dir>以上|以下|以内|\+)?"
    )
    rev_prefix = compact.str.extract(rf"{_REVENUE_WORDS}(?P<p>约|大约|超过|不足|少于|低于)?")["p"]
    lo_rng = _money(rev_rng["a"], rev_rng["au"].fillna(rev_rng["bu"]))
    hi_rng = _money(rev_rng["b"], rev_rng["bu"])
    one = _money(rev_one["c"], rev_one["cu"])
    up = rev_one["dir"].isin(["以下", "以内"]) | rev_prefix.isin(["不足", "少于", "低于"])
    down = rev_one["dir"].isin(["以上", "+"]) | rev_prefix.eq("超过")
    rev_min = lo_rng.fillna(one.where(~up))
    rev_max = hi_rng.fillna(one.where(~down))
    rest = compact.str.replace(rf"{_REVENUE_WORDS}[^,，;；、/]*", "", regex=True)

    bare = rest.str.fullmatch(rf"(?:员工|人数|员工人数)?[:：]?\d+(?:-\d+|\+)?{_EMP_UNIT}?").fillna(
        False
    )
    emp_rng = rest.str.extract(rf"(?P<a>\d+)-(?P<b>\d+){_EMP_UNIT}")
    bare_rng = rest.where(bare).str.extract(r"(?P<a>\d+)-(?P<b>\d+)")
    emp_up = rest.str.extract(
        rf"(?:(?:少于|不足|小于|低于|不到)(?P<c>\d+){_EMP_UNIT}|(?P<d>\d+){_EMP_UNIT}?(?:以下|以内|之内))"
    )
    emp_from = rest.str.extract(
        rf"(?P<e>\d+){_EMP_UNIT}?(?:以上|\+)|(?:超过|多于)(?P<f>\d+){_EMP_UNIT}"
    )
    emp_one = rest.str.extract(rf"(?<![\d-])(?P<g>\d+){_EMP_UNIT}")
    bare_one = rest.where(bare).str.extract(r"^(?:员工|人数|员工人数)?[:：]?(?P<g>\d+)$")
    as_num = lambda s: pd.to_numeric(s, errors="coerce")  # noqa: E731
    emp_min = as_num(emp_rng["a"].fillna(bare_rng["a"]))
    emp_max = as_num(emp_rng["b"].fillna(bare_rng["b"]))
    only_max = as_num(emp_up["c"].fillna(emp_up["d"]))
    only_min = as_num(emp_from["e"].fillna(emp_from["f"]))
    exact = as_num(emp_one["g"].fillna(bare_one["g"]))
    no_range = emp_min.isna() & emp_max.isna()
    emp_max = emp_max.where(~no_range, only_max)
    emp_min = emp_min.where(~no_range | only_max.notna(), only_min)
    no_bound = emp_min.isna() & emp_max.isna()
    emp_min = emp_min.where(~no_bound, exact)
    emp_max = emp_max.where(~no_bound, exact)

    # A range written high to low (``500-100人``) is not read either way.
    emp_bad = emp_min > emp_max
    emp_min, emp_max = emp_min.mask(emp_bad), emp_max.mask(emp_bad)
    rev_bad = rev_min > rev_max
    rev_min, rev_max = rev_min.mask(rev_bad), rev_max.mask(rev_bad)
    word_key = text.str.lower().str.replace(_WS + "+", "", regex=True)
    word = word_key.map(CHOICE_VARIANTS["company_size"])
    understood = (
        emp_min.notna() | emp_max.notna() | rev_min.notna() | rev_max.notna() | word.notna()
    )
    return pd.DataFrame(
        {
            "company_size": word.fillna(normalize_text(values)).astype("str"),
            "employees_min": emp_min.astype("float64"),
            "employees_max": emp_max.astype("float64"),
            "annual_revenue_min": rev_min.round(2).astype("float64"),
            "annual_revenue_max": rev_max.round(2).astype("float64"),
            "size_understood": understood.fillna(False).astype(bool),
        },
        index=values.index,
    )


# --- scores, phones, closed lists --------------------------------------------------------------------

_CN_DIGITS = {"一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "零": "0"}


def parse_score(values: pd.Series, *, low: int | None = 1, high: int = 5) -> pd.Series:
    """Parse 1–5 scores: ``4``, ``4分``, full-width ``４``, ``4.0``, ``四分``, ``4/5``, ``4星``.

    Fractional scores (``4.5``) come back missing, and so do scores outside ``low``..``high``
    unless ``low`` is None (then any whole number is returned and the range is left to the
    schema, which reports it as out of range).

    Returns
    -------
    Series
        ``Int64``.
    """
    text = _as_text(values).str.replace(r"\s", "", regex=True)
    text = text.replace(_CN_DIGITS, regex=True)
    num = pd.to_numeric(
        text.str.extract(rf"^({_NUM})(?:分|星|/{high}|/{high}分)?$")[0], errors="coerce"
    )
    ok = num.notna() & (num == num.round())
    if low is not None:
        ok &= (num >= low) & (num <= high)
    return num.where(ok).astype("Int64").rename(values.name)


_MOBILE = r"1[3-9][0-9]{9}"
_LANDLINE = r"0[0-9]{9,11}"
_PHONE_SEPARATORS = r"[;；/、,，]|  +"


def _one_phone(text: pd.Series) -> pd.Series:
    digits = text.str.replace(_WS[:-1] + r"\-()（）.]", "", regex=True)
    mobile_86 = digits.str.fullmatch(r"(?:\+86|0086|86)1[3-9][0-9]{9}").fillna(False)
    digits = digits.mask(mobile_86, digits.str[-11:])
    land_86 = digits.str.fullmatch(r"(?:\+86|0086)[1-9][0-9]{8,10}").fillna(False)
    digits = digits.mask(land_86, "0" + digits.str.replace(r"^(?:\+86|0086)", "", regex=True))
    mobile = digits.str.fullmatch(_MOBILE).fillna(False)
    land = digits.str.fullmatch(_LANDLINE).fillna(False)
    short_area = digits.str.match(r"0[12]").fillna(False)
    area_len = np.where(short_area, 3, 4)
    landline = pd.Series([None] * len(digits), index=digits.index, dtype="str")
    if land.any():
        d = digits[land]
        n = pd.Series(area_len, index=digits.index)[land]
        three = d.str[:3] + "-" + d.str[3:]
        four = d.str[:4] + "-" + d.str[4:]
        landline[land] = three.where(n == 3, four)
    return digits.where(mobile).fillna(landline)


def parse_phone(values: pd.Series) -> pd.Series:
    """Normalise Chinese phone numbers.

    Mobiles become 11 digits (``+86-138-0013-8000`` → ``13800138000``); landlines become
    ``area-number`` (``(0755)88886666`` → ``0755-88886666``, ``010 1234 5678`` → ``010-12345678``).
    Full-width digits, spaces, hyphens, brackets and the ``+86``/``0086`` prefix are accepted.
    Several numbers in one cell (separated by ``;``, ``/``, ``、``, ``,``) are each normalised and
    joined with ``"; "``; if any of them is not a phone number the cell comes back missing.

    Returns
    -------
    Series
        ``str``, missing where blank or not a phone number.
    """
    text = _as_text(values)
    multi = text.str.contains(_PHONE_SEPARATORS, regex=True).fillna(False)
    out = _one_phone(text.where(~multi))
    if multi.any():
        pieces = text[multi].str.split(_PHONE_SEPARATORS, regex=True).explode()
        pieces = pieces.str.strip()
        pieces = pieces[pieces.fillna("") != ""]
        parsed = _one_phone(pieces)
        grouped = parsed.groupby(level=0, sort=False)
        joined = grouped.agg(lambda s: "; ".join(dict.fromkeys(s.dropna())))
        complete = grouped.count() == grouped.size()
        out = out.astype("str")
        out.loc[joined.index] = joined.where(complete)
    return out.astype("str").rename(values.name)


#: Variants of the closed lists, after NFKC and lower-casing, mapped to the template values.
CHOICE_VARIANTS: dict[str, dict[str, str]] = {
    "grade": {
        "重点": "重点",
        "重点客户": "重点",
        "重要": "重点",
        "重要客户": "重点",
        "vip": "重点",
        "key": "重点",
        "key account": "重点",
        "潜在": "潜在",
        "潜在客户": "潜在",
        "意向客户": "潜在",
        "potential": "潜在",
        "prospect": "潜在",
        "普通": "普通",
        "普通客户": "普通",
        "一般": "普通",
        "一般客户": "普通",
        "regular": "普通",
        "normal": "普通",
    },
    "priority": {
        "高": "高",
        "高优先级": "高",
        "优先级高": "高",
        "紧急": "高",
        "high": "高",
        "h": "高",
        "中": "中",
        "中优先级": "中",
        "优先级中": "中",
        "一般": "中",
        "medium": "中",
        "m": "中",
        "低": "低",
        "低优先级": "低",
        "优先级低": "低",
        "low": "低",
        "l": "低",
    },
    "value_grade": {
        "高": "高",
        "高价值": "高",
        "high": "高",
        "中": "中",
        "中等": "中",
        "medium": "中",
        "低": "低",
        "低价值": "低",
        "low": "低",
    },
    "potential_rating": {
        "a": "A",
        "a级": "A",
        "a类": "A",
        "b": "B",
        "b级": "B",
        "b类": "B",
        "c": "C",
        "c级": "C",
        "c类": "C",
    },
    "contact_method": {
        "电话": "电话",
        "打电话": "电话",
        "致电": "电话",
        "电话沟通": "电话",
        "电话拜访": "电话",
        "phone": "电话",
        "call": "电话",
        "面谈": "面谈",
        "拜访": "面谈",
        "上门拜访": "面谈",
        "上门": "面谈",
        "见面": "面谈",
        "现场拜访": "面谈",
        "面访": "面谈",
        "visit": "面谈",
        "meeting": "面谈",
        "in person": "面谈",
        "邮件": "邮件",
        "电子邮件": "邮件",
        "email": "邮件",
        "e-mail": "邮件",
        "mail": "邮件",
        "线上会议": "线上会议",
        "视频会议": "线上会议",
        "腾讯会议": "线上会议",
        "钉钉会议": "线上会议",
        "网络会议": "线上会议",
        "线上": "线上会议",
        "zoom": "线上会议",
        "online meeting": "线上会议",
        "video call": "线上会议",
        "视频": "线上会议",
        "微信": "微信",
        "企业微信": "微信",
        "微信沟通": "微信",
        "微信联系": "微信",
        "微信语音": "微信",
        "wechat": "微信",
        "wecom": "微信",
        "钉钉": "钉钉",
        "dingtalk": "钉钉",
        "qq": "QQ",
        "qq沟通": "QQ",
        "短信": "短信",
        "sms": "短信",
        "text": "短信",
    },
    "company_size": {
        "大型": "大型",
        "大型企业": "大型",
        "大": "大型",
        "large": "大型",
        "中型": "中型",
        "中型企业": "中型",
        "中": "中型",
        "medium": "中型",
        "小型": "小型",
        "小型企业": "小型",
        "小": "小型",
        "small": "小型",
        "微型": "微型",
        "微型企业": "微型",
        "微": "微型",
        "micro": "微型",
        "中小型": "中小型",
        "中小企业": "中小型",
        "中小型企业": "中小型",
        "sme": "中小型",
        "小微": "小微",
        "小微企业": "小微",
        "个人": "个人",
        "个体户": "个人",
        "个体": "个人",
    },
    "outcome": {
        "won": "won",
        "win": "won",
        "赢单": "won",
        "赢": "won",
        "成交": "won",
        "已成交": "won",
        "签约": "won",
        "closed won": "won",
        "closedwon": "won",
        "lost": "lost",
        "lose": "lost",
        "closed lost": "lost",
        "closedlost": "lost",
        "输单": "lost",
        "丢单": "lost",
        "失败": "lost",
        "已输单": "lost",
        "未成交": "lost",
        "open": "open",
        "进行中": "open",
        "跟进中": "open",
        "in progress": "open",
        "pending": "open",
        "prospecting": "open",
        "engaging": "open",
    },
}


def parse_choice(
    values: pd.Series, field: str, *, allowed: tuple[str, ...] | None = None
) -> pd.Series:
    """Map a closed-list column to its template values (``重点客户`` → ``重点``).

    Parameters
    ----------
    values : Series
        Raw values.
    field : str
        The canonical field name, a key of :data:`CHOICE_VARIANTS`.
    allowed : tuple of str, optional
        The allowed values; defaults to ``columns.CHOICES[field]``. A value already in it is kept.

    Returns
    -------
    Series
        ``str``, missing where blank or not one of the allowed values.
    """
    allowed = tuple(allowed if allowed is not None else CHOICES.get(field, ()))
    variants = {**CHOICE_VARIANTS.get(field, {}), **{a.lower(): a for a in allowed}}
    key = _as_text(values).str.lower().str.replace(r"\s+", " ", regex=True)
    out = key.map(variants)
    return out.where(out.isin(allowed)).astype("str").rename(values.name)


_TRUE = r"^(?:是|有|已接触|接触过|y|yes|true|1|√|✓)$"
_FALSE = r"^(?:否|无|没有|未接触|n|no|false|0|×|✗)$"


def parse_bool(values: pd.Series) -> pd.Series:
    """Parse yes/no columns: ``是/有/Y/yes/1/√`` → True, ``否/无/N/no/0/×`` → False.

    Returns
    -------
    Series
        ``boolean`` (nullable), missing where blank or neither.
    """
    text = _as_text(values).str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out = out.mask(text.str.fullmatch(_TRUE).fillna(False), True)
    out = out.mask(text.str.fullmatch(_FALSE).fillna(False), False)
    return out.rename(values.name)


# --- stages, sentiment, industry -------------------------------------------------------------------

STAGE_VARIANTS: dict[str, str] = {
    "初次接洽": "初次接洽",
    "初步接洽": "初次接洽",
    "初次接触": "初次接洽",
    "接洽": "初次接洽",
    "线索": "初次接洽",
    "线索获取": "初次接洽",
    "initialcontact": "初次接洽",
    "firstcontact": "初次接洽",
    "prospecting": "初次接洽",
    "lead": "初次接洽",
    "leadin": "初次接洽",
    "new": "初次接洽",
    "需求确认": "需求确认",
    "需求沟通": "需求确认",
    "需求分析": "需求确认",
    "需求调研": "需求确认",
    "needsconfirmed": "需求确认",
    "qualification": "需求确认",
    "qualified": "需求确认",
    "discovery": "需求确认",
    "needsanalysis": "需求确认",
    "engaging": "需求确认",
    "iddecisionmakers": "需求确认",
    "id.decisionmakers": "需求确认",
    "perceptionanalysis": "需求确认",
    "方案提交": "方案提交",
    "方案报价": "方案提交",
    "提交方案": "方案提交",
    "报价": "方案提交",
    "方案": "方案提交",
    "proposal": "方案提交",
    "quote": "方案提交",
    "valueproposition": "方案提交",
    "proposal/pricequote": "方案提交",
    "pricequote": "方案提交",
    "proposalmade": "方案提交",
    "商务谈判": "商务谈判",
    "谈判": "商务谈判",
    "合同谈判": "商务谈判",
    "negotiation": "商务谈判",
    "negotiation/review": "商务谈判",
    "negotiations": "商务谈判",
    "contractsent": "商务谈判",
    "成交": "成交",
    "签约": "成交",
    "合同签订": "成交",
    "赢单": "成交",
    "已成交": "成交",
    "won": "成交",
    "closedwon": "成交",
    "售后维护": "售后维护",
    "售后": "售后维护",
    "维护": "售后维护",
    "售后复购": "售后维护",
    "复购": "售后维护",
    "aftersales": "售后维护",
    "retention": "售后维护",
}


#: Stage words that record how a deal ended rather than a step it reached (``Closed Lost``).
#: They are the outcome words meaning lost, written without spaces as stage cells are compared.
LOST_STAGE_WORDS: tuple[str, ...] = tuple(
    dict.fromkeys(k.replace(" ", "") for k, v in CHOICE_VARIANTS["outcome"].items() if v == "lost")
)


def stage_outcome(values: pd.Series) -> pd.Series:
    """Read the outcome a stage cell records instead of a step: ``Lost``, ``Closed Lost``, ``输单``.

    Returns
    -------
    Series
        ``str``: ``"lost"`` where the stage names a lost deal, missing elsewhere (a won deal's
        stage is the step :func:`parse_stage` reads, ``成交``).

    Examples
    --------
    >>> stage_outcome(pd.Series(["Closed Lost", "Won", "输单"])).tolist()
    ['lost', nan, 'lost']
    """
    key = _as_text(values).str.lower().str.replace(r"[\s\-_]", "", regex=True)
    lost = key.isin(LOST_STAGE_WORDS)
    return pd.Series("lost", index=values.index, dtype="str", name=values.name).where(lost)


def parse_stage(values: pd.Series, *, stages: tuple[str, ...] = STAGES) -> pd.Series:
    """Parse sales stages: ``①初次接洽``, ``1-初次接洽``, ``2.需求确认``, ``阶段3``, ``商务谈判``, ``4``.

    A number and a name that disagree (``2-方案提交``) are ambiguous and come back missing, as does
    an unknown name.

    Returns
    -------
    Series
        Ordered ``category`` over ``stages``.
    """
    text = _as_text(values).str.lower()  # NFKC turns ① into 1
    parts = text.str.extract(
        r"^(?:第|阶段|stage)?\s*(?P<n>\d)?\s*(?:阶段)?\s*[-.、:：)）\s]*\s*(?P<name>.*?)\s*$"
    )
    name_key = parts["name"].str.replace(r"[\s\-_]", "", regex=True)
    by_name = name_key.map(STAGE_VARIANTS)
    by_name = by_name.where(by_name.isin(stages))
    num = pd.to_numeric(parts["n"], errors="coerce")
    by_num = num.map(lambda n: stages[int(n) - 1] if 1 <= n <= len(stages) else None)
    has_name = name_key.fillna("") != ""
    has_num = num.notna()
    out = by_name.where(has_name, by_num)
    conflict = has_name & has_num & (by_name != by_num)
    out = out.mask(conflict)
    return pd.Series(
        pd.Categorical(out, categories=list(stages), ordered=True),
        index=values.index,
        name=values.name,
    )


SENTIMENT_WORDS: dict[str, tuple[str, ...]] = {
    "消极": (
        "不满意",
        "不感兴趣",
        "没兴趣",
        "不需要",
        "没有需求",
        "暂不考虑",
        "不考虑",
        "拒绝",
        "太贵",
        "价格偏高",
        "价格高",
        "预算不足",
        "投诉",
        "不认可",
        "放弃",
        "失望",
        "流失",
        "选择竞品",
        "negative",
        "not interested",
    ),
    "积极": (
        "满意",
        "认可",
        "感兴趣",
        "有兴趣",
        "积极",
        "认同",
        "期待",
        "愿意",
        "同意",
        "推进",
        "好评",
        "意向强",
        "很好",
        "positive",
        "interested",
    ),
}


def parse_sentiment(values: pd.Series) -> pd.Series:
    """Read a sentiment (积极/中性/消极) from feedback text by keyword rules.

    Negative keywords are checked first so ``不满意`` is not read as ``满意``. A value that already is
    积极, 中性 or 消极 is kept. Text that matches neither list is 中性; blanks stay missing.

    Returns
    -------
    Series
        ``str``.
    """
    text = _as_text(values).str.lower()
    out = text.where(text.isin(CHOICES["sentiment"]))
    for label in ("消极", "积极"):
        pattern = "|".join(re.escape(w) for w in SENTIMENT_WORDS[label])
        hit = out.isna() & text.str.contains(pattern, regex=True).fillna(False)
        out = out.mask(hit, label)
    out = out.mask(out.isna() & text.notna(), "中性")
    return out.astype("str").rename("sentiment")


def parse_industry(values: pd.Series) -> pd.DataFrame:
    """Split ``制造业-机械设备`` into ``industry`` (kept whole), ``industry_l1`` and ``industry_l2``."""
    text = _as_text(values).str.replace(r"\s*[-—–/>|]+\s*", "-", regex=True)
    parts = text.str.split("-", n=1, expand=True).reindex(columns=[0, 1])
    return pd.DataFrame(
        {"industry": text, "industry_l1": parts[0], "industry_l2": parts[1]},
        index=values.index,
    ).astype("str")


# --- years, periods, timelines ---------------------------------------------------------------------

_CN_QUARTER = {"一": "1", "二": "2", "三": "3", "四": "4"}


def parse_year(values: pd.Series, *, low: int = 1800, high: int = 2100) -> pd.Series:
    """Parse a year: ``2015``, ``2015年``, ``2015-05-01``, ``2015年5月``; outside low..high → missing.

    Returns
    -------
    Series
        ``Int64``.
    """
    text = _as_text(values)
    year = pd.to_numeric(text.str.extract(r"^((?:1[89]|2[01])\d{2})(?:\s*年|[-/.].*|年.*)?$")[0])
    return year.where((year >= low) & (year <= high)).astype("Int64").rename(values.name)


def _quarter_text(text: pd.Series) -> pd.Series:
    text = text.str.replace(
        r"第?([一二三四])季度", lambda m: "Q" + _CN_QUARTER[m.group(1)], regex=True
    )
    return text.str.replace(r"第?([1-4])季度", r"Q\1", regex=True)


def parse_period(values: pd.Series) -> pd.DataFrame:
    """Parse reporting periods: months, quarters and years.

    ``2024-03``, ``2024/3``, ``2024年3月`` and full dates are months; ``2024Q1``, ``2024-Q1``,
    ``2024年第一季度`` are quarters; ``2024``, ``2024年`` are years.

    Returns
    -------
    DataFrame
        ``period`` (``2024-03``, ``2024Q1`` or ``2024``), ``period_start`` (datetime64) and
        ``period_freq`` (``M``, ``Q`` or ``Y``); all missing where unreadable.
    """
    text = _quarter_text(_as_text(values).str.upper().str.replace(r"\s", "", regex=True))
    month = text.str.extract(
        r"^(?P<y>(?:1[89]|2[01])\d{2})[-/.年](?P<m>\d{1,2})(?:月|[-/.年]\d{1,2}日?.*)?$"
    )
    quarter = text.str.extract(r"^(?P<y>(?:1[89]|2[01])\d{2})年?-?Q(?P<q>[1-4])$")
    year = text.str.extract(r"^(?P<y>(?:1[89]|2[01])\d{2})年?$")
    m = pd.to_numeric(month["m"], errors="coerce").where(lambda x: (x >= 1) & (x <= 12))
    start_m = pd.to_datetime(
        month["y"] + "-" + m.astype("Int64").astype("str").str.zfill(2) + "-01",
        errors="coerce",
        format="%Y-%m-%d",
    )
    q = pd.to_numeric(quarter["q"], errors="coerce")
    start_q = pd.to_datetime(
        quarter["y"] + "-" + ((q - 1) * 3 + 1).astype("Int64").astype("str").str.zfill(2) + "-01",
        errors="coerce",
        format="%Y-%m-%d",
    )
    start_y = pd.to_datetime(year["y"] + "-01-01", errors="coerce", format="%Y-%m-%d")
    start = start_m.fillna(start_q).fillna(start_y)
    freq = pd.Series(
        np.select([start_m.notna(), start_q.notna(), start_y.notna()], ["M", "Q", "Y"], default=""),
        index=values.index,
    ).replace("", pd.NA)
    label = pd.Series(pd.NA, index=values.index, dtype="str")
    label = label.mask(freq == "M", start.dt.strftime("%Y-%m"))
    year_text = start.dt.year.astype("Int64").astype("str")
    label = label.mask(
        freq == "Q", year_text + "Q" + start.dt.quarter.astype("Int64").astype("str")
    )
    label = label.mask(freq == "Y", year_text)
    return pd.DataFrame(
        {"period": label, "period_start": start.astype("datetime64[ns]"), "period_freq": freq},
        index=values.index,
    ).astype({"period": "str", "period_freq": "str"})


def parse_timeline(values: pd.Series) -> pd.DataFrame:
    """Read a purchase timeline (``2024年Q3``, ``2024年6月``, ``2024年下半年``, ``2024``, ``待定``).

    Free text that is not a period (``尽快``, ``待定``) is not an error: it stays in
    ``purchase_timeline`` and the dates are missing.

    Returns
    -------
    DataFrame
        ``purchase_start`` and ``purchase_end`` (datetime64): the first and last day of the period.
    """
    text = _as_text(values).str.replace(r"\s", "", regex=True)
    half = text.str.extract(r"^(?P<y>(?:1[89]|2[01])\d{2})年?(?P<h>上半年|下半年|H1|H2)$")
    h_start = pd.to_datetime(
        half["y"]
        + half["h"].map({"上半年": "-01-01", "H1": "-01-01", "下半年": "-07-01", "H2": "-07-01"}),
        errors="coerce",
        format="%Y-%m-%d",
    )
    period = parse_period(text.where(half["y"].isna()))
    exact = parse_date(text.where(period["period"].isna() & half["y"].isna()))
    start = period["period_start"].fillna(h_start).fillna(exact)
    offsets = {
        "M": pd.offsets.MonthEnd(0),
        "Q": pd.offsets.QuarterEnd(0),
        "Y": pd.offsets.YearEnd(0),
    }
    end = exact.copy()
    for freq, off in offsets.items():
        sel = period["period_freq"] == freq
        if sel.any():
            end = end.mask(sel, period["period_start"][sel] + off)
    h_end = h_start + pd.offsets.DateOffset(months=6) - pd.Timedelta(days=1)
    end = end.fillna(h_end)
    return pd.DataFrame(
        {
            "purchase_start": start.astype("datetime64[ns]"),
            "purchase_end": end.astype("datetime64[ns]"),
        },
        index=values.index,
    )
