"""Masking of phone numbers and personal names, and a scan that proves a text has none left.

Reports never show a full phone number or a full contact name (design, section 7). Phones become
``138****8000`` (mobiles) or ``010-****5678`` (landlines with an area code); names keep only the
surname (``张**``) or the initials (``J. S.``). :func:`mask_frame` applies the right mask to every
column of a table, and :func:`find_unmasked` scans a finished report for anything that slipped
through, so a test can assert that it finds nothing.

Company names (``customer_name``) are not personal data and are left as they are.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from .columns import CONTACT_NAME, CONTACT_PHONE, OWNER

__all__ = [
    "COMPOUND_SURNAMES",
    "PERSONAL_COLUMNS",
    "TEXT_COLUMNS",
    "find_unmasked",
    "mask_frame",
    "mask_name",
    "mask_names",
    "mask_phone",
    "mask_phones",
    "mask_text",
]

#: Columns holding a person's name or phone number, masked by :func:`mask_frame` by default.
PERSONAL_COLUMNS: tuple[str, ...] = (CONTACT_NAME, CONTACT_PHONE, OWNER)

#: Free-text columns that often quote a phone number; :func:`mask_frame` scrubs them (and every
#: other text column it does not mask otherwise).
TEXT_COLUMNS: tuple[str, ...] = (
    "contact_summary",
    "need_description",
    "pain_points",
    "next_step",
    "feedback",
    "competitor_notes",
    "raw_value",
)

#: Two-character surnames kept whole by :func:`mask_name` when the name is longer than two.
COMPOUND_SURNAMES: tuple[str, ...] = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "令狐",
    "西门",
    "端木",
    "独孤",
    "南宫",
    "轩辕",
)

# --- the phone pattern shared by mask_text and find_unmasked ----------------------------------------
# Digits are ASCII or full-width only, so what the scan sees is exactly what the mask handles.
_D = "[0-9０-９]"
_SEP = r"[-－\s]"
_ALNUM = "0-9０-９A-Za-zＡ-Ｚａ-ｚ"
# Not inside an alphanumeric id (SO20240315001) and not the fraction of a decimal (0.13800138000).
_LEFT = rf"(?<![{_ALNUM}])(?<!{_D}[.,．，])"
# Not followed by more of an id, nor by decimals (13800138000.00 is an amount).
_RIGHT = rf"(?![{_ALNUM}])(?![.,．，]{_D})"
_CC = rf"(?:(?:[+＋]|00|００)?[8８][6６]{_SEP}?)"
_MOBILE = (
    rf"{_CC}?[1１][3-9３-９]{_D}(?:{_SEP}?{_D}{{4}}){{2}}"
    rf"|{_CC}?[1１][3-9３-９]{_D}{{2}}{_SEP}?{_D}{{3}}{_SEP}?{_D}{{4}}"
)
_AREA = rf"(?:[(（][0０][1-9１-９]{_D}{{1,2}}[)）]|[0０][1-9１-９]{_D}{{1,2}})"
_AREA_INTL = rf"(?:(?:[+＋]|00|００)[8８][6６]{_SEP}?(?:[(（][0０]?{_D}{{2,3}}[)）]|{_D}{{2,3}}))"
_LANDLINE = rf"(?:{_AREA_INTL}|{_AREA}){_SEP}?{_D}{{3,4}}{_SEP}?{_D}{{4}}"
_PHONE_RE = re.compile(rf"{_LEFT}(?:{_MOBILE}|{_LANDLINE}){_RIGHT}")
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)

_MOBILE_DIGITS = re.compile(r"1[3-9]\d{9}")
_ONLY_PHONE_CHARS = re.compile(r"[0-9\s\-+().]*")
_FLOAT_TEXT = re.compile(r"(\d+)\.0+")
_NON_DIGIT = re.compile(r"[^0-9]")
_PHONE_SPLIT = re.compile(r"[;/、,\n]")
_NAME_SPLIT = re.compile(r"[;、,\n]")
_PHONE_COLUMN_HINTS = ("phone", "mobile", "电话", "手机")


# --- helpers ----------------------------------------------------------------------------------------
def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_text(value: object) -> str:
    """Return ``value`` as NFKC text; integral floats (Excel's phone numbers) lose their ``.0``."""
    if (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    match = _FLOAT_TEXT.fullmatch(text)
    return match.group(1) if match else text


def _generic_mask(digits: str) -> str:
    if len(digits) < 7:
        return "****"
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def _mask_digits(digits: str, *, international: bool = False) -> str | None:
    """Mask a recognised mobile or landline given its digits, or return None."""
    d = digits
    if d.startswith("0086"):
        d, international = d[4:], True
    elif international and d.startswith("86"):
        d = d[2:]
    elif len(d) == 13 and _MOBILE_DIGITS.fullmatch(d[2:]) and d.startswith("86"):
        d, international = d[2:], True
    if international and d and d[0] != "0" and not _MOBILE_DIGITS.fullmatch(d):
        d = "0" + d  # +86 10 12345678: the area code lost its leading 0
    if _MOBILE_DIGITS.fullmatch(d):
        return f"{d[:3]}****{d[-4:]}"
    if len(d) > 2 and d[0] == "0" and d[1] != "0":
        area = 3 if d[1] in "12" else 4
        local = d[area:]
        if 7 <= len(local) <= 8:
            return f"{d[:area]}-****{local[-4:]}"
    return None


def _mask_match(match: re.Match[str]) -> str:
    text = unicodedata.normalize("NFKC", match.group(0))
    digits = _NON_DIGIT.sub("", text)
    masked = _mask_digits(digits, international=text.startswith(("+", "00")))
    return masked if masked is not None else _generic_mask(digits)


def _mask_phone_piece(piece: str) -> str:
    digits = _NON_DIGIT.sub("", piece)
    if _ONLY_PHONE_CHARS.fullmatch(piece):
        masked = _mask_digits(digits, international=piece.startswith("+"))
        if masked is not None:
            return masked
    matches = list(_PHONE_RE.finditer(piece))
    if matches and sum(len(_NON_DIGIT.sub("", m.group(0))) for m in matches) == len(digits):
        return "; ".join(_mask_match(m) for m in matches)
    return _generic_mask(digits)


def _scrub(text: str) -> str:
    # Masking shortens every digit run it touches, so this loop ends; repeating it guarantees that
    # no new phone-like run is formed by a mask's last digits and the text that follows.
    while _PHONE_RE.search(text):
        text = _PHONE_RE.sub(_mask_match, text)
    return text


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3400 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3FFFF
        or char == "〇"
    )


def _mask_name_piece(piece: str) -> str:
    first_alpha = next((c for c in piece if c.isalpha()), None)
    if first_alpha is None:
        return "**"
    if _is_cjk(first_alpha):
        start = piece.index(first_alpha)
        run = re.match(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff〇]+", piece[start:])
        name = run.group(0) if run else first_alpha
        if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
            return name[:2] + "**"
        return name[0] + "**"
    initials = []
    for word in piece.split():
        initial = next((c for c in word if c.isalpha()), None)
        if initial is not None:
            initials.append(initial + ".")
    return " ".join(initials) if initials else "**"


def _as_series(values: object, name: str) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.Index | np.ndarray | list | tuple):
        return pd.Series(values)
    raise TypeError(f"{name} must be a pandas Series (or list-like); got {type(values).__name__}")


def _map_unique(
    series: pd.Series,
    func: Callable[[object], object],
    *,
    keep: bool,
    fast: Callable[[pd.Series], tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.Series:
    """Apply ``func`` once per distinct value; missing values stay missing.

    ``fast``, when given, masks the common case with vectorised string methods: it returns a boolean
    array of the rows it handled and their masked values; ``func`` handles the rest.
    ``keep=True`` keeps an object or string dtype (for :func:`mask_text`, which leaves non-text
    values alone); otherwise the result is text: the input's string dtype, or object with ``pd.NA``.
    """
    raw = series.to_numpy(dtype=object)
    values = np.empty(len(raw), dtype=object)
    done = np.zeros(len(raw), dtype=bool)
    if fast is not None and len(raw):
        done, fast_values = fast(series)
        values[done] = fast_values
    codes, uniques = pd.factorize(raw[~done], use_na_sentinel=True)
    mapped = [func(u) for u in uniques]
    lookup = np.empty(len(mapped) + 1, dtype=object)
    lookup[:-1] = [None if _is_missing(m) and not isinstance(m, str) else m for m in mapped]
    lookup[-1] = None
    values[~done] = lookup[codes]
    missing = np.zeros(len(raw), dtype=bool)
    missing[~done] = codes == -1
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return pd.Series(values, index=series.index, name=series.name, dtype=dtype)
    if keep and pd.api.types.is_object_dtype(dtype):
        # Missing inputs come back as they were (None, NaN or pd.NA).
        values[missing] = raw[missing]
        return pd.Series(values, index=series.index, name=series.name, dtype=object)
    out = pd.Series(values, index=series.index, name=series.name, dtype=object)
    return out.where(out.notna(), pd.NA)


def _fast_mobiles(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Mask plain 11-digit mobiles (the usual cell) with vectorised string methods."""
    none = np.zeros(len(series), dtype=bool), np.empty(0, dtype=object)
    if isinstance(series.dtype, pd.StringDtype):
        text = series
    elif pd.api.types.is_object_dtype(series.dtype):
        raw = series.to_numpy(dtype=object)
        is_str = np.fromiter((isinstance(v, str) for v in raw), dtype=bool, count=len(raw))
        text = pd.Series(np.where(is_str, raw, None), dtype="str")
    else:
        return none
    hit = text.str.fullmatch(r"1[3-9][0-9]{9}").fillna(False).to_numpy(dtype=bool)
    if not hit.any():
        return none
    picked = text[hit]
    masked = picked.str.slice(0, 3) + "****" + picked.str.slice(-4)
    return hit, masked.to_numpy(dtype=object)


# --- phones -----------------------------------------------------------------------------------------
def mask_phone(value: object) -> str | object:
    """Mask one phone cell: ``13800138000`` → ``138****8000``, ``010-12345678`` → ``010-****5678``.

    The value is NFKC-normalised first (full-width digits and brackets become ASCII). A cell may
    hold several numbers separated by ``;``, ``；``, ``/``, ``、`` or ``,``; each is masked and they
    are joined with ``"; "``.

    - Mobiles (``1[3-9]`` + 9 digits, optionally written ``+86``/``0086``/``86`` and with spaces or
      hyphens) keep their first 3 and last 4 digits.
    - Landlines with an area code (3 digits when it starts ``01``/``02``, else 4; written
      ``010-12345678``, ``(0755)88886666``, ``0755 8888 6666`` or ``075588886666``) keep the area
      code and the last 4 digits: ``0755-****6666``.
    - Anything else with 7 or more digits keeps its first 3 and last 2 digits and masks the rest
      (other text in the cell is dropped); anything with fewer digits becomes ``****``.

    Never leaves more than four consecutive digits visible, and never raises.

    Parameters
    ----------
    value : object
        A phone cell: text, or a number as Excel stores it (``13800138000.0``).

    Returns
    -------
    str or pandas.NA
        The masked text; ``pd.NA`` when ``value`` is missing (None, NaN, ``pd.NA`` or blank).

    Examples
    --------
    >>> mask_phone("+86-138-0013-8000")
    '138****8000'
    >>> mask_phone("(0755)88886666；13900139000")
    '0755-****6666; 139****9000'
    """
    if _is_missing(value):
        return pd.NA
    text = _as_text(value)
    pieces = [p.strip() for p in _PHONE_SPLIT.split(text)]
    pieces = [p for p in pieces if p]
    if not pieces:
        return pd.NA
    return "; ".join(_mask_phone_piece(p) for p in pieces)


def mask_phones(series: pd.Series) -> pd.Series:
    """Mask every cell of a phone column, as :func:`mask_phone` does for one cell.

    Parameters
    ----------
    series : Series
        Phone cells of any dtype. Not modified.

    Returns
    -------
    Series
        Masked text with the same index and name; missing where the input is missing. A string
        dtype is kept; any other dtype gives object with ``pd.NA`` for missing.
    """
    series = _as_series(series, "series")
    return _map_unique(series, mask_phone, keep=False, fast=_fast_mobiles)


# --- names ------------------------------------------------------------------------------------------
def mask_name(value: object) -> str | object:
    """Mask a person's name: ``张三`` → ``张**``, ``欧阳娜娜`` → ``欧阳**``, ``John Smith`` → ``J. S.``.

    Chinese names keep the surname: the first character, or one of :data:`COMPOUND_SURNAMES` when
    the name starts with it and is longer than two characters. Latin names keep the initial of each
    word followed by ``.``. Several names in one cell, separated by ``;``, ``；``, ``、``, ``,`` or
    ``，``, are masked one by one and joined with ``"; "``. Text after a Chinese name (a title in
    brackets, a phone number) is dropped; a piece with no letters becomes ``**``.

    Parameters
    ----------
    value : object
        A name cell.

    Returns
    -------
    str or pandas.NA
        The masked name; ``pd.NA`` when ``value`` is missing or blank.

    Examples
    --------
    >>> mask_name("张三、李四")
    '张**; 李**'
    >>> mask_name("John Smith")
    'J. S.'
    """
    if _is_missing(value):
        return pd.NA
    text = _as_text(value)
    pieces = [p.strip() for p in _NAME_SPLIT.split(text)]
    pieces = [p for p in pieces if p]
    if not pieces:
        return pd.NA
    return "; ".join(_mask_name_piece(p) for p in pieces)


def mask_names(series: pd.Series) -> pd.Series:
    """Mask every cell of a name column, as :func:`mask_name` does for one cell.

    Parameters
    ----------
    series : Series
        Name cells. Not modified.

    Returns
    -------
    Series
        Masked names with the same index and name; missing where the input is missing. A string
        dtype is kept; any other dtype gives object with ``pd.NA`` for missing.
    """
    series = _as_series(series, "series")
    return _map_unique(series, mask_name, keep=False)


# --- free text --------------------------------------------------------------------------------------
def _mask_text_value(value: object) -> object:
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, bool | np.bool_) or _is_missing(value):
        return value
    if isinstance(value, int | np.integer | float | np.floating):
        # A phone number typed into a text column and stored as a number.
        text = _as_text(value)
        if _PHONE_RE.fullmatch(text):
            return _scrub(text)
    return value


def mask_text(series_or_str: pd.Series | str | object) -> pd.Series | str | object:
    """Mask phone numbers inside free text: ``联系王经理 13800138000`` → ``联系王经理 138****8000``.

    Finds mobiles and landlines (with separators, ``+86``, brackets round the area code or
    full-width digits) that stand alone, that is not inside an alphanumeric id such as
    ``SO20240315001`` and not part of a decimal amount, and masks them like :func:`mask_phone`.
    Everything else in the text is kept. Numbers that are not phone-like are returned unchanged.

    Parameters
    ----------
    series_or_str : Series, str or scalar
        Free text. A Series is not modified.

    Returns
    -------
    Series, str or scalar
        The same kind of object with phone numbers masked. Missing values are returned unchanged.

    Examples
    --------
    >>> mask_text("联系王经理 13800138000，或 010-12345678")
    '联系王经理 138****8000，或 010-****5678'
    """
    if isinstance(series_or_str, pd.Series):
        series = series_or_str
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        return _map_unique(series, _mask_text_value, keep=True)
    return _mask_text_value(series_or_str)


# --- whole tables -----------------------------------------------------------------------------------
def _is_phone_column(name: str) -> bool:
    lowered = name.lower()
    return name == CONTACT_PHONE or any(hint in lowered for hint in _PHONE_COLUMN_HINTS)


def _is_text_like(series: pd.Series) -> bool:
    dtype = series.dtype
    if pd.api.types.is_object_dtype(dtype) or isinstance(
        dtype, pd.StringDtype | pd.CategoricalDtype
    ):
        return True
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        # A phone column that was read as numbers under some other name.
        return any(_PHONE_RE.fullmatch(_as_text(v)) for v in series.dropna().unique())
    return False


def mask_frame(
    df: pd.DataFrame,
    *,
    columns: Iterable[str] | None = None,
    text_columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Return a copy of ``df`` with personal data masked, ready for a report.

    - Phone columns (``contact_phone``, or any personal column whose name contains ``phone``,
      ``mobile``, ``电话`` or ``手机``) go through :func:`mask_phones`.
    - The other personal columns (names: ``contact_name``, ``owner``) go through :func:`mask_names`.
    - Free-text columns go through :func:`mask_text`, which masks phone numbers quoted in them.

    Columns that ``df`` does not have are skipped.

    Parameters
    ----------
    df : DataFrame
        Any table of the kit. Not modified.
    columns : iterable of str, optional
        Personal columns to mask. Default: :data:`PERSONAL_COLUMNS` plus every column whose name
        suggests a phone number (``phone``, ``mobile``, ``电话``, ``手机``).
    text_columns : iterable of str, optional
        Free-text columns to scrub with :func:`mask_text`. Default: :data:`TEXT_COLUMNS` and every
        other text column (object, string or categorical dtype, or a numeric column holding
        phone-number-like values) that is not masked as a personal column. When given, exactly
        these columns are scrubbed.

    Returns
    -------
    DataFrame
        Same shape, index, column order and names as ``df``; masked columns hold text.

    Examples
    --------
    >>> df = pd.DataFrame({"contact_name": ["张三"], "contact_phone": ["13800138000"]})
    >>> mask_frame(df).iloc[0].tolist()
    ['张**', '138****8000']
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame; got {type(df).__name__}")
    names = [str(c) for c in df.columns]
    if columns is None:
        personal = set(PERSONAL_COLUMNS) | {n for n in names if _is_phone_column(n)}
    else:
        personal = {str(c) for c in columns}
    explicit_text = None if text_columns is None else {str(c) for c in text_columns}

    out_columns = []
    for i, name in enumerate(names):
        col = df.iloc[:, i].reset_index(drop=True)
        if name in personal:
            col = mask_phones(col) if _is_phone_column(name) else mask_names(col)
        elif explicit_text is not None:
            if name in explicit_text:
                col = mask_text(col)
        elif name in TEXT_COLUMNS or _is_text_like(col):
            col = mask_text(col)
        out_columns.append(col)
    if not out_columns:
        return df.copy()
    out = pd.concat(out_columns, axis=1, ignore_index=True)
    out.columns = df.columns.copy()
    out.index = df.index.copy()
    out.attrs = dict(df.attrs)
    return out


# --- the scan ---------------------------------------------------------------------------------------
def _name_pattern(name: str) -> re.Pattern[str]:
    escaped = re.escape(name)
    if name.isascii():
        return re.compile(rf"(?<![A-Za-z]){escaped}(?![A-Za-z])")
    return re.compile(escaped)


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def find_unmasked(text: str, *, names: Iterable[object] = ()) -> list[str]:
    r"""Return every unmasked phone number and every listed name found in ``text``.

    Used by tests to prove that a report (HTML, Markdown or plain text) is clean.

    Phones are mobiles (``1[3-9]`` + 9 digits, possibly with ``+86`` and spaces or hyphens) and
    landlines with an area code (``0\d{2,3}``, an optional separator, 7 or 8 digits, or the area
    code in brackets), in ASCII or full-width digits. A number only counts when it stands alone:
    digits inside an alphanumeric id (``SO20240315001``), ISO dates and amounts with decimals are
    not phones, and masked forms such as ``138****8000`` are not matched; nor are the digit
    groups of a UUID (``005ae3ca-0215-4351-8052-05710afab13a``, an element id in a page).

    Parameters
    ----------
    text : str
        The text to scan.
    names : iterable, optional
        Full names that must not appear, e.g. the raw ``contact_name`` and ``owner`` values. Cells
        holding several names are split like :func:`mask_name` does; missing values and names
        shorter than two characters are ignored. Latin names match whole words only; a name is
        also looked for in its HTML-escaped form, and in JSON ``\uXXXX`` escapes (widget state
        saved in a page writes Chinese that way).

    Returns
    -------
    list of str
        The phone numbers as they appear in ``text``, in order, then each name found (once).

    Examples
    --------
    >>> find_unmasked("王经理 13800138000, 订单 SO20240315001, 138****8000", names=["王五"])
    ['13800138000']
    >>> find_unmasked('{"text": "\\u738b\\u4e94"}', names=["王五"])
    ['王五']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if "\\u" in text:  # JSON inside a page (e.g. saved widget state) escapes non-ASCII text
        text = text + "\n" + _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    # a UUID (the id of a widget's output in a page) can hold a landline's digit groups:
    # 005ae3ca-0215-4351-8052-05710afab13a is an id, not a phone
    found = [m.group(0) for m in _PHONE_RE.finditer(_UUID.sub(" ", text))]
    seen: set[str] = set()
    for value in names:
        if _is_missing(value):
            continue
        for piece in _NAME_SPLIT.split(str(value).replace("；", ";").replace("，", ",")):
            piece = piece.strip()
            if len(piece) < 2 or piece in seen:
                continue
            for form in {piece, html.escape(piece)}:
                if _name_pattern(form).search(text):
                    found.append(piece)
                    seen.add(piece)
                    break
    return found
