"""Databases as sources for read_table: PostgreSQL, SQLite and DuckDB files, credentials.

A real PostgreSQL server is started on loopback for the session (see :func:`pg`); the SQLite
and DuckDB tests need no server. Every database table is compared with the same table written
as CSV: read and cleaned, the two must give the same clean table.
"""

import contextlib
import os
import pwd
import shlex
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest

import analysis_kit as ak
from analysis_kit.columns import SOURCE_FILE, SOURCE_ROW
from analysis_kit.datasets import make_tables, to_template
from analysis_kit.io import read_env_file

IN_CI = bool(os.environ.get("CI"))
AS_OF = "2024-06-30"
ADMIN_PASSWORD = "adm1n-only-for-tests"
#: The sales role's password has the characters a URL must escape, to prove masking handles both.
SALES_PASSWORD = "s3cr@t:pa/ss#word%"
SALES_PASSWORD_URL = quote(SALES_PASSWORD, safe="")
SEEDED = ("orders", "customers", "followups")

try:
    import sqlalchemy  # noqa: F401
except ImportError:  # every database source but DuckDB files goes through SQLAlchemy
    if IN_CI:
        raise
    pytest.skip("sqlalchemy is not installed: pip install 'sqlalchemy>=2'", allow_module_level=True)


def unavailable(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where the database tests must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def leaks(text: str) -> bool:
    return SALES_PASSWORD in text or SALES_PASSWORD_URL in text or ADMIN_PASSWORD in text


@pytest.fixture(autouse=True)
def hermetic_credentials(monkeypatch, tmp_path):
    """No password from the developer's environment, ~/.pgpass or a .env in the working folder."""
    for name in ("PGPASSWORD", "PGUSER", "PGSERVICE", "CRM_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    monkeypatch.chdir(tmp_path)


# ---------------------------------------------------------------------------------------------
# The tables: generated in the templates' shape, with Chinese headers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_tables() -> dict[str, pd.DataFrame]:
    """Messy generated tables with Chinese headers, as a database would store them.

    Columns pandas holds as numbers (``Int64``, ``float64``) stay numbers, so the database has
    integer and floating-point columns; mixed text-and-number columns become text.
    """
    tables = make_tables(n_customers=30, messy=True, as_of=AS_OF, random_state=7)
    out = {}
    for name in SEEDED:
        frame = to_template(tables[name], name)
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].map(str, na_action="ignore").astype(object)
        out[name] = frame
    return out


@pytest.fixture(scope="session")
def from_csv(template_tables, tmp_path_factory) -> dict[str, tuple[pd.DataFrame, ak.CleanResult]]:
    """Each table written to CSV, read back and cleaned: what a database read must match."""
    folder = tmp_path_factory.mktemp("csv_twins")
    out = {}
    for name, frame in template_tables.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False, encoding="utf-8-sig")
        read = ak.read_table(path)
        out[name] = (read, ak.clean_table(read, as_of=AS_OF))
    return out


def assert_cleans_like(db_read: pd.DataFrame, twin: tuple[pd.DataFrame, ak.CleanResult]) -> None:
    csv_read, from_csv = twin
    assert db_read.attrs["table"] == csv_read.attrs["table"]
    assert db_read.attrs["units"] == csv_read.attrs["units"]
    from_db = ak.clean_table(db_read, as_of=AS_OF)
    provenance = [SOURCE_FILE, SOURCE_ROW]
    pd.testing.assert_frame_equal(
        from_db.clean.drop(columns=provenance, errors="ignore"),
        from_csv.clean.drop(columns=provenance, errors="ignore"),
    )
    for field in ("rows_in", "kept", "merged", "dropped_duplicates", "quarantined"):
        assert getattr(from_db.audit, field) == getattr(from_csv.audit, field), field
    pd.testing.assert_series_equal(from_db.audit.reasons, from_csv.audit.reasons)
    assert from_db.audit.quarantined > 0 or from_db.audit.merged > 0  # the mess was exercised


def assert_text_only(df: pd.DataFrame) -> None:
    for col in df.columns:
        if col != SOURCE_ROW:
            assert pd.api.types.is_string_dtype(df[col]), col


# ---------------------------------------------------------------------------------------------
# A PostgreSQL server on loopback for the session
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    """A running server: where it listens and how the tests reach it."""

    port: int
    host: str = "127.0.0.1"

    def url(self, *, password: bool = False, database: str = "crm") -> str:
        secret = f":{SALES_PASSWORD_URL}" if password else ""
        return f"postgresql://sales{secret}@{self.host}:{self.port}/{database}"


def _pg_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/*/bin."""
    candidates = []
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )[::-1]
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as ``postgres`` (or ``nobody``)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    unavailable("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL")
    return None


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    if user is None:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *cmd]
    return ["su", "-s", "/bin/sh", user, "-c", shlex.join(cmd)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-1500:] if log and log.exists() else ""
        unavailable(f"cannot {what}: {result.stderr.strip()[-1500:]} {tail}".strip())


def _seed(server: Postgres, tables: dict[str, pd.DataFrame]) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(
        sa.engine.URL.create(
            "postgresql+psycopg",
            username="ak_admin",
            password=ADMIN_PASSWORD,
            host=server.host,
            port=server.port,
            database="postgres",
        ),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE ROLE sales LOGIN PASSWORD '{SALES_PASSWORD}'",
            execution_options={"no_parameters": True},
        )
        conn.exec_driver_sql("CREATE DATABASE crm OWNER sales")
    admin.dispose()
    sales = sa.create_engine(
        sa.engine.URL.create(
            "postgresql+psycopg",
            username="sales",
            password=SALES_PASSWORD,
            host=server.host,
            port=server.port,
            database="crm",
        ),
        poolclass=sa.pool.NullPool,
    )
    with sales.begin() as conn:
        for name, frame in tables.items():
            frame.to_sql(name, conn, index=False)
        conn.exec_driver_sql("CREATE SCHEMA archive")
        tables["orders"].to_sql("成交明细", conn, schema="archive", index=False)
        conn.exec_driver_sql(TYPED_DDL)
        conn.exec_driver_sql(TYPED_ROWS)
    sales.dispose()


@pytest.fixture(scope="session")
def pg(template_tables):
    """A PostgreSQL server started for the session on a free loopback port, seeded, then stopped.

    The cluster lives in a fresh folder under the system temp dir (pytest's own temp folders
    are private to the current user, and as root the server must run as another user, which
    then owns the folder); its unix socket sits in that folder too, so nothing outside it is
    touched. Password authentication (scram-sha-256) is on, for the ``ak_admin`` superuser and
    for ``sales``, who owns the ``crm`` database. Skips when no server can be started, except
    in CI (``CI`` set), where it fails.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed: pip install 'psycopg[binary]'")
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        unavailable(
            "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); "
            "run scripts/ci_services.sh"
        )
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="ak-pg-"))
    data, sockets, log, pwfile = root / "data", root / "s", root / "server.log", root / "pw"
    sockets.mkdir()
    pwfile.write_text(ADMIN_PASSWORD + "\n")
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (root, sockets, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    started = False
    try:
        _run(
            _as_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "ak_admin",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
                user,
            ),
            "initialise a PostgreSQL cluster",
        )
        pwfile.unlink()
        for _attempt in range(3):
            server = Postgres(port=_free_port())
            options = (
                f"-p {server.port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off"
            )
            cmd = [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
            result = subprocess.run(
                _as_user(cmd, user), capture_output=True, text=True, timeout=120, check=False
            )
            if result.returncode == 0:
                started = True
                break
        if not started:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            unavailable(f"cannot start PostgreSQL: {result.stderr.strip()} {tail}".strip())
        _seed(server, template_tables)
        yield server
    finally:
        if started:
            subprocess.run(
                _as_user(
                    [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], user
                ),
                capture_output=True,
                timeout=120,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


#: A table with the types a CRM database really has, and the text each value must become.
TYPED_DDL = """
CREATE TABLE typed (
    "客户编号" text, "成交日期" date, "成交时间" timestamp, "成交金额" numeric(12, 2),
    "数量" integer, "折扣" double precision, "加急" boolean, "备注" text
)
"""
TYPED_ROWS = """
INSERT INTO typed VALUES
    ('007', '2024-03-15', '2024-03-16 14:30:00', 1234.50, 3, 0.25, true, '老客户'),
    ('0012', '2024-12-01', '2024-12-01 00:00:00', 99.00, NULL, 1.0, false, NULL)
"""
TYPED_EXPECTED = {
    "customer_id": ["007", "0012"],
    "order_date": ["2024-03-15", "2024-12-01"],
    "成交时间": ["2024-03-16 14:30:00", "2024-12-01"],
    "amount": ["1234.50", "99.00"],
    "quantity": ["3", None],
    "折扣": ["0.25", "1"],
    "加急": ["True", "False"],
    "备注": ["老客户", None],
}


def as_lists(df: pd.DataFrame) -> dict[str, list]:
    return {c: [None if pd.isna(v) else v for v in df[c]] for c in TYPED_EXPECTED}


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------


def test_pg_password_from_pgpassword(pg, monkeypatch, template_tables):
    monkeypatch.setenv("PGPASSWORD", SALES_PASSWORD)
    df = ak.read_table(pg.url(), table="orders")
    assert df.attrs["table"] == "orders"
    assert len(df) == len(template_tables["orders"])
    assert set(df[SOURCE_FILE]) == {f"postgresql://sales@127.0.0.1:{pg.port}/crm#orders"}
    assert df[SOURCE_ROW].tolist() == list(range(1, len(df) + 1))
    assert_text_only(df)
    assert not leaks(repr(df.attrs)) and not leaks(df.to_csv())


def test_pg_table_cleans_like_the_same_table_from_csv(pg, monkeypatch, from_csv):
    monkeypatch.setenv("PGPASSWORD", SALES_PASSWORD)
    for name in SEEDED:
        from_db = ak.read_table(pg.url(), table=name)
        assert from_db.attrs["table"] == name
        assert_cleans_like(from_db, from_csv[name])


def test_pg_url_from_env_variable_in_dotenv(pg, tmp_path, template_tables):
    (tmp_path / ".env").write_text(
        f"# the team's connection\nexport CRM_URL='{pg.url(password=True)}'\n", encoding="utf-8"
    )
    df = ak.read_table("env:CRM_URL", table="orders")  # .env in the working folder
    assert len(df) == len(template_tables["orders"])
    assert set(df[SOURCE_FILE]) == {f"postgresql://sales@127.0.0.1:{pg.port}/crm#orders"}
    assert "CRM_URL" not in os.environ  # read, not exported
    with pytest.raises(ak.ReadError, match="CRM_URL is not set"):
        ak.read_table("env:CRM_URL", table="orders", env_file=False)


def test_pg_password_from_dotenv_reaches_the_server(pg, tmp_path):
    # libpq reads PGPASSWORD from the process environment only; the .env entry must be passed on
    # by read_table itself for the login to succeed.
    env = tmp_path / "secrets.env"
    env.write_text(f'PGPASSWORD="{SALES_PASSWORD}"\n', encoding="utf-8")
    with pytest.raises(ak.ReadError, match="cannot connect"):
        ak.read_table(pg.url(), table="orders", env_file=False)
    df = ak.read_table(pg.url(), table="orders", env_file=env)
    assert df.attrs["table"] == "orders"


def test_pg_bad_table_shows_masked_url_and_the_tables(pg):
    with pytest.raises(ak.ReadError) as info:
        ak.read_table(pg.url(password=True), table="orderz")
    message = str(info.value)
    assert f"postgresql://sales:***@127.0.0.1:{pg.port}/crm" in message
    assert "'orderz'" in message and "orders" in message and "customers" in message
    assert not leaks(message)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_pg_wrong_password_and_bad_sql_never_show_a_password(pg, monkeypatch):
    wrong = pg.url().replace("sales@", "sales:not-the-password@")
    with pytest.raises(ak.ReadError, match=r"sales:\*\*\*@.*cannot connect") as info:
        ak.read_table(wrong, table="orders")
    assert "not-the-password" not in str(info.value)
    assert info.value.__context__ is None
    monkeypatch.setenv("PGPASSWORD", SALES_PASSWORD)
    with pytest.raises(ak.ReadError, match="cannot read") as info:
        ak.read_table(pg.url(), query="SELECT no_such_column FROM orders")
    assert "no_such_column" in str(info.value) and not leaks(str(info.value))


def test_pg_query_schema_and_chinese_table_name(pg, monkeypatch, template_tables):
    monkeypatch.setenv("PGPASSWORD", SALES_PASSWORD)
    orders = template_tables["orders"]
    query = 'SELECT * FROM orders WHERE "订单编号" LIKE \'SO2023%\' ORDER BY "订单编号"'
    df = ak.read_table(pg.url(), query=query)
    expected = sorted(o for o in orders["订单编号"].dropna() if o.startswith("SO2023"))
    assert df["order_id"].tolist() == expected and len(expected) > 0
    assert df.attrs["query"] == query
    (label,) = set(df[SOURCE_FILE])
    assert label.startswith(f"postgresql://sales@127.0.0.1:{pg.port}/crm#query-")
    again = ak.read_table(pg.url(), query=" ".join(query.split(" ")) + "\n")
    assert set(again[SOURCE_FILE]) == {label}  # same query, same name
    archived = ak.read_table(pg.url(), table="archive.成交明细")  # template from the title
    assert archived.attrs["table"] == "orders" and len(archived) == len(orders)
    assert set(archived[SOURCE_FILE]) == {
        f"postgresql://sales@127.0.0.1:{pg.port}/crm#archive.成交明细"
    }


def test_pg_typed_columns_become_file_like_text(pg, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", SALES_PASSWORD)
    df = ak.read_table(pg.url(), table="typed", template="orders")
    assert as_lists(df) == TYPED_EXPECTED
    assert_text_only(df)


# ---------------------------------------------------------------------------------------------
# SQLite and DuckDB files (no server)
# ---------------------------------------------------------------------------------------------


def sqlite_file(path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Written with Python's own sqlite3 module, independent of the reader's SQLAlchemy."""
    with contextlib.closing(sqlite3.connect(path)) as con:
        for name, frame in tables.items():
            frame.to_sql(name, con, index=False)
        con.executescript(
            'CREATE TABLE typed ("客户编号" TEXT, "成交日期" TEXT, "成交时间" TEXT, '
            '"成交金额" TEXT, "数量" INTEGER, "折扣" REAL, "加急" TEXT, "备注" TEXT);'
            "INSERT INTO typed VALUES ('007', '2024-03-15', '2024-03-16 14:30:00', '1234.50', 3, "
            "0.25, 'True', '老客户'), ('0012', '2024-12-01', '2024-12-01', '99.00', NULL, 1.0, "
            "'False', NULL);"
        )
        con.commit()
    return path


def duckdb_file(path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    duckdb = pytest.importorskip("duckdb")
    with contextlib.closing(duckdb.connect(str(path))) as con:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
        con.execute(TYPED_DDL)
        con.execute(TYPED_ROWS)
    return path


@pytest.mark.parametrize("name", ["crm.sqlite", "crm.db"])
def test_sqlite_file_cleans_like_csv(tmp_path, template_tables, from_csv, name):
    path = sqlite_file(tmp_path / name, template_tables)
    for table in SEEDED if name == "crm.sqlite" else ["orders"]:
        df = ak.read_table(path, table=table)
        assert set(df[SOURCE_FILE]) == {f"{name}#{table}"}
        assert df[SOURCE_ROW].tolist() == list(range(1, len(df) + 1))
        assert_text_only(df)
        assert_cleans_like(df, from_csv[table])


def test_sqlite_url_and_typed_values(tmp_path, template_tables):
    path = sqlite_file(tmp_path / "crm.sqlite", template_tables)
    url = f"sqlite:///{path}"
    df = ak.read_table(url, table="orders")
    assert set(df[SOURCE_FILE]) == {f"{url}#orders"}
    assert len(df) == len(template_tables["orders"])
    typed = ak.read_table(url, table="typed", template="orders")
    assert as_lists(typed) == {**TYPED_EXPECTED, "成交时间": ["2024-03-16 14:30:00", "2024-12-01"]}


@pytest.mark.parametrize("form", ["path", "url", "db-suffix"])
def test_duckdb_file_cleans_like_csv(tmp_path, template_tables, from_csv, form):
    name = "crm.db" if form == "db-suffix" else "crm.duckdb"
    path = duckdb_file(tmp_path / name, template_tables)
    source = f"duckdb:///{path}" if form == "url" else path
    label = f"duckdb:///{path.as_posix()}" if form == "url" else name
    for table in SEEDED if form == "path" else ["orders"]:
        df = ak.read_table(source, table=table)
        assert set(df[SOURCE_FILE]) == {f"{label}#{table}"}
        assert_text_only(df)
        assert_cleans_like(df, from_csv[table])
    typed = ak.read_table(source, table="typed", template="orders")
    assert as_lists(typed) == TYPED_EXPECTED


def test_query_names_in_source_file(tmp_path, template_tables):
    path = sqlite_file(tmp_path / "crm.sqlite", template_tables)
    first = ak.read_table(path, query='SELECT * FROM orders WHERE "成交金额" IS NOT NULL')
    other = ak.read_table(path, query="SELECT * FROM orders")
    assert set(first[SOURCE_FILE]) != set(other[SOURCE_FILE])
    assert set(other[SOURCE_FILE]).pop().startswith("crm.sqlite#query-")
    sql_file = tmp_path / "新订单.sql"
    sql_file.write_text("SELECT * FROM orders\n", encoding="utf-8")
    from_file = ak.read_table(path, query=sql_file)
    assert set(from_file[SOURCE_FILE]) == {"crm.sqlite#新订单.sql"}
    pd.testing.assert_frame_equal(
        from_file.drop(columns=SOURCE_FILE), other.drop(columns=SOURCE_FILE)
    )


@pytest.mark.parametrize("maker", [sqlite_file, duckdb_file])
def test_missing_table_lists_the_tables(tmp_path, template_tables, maker):
    path = maker(tmp_path / "crm.db", {"orders": template_tables["orders"]})
    with pytest.raises(ak.ReadError, match=r"crm\.db.*no table 'order'.*\['orders', 'typed'\]"):
        ak.read_table(path, table="order")
    with pytest.raises(ak.ReadError, match=r"pass table= \(one of \['orders', 'typed'\]\)"):
        ak.read_table(path)


def test_not_a_database_and_missing_files(tmp_path):
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"just some text, not a database\n")
    with pytest.raises(ak.ReadError, match="not a SQLite or DuckDB"):
        ak.read_table(junk, table="orders")
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(ak.ReadError, match="not found"):
        ak.read_table(f"sqlite:///{missing}", table="orders")
    assert not missing.exists()  # SQLite was not allowed to create an empty database
    with pytest.raises(ak.ReadError, match="not found"):
        ak.read_table(f"duckdb:///{tmp_path / 'missing.duckdb'}", table="orders")


def test_parameter_errors(tmp_path, template_tables):
    path = sqlite_file(tmp_path / "crm.sqlite", template_tables)
    with pytest.raises(ValueError, match="pass table= or query=, not both"):
        ak.read_table(path, table="orders", query="SELECT 1")
    with pytest.raises(ValueError, match=r"template must be one of .*got 'order'"):
        ak.read_table(path, table="orders", template="order")
    csv = tmp_path / "o.csv"
    template_tables["orders"].to_csv(csv, index=False)
    with pytest.raises(ValueError, match="query applies to database sources"):
        ak.read_table(csv, query="SELECT 1")
    with pytest.raises(ValueError, match="lazy applies to Parquet and CSV"):
        ak.read_table(path, table="orders", lazy="duckdb")


# ---------------------------------------------------------------------------------------------
# Credentials without a server: masking, environment, .env
# ---------------------------------------------------------------------------------------------


def test_unreachable_server_error_masks_the_password():
    url = f"postgresql://sales:{SALES_PASSWORD_URL}@127.0.0.1:1/crm?sslpassword=topsecret"
    with pytest.raises(ak.ReadError) as info:
        ak.read_table(url, table="orders")
    message = str(info.value)
    assert message.startswith("postgresql://sales:***@127.0.0.1:1/crm?sslpassword=***")
    assert not leaks(message) and "topsecret" not in message
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_pgpassword_is_masked_too(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", SALES_PASSWORD)
    with pytest.raises(
        ak.ReadError, match=r"^postgresql://sales:\*\*\*@127\.0\.0\.1:1/crm"
    ) as info:
        ak.read_table("postgresql://sales@127.0.0.1:1/crm", table="orders")
    assert not leaks(str(info.value))


def test_unparseable_url_is_masked(monkeypatch):
    with pytest.raises(ak.ReadError, match="cannot parse") as info:
        ak.read_table("postgresql://sales:pa:ss99@db:port/crm", table="orders")
    assert "pa:ss99" not in str(info.value) and "ss99" not in str(info.value)
    assert info.value.__context__ is None
    monkeypatch.setenv("CRM_URL", "postgresql://sales:pa:ss99@db:port/crm")
    with pytest.raises(ak.ReadError, match=r"\(from CRM_URL\)") as info:
        ak.read_table("env:CRM_URL", table="orders")
    assert "ss99" not in str(info.value)


def test_env_variable_errors(tmp_path):
    with pytest.raises(ak.ReadError, match="environment variable CRM_URL is not set"):
        ak.read_table("env:CRM_URL", table="orders")
    with pytest.raises(ValueError, match="env: needs a variable name"):
        ak.read_table("env:", table="orders")
    with pytest.raises(ak.ReadError, match="not found"):
        ak.read_table("env:CRM_URL", table="orders", env_file=tmp_path / "nope.env")


def test_env_variable_may_hold_a_database_file(tmp_path, monkeypatch, template_tables):
    path = sqlite_file(tmp_path / "crm.sqlite", template_tables)
    monkeypatch.setenv("CRM_DB", str(path))
    df = ak.read_table("env:CRM_DB", table="orders")
    assert set(df[SOURCE_FILE]) == {"crm.sqlite#orders"}


def test_process_environment_wins_over_dotenv(tmp_path, monkeypatch, template_tables):
    good = sqlite_file(tmp_path / "good.sqlite", template_tables)
    (tmp_path / ".env").write_text(f"CRM_URL=sqlite:///{tmp_path / 'other.sqlite'}\n")
    monkeypatch.setenv("CRM_URL", f"sqlite:///{good}")
    df = ak.read_table("env:CRM_URL", table="orders")
    assert set(df[SOURCE_FILE]) == {f"sqlite:///{good}#orders"}


def test_read_env_file_syntax(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "\n".join(
            [
                "# comment",
                "",
                "PLAIN=value # trailing comment",
                "export EXPORTED=yes",
                "SPACED = padded ",
                'DOUBLE="a # not a comment\\n\\"quoted\\""',
                "SINGLE='raw \\n $HOME'",
                "EMPTY=",
                "URL=postgresql://u:p#x@h/db",
                "PLAIN=later wins",
            ]
        ),
        encoding="utf-8",
    )
    assert read_env_file(env) == {
        "PLAIN": "later wins",
        "EXPORTED": "yes",
        "SPACED": "padded",
        "DOUBLE": 'a # not a comment\n"quoted"',
        "SINGLE": "raw \\n $HOME",
        "EMPTY": "",
        "URL": "postgresql://u:p#x@h/db",
    }


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("PGPASSWORD hunter2", "line 2 is not NAME=value"),
        ("1BAD=hunter2", "line 2 is not NAME=value"),
        ("PGPASSWORD='hunter2", "line 2 has a quote that is not closed"),
    ],
)
def test_read_env_file_errors_never_show_the_line(tmp_path, line, match):
    env = tmp_path / ".env"
    env.write_text(f"OK=1\n{line}\n", encoding="utf-8")
    with pytest.raises(ak.ReadError, match=match) as info:
        read_env_file(env)
    assert "hunter2" not in str(info.value)
