"""Fixtures shared by the notebook tests: one small sample, cleaned once by notebook 01."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from analysis_kit.datasets import make_tables, write_sample
from analysis_kit.reports import run_report


@dataclass(frozen=True)
class CleanedSample:
    """A small messy sample written in the templates' shape and cleaned by notebook 01."""

    data_dir: Path
    tables: dict[str, pd.DataFrame]
    out: Path

    @property
    def clean_dir(self) -> Path:
        """Folder of clean Parquet tables written by notebook 01."""
        return self.out / "clean"


@pytest.fixture(scope="session")
def cleaned_sample(tmp_path_factory) -> CleanedSample:
    """Notebook 01 run once on 60 generated customers (messy), as of 2024-06-30."""
    data_dir = tmp_path_factory.mktemp("sample_data")
    tables = make_tables(n_customers=60, messy=True, random_state=11)
    write_sample(tables, data_dir)
    out = tmp_path_factory.mktemp("cleaned")
    run_report(
        out,
        notebooks=["01"],
        parameters={"data_dir": str(data_dir), "as_of": "2024-06-30", "lang": "en"},
    )
    return CleanedSample(data_dir=data_dir, tables=tables, out=out)


def make_orders(rows):
    """Orders from (customer, day, amount) rows."""
    return pd.DataFrame(
        [
            {"order_id": f"O{i}", "customer_id": c, "order_date": pd.Timestamp(d), "amount": a}
            for i, (c, d, a) in enumerate(rows)
        ]
    )


def _deal(opportunity, outcome, *stages):
    return [
        {
            "opportunity_id": opportunity,
            "stage": stage,
            "entered_at": pd.Timestamp(day),
            "amount": 100_000.0,
            "outcome": outcome,
        }
        for stage, day in stages
    ]


@pytest.fixture
def kpi_tables():
    """Clean tables whose KPIs for June 2024 and May 2024 are known by hand."""
    # revenue: June 2024 1.2M, May 2024 1.0M, June 2023 0.6M (a refund included in June)
    orders = make_orders(
        [
            ("A", "2023-06-10", 600_000.0),
            ("A", "2024-05-03", 1_000_000.0),
            ("A", "2024-06-05", 700_000.0),
            ("B", "2024-06-30 18:30", 600_000.0),  # on the as-of day, late: in
            ("B", "2024-06-12", -100_000.0),
            ("C", "2023-01-15", 50_000.0),
            ("D", "2023-12-20", 80_000.0),
        ]
    )
    # deals closed: May 1 won, 1 lost (50%); June 3 won, 1 lost (75%); E is lost on its June row
    stages = pd.DataFrame(
        _deal("W1", "won", ("初次接洽", "2024-04-01"), ("成交", "2024-05-10"))
        + _deal("L1", "lost", ("初次接洽", "2024-04-02"), ("需求确认", "2024-05-20"))
        + _deal("W2", "won", ("初次接洽", "2024-05-01"), ("成交", "2024-06-03"))
        + _deal("W3", "won", ("初次接洽", "2024-05-02"), ("成交", "2024-06-04"))
        + _deal("W4", "won", ("初次接洽", "2024-05-03"), ("成交", "2024-06-05"))
        + _deal("E", "lost", ("初次接洽", "2024-05-04"), ("方案提交", "2024-06-20"))
    )
    # last contacts: C in January 2023; D by a follow-up in December 2023 (its "last contact"
    # column was exported in July, after both reports' days, so it is not known then)
    customers = pd.DataFrame(
        {
            "customer_id": list("ABCD"),
            "customer_name": list("ABCD"),
            "last_contact_date": pd.to_datetime(
                ["2024-06-01", "2024-06-15", "2023-01-15", "2024-07-05"]
            ),
        }
    )
    followups = pd.DataFrame(
        {"customer_id": ["D"], "followup_date": pd.to_datetime(["2023-12-20"])}
    )
    targets = pd.DataFrame(
        {
            "owner": ["x", "x"],
            "period": ["2024-05", "2024Q2"],
            "period_start": pd.to_datetime(["2024-05-01", "2024-04-01"]),
            "period_freq": ["M", "Q"],
            # May: 1.0M + a third of Q2's 0.9M (by days: 31/91) ; June: 30/91 of 0.9M
            "target": [1_000_000.0, 910_000.0],
        }
    )
    return {
        "orders": orders,
        "stages": stages,
        "customers": customers,
        "followups": followups,
        "targets": targets,
    }
