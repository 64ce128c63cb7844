"""What the modules that take frames of any engine (through narwhals) share."""

from __future__ import annotations

from typing import Any

import narwhals as nw
import pandas as pd


def as_pandas(frame: Any) -> pd.DataFrame:
    """Return ``frame`` as pandas: as it is, or collected (Polars, DuckDB, PySpark, lazy).

    For the pandas-only steps inside the analyses; :func:`analysis_kit.reports.to_pandas` is
    the public one, which also gives every engine's result pandas' own dtypes.
    """
    if isinstance(frame, pd.DataFrame):
        return frame
    data = nw.from_native(frame)
    if isinstance(data, nw.LazyFrame):
        data = data.collect()
    return data.to_pandas()
