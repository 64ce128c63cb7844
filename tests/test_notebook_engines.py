"""The ``engine`` parameter: notebooks 02-07 give byte-identical metrics on pandas, DuckDB and Polars.

Each notebook runs once per engine on the cleaned sample. The executed notebooks must show that the
transaction-level tables really were the engine's frames (a DuckDB relation, a Polars LazyFrame),
and a few figures are checked against a plain computation from the clean Parquet, so identical
but wrong metrics cannot pass. Unit tests cover :func:`load_tables` with ``engine=`` and
:func:`to_pandas`.
"""

from __future__ import annotations

import json
import sys

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from notebook_checks import people_names, stderr_of, stdout_of

from analysis_kit.errors import SchemaError
from analysis_kit.privacy import find_unmasked
from analysis_kit.reports import (
    ENGINES,
    NotebookSkipped,
    load_tables,
    run_report,
    to_pandas,
)
from analysis_kit.rfm import rfm_summary

pytestmark = pytest.mark.notebook

AS_OF = pd.Timestamp("2024-06-30")
NOTEBOOKS = {
    "02": "02_customer_profile",
    "03": "03_rfm_segmentation",
    "04": "04_customer_clustering",
    "05": "05_sales_funnel",
    "06": "06_sales_performance",
    "07": "07_clv_cross_sell",
}
#: What each engine's orders and stages are, as the notebooks print it.
FRAME_TYPES = {
    "pandas": "pandas.DataFrame",
    "duckdb": "duckdb.DuckDBPyRelation",
    "polars": "polars.LazyFrame",
}


# ---------------------------------------------------------------------------------------------
# Notebooks on every engine
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(cleaned_sample, tmp_path_factory) -> dict[str, tuple]:
    """Notebooks 02-07 run once per engine into one report folder each."""
    out = {}
    for engine in FRAME_TYPES:
        folder = tmp_path_factory.mktemp(f"engine_{engine}")
        metrics = run_report(
            folder,
            notebooks=list(NOTEBOOKS),
            parameters={
                "clean_dir": str(cleaned_sample.clean_dir),
                "as_of": "2024-06-30",
                "engine": engine,
                "lang": "en",
            },
        )
        out[engine] = (folder, metrics.read_bytes())
    return out


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_metrics_are_byte_identical_across_engines(runs, engine):
    _, reference = runs["pandas"]
    _, got = runs[engine]
    recorded, expected = json.loads(got), json.loads(reference)
    assert set(expected) == set(NOTEBOOKS.values())
    for name in NOTEBOOKS.values():
        assert "skipped" not in expected[name], name
        assert recorded[name] == expected[name], f"{name} on {engine}"
    assert got == reference


@pytest.mark.parametrize("engine", list(FRAME_TYPES))
def test_notebooks_ran_on_the_engine(runs, engine):
    folder, _ = runs[engine]
    for name in NOTEBOOKS.values():
        printed = stdout_of(folder / f"{name}.ipynb")
        assert f"计算引擎 engine: {engine}（" in printed, name
        frame = FRAME_TYPES[engine]
        assert f"（{frame}）" in printed or f"orders: {frame}）" in printed, name


@pytest.mark.parametrize("engine", list(FRAME_TYPES))
def test_engine_reports_are_clean_and_masked(cleaned_sample, runs, engine):
    folder, _ = runs[engine]
    names = people_names(cleaned_sample.clean_dir)
    for name in NOTEBOOKS.values():
        stderr = stderr_of(folder / f"{name}.ipynb")
        assert "Glyph" not in stderr, name
        assert "Warning" not in stderr, f"{name} on {engine}: {stderr[:300]}"
        html = (folder / f"{name}.html").read_text(encoding="utf-8")
        assert find_unmasked(html, names=names) == [], f"{name} on {engine}"


def test_engine_metrics_match_a_plain_computation(cleaned_sample, runs):
    """The shared answer is the right one: customers (03) and revenue (06) from the Parquet."""
    recorded = json.loads(runs["duckdb"][1])
    orders = pd.read_parquet(cleaned_sample.clean_dir / "orders.parquet")
    in_window = orders[orders["order_date"] < AS_OF + pd.Timedelta(days=1)]
    customers = set()
    for customer in in_window["customer_id"]:
        if isinstance(customer, str):
            customers.add(customer)
    assert recorded["03_rfm_segmentation"]["customers"] == len(customers)
    revenue = 0.0
    for amount in in_window["amount"]:
        revenue += 0.0 if pd.isna(amount) else float(amount)
    assert recorded["06_sales_performance"]["total_revenue"] == pytest.approx(revenue, abs=0.01)
    assert recorded["04_customer_clustering"]["customers"] == len(customers)


def test_overridden_parameters_agree_across_engines(cleaned_sample, tmp_path):
    params = {
        "clean_dir": str(cleaned_sample.clean_dir),
        "scheme": "classic",
        "bins": 3,
        "frequency": "orders",
        "freq": "QS",
        "breakdown": "industry_l1",
        "window_days": 30,
        "lang": "zh",
    }
    got = {}
    for engine in ("pandas", "duckdb"):
        metrics = run_report(
            tmp_path / engine, notebooks=["03", "05", "06"], parameters={**params, "engine": engine}
        )
        got[engine] = metrics.read_bytes()
    assert got["duckdb"] == got["pandas"]
    recorded = json.loads(got["duckdb"])
    assert recorded["03_rfm_segmentation"]["scheme"] == "classic"
    assert recorded["03_rfm_segmentation"]["bins"] == 3
    assert recorded["05_sales_funnel"]["breakdown"] == "industry_l1"
    assert recorded["06_sales_performance"]["freq"] == "QS"
    for engine in got:
        for name in ("03_rfm_segmentation", "05_sales_funnel", "06_sales_performance"):
            assert "Glyph" not in stderr_of(tmp_path / engine / f"{name}.ipynb")


# ---------------------------------------------------------------------------------------------
# load_tables(engine=...)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def clean_folder(tmp_path):
    """A tiny clean folder: orders with a refund and nanosecond dates, stages, customers."""
    orders = pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3", "O3"],
            "customer_id": ["C1", "C2", "C1", "C1"],
            "order_date": pd.to_datetime(
                ["2024-01-05", "2024-02-10", "2024-03-01", "2024-03-01"]
            ).astype("datetime64[ns]"),
            "amount": [100.0, 50.0, 80.0, -30.0],
            "owner": ["张伟", "李娜", "张伟", "张伟"],
        }
    )
    stages = pd.DataFrame(
        {
            "opportunity_id": ["P1", "P1", "P2"],
            "customer_id": ["C1", "C1", "C2"],
            "stage": ["初次接洽", "需求确认", "初次接洽"],
            "entered_at": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-01"]),
        }
    )
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "grade": ["重点", "普通"]})
    for name, frame in {"orders": orders, "stages": stages, "customers": customers}.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return tmp_path


def test_load_tables_gives_each_engine_its_frame(clean_folder):
    for engine, kind in [
        ("pandas", pd.DataFrame),
        ("duckdb", duckdb.DuckDBPyRelation),
        ("polars", pl.LazyFrame),
    ]:
        tables = load_tables(
            clean_folder,
            required=["orders", "customers"],
            optional=["stages", "targets"],
            engine=engine,
        )
        assert list(tables) == ["orders", "customers", "stages", "targets"]
        assert isinstance(tables["orders"], kind), engine
        assert isinstance(tables["stages"], kind), engine
        assert isinstance(tables["customers"], pd.DataFrame), engine  # per-customer: pandas
        assert tables["targets"] is None


def test_engine_tables_choose_what_goes_to_the_engine(clean_folder):
    tables = load_tables(
        clean_folder, required=["orders", "stages"], engine="duckdb", engine_tables=["orders"]
    )
    assert isinstance(tables["orders"], duckdb.DuckDBPyRelation)
    assert isinstance(tables["stages"], pd.DataFrame)


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_engine_tables_hold_the_same_rows_and_dtypes(clean_folder, engine):
    expected = pd.read_parquet(clean_folder / "orders.parquet")
    frame = load_tables(clean_folder, required=["orders"], engine=engine)["orders"]
    got = to_pandas(frame, sort_by=["order_id", "amount"])
    expected = expected.sort_values(["order_id", "amount"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_the_aggregation_receives_the_engine_frame_and_agrees(clean_folder):
    pandas_orders = load_tables(clean_folder, required=["orders"])["orders"]
    duck_orders = load_tables(clean_folder, required=["orders"], engine="duckdb")["orders"]
    result = rfm_summary(duck_orders, as_of="2024-03-31")
    assert isinstance(result, duckdb.DuckDBPyRelation)  # in DuckDB, out DuckDB
    got = to_pandas(result, sort_by="customer_id")
    expected = rfm_summary(pandas_orders, as_of="2024-03-31")
    # by hand: C1 bought on 01-05 (100) and 03-01 (80 - 30 = 50), C2 on 02-10 (50)
    assert got["frequency"].tolist() == [2, 1]
    assert got["monetary"].tolist() == [150.0, 50.0]
    assert got["recency"].tolist() == [30, 50]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_bad_engine_names_the_parameter_and_the_choices(clean_folder):
    for bad in ["sqlite", "DuckDB", None, 1]:
        with pytest.raises(ValueError) as err:
            load_tables(clean_folder, required=["orders"], engine=bad)
        message = str(err.value)
        assert message.startswith("engine must be one of")
        assert str(list(ENGINES)) in message and repr(bad) in message
    with pytest.raises(ValueError, match="engine_tables must be a list"):
        load_tables(clean_folder, required=["orders"], engine="duckdb", engine_tables="orders")


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "polars"])
def test_missing_table_still_skips_the_notebook(clean_folder, engine):
    with pytest.raises(NotebookSkipped, match=r"targets\.parquet"):
        load_tables(clean_folder, required=["orders", "targets"], engine=engine)


@pytest.mark.parametrize(
    ("engine", "module", "extra"),
    [("duckdb", "duckdb", "scale"), ("polars", "polars", "scale"), ("spark", "pyspark", "spark")],
)
def test_missing_engine_package_names_the_extra(clean_folder, monkeypatch, engine, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(ImportError, match=rf"pip install 'analysis_kit\[{extra}\]'"):
        load_tables(clean_folder, required=["orders"], engine=engine)
    # the pandas engine and tables the engine does not take never need the package
    assert isinstance(load_tables(clean_folder, required=["orders"])["orders"], pd.DataFrame)
    tables = load_tables(clean_folder, required=["customers"], engine=engine)
    assert isinstance(tables["customers"], pd.DataFrame)


def test_load_tables_does_not_touch_the_files(clean_folder):
    before = {p.name: p.read_bytes() for p in clean_folder.iterdir()}
    for engine in ("pandas", "duckdb", "polars"):
        tables = load_tables(clean_folder, required=["orders", "stages"], engine=engine)
        to_pandas(rfm_summary(tables["orders"], as_of="2024-03-31"))
    assert {p.name: p.read_bytes() for p in clean_folder.iterdir()} == before


# ---------------------------------------------------------------------------------------------
# to_pandas
# ---------------------------------------------------------------------------------------------


def test_to_pandas_copies_a_pandas_frame_and_leaves_it_alone():
    frame = pd.DataFrame({"customer_id": ["b", "a", "c"], "value": [2, 1, 3]}, index=[7, 8, 9])
    before = frame.copy()
    same = to_pandas(frame)
    assert same is not frame
    pd.testing.assert_frame_equal(same, before)  # index kept without sort_by
    ordered = to_pandas(frame, sort_by="customer_id")
    assert ordered["customer_id"].tolist() == ["a", "b", "c"]
    assert ordered.index.equals(pd.RangeIndex(3))
    pd.testing.assert_frame_equal(frame, before)


def test_to_pandas_gives_the_dtypes_pandas_uses():
    source = pl.DataFrame(
        {
            "text": ["x", None, "z"],
            "whole": [1, 2, 3],
            "whole_missing": [1, None, 3],
            "flag": [True, False, True],
            "flag_missing": [True, None, False],
            "real": [0.5, None, 1.5],
            "when": [pd.Timestamp("2024-01-01"), None, pd.Timestamp("2024-01-03")],
        }
    )
    for frame in (source, source.lazy(), duckdb.from_arrow(source.to_arrow())):
        got = to_pandas(frame)
        assert list(got.columns) == list(source.columns)
        assert got.index.equals(pd.RangeIndex(3))
        assert got["text"].dtype == pd.Series(["x"]).dtype  # pandas' default text dtype
        assert got["text"].isna().tolist() == [False, True, False]
        assert got["whole"].dtype == np.int64
        assert got["whole_missing"].dtype == np.float64
        assert got["whole_missing"].isna().tolist() == [False, True, False]
        assert got["flag"].dtype == bool
        assert got["flag_missing"].tolist() == [True, None, False]
        assert got["real"].dtype == np.float64
        assert got["when"].dtype.kind == "M" and got["when"].dt.tz is None
        assert got["when"].iloc[2] == pd.Timestamp("2024-01-03")


def test_to_pandas_turns_duckdb_integer_sums_into_integers():
    rel = duckdb.sql("SELECT sum(x) AS total, count(*) AS n FROM range(5) t(x)")
    got = to_pandas(rel)
    assert got.to_dict("records") == [{"total": 10, "n": 5}]  # 0+1+2+3+4, by hand
    assert got["total"].dtype == np.int64  # not Decimal objects (DuckDB sums to HUGEINT)


def test_to_pandas_orders_rows_the_same_on_every_engine():
    frame = pd.DataFrame({"k": ["c", None, "a", "b"], "v": [3.0, 0.0, 1.0, 2.0]})
    expected = to_pandas(frame, sort_by="k")
    assert expected["k"].tolist()[:3] == ["a", "b", "c"] and pd.isna(expected["k"].iloc[3])
    for other in (pl.from_pandas(frame).lazy(), duckdb.from_df(frame)):
        pd.testing.assert_frame_equal(to_pandas(other, sort_by=["k"]), expected)


def test_to_pandas_rejects_what_it_cannot_collect():
    with pytest.raises(TypeError, match="got list"):
        to_pandas([1, 2])
    with pytest.raises(SchemaError, match=r"\['nope'\]"):
        to_pandas(pl.DataFrame({"a": [1]}), sort_by="nope")
