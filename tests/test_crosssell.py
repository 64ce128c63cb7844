"""Tests for analysis_kit.crosssell: hand counts, a brute-force cross-check, suggestions."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis_kit.crosssell import RULE_COLUMNS, association_rules, cross_sell
from analysis_kit.errors import SchemaError


@pytest.fixture
def orders() -> pd.DataFrame:
    """Five customers, N = 5 baskets.

    a: X, Y, Z   b: X, Y   c: X   d: Y, Z   e: W, and V bought then fully refunded.
    Counts: X 3, Y 3, Z 2, W 1; X&Y 2, X&Z 1, Y&Z 2.
    """
    rows = [
        ("a", "o1", "X", 100.0),
        ("a", "o2", "Y", 300.0),
        ("a", "o3", "Z", 50.0),
        ("b", "o4", "X", 120.0),
        ("b", "o5", "Y", 200.0),
        ("c", "o6", "X", 80.0),
        ("d", "o7", "Y", 400.0),
        ("d", "o8", "Z", 70.0),
        ("e", "o9", "W", 10.0),
        ("e", "o10", "V", 90.0),
        ("e", "o10", "V", -90.0),
        (None, "o11", "X", 5.0),
        ("f", "o12", None, 5.0),
    ]
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "product", "amount"])


def _rule(rules, a, b):
    hit = rules[(rules["antecedent"] == a) & (rules["consequent"] == b)]
    assert len(hit) == 1, (a, b)
    return hit.iloc[0]


def test_rules_by_hand(orders):
    before = orders.copy()
    rules = association_rules(orders, min_support=0.4, min_confidence=0.0)
    pd.testing.assert_frame_equal(orders, before)
    assert list(rules.columns) == list(RULE_COLUMNS)
    # Pairs with at least 2 of 5 baskets: X&Y and Y&Z, both directions.
    assert sorted(zip(rules["antecedent"], rules["consequent"], strict=True)) == [
        ("X", "Y"),
        ("Y", "X"),
        ("Y", "Z"),
        ("Z", "Y"),
    ]
    xy = _rule(rules, "X", "Y")
    assert xy["baskets"] == 2 and xy["support"] == pytest.approx(0.4)
    assert xy["confidence"] == pytest.approx(2 / 3)
    assert xy["lift"] == pytest.approx((2 / 3) / (3 / 5))
    assert xy["leverage"] == pytest.approx(0.4 - 0.6 * 0.6)
    assert xy["conviction"] == pytest.approx((1 - 0.6) / (1 - 2 / 3))
    zy = _rule(rules, "Z", "Y")
    assert zy["confidence"] == 1.0 and zy["lift"] == pytest.approx(5 / 3)
    assert zy["conviction"] == np.inf
    assert _rule(rules, "Y", "Z")["leverage"] == pytest.approx(0.4 - 0.6 * 0.4)
    # Sorted by lift, then confidence: Z->Y (5/3, 1), Y->Z (5/3, 2/3), then the X-Y pair.
    assert rules[["antecedent", "consequent"]].iloc[0].tolist() == ["Z", "Y"]
    assert rules[["antecedent", "consequent"]].iloc[1].tolist() == ["Y", "Z"]


def test_min_confidence_and_refunds(orders):
    rules = association_rules(orders, min_support=0.4, min_confidence=0.7)
    assert list(zip(rules["antecedent"], rules["consequent"], strict=True)) == [("Z", "Y")]
    # V was fully refunded: with amounts it is not bought; counting lines, e holds V and W.
    low = association_rules(orders, min_support=0.2, min_confidence=0.0)
    assert "V" not in set(low["antecedent"]) | set(low["consequent"])
    lines = association_rules(orders, min_support=0.2, min_confidence=0.0, amount_col=None)
    vw = _rule(lines, "V", "W")
    assert vw["baskets"] == 1 and vw["support"] == pytest.approx(1 / 5)  # f has no product


def test_a_product_refunded_to_float_noise_is_not_bought(orders):
    # e buys V for 1.10 + 2.20 and returns 3.30: a float sum of +4.4e-16, fully refunded.
    assert 1.10 + 2.20 - 3.30 > 0
    noise = [("e", "o10", "V", 1.10), ("e", "o10", "V", 2.20), ("e", "o10", "V", -3.30)]
    frame = pd.concat(
        [orders[orders["product"] != "V"], pd.DataFrame(noise, columns=orders.columns)],
        ignore_index=True,
    )
    low = association_rules(frame, min_support=0.2, min_confidence=0.0)
    assert "V" not in set(low["antecedent"]) | set(low["consequent"])


def test_order_baskets(orders):
    multi = pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o2", "o2", "o3"],
            "customer_id": ["a", "a", "a", "a", "b"],
            "product": ["X", "Y", "X", "Z", "X"],
        }
    )
    by_order = association_rules(multi, min_support=0.3, basket="order", amount_col=None)
    assert _rule(by_order, "Y", "X")["support"] == pytest.approx(1 / 3)
    assert _rule(by_order, "X", "Y")["confidence"] == pytest.approx(1 / 3)
    by_customer = association_rules(multi, min_support=0.3, amount_col=None)
    assert _rule(by_customer, "Y", "Z")["support"] == pytest.approx(1 / 2)


def _brute_force(baskets: dict[str, set[str]], min_support: float, min_confidence: float):
    n = len(baskets)
    products = sorted(set().union(*baskets.values()))
    count = {p: sum(p in items for items in baskets.values()) for p in products}
    out = {}
    for a, b in itertools.permutations(products, 2):
        both = sum(a in items and b in items for items in baskets.values())
        support, confidence = both / n, both / count[a] if count[a] else 0.0
        if both and support >= min_support and confidence >= min_confidence:
            p_b = count[b] / n
            out[(a, b)] = (
                both,
                support,
                confidence,
                confidence / p_b,
                support - count[a] / n * p_b,
            )
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rules_match_a_brute_force_loop(seed):
    rng = np.random.default_rng(seed)
    products = [f"P{i}" for i in range(8)]
    weights = rng.dirichlet(np.ones(8))
    rows = []
    for c in range(150):
        for p in rng.choice(products, size=rng.integers(1, 6), p=weights):
            rows.append((f"c{c}", p, float(rng.integers(1, 100))))
    orders = pd.DataFrame(rows, columns=["customer_id", "product", "amount"])
    baskets = orders.groupby("customer_id")["product"].agg(set).to_dict()
    expected = _brute_force(baskets, 0.05, 0.25)
    got = association_rules(orders, min_support=0.05, min_confidence=0.25)
    assert len(got) == len(expected) > 5
    for row in got.itertuples(index=False):
        both, support, confidence, lift, leverage = expected[(row.antecedent, row.consequent)]
        assert row.baskets == both
        assert row.support == pytest.approx(support)
        assert row.confidence == pytest.approx(confidence)
        assert row.lift == pytest.approx(lift)
        assert row.leverage == pytest.approx(leverage)


def test_rules_edge_cases(orders):
    empty = association_rules(orders.iloc[:0], min_support=0.1)
    assert list(empty.columns) == list(RULE_COLUMNS) and len(empty) == 0
    assert len(association_rules(orders, min_support=1.0)) == 0
    with pytest.raises(ValueError, match=r"min_support must be a number in \(0, 1\]; got 0"):
        association_rules(orders, min_support=0)
    with pytest.raises(ValueError, match=r"min_confidence must be a number in \[0, 1\]; got 1.5"):
        association_rules(orders, min_confidence=1.5)
    with pytest.raises(ValueError, match=r"basket must be one of \['customer', 'order'\]"):
        association_rules(orders, basket="day")
    with pytest.raises(SchemaError, match="product"):
        association_rules(orders.drop(columns="product"))


# ---------------------------------------------------------------------------------------------
# cross_sell
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def rules(orders):
    return association_rules(orders, min_support=0.2, min_confidence=0.3)


def test_cross_sell_never_offers_what_was_bought(orders, rules):
    got = cross_sell(orders, rules, value="none", top_n=5, min_lift=0)
    owned = orders.dropna().groupby("customer_id")["product"].agg(set)
    for row in got.itertuples(index=False):
        assert row.offer not in owned[row.customer_id]
        assert row.bought in owned[row.customer_id]
    # a owns X, Y, Z: nothing to offer.  c owns X: Y (X->Y) and Z (X->Z).
    assert "a" not in set(got["customer_id"])
    c = got[got["customer_id"] == "c"]
    assert c["offer"].tolist() == ["Y", "Z"]  # lift 10/9 vs 5/6
    assert c["rank"].tolist() == [1, 2]
    # By default only rules with lift > 1 count: X->Z (5/6) is a negative association.
    default = cross_sell(orders, rules, value="none", top_n=5)
    assert default.loc[default["customer_id"] == "c", "offer"].tolist() == ["Y"]
    assert (default["lift"] > 1).all()
    assert cross_sell(orders, rules, value="none", min_lift=2.0).empty


def test_cross_sell_keeps_the_strongest_rule_per_offer(orders, rules):
    # d owns Y and Z; both Y->X (lift 10/9) and Z->X (lift 5/6) lead to X: Y->X is kept.
    got = cross_sell(orders, rules, value="none", min_lift=0)
    d = got[got["customer_id"] == "d"]
    assert d[["bought", "offer"]].values.tolist() == [["Y", "X"]]
    assert d["lift"].iloc[0] == pytest.approx(10 / 9)


def test_cross_sell_value_modes(orders, rules):
    # Product value: average amount of the offer's purchase lines. Y: (300+200+400)/3 = 300,
    # Z: (50+70)/2 = 60; for c, Y scores 300 * 10/9, Z 60 * 5/6.
    got = cross_sell(orders, rules, min_lift=0)
    c = got[got["customer_id"] == "c"].set_index("offer")
    assert c.loc["Y", "expected_value"] == pytest.approx(300)
    assert c.loc["Z", "score"] == pytest.approx(60 * 5 / 6)
    # Customer value: the same for each offer of a customer, orders customers.
    by_customer = cross_sell(orders, rules, value={"b": 1000.0, "c": 10.0})
    assert by_customer.loc[by_customer["customer_id"] == "b", "expected_value"].eq(1000).all()
    assert by_customer.loc[by_customer["customer_id"] == "d", "expected_value"].isna().all()
    series = cross_sell(orders, rules, value=pd.Series({"b": 1000.0, "c": 10.0}))
    pd.testing.assert_frame_equal(series, by_customer)
    top1 = cross_sell(orders, rules, value="none", top_n=1)
    assert top1.groupby("customer_id").size().max() == 1


def test_cross_sell_errors_and_input_untouched(orders, rules):
    before, rules_before = orders.copy(), rules.copy()
    cross_sell(orders, rules)
    pd.testing.assert_frame_equal(orders, before)
    pd.testing.assert_frame_equal(rules, rules_before)
    with pytest.raises(ValueError, match="top_n must be an integer >= 1; got 0"):
        cross_sell(orders, rules, top_n=0)
    with pytest.raises(ValueError, match="min_lift must be a number >= 0; got -1"):
        cross_sell(orders, rules, min_lift=-1)
    with pytest.raises(ValueError, match="value must be 'product', 'none'"):
        cross_sell(orders, rules, value="clv")
    with pytest.raises(SchemaError, match="lift"):
        cross_sell(orders, rules.drop(columns="lift"))
    with pytest.raises(SchemaError, match="amount"):
        cross_sell(orders.drop(columns="amount"), rules, value="product")
    # Without amounts the default ranks by lift alone.
    plain = cross_sell(orders.drop(columns="amount"), rules)
    assert (plain["expected_value"] == 1).all()
