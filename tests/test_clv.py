"""Tests for analysis_kit.clv: published CDNOW results, independent formulas, simulation, holdout."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_kit.clv import (
    FIT_RULES,
    BetaGeoModel,
    CLVFitError,
    GammaGammaModel,
    bgnbd_log_likelihood,
    calibration_holdout,
    customer_lifetime_value,
    customers_to_protect,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    holdout_by_frequency,
    holdout_predictions,
)
from analysis_kit.errors import AnalysisKitError, ParameterError, SchemaError
from analysis_kit.rfm import rfm_summary

HERE = Path(__file__).resolve().parent

# Fader, Hardie and Lee (2005), "Counting your customers the easy way", CDNOW, weeks.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
# Fader and Hardie, "The Gamma-Gamma model of monetary value": the 946 repeat buyers.
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}
# Standard errors printed in the lifetimes documentation for the same data (autograd Hessian).
LIFETIMES_BGNBD_SE = {"r": 0.012557, "alpha": 0.378221, "a": 0.185719, "b": 0.705345}
LIFETIMES_GG_SE = {"p": 1.189687, "q": 0.290166, "v": 4.159994}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / "cdnow_summary.csv")


@pytest.fixture(scope="module")
def cdnow_bgnbd(cdnow) -> BetaGeoModel:
    return fit_bgnbd(cdnow)


@pytest.fixture(scope="module")
def cdnow_gg(cdnow) -> GammaGammaModel:
    return fit_gamma_gamma(cdnow)


# ---------------------------------------------------------------------------------------------
# Independent formulas, written from the papers in plain Python
# ---------------------------------------------------------------------------------------------


def _lbeta(x: float, y: float) -> float:
    return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)


def _bgnbd_ll_loop(params, x, t_x, T) -> float:
    """FHL 2005 eq. 6, term by term, without logs of sums."""
    r, alpha, a, b = params
    common = math.exp(math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha))
    first = math.exp(_lbeta(a, b + x) - _lbeta(a, b)) * common / (alpha + T) ** (r + x)
    second = 0.0
    if x > 0:
        second = (
            math.exp(_lbeta(a + 1, b + x - 1) - _lbeta(a, b)) * common / (alpha + t_x) ** (r + x)
        )
    return math.log(first + second)


def _gg_ll_loop(params, x, m) -> float:
    p, q, v = params
    log_density = (
        math.lgamma(p * x + q)
        - math.lgamma(p * x)
        - math.lgamma(q)
        + q * math.log(v)
        + (p * x - 1) * math.log(m)
        + p * x * math.log(x)
        - (p * x + q) * math.log(v + m * x)
    )
    return log_density


def _hyp2f1_series(a: float, b: float, c: float, z: float) -> float:
    """Gauss's series, summed until the terms vanish (|z| < 1)."""
    term, total, n = 1.0, 1.0, 0
    while abs(term) > 1e-15 * abs(total):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        n += 1
        assert n < 100_000
    return total


def _p_alive_loop(params, x, t_x, T) -> float:
    r, alpha, a, b = params
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def _expected_loop(params, x, t_x, T, t) -> float:
    """FHL 2005 eq. 10."""
    r, alpha, a, b = params
    hyp = _hyp2f1_series(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    body = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    return body * _p_alive_loop(params, x, t_x, T)


# ---------------------------------------------------------------------------------------------
# Likelihoods
# ---------------------------------------------------------------------------------------------


def test_bgnbd_likelihood_matches_a_plain_loop(cdnow):
    params = (0.243, 4.414, 0.793, 2.426)
    got = bgnbd_log_likelihood(params, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    expected = [
        _bgnbd_ll_loop(params, x, t_x, T)
        for x, t_x, T in cdnow[["frequency", "recency", "T"]].itertuples(index=False)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # At the published (rounded) estimates the total is the published maximum.
    assert got.sum() == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.2)


def test_bgnbd_likelihood_survives_long_histories():
    # A naive product underflows here; the log-sum does not.
    got = bgnbd_log_likelihood((2.0, 1.0, 0.5, 5.0), [400.0], [390.0], [400.0])
    assert np.isfinite(got).all()


def test_gamma_gamma_likelihood_matches_a_plain_loop(cdnow):
    params = (6.25, 3.74, 15.44)
    repeat = cdnow[cdnow["frequency"] > 0]
    got = gamma_gamma_log_likelihood(params, repeat["frequency"], repeat["monetary_value"])
    expected = [
        _gg_ll_loop(params, x, m)
        for x, m in repeat[["frequency", "monetary_value"]].itertuples(index=False)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_gamma_gamma_density_integrates_to_one():
    # f(m | x) is a density in m: its integral over (0, inf) is 1.
    from scipy import integrate

    for x in (1, 3, 8):
        total, _ = integrate.quad(
            lambda m, x=x: math.exp(gamma_gamma_log_likelihood((6.25, 3.74, 15.44), [x], [m])[0]),
            0,
            np.inf,
        )
        assert total == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# Fits against the published CDNOW results
# ---------------------------------------------------------------------------------------------


def test_bgnbd_fit_matches_published_cdnow(cdnow_bgnbd, cdnow):
    for name, value in PUBLISHED_BGNBD.items():
        assert cdnow_bgnbd.params_[name] == pytest.approx(value, rel=0.005), name
        # and to the three published decimals
        assert round(cdnow_bgnbd.params_[name], 3) == pytest.approx(value, abs=1e-3), name
    assert cdnow_bgnbd.log_likelihood_ == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.1)
    assert cdnow_bgnbd.n_customers_ == 2357
    assert cdnow_bgnbd.n_repeat_buyers_ == 946
    assert cdnow_bgnbd.converged_
    # The optimum: the stored log-likelihood is the likelihood at the stored parameters.
    total = bgnbd_log_likelihood(
        cdnow_bgnbd.params_, cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ).sum()
    assert total == pytest.approx(cdnow_bgnbd.log_likelihood_, abs=1e-9)


def test_bgnbd_is_a_maximum(cdnow_bgnbd, cdnow):
    base = cdnow_bgnbd.log_likelihood_
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for i in range(4):
        for factor in (0.99, 1.01):
            moved = cdnow_bgnbd.params_.to_numpy().copy()
            moved[i] *= factor
            assert bgnbd_log_likelihood(moved, *args).sum() < base


def test_bgnbd_standard_errors(cdnow_bgnbd):
    for name, value in LIFETIMES_BGNBD_SE.items():
        assert cdnow_bgnbd.standard_errors_[name] == pytest.approx(value, rel=2e-3), name
    cov = cdnow_bgnbd.covariance_
    assert np.allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    table = cdnow_bgnbd.summary_table()
    assert list(table.columns) == ["estimate", "std_error", "lower_95", "upper_95"]
    # 95% intervals on the log scale: r / exp(1.96 se / r) .. r * exp(1.96 se / r)
    spread = np.exp(1.959964 * 0.012557 / 0.242593)
    assert table.loc["r", "lower_95"] == pytest.approx(0.242593 / spread, abs=1e-3)
    assert table.loc["r", "upper_95"] == pytest.approx(0.242593 * spread, abs=1e-3)
    # symmetric around the estimate in logs, and never below 0 however wide
    logs = np.log(table[["lower_95", "estimate", "upper_95"]])
    assert np.allclose(logs["estimate"] - logs["lower_95"], logs["upper_95"] - logs["estimate"])
    assert (table["lower_95"] > 0).all()


def test_gamma_gamma_fit_matches_published_cdnow(cdnow_gg):
    for name, value in PUBLISHED_GG.items():
        assert cdnow_gg.params_[name] == pytest.approx(value, rel=0.005), name
        assert round(cdnow_gg.params_[name], 2) == pytest.approx(value, abs=0.01), name
    for name, value in LIFETIMES_GG_SE.items():
        assert cdnow_gg.standard_errors_[name] == pytest.approx(value, rel=2e-3), name
    assert cdnow_gg.n_customers_ == 946


def test_gamma_gamma_expected_value_is_the_weighted_average(cdnow_gg, cdnow):
    p, q, v = cdnow_gg.params_
    got = cdnow_gg.expected_average_value(cdnow.head(6))
    population = p * v / (q - 1)
    for (x, m), value in zip(
        cdnow.head(6)[["frequency", "monetary_value"]].itertuples(index=False), got, strict=True
    ):
        if x == 0:
            assert value == pytest.approx(population)
        else:
            weight = p * x / (p * x + q - 1)
            assert value == pytest.approx(weight * m + (1 - weight) * population)
    assert got.name == "expected_value"
    assert cdnow_gg.population_mean() == pytest.approx(population)
    # lifetimes' conditional_expected_average_profit for customers 1 and 2
    assert got.iloc[:2].tolist() == pytest.approx([24.658616, 18.911480], rel=1e-5)


# ---------------------------------------------------------------------------------------------
# Predictions against independent closed forms
# ---------------------------------------------------------------------------------------------

SOME = [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (7, 29.43, 35.0), (29, 38.0, 38.5)]


def test_probability_alive_and_expected_purchases_match_closed_forms():
    params = (0.243, 4.414, 0.793, 2.426)
    model = BetaGeoModel.from_params(**dict(zip(("r", "alpha", "a", "b"), params, strict=True)))
    summary = pd.DataFrame(SOME, columns=["frequency", "recency", "T"], index=list("vwxyz"))
    alive = model.probability_alive(summary)
    assert list(alive.index) == list("vwxyz") and alive.name == "p_alive"
    expected_alive = [_p_alive_loop(params, *row) for row in SOME]
    np.testing.assert_allclose(alive, expected_alive, rtol=1e-10)
    for t in (1.0, 13.0, 39.0, 52.0):
        got = model.expected_purchases(summary, t=t)
        expected = [_expected_loop(params, *row, t) for row in SOME]
        np.testing.assert_allclose(got, expected, rtol=1e-8)
    assert (model.expected_purchases(summary, t=0) == 0).all()


def test_expected_purchases_match_lifetimes_on_cdnow(cdnow_bgnbd, cdnow):
    # lifetimes 0.11.3: conditional_expected_number_of_purchases_up_to_time(39, ...) and
    # conditional_probability_alive for the first customers of the same data.
    got = cdnow_bgnbd.expected_purchases(cdnow.head(3), t=39)
    assert got.tolist() == pytest.approx([1.225910, 0.203251, 0.194781], rel=1e-5)
    alive = cdnow_bgnbd.probability_alive(cdnow.head(2))
    assert alive.tolist() == pytest.approx([0.726609, 0.212227], rel=1e-5)


def test_new_customer_expectation_matches_series():
    params = (0.243, 4.414, 0.793, 2.426)
    model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    r, alpha, a, b = params
    for t in (10.0, 39.0, 78.0):
        hyp = _hyp2f1_series(r, b, a + b - 1, t / (alpha + t))
        expected = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)
        assert model.expected_purchases_new(t) == pytest.approx(expected, rel=1e-9)


def test_expected_purchases_grow_with_the_horizon_and_fall_with_absence():
    model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    # Same frequency, last purchase further back: less likely alive, fewer purchases expected.
    summary = pd.DataFrame({"frequency": [4.0] * 3, "recency": [38.0, 25.0, 10.0], "T": [39.0] * 3})
    alive = model.probability_alive(summary)
    assert alive.is_monotonic_decreasing and alive.iloc[-1] < 0.5
    short, long = model.expected_purchases(summary, t=10), model.expected_purchases(summary, t=40)
    assert (long > short).all() and short.is_monotonic_decreasing


def test_simulated_bgnbd_is_recovered():
    """Simulate the BG/NBD story with a seeded generator, fit, and predict the holdout."""
    rng = np.random.default_rng(2024)
    true = {"r": 0.6, "alpha": 6.0, "a": 0.9, "b": 2.8}
    n, cal, hold = 4000, 52.0, 26.0
    lam = rng.gamma(true["r"], 1 / true["alpha"], n)
    drop = rng.beta(true["a"], true["b"], n)
    rows = []
    for i in range(n):
        t, times, alive = 0.0, [], True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > cal + hold:
                break
            times.append(t)
            alive = rng.random() >= drop[i]  # drop out right after a repeat purchase
        in_cal = [s for s in times if s <= cal]
        rows.append((len(in_cal), in_cal[-1] if in_cal else 0.0, cal, len(times) - len(in_cal)))
    data = pd.DataFrame(rows, columns=["frequency", "recency", "T", "holdout"])
    model = fit_bgnbd(data)
    for name, value in true.items():
        estimate, se = model.params_[name], model.standard_errors_[name]
        assert abs(estimate - value) < 4 * se, (name, estimate, value, se)
    predicted = model.expected_purchases(data, t=hold)
    assert predicted.sum() == pytest.approx(data["holdout"].sum(), rel=0.08)


# ---------------------------------------------------------------------------------------------
# CLV
# ---------------------------------------------------------------------------------------------


def test_clv_matches_an_independent_monthly_sum(cdnow_bgnbd, cdnow_gg, cdnow):
    summary = cdnow.head(8).assign(customer_id=[f"c{i}" for i in range(8)])
    got = customer_lifetime_value(
        cdnow_bgnbd, cdnow_gg, summary, months=(12, 3, 6), discount_rate=0.02, freq="W"
    )
    assert list(got.columns) == [
        "customer_id",
        "p_alive",
        "expected_value",
        "expected_purchases_3m",
        "expected_purchases_6m",
        "expected_purchases_12m",
        "clv_3m",
        "clv_6m",
        "clv_12m",
    ]
    params = tuple(cdnow_bgnbd.params_)
    value = cdnow_gg.expected_average_value(summary)
    for row, (x, t_x, T) in enumerate(
        summary[["frequency", "recency", "T"]].itertuples(index=False)
    ):
        total, previous = 0.0, 0.0
        for month in range(1, 13):
            cumulative = _expected_loop(params, x, t_x, T, month * 4.345)
            total += value.iloc[row] * (cumulative - previous) / 1.02**month
            previous = cumulative
            if month in (3, 6, 12):
                assert got[f"clv_{month}m"].iloc[row] == pytest.approx(total, rel=1e-8)
                assert got[f"expected_purchases_{month}m"].iloc[row] == pytest.approx(
                    cumulative, rel=1e-8
                )


def test_clv_matches_lifetimes_on_cdnow(cdnow_bgnbd, cdnow_gg, cdnow):
    # lifetimes 0.11.3 customer_lifetime_value(time=12, discount_rate=0.01, freq="W")
    got = customer_lifetime_value(cdnow_bgnbd, cdnow_gg, cdnow.head(3), months=(12,), freq="W")
    assert got["clv_12m"].tolist() == pytest.approx([36.278496, 4.637466, 8.344093], rel=1e-4)


def test_clv_without_discount_is_value_times_purchases(cdnow_bgnbd, cdnow_gg, cdnow):
    got = customer_lifetime_value(
        cdnow_bgnbd, cdnow_gg, cdnow.head(5), months=(6,), discount_rate=0, freq="W"
    )
    np.testing.assert_allclose(
        got["clv_6m"], got["expected_value"] * got["expected_purchases_6m"], rtol=1e-10
    )
    # Days and weeks: the same horizon in other units gives the same answer.
    daily = cdnow.head(5).assign(recency=cdnow["recency"].head(5) * 7, T=cdnow["T"].head(5) * 7)
    p = cdnow_bgnbd.params_
    bg_daily = BetaGeoModel.from_params(r=p["r"], alpha=p["alpha"] * 7, a=p["a"], b=p["b"])
    got_daily = customer_lifetime_value(
        bg_daily,
        cdnow_gg,
        daily,
        months=(6,),
        discount_rate=0,
        freq="D",
        periods_per_month={"D": 4.345 * 7},
    )
    np.testing.assert_allclose(got_daily["clv_6m"], got["clv_6m"], rtol=1e-9)


def test_clv_does_not_modify_input_and_keeps_index(cdnow_bgnbd, cdnow_gg, cdnow):
    summary = cdnow.head(4).set_axis(["w", "x", "y", "z"])
    before = summary.copy()
    got = customer_lifetime_value(cdnow_bgnbd, cdnow_gg, summary, freq="W")
    pd.testing.assert_frame_equal(summary, before)
    assert list(got.index) == ["w", "x", "y", "z"]
    assert (got["clv_3m"] <= got["clv_6m"]).all() and (got["clv_6m"] <= got["clv_12m"]).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"months": (0, 3)}, "months must be whole numbers"),
        ({"months": ()}, "months must be whole numbers"),
        ({"months": (1.5,)}, "months must be whole numbers"),
        ({"discount_rate": -0.1}, r"discount_rate must be a monthly rate >= 0.*-0.1"),
        ({"freq": "Q"}, r"freq must be one of \['D', 'M', 'W'\]; got 'Q'"),
    ],
)
def test_clv_parameter_errors(cdnow_bgnbd, cdnow_gg, cdnow, kwargs, match):
    with pytest.raises(ValueError, match=match):
        customer_lifetime_value(cdnow_bgnbd, cdnow_gg, cdnow.head(2), **kwargs)


# ---------------------------------------------------------------------------------------------
# Fit failures
# ---------------------------------------------------------------------------------------------


def _summary(rows):
    return pd.DataFrame(rows, columns=["frequency", "recency", "T", "monetary_value"])


def test_fit_refuses_too_few_customers():
    few = _summary([(1, 2, 5, 10.0)] * 5)
    with pytest.raises(CLVFitError, match="5 customers are too few"):
        fit_bgnbd(few)
    assert issubclass(CLVFitError, AnalysisKitError) and issubclass(CLVFitError, ValueError)


def test_fit_refuses_no_repeat_buyers():
    once = _summary([(0, 0, t, 0.0) for t in range(5, 25)])
    with pytest.raises(CLVFitError, match="0 of 20 customers bought more than once"):
        fit_bgnbd(once)
    with pytest.raises(CLVFitError, match="no repeat buyers"):
        fit_gamma_gamma(once)


def test_fit_refuses_missing_and_impossible_values(cdnow):
    with pytest.raises(CLVFitError, match=r"'recency' has 1 missing"):
        fit_bgnbd(cdnow.assign(recency=cdnow["recency"].where(cdnow.index != 3)))
    with pytest.raises(CLVFitError, match="recency must not exceed T"):
        fit_bgnbd(cdnow.assign(recency=cdnow["T"] + 1))
    with pytest.raises(CLVFitError, match="whole numbers"):
        fit_bgnbd(cdnow.assign(frequency=cdnow["frequency"] + 0.5))
    with pytest.raises(SchemaError, match="missing columns: T"):
        fit_bgnbd(cdnow.drop(columns="T"))


def test_gamma_gamma_refuses_non_positive_values(cdnow):
    bad = cdnow.copy()
    bad.loc[bad["frequency"] > 0, "monetary_value"] *= -1
    with pytest.raises(CLVFitError, match="946 repeat buyers have monetary_value <= 0"):
        fit_gamma_gamma(bad)
    assert (cdnow["monetary_value"] >= 0).all()  # the copy was changed, not the fixture


def test_fit_refuses_parameters_that_run_away():
    # Everyone bought regularly right up to today: nobody seems to drop out, so a and b run off.
    never_leave = _summary([(5, 10, 10, 1.0)] * 10 + [(3, 10, 10, 1.0)] * 10)
    with pytest.raises(CLVFitError, match="did not converge.*penalizer"):
        fit_bgnbd(never_leave)
    penalised = fit_bgnbd(never_leave, penalizer=0.01)
    assert np.isfinite(penalised.params_).all()


def test_rules_and_parameters_are_validated(cdnow):
    relaxed = fit_bgnbd(cdnow.head(40), rules={"min_customers": 40})
    assert relaxed.n_customers_ == 40
    with pytest.raises(CLVFitError, match="at least 41"):
        fit_bgnbd(cdnow.head(40), rules={"min_customers": 41})
    with pytest.raises(ValueError, match="rules for bgnbd must use the keys"):
        fit_bgnbd(cdnow, rules={"min_custmers": 3})
    with pytest.raises(ValueError, match="penalizer must be a number >= 0; got -1"):
        fit_bgnbd(cdnow, penalizer=-1)
    with pytest.raises(ValueError, match="t must be a number of periods >= 0"):
        BetaGeoModel.from_params(r=1, alpha=1, a=2, b=2).expected_purchases(cdnow, t=-1)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        BetaGeoModel.from_params(r=1, alpha=0, a=2, b=2)
    with pytest.raises(AttributeError, match="not fitted"):
        BetaGeoModel().probability_alive(cdnow)
    assert FIT_RULES["bgnbd"]["min_customers"] == 10  # the default is untouched


def test_fit_does_not_modify_input(cdnow):
    before = cdnow.copy()
    fit_bgnbd(cdnow.head(200))
    fit_gamma_gamma(cdnow.head(200))
    pd.testing.assert_frame_equal(cdnow, before)


# ---------------------------------------------------------------------------------------------
# Calibration and holdout
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def orders() -> pd.DataFrame:
    """2024-01-01 is a Monday. Calibration to Sunday Jan 14 (weeks 1-2), holdout to Jan 31.

    A: Jan 1 (10), Jan 9 (20) | Jan 16 (30), Jan 17 (5, same week), Jan 24 (40) and a refund
       of -40 the same week: week 4 nets to 0, no purchase.  B: Jan 12 (50) | nothing.
    C: first buys in the holdout (Jan 20): not a calibration customer.
    D: Jan 2 (15) | Feb 5 (99), after the holdout.
    """
    rows = [
        ("A", "2024-01-01", 10.0),
        ("A", "2024-01-09", 20.0),
        ("A", "2024-01-16", 30.0),
        ("A", "2024-01-17", 5.0),
        ("A", "2024-01-24", 40.0),
        ("A", "2024-01-26", -40.0),
        ("B", "2024-01-12", 50.0),
        ("C", "2024-01-20", 70.0),
        ("D", "2024-01-02", 15.0),
        ("D", "2024-02-05", 99.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


def test_calibration_holdout_by_hand(orders):
    before = orders.copy()
    got = calibration_holdout(
        orders, calibration_end="2024-01-14", holdout_end="2024-01-31", freq="W"
    ).set_index("customer_id")
    pd.testing.assert_frame_equal(orders, before)
    assert list(got.index) == ["A", "B", "D"]
    assert got.loc["A", ["frequency_cal", "recency_cal", "T_cal"]].tolist() == [1, 1, 1]
    assert got.loc["A", "monetary_value_cal"] == 20
    # A's holdout: week 3 (35) is a purchase, week 4 nets to 0 and is not; Jan 31 is week 5.
    assert got["frequency_holdout"].to_dict() == {"A": 1, "B": 0, "D": 0}
    assert got.loc["A", "monetary_value_holdout"] == 35
    assert (got["duration_holdout"] == 3).all()
    calibration = rfm_summary(orders, as_of="2024-01-14", convention="lifetimes", freq="W")
    np.testing.assert_allclose(
        got[["frequency_cal", "recency_cal", "T_cal", "monetary_value_cal"]].to_numpy(),
        calibration[["frequency", "recency", "T", "monetary_value"]].to_numpy(),
    )


def test_calibration_holdout_in_days(orders):
    got = calibration_holdout(
        orders, calibration_end="2024-01-14", holdout_end="2024-01-31"
    ).set_index("customer_id")
    # Days: A buys on Jan 16, 17 and 24 (Jan 26 is a refund on its own day, ignored).
    assert got["frequency_holdout"].to_dict() == {"A": 3, "B": 0, "D": 0}
    assert got.loc["A", "monetary_value_holdout"] == pytest.approx(75 / 3)
    assert (got["duration_holdout"] == 17).all()


def test_calibration_holdout_errors(orders):
    with pytest.raises(ValueError, match="holdout_end must fall in a later W period"):
        calibration_holdout(
            orders, calibration_end="2024-01-14", holdout_end="2024-01-10", freq="W"
        )
    with pytest.raises(ValueError, match="freq must be one of"):
        calibration_holdout(
            orders, calibration_end="2024-01-14", holdout_end="2024-02-10", freq="Q"
        )
    with pytest.raises(ValueError, match="calibration_end must be a date"):
        calibration_holdout(orders, calibration_end="soon", holdout_end="2024-02-10")
    with pytest.raises(SchemaError, match="amount"):
        calibration_holdout(
            orders.drop(columns="amount"), calibration_end="2024-01-14", holdout_end="2024-02-10"
        )


@pytest.fixture
def late_days() -> pd.DataFrame:
    """Calibration to June 30, holdout to July 31, in days.

    A: June 1 (10), 09:15 on June 30 (20) | 23:59 on July 31 (30); midnight on Aug 1 (999) is
       after the holdout.
    B: 23:59 on June 30 (5) | July 2 a 0.00 line (a purchase worth 0, as in the calibration's
       lifetimes convention); July 3 buys 1.10 + 2.20 and returns 3.30, a float sum of
       +4.4e-16: fully refunded, no purchase.
    """
    rows = [
        ("A", "2024-06-01 00:00", 10.0),
        ("A", "2024-06-30 09:15", 20.0),
        ("A", "2024-07-31 23:59", 30.0),
        ("A", "2024-08-01 00:00", 999.0),
        ("B", "2024-06-30 23:59", 5.0),
        ("B", "2024-07-02 12:00", 0.0),
        ("B", "2024-07-03 09:00", 1.10),
        ("B", "2024-07-03 10:00", 2.20),
        ("B", "2024-07-03 11:00", -3.30),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = pd.to_datetime(frame["order_date"], format="ISO8601")
    return frame


def test_calibration_holdout_counts_every_line_on_its_end_days(late_days):
    got = calibration_holdout(
        late_days, calibration_end="2024-06-30", holdout_end="2024-07-31"
    ).set_index("customer_id")
    columns = ["frequency_cal", "recency_cal", "T_cal", "monetary_value_cal"]
    assert got[columns].values.tolist() == [[1, 29, 29, 20.0], [0, 0, 0, 0.0]]
    assert got["frequency_holdout"].to_dict() == {"A": 1, "B": 1}
    assert got["monetary_value_holdout"].to_dict() == {"A": 30.0, "B": 0.0}
    assert (got["duration_holdout"] == 31).all()


def test_calibration_holdout_zoned_ends_are_their_local_days(late_days):
    # 23:00 in New York on June 30 and July 31 are those days (July 1 and Aug 1 in UTC).
    got = calibration_holdout(
        late_days,
        calibration_end="2024-06-30T23:00-05:00",
        holdout_end=pd.Timestamp("2024-07-31 23:00", tz="America/New_York"),
    )
    expected = calibration_holdout(
        late_days, calibration_end="2024-06-30", holdout_end="2024-07-31"
    )
    pd.testing.assert_frame_equal(got, expected)


def test_calibration_holdout_bad_dates_name_the_parameter(late_days):
    with pytest.raises(ParameterError, match=r"calibration_end must be a date .*got 'June'"):
        calibration_holdout(late_days, calibration_end="June", holdout_end="2024-07-31")
    with pytest.raises(ParameterError, match=r"holdout_end must be a date .*got None"):
        calibration_holdout(late_days, calibration_end="2024-06-30", holdout_end=None)


def test_holdout_predictions_and_grouping():
    model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    calhold = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "frequency_cal": [0.0, 2.0, 2.0, 9.0],
            "recency_cal": [0.0, 30.0, 5.0, 35.0],
            "T_cal": [38.0, 38.0, 38.0, 38.0],
            "frequency_holdout": [0, 1, 0, 5],
            "duration_holdout": [39.0] * 4,
        }
    )
    preds = holdout_predictions(model, calhold)
    params = (0.243, 4.414, 0.793, 2.426)
    expected = [
        _expected_loop(params, x, t, 38.0, 39.0)
        for x, t in zip([0, 2, 2, 9], [0, 30, 5, 35], strict=True)
    ]
    np.testing.assert_allclose(preds["predicted_purchases"], expected, rtol=1e-8)
    assert preds["actual_purchases"].tolist() == [0, 1, 0, 5]
    np.testing.assert_allclose(preds["error"], preds["predicted_purchases"] - [0, 1, 0, 5])
    grouped = holdout_by_frequency(preds, max_frequency=3)
    assert grouped["label"].tolist() == ["0", "2", "3+"]
    assert grouped["customers"].tolist() == [1, 2, 1]
    assert grouped.loc[1, "actual"] == 0.5
    assert grouped.loc[1, "predicted"] == pytest.approx((expected[1] + expected[2]) / 2)
    with pytest.raises(ValueError, match="max_frequency must be an integer >= 1; got 0"):
        holdout_by_frequency(preds, max_frequency=0)


def test_holdout_on_cdnow_like_simulation_tracks_actuals(cdnow_bgnbd):
    # The published check: mean holdout purchases by calibration frequency follow the actuals.
    rng = np.random.default_rng(7)
    p = cdnow_bgnbd.params_
    n = 3000
    lam = rng.gamma(p["r"], 1 / p["alpha"], n)
    drop = rng.beta(p["a"], p["b"], n)
    rows = []
    for i in range(n):
        t, times, alive = 0.0, [], True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > 78:
                break
            times.append(t)
            alive = rng.random() >= drop[i]
        cal = [s for s in times if s <= 39]
        rows.append((f"c{i}", len(cal), cal[-1] if cal else 0.0, 39.0, len(times) - len(cal), 39.0))
    calhold = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "frequency_cal",
            "recency_cal",
            "T_cal",
            "frequency_holdout",
            "duration_holdout",
        ],
    )
    grouped = holdout_by_frequency(holdout_predictions(cdnow_bgnbd, calhold), max_frequency=3)
    big = grouped[grouped["customers"] >= 200]
    np.testing.assert_allclose(big["predicted"], big["actual"], rtol=0.2, atol=0.05)


# ---------------------------------------------------------------------------------------------
# Customers to protect
# ---------------------------------------------------------------------------------------------


def test_customers_to_protect_by_hand():
    clv = pd.DataFrame(
        {"customer_id": ["a", "b", "c", "d", "e"], "clv_12m": [5.0, 9.0, 7.0, 7.0, np.nan]}
    )
    segments = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "segment_code": ["001", "111", "001", "001", "001"],
            "segment": [
                "重要挽留客户",
                "重要价值客户",
                "重要挽留客户",
                "重要挽留客户",
                "重要挽留客户",
            ],
        }
    )
    got = customers_to_protect(clv, segments, top_n=None)
    # c and d tie at 7: customer id breaks the tie; e has no value and comes last.
    assert got["customer_id"].tolist() == ["c", "d", "a", "e"]
    assert got["rank"].tolist() == [1, 2, 3, 4]
    assert list(got.columns) == ["rank", "customer_id", "segment_code", "segment", "clv_12m"]
    assert customers_to_protect(clv, segments, top_n=2)["customer_id"].tolist() == ["c", "d"]
    both = customers_to_protect(clv, segments, segment=["001", "111"], top_n=1)
    assert both["customer_id"].tolist() == ["b"]
    with pytest.raises(ValueError, match="top_n must be an integer >= 1 or None; got 0"):
        customers_to_protect(clv, segments, top_n=0)
    with pytest.raises(SchemaError, match="clv_6m"):
        customers_to_protect(clv, segments, value_col="clv_6m")


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_clv_charts_draw_on_the_given_axes(cdnow_bgnbd, cdnow_gg, cdnow, lang):
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis_kit import plotting

    if lang == "zh" and plotting.find_cjk_font() is None:
        pytest.skip("no CJK font installed")
    plotting.set_theme(lang)
    clv = customer_lifetime_value(cdnow_bgnbd, cdnow_gg, cdnow.head(300), freq="W")
    grouped = holdout_by_frequency(
        pd.DataFrame(
            {
                "frequency_cal": [0, 1, 1, 4],
                "actual_purchases": [0, 1, 2, 3],
                "predicted_purchases": [0.1, 1.2, 1.2, 2.5],
            }
        )
    )
    before = clv.copy()
    for draw, data, kwargs in [
        (plotting.clv_distribution, clv, {}),
        (plotting.clv_distribution, clv, {"log_scale": True, "value_col": "clv_3m"}),
        (plotting.holdout_purchases, grouped, {}),
    ]:
        fig, ax = plt.subplots()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                returned = draw(data, lang=lang, title="标题 title", ax=ax, **kwargs)
                fig.canvas.draw()
            assert returned is ax and ax.get_title() == "标题 title"
            assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
            assert ax.patches or ax.lines
        finally:
            plt.close(fig)
    pd.testing.assert_frame_equal(clv, before)
    fig, ax = plt.subplots()
    ax = plotting.holdout_purchases(grouped, lang=lang, ax=ax)
    actual, predicted = ax.lines[0].get_ydata(), ax.lines[1].get_ydata()
    assert list(actual) == [0, 1.5, 3] and list(predicted) == pytest.approx([0.1, 1.2, 2.5])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "4"]
    plt.close(fig)
    with pytest.raises(ValueError, match="lang must be one of"):
        plotting.clv_distribution(clv, lang="fr")


def test_calibration_holdout_cuts_lines_by_day_before_weeks():
    # 2024-01-03 is a Wednesday: the Friday purchase of that week is after calibration_end, so
    # it is a holdout purchase (as in lifetimes' calibration_and_holdout_data), not calibration.
    orders = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A"],
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-10"]),
            "amount": [10.0, 20.0, 30.0],
        }
    )
    split = calibration_holdout(
        orders, calibration_end="2024-01-03", holdout_end="2024-01-31", freq="W"
    )
    row = split.iloc[0]
    assert (row["frequency_cal"], row["recency_cal"], row["T_cal"]) == (0.0, 0.0, 0.0)
    assert row["frequency_holdout"] == 2  # the week of Jan 5 and the week of Jan 10
    assert row["monetary_value_holdout"] == 25.0


def test_clv_doubts_on_spend_that_follows_frequency_and_a_poor_holdout():
    from analysis_kit.clv import CLV_GUARDS, clv_doubt_lines, clv_doubts

    rng = np.random.default_rng(7)
    frequency = rng.integers(1, 10, size=200)
    independent = pd.DataFrame(
        {"frequency": frequency, "monetary_value": rng.gamma(4.0, 50.0, size=200)}
    )
    assert clv_doubts(independent) == {}
    # spend rising with frequency: the correlation, measured on repeat buyers only
    linked = independent.assign(monetary_value=frequency * 100.0 + rng.normal(0, 50, 200))
    linked.loc[0, ["frequency", "monetary_value"]] = [0, 10_000.0]  # non-repeaters do not count
    repeat = linked[linked["frequency"] > 0]
    expected = repeat["frequency"].corr(repeat["monetary_value"])
    found = clv_doubts(linked)
    assert found["spend_follows_frequency"] == pytest.approx(expected)
    assert expected > CLV_GUARDS["max_correlation"]
    assert clv_doubts(linked, guards={"max_correlation": 0.999}) == {}
    # the holdout: 31.6 predicted for 24 bought is +32 %, beyond 20 %; 26 for 24 is not
    off = pd.DataFrame({"actual_purchases": [24], "predicted_purchases": [31.6]})
    assert clv_doubts(independent, holdout=off)["holdout_error"] == pytest.approx(31.6 / 24 - 1)
    close = off.assign(predicted_purchases=[26.0])
    assert clv_doubts(independent, holdout=close) == {}
    nothing = off.assign(actual_purchases=[0])
    assert clv_doubts(independent, holdout=nothing)["holdout_error"] == float("inf")
    lines = clv_doubt_lines({"holdout_error": 31.6 / 24 - 1}, "en")
    assert lines == ["the holdout check missed the actual purchases by +32% (beyond ±20%)"]
    assert "偏差为 +32%" in clv_doubt_lines({"holdout_error": 31.6 / 24 - 1}, "zh")[0]
    with pytest.raises(ParameterError, match="unknown guards"):
        clv_doubts(independent, guards={"max_corr": 0.5})


def test_cdnow_passes_the_correlation_guard(cdnow):
    from analysis_kit.clv import clv_doubts

    # lifetimes' documentation reports 0.11 for the CDNOW repeat buyers: no doubt
    repeat = cdnow[cdnow["frequency"] > 0]
    assert repeat["frequency"].corr(repeat["monetary_value"]) == pytest.approx(0.11, abs=0.01)
    assert "spend_follows_frequency" not in clv_doubts(cdnow)
