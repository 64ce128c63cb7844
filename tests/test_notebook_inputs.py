"""Notebooks 02-07 on inputs that lack what the templates call optional.

Each input is the generated sample with columns (or whole tables) taken away, written in the
templates' form, cleaned by notebook 01 once, then given to the notebooks under test. A notebook
either finishes and records what it used and what it skipped, or, when a column it cannot work
without is absent, stops with the kit's ``NotebookSkipped`` note. The figures are checked
against plain pandas on the raw input.

Notebook runs: 6 inputs cleaned by notebook 01, and 21 notebook runs on them (27 in all).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from notebook_checks import stdout_of

from analysis_kit.columns import TABLES
from analysis_kit.datasets import make_tables, write_sample
from analysis_kit.funnel import FUNNEL_PRESETS
from analysis_kit.reports import available_notebooks, run_report

pytestmark = pytest.mark.notebook

AS_OF = pd.Timestamp("2024-06-30")
STEMS = {key: path.stem for key, path in available_notebooks().items()}
BUYER = ["customer_id", "customer_name"]
#: Columns kept besides the required ones when every optional column is dropped: one column of
#: each "at least one of" group, which a table cannot be read without.
BARE = {"customers": ["customer_id"], "followups": ["customer_id"], "targets": ["owner"]}
#: The same, keeping the buyer's name (the other column of the group) instead of the id.
BARE_NAMED = {
    "customers": ["customer_name"],
    "followups": ["customer_name"],
    "targets": ["team"],
    "orders": ["customer_name"],
}


@dataclass(frozen=True)
class Input:
    """Raw tables as written to the data folder, and the clean folder notebook 01 made of them."""

    tables: dict[str, pd.DataFrame]
    clean_dir: Path

    def run(self, notebook: str, out: Path, **parameters) -> tuple[dict, Path]:
        """Run one notebook on the clean tables; return its metrics and the executed notebook."""
        params = {"clean_dir": str(self.clean_dir), "as_of": "2024-06-30", "lang": "en"}
        metrics = run_report(out, notebooks=[notebook], parameters={**params, **parameters})
        recorded = json.loads(metrics.read_text(encoding="utf-8"))[STEMS[notebook]]
        return recorded, out / f"{STEMS[notebook]}.ipynb"


def _clean(tables: dict[str, pd.DataFrame], tmp_path_factory, name: str) -> Input:
    """Write ``tables`` as a team sends them and clean them with notebook 01."""
    data_dir = tmp_path_factory.mktemp(f"{name}_data")
    write_sample(tables, data_dir)
    out = tmp_path_factory.mktemp(f"{name}_clean")
    run_report(
        out,
        notebooks=["01"],
        parameters={"data_dir": str(data_dir), "as_of": "2024-06-30", "lang": "en"},
    )
    return Input(tables=tables, clean_dir=out / "clean")


def _bare(tables: dict[str, pd.DataFrame], keep: dict[str, list[str]]) -> dict:
    """Every table reduced to its required columns and the ``keep`` ones."""
    return {
        name: frame[
            [c for c in frame.columns if c in TABLES[name].required or c in keep.get(name, [])]
        ]
        for name, frame in tables.items()
    }


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="ISO8601")


def _lines(orders: pd.DataFrame) -> pd.DataFrame:
    """Raw order lines up to the as-of day with a numeric amount (derived when absent)."""
    frame = orders.assign(order_date=_dates(orders["order_date"]))
    frame = frame[frame["order_date"] < AS_OF + pd.Timedelta(days=1)]
    if "amount" in frame.columns:
        return frame.assign(amount=pd.to_numeric(frame["amount"]))
    quantity, price = pd.to_numeric(frame["quantity"]), pd.to_numeric(frame["unit_price"])
    return frame.assign(amount=quantity * price)


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    return make_tables(n_customers=30, random_state=5)


@pytest.fixture(scope="module")
def no_buyer(sample, tmp_path_factory) -> Input:
    """Orders without any customer column."""
    tables = {**sample, "orders": sample["orders"].drop(columns=BUYER)}
    return _clean(tables, tmp_path_factory, "no_buyer")


@pytest.fixture(scope="module")
def partial(sample, tmp_path_factory) -> Input:
    """Orders without order id and amount (quantity × unit price), every 4th line no buyer."""
    orders = sample["orders"].drop(columns=["order_id", "amount"])
    blank = orders.index % 4 == 1
    orders.loc[blank, BUYER] = None
    return _clean({**sample, "orders": orders}, tmp_path_factory, "partial")


@pytest.fixture(scope="module")
def stages_without_customer(sample, tmp_path_factory) -> Input:
    tables = {**sample, "stages": sample["stages"].drop(columns=BUYER)}
    return _clean(tables, tmp_path_factory, "stages_no_customer")


@pytest.fixture(scope="module")
def stages_alone(sample, tmp_path_factory) -> Input:
    """Only a stage history, without customer, lead source or outcome columns: a loss is a
    ``Closed Lost`` row a week after the deal's last stage, and one deal is only its loss."""
    stages = sample["stages"]
    lost = stages[stages["outcome"] == "lost"]
    last = _dates(lost["entered_at"]).groupby(lost["opportunity_id"]).max()
    loss = pd.DataFrame(
        {
            "opportunity_id": last.index,
            "stage": "Closed Lost",
            "entered_at": (last + pd.Timedelta(days=7)).clip(upper=AS_OF).dt.strftime("%Y-%m-%d"),
        }
    )
    only = pd.DataFrame(
        {"opportunity_id": ["OPX0001"], "stage": ["输单"], "entered_at": ["2024-03-01"]}
    )
    kept = stages.drop(columns=[*BUYER, "lead_source", "outcome", "lost_reason"])
    history = pd.concat([kept, loss, only], ignore_index=True)
    return _clean({"stages": history}, tmp_path_factory, "stages_alone")


@pytest.fixture(scope="module")
def bare(sample, tmp_path_factory) -> Input:
    """Every table with its required columns only (and one of each either-or group)."""
    return _clean(_bare(sample, BARE), tmp_path_factory, "bare")


@pytest.fixture(scope="module")
def bare_named(sample, tmp_path_factory) -> Input:
    """As ``bare``, but orders keep the buyer's name, and customers and follow-ups are named."""
    return _clean(_bare(sample, BARE_NAMED), tmp_path_factory, "bare_named")


def test_bare_inputs_drop_every_optional_column(sample):
    for keep in (BARE, BARE_NAMED):
        for name, frame in _bare(sample, keep).items():
            spec = TABLES[name]
            assert set(frame.columns) == set(spec.required) | set(keep.get(name, [])), name
            groups = [g for g in spec.any_of if not set(g) & set(frame.columns)]
            assert groups == [], name  # the table stays readable
    dropped = {
        name: set(sample[name].columns) - set(frame.columns)
        for name, frame in _bare(sample, BARE).items()
    }
    named = {
        name: set(sample[name].columns) - set(frame.columns)
        for name, frame in _bare(sample, BARE_NAMED).items()
    }
    for name, spec in TABLES.items():  # each optional column is absent in one of the two
        optional = set(spec.names) - set(spec.required)
        assert optional <= dropped[name] | named[name], name


# ---------------------------------------------------------------------------------------------
# Orders without any buyer column
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", ["03", "04", "07"])
def test_customer_notebooks_skip_orders_without_buyer(no_buyer, notebook, tmp_path):
    recorded, _ = no_buyer.run(notebook, tmp_path)
    assert set(recorded) == {"skipped"}
    assert "customer_id (客户编号) 或/or customer_name (客户名称)" in recorded["skipped"]
    html = (tmp_path / f"{STEMS[notebook]}.html").read_text(encoding="utf-8")
    assert "跳过 Skipped." in html


def test_profile_uses_no_orders_without_buyer(no_buyer, tmp_path):
    recorded, executed = no_buyer.run("02", tmp_path)
    assert recorded["customers"] == no_buyer.tables["customers"]["customer_id"].nunique()
    assert recorded["high_value"] == 0  # the purchase rules have no orders to read
    assert "purchase_tags" in recorded["sections_skipped"]
    assert "name no buyer" in stdout_of(executed)


def test_sales_runs_on_orders_without_buyer(no_buyer, tmp_path):
    recorded, _ = no_buyer.run("06", tmp_path)
    lines = _lines(no_buyer.tables["orders"])
    assert recorded["total_revenue"] == pytest.approx(lines["amount"].sum(), abs=0.01)
    assert recorded["orders_counted_by"] == "order_id"
    net = lines.groupby([lines["order_date"].dt.to_period("M"), "order_id"])["amount"].sum()
    assert recorded["orders"] == int((net > 0).sum())
    assert recorded["sections_skipped"] == {}


# ---------------------------------------------------------------------------------------------
# Orders without order id, amount derived, some lines without buyer
# ---------------------------------------------------------------------------------------------


def _left_out(partial: Input) -> tuple[pd.DataFrame, dict]:
    lines = _lines(partial.tables["orders"])
    unnamed = lines["customer_id"].isna()
    expected = {
        "lines_without_customer": int(unnamed.sum()),
        "amount_without_customer": pytest.approx(lines.loc[unnamed, "amount"].sum(), abs=0.01),
    }
    return lines[~unnamed], expected


@pytest.mark.parametrize("notebook", ["03", "04", "07"])
def test_customer_notebooks_leave_out_lines_without_buyer(partial, notebook, tmp_path):
    named, expected = _left_out(partial)
    assert expected["lines_without_customer"] > 0
    recorded, executed = partial.run(notebook, tmp_path)
    assert {k: recorded[k] for k in expected} == expected
    assert "order lines naming no buyer are left out" in stdout_of(executed).lower()
    if notebook in ("03", "04"):  # every named buyer, and only they
        assert recorded["customers"] == named["customer_id"].nunique()


def test_sales_counts_orders_by_customer_and_day_without_order_id(partial, tmp_path):
    recorded, executed = partial.run("06", tmp_path)
    lines = _lines(partial.tables["orders"])
    assert recorded["total_revenue"] == pytest.approx(lines["amount"].sum(), abs=0.01)
    assert recorded["orders_counted_by"] == "customer_day"
    keys = [lines["customer_id"].fillna(""), lines["order_date"].dt.normalize()]
    net = lines.groupby(keys)["amount"].sum()
    assert recorded["orders"] == int((net >= 0.005).sum())
    assert "one customer's lines on one day" in stdout_of(executed)


# ---------------------------------------------------------------------------------------------
# Stage histories: without customer, and alone
# ---------------------------------------------------------------------------------------------


def _furthest(stages: pd.DataFrame) -> dict[str, int]:
    """Each opportunity's furthest template stage (0 = ①初次接洽), by a plain loop."""
    steps = list(FUNNEL_PRESETS["template"])
    furthest: dict[str, int] = {}
    for opp, stage in zip(stages["opportunity_id"], stages["stage"], strict=True):
        label = str(stage).lstrip("①②③④⑤⑥")
        if label in steps:
            furthest[opp] = max(furthest.get(opp, -1), steps.index(label))
    return furthest


def test_funnel_on_stages_without_customer(stages_without_customer, tmp_path):
    recorded, executed = stages_without_customer.run("05", tmp_path, breakdown="industry_l1")
    furthest = _furthest(stages_without_customer.tables["stages"])
    assert [recorded["reached"][s] for s in recorded["steps"]] == [
        sum(f >= k for f in furthest.values()) for k in range(6)
    ]
    assert recorded["opportunities"] == len(furthest)
    # industry comes from the customers table, which these stage rows cannot be joined to
    assert recorded["breakdown"] == "lead_source"
    assert recorded["breakdown_requested"] == "industry_l1"
    assert recorded["sections_skipped"] == {}
    assert recorded["roi"]  # leads from the customers table
    assert "broken down by lead_source" in stdout_of(executed)


def test_funnel_on_a_stage_history_alone(stages_alone, tmp_path):
    recorded, executed = stages_alone.run("05", tmp_path)
    raw = stages_alone.tables["stages"]
    furthest = _furthest(raw)
    losses = set(raw.loc[raw["stage"].isin(["Closed Lost", "输单"]), "opportunity_id"])
    won = {o for o, f in furthest.items() if f >= 4}
    assert not won & losses
    assert recorded["won"] == len(won) and recorded["lost"] == len(losses)
    assert recorded["win_rate"] == pytest.approx(len(won) / (len(won) + len(losses)), abs=1e-4)
    assert recorded["opportunities"] == len(set(furthest) | losses)
    assert recorded["stage_unknown"] == 1  # OPX0001: only its loss is recorded
    assert recorded["reached"]["初次接洽"] == len(furthest)  # a loss is no step
    assert recorded["breakdown"] == "owner"  # no lead source: the owner instead
    # no loss reason column: the losses are counted above, their reasons are skipped and said so
    assert set(recorded["sections_skipped"]) == {"snapshot_funnel", "channel_roi", "loss_reasons"}
    assert recorded["roi"] == {}
    assert "outcome but no stage: 1" in stdout_of(executed)


# ---------------------------------------------------------------------------------------------
# Every optional column absent at once
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", ["02", "03", "04", "05", "06", "07"])
def test_every_notebook_without_any_optional_column(bare, notebook, tmp_path):
    recorded, _ = bare.run(notebook, tmp_path)
    if notebook in ("03", "04", "07"):  # orders that name no buyer
        assert set(recorded) == {"skipped"} and "customer_id" in recorded["skipped"]
    elif notebook == "02":
        assert recorded["customers"] == bare.tables["customers"]["customer_id"].nunique()
        assert {"purchase_tags", "associations", "competitors", "personas"} <= set(
            recorded["sections_skipped"]
        )
    elif notebook == "05":
        assert recorded["opportunities"] == len(_furthest(bare.tables["stages"]))
        assert recorded["breakdown"] is None and recorded["roi"] == {}
        assert set(recorded["sections_skipped"]) == {
            "snapshot_funnel",
            "breakdown",
            "channel_roi",
            "loss_reasons",
        }
    else:
        lines = _lines(bare.tables["orders"])
        assert recorded["total_revenue"] == pytest.approx(lines["amount"].sum(), abs=0.01)
        assert recorded["orders_counted_by"] == "day"
        assert set(recorded["sections_skipped"]) == {
            "product_mix",
            "team_performance",
            "target_decomposition",
        }


@pytest.mark.parametrize("notebook", ["02", "03", "04", "07"])
def test_customer_notebooks_with_named_buyers_only(bare_named, notebook, tmp_path):
    recorded, _ = bare_named.run(notebook, tmp_path)
    assert "skipped" not in recorded  # the notebook ran
    names = bare_named.tables["orders"]["customer_name"]
    if notebook in ("03", "04"):
        assert recorded["customers"] == names.nunique()
        assert recorded["lines_without_customer"] == 0
    elif notebook == "07":
        assert set(recorded["sections_skipped"]) == {"cross_sell"} and recorded["rules"] is None
    else:
        customers = bare_named.tables["customers"]["customer_name"]
        assert recorded["customers"] == customers.nunique()
        assert "purchase_tags" not in recorded["sections_skipped"]
