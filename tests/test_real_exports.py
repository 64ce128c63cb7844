"""Real exports the kit did not make, read as a user would, checked against plain pandas.

The CDNOW purchases ship with lifetimes (MIT; see tests/data/README.md). Every figure here is
compared with an independent computation or a published one, and every input line is accounted
for.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis_kit as ak
from analysis_kit.clv import fit_bgnbd
from analysis_kit.rfm import rfm_summary

HERE = Path(__file__).resolve().parent
# Fader, Hardie and Lee (2005), "Counting your customers the easy way", table 1.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def cdnow_lines() -> pd.DataFrame:
    return pd.read_csv(
        HERE / "data" / "cdnow_transactions.txt",
        sep=r"\s+",
        header=None,
        dtype=str,
        names=["master_id", "customer_id", "date", "cds", "value"],
    )


@pytest.fixture(scope="module")
def cdnow_clean(cdnow_lines):
    orders = ak.read_table(
        cdnow_lines,
        table="orders",
        column_map={"date": "order_date", "value": "amount", "cds": "quantity"},
    )
    return ak.clean_table(orders, as_of="1998-06-30")


def test_cdnow_keeps_every_purchase(cdnow_lines, cdnow_clean):
    audit = cdnow_clean.audit
    assert audit.balanced and audit.rows_in == len(cdnow_lines) == 6919
    assert (audit.kept, audit.dropped_duplicates, audit.quarantined) == (6919, 0, 0)
    # Lines repeating another exactly, counted independently: kept, and flagged for a look.
    repeats = int(cdnow_lines.duplicated().sum())
    assert audit.flagged == repeats == 21
    flagged = cdnow_clean.issues[cdnow_clean.issues["reason"] == "possible_double_export"]
    assert set(flagged["action"]) == {"kept"}
    # Revenue equals the plain sum of the file's values, cent for cent.
    total = cdnow_lines["value"].astype(float).sum()
    assert cdnow_clean.clean["amount"].sum() == pytest.approx(total, abs=0.005)


def test_cdnow_lifetimes_summary_equals_the_shipped_one(cdnow_clean):
    calibration = cdnow_clean.clean[cdnow_clean.clean["order_date"] <= "1997-09-30"]
    summary = rfm_summary(
        calibration, convention="lifetimes", freq="D", freq_multiplier=7, as_of="1997-09-30"
    )
    shipped = pd.read_csv(HERE / "data" / "cdnow_summary.csv")  # rows in customer order 1…2357
    assert len(summary) == len(shipped) == 2357
    np.testing.assert_array_equal(summary["frequency"], shipped["frequency"])
    np.testing.assert_allclose(summary["recency"], shipped["recency"], atol=0.005)
    np.testing.assert_allclose(summary["T"], shipped["T"], atol=0.005)


def test_cdnow_from_raw_purchases_reaches_the_published_bgnbd(cdnow_clean):
    calibration = cdnow_clean.clean[cdnow_clean.clean["order_date"] <= "1997-09-30"]
    summary = rfm_summary(
        calibration, convention="lifetimes", freq="D", freq_multiplier=7, as_of="1997-09-30"
    )
    model = fit_bgnbd(summary)
    for name, value in PUBLISHED_BGNBD.items():
        assert round(model.params_[name], 3) == pytest.approx(value, abs=1e-3), name
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert model.n_repeat_buyers_ == 946


def test_freq_multiplier_divides_recency_and_t_only():
    orders = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A"],
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15"]),
            "amount": [10.0, 20.0, 30.0],
        }
    )
    days = rfm_summary(orders, convention="lifetimes", as_of="2024-01-29")
    weeks = rfm_summary(orders, convention="lifetimes", as_of="2024-01-29", freq_multiplier=7)
    assert days[["frequency", "recency", "T"]].iloc[0].tolist() == [2.0, 14.0, 28.0]
    assert weeks[["frequency", "recency", "T", "monetary_value"]].iloc[0].tolist() == [
        2.0,
        2.0,
        4.0,
        25.0,
    ]
    with pytest.raises(ak.ParameterError, match="freq_multiplier"):
        rfm_summary(orders, convention="lifetimes", freq_multiplier=0)
