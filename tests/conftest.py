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
