"""What the notebook tests read back from an executed notebook and a cleaned sample."""

from pathlib import Path

import nbformat
import pandas as pd

#: Clean tables and the columns in them that hold people's names.
PEOPLE = {
    "customers": ("contact_name", "owner"),
    "orders": ("owner",),
    "stages": ("owner",),
    "followups": ("owner",),
    "targets": ("owner",),
}


def _outputs(executed, keep) -> str:
    """The text of every output of an executed notebook for which ``keep(output)`` holds."""
    nb = nbformat.read(executed, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if keep(o))


def stderr_of(executed) -> str:
    """Everything an executed notebook wrote to stderr, and its error outputs."""
    return _outputs(
        executed, lambda o: o.get("name") == "stderr" or o.get("output_type") == "error"
    )


def stdout_of(executed) -> str:
    """Everything an executed notebook printed to stdout."""
    return _outputs(executed, lambda o: o.get("name") == "stdout")


def people_names(clean_dir: Path) -> list[str]:
    """Every contact and sales-rep name in the clean tables, one name per entry."""
    columns = []
    for table, wanted in PEOPLE.items():
        path = clean_dir / f"{table}.parquet"
        if path.exists():
            frame = pd.read_parquet(path)
            columns += [frame[c] for c in wanted if c in frame.columns]
    names = pd.concat(columns).dropna().astype(str)
    return list(names.str.split("; ").explode().str.strip().unique())
