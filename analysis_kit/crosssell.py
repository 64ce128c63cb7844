"""Cross-sell: association rules between products, and "bought A, offer B" suggestions.

:func:`association_rules` counts, over baskets (a customer's whole history by default, or one
order), how often products are bought together, and turns the counts into rules ``A → B`` with
one product on each side:

- **support** ``= P(A and B)``: the share of baskets holding both;
- **confidence** ``= P(B | A)``: of the baskets with A, the share that also hold B;
- **lift** ``= confidence / P(B)``: how much more likely B is with A than in general (1 =
  independent, above 1 = bought together more than chance);
- **leverage** ``= P(A and B) - P(A) P(B)`` and **conviction** ``= (1 - P(B)) / (1 - confidence)``
  (infinite when confidence is 1).

Rules with several products on one side (``{A, C} → B``) are not mined: with the few products of
a B2B catalogue and tens to thousands of customers, pairs carry the evidence and stay readable.
Counting runs on a sparse basket × product matrix (``Xᵀ X`` gives every pair count at once).

:func:`cross_sell` turns the rules into per-customer suggestions: for each product a customer
bought, the consequents they have not bought yet, ranked by ``lift × expected value``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from ._validate import is_positive_money
from .columns import AMOUNT, CUSTOMER_ID, ORDER_ID, require_columns

__all__ = ["RULE_COLUMNS", "association_rules", "cross_sell"]

PRODUCT = "product"

#: The columns of :func:`association_rules`, in order.
RULE_COLUMNS: tuple[str, ...] = (
    "antecedent",
    "consequent",
    "baskets",
    "antecedent_support",
    "consequent_support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
)


def association_rules(
    orders: pd.DataFrame,
    *,
    min_support: float = 0.05,
    min_confidence: float = 0.2,
    basket: str = "customer",
    customer_col: str = CUSTOMER_ID,
    order_col: str = ORDER_ID,
    product_col: str = PRODUCT,
    amount_col: str | None = AMOUNT,
) -> pd.DataFrame:
    """Association rules ``A → B`` between single products bought in the same basket.

    Parameters
    ----------
    orders : DataFrame
        Order lines with a customer (or order) and a product column. Not modified.
    min_support : float, default=0.05
        Keep rules whose support (share of baskets holding both products) is at least this;
        in (0, 1].
    min_confidence : float, default=0.2
        Keep rules whose confidence ``P(B | A)`` is at least this; in [0, 1].
    basket : {"customer", "order"}, default="customer"
        What counts as one basket: everything a customer bought (cross-sell over time, the usual
        choice in B2B where an order holds one product) or one order (``order_col``).
    customer_col, order_col, product_col : str
        Column names.
    amount_col : str or None, default="amount"
        When the column exists, a product is in a basket only if its net amount there is
        positive, compared in cents (at least 0.01 once rounded), so a product bought and fully
        refunded does not count, even when the float sum is 4.4e-16; None (or a missing column) counts
        every line.

    Returns
    -------
    DataFrame
        One row per rule, columns :data:`RULE_COLUMNS`:

        - ``antecedent``, ``consequent`` – products A and B.
        - ``baskets`` – number of baskets holding both.
        - ``antecedent_support``, ``consequent_support`` – ``P(A)``, ``P(B)``.
        - ``support`` – ``P(A and B)``.
        - ``confidence`` – ``P(B | A)``.
        - ``lift`` – ``P(B | A) / P(B)``.
        - ``leverage`` – ``P(A and B) - P(A) P(B)``.
        - ``conviction`` – ``(1 - P(B)) / (1 - P(B | A))``; ``inf`` when the confidence is 1.

        Sorted by lift, confidence and support (all descending), then by product names. Lines
        without a basket key or a product are ignored; probabilities are over the baskets that
        hold at least one product.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"],
    ...                        "product": ["CRM", "BI", "CRM", "BI", "CRM"]})
    >>> association_rules(orders, min_support=0.5, amount_col=None)[
    ...     ["antecedent", "consequent", "support", "confidence", "lift"]].round(3)
      antecedent consequent  support  confidence  lift
    0         BI        CRM    0.667       1.000   1.0
    1        CRM         BI    0.667       0.667   1.0
    """
    _check_fraction("min_support", min_support, low_open=True)
    _check_fraction("min_confidence", min_confidence, low_open=False)
    if not isinstance(basket, str) or basket not in ("customer", "order"):
        raise ValueError(f"basket must be one of ['customer', 'order']; got {basket!r}")
    key_col = customer_col if basket == "customer" else order_col
    require_columns(orders.columns, (key_col, product_col), where="association_rules")
    pairs = _basket_products(
        orders, key_col=key_col, product_col=product_col, amount_col=amount_col
    )
    empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in RULE_COLUMNS})
    empty = empty.astype({"antecedent": "object", "consequent": "object", "baskets": "int64"})
    if pairs.empty:
        return empty
    basket_codes, _ = pd.factorize(pairs["key"], sort=True)
    product_codes, products = pd.factorize(pairs["product"], sort=True)
    n = int(basket_codes.max()) + 1
    min_count = math.ceil(min_support * n - 1e-9)
    item_counts = np.bincount(product_codes, minlength=len(products))
    # Apriori: a pair is never more frequent than either of its products.
    frequent = item_counts >= min_count
    if frequent.sum() < 2:
        return empty
    keep = frequent[product_codes]
    matrix = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int64), (basket_codes[keep], product_codes[keep])),
        shape=(n, len(products)),
    )
    together = (matrix.T @ matrix).tocoo()
    mask = (together.row != together.col) & (together.data >= min_count)
    a, b, count = together.row[mask], together.col[mask], together.data[mask].astype("int64")
    support = count / n
    support_a = item_counts[a] / n
    support_b = item_counts[b] / n
    confidence = count / item_counts[a]
    with np.errstate(divide="ignore"):
        conviction = np.where(
            confidence < 1, (1 - support_b) / np.maximum(1 - confidence, 1e-300), np.inf
        )
    rules = pd.DataFrame(
        {
            "antecedent": np.asarray(products, dtype=object)[a],
            "consequent": np.asarray(products, dtype=object)[b],
            "baskets": count,
            "antecedent_support": support_a,
            "consequent_support": support_b,
            "support": support,
            "confidence": confidence,
            "lift": confidence / support_b,
            "leverage": support - support_a * support_b,
            "conviction": conviction,
        }
    )
    rules = rules[rules["confidence"] >= min_confidence - 1e-12]
    rules = rules.sort_values(
        ["lift", "confidence", "support", "antecedent", "consequent"],
        ascending=[False, False, False, True, True],
        kind="stable",
    )
    return rules.reset_index(drop=True)


def _check_fraction(name: str, value: float, *, low_open: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (0 < value <= 1 if low_open else 0 <= value <= 1)
    if not ok:
        allowed = "in (0, 1]" if low_open else "in [0, 1]"
        raise ValueError(f"{name} must be a number {allowed}; got {value!r}")


def _basket_products(
    orders: pd.DataFrame, *, key_col: str, product_col: str, amount_col: str | None
) -> pd.DataFrame:
    """Distinct (basket, product) pairs bought: net amount positive in cents when known."""
    lines = pd.DataFrame(
        {"key": orders[key_col].to_numpy(), "product": orders[product_col].to_numpy()}
    )
    text = lines["product"].astype("string").str.strip()
    valid = lines["key"].notna().to_numpy() & text.fillna("").ne("").to_numpy(dtype=bool)
    lines = lines.assign(product=text.fillna("").to_numpy(dtype=object))
    if amount_col is not None and amount_col in orders.columns:
        lines["amount"] = pd.to_numeric(orders[amount_col], errors="coerce").fillna(0.0).to_numpy()
        net = lines[valid].groupby(["key", "product"], sort=False)["amount"].sum()
        return net[is_positive_money(net)].index.to_frame(index=False)
    return lines.loc[valid, ["key", "product"]].drop_duplicates().reset_index(drop=True)


def cross_sell(
    orders: pd.DataFrame,
    rules: pd.DataFrame,
    *,
    value: str | pd.Series | Mapping[Any, float] | None = None,
    top_n: int = 3,
    min_lift: float = 1.0,
    customer_col: str = CUSTOMER_ID,
    product_col: str = PRODUCT,
    amount_col: str = AMOUNT,
) -> pd.DataFrame:
    """Per-customer "bought A, offer B" suggestions from association rules.

    For every product A a customer bought and every rule ``A → B`` with lift above ``min_lift``
    whose B they have never bought, B is a candidate; when several of their products point to the same B, the rule with
    the highest lift is kept. Candidates are scored ``lift × expected value`` and each customer's
    best ``top_n`` are returned.

    Parameters
    ----------
    orders : DataFrame
        Order lines (or one row per customer and product bought): what each customer has.
        Not modified. A product counts as bought when it appears on any line of the customer
        with a product (refunds are not netted here: a product once bought is never offered).
    rules : DataFrame
        As returned by :func:`association_rules` (``antecedent``, ``consequent``, ``support``,
        ``confidence``, ``lift``).
    value : {"product", "none"}, Series or mapping, optional
        The expected value of an offer:

        - None (default): ``"product"`` when ``amount_col`` is in ``orders``, else ``"none"``;
        - ``"product"``: the consequent's average order value: the mean amount of its lines with
          a positive amount (at least 0.01 in cents) in ``orders``, so a dearer product ranks
          higher at equal lift;
        - ``"none"``: 1 for every offer, ranking by lift alone;
        - a Series or mapping from customer id to a value (e.g. ``clv_12m`` from
          :func:`analysis_kit.clv.customer_lifetime_value`): the customer's value, which orders
          offers across customers (whom to call first); within one customer the ranking is by
          lift. Customers missing from it get NaN and come last.
    top_n : int, default=3
        Suggestions per customer (>= 1).
    min_lift : float, default=1.0
        Only rules with a lift strictly above this are used; the default keeps the positive
        associations (B more likely with A than without) and drops the rest, which
        ``association_rules`` keeps when they pass its support and confidence thresholds.
    customer_col, product_col, amount_col : str
        Column names.

    Returns
    -------
    DataFrame
        Up to ``top_n`` rows per customer, sorted by customer then ``rank``:
        ``customer_col``, ``rank`` (1 = best), ``bought`` (the antecedent A), ``offer`` (the
        consequent B), ``support``, ``confidence``, ``lift``, ``expected_value`` and ``score``
        (``lift × expected_value``). Ties are broken by confidence, then product name.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c", "d"],
    ...                        "product": ["CRM", "BI", "CRM", "BI", "CRM", "ERP"]})
    >>> rules = association_rules(orders, min_support=0.5, amount_col=None)
    >>> cross_sell(orders, rules, value="none")[["customer_id", "bought", "offer", "lift", "score"]]
      customer_id bought offer      lift     score
    0           c    CRM    BI  1.333333  1.333333
    """
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ValueError(f"top_n must be an integer >= 1; got {top_n!r}")
    if isinstance(min_lift, bool) or not isinstance(min_lift, int | float) or min_lift < 0:
        raise ValueError(f"min_lift must be a number >= 0; got {min_lift!r}")
    if isinstance(value, str) and value not in ("product", "none"):
        raise ValueError(
            f"value must be 'product', 'none', a Series or a mapping of customer values; got {value!r}"
        )
    require_columns(orders.columns, (customer_col, product_col), where="cross_sell")
    require_columns(
        rules.columns,
        ("antecedent", "consequent", "support", "confidence", "lift"),
        where="cross_sell",
    )
    mode = value if isinstance(value, str) else ("customer" if value is not None else None)
    if mode is None:
        mode = "product" if amount_col in orders.columns else "none"
    if mode == "product":
        require_columns(orders.columns, (amount_col,), where="cross_sell")

    text = orders[product_col].astype("string").str.strip().fillna("")
    lines = pd.DataFrame(
        {"customer": orders[customer_col].to_numpy(), "product": text.to_numpy(dtype=object)}
    )
    valid = lines["customer"].notna() & lines["product"].ne("")
    owned = lines[valid].drop_duplicates()
    rule_cols = ["antecedent", "consequent", "support", "confidence", "lift"]
    useful = rules.loc[pd.to_numeric(rules["lift"]) > min_lift, rule_cols]
    candidates = owned.merge(useful, left_on="product", right_on="antecedent", how="inner").drop(
        columns="product"
    )
    # Never offer what the customer already has.
    has = owned.rename(columns={"product": "consequent"}).assign(__has=True)
    candidates = candidates.merge(has, on=["customer", "consequent"], how="left")
    candidates = candidates[candidates["__has"].isna()].drop(columns="__has")
    # One row per (customer, offer): the strongest rule leading to it.
    candidates = candidates.sort_values(
        ["customer", "consequent", "lift", "confidence", "antecedent"],
        ascending=[True, True, False, False, True],
        kind="stable",
    ).drop_duplicates(["customer", "consequent"])

    if mode == "product":
        amounts = pd.to_numeric(orders[amount_col], errors="coerce").to_numpy(dtype="float64")
        bought = valid.to_numpy() & is_positive_money(amounts)
        aov = pd.Series(amounts[bought]).groupby(lines["product"].to_numpy()[bought]).mean()
        expected = candidates["consequent"].map(aov)
    elif mode == "none":
        expected = pd.Series(1.0, index=candidates.index)
    else:
        mapping = value if isinstance(value, pd.Series) else pd.Series(dict(value))
        expected = candidates["customer"].map(mapping)
    candidates = candidates.assign(expected_value=pd.to_numeric(expected).astype("float64"))
    candidates["score"] = candidates["lift"] * candidates["expected_value"]
    candidates = candidates.sort_values(
        ["customer", "score", "lift", "confidence", "consequent"],
        ascending=[True, False, False, False, True],
        na_position="last",
        kind="stable",
    )
    candidates["rank"] = candidates.groupby("customer", sort=False).cumcount() + 1
    top = candidates[candidates["rank"] <= top_n]
    out = pd.DataFrame(
        {
            customer_col: top["customer"].to_numpy(),
            "rank": top["rank"].to_numpy(dtype="int64"),
            "bought": top["antecedent"].to_numpy(),
            "offer": top["consequent"].to_numpy(),
            "support": top["support"].to_numpy(dtype="float64"),
            "confidence": top["confidence"].to_numpy(dtype="float64"),
            "lift": top["lift"].to_numpy(dtype="float64"),
            "expected_value": top["expected_value"].to_numpy(dtype="float64"),
            "score": top["score"].to_numpy(dtype="float64"),
        }
    )
    return out
