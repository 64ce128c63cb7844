"""Lazy reads of large Parquet and CSV files: DuckDB relations and Polars LazyFrames.

``read_table(path, lazy=...)`` maps the headers by renaming and keeps the file's types, so the
transaction-level aggregations (``rfm_summary``) run on it unchanged and give what they give on
the pandas read of the same file.
"""

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest

import analysis_kit as ak
from analysis_kit.datasets import make_tables
from analysis_kit.rfm import rfm_summary

duckdb = pytest.importorskip("duckdb")
pl = pytest.importorskip("polars")

ENGINES = ("duckdb", "polars")
FORMATS = ("parquet", "csv")
AS_OF = "2024-03-31"

#: Order lines with the template's Chinese headers and amounts in 万元 (ten thousand yuan).
#: Customer 007 buys twice on 2024-01-01 (one purchase day) and once on 2024-02-03; 100 has a
#: refund on a day of its own, which is not a purchase day.
ORDERS = pd.DataFrame(
    {
        "订单编号": ["A1", "A2", "A3", "B1", "C1", "C2"],
        "客户编号": ["007", "007", "007", "012", "100", "100"],
        "成交日期": pd.to_datetime(
            ["2024-01-01", "2024-01-01", "2024-02-03", "2024-01-15", "2024-03-01", "2024-03-20"]
        ),
        "成交金额（万元）": [1.5, 0.5, 2.0, 0.5, 3.0, -1.0],
    }
)

#: rfm_summary(as_of=2024-03-31) of ORDERS, worked out by hand (February 2024 has 29 days):
#: 007: purchase days 01-01 (15 000 + 5 000) and 02-03 (20 000); 02-03 -> 03-31 = 29 + 28 = 57.
#: 012: one day, 01-15 -> 03-31 = 16 + 29 + 31 = 76.
#: 100: one purchase day 03-01 (30 days before as_of) of 30 000, and a refund of 10 000 later.
EXPECTED = pd.DataFrame(
    {
        "customer_id": ["007", "012", "100"],
        "recency": [57, 76, 30],
        "frequency": [2, 1, 1],
        "monetary": [40_000.0, 5_000.0, 20_000.0],
        "monetary_mean": [20_000.0, 5_000.0, 20_000.0],
    }
)


def write(frame: pd.DataFrame, folder: Path, fmt: str, name: str = "orders") -> Path:
    path = folder / f"{name}.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def collect(lazy_frame) -> pd.DataFrame:
    """The caller's explicit request to compute, as a pandas frame."""
    if isinstance(lazy_frame, pl.LazyFrame):
        return lazy_frame.collect().to_pandas()
    return lazy_frame.df()


def names(lazy_frame) -> list[str]:
    if isinstance(lazy_frame, pl.LazyFrame):
        return lazy_frame.collect_schema().names()
    return list(lazy_frame.columns)


def is_lazy(obj, engine: str) -> bool:
    return isinstance(obj, pl.LazyFrame if engine == "polars" else duckdb.DuckDBPyRelation)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("engine", ENGINES)
def test_lazy_read_is_lazy_with_canonical_names_and_file_types(tmp_path, engine, fmt):
    path = write(ORDERS, tmp_path, fmt)
    before = path.read_bytes()
    lazy = ak.read_table(path, lazy=engine)
    assert is_lazy(lazy, engine)
    assert names(lazy) == ["order_id", "customer_id", "order_date", "amount"]
    got = collect(lazy)
    assert got["customer_id"].tolist() == ["007", "007", "007", "012", "100", "100"]  # kept text
    assert pd.api.types.is_float_dtype(got["amount"])  # a number, not text
    assert got["amount"].tolist() == [15_000.0, 5_000.0, 20_000.0, 5_000.0, 30_000.0, -10_000.0]
    assert pd.to_datetime(got["order_date"]).tolist() == ORDERS["成交日期"].tolist()
    assert "source_row" not in got.columns and "source_file" not in got.columns
    assert path.read_bytes() == before


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("engine", ENGINES)
def test_rfm_on_the_lazy_read_equals_the_hand_computed_and_the_pandas_read(tmp_path, engine, fmt):
    path = write(ORDERS, tmp_path, fmt)
    summary = rfm_summary(ak.read_table(path, lazy=engine), as_of=AS_OF)
    assert is_lazy(summary, engine)  # still nothing computed
    lazy = collect(summary)
    pd.testing.assert_frame_equal(lazy[list(EXPECTED.columns)], EXPECTED, check_dtype=False)
    # The pandas read: every value as text, then typed and unit-scaled by clean_table.
    eager = rfm_summary(ak.clean_table(ak.read_table(path)).clean, as_of=AS_OF)
    pd.testing.assert_frame_equal(lazy, eager, check_dtype=False)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("engine", ENGINES)
def test_rfm_parity_on_generated_orders_both_conventions(tmp_path, engine, fmt):
    clean = ak.clean_table(make_tables(120, random_state=3)["orders"], table="orders").clean
    lines = clean[["order_id", "customer_id", "order_date", "amount", "product"]]
    path = write(lines, tmp_path, fmt)
    lazy_lines = ak.read_table(path, lazy=engine)
    eager_lines = (
        pd.read_parquet(path) if fmt == "parquet" else ak.clean_table(ak.read_table(path)).clean
    )
    for convention, freq in (("days", "D"), ("lifetimes", "W"), ("lifetimes", "M")):
        lazy = collect(rfm_summary(lazy_lines, convention=convention, freq=freq))
        eager = rfm_summary(eager_lines, convention=convention, freq=freq)
        assert len(lazy) == lines["customer_id"].nunique() > 50
        pd.testing.assert_frame_equal(lazy, eager, check_dtype=False)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_is_read_before_the_caller_asks(tmp_path, engine, fmt):
    path = write(ORDERS, tmp_path, fmt)
    lazy = ak.read_table(path, lazy=engine)
    # Replace the file's rows (same headers and types) after the read: the data the caller
    # finally collects is the new one, so the read itself took no rows.
    replaced = ORDERS.assign(**{"成交金额（万元）": 1.0})
    write(replaced, tmp_path, fmt)
    assert collect(lazy)["amount"].sum() == pytest.approx(6 * 10_000)
    assert ORDERS["成交金额（万元）"].sum() * 10_000 != pytest.approx(6 * 10_000)


def test_duckdb_connection_gets_the_memory_limit(tmp_path):
    path = write(ORDERS, tmp_path, "parquet")
    rel = ak.read_table(path, lazy="duckdb", memory_limit="512MB")
    setting = "SELECT current_setting('memory_limit') AS m"
    got = rel.query("orders", setting).fetchall()[0][0]
    reference = duckdb.connect(config={"memory_limit": "512MB"})
    default = duckdb.connect()
    assert got == reference.sql(setting).fetchall()[0][0]
    assert got != default.sql(setting).fetchall()[0][0]
    value, unit = got.split()
    assert unit == "MiB" and math.isclose(float(value), 512e6 / 2**20, abs_tol=0.1)


def test_header_units_apply_only_to_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "客户编号": ["1"],
            "成交日期": [dt.date(2024, 5, 1)],
            "成交金额（万元）": [2],  # an integer column in 万元
            "毛利（万元）": ["0.5万"],  # text: left as the file has it
        }
    )
    path = write(frame, tmp_path, "parquet")
    for engine in ENGINES:
        got = collect(ak.read_table(path, lazy=engine))
        assert got["amount"].tolist() == [20_000.0]
        assert got["gross_margin"].tolist() == ["0.5万"]


def test_column_map_and_table_inference(tmp_path):
    frame = pd.DataFrame({"Cust": ["a"], "When": pd.to_datetime(["2024-01-02"]), "Total": [9.5]})
    path = write(frame, tmp_path, "csv", name="export")
    column_map = {"Cust": "customer_id", "When": "order_date", "Total": "amount"}
    for engine in ENGINES:
        lazy = ak.read_table(path, lazy=engine, column_map=column_map)
        assert names(lazy) == ["customer_id", "order_date", "amount"]
    with pytest.raises(ak.SchemaError, match="export.csv"):
        ak.read_table(path, lazy="polars")


def test_missing_columns_are_listed_before_any_read(tmp_path):
    path = write(ORDERS.drop(columns=["成交日期", "成交金额（万元）"]), tmp_path, "parquet")
    with pytest.raises(ak.SchemaError) as info:
        ak.read_table(path, table="orders", lazy="duckdb")
    assert "order_date (成交日期)" in str(info.value) and "amount (成交金额)" in str(info.value)


def test_gb18030_csv_is_a_clear_error_not_mojibake(tmp_path):
    path = tmp_path / "gbk.csv"
    ORDERS.to_csv(path, index=False, encoding="gb18030")
    for engine in ENGINES:
        with pytest.raises(ak.ReadError, match=r"gbk\.csv.*UTF-8.*row 1"):
            ak.read_table(path, lazy=engine)
    assert len(ak.read_table(path)) == len(ORDERS)  # the eager reader still reads it


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lazy": "spark"}, r"lazy must be one of \[None, 'duckdb', 'polars'\]; got 'spark'"),
        ({"lazy": "polars", "memory_limit": "1GB"}, r"memory_limit applies to lazy='duckdb'"),
        ({"memory_limit": "1GB"}, r"memory_limit applies to lazy='duckdb'.*lazy=None"),
        ({"lazy": "duckdb", "memory_limit": "lots"}, r"memory_limit must be a size.*'lots'"),
        ({"lazy": "duckdb", "encoding": "gb18030"}, r"encoding.*UTF-8.*'gb18030'"),
        ({"lazy": "duckdb", "query": "select 1"}, r"query applies to database sources"),
    ],
)
def test_bad_parameters_name_the_parameter(tmp_path, kwargs, match):
    path = write(ORDERS, tmp_path, "csv")
    with pytest.raises(ValueError, match=match):
        ak.read_table(path, **kwargs)


def test_lazy_needs_parquet_or_csv(tmp_path):
    path = tmp_path / "orders.xlsx"
    ORDERS.to_excel(path, index=False)
    with pytest.raises(ValueError, match=r"lazy applies to Parquet and CSV files.*orders.xlsx"):
        ak.read_table(path, lazy="duckdb")
    with pytest.raises(ValueError, match="not a DataFrame"):
        ak.read_table(ORDERS, lazy="polars")


def test_padded_csv_headers_map_like_the_eager_reader(tmp_path):
    path = tmp_path / "padded.csv"
    path.write_text(" 客户编号 ,成交日期, 成交金额（万元）\n007,2024-01-01,5\n", encoding="utf-8")
    eager = ak.read_table(path)
    for engine in ENGINES:
        got = collect(ak.read_table(path, lazy=engine))
        assert list(got.columns) == [c for c in eager.columns if not c.startswith("source_")]
        assert got["customer_id"].tolist() == ["007"] and got["amount"].tolist() == [50_000.0]
