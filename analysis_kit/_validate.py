"""Rules every analysis module shares for its inputs: the as-of day and money in cents.

**The as-of day.** ``as_of`` is a calendar day, never an instant. :func:`as_of_day` reads it once
for every module: a string, date, datetime or Timestamp becomes the (time-zone-free) midnight that
starts its day. A value with a time zone is read on its own wall clock: the zone is dropped and its
local date kept, so ``"2024-07-01T02:00+08:00"`` is 1 July wherever the analysis runs. Everything
dated *on* the as-of day counts, whatever its time: filters keep ``date < as_of_end(as_of)`` (the
next midnight), never ``date <= as_of`` on a midnight.

**Money in cents.** Amounts are money, and float sums of money are not exact: once refunds are
netted, ``-17.80 + 16.95 + 0.85`` is ``-1.4e-15`` and ``1.10 + 2.20 - 3.30`` is ``4.4e-16``, not 0.
Whether a net amount is a purchase (positive) or a line a refund (negative) is decided on its
value rounded to the cent, half a cent away from zero: :func:`is_positive_money` and
:func:`is_negative_money` compare with half a cent, which works on numbers, numpy arrays, pandas
Series and narwhals expressions alike, so every engine decides the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from .errors import ParameterError
from .parsing import parse_date

__all__ = [
    "HALF_CENT",
    "as_of_day",
    "as_of_end",
    "is_negative_money",
    "is_positive_money",
    "local_days",
]

#: Half the smallest unit of the currency (yuan: 0.01). A net amount at least this large rounds
#: to at least one cent.
HALF_CENT = 0.005

_ONE_DAY = pd.Timedelta(days=1)
# ISO 8601 text with a full date (a time and a zone may follow).
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}(?!\d)")


def as_of_day(value: Any, *, name: str = "as_of") -> pd.Timestamp:
    """Return the calendar day of an analysis date, as the naive midnight that starts it.

    Parameters
    ----------
    value : str, date, datetime, Timestamp or numpy datetime64
        The analysis date. Text is ISO 8601 (``"2024-06-30"``, ``"2024-06-30 17:42"``,
        ``"2024-07-01T02:00+08:00"``) or a date as the templates write it (``"2024年6月30日"``,
        ``"2024/6/30"``, ``"20240630"``, see :func:`analysis_kit.parsing.parse_date`); a month
        alone, a two-digit year or a word such as ``"June"`` or ``"today"`` is not guessed. A
        time of day is dropped; a time zone is dropped too, keeping the local date
        (``"2024-07-01T02:00+08:00"`` is 1 July).
    name : str, default="as_of"
        The parameter's name, used in the error message.

    Returns
    -------
    Timestamp
        Midnight of the day, without a time zone.

    Raises
    ------
    ParameterError
        When ``value`` is missing or not a date; the message names the parameter and the value.

    Examples
    --------
    >>> as_of_day("2024-06-30 17:42")
    Timestamp('2024-06-30 00:00:00')
    >>> as_of_day("2024-07-01T02:00+08:00")
    Timestamp('2024-07-01 00:00:00')
    """
    stamp = _timestamp(value) if _date_like(value) else None
    if stamp is None or pd.isna(stamp):
        raise ParameterError(
            f"{name} must be a date (text such as '2024-06-30', a date, a datetime or a "
            f"Timestamp); got {value!r}"
        )
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


def as_of_end(value: Any, *, name: str = "as_of") -> pd.Timestamp:
    """Return the end of the as-of day: the midnight that starts the next day.

    Keep rows with ``date < as_of_end(as_of)``: every time on the as-of day (``17:42``,
    ``23:59:59``) is in, the next day is out.

    Parameters
    ----------
    value : str, date, datetime, Timestamp or numpy datetime64
        The analysis date, read by :func:`as_of_day`.
    name : str, default="as_of"
        The parameter's name, used in the error message.

    Returns
    -------
    Timestamp
        ``as_of_day(value) + 1 day``, without a time zone.

    Examples
    --------
    >>> as_of_end("2024-06-30 08:00")
    Timestamp('2024-07-01 00:00:00')
    """
    return as_of_day(value, name=name) + _ONE_DAY


def local_days(values: pd.Series) -> pd.Series:
    """Return the calendar day (naive midnight) of each date, on its own wall clock.

    Parameters
    ----------
    values : Series
        Datetimes (with or without a time zone), dates or text :func:`pandas.to_datetime` reads.

    Returns
    -------
    Series
        ``datetime64`` without a time zone, at midnight; missing where ``values`` is missing.

    Examples
    --------
    >>> zoned = pd.Series(pd.to_datetime(["2024-07-01 02:00"])).dt.tz_localize("Asia/Shanghai")
    >>> local_days(zoned).tolist()
    [Timestamp('2024-07-01 00:00:00')]
    """
    stamps = pd.to_datetime(values)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    return stamps.dt.normalize()


def is_positive_money(amount: Any) -> Any:
    """Whether a (net) amount is positive once rounded to the cent.

    Parameters
    ----------
    amount : float, ndarray, Series or narwhals Expr
        Amounts in the currency's main unit (yuan).

    Returns
    -------
    bool, ndarray, Series or narwhals Expr
        ``amount >= 0.005`` (half a cent rounds up to a cent), in the kind of ``amount``.

    Examples
    --------
    >>> is_positive_money(1.10 + 2.20 - 3.30), is_positive_money(0.01)
    (False, True)
    """
    return amount >= HALF_CENT


def is_negative_money(amount: Any) -> Any:
    """Whether a (net) amount is negative once rounded to the cent.

    Parameters
    ----------
    amount : float, ndarray, Series or narwhals Expr
        Amounts in the currency's main unit (yuan).

    Returns
    -------
    bool, ndarray, Series or narwhals Expr
        ``amount <= -0.005``, in the kind of ``amount``.

    Examples
    --------
    >>> is_negative_money(-17.80 + 16.95 + 0.85), is_negative_money(-0.01)
    (False, True)
    """
    return amount <= -HALF_CENT


def _date_like(value: Any) -> bool:
    return isinstance(value, str | dt.date | np.datetime64)  # datetime and Timestamp are dates


def _timestamp(value: Any) -> pd.Timestamp | None:
    """Read a date-like value; None when it is not certainly a date."""
    if isinstance(value, str):
        text = value.strip()
        if _ISO_DAY.match(text):
            try:
                return pd.Timestamp(pd.to_datetime(text, format="ISO8601"))
            except (ValueError, OverflowError):
                return None
        parsed = parse_date(pd.Series([text], dtype="object")).iloc[0]
        return None if pd.isna(parsed) else pd.Timestamp(parsed)
    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        return None
