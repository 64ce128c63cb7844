"""Run the notebooks with papermill and turn them into a report: HTML without code, metrics.json.

Nothing here is imported by the analyses. papermill and nbconvert are imported when a report runs,
so the package itself works without the ``notebook`` extra.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import html
import json
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import AnalysisKitError

__all__ = [
    "ENGINES",
    "ENGINE_TABLES",
    "NOTEBOOK_DIR",
    "NotebookSkipped",
    "ReportError",
    "available_notebooks",
    "check_parameters",
    "compare_metrics",
    "export_html",
    "lines_without",
    "link_pages",
    "markdown_in",
    "load_tables",
    "record_metrics",
    "run_notebook",
    "run_report",
    "skip_without_columns",
    "to_pandas",
    "write_index",
]

#: Where the kit's notebooks live: ``notebooks/`` beside the package in a source checkout.
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
#: The bundled sample data, used when no input is given.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: Cell tags removed from the HTML pages (besides every code cell's input).
HIDDEN_TAGS = (
    "parameters",
    "injected-parameters",
    "remove_cell",
    "bookkeeping",
    "papermill-error-cell-tag",
)

METRICS_FILE = "metrics.json"
#: The workbook of :func:`analysis_kit.exports.customer_actions` a full report writes.
ACTIONS_FILE = "customer_actions.xlsx"
INDEX_FILE = "index.html"
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReportError(AnalysisKitError, RuntimeError):
    """A notebook failed or was given parameters it does not have."""


class NotebookSkipped(AnalysisKitError):
    """A notebook's input tables are absent: the report notes it and goes on with the next one."""

    def _render_traceback_(self) -> list[str]:
        """Show the note as one line in Jupyter, not as a traceback (IPython asks for this)."""
        return [f"{type(self).__name__}: {self}"]


#: The engines :func:`load_tables` can hand the transaction-level tables to.
ENGINES = ("pandas", "duckdb", "polars", "spark")
#: The tables :func:`load_tables` reads on the chosen engine: the ones that grow to millions of
#: lines and feed the transaction-level aggregations (``rfm_summary``, ``sales_trend``,
#: ``product_mix``, ``stage_funnel``, the event funnels, the orders side of ``apply_tags``).
#: The per-customer and per-period tables stay pandas.
ENGINE_TABLES = ("orders", "stages")
#: The extra to install for each engine.
_ENGINE_EXTRAS = {
    "duckdb": ("duckdb", "scale"),
    "polars": ("polars", "scale"),
    "spark": ("pyspark", "spark"),
}


def load_tables(
    folder: str | os.PathLike,
    *,
    required: Sequence[str] = (),
    optional: Sequence[str] = (),
    engine: str = "pandas",
    engine_tables: Sequence[str] = ENGINE_TABLES,
) -> dict[str, object]:
    """Read the clean tables a notebook needs from the Parquet folder that notebook 01 writes.

    Parameters
    ----------
    folder : path
        The ``clean`` folder (``<table>.parquet`` files).
    required : sequence of str
        Tables the notebook cannot run without.
    optional : sequence of str
        Tables the notebook uses when present; ``None`` in the result when absent.
    engine : {"pandas", "duckdb", "polars", "spark"}, default="pandas"
        What the ``engine_tables`` are read as: pandas DataFrames, DuckDB relations (each on its
        own in-memory connection, read out of core), Polars ``LazyFrame`` s, or PySpark
        DataFrames of a local ``SparkSession`` (created, or reused, only for ``"spark"``: session
        time zone UTC, few shuffle partitions, no web UI). Nothing is read until a result is
        collected, e.g. with :func:`to_pandas`. The transaction-level aggregations accept all
        of them and give the same numbers.
    engine_tables : sequence of str, default=ENGINE_TABLES
        The tables read on ``engine`` (``orders`` and ``stages``); every other table is a pandas
        DataFrame whatever the engine.

    Returns
    -------
    dict of str to DataFrame, engine frame or None
        One entry per required and optional table, in that order.

    Raises
    ------
    ValueError
        ``engine`` is not one of :data:`ENGINES`.
    NotebookSkipped
        When a required table is absent, naming it by template title and file, so that a report
        on, say, an orders-only export skips the notebook with this note instead of failing.
    ImportError
        The engine's package is not installed; the message names the extra to install
        (``pip install 'analysis_kit[scale]'`` for DuckDB and Polars, ``[spark]`` for PySpark).

    Examples
    --------
    >>> tables = load_tables("reports/clean", required=["orders"], engine="duckdb")  # doctest: +SKIP
    >>> type(tables["orders"]).__name__  # doctest: +SKIP
    'DuckDBPyRelation'
    """
    import pandas as pd

    from .columns import TABLES

    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}; got {engine!r}")
    if isinstance(engine_tables, str) or not all(isinstance(t, str) for t in engine_tables):
        raise ValueError(
            f"engine_tables must be a list of table names, e.g. {list(ENGINE_TABLES)}; "
            f"got {engine_tables!r}"
        )
    folder = Path(folder)
    missing = [name for name in required if not (folder / f"{name}.parquet").exists()]
    if missing:
        names = ", ".join(f"{TABLES[n].title if n in TABLES else n} ({n}.parquet)" for n in missing)
        raise NotebookSkipped(
            f"缺少输入表，本笔记本跳过 skipped: it needs {names}, not found in "
            f"{folder.resolve()}; 请先运行 01_data_cleaning run 01_data_cleaning first "
            "(it writes the clean tables there)"
        )
    names = list(dict.fromkeys((*required, *optional)))
    paths = {name: folder / f"{name}.parquet" for name in names}
    on_engine = {
        name
        for name in names
        if engine != "pandas" and name in engine_tables and paths[name].exists()
    }
    if on_engine:
        _require_engine(engine)
    session = _spark_session() if engine == "spark" and on_engine else None
    tables: dict[str, object] = {}
    for name in names:
        path = paths[name]
        if not path.exists():
            tables[name] = None
        elif name not in on_engine:
            tables[name] = pd.read_parquet(path)
        elif engine == "spark":
            tables[name] = _spark_parquet(session, path)
        else:
            from .io import read_table

            table = name if name in TABLES else None
            tables[name] = read_table(path, table=table, lazy=engine)
    return tables


def skip_without_columns(frame: object, needed: Sequence[str], *, table: str, reason: str) -> None:
    """Stop a notebook with a :class:`NotebookSkipped` note when ``frame`` lacks a column it needs.

    For a table that is there but without a column a whole notebook depends on (orders that name
    no buyer, for the customer analyses), so that the report notes it and goes on with the next
    notebook, as for an absent table (:func:`load_tables`).

    Parameters
    ----------
    frame : DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame
        The table, on any engine (only its column names are read).
    needed : sequence of str
        Canonical column names; ``"a|b"`` is satisfied by either.
    table : str
        The table's name (``"orders"``), for the template headers in the note.
    reason : str
        What the columns are needed for, shown in the note.

    Raises
    ------
    NotebookSkipped
        When a needed column is absent; the note names each missing column by canonical name and
        template header, e.g. ``customer_id (客户编号) 或/or customer_name (客户名称)``.

    Examples
    --------
    >>> import pandas as pd
    >>> try:
    ...     skip_without_columns(
    ...         pd.DataFrame({"amount": [1.0]}), ["customer_id"], table="orders", reason="RFM"
    ...     )
    ... except NotebookSkipped as note:
    ...     print(note)
    缺少列，本笔记本跳过 skipped: RFM needs customer_id (客户编号) in orders (成交明细)
    """
    import narwhals as nw

    from .columns import TABLES, describe_columns

    names = set(nw.from_native(frame).collect_schema().names())
    missing = [n for n in needed if not any(a in names for a in str(n).split("|"))]
    if missing:
        title = f" ({TABLES[table].title})" if table in TABLES else ""
        raise NotebookSkipped(
            f"缺少列，本笔记本跳过 skipped: {reason} needs {describe_columns(missing, table)} "
            f"in {table}{title}"
        )


def lines_without(
    frame: object,
    column: str,
    *,
    as_of: str | dt.date | dt.datetime | None = None,
    date_col: str = "order_date",
    amount_col: str = "amount",
) -> dict[str, object]:
    """Count the lines (and their amount) whose ``column`` is missing, up to ``as_of``.

    What a per-customer analysis leaves out: order lines that name no buyer are ignored by
    :func:`analysis_kit.rfm.rfm_summary` and the CLV models, and a page says how many there were.

    Parameters
    ----------
    frame : DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame
        The lines, on any engine; only two numbers are collected.
    column : str
        The column whose missing values are counted (``"customer_id"``).
    as_of : date-like, optional
        Count only lines dated up to this day (lines on it count whatever their time), as the
        analyses do; all lines when None.
    date_col, amount_col : str
        Columns of ``frame``; without ``amount_col`` the amount is missing.

    Returns
    -------
    dict
        ``{"lines": int, "amount": float or None}``: the lines whose ``column`` is missing and
        the sum of their amounts (refunds subtract), rounded to cents.

    Examples
    --------
    >>> import pandas as pd
    >>> lines = pd.DataFrame(
    ...     {
    ...         "customer_id": ["a", None, None],
    ...         "order_date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-09-01"]),
    ...         "amount": [10.0, 5.5, 7.0],
    ...     }
    ... )
    >>> lines_without(lines, "customer_id", as_of="2024-06-30")
    {'lines': 1, 'amount': 5.5}
    """
    import narwhals as nw
    import pandas as pd

    from ._validate import as_of_end

    data = nw.from_native(frame)
    names = data.collect_schema().names()
    rows = data.filter(nw.col(column).is_null()) if column in names else data
    if as_of is not None:
        rows = rows.filter(nw.col(date_col) < nw.lit(as_of_end(as_of).to_pydatetime()))
    sums = [nw.len().alias("lines")]
    if amount_col in names:
        sums.append(nw.col(amount_col).cast(nw.Float64).sum().alias("amount"))
    result = to_pandas(rows.select(*sums)).iloc[0]
    amount = None
    if amount_col in names:  # a sum over no rows is missing on SQL engines
        amount = 0.0 if pd.isna(result["amount"]) else round(float(result["amount"]), 2)
    return {"lines": int(result["lines"]), "amount": amount}


def _require_engine(engine: str) -> None:
    """Import the engine's package, or say which extra installs it."""
    import importlib

    module, extra = _ENGINE_EXTRAS[engine]
    try:
        importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"需要安装 {module} engine={engine!r} needs {module}: "
            f"pip install 'analysis_kit[{extra}]'"
            + (" (and a Java 17+ runtime)" if engine == "spark" else "")
        ) from None


def _spark_session(
    master: str = "local[*]", *, partitions: int = 4, config: Mapping[str, str] | None = None
):
    """Return the active SparkSession, or a local one: UTC session time, no web UI, quiet logs.

    UTC is what makes Spark's dates the ones the other engines see. ``partitions`` is the
    number of shuffle partitions (few: the tables fit one machine); ``config`` adds settings,
    e.g. ``{"spark.driver.memory": "3g"}``. The tests and the benchmarks start theirs here too.
    """
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName("analysis_kit")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _spark_parquet(session, path: Path):
    """Read a Parquet file on Spark; nanosecond timestamps (pandas writes them) become µs.

    Spark cannot read nanosecond Parquet timestamps as timestamps: they are read as numbers and
    turned back into timestamps (without a time zone when the file has none, as in the clean
    tables), so dates mean the same on every engine.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    nanos = {
        field.name: field.type.tz
        for field in pq.read_schema(path)
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns"
    }
    if nanos:
        session.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    frame = session.read.parquet(str(path))
    for name, tz in nanos.items():
        quoted = "`" + name.replace("`", "``") + "`"
        micros = f"timestamp_micros(div({quoted}, 1000))"
        expr = micros if tz else f"CAST({micros} AS TIMESTAMP_NTZ)"
        frame = frame.withColumn(name, F.expr(expr))
    return frame


def to_pandas(frame: object, *, sort_by: str | Sequence[str] | None = None):
    """Collect a result of any engine into a pandas DataFrame, as the pandas engine gives it.

    The transaction-level aggregations return the kind of frame they are given. This brings a
    DuckDB relation, a Polars ``DataFrame`` or ``LazyFrame`` or a PySpark DataFrame back to
    pandas for the per-customer steps (scores, segments, charts, widgets), with the dtypes
    pandas uses, so what a notebook shows does not depend on the engine.

    Parameters
    ----------
    frame : DataFrame, LazyFrame, DuckDB relation or PySpark DataFrame
        A result (or any table) on any engine, or a narwhals frame of one. A pandas DataFrame
        is copied.
    sort_by : str or sequence of str, optional
        Columns to sort the rows by (stable, missing values last), for results whose row order
        an engine does not fix (e.g. :func:`analysis_kit.funnel.event_funnel_units`). The index
        is then a fresh ``RangeIndex``.

    Returns
    -------
    DataFrame
        The same columns in the same order. From another engine: a ``RangeIndex`` and numpy
        dtypes as pandas gives them: nullable and Arrow integers become ``int64``, or
        ``float64`` with NaN when values are missing; nullable booleans become ``bool``, or
        ``object`` with None; Arrow and nullable text becomes ``str``; Arrow timestamps become
        ``datetime64``. Spark's timestamps (in the session time zone) come back in UTC without
        a time zone, as the clean tables hold them.

    Raises
    ------
    TypeError
        ``frame`` is not a frame of a supported engine.
    SchemaError
        ``sort_by`` names a column the frame does not have.

    Examples
    --------
    >>> import pandas as pd
    >>> to_pandas(pd.DataFrame({"customer_id": ["b", "a"], "frequency": [1, 2]}), sort_by="customer_id")
      customer_id  frequency
    0           a          2
    1           b          1
    """
    import warnings

    import narwhals as nw
    import pandas as pd

    from .errors import SchemaError

    keys = [sort_by] if isinstance(sort_by, str) else list(sort_by or [])
    if isinstance(frame, nw.DataFrame | nw.LazyFrame):
        frame = frame.to_native()
    if isinstance(frame, pd.DataFrame):
        out = frame.copy()
    else:
        try:
            data = nw.from_native(frame)
        except TypeError:
            raise TypeError(
                "frame must be a pandas, Polars, DuckDB or PySpark frame; "
                f"got {type(frame).__name__}"
            ) from None
        spark = data.implementation.is_spark_like()
        if isinstance(data, nw.LazyFrame):
            with warnings.catch_warnings():
                # Polars' as-of join cannot check sortedness within groups; the event funnels
                # sort their input first (funnel.event_funnel silences the same message).
                warnings.filterwarnings("ignore", message="Sortedness", category=UserWarning)
                data = data.collect()
        table = data.to_arrow()
        out = pd.DataFrame(
            {
                str(i): _pandas_values(table.column(i), spark=spark)
                for i in range(table.num_columns)
            },
            index=pd.RangeIndex(table.num_rows),
        )
        out.columns = list(table.column_names)
    if keys:
        absent = [k for k in keys if k not in out.columns]
        if absent:
            raise SchemaError(
                f"sort_by names columns the frame does not have: {absent}; "
                f"it has {list(out.columns)}"
            )
        out = out.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
    return out


def _pandas_values(column, *, spark: bool = False):
    """Return one Arrow column as pandas with the numpy dtype pandas gives (see :func:`to_pandas`)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    missing = column.null_count > 0
    if pa.types.is_decimal(kind):
        if kind.scale == 0:
            column, kind = column.cast(pa.int64()), pa.int64()
        else:
            column, kind = column.cast(pa.float64()), pa.float64()
    if pa.types.is_timestamp(kind):
        values = pd.Series(column.to_numpy(zero_copy_only=False)).astype(f"datetime64[{kind.unit}]")
        if kind.tz and not spark:  # Spark's session time zone is UTC: keep the wall clock naive
            values = values.dt.tz_localize("UTC").dt.tz_convert(kind.tz)
        return values
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        return pd.Series(column.to_pylist(), dtype="str")
    if pa.types.is_boolean(kind):
        if missing:
            return pd.Series(column.to_pylist(), dtype=object)
        return pd.Series(column.to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_integer(kind):
        if missing:
            return pd.Series(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        return pd.Series(column.to_numpy(zero_copy_only=False)).astype(np.int64)
    if pa.types.is_floating(kind):
        return pd.Series(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if pa.types.is_duration(kind):
        return pd.Series(column.to_numpy(zero_copy_only=False)).astype(f"timedelta64[{kind.unit}]")
    return pd.Series(column.to_pylist(), dtype=object)


def _is_string_view(kind) -> bool:
    import pyarrow as pa

    return bool(getattr(pa.types, "is_string_view", lambda _: False)(kind))


def available_notebooks(directory: str | os.PathLike | None = None) -> dict[str, Path]:
    """Return ``{"01": path, ...}`` for every ``NN_topic.ipynb`` in ``directory``."""
    directory = Path(directory or NOTEBOOK_DIR)
    return {
        p.name[:2]: p for p in sorted(directory.glob("[0-9][0-9]_*.ipynb")) if p.name[:2].isdigit()
    }


def record_metrics(metrics: Mapping[str, object], output_dir: str | os.PathLike, name: str) -> Path:
    """Write a notebook's key figures to ``output_dir/metrics.json`` under ``name``.

    The file is merged, not overwritten, so several notebooks can record into one report. Keys
    are sorted and the JSON is written with ``ensure_ascii=False`` so Chinese stays readable; the
    same metrics give the same bytes.

    Returns
    -------
    Path
        The metrics file.
    """
    path = Path(output_dir) / METRICS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    existing[name] = _plain(metrics)
    path.write_text(
        json.dumps(existing, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return path


def _plain(value: object) -> object:
    """Convert numpy and pandas scalars inside mappings and lists to JSON-ready Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def run_notebook(
    notebook: str | os.PathLike,
    output_dir: str | os.PathLike,
    parameters: Mapping[str, object] | None = None,
    *,
    progress: bool = False,
) -> Path:
    """Execute one notebook with papermill and export its HTML page.

    Parameters
    ----------
    notebook : path
        The notebook to run.
    output_dir : path
        Where the executed notebook and its HTML page go.
    parameters : mapping, optional
        Values for the notebook's ``parameters`` cell. A name the cell does not define, or a
        value of another type than the cell's default, is an error before anything runs.
    progress : bool, default=False
        Show papermill's progress bar over the cells.

    Returns
    -------
    Path
        The executed notebook.

    Raises
    ------
    ReportError
        Unknown parameters, or a cell failed (the message names the notebook, the cell and the
        error; the executed notebook with the traceback is kept for inspection).
    NotebookSkipped
        The notebook stopped itself because its input tables are absent (see
        :func:`load_tables`); its page shows the note and ``metrics.json`` records
        ``{"skipped": reason}``.
    """
    import papermill as pm

    notebook = Path(notebook)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    parameters = dict(parameters or {})
    check_parameters(parameters, {notebook.name: pm.inspect_notebook(str(notebook))})
    lang = str(parameters.get("lang", "zh"))
    executed = output_dir / notebook.name
    try:
        with _readable_parameters():
            pm.execute_notebook(
                str(notebook),
                str(executed),
                parameters=parameters,
                cwd=str(notebook.parent),
                progress_bar=progress,
                kernel_name=_KERNEL,
                language="python",
                # The kernel runs on this machine for this one notebook. Its start-up notice
                # about TCP without encryption is not the reader's business, and a graceful
                # shutdown interrupts it first (logging a KeyboardInterrupt): every output is
                # written by the cells themselves, so it is stopped at once. Errors still show.
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
                shutdown_kernel="immediate",
            )
    except pm.PapermillExecutionError as exc:
        if exc.ename == NotebookSkipped.__name__:
            record_metrics({"skipped": exc.evalue}, output_dir, notebook.stem)
            export_html(executed, output_dir / (notebook.stem + ".html"), lang=lang)
            raise NotebookSkipped(f"{notebook.name}: {exc.evalue}") from None
        raise ReportError(
            f"{notebook.name}: cell {exc.exec_count} failed with {exc.ename}: {exc.evalue} "
            f"(executed notebook kept at {executed})"
        ) from None
    export_html(executed, output_dir / (notebook.stem + ".html"), lang=lang)
    return executed


_KERNEL = "python3"


@contextlib.contextmanager
def _readable_parameters():
    r"""Inject parameters with Chinese text as it is, not as ``\u`` escapes, during one run.

    papermill escapes every non-ASCII character of a string parameter, so ``"客户信息表.csv"``
    would read ``"\u5ba2\u6237..."`` in the executed notebook. A translator for the kernel
    writes strings as JSON with ``ensure_ascii=False`` (also a valid Python literal); it is
    registered only for the run and the previous registration restored after it.
    """
    from papermill.translators import PythonTranslator, papermill_translators

    class ReadablePythonTranslator(PythonTranslator):
        @classmethod
        def translate_str(cls, val):
            return json.dumps(val, ensure_ascii=False)

    registry = papermill_translators._translators
    missing = object()
    before = registry.get(_KERNEL, missing)
    papermill_translators.register(_KERNEL, ReadablePythonTranslator)
    try:
        yield
    finally:
        if before is missing:
            registry.pop(_KERNEL, None)
        else:
            registry[_KERNEL] = before


_HAN = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
_LATIN = re.compile(r"[A-Za-z]")
_HEADING_NUMBER = re.compile(r"\s*#+\s*(?:\d+[.)]?\s+)?")
_BOLD_LABEL = re.compile(r"^(\s*(?:[-*]\s+)?)\*\*([^*]+)\*\*")


def markdown_in(text: str, lang: str = "zh") -> str:
    r"""Return a notebook's bilingual Markdown as an English page shows it, or as it is for zh.

    The notebooks explain each step in Chinese, each line followed by its English. An English
    page keeps the lines without Chinese; headings with their number and the English after the
    Chinese (``# 03 RFM 客户分群 RFM segmentation`` → ``# 03 RFM segmentation``); a bold
    label's English (``**业务问题 The question:** …`` → ``**The question:**``); table rows
    with their Chinese taken out;
    code blocks whole; other lines with Chinese are left out.

    Examples
    --------
    >>> print(markdown_in("# 03 RFM 客户分群 RFM segmentation\n**业务问题 The question:** 谁？\n"
    ...                   "Who matters?\n\n中文一行。\nOne line.", "en"))
    # 03 RFM segmentation
    **The question:**
    Who matters?
    <BLANKLINE>
    One line.
    """
    if lang != "en":
        return text
    kept, in_code = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if in_code or line.lstrip().startswith("```") or not _HAN.search(line):
            kept.append(line)
            continue
        bare = line.lstrip()
        label = _BOLD_LABEL.match(line)
        if bare.startswith("#"):
            number = _HEADING_NUMBER.match(line).group(0)
            english = _HAN.split(line)[-1].strip()
            if _LATIN.search(english):
                kept.append(f"{number.rstrip()} {english}")
        elif bare.startswith("|"):
            kept.append(re.sub(r"[ \t]{2,}", " ", _HAN.sub(" ", line)).rstrip())
        elif label and _LATIN.search(label.group(2)) and label.group(2).rstrip().endswith(":"):
            # a label that introduces the English line after it (``**业务问题 The question:**``);
            # a bold term in a Chinese sentence (``- **frequency（复购次数）**：…``) goes with it
            english = re.sub(r"\s{2,}", " ", _HAN.sub(" ", label.group(2))).strip()
            kept.append(f"{label.group(1)}**{english}**")
    return "\n".join(kept)


def export_html(
    executed: str | os.PathLike, html_path: str | os.PathLike, *, lang: str = "zh"
) -> Path:
    """Write an executed notebook as HTML with no code: inputs and tagged cells removed.

    The page title is the notebook's first Markdown heading. With ``lang="en"`` the Markdown
    keeps its English only (:func:`markdown_in`).
    """
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = nbformat.read(str(executed), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_in(cell.source, lang)
    title = Path(executed).stem
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = next(
                (ln.lstrip("# ").strip() for ln in cell.source.splitlines() if ln.startswith("#")),
                None,
            )
            if heading:
                title = heading
                break
    nb.metadata["title"] = title
    notes = []
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        skips = [o for o in outputs if o.get("ename") == NotebookSkipped.__name__]
        notes += [str(o.get("evalue", "")) for o in skips]
        if skips:
            cell.outputs = [o for o in outputs if o not in skips]
    if notes:  # a skipped notebook: say why under its title, whichever cell stopped it
        note = nbformat.v4.new_markdown_cell("> **跳过 Skipped.** " + " ".join(notes))
        nb.cells.insert(1, note)
    config = Config()
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_TAGS)
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=config)
    body, _ = exporter.from_notebook_node(nb)
    html_path = Path(html_path)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _default_value(spec: Mapping[str, str]) -> object:
    """Return the literal default of a papermill parameter, or ``None`` when it is not a literal."""
    try:
        return ast.literal_eval(str(spec.get("default", "None")))
    except (ValueError, SyntaxError):
        return None


def _type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


_ANNOTATED = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list, tuple),
    "tuple": (list, tuple),
    "dict": (dict,),
    "None": (type(None),),
}


def _allowed(spec: Mapping[str, str]) -> tuple[str, tuple[type, ...]] | None:
    """Return the types a string annotation such as ``k: "int or str" = "auto"`` allows."""
    annotation = str(spec.get("inferred_type_name", "None"))
    names = [n for n in re.findall(r"\w+", annotation) if n in _ANNOTATED]
    if annotation == "None" or not names:
        return None
    types = tuple(t for n in names for t in _ANNOTATED[n])
    return annotation, types


def _fits(value: object, default: object) -> bool:
    """Whether ``value`` may replace a parameter whose default is ``default``."""
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, type(default))


def check_parameters(
    parameters: Mapping[str, object], notebooks: Mapping[str, Mapping[str, Mapping[str, str]]]
) -> None:
    """Check report parameters against the notebooks' ``parameters`` cells, before any run.

    Parameters
    ----------
    parameters : mapping
        The shared parameter set.
    notebooks : mapping
        Notebook name to its parameters as :func:`papermill.inspect_notebook` returns them.

    Raises
    ------
    ReportError
        Naming every parameter that no notebook defines, and every value whose type differs
        from the notebook's default (``int`` may stand for ``float``; ``None`` for anything).
        A parameter that takes several types says so with a string annotation, e.g.
        ``k: "int or str" = "auto"``.
    """
    known = set().union(*(set(p) for p in notebooks.values())) if notebooks else set()
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ReportError(
            f"未知参数 unknown parameters {unknown}; the notebooks take {sorted(known)}"
        )
    wrong = []
    for name, value in parameters.items():
        for notebook, specs in notebooks.items():
            if name in specs:
                default = _default_value(specs[name])
                allowed = _allowed(specs[name])
                if allowed is not None:
                    bad_bool = isinstance(value, bool) and bool not in allowed[1]
                    if bad_bool or not isinstance(value, allowed[1]):
                        wrong.append(
                            f"{name}={value!r} is {_type_name(value)}, {notebook} expects "
                            f"{allowed[0]}"
                        )
                        break
                elif not _fits(value, default):
                    wrong.append(
                        f"{name}={value!r} is {_type_name(value)}, {notebook} expects "
                        f"{_type_name(default)} (default {default!r})"
                    )
                    break
    if wrong:
        raise ReportError("参数类型错误 wrong parameter types: " + "; ".join(wrong))


def run_report(
    output_dir: str | os.PathLike,
    *,
    notebooks: Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    notebook_dir: str | os.PathLike | None = None,
    progress: bool = False,
    dated: bool = False,
    previous: str | os.PathLike | None = None,
) -> Path:
    """Run the chosen notebooks in order into one report folder, sharing one parameter set.

    Parameters
    ----------
    output_dir : path
        The report folder, or with ``dated=True`` the folder that holds one report per date.
    notebooks : sequence of str, optional
        Notebook numbers (``"01"``, ``"3"``) in the order to run; all of them when None.
    parameters : mapping, optional
        Shared parameters: each notebook receives those its ``parameters`` cell defines, and
        ``output_dir`` is always set to the report folder. A name no chosen notebook defines, or
        a value of another type than a notebook's default, is an error before anything runs.
    notebook_dir : path, optional
        Where the notebooks are; the kit's ``notebooks/`` by default.
    progress : bool, default=False
        Show progress bars over notebooks and cells (for a terminal). Otherwise one log line
        per notebook goes to standard error.
    dated : bool, default=False
        Write into ``output_dir/<as_of>``, the analysis date the notebooks use (the ``as_of``
        parameter, or the first notebook's default), so monthly runs sit side by side.
    previous : path, optional
        An earlier report folder: the index shows each headline metric beside its previous
        value and the change. With ``dated=True`` the latest earlier dated sibling folder is
        used when none is given.

    Returns
    -------
    Path
        The report's ``metrics.json``; beside it each executed notebook, its HTML page without
        code, ``index.html``, the result tables (CSV, and Parquet under ``data/``) and
        ``customer_actions.xlsx``.

    Raises
    ------
    ReportError
        Bad parameters, an unknown notebook, or a failing cell (naming the notebook, the cell
        and the error; the executed notebook with its traceback is kept). A notebook whose
        input tables are absent is skipped with a note instead (see :func:`load_tables`).
    """
    import papermill as pm

    found = available_notebooks(notebook_dir)
    chosen = []
    for key in sorted(found) if notebooks is None else notebooks:
        key = str(key).zfill(2)[:2]
        if key not in found:
            raise ReportError(f"no notebook {key!r}; available: {sorted(found)}")
        chosen.append(found[key])
    shared = dict(parameters or {})
    known = {p.name: pm.inspect_notebook(str(p)) for p in chosen}
    check_parameters(shared, known)
    output_dir = Path(output_dir).resolve()
    if dated:
        output_dir = output_dir / _report_date(shared, known)
        if previous is None:
            previous = _previous_report(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics = output_dir / METRICS_FILE
    if metrics.exists():
        metrics.unlink()
    bar = _notebook_bar(chosen, progress)
    for number, path in enumerate(chosen, start=1):
        params = {k: v for k, v in shared.items() if k in known[path.name]}
        if "output_dir" in known[path.name]:
            params["output_dir"] = str(output_dir)
        started = time.perf_counter()
        if bar is not None:
            bar.set_description(path.stem)
        try:
            run_notebook(path, output_dir, params, progress=progress)
            status = f"done in {time.perf_counter() - started:.1f} s"
        except NotebookSkipped as skipped:
            status = f"skipped ({str(skipped).split(': ', 1)[-1]})"
        if bar is not None:
            bar.update()
            if status.startswith("skipped"):
                bar.write(f"analysis-kit: {path.name} {status}", file=sys.stderr)
        else:
            print(
                f"analysis-kit: [{number}/{len(chosen)}] {path.name} {status}",
                file=sys.stderr,
                flush=True,
            )
    if bar is not None:
        bar.close()
    from . import exports

    lang = str(shared.get("lang", "zh"))
    link_pages(output_dir, lang=lang)
    actions = exports.actions_from_report(output_dir, lang=lang)
    if actions is not None:  # one row per customer, a sheet per rep
        exports.write_customer_actions(actions, output_dir / ACTIONS_FILE, lang=lang)
    write_index(output_dir, previous=previous, lang=lang, clean_dir=shared.get("clean_dir") or None)
    return metrics


def _notebook_bar(chosen: Sequence[Path], progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=len(chosen), unit="notebook", position=0, leave=True, file=sys.stderr)


def _report_date(parameters: Mapping[str, object], known: Mapping[str, Mapping]) -> str:
    """Name the report folder after the ``as_of`` the notebooks use, as YYYY-MM-DD."""
    as_of = parameters.get("as_of")
    if as_of is None:
        defaults = [_default_value(spec["as_of"]) for spec in known.values() if "as_of" in spec]
        as_of = next((d for d in defaults if d), None)
    if as_of is None:
        return dt.date.today().isoformat()
    try:
        return dt.date.fromisoformat(str(as_of)[:10]).isoformat()
    except ValueError:
        raise ReportError(f"as_of must be a date like '2024-06-30'; got {as_of!r}") from None


def _previous_report(folder: Path) -> Path | None:
    """Return the latest dated sibling of ``folder`` that is older and holds a metrics file."""
    if not folder.parent.is_dir():
        return None
    older = [
        p
        for p in folder.parent.iterdir()
        if p.is_dir() and _DATED.match(p.name) and p.name < folder.name
        if (p / METRICS_FILE).exists()
    ]
    return max(older, key=lambda p: p.name) if older else None


def _headline(metrics: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """Flatten each notebook's metrics to ``{"key" or "key.sub": scalar}`` (two levels deep)."""
    flat: dict[str, dict[str, object]] = {}
    for notebook, values in metrics.items():
        rows: dict[str, object] = {}
        if isinstance(values, Mapping):
            for key, value in values.items():
                if isinstance(value, Mapping):
                    for sub, inner in value.items():
                        if not isinstance(inner, Mapping | list):
                            rows[f"{key}.{sub}"] = inner
                elif not isinstance(value, list):
                    rows[str(key)] = value
        flat[str(notebook)] = rows
    return flat


def compare_metrics(
    current: Mapping[str, object], previous: Mapping[str, object] | None = None
) -> list[dict[str, object]]:
    """Line up a report's metrics with an earlier report's: one row per headline figure.

    Parameters
    ----------
    current, previous : mapping
        The contents of two ``metrics.json`` files (notebook name to its metrics).

    Returns
    -------
    list of dict
        Rows with ``notebook``, ``metric`` (``key`` or ``key.sub`` for one level of nesting),
        ``value``, ``previous`` (None when absent), ``change`` (``value - previous`` for
        numbers) and ``change_pct`` (the change over ``|previous|``; None when ``previous`` is
        0 or absent), in the current file's order.

    Examples
    --------
    >>> rows = compare_metrics({"03": {"customers": 120}}, {"03": {"customers": 100}})
    >>> rows[0]["change"], rows[0]["change_pct"]
    (20, 0.2)
    """
    now = _headline(current)
    before = _headline(previous or {})
    rows = []
    for notebook, values in now.items():
        for metric, value in values.items():
            old = before.get(notebook, {}).get(metric)
            change = change_pct = None
            numbers = all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in (value, old)
            )
            if numbers:
                change = value - old
                if isinstance(change, float):
                    change = round(change, 10)
                change_pct = round(change / abs(old), 10) if old else None
            rows.append(
                {
                    "notebook": notebook,
                    "metric": metric,
                    "value": value,
                    "previous": old,
                    "change": change,
                    "change_pct": change_pct,
                }
            )
    return rows


#: The index's words, by language.
INDEX_TEXT = {
    "zh": {
        "title": "销售分析报告",
        "as_of": "数据截至",
        "compared": "上期报告",
        "kpis": "本月关键指标",
        "mom": "环比",
        "yoy": "同比",
        "story": "本月要点",
        "actions": "本周行动",
        "calls": "优先联系",
        "shown": "显示前 {n} / 共 {total} 位",
        "no_calls": "没有名单（02 客户画像未运行或筛选无结果）。",
        "protect": "重点保护",
        "no_protect": "没有名单（07 客户终身价值未运行）。",
        "weakest": "最弱销售环节",
        "weakest_text": "只有 {rate} 的商机从「{previous}」进入「{step}」（①–⑤ 中最低）。",
        "no_weakest": "没有商机阶段数据。",
        "pages": "分析页面",
        "skipped": "已跳过",
        "footer": "全部指标（机器可读）：",
        "closed": "基于 {n} 个结单",
        "call_headers": ("客户", "负责人", "下次跟进"),
        "protect_headers": ("客户", "负责人", "建议"),
        "overdue": "（已逾期）",
        "workbook": "每位客户的下一步（每位销售一页，Excel）：",
    },
    "en": {
        "title": "Sales report",
        "as_of": "Data as of",
        "compared": "Previous report",
        "kpis": "This month's key figures",
        "mom": "vs last month",
        "yoy": "vs a year ago",
        "story": "What changed",
        "actions": "This week's actions",
        "calls": "Call first",
        "shown": "first {n} of {total}",
        "no_calls": "No list (02 customer profile did not run, or nobody matched).",
        "protect": "Customers to protect",
        "no_protect": "No list (07 customer lifetime value did not run).",
        "weakest": "Weakest sales step",
        "weakest_text": "Only {rate} of deals moved from “{previous}” to “{step}” (lowest of ①–⑤).",
        "no_weakest": "No stage history.",
        "pages": "Pages",
        "skipped": "skipped",
        "footer": "All figures (machine-readable):",
        "closed": "from {n} closed deals",
        "call_headers": ("Customer", "Owner", "Next follow-up"),
        "protect_headers": ("Customer", "Owner", "Suggested action"),
        "overdue": " (overdue)",
        "workbook": "Every customer's next step (a sheet per rep, Excel):",
    },
}
#: How many rows each action list shows on the index.
ACTION_ROWS = 5


def write_index(
    output_dir: str | os.PathLike,
    *,
    previous: str | os.PathLike | None = None,
    lang: str = "zh",
    clean_dir: str | os.PathLike | None = None,
) -> Path:
    """Write ``index.html``: one screen of this month's KPIs, what changed, this week's actions.

    The KPI cards (:func:`analysis_kit.summary.period_kpis`) are computed from the clean tables
    of the report (``clean/``, written by 01) for the month of the report's ``as_of``: each with
    its change on the same days of last month and of a year ago, coloured by whether the change
    is good, and a twelve-month trend line. Below them: three sentences, the first rows of the
    call list (02's ``call_list``) and of the customers to protect (07's
    ``clv_protect``), the weakest of the sales steps ①–⑤ (05's ``stage_funnel``), and
    the pages. Built from an autoescaped Jinja2 template; charts are inline SVG, so the folder
    stays self-contained.

    Parameters
    ----------
    output_dir : path
        A report folder (HTML pages, ``metrics.json`` and the files above).
    previous : path, optional
        An earlier report folder, named in the header. Changes are computed from the data itself,
        never by subtracting two reports (a re-run with another ``as_of`` reads other rows).
    lang : {"zh", "en"}, default="zh"
        The page's language.
    clean_dir : path, optional
        Where the clean tables are; ``output_dir/clean`` by default.

    Returns
    -------
    Path
        The index page. The same folder gives the same bytes (no clock time is written).
    """
    import jinja2

    from . import summary

    if lang not in INDEX_TEXT:
        raise ReportError(f'lang must be "zh" or "en"; got {lang!r}')
    t = INDEX_TEXT[lang]
    output_dir = Path(output_dir)
    metrics_path = output_dir / METRICS_FILE
    current = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.exists() else {}
    as_of = _index_as_of(current, output_dir)
    tables = _clean_tables(Path(clean_dir) if clean_dir is not None else output_dir / "clean")
    kpis, sentences, period = [], [], as_of or output_dir.name
    if as_of is not None:
        table = summary.period_kpis(tables, as_of=as_of)
        period = as_of[:7]
        sentences = summary.kpi_sentences(table, lang)
        for row in table.to_dict("records"):
            kpis.append(_kpi_card(row, t, lang))
    calls, calls_total = _first_rows(
        output_dir,
        "call_list",
        ("customer_name", "owner", "next_followup_due"),
        flag=("overdue", t["overdue"]),
    )
    protect, _ = _first_rows(output_dir, "clv_protect", ("customer_name", "owner", "action"))
    pages = []
    for page in sorted(output_dir.glob("[0-9][0-9]_*.html")):
        title = _page_title(page)
        skipped = current.get(page.stem, {}).get("skipped") if isinstance(current, dict) else None
        if skipped:
            title += f" ({t['skipped']} skipped)"
        pages.append({"href": page.name, "title": title})
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("analysis_kit", "report_templates"),
        autoescape=True,
        keep_trailing_newline=True,
    )
    page = environment.get_template("index.html.j2").render(
        lang=lang,
        t=t,
        period=period,
        as_of=as_of or "—",
        previous=Path(previous).name if previous is not None else None,
        kpis=kpis,
        sentences=sentences,
        calls=calls,
        calls_total=calls_total,
        calls_shown=t["shown"].format(n=len(calls), total=calls_total),
        call_headers=t["call_headers"],
        protect=protect,
        protect_headers=t["protect_headers"],
        weakest=_weakest_sales_step(output_dir, t, lang),
        workbook=ACTIONS_FILE if (output_dir / ACTIONS_FILE).exists() else None,
        pages=pages,
    )
    index = output_dir / INDEX_FILE
    index.write_text(page, encoding="utf-8")
    return index


def _index_as_of(metrics: Mapping[str, object], folder: Path) -> str | None:
    """Return the analysis day: a notebook's recorded ``as_of``, else a dated folder's name."""
    for values in metrics.values():
        if isinstance(values, Mapping) and values.get("as_of"):
            return str(values["as_of"])[:10]
    return folder.name if _DATED.match(folder.name) else None


def _clean_tables(folder: Path) -> dict[str, object]:
    """Read the clean tables the KPIs use; a table that is not there is left out."""
    import pandas as pd

    tables = {}
    for name in ("orders", "stages", "targets", "customers", "followups"):
        path = folder / f"{name}.parquet"
        if path.exists():
            tables[name] = pd.read_parquet(path)
    return tables


def _kpi_card(row: Mapping[str, object], t: Mapping[str, str], lang: str) -> dict[str, object]:
    import pandas as pd

    from . import summary

    tone = "flat" if row["good"] is None else "good" if row["good"] else "bad"
    mom = row["mom"]
    arrow = "" if mom is None or mom == 0 else "▲" if mom > 0 else "▼"
    note = ""
    if row["key"] == "win_rate" and pd.notna(row.get("basis")):
        note = t["closed"].format(n=int(row["basis"]))
    return {
        "key": row["key"],
        "label": row[lang],
        "value": summary.format_value(row["value"], row["unit"], lang),
        "mom": summary.format_change(mom, row["change_kind"], lang),
        "yoy": summary.format_change(row["yoy"], row["change_kind"], lang),
        "tone": tone,
        "arrow": arrow,
        "spark": summary.sparkline(row["trend"]),
        "note": note,
    }


def _first_rows(
    output_dir: Path, name: str, columns: Sequence[str], flag: tuple[str, str] | None = None
):
    """Return the first :data:`ACTION_ROWS` rows of a report's result as text, and its row count."""
    import numpy as np
    import pandas as pd

    from .exports import read_result

    frame = read_result(output_dir, name)  # as its notebook wrote it for tools, masked
    if frame is None:
        return [], 0
    rows = []
    for record in frame.head(ACTION_ROWS).to_dict("records"):
        cells = []
        for column in columns:
            value = record.get(column)
            if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
                cells.append("—")
            elif isinstance(value, pd.Timestamp):
                cells.append(value.strftime("%Y-%m-%d"))
            else:
                cells.append(str(value))
        marked = record.get(flag[0]) if flag is not None else None
        if isinstance(marked, bool | np.bool_) and marked:
            cells[-1] += flag[1]
        rows.append(cells)
    return rows, len(frame)


def _weakest_sales_step(output_dir: Path, t: Mapping[str, str], lang: str) -> dict[str, str] | None:
    """Return the weakest sales step (①–⑤, :func:`analysis_kit.funnel.weakest_step`) and a line."""
    from .exports import read_result
    from .funnel import step_names, weakest_step

    table = read_result(output_dir, "stage_funnel")  # 05's funnel, as written for tools
    if table is None or not {"step", "conversion_from_previous"} <= set(table.columns):
        return None
    step = weakest_step(table)
    if step is None:
        return None
    at = table.index[table["step"] == step][0]
    rate = f"{table.loc[at, 'conversion_from_previous']:.1%}"
    names = step_names(table, lang)["step"]  # the page's language
    step, previous = names[at], names[table.index[table.index.get_loc(at) - 1]]
    return {"step": step, "text": t["weakest_text"].format(rate=rate, previous=previous, step=step)}


_NAV_START, _NAV_END = "<!-- analysis-kit nav -->", "<!-- /analysis-kit nav -->"
_NAV_STYLE = (
    "display:flex;justify-content:space-between;gap:1rem;max-width:84rem;margin:0 auto;"
    "padding:0.5rem 2rem;font:0.9rem system-ui,sans-serif;border-bottom:1px solid #d1d9e0"
)
_LINK_STYLE = "color:#0969da;text-decoration:none"
_NAV_TEXT = {
    "zh": ("上一页", "返回目录", "下一页"),
    "en": ("Previous", "Back to the summary", "Next"),
}


def link_pages(output_dir: str | os.PathLike, *, lang: str = "zh") -> list[Path]:
    """Put previous / index / next links at the top and bottom of every page of a report.

    Pages are the ``NN_*.html`` files in notebook order. Running it again replaces the links
    (a re-run may add or drop a page). Returns the pages.
    """
    words = _NAV_TEXT.get(lang, _NAV_TEXT["zh"])
    pages = sorted(Path(output_dir).glob("[0-9][0-9]_*.html"))
    titles = [_page_title(page) for page in pages]
    for at, page in enumerate(pages):
        parts = []
        if at > 0:
            parts.append(
                f'<a style="{_LINK_STYLE}" href="{html.escape(pages[at - 1].name)}">← {words[0]}: '
                f"{html.escape(titles[at - 1])}</a>"
            )
        else:
            parts.append("<span></span>")
        parts.append(f'<a style="{_LINK_STYLE}" href="{INDEX_FILE}">{words[1]}</a>')
        if at + 1 < len(pages):
            parts.append(
                f'<a style="{_LINK_STYLE}" href="{html.escape(pages[at + 1].name)}">{words[2]}: '
                f"{html.escape(titles[at + 1])} →</a>"
            )
        else:
            parts.append("<span></span>")
        nav = (
            f'{_NAV_START}<nav class="ak-nav" style="{_NAV_STYLE}">{"".join(parts)}</nav>{_NAV_END}'
        )
        text = re.sub(
            re.escape(_NAV_START) + ".*?" + re.escape(_NAV_END),
            "",
            page.read_text(encoding="utf-8"),
            flags=re.S,
        )
        body = re.search(r"<body[^>]*>", text)
        if body is not None:
            text = text[: body.end()] + nav + text[body.end() :]
        text = text.replace("</body>", nav + "</body>", 1)
        page.write_text(text, encoding="utf-8")
    return pages


def _page_title(page: Path) -> str:
    """Return the ``<title>`` of an exported page, or its file name."""
    text = page.read_text(encoding="utf-8", errors="replace")[:20_000]
    found = re.search(r"<title>(.*?)</title>", text, flags=re.S)
    return html.unescape(found.group(1).strip()) if found else page.stem
