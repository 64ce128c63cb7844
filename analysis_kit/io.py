"""Read the templates from CSV, Excel, Parquet and databases with canonical column names.

Every value is read as text (``str``), so customer ids keep their leading zeros and phone numbers
never turn into ``1.38e10``; :func:`analysis_kit.cleaning.clean_table` does the typing. Two columns
are added so every row can be traced back: ``source_file`` (the file's name) and ``source_row``
(the row number a spreadsheet shows, the header being row 1).

Databases are read the same way: a PostgreSQL (or any SQLAlchemy) URL, a SQLite or DuckDB file,
with ``table=`` or ``query=``. Credentials come from the environment or a ``.env`` file and never
appear in an error message, in ``attrs`` or in ``source_file``; there ``source_file`` is the URL
without its password plus ``#`` and the table (or query) name, and ``source_row`` the row's
position in the result, counted from 1.

Large Parquet and CSV files can be read lazily (``lazy="duckdb"`` or ``lazy="polars"``): the
result is a DuckDB relation or a Polars ``LazyFrame`` with canonical column names and the file's
own types, for the transaction-level aggregations such as :func:`analysis_kit.rfm.rfm_summary`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import hashlib
import importlib
import io
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .columns import (
    SOURCE_FILE,
    SOURCE_ROW,
    TABLES,
    describe_columns,
    header_unit,
    infer_table,
    map_headers,
    missing_columns,
    normalize_header,
    table_column_map,
)
from .errors import ReadError, SchemaError

if TYPE_CHECKING:
    import duckdb
    import polars as pl

__all__ = ["PASSWORD_ENV", "detect_encoding", "read_env_file", "read_table", "read_workbook"]

#: Encodings tried in order when none is given. GB18030 is a superset of GBK and GB2312, so it
#: reads what Excel on a Chinese Windows writes; UTF-8 is tried first because GB18030 would accept
#: many UTF-8 byte sequences as (wrong) Chinese.
ENCODINGS = ("utf-8-sig", "gb18030")

#: Sheets of a workbook that hold instructions, not data.
INSTRUCTION_SHEETS = ("填写说明", "说明", "instructions", "readme")

#: Where the password of a database URL that has none comes from, per database (SQLAlchemy backend
#: name): the environment variable, or the ``.env`` entry, named here. ``PGPASSWORD`` is the name
#: PostgreSQL's own tools use. Add entries for other databases, e.g. ``{"mysql": "MYSQL_PASSWORD"}``.
PASSWORD_ENV: dict[str, str] = {"postgresql": "PGPASSWORD"}

_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db", ".db3"}
_DUCKDB_SUFFIXES = {".duckdb", ".ddb"}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"  # at byte 8 of a DuckDB file

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_ENV_PREFIX = "env:"
#: Query-string keys of a URL whose values are secrets, masked like the password.
_SECRET_KEY_RE = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)
_MASK = "***"

_LAZY_ENGINES = ("duckdb", "polars")
_MEMORY_RE = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGT]i?B|B)\s*$", re.IGNORECASE)
#: Field kinds a lazy CSV read keeps as text, so ``007`` stays ``007`` instead of the number 7.
_LAZY_TEXT_KINDS = ("id", "phone")
_LAZY_HEAD_BYTES = 1 << 20
_DUCKDB_NUMERIC = {
    "tinyint",
    "smallint",
    "integer",
    "bigint",
    "hugeint",
    "utinyint",
    "usmallint",
    "uinteger",
    "ubigint",
    "uhugeint",
    "float",
    "double",
    "decimal",
}
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def detect_encoding(data: bytes) -> str:
    """Return the encoding of CSV bytes: ``utf-8-sig`` (with or without a BOM) or ``gb18030``.

    Raises
    ------
    ReadError
        When the bytes are neither; the message gives the line of the first undecodable byte.
    """
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    errors = []
    for encoding in ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError as exc:
            errors.append((encoding, exc))
        else:
            return encoding
    encoding, exc = errors[0]
    line = data[: exc.start].count(b"\n") + 1
    raise ReadError(
        f"无法识别文件编码 cannot decode the file as UTF-8 or GB18030: byte {exc.start} "
        f"(row {line}) is {data[exc.start : exc.start + 4]!r}; pass encoding=..."
    )


def read_table(
    source: str | os.PathLike | pd.DataFrame,
    *,
    table: str | None = None,
    query: str | os.PathLike | None = None,
    template: str | None = None,
    sheet_name: str | int | None = None,
    encoding: str | None = None,
    column_map: Mapping[str, str] | None = None,
    env_file: str | os.PathLike | bool | None = None,
    lazy: str | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame | pl.LazyFrame | duckdb.DuckDBPyRelation:
    """Read one template table with canonical column names.

    Parameters
    ----------
    source : path, URL or DataFrame
        One of:

        - a ``.csv``/``.txt``, ``.xlsx``/``.xlsm`` or ``.parquet`` file;
        - a database URL: ``postgresql://user@host:5432/db`` (read through SQLAlchemy and
          psycopg; any other SQLAlchemy URL whose driver is installed works too),
          ``sqlite:///path/to/file.db`` or ``duckdb:///path/to/file.duckdb``;
        - a SQLite (``.sqlite``, ``.sqlite3``, ``.db``) or DuckDB (``.duckdb``, ``.db``) file (a
          ``.db`` file is recognised by its first bytes);
        - ``"env:NAME"``: the database URL held by the environment variable ``NAME`` (or by the
          ``.env`` entry ``NAME``), so the URL and its password stay out of notebooks;
        - a DataFrame whose headers are to be mapped.
    table : str, optional
        For a **file**: which template table it holds, one of ``customers``, ``followups``,
        ``orders``, ``stages``, ``channel_costs``, ``targets``, ``market``; inferred from the
        headers when None. For a **database**: the database table (or view) to read, optionally
        ``schema.table``; give ``table`` or ``query``.
    query : str or path, optional
        Database sources only: a SQL query to run instead of reading a whole table, or the path
        of a ``.sql`` file holding it. It runs as written (no parameters are bound).
    template : str, optional
        Database sources (for files ``table=`` does this): the template table the rows belong to.
        When None it is the database table's name if that is a template table's name or title
        (``orders``, ``成交明细``), otherwise it is inferred from the headers.
    sheet_name : str or int, optional
        Excel sheet to read. When None, the first sheet that is not an instructions sheet
        (``填写说明``) is read, or the sheet named after ``table`` (e.g. ``成交明细``) when there is one.
    encoding : str, optional
        CSV encoding; detected when None (UTF-8 with or without BOM, else GB18030).
    column_map : mapping, optional
        ``{header in the file: canonical name}`` for headers the template map does not know, or
        one such map per table (``{"orders": {"Id": "order_id"}, "stages": {"Id":
        "opportunity_id"}}``), of which the one of ``table`` is used.
    env_file : path, bool or None, default=None
        The ``.env`` file consulted (after the process environment, which wins) for ``env:NAME``
        and for the password of a URL that has none (see :data:`PASSWORD_ENV`; ``PGPASSWORD``
        for PostgreSQL). None reads ``.env`` in the working directory if there is one; False
        reads none. The environment itself is never changed.
    lazy : {None, "duckdb", "polars"}, default=None
        Parquet and CSV files only: return a DuckDB relation or a Polars ``LazyFrame`` instead of
        reading the file. See Returns.
    memory_limit : str, optional
        With ``lazy="duckdb"``: the DuckDB connection's memory limit, e.g. ``"2GB"`` or
        ``"512MB"``; above it DuckDB works out of core.

    Returns
    -------
    DataFrame, LazyFrame or DuckDB relation
        Without ``lazy`` a pandas DataFrame: canonical column names (unknown columns kept under
        their own header), every value as ``str`` or missing, plus ``source_file`` and
        ``source_row``. ``attrs["table"]`` holds the table name and ``attrs["units"]`` the
        multipliers implied by headers such as ``预算范围（万元）``.

        For a database, ``source_file`` is the URL without its password (or the file's name)
        plus ``#`` and the table name, or ``#query-`` and a short fingerprint of the query
        (``#`` and the file's name for a ``.sql`` file); ``source_row`` is the row's position in
        the result, from 1 (add ``ORDER BY`` to a query for a stable order).
        ``attrs["source"]`` holds the same text and ``attrs["query"]`` the query. Numbers,
        dates and timestamps become text as the file readers write them (``1200``, ``99.5``,
        ``2024-03-15``, ``2024-03-16 14:30:00``), so :func:`analysis_kit.clean_table` cleans a
        database table exactly as the same table saved as CSV.

        With ``lazy`` nothing is read but the header (and, for CSV, a sample to infer the
        types): the result is a DuckDB relation (on its own in-memory connection, with
        ``memory_limit``) or a Polars ``LazyFrame``, with canonical column names and **typed**
        columns as the file has them (dates as dates, amounts as numbers; id and phone columns
        of a CSV are kept as text). Numeric columns whose header has a unit (``金额（万元）``) are
        multiplied out to yuan. There is no text conversion, no ``source_file``, no
        ``source_row`` and no ``attrs``: lazy frames are for transaction-level aggregations on
        clean data, such as :func:`analysis_kit.rfm.rfm_summary`, which accept them. CSV must
        be UTF-8 (with or without BOM) with a one-byte delimiter.

    Raises
    ------
    ReadError
        The file or database is missing or unreadable, a CSV line is malformed (the message
        names the row), a database table does not exist (the message lists those that do), a
        query fails, or an environment variable is not set. Database messages show the URL with
        its password masked as ``***``.
    SchemaError
        The table cannot be inferred, or required columns are missing (all listed at once, by
        canonical name and template header).
    ValueError
        A parameter has a value it cannot take (``lazy``, ``memory_limit``, ``table`` and
        ``query`` together, ``query`` for a file, ...).

    Examples
    --------
    >>> orders = read_table("data/成交明细.xlsx")  # doctest: +SKIP
    >>> orders.attrs["table"]  # doctest: +SKIP
    'orders'
    >>> orders = read_table("postgresql://sales@db/crm", table="orders")  # doctest: +SKIP
    >>> orders["source_file"].iat[0]  # doctest: +SKIP
    'postgresql://sales@db/crm#orders'
    >>> lines = read_table("big/orders.parquet", lazy="duckdb", memory_limit="2GB")  # doctest: +SKIP
    """
    if lazy is not None and lazy not in _LAZY_ENGINES:
        raise ValueError(f"lazy must be one of {[None, *_LAZY_ENGINES]}; got {lazy!r}")
    if memory_limit is not None:
        if lazy != "duckdb":
            raise ValueError(
                f"memory_limit applies to lazy='duckdb' only; got memory_limit={memory_limit!r} "
                f"with lazy={lazy!r}"
            )
        if not isinstance(memory_limit, str) or not _MEMORY_RE.match(memory_limit):
            raise ValueError(
                "memory_limit must be a size such as '512MB', '2GB' or '1GiB'; "
                f"got {memory_limit!r}"
            )
    if table is not None and query is not None:
        raise ValueError(
            f"pass table= or query=, not both; got table={table!r} and query={str(query)[:60]!r}"
        )
    if template is not None and template not in TABLES:
        raise ValueError(f"template must be one of {sorted(TABLES)}; got {template!r}")

    if isinstance(source, pd.DataFrame):
        _only_for_databases(query, "a DataFrame")
        if lazy is not None:
            raise ValueError(
                f"lazy applies to Parquet and CSV files, not a DataFrame; got {lazy!r}"
            )
        raw = source.copy()
        name = "<DataFrame>"
        if SOURCE_ROW not in raw.columns:
            raw[SOURCE_ROW] = range(2, len(raw) + 2)
        return _finish(raw, name=name, table=_file_table(table, template), column_map=column_map)

    if isinstance(source, str) and (source.startswith(_ENV_PREFIX) or _URL_RE.match(source)):
        if lazy is not None:
            raise ValueError(
                f"lazy applies to Parquet and CSV files, not a database URL; got lazy={lazy!r}"
            )
        db = _Database.from_url(source, env_file=env_file)
        return db.read(table=table, query=query, template=template, column_map=column_map)

    path = Path(source)
    name = path.name
    if not path.exists():
        raise ReadError(f"文件不存在 file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in _SQLITE_SUFFIXES | _DUCKDB_SUFFIXES:
        if lazy is not None:
            raise ValueError(
                f"lazy applies to Parquet and CSV files, not a database file; got lazy={lazy!r}"
            )
        db = _Database.from_file(path)
        return db.read(table=table, query=query, template=template, column_map=column_map)
    _only_for_databases(query, f"the file {name}")
    table = _file_table(table, template)
    if lazy is not None:
        return _read_lazy(
            path,
            engine=lazy,
            memory_limit=memory_limit,
            table=table,
            column_map=column_map,
            encoding=encoding,
        )
    if suffix in _EXCEL_SUFFIXES:
        raw = _read_excel(path, sheet_name=sheet_name, table=table)
    elif suffix in _PARQUET_SUFFIXES:
        raw = _read_parquet(path)
    else:
        raw = _read_csv(path, encoding=encoding)
    raw.insert(0, SOURCE_FILE, name)
    return _finish(raw, name=name, table=table, column_map=column_map)


def read_workbook(
    path: str | os.PathLike, *, column_map: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame]:
    """Read every data sheet of a workbook, each as the table its headers show.

    Returns
    -------
    dict
        ``{table name: DataFrame}`` as :func:`read_table` returns them. Instruction sheets and
        empty sheets are skipped; a sheet whose table cannot be inferred raises :class:`SchemaError`.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(f"文件不存在 file not found: {path}")
    out: dict[str, pd.DataFrame] = {}
    for sheet in _data_sheets(path):
        raw = _excel_sheet(path, sheet)
        if raw.empty and len(raw.columns) <= 1:
            continue
        raw.insert(0, SOURCE_FILE, f"{path.name}:{sheet}")
        df = _finish(raw, name=f"{path.name} [{sheet}]", table=None, column_map=column_map)
        out[df.attrs["table"]] = df
    return out


def read_env_file(path: str | os.PathLike) -> dict[str, str]:
    r"""Parse a ``.env`` file into ``{name: value}``.

    One ``NAME=value`` per line; blank lines and lines starting with ``#`` are skipped, and a
    leading ``export`` is allowed. A value may be quoted: inside double quotes ``\n``, ``\t``,
    ``\"`` and ``\\`` are escapes; single quotes keep the text as it is. An unquoted value ends
    at `` #`` (a comment). Variables are not expanded (``$HOME`` stays ``$HOME``) and a value
    cannot span lines.

    Parameters
    ----------
    path : path
        The file, read as UTF-8.

    Returns
    -------
    dict of str to str
        The entries in file order; a later entry wins over an earlier one of the same name.

    Raises
    ------
    ReadError
        The file is missing, or a line is not ``NAME=value``. The message names the file and the
        line number but never shows the line, which may hold a password.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     env = pathlib.Path(folder) / ".env"
    ...     _ = env.write_text('export CRM_URL="postgresql://sales@db/crm"\nPGPASSWORD=s3cret # x\n')
    ...     print(read_env_file(env))
    {'CRM_URL': 'postgresql://sales@db/crm', 'PGPASSWORD': 's3cret'}
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReadError(f"文件不存在 file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(
            f"{path.name}: 无法读取 cannot read the file: {type(exc).__name__}"
        ) from None
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export ") or stripped.startswith("export\t"):
            stripped = stripped[len("export") :].lstrip()
        key, sep, rest = stripped.partition("=")
        key = key.strip()
        if not sep or not _ENV_KEY_RE.match(key):
            raise ReadError(f"{path.name}: 第{number}行格式错误 line {number} is not NAME=value")
        value = _env_value(rest.strip())
        if value is None:
            raise ReadError(
                f"{path.name}: 第{number}行引号未闭合 line {number} has a quote that is not closed"
            )
        out[key] = value
    return out


def _env_value(text: str) -> str | None:
    """Return the value of one ``.env`` entry; None when a quote is not closed."""
    if text[:1] == "'":
        end = text.find("'", 1)
        return None if end < 0 else text[1:end]
    if text[:1] == '"':
        chars, i = [], 1
        escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                chars.append(escapes.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
                continue
            if char == '"':
                return "".join(chars)
            chars.append(char)
            i += 1
        return None
    return re.split(r"\s+#", text, maxsplit=1)[0].strip()


def _only_for_databases(query: object, what: str) -> None:
    if query is not None:
        raise ValueError(
            f"query applies to database sources (a URL, a SQLite or DuckDB file), not {what}; "
            f"got query={str(query)[:60]!r}"
        )


def _file_table(table: str | None, template: str | None) -> str | None:
    if template is not None and table is not None and template != table:
        raise ValueError(
            f"for a file, table= and template= both name the template table; got table={table!r} "
            f"and template={template!r}"
        )
    return table if table is not None else template


def _resolve_table(
    headers: list[Any], *, table: str | None, column_map: Mapping[str, str] | None, name: str
) -> str:
    """Return the template table of ``headers``: ``table`` checked, or inferred."""
    if table is None:
        flat = table_column_map(column_map, None)
        renamed = [flat.get(str(h), h) for h in headers]
        table = infer_table(renamed)
        if table is None:
            raise SchemaError(
                f"{name}: 无法从表头判断是哪张表 cannot tell which table this is from its headers "
                f"{[str(h) for h in headers][:12]}; pass table= one of {sorted(TABLES)}"
            )
    elif table not in TABLES:
        raise SchemaError(f"table must be one of {sorted(TABLES)}; got {table!r}")
    return table


def _finish(
    raw: pd.DataFrame, *, name: str, table: str | None, column_map: Mapping[str, str] | None
) -> pd.DataFrame:
    headers = [c for c in raw.columns if c not in (SOURCE_FILE, SOURCE_ROW)]
    table = _resolve_table(headers, table=table, column_map=column_map, name=name)
    mapping = map_headers(headers, table, column_map=column_map)
    units = {mapping[h]: u for h in headers if (u := header_unit(h)) is not None}
    df = raw.rename(columns=mapping)
    missing = missing_columns(df.columns, table)
    if missing:
        raise SchemaError(f"{name}: 缺少列 missing columns: {describe_columns(missing, table)}")
    order = [c for c in df.columns if c not in (SOURCE_FILE, SOURCE_ROW)]
    lead = [c for c in (SOURCE_FILE, SOURCE_ROW) if c in df.columns]
    df = df[order + lead]
    df.attrs = {"table": table, "units": units, "source": name}
    return df


# ---------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------


class _Database:
    """One database source: how to reach it and how to name it without its password.

    ``display`` (for ``source_file`` and ``attrs``) has no password at all; ``masked`` (for
    error messages) shows it as ``***``; ``secrets`` are scrubbed from any driver message.
    """

    def __init__(
        self,
        *,
        url: Any = None,
        path: Path | None = None,
        display: str,
        masked: str,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.url = url
        self.path = path
        self.display = display
        self.masked = masked
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    @classmethod
    def from_url(cls, source: str, *, env_file: str | os.PathLike | bool | None) -> _Database:
        raw, origin = source.strip(), ""
        if raw.startswith(_ENV_PREFIX):
            var = raw[len(_ENV_PREFIX) :].strip()
            if not var:
                raise ValueError(f"env: needs a variable name, e.g. 'env:CRM_URL'; got {source!r}")
            value, where = _env_get(var, env_file)
            if value is None:
                raise ReadError(
                    f"环境变量未设置 environment variable {var} is not set (looked in {where})"
                )
            raw, origin = value.strip(), f" (from {var})"
            if not raw:
                raise ReadError(f"环境变量为空 environment variable {var} is empty")
            if not _URL_RE.match(raw):  # the variable may hold a database file's path
                path = Path(raw)
                if not path.exists():
                    raise ReadError(f"文件不存在 file not found: {path}{origin}")
                return cls.from_file(path)
        if raw.lower().startswith("duckdb://"):
            return cls._duckdb_url(raw, origin=origin)
        sa = _require("sqlalchemy", "sqlalchemy>=2")
        try:
            url = sa.engine.make_url(raw)
        except Exception:  # the URL's own text may hold the password: never echo the exception
            url = None
        if url is None:  # raised here, outside the handler, so no exception is chained to it
            raise ReadError(
                f"无法解析数据库地址 cannot parse the database URL {_mask_raw_url(raw)}{origin}"
            )
        if url.get_backend_name() == "postgres":  # Heroku-style name, unknown to SQLAlchemy
            driver = url.get_driver_name() if "+" in url.drivername else ""
            url = url.set(drivername="postgresql" + (f"+{driver}" if driver else ""))
        backend = url.get_backend_name()
        if url.password is None and backend in PASSWORD_ENV:
            password, _ = _env_get(PASSWORD_ENV[backend], env_file)
            if password:
                url = url.set(password=password)
        if backend == "sqlite" and url.database not in (None, "", ":memory:"):
            if not url.database.startswith("file:") and not Path(url.database).exists():
                # SQLite would create an empty database instead of failing
                raise ReadError(f"文件不存在 file not found: {url.database}{origin}")
        secret_keys = [k for k in url.query if _SECRET_KEY_RE.search(k)]
        secrets = [url.password or ""]
        for key in secret_keys:
            value = url.query[key]
            secrets += [value] if isinstance(value, str) else list(value)
        placeholder = "MASKEDSECRETVALUE"
        plain = sa.engine.URL.create(
            url.drivername,
            username=url.username,
            host=url.host,
            port=url.port,
            database=url.database,
            query={k: v for k, v in url.query.items() if k not in secret_keys},
        )
        masked_url = url.set(query={**url.query, **dict.fromkeys(secret_keys, placeholder)})
        masked = masked_url.render_as_string(hide_password=True).replace(placeholder, _MASK)
        return cls(
            url=url,
            display=plain.render_as_string(hide_password=False),
            masked=masked + origin,
            secrets=tuple(secrets),
        )

    @classmethod
    def _duckdb_url(cls, raw: str, *, origin: str) -> _Database:
        rest = raw[len("duckdb://") :]
        if not rest.startswith("/") or len(rest) < 2:
            raise ReadError(
                "duckdb URL must be duckdb:///path/to/file.duckdb (three slashes, then the path); "
                f"got {_mask_raw_url(raw)}{origin}"
            )
        path = Path(rest[1:].split("?", 1)[0])
        if not path.exists():
            raise ReadError(f"文件不存在 file not found: {path}{origin}")
        text = f"duckdb:///{path.as_posix()}"
        return cls(path=path, display=text, masked=text + origin)

    @classmethod
    def from_file(cls, path: Path) -> _Database:
        with path.open("rb") as fh:
            head = fh.read(16)
        if path.suffix.lower() in _DUCKDB_SUFFIXES or head[8:12] == _DUCKDB_MAGIC:
            return cls(path=path, display=path.name, masked=path.name)
        if not head.startswith(_SQLITE_MAGIC):
            raise ReadError(f"{path.name}: 不是数据库文件 not a SQLite or DuckDB database file")
        sa = _require("sqlalchemy", "sqlalchemy>=2")
        url = sa.engine.URL.create("sqlite", database=str(path))
        return cls(url=url, display=path.name, masked=path.name)

    def read(
        self,
        *,
        table: str | None,
        query: str | os.PathLike | None,
        template: str | None,
        column_map: Mapping[str, str] | None,
    ) -> pd.DataFrame:
        sql, label = (None, table) if query is None else _query_text(query)
        if table is not None and not (isinstance(table, str) and table.strip()):
            raise ValueError(f"table must be a database table's name; got {table!r}")
        if self.url is not None:
            columns, rows = self._fetch_sqlalchemy(table=table, sql=sql)
        else:
            columns, rows = self._fetch_duckdb(table=table, sql=sql)
        raw = _text_frame(columns, rows)
        source = f"{self.display}#{label}"
        raw.insert(0, SOURCE_FILE, source)
        raw[SOURCE_ROW] = range(1, len(raw) + 1)
        if template is None and table is not None:
            template = _template_hint(table)
        df = _finish(raw, name=f"{self.masked}#{label}", table=template, column_map=column_map)
        df.attrs["source"] = source
        if sql is not None:
            df.attrs["query"] = sql
        return df

    def scrub(self, text: str) -> str:
        """``text`` with every secret, plain or URL-encoded, replaced by ``***``."""
        from urllib.parse import quote, quote_plus

        for secret in self.secrets:
            for form in (secret, quote(secret, safe=""), quote_plus(secret, safe="")):
                text = text.replace(form, _MASK)
        return text

    def _no_table(self, names: list[str], table: str | None) -> ReadError:
        if table is None:
            return ReadError(
                f"{self.masked}: 请指定表或查询 pass table= (one of {names}) or query="
            )
        return ReadError(f"{self.masked}: 表不存在 no table {table!r}; the tables are {names}")

    def _fetch_sqlalchemy(self, *, table: str | None, sql: str | None) -> tuple[list, list]:
        sa = _require("sqlalchemy", "sqlalchemy>=2")
        url = self.url
        if url.drivername == "postgresql":  # SQLAlchemy's default is psycopg2; use psycopg 3
            url = url.set(drivername="postgresql+psycopg")
        # Errors are built inside the handlers but raised outside them, so that no driver
        # exception (whose attributes may hold connection details) is chained to ours.
        failure: str | None = None
        try:
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        except Exception as exc:  # a missing driver module, an unknown dialect
            failure = (
                f"{self.masked}: 无法加载数据库驱动 cannot load the database driver: "
                f"{self.scrub(_message(exc))}; for PostgreSQL: pip install 'psycopg[binary]'"
            )
        if failure is not None:
            raise ReadError(failure)
        try:
            try:
                conn = engine.connect()
            except Exception as exc:
                failure = (
                    f"{self.masked}: 无法连接数据库 cannot connect: {self.scrub(_message(exc))}"
                )
            if failure is not None:
                raise ReadError(failure)
            try:
                with conn:
                    return self._fetch_rows(sa, conn, table=table, sql=sql)
            except ReadError:
                raise
            except Exception as exc:  # SQLAlchemy and driver errors: scrubbed, never chained
                failure = f"{self.masked}: 读取失败 cannot read: {self.scrub(_message(exc))}"
            raise ReadError(failure)
        finally:
            engine.dispose()

    def _fetch_rows(
        self, sa: Any, conn: Any, *, table: str | None, sql: str | None
    ) -> tuple[list, list]:
        if table is None and sql is None:
            raise self._no_table(_sqlalchemy_tables(sa, conn, None), None)
        if table is not None:
            schema, name = _split_table(table)
            if not sa.inspect(conn).has_table(name, schema=schema):
                raise self._no_table(_sqlalchemy_tables(sa, conn, schema), table)
            stmt = sa.select(sa.literal_column("*")).select_from(sa.table(name, schema=schema))
            result = conn.execute(stmt)
        else:
            # As written: without parameters the driver sees no placeholders (``LIKE 'a%'``).
            result = conn.exec_driver_sql(sql, execution_options={"no_parameters": True})
        if not result.returns_rows:
            raise ReadError(f"{self.masked}: 查询没有返回数据 the query returns no rows")
        return list(result.keys()), result.fetchall()

    def _fetch_duckdb(self, *, table: str | None, sql: str | None) -> tuple[list, list]:
        duckdb = _require("duckdb", "duckdb>=1.1")
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise ReadError(
                f"{self.masked}: 无法打开 cannot open the DuckDB file: {_message(exc)}"
            ) from None
        try:
            if table is not None or sql is None:
                names = _duckdb_tables(con)
                schema, name = _split_table(table or "")
                if table is None or f"{schema or 'main'}.{name}" not in names:
                    shown = sorted(n.removeprefix("main.") for n in names)
                    raise self._no_table(shown, table)
                parts = [schema, name] if schema else [name]
                sql = "SELECT * FROM " + ".".join(_quote_ident(p) for p in parts)
            rel = con.sql(sql)
            if rel is None:
                raise ReadError(f"{self.masked}: 查询没有返回数据 the query returns no rows")
            return list(rel.columns), rel.fetchall()
        except duckdb.Error as exc:
            raise ReadError(f"{self.masked}: 读取失败 cannot read: {_message(exc)}") from None
        finally:
            con.close()


def _require(module: str, requirement: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"需要安装 {requirement} this source needs {module}: pip install '{requirement}'"
        ) from None


def _env_path(env_file: str | os.PathLike | bool | None) -> Path | None:
    if env_file is False:
        return None
    if env_file is None or env_file is True:
        default = Path.cwd() / ".env"
        return default if default.is_file() else None
    return Path(env_file)


def _env_get(name: str, env_file: str | os.PathLike | bool | None) -> tuple[str | None, str]:
    """Return ``name`` from the environment, else from the ``.env`` file, and where it looked."""
    if name in os.environ:
        return os.environ[name], "the environment"
    path = _env_path(env_file)
    if path is None:
        return None, "the environment (no .env file)"
    return read_env_file(path).get(name), f"the environment and {path.name}"


def _mask_raw_url(raw: str) -> str:
    """Mask anything between ``user:`` and ``@`` in a URL that could not be parsed."""
    return re.sub(r"(://[^/@:]*:)[^@]*@", rf"\g<1>{_MASK}@", raw)


def _message(exc: BaseException) -> str:
    """Return the driver's own message of a database error (SQLAlchemy's wrapper adds the SQL)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[:6]) or type(exc).__name__


def _split_table(table: str) -> tuple[str | None, str]:
    schema, _, name = table.strip().rpartition(".")
    return (schema or None), name


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlalchemy_tables(sa: Any, conn: Any, schema: str | None) -> list[str]:
    inspector = sa.inspect(conn)
    try:
        names = inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
    except Exception:  # listing is a courtesy; the error it decorates matters more
        return []
    prefix = f"{schema}." if schema else ""
    return sorted(prefix + n for n in names)


def _duckdb_tables(con: Any) -> set[str]:
    rows = con.sql(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE NOT internal AND database_name = current_database()"
    ).fetchall()
    return {f"{schema}.{name}" for schema, name in rows}


def _query_text(query: str | os.PathLike) -> tuple[str, str]:
    """Return the SQL of ``query`` (text or a ``.sql`` file) and its name for ``source_file``."""
    is_file = isinstance(query, os.PathLike) or (
        isinstance(query, str)
        and query.strip().lower().endswith(".sql")
        and not any(ch.isspace() for ch in query.strip())
    )
    if is_file:
        path = Path(query)
        if not path.is_file():
            raise ReadError(f"文件不存在 file not found: {path}")
        return path.read_text(encoding="utf-8-sig"), path.name
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"query must be SQL text or a .sql file; got {query!r}")
    digest = hashlib.sha256(" ".join(query.split()).encode("utf-8")).hexdigest()[:8]
    return query, f"query-{digest}"


def _template_hint(table: str) -> str | None:
    """Return the template table a database table is named after (``orders``, ``成交明细``)."""
    key = normalize_header(table.rpartition(".")[2])
    for name, spec in TABLES.items():
        if key in (normalize_header(name), normalize_header(spec.title)):
            return name
    return None


def _text_frame(columns: list[Any], rows: list[Any]) -> pd.DataFrame:
    """Rows fetched from a database as a frame of text, like the file readers give."""
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    frame = pd.DataFrame(
        {
            i: pd.Series([v if type(v) is str else _db_text(v) for v in col], dtype=object).astype(
                "str"
            )
            for i, col in enumerate(values)
        },
        index=pd.RangeIndex(len(rows)),
    )
    frame.columns = [str(c) for c in columns]
    return frame


def _db_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else _cell_text(value)
    if isinstance(value, decimal.Decimal):
        return None if value.is_nan() else format(value, "f")
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.hex()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return _cell_text(value)


# ---------------------------------------------------------------------------------------------
# Lazy reading of large Parquet and CSV files
# ---------------------------------------------------------------------------------------------


def _read_lazy(
    path: Path,
    *,
    engine: str,
    memory_limit: str | None,
    table: str | None,
    column_map: Mapping[str, str] | None,
    encoding: str | None,
) -> pl.LazyFrame | duckdb.DuckDBPyRelation:
    suffix = path.suffix.lower()
    if suffix in _EXCEL_SUFFIXES:
        raise ValueError(
            f"lazy applies to Parquet and CSV files; got {path.name} (read it without lazy=)"
        )
    is_parquet = suffix in _PARQUET_SUFFIXES
    if is_parquet:
        delimiter, headers = None, _parquet_headers(path)
    else:
        try:
            utf8 = encoding is None or codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
        except LookupError:
            utf8 = False
        if not utf8:
            raise ValueError(f"encoding: lazy reading needs UTF-8 CSV; got encoding={encoding!r}")
        delimiter, headers = _csv_header(path)
    table = _resolve_table(headers, table=table, column_map=column_map, name=path.name)
    mapping = map_headers(headers, table, column_map=column_map)
    missing = missing_columns(mapping.values(), table)
    if missing:
        raise SchemaError(
            f"{path.name}: 缺少列 missing columns: {describe_columns(missing, table)}"
        )
    units = {h: u for h in headers if (u := header_unit(h)) is not None}
    kinds = {f.name: f.kind for f in TABLES[table].fields}
    as_text = (
        [] if is_parquet else [h for h in headers if kinds.get(mapping[h]) in _LAZY_TEXT_KINDS]
    )
    if engine == "duckdb":
        frame, names, numeric = _duckdb_scan(path, delimiter, as_text, memory_limit)
    else:
        frame, names, numeric = _polars_scan(path, delimiter, as_text)
    # DuckDB trims the headers of a CSV; any other difference means blank or repeated headers.
    if [n.strip() for n in names] != [str(h).strip() for h in headers]:
        raise ReadError(
            f"{path.name}: 表头重复或为空 lazy reading needs unique, non-blank headers; "
            f"the file has {list(headers)[:12]}"
        )
    # (engine's column name, canonical name, unit factor for a numeric column or None)
    plan = [
        (n, mapping[h], units.get(h) if n in numeric and units.get(h, 1) != 1 else None)
        for n, h in zip(names, headers, strict=True)
    ]
    if engine == "duckdb":
        exprs = [
            f"CAST({_quote_ident(n)} AS DOUBLE) * {factor!r} AS {_quote_ident(new)}"
            if factor is not None
            else f"{_quote_ident(n)} AS {_quote_ident(new)}"
            for n, new, factor in plan
        ]
        return frame.project(", ".join(exprs))
    import polars as pl

    return frame.select(
        [
            (pl.col(n).cast(pl.Float64) * factor).alias(new)
            if factor is not None
            else pl.col(n).alias(new)
            for n, new, factor in plan
        ]
    )


def _parquet_headers(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several kinds for a bad file
        raise ReadError(f"{path.name}: 无法读取Parquet cannot read the file: {exc}") from None


def _csv_header(path: Path) -> tuple[str, list[str]]:
    """Return the delimiter and headers of a UTF-8 CSV, from its first megabyte."""
    with path.open("rb") as fh:
        head = fh.read(_LAZY_HEAD_BYTES)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if len(head) == _LAZY_HEAD_BYTES and exc.start >= len(head) - 3:  # a cut character
            text = head[: exc.start].decode("utf-8-sig")
        else:
            row = head[: exc.start].count(b"\n") + 1
            raise ReadError(
                f"{path.name}: 懒加载需要UTF-8编码 lazy reading needs a UTF-8 CSV, but byte "
                f"{exc.start} (row {row}) is not UTF-8 (GB18030?); read it without lazy=, or "
                "save it as UTF-8 or Parquet"
            ) from None
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise ReadError(f"{path.name}: 文件为空 the file is empty or its first line is blank")
    delimiter = _sniff_delimiter(first)
    if len(delimiter.encode("utf-8")) != 1:
        raise ReadError(
            f"{path.name}: 懒加载需要单字节分隔符 lazy reading needs a one-byte delimiter, the file "
            f"uses {delimiter!r}; read it without lazy="
        )
    return delimiter, next(csv.reader([first], delimiter=delimiter))


def _duckdb_scan(
    path: Path, delimiter: str | None, as_text: list[str], memory_limit: str | None
) -> tuple[Any, list[str], set[str]]:
    duckdb = _require("duckdb", "duckdb>=1.1")
    try:
        con = duckdb.connect(config={"memory_limit": memory_limit} if memory_limit else {})
        if delimiter is None:
            rel = con.read_parquet(str(path))
        else:
            rel = con.read_csv(
                str(path),
                header=True,
                sep=delimiter,
                dtype={h.strip(): "VARCHAR" for h in as_text} or None,
            )
    except duckdb.Error as exc:
        raise ReadError(f"{path.name}: 无法读取 cannot read the file: {_message(exc)}") from None
    numeric = {c for c, t in zip(rel.columns, rel.types, strict=True) if t.id in _DUCKDB_NUMERIC}
    return rel, list(rel.columns), numeric


def _polars_scan(
    path: Path, delimiter: str | None, as_text: list[str]
) -> tuple[Any, list[str], set[str]]:
    pl = _require("polars", "polars>=1.20")
    try:
        if delimiter is None:
            lf = pl.scan_parquet(path)
        else:
            lf = pl.scan_csv(
                path,
                separator=delimiter,
                try_parse_dates=True,
                infer_schema_length=10_000,
                schema_overrides=dict.fromkeys(as_text, pl.String),
            )
        schema = lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ReadError(f"{path.name}: 无法读取 cannot read the file: {_message(exc)}") from None
    numeric = {c for c, t in schema.items() if t.is_numeric()}
    return lf, list(schema.names()), numeric


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _read_csv(path: Path, *, encoding: str | None) -> pd.DataFrame:
    data = path.read_bytes()
    try:
        enc = encoding or detect_encoding(data)
        text = data.decode(enc)
    except ReadError as exc:
        raise ReadError(f"{path.name}: {exc}") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise ReadError(f"{path.name}: cannot decode with encoding={encoding!r}: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    delimiter = _sniff_delimiter(text)
    try:
        df = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype="str",
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise ReadError(f"{path.name}: 文件为空 the file is empty") from None
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+), saw (\d+)", str(exc))
        where = (
            f"row {match.group(1)} has {match.group(2)} fields, more than the header"
            if match
            else str(exc)
        )
        raise ReadError(f"{path.name}: 格式错误 malformed CSV: {where}") from None
    # A line holding only delimiters, or nothing, is a blank row: keep it, the cleaner counts it.
    df[SOURCE_ROW] = _csv_row_numbers(text, len(df))
    return df


def _csv_row_numbers(text: str, n: int) -> list[int]:
    """Spreadsheet row number of each data record (header = 1), quoted newlines accounted for."""
    reader = csv.reader(io.StringIO(text))
    rows = []
    next(reader, None)
    record_start = reader.line_num + 1
    for _ in reader:
        rows.append(record_start)
        record_start = reader.line_num + 1
    if len(rows) != n:  # a trailing blank line read differently; fall back to positions
        return list(range(2, n + 2))
    return rows


def _sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", "\t", ";", "，")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _data_sheets(path: Path) -> list[str]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise ReadError(f"{path.name}: 无法读取Excel cannot read the workbook: {exc}") from None
    try:
        return [s for s in wb.sheetnames if s.strip().lower() not in INSTRUCTION_SHEETS]
    finally:
        wb.close()


def _read_excel(path: Path, *, sheet_name: str | int | None, table: str | None) -> pd.DataFrame:
    if sheet_name is None:
        sheets = _data_sheets(path)
        if not sheets:
            raise ReadError(f"{path.name}: 没有数据表 the workbook has no data sheet")
        wanted = TABLES[table].title if table in TABLES else None
        sheet_name = wanted if wanted in sheets else sheets[0]
    return _excel_sheet(path, sheet_name)


def _excel_sheet(path: Path, sheet_name: str | int) -> pd.DataFrame:
    try:
        df = pd.read_excel(path, sheet_name=sheet_name, dtype=object, engine="openpyxl")
    except ValueError as exc:
        raise ReadError(f"{path.name}: {exc}") from None
    except Exception as exc:
        raise ReadError(f"{path.name}: 无法读取Excel cannot read the workbook: {exc}") from None
    df = df.loc[:, [not str(c).startswith("Unnamed:") or df[c].notna().any() for c in df.columns]]
    out = pd.DataFrame(
        {c: df[c].map(_cell_text, na_action="ignore").astype("str") for c in df.columns},
        index=df.index,
    )
    out[SOURCE_ROW] = range(2, len(out) + 2)
    return out


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time(0) else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise ReadError(f"{path.name}: 无法读取Parquet cannot read the file: {exc}") from None
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(_cell_text, na_action="ignore").astype("str")
    out[SOURCE_ROW] = range(2, len(out) + 2)
    return out
