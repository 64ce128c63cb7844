"""The engine parity of ``test_engines.py`` on PySpark in local mode.

Skipped when pyspark or Java is missing, with the reason, unless the environment variable ``CI``
is set: there a missing engine is a failure, so a broken CI image cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

import narwhals as nw
import pandas as pd
import pyarrow as pa
import pytest
from test_engines import (
    AS_OF,
    CASES,
    STEPS,
    assert_same,
    make_events,
    make_orders,
    make_stages,
    run_case,
)

from analysis_kit.funnel import event_funnel, event_funnel_units, stage_funnel
from analysis_kit.rfm import rfm_summary
from analysis_kit.sales import product_mix
from analysis_kit.tagging import apply_tags, purchase_stats

pytestmark = pytest.mark.spark


def _missing_engine() -> str | None:
    """Why Spark cannot run here, or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'analysis_kit[spark]')"
    home = os.environ.get("JAVA_HOME")
    java = shutil.which("java", path=os.path.join(home, "bin")) if home else shutil.which("java")
    if java is None:
        return "Java is not installed (PySpark needs a JDK 17 or later on PATH or JAVA_HOME)"
    probe = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"Java does not run: {probe.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="session")
def spark():
    reason = _missing_engine()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so Spark must run: {reason}")
        pytest.skip(reason)
    from analysis_kit.reports import _spark_session

    session = _spark_session("local[2]", partitions=2)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return {"orders": make_orders(), "stages": make_stages(), "events": make_events()}


@pytest.fixture(scope="module")
def expected(tables) -> dict[str, dict]:
    return {name: run_case(name, tables, lambda frame: frame) for name in CASES}


def _to_spark(spark, frame: pd.DataFrame):
    """A Spark DataFrame of ``frame``, through Arrow (nulls stay nulls, times to µs)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us"))
        elif pa.types.is_dictionary(field.type):
            column = column.cast(pa.string())
        columns.append(column)
    table = pa.Table.from_arrays(columns, names=table.column_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
        return spark.createDataFrame(table)


@pytest.mark.parametrize("case", list(CASES))
def test_spark_agrees(spark, tables, expected, case):
    got = run_case(case, tables, lambda frame: _to_spark(spark, frame))
    for part, (result, keys) in expected[case].items():
        assert_same(got[part][0], result, keys, name=f"{case}/{part}/spark")


def test_spark_in_spark_out(spark, tables):
    from pyspark.sql import DataFrame

    orders = _to_spark(spark, tables["orders"])
    events = _to_spark(spark, tables["events"])
    assert isinstance(rfm_summary(orders), DataFrame)
    assert isinstance(rfm_summary(orders, convention="lifetimes", freq="W"), DataFrame)
    assert isinstance(purchase_stats(orders, as_of=AS_OF), DataFrame)
    assert isinstance(event_funnel_units(events, STEPS), DataFrame)
    # small per-step and per-product tables come back as pandas
    assert isinstance(event_funnel(events, STEPS), pd.DataFrame)
    assert isinstance(stage_funnel(_to_spark(spark, tables["stages"])), pd.DataFrame)
    assert isinstance(product_mix(orders), pd.DataFrame)


def test_spark_apply_tags(spark, tables):
    orders = tables["orders"]
    customers = pd.DataFrame({"customer_id": sorted(orders["customer_id"].dropna().unique())})
    expected = apply_tags(customers, orders=orders, as_of=AS_OF)
    got = apply_tags(customers, orders=_to_spark(spark, orders), as_of=AS_OF)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_spark_input_rows_are_untouched(spark, tables):
    orders = _to_spark(spark, tables["orders"])
    before = nw.from_native(orders).collect().to_pandas()
    rfm_summary(orders).collect()
    after = nw.from_native(orders).collect().to_pandas()
    pd.testing.assert_frame_equal(after, before)


# ---------------------------------------------------------------------------------------------
# Notebooks with engine="spark"
# ---------------------------------------------------------------------------------------------

#: The one warning importing the kit gives where pyspark is installed (pandera imports
#: pyspark.pandas, which warns about pandas 3). Any other warning fails the notebook test.
KNOWN_WARNING = (
    "PySpark does not yet fully support pandas >= 3.0.0",
    "require_minimum_pandas_version",
)


def _unexpected(stderr: str) -> str:
    """The stderr of a notebook without the known pyspark.pandas warning and its source line."""
    return "\n".join(
        line
        for line in stderr.splitlines()
        if line.strip() and not any(k in line for k in KNOWN_WARNING)
    )


def test_unexpected_keeps_other_warnings():
    known = (
        "/x/pyspark/pandas/__init__.py:33: FutureWarning: PySpark does not yet fully support "
        "pandas >= 3.0.0. Some features may not work correctly.\n  require_minimum_pandas_version()\n"
    )
    assert _unexpected(known) == ""
    other = known + "/x/y.py:1: UserWarning: something else\n"
    assert "UserWarning" in _unexpected(other)


@pytest.mark.notebook
def test_notebooks_on_spark_give_the_pandas_metrics(cleaned_sample, tmp_path):
    import json

    from notebook_checks import stderr_of, stdout_of

    from analysis_kit.reports import run_report

    reason = _missing_engine()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so Spark must run: {reason}")
        pytest.skip(reason)
    notebooks = {"03": "03_rfm_segmentation", "05": "05_sales_funnel", "06": "06_sales_performance"}
    params = {"clean_dir": str(cleaned_sample.clean_dir), "as_of": "2024-06-30", "lang": "en"}
    got = {}
    for engine in ("pandas", "spark"):
        metrics = run_report(
            tmp_path / engine, notebooks=list(notebooks), parameters={**params, "engine": engine}
        )
        got[engine] = metrics.read_bytes()
    recorded, expected = json.loads(got["spark"]), json.loads(got["pandas"])
    for name in notebooks.values():
        assert "skipped" not in expected[name], name
        assert recorded[name] == expected[name], name
    assert got["spark"] == got["pandas"]
    for name in notebooks.values():
        executed = tmp_path / "spark" / f"{name}.ipynb"
        assert "计算引擎 engine: spark（pyspark.DataFrame）" in stdout_of(executed), name
        stderr = stderr_of(executed)
        assert "Glyph" not in stderr, name
        assert "Warning" not in _unexpected(stderr), f"{name}: {_unexpected(stderr)[:500]}"
