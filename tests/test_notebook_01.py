"""Notebook 01's page as a reader sees it: readable tables whose audit figures match the files."""

import html
import re

import pandas as pd
import pytest
from notebook_checks import reader_artifacts

from analysis_kit.datasets import SAMPLE_FILES
from analysis_kit.tables import TABLE_NAMES_EN

pytestmark = pytest.mark.notebook


def _audit_rows(page: str) -> dict[str, list[str]]:
    """The audit table on the page (the one whose header starts 表 / Table, Rows in): its rows."""
    for table in re.findall(r"<table.*?</table>", page, flags=re.S):
        headers = [html.unescape(h) for h in re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", table)]
        if headers[:2] in (["表", "读入行数"], ["Table", "Rows in"]):
            rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
            cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
            return {c[0]: c[1:] for c in cells if c}
    raise AssertionError("no audit table on the page")


def test_the_cleaning_page_reads_cleanly_and_its_audit_counts_every_line(cleaned_sample):
    page = (cleaned_sample.out / "01_data_cleaning.html").read_text(encoding="utf-8")
    assert reader_artifacts(page, lang="en") == dict.fromkeys(reader_artifacts(""), 0)
    audit = _audit_rows(page)
    for table, (name, encoding) in SAMPLE_FILES.items():
        path = cleaned_sample.data_dir / name
        if path.suffix == ".xlsx":
            lines = len(pd.read_excel(path, header=None)) - 1  # rows under the header line
        else:
            lines = len(pd.read_csv(path, encoding=encoding, header=None, dtype=str)) - 1
        shown = TABLE_NAMES_EN[table]  # the page names the table, not its key
        assert audit[shown][0] == f"{lines:,d}", table  # rows in, as the reader sees it


def test_quarantine_files_read_back_for_fixing(cleaned_sample):
    """A quarantine CSV is for people to fix and feed back: labelled headers the reader maps to
    the same fields, every quarantined row, no cell that a spreadsheet would run as a formula."""
    import json

    import analysis_kit as ak
    from analysis_kit.columns import TABLES

    metrics = json.loads((cleaned_sample.out / "metrics.json").read_text(encoding="utf-8"))
    counts = metrics["01_data_cleaning"]["tables"]
    files = sorted(cleaned_sample.out.glob("quarantine_*.csv"))
    assert files  # the messy sample quarantines rows
    for path in files:
        table = path.stem.removeprefix("quarantine_")
        text = path.read_text(encoding="utf-8-sig")
        header = text.splitlines()[0].split(",")
        assert "customer_name" not in header and "Customer name" in header  # labels, not names
        back = ak.read_table(path, table=table)
        assert len(back) == counts[table]["quarantined"]
        bookkeeping = {
            "Source file",
            "Source row",
            "Reason",
            "Message",
            "source_file",
            "source_row",
        }
        fields = {f.name for f in TABLES[table].fields}
        assert set(back.columns) - bookkeeping <= fields, table  # every template field maps back
        cells = pd.read_csv(path, encoding="utf-8-sig", dtype=str).stack()
        assert not cells.str.match(r"[=+@]").any()
