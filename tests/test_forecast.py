"""Tests for analysis_kit.forecast: checked against plain pandas on generated books."""

import numpy as np
import pandas as pd
import pytest

from analysis_kit.cleaning import clean_table
from analysis_kit.datasets import make_tables
from analysis_kit.forecast import learned_probabilities, period_forecast
from analysis_kit.funnel import DEFAULT_STAGES

AS_OF = pd.Timestamp("2024-06-30")


@pytest.fixture(scope="module")
def book():
    tables = make_tables(n_customers=150, random_state=12)
    clean = {
        t: clean_table(tables[t], table=t, as_of=AS_OF).clean
        for t in ("stages", "orders", "targets")
    }
    return clean["stages"], clean["orders"], clean["targets"]


def _plain_deals(stages: pd.DataFrame) -> pd.DataFrame:
    rows = stages[stages["entered_at"] < AS_OF + pd.Timedelta(days=1)].dropna(subset=["stage"])
    rows = rows.sort_values(["opportunity_id", "entered_at"], kind="stable")
    order = {s: i for i, s in enumerate(DEFAULT_STAGES, start=1)}
    return rows.groupby("opportunity_id").agg(
        furthest=("stage", lambda s: max(order[v] for v in s)),
        stage=("stage", lambda s: max(s, key=lambda v: order[v])),
        outcome=("outcome", "last"),
        amount=("amount", lambda s: s.dropna().iloc[-1] if s.notna().any() else 0.0),
        owner=("owner", "first"),
    )


def test_learned_probabilities_are_win_shares_of_closed_deals(book):
    stages, _, _ = book
    table = learned_probabilities(stages, as_of=AS_OF, rules={"min_closed": 10}).set_index("step")
    deals = _plain_deals(stages)
    closed = deals[deals["outcome"].isin(["won", "lost"])]
    for index, step in enumerate(DEFAULT_STAGES, start=1):
        reached = closed[closed["furthest"] >= index]
        if len(reached) >= 10:
            expected = (reached["outcome"] == "won").mean()
            assert table.loc[step, "probability"] == pytest.approx(expected), step
            assert table.loc[step, "source"] == "history"
        else:
            assert table.loc[step, "source"] == "default"
    strict = learned_probabilities(stages, as_of=AS_OF, rules={"min_closed": 10**6})
    assert (strict["source"] == "default").all()  # too few: the defaults, said so


def test_the_period_forecast_adds_up_like_plain_pandas(book):
    stages, orders, targets = book
    chance = {s: p for s, p in zip(DEFAULT_STAGES, [0.1, 0.2, 0.4, 0.6, 1.0, 1.0], strict=True)}
    got = period_forecast(
        stages, period="2024Q2", as_of=AS_OF, orders=orders, targets=targets, probabilities=chance
    ).iloc[0]
    deals = _plain_deals(stages)
    open_deals = deals[deals["outcome"] == "open"]
    in_q2 = orders[(orders["order_date"] >= "2024-04-01") & (orders["order_date"] < "2024-07-01")]
    closed = in_q2["amount"].sum()
    pipeline = open_deals["amount"].sum()
    weighted = (open_deals["amount"] * open_deals["stage"].map(chance)).sum()
    target = targets.loc[targets["period"] == "2024Q2", "target"].sum()
    assert got["closed"] == pytest.approx(closed)
    assert got["open_deals"] == len(open_deals)
    assert got["pipeline"] == pytest.approx(pipeline)
    assert got["commit"] == pytest.approx(
        open_deals.loc[open_deals["furthest"] >= 4, "amount"].sum()
    )
    assert got["weighted"] == pytest.approx(weighted)
    assert got["forecast"] == pytest.approx(closed + weighted)
    assert got["target"] == pytest.approx(target)
    assert got["coverage"] == pytest.approx(pipeline / max(target - closed, 0))


def test_every_rep_with_a_deal_a_sale_or_a_target_has_a_row(book):
    stages, orders, targets = book
    table = period_forecast(
        stages, period="2024Q2", as_of=AS_OF, orders=orders, targets=targets, by="owner"
    )
    company = period_forecast(stages, period="2024Q2", as_of=AS_OF, orders=orders, targets=targets)
    for column in ("closed", "pipeline", "weighted", "target"):
        assert table[column].sum() == pytest.approx(company[column].iloc[0]), column
    q2 = targets[targets["period"] == "2024Q2"]
    assert set(q2["owner"]) <= set(table["owner"])
    teams = period_forecast(
        stages, period="2024Q2", as_of=AS_OF, orders=orders, targets=targets, by="team"
    )
    assert teams["target"].sum() == pytest.approx(q2["target"].sum())


def test_a_forecast_made_before_the_period_knows_nothing_of_it(book):
    stages, orders, targets = book
    early = period_forecast(
        stages, period="2024Q2", as_of="2024-03-31", orders=orders, targets=targets
    ).iloc[0]
    assert early["closed"] == 0.0  # nothing of Q2 had closed on 31 March
    assert np.isfinite(early["forecast"]) and early["forecast"] == pytest.approx(early["weighted"])
    with pytest.raises(ValueError, match="period"):
        period_forecast(stages, period="next quarter", as_of=AS_OF)
    with pytest.raises(ValueError, match="unknown forecast rules"):
        period_forecast(stages, period="2024Q2", as_of=AS_OF, rules={"commit": "成交"})
