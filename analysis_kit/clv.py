"""Customer lifetime value: BG/NBD and Gamma-Gamma models fitted by maximum likelihood.

The two "buy till you die" models of Fader, Hardie and Lee, written with numpy and scipy:

- **BG/NBD** (Fader, Hardie and Lee 2005, "Counting your customers the easy way"): while a
  customer is alive they buy at a steady rate λ (Poisson), after every purchase they drop out with
  probability p; λ varies across customers as Gamma(r, α), p as Beta(a, b). From each customer's
  repeat frequency ``x``, recency ``t_x`` and age ``T`` it gives the probability that they are still
  alive and the number of purchases to expect in the next ``t`` periods.
- **Gamma-Gamma** (Fader, Hardie and Lee 2005, "RFM and CLV"; Fader and Hardie's note on the
  Gamma-Gamma model): the value of each purchase varies around a customer's own mean, which varies
  across customers; parameters ``p, q, v``. It gives the expected value of a customer's future
  purchases, shrinking their observed average towards the population mean when they bought rarely.

:func:`customer_lifetime_value` combines the two into a discounted value over 3, 6 and 12 months,
as lifetimes' ``customer_lifetime_value`` does. :func:`calibration_holdout`,
:func:`holdout_predictions` and :func:`holdout_by_frequency` check the model on purchases it did not
see; :func:`customers_to_protect` ranks the customers of an RFM segment (by default 重要挽留,
``"001"``) by their expected value.

Inputs are one row per customer in the lifetimes convention (``frequency`` = repeat periods,
``recency``, ``T``, ``monetary_value``) as returned by
``analysis_kit.rfm.rfm_summary(orders, convention="lifetimes", freq=...)``. The time unit is the
``freq`` of that summary (days, weeks or months); every ``t`` and horizon is in that unit, except
the CLV horizons, which are months.

Examples
--------
>>> import pandas as pd
>>> summary = pd.DataFrame({"frequency": [2.0, 0.0], "recency": [30.43, 0.0], "T": [38.86, 38.86]})
>>> model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
>>> model.probability_alive(summary).round(3).tolist()
[0.727, 1.0]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from ._validate import as_of_day, is_negative_money, is_positive_money, local_days
from .columns import AMOUNT, CUSTOMER_ID, ORDER_DATE, require_columns
from .errors import AnalysisKitError, ParameterError

__all__ = [
    "FIT_RULES",
    "PERIODS_PER_MONTH",
    "BetaGeoModel",
    "CLVFitError",
    "CLV_GUARDS",
    "SUMMARY_LABELS",
    "clv_doubt_lines",
    "clv_doubts",
    "GammaGammaModel",
    "bgnbd_log_likelihood",
    "calibration_holdout",
    "customer_lifetime_value",
    "customers_to_protect",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "holdout_by_frequency",
    "holdout_predictions",
]

# Column names of the lifetimes-convention summary (see analysis_kit.rfm.rfm_summary).
FREQUENCY = "frequency"
RECENCY = "recency"
T = "T"
MONETARY_VALUE = "monetary_value"
SEGMENT_CODE = "segment_code"

#: Periods per month used by :func:`customer_lifetime_value` for each ``freq`` of the summary:
#: lifetimes' factors (a month is 30 days or 4.345 weeks).
PERIODS_PER_MONTH: dict[str, float] = {"D": 30.0, "W": 4.345, "M": 1.0}

#: When a fit is refused as hopeless. ``min_customers``: fewer customers than this are too few to
#: estimate four (BG/NBD) or three (Gamma-Gamma, counting repeat buyers only) parameters;
#: ``min_repeat_buyers``: BG/NBD needs customers who bought again to tell the purchase rate from
#: the dropout; ``max_log_param``: a fitted parameter beyond ``exp(±max_log_param)`` means the
#: likelihood kept improving towards a limit the data cannot pin down (no convergence).
FIT_RULES: dict[str, dict[str, float]] = {
    "bgnbd": {"min_customers": 10, "min_repeat_buyers": 2, "max_log_param": 12.0},
    "gamma_gamma": {"min_customers": 5, "max_log_param": 12.0},
}

#: Headers of the lifetimes-convention summary, whose frequency and recency mean something else
#: than in RFM: pass as ``labels=`` to :func:`analysis_kit.tables.show_table`.
SUMMARY_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "frequency": "复购次数",
        "recency": "首末购买间隔（期）",
        "T": "客户年龄（期）",
        "monetary_value": "平均复购金额（元）",
    },
    "en": {
        "frequency": "Repeat purchases",
        "recency": "First to last purchase (periods)",
        "T": "Age (periods)",
        "monetary_value": "Mean repeat spend (¥)",
    },
}

#: When a CLV is only indicative (:func:`clv_doubts`). ``max_correlation``: Gamma-Gamma assumes a
#: customer's spend per purchase does not depend on how often they buy; a Pearson correlation of
#: frequency and mean spend among repeat buyers above this breaks the assumption (Fader & Hardie
#: check it is near 0). ``max_holdout_error``: the BG/NBD fitted on the calibration period
#: predicted the held-out purchases wrong by more than this share of what happened.
CLV_GUARDS: dict[str, float] = {"max_correlation": 0.3, "max_holdout_error": 0.2}

#: Sentences of each doubt, by language; ``{value}`` is the measured figure.
CLV_DOUBT_TEXT: dict[str, dict[str, str]] = {
    "spend_follows_frequency": {
        "zh": "复购次数与平均金额的相关系数为 {value:.2f}（超过 {limit:.2f}），Gamma-Gamma 模型的前提不成立",
        "en": "frequency and spend per purchase correlate at {value:.2f} (above {limit:.2f}), "
        "which breaks the Gamma-Gamma assumption",
    },
    "holdout_error": {
        "zh": "留出期验证的预测偏差为 {value:+.0%}（超过 ±{limit:.0%}）",
        "en": "the holdout check missed the actual purchases by {value:+.0%} (beyond ±{limit:.0%})",
    },
}


def clv_doubts(
    summary: pd.DataFrame,
    *,
    holdout: pd.DataFrame | None = None,
    guards: Mapping[str, float] | None = None,
    frequency_col: str = FREQUENCY,
    monetary_col: str = MONETARY_VALUE,
) -> dict[str, float]:
    """Return why the CLV figures are only indicative, with the measured value; empty if none.

    Parameters
    ----------
    summary : DataFrame
        The lifetimes-convention summary the models were fitted on.
    holdout : DataFrame, optional
        :func:`holdout_predictions` (``actual_purchases``, ``predicted_purchases``); without it the
        holdout check is not made.
    guards : mapping, optional
        Overrides of :data:`CLV_GUARDS`.
    frequency_col, monetary_col : str
        Columns of ``summary``.

    Returns
    -------
    dict
        ``{"spend_follows_frequency": correlation}`` when repeat buyers' frequency and mean spend
        correlate above ``max_correlation``; ``{"holdout_error": predicted ÷ actual − 1}`` when it
        is beyond ± ``max_holdout_error`` (infinite when nothing was bought in the holdout but
        purchases were predicted). A page shows CLV with any doubt as indicative only.

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [1, 2, 3, 4], "monetary_value": [10.0, 30.0, 20.0, 45.0]})
    >>> round(clv_doubts(s)["spend_follows_frequency"], 3)
    0.821
    >>> h = pd.DataFrame({"actual_purchases": [10], "predicted_purchases": [11.0]})
    >>> clv_doubts(s.assign(monetary_value=[30.0, 10.0, 40.0, 20.0]), holdout=h)
    {}
    """
    limits = {**CLV_GUARDS, **(guards or {})}
    unknown = sorted(set(limits) - set(CLV_GUARDS))
    if unknown:
        raise ParameterError(f"unknown guards {unknown}; valid: {sorted(CLV_GUARDS)}")
    out: dict[str, float] = {}
    repeat = summary[summary[frequency_col] > 0]
    if len(repeat) > 2:
        correlation = repeat[frequency_col].corr(repeat[monetary_col])
        if pd.notna(correlation) and correlation > limits["max_correlation"]:
            out["spend_follows_frequency"] = float(correlation)
    if holdout is not None and len(holdout):
        actual = float(holdout["actual_purchases"].sum())
        predicted = float(holdout["predicted_purchases"].sum())
        error = predicted / actual - 1 if actual > 0 else (math.inf if predicted > 0 else 0.0)
        if abs(error) > limits["max_holdout_error"]:
            out["holdout_error"] = error
    return out


def clv_doubt_lines(doubts: Mapping[str, float], lang: str = "zh") -> list[str]:
    """Return the sentences that say why a CLV is indicative (:data:`CLV_DOUBT_TEXT`)."""
    if lang not in ("zh", "en"):
        raise ParameterError(f'lang must be "zh" or "en"; got {lang!r}')
    limit = {"spend_follows_frequency": "max_correlation", "holdout_error": "max_holdout_error"}
    return [
        CLV_DOUBT_TEXT[code][lang].format(value=value, limit=CLV_GUARDS[limit[code]])
        for code, value in doubts.items()
    ]


_BGNBD_PARAMS = ("r", "alpha", "a", "b")
_GG_PARAMS = ("p", "q", "v")
# Step of the central differences of the Hessian, on the log-parameter scale (0.1% of each
# parameter): the truncation error is ~1e-6 relative and the rounding error of a log-likelihood of
# ~1e4 stays below that.
_HESSIAN_STEP = 1e-3


class CLVFitError(AnalysisKitError, ValueError):
    """A BG/NBD or Gamma-Gamma model could not be fitted; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# Likelihoods
# ---------------------------------------------------------------------------------------------


def bgnbd_log_likelihood(
    params: Sequence[float], frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    r"""Return each customer's BG/NBD log-likelihood at ``params = (r, alpha, a, b)``.

    The Fader-Hardie-Lee (2005, eq. 6) likelihood

    .. math::

        L = \frac{B(a, b + x)}{B(a, b)} \frac{\Gamma(r + x) \alpha^r}{\Gamma(r)(\alpha + T)^{r + x}}
            + \delta_{x > 0} \frac{B(a + 1, b + x - 1)}{B(a, b)}
              \frac{\Gamma(r + x) \alpha^r}{\Gamma(r)(\alpha + t_x)^{r + x}},

    summed on the log scale with ``logaddexp`` so that long histories do not underflow.

    Parameters
    ----------
    params : sequence of 4 floats
        ``r, alpha, a, b``, all > 0.
    frequency, recency, T : array-like
        Repeat purchases ``x``, time of the last purchase ``t_x`` and age ``T`` of each customer.

    Returns
    -------
    ndarray
        One log-likelihood per customer.

    Examples
    --------
    A customer who never bought again: ``L = (α / (α + T))^r``.

    >>> round(float(bgnbd_log_likelihood((0.243, 4.414, 0.793, 2.426), [0], [0], [38.86])[0]), 4)
    -0.5547
    """
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(frequency, dtype="float64")
    t_x = np.asarray(recency, dtype="float64")
    age = np.asarray(T, dtype="float64")
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + age)
    repeat = x > 0
    a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + a2 + np.logaddexp(a3, a4)


def gamma_gamma_log_likelihood(
    params: Sequence[float], frequency: Any, monetary_value: Any
) -> np.ndarray:
    r"""Return each repeat buyer's Gamma-Gamma log-likelihood at ``params = (p, q, v)``.

    The density of a customer's average spend ``m`` over ``x`` purchases (Fader and Hardie, "The
    Gamma-Gamma model of monetary value", eq. 4):

    .. math::

        f(m \mid x) = \frac{\Gamma(px + q)}{\Gamma(px)\Gamma(q)}
            \frac{v^q m^{px - 1} x^{px}}{(v + mx)^{px + q}}.

    Parameters
    ----------
    params : sequence of 3 floats
        ``p, q, v``, all > 0.
    frequency, monetary_value : array-like
        Number of repeat purchases ``x`` (> 0) and their average value ``m`` (> 0).

    Returns
    -------
    ndarray
        One log-likelihood per customer.

    Examples
    --------
    >>> round(float(gamma_gamma_log_likelihood((6.25, 3.74, 15.44), [2], [22.35])[0]), 4)
    -3.5513
    """
    p, q, v = (float(value) for value in params)
    x = np.asarray(frequency, dtype="float64")
    m = np.asarray(monetary_value, dtype="float64")
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )


# ---------------------------------------------------------------------------------------------
# Fitting machinery shared by both models
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    params: np.ndarray
    log_likelihood: float
    covariance: np.ndarray
    converged: bool
    message: str


def _maximise(
    nll: Any,
    x0: np.ndarray,
    *,
    names: tuple[str, ...],
    model: str,
    n: int,
    penalizer: float,
    max_log_param: float,
) -> _Fit:
    """Maximise a log-likelihood over log-parameters; return estimates and their covariance.

    ``nll(theta)`` is the total negative log-likelihood at ``theta = log(params)``. The objective
    is its mean plus the penalty ``penalizer * sum((theta - x0)**2)``; L-BFGS-B runs from ``x0``,
    Nelder-Mead polishes, and L-BFGS-B runs again from the polished point.
    """

    def penalty(theta: np.ndarray) -> float:
        return penalizer * float(np.sum((theta - x0) ** 2))

    def objective(theta: np.ndarray) -> float:
        value = nll(theta) / n + penalty(theta)
        return value if np.isfinite(value) else 1e300

    bounds = [(-max_log_param - 1, max_log_param + 1)] * len(x0)

    def check(theta: np.ndarray, value: float) -> None:
        if not np.isfinite(value) or value >= 1e299:
            raise CLVFitError(
                f"{model}: the likelihood is not finite at any parameter value tried; check the "
                "summary for impossible values (recency > T, negative or non-integer frequency)"
            )
        runaway = [nm for nm, th in zip(names, theta, strict=True) if abs(th) >= max_log_param]
        if runaway:
            # "a → 0" rather than a=1.84e-09: the message is read on a report page
            shown = ", ".join(
                f"{nm} → {'0' if theta[names.index(nm)] < 0 else '∞'}" for nm in runaway
            )
            raise CLVFitError(
                f"{model}: the fit did not converge: {shown} ran off towards 0 or infinity, so the "
                "data cannot pin these parameters down. Use more customers or a longer history, a "
                "finer freq (e.g. 'W' instead of 'M'), or a small penalizer (e.g. penalizer=0.01)"
            )

    with np.errstate(all="ignore"):
        first = optimize.minimize(objective, x0, method="L-BFGS-B", bounds=bounds)
        check(first.x, first.fun)
        polish = optimize.minimize(
            objective,
            first.x,
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 2000 * len(x0)},
        )
        best = optimize.minimize(
            objective, polish.x, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-15}
        )
    theta = best.x if best.fun <= polish.fun else polish.x
    check(theta, min(best.fun, polish.fun))
    hessian = _hessian(lambda th: nll(th) + n * penalty(th), theta)
    params = np.exp(theta)
    covariance = np.full((len(theta), len(theta)), np.nan)
    try:
        inverse = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        inverse = None
    if inverse is not None and np.all(np.isfinite(inverse)) and np.all(np.diag(inverse) > 0):
        # Delta method: d params = diag(params) d theta at the optimum, where the gradient is 0.
        covariance = inverse * np.outer(params, params)
    else:
        warnings.warn(
            f"{model}: the Hessian of the log-likelihood is not positive definite at the "
            "optimum, so standard errors are not available (NaN); the estimates are weakly "
            "identified by these data",
            RuntimeWarning,
            stacklevel=3,
        )
    return _Fit(
        params=params,
        log_likelihood=-float(nll(theta)),
        covariance=covariance,
        converged=bool(best.success or polish.success),
        message=str(best.message),
    )


def _hessian(func: Any, theta: np.ndarray, step: float = _HESSIAN_STEP) -> np.ndarray:
    """Central-difference Hessian of ``func`` at ``theta``."""
    k = len(theta)
    hess = np.empty((k, k))
    f0 = func(theta)
    eye = np.eye(k) * step
    for i in range(k):
        hess[i, i] = (func(theta + eye[i]) - 2 * f0 + func(theta - eye[i])) / step**2
        for j in range(i):
            value = (
                func(theta + eye[i] + eye[j])
                - func(theta + eye[i] - eye[j])
                - func(theta - eye[i] + eye[j])
                + func(theta - eye[i] - eye[j])
            ) / (4 * step**2)
            hess[i, j] = hess[j, i] = value
    return hess


def _rules(model: str, overrides: Mapping[str, float] | None) -> dict[str, float]:
    rules = dict(FIT_RULES[model])
    for key, value in (overrides or {}).items():
        if key not in rules:
            raise ValueError(f"rules for {model} must use the keys {sorted(rules)}; got {key!r}")
        rules[key] = value
    return rules


def _check_penalizer(penalizer: float) -> float:
    if isinstance(penalizer, bool) or not isinstance(penalizer, int | float) or penalizer < 0:
        raise ValueError(f"penalizer must be a number >= 0; got {penalizer!r}")
    return float(penalizer)


def _numeric(frame: pd.DataFrame, columns: Iterable[str], where: str) -> dict[str, np.ndarray]:
    """Return the columns as float arrays; refuse missing or infinite values."""
    out = {}
    for col in columns:
        try:
            values = pd.to_numeric(frame[col], errors="raise").to_numpy(dtype="float64")
        except (TypeError, ValueError) as exc:
            raise CLVFitError(f"{where}: column {col!r} must be numeric ({exc})") from exc
        bad = int((~np.isfinite(values)).sum())
        if bad:
            raise CLVFitError(
                f"{where}: column {col!r} has {bad} missing or infinite values (NaN); drop those "
                "customers or rebuild the summary with analysis_kit.rfm.rfm_summary"
            )
        out[col] = values
    return out


def _summary_arrays(
    summary: pd.DataFrame,
    *,
    frequency_col: str,
    recency_col: str,
    T_col: str,
    where: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    require_columns(summary.columns, (frequency_col, recency_col, T_col), where=where)
    cols = _numeric(summary, (frequency_col, recency_col, T_col), where)
    x, t_x, age = cols[frequency_col], cols[recency_col], cols[T_col]
    problems = []
    if (x < 0).any() or (x != np.round(x)).any():
        problems.append(f"{frequency_col} must be whole numbers >= 0")
    if (t_x < 0).any() or (age < 0).any():
        problems.append(f"{recency_col} and {T_col} must be >= 0")
    if (t_x > age).any():
        problems.append(f"{recency_col} must not exceed {T_col} ({int((t_x > age).sum())} rows)")
    if ((x == 0) & (t_x != 0)).any():
        problems.append(f"{recency_col} must be 0 when {frequency_col} is 0")
    if problems:
        raise CLVFitError(
            f"{where}: the summary is not in the lifetimes convention: {'; '.join(problems)}. "
            "Build it with analysis_kit.rfm.rfm_summary(orders, convention='lifetimes')"
        )
    return x, t_x, age


def _series(values: np.ndarray, index: pd.Index, name: str) -> pd.Series:
    return pd.Series(values, index=index, name=name, dtype="float64")


def _param_table(names: tuple[str, ...], params: pd.Series, se: pd.Series) -> pd.DataFrame:
    # Every parameter of both models is positive: the interval is symmetric on the log scale
    # (delta method, se(log θ) = se(θ) / θ), so it never goes below 0 as θ ± 1.96 se can.
    z = 1.959963984540054
    spread = np.exp(z * se / params)
    return pd.DataFrame(
        {
            "estimate": params,
            "std_error": se,
            "lower_95": params / spread,
            "upper_95": params * spread,
        },
        index=pd.Index(list(names), name="parameter"),
    )


# ---------------------------------------------------------------------------------------------
# BG/NBD
# ---------------------------------------------------------------------------------------------


@dataclass
class BetaGeoModel:
    """The BG/NBD model of repeat purchases and dropout (sklearn-like: learned attributes end in ``_``).

    Parameters
    ----------
    penalizer : float, default=0.0
        Weight of an L2 penalty on the log-parameters, ``penalizer · Σ (log θ - log θ₀)²``, added
        to the mean negative log-likelihood; θ₀ are the starting values (r = 1,
        α = mean T / (mean frequency + 1), a = b = 1), which are on the data's time scale. 0 is
        plain maximum likelihood; a small value (0.001 to 0.1) is a weak prior that keeps every
        parameter finite and away from 0 on small or degenerate data, at the price of estimates
        pulled towards θ₀ and standard errors that describe the penalised fit. (lifetimes'
        ``penalizer_coef`` penalises the squared parameters instead, which cannot stop a parameter
        from running off to 0.)
    rules : mapping, optional
        Overrides of :data:`FIT_RULES` ``["bgnbd"]``.

    Attributes
    ----------
    params_ : Series
        ``r, alpha, a, b``.
    standard_errors_ : Series
        Standard errors from the inverse Hessian of the negative log-likelihood at the optimum
        (computed on the log-parameter scale by central differences, then carried to the
        parameters by the delta method); NaN when the Hessian is not positive definite.
    covariance_ : DataFrame
        The estimated covariance matrix of ``params_``.
    log_likelihood_ : float
        The log-likelihood at ``params_`` (without the penalty).
    n_customers_, n_repeat_buyers_ : int
        Customers fitted, and those among them with ``frequency > 0``.
    converged_ : bool
        Whether the optimiser reported success (the fit is refused outright when a parameter
        runs off to 0 or infinity).
    """

    penalizer: float = 0.0
    rules: Mapping[str, float] | None = None
    params_: pd.Series = field(init=False, repr=False)
    standard_errors_: pd.Series = field(init=False, repr=False)
    covariance_: pd.DataFrame = field(init=False, repr=False)
    log_likelihood_: float = field(init=False, repr=False)
    n_customers_: int = field(init=False, repr=False)
    n_repeat_buyers_: int = field(init=False, repr=False)
    converged_: bool = field(init=False, repr=False)

    @classmethod
    def from_params(cls, *, r: float, alpha: float, a: float, b: float) -> BetaGeoModel:
        """Return a model with given parameters (e.g. published ones), without fitting."""
        model = cls()
        values = {"r": r, "alpha": alpha, "a": a, "b": b}
        for name, value in values.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0; got {value!r}")
        model.params_ = pd.Series(values, dtype="float64")
        model.standard_errors_ = pd.Series(np.nan, index=list(_BGNBD_PARAMS))
        model.covariance_ = pd.DataFrame(np.nan, index=list(_BGNBD_PARAMS), columns=_BGNBD_PARAMS)
        model.log_likelihood_ = math.nan
        model.n_customers_ = model.n_repeat_buyers_ = 0
        model.converged_ = True
        return model

    def fit(
        self,
        summary: pd.DataFrame,
        *,
        frequency_col: str = FREQUENCY,
        recency_col: str = RECENCY,
        T_col: str = T,
    ) -> BetaGeoModel:
        """Fit by maximum likelihood; see :func:`fit_bgnbd`. Returns ``self``."""
        where = "fit_bgnbd"
        penalizer = _check_penalizer(self.penalizer)
        rules = _rules("bgnbd", self.rules)
        x, t_x, age = _summary_arrays(
            summary, frequency_col=frequency_col, recency_col=recency_col, T_col=T_col, where=where
        )
        n = len(x)
        repeat = int((x > 0).sum())
        if n < rules["min_customers"]:
            raise CLVFitError(
                f"{where}: {n} customers are too few to fit the BG/NBD model (at least "
                f"{rules['min_customers']:g}); use more customers or a longer history"
            )
        if repeat < rules["min_repeat_buyers"]:
            raise CLVFitError(
                f"{where}: {repeat} of {n} customers bought more than once (at least "
                f"{rules['min_repeat_buyers']:g} needed); without repeat buyers the model cannot "
                "tell the purchase rate from dropout. Use a longer history or a finer freq "
                "(e.g. 'W' or 'D' instead of 'M')"
            )
        if (age <= 0).all():
            raise CLVFitError(f"{where}: every {T_col} is 0; the customers have no history yet")

        def nll(theta: np.ndarray) -> float:
            return -float(np.sum(bgnbd_log_likelihood(np.exp(theta), x, t_x, age)))

        # Start near the method-of-moments scale: r = 1, alpha = mean T / (mean x + 1) puts the
        # mean purchase rate r / alpha at the observed one; a = b = 1 is a flat dropout prior.
        alpha0 = max(float(age.mean()) / (float(x.mean()) + 1.0), 1e-3)
        x0 = np.log([1.0, alpha0, 1.0, 1.0])
        fit = _maximise(
            nll,
            x0,
            names=_BGNBD_PARAMS,
            model=where,
            n=n,
            penalizer=penalizer,
            max_log_param=rules["max_log_param"],
        )
        names = list(_BGNBD_PARAMS)
        self.params_ = pd.Series(fit.params, index=names, dtype="float64")
        self.covariance_ = pd.DataFrame(fit.covariance, index=names, columns=names)
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(fit.covariance)), index=names)
        self.log_likelihood_ = fit.log_likelihood
        self.n_customers_ = n
        self.n_repeat_buyers_ = repeat
        self.converged_ = fit.converged
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise AttributeError("this BetaGeoModel is not fitted yet; call fit() or fit_bgnbd()")

    def summary_table(self) -> pd.DataFrame:
        """Return the parameters with standard errors and 95% intervals.

        Returns
        -------
        DataFrame
            Indexed by ``parameter`` (r, alpha, a, b), with ``estimate``, ``std_error``,
            ``lower_95`` and ``upper_95``: a 95% interval computed on the log scale,
            ``estimate ÷ / × exp(1.96 · std_error / estimate)``, since every parameter is
            positive (an interval of ± 1.96 standard errors would go below 0 for a
            parameter known as poorly as ``b`` often is).
        """
        self._check_fitted()
        return _param_table(_BGNBD_PARAMS, self.params_, self.standard_errors_)

    def log_likelihood(
        self,
        summary: pd.DataFrame,
        *,
        frequency_col: str = FREQUENCY,
        recency_col: str = RECENCY,
        T_col: str = T,
    ) -> pd.Series:
        """Return each customer's log-likelihood under the fitted parameters (named ``log_likelihood``)."""
        self._check_fitted()
        x, t_x, age = _summary_arrays(
            summary,
            frequency_col=frequency_col,
            recency_col=recency_col,
            T_col=T_col,
            where="log_likelihood",
        )
        values = bgnbd_log_likelihood(self.params_.to_numpy(), x, t_x, age)
        return _series(values, summary.index, "log_likelihood")

    def probability_alive(
        self,
        summary: pd.DataFrame,
        *,
        frequency_col: str = FREQUENCY,
        recency_col: str = RECENCY,
        T_col: str = T,
    ) -> pd.Series:
        """Return P(alive): the probability that each customer has not dropped out by ``T``.

        ``1 / (1 + δ(x>0) · a / (b + x - 1) · ((α + T) / (α + t_x))^(r + x))`` (Fader, Hardie
        and Lee 2005, eq. 11 of their technical note); 1 for a customer who never bought again,
        since under BG/NBD a customer can only drop out right after a purchase.

        Returns
        -------
        Series
            Named ``p_alive``, aligned with ``summary``'s index.
        """
        self._check_fitted()
        x, t_x, age = _summary_arrays(
            summary,
            frequency_col=frequency_col,
            recency_col=recency_col,
            T_col=T_col,
            where="probability_alive",
        )
        return _series(self._p_alive(x, t_x, age), summary.index, "p_alive")

    def _p_alive(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self.params_.to_numpy()
        repeat = x > 0
        log_odds = (
            np.log(a)
            - np.log(np.where(repeat, b + x - 1, 1.0))
            + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        )
        return np.where(repeat, special.expit(-log_odds), 1.0)

    def expected_purchases(
        self,
        summary: pd.DataFrame,
        *,
        t: float,
        frequency_col: str = FREQUENCY,
        recency_col: str = RECENCY,
        T_col: str = T,
    ) -> pd.Series:
        """Return each customer's expected number of purchases in the next ``t`` periods.

        The conditional expectation of Fader, Hardie and Lee (2005, eq. 10):

        ``E[Y(t) | x, t_x, T] = (a + b + x - 1) / (a - 1) · [1 - ((α + T) / (α + T + t))^(r + x)
        · 2F1(r + x, b + x; a + b + x - 1; t / (α + T + t))] / (1 + δ(x>0) · a / (b + x - 1) ·
        ((α + T) / (α + t_x))^(r + x))``.

        Parameters
        ----------
        summary : DataFrame
            The lifetimes-convention summary.
        t : float
            Horizon, in the summary's periods (>= 0).
        frequency_col, recency_col, T_col : str
            Column names.

        Returns
        -------
        Series
            Named ``expected_purchases``, aligned with ``summary``'s index.

        Notes
        -----
        The formula divides by ``a - 1``; at exactly ``a = 1`` it is 0/0 and gives NaN.
        """
        self._check_fitted()
        t = _check_horizon(t)
        x, t_x, age = _summary_arrays(
            summary,
            frequency_col=frequency_col,
            recency_col=recency_col,
            T_col=T_col,
            where="expected_purchases",
        )
        return _series(self._expected(x, t_x, age, t), summary.index, "expected_purchases")

    def _expected(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, t: float) -> np.ndarray:
        r, alpha, a, b = self.params_.to_numpy()
        if t == 0:
            return np.zeros_like(x)
        z = t / (alpha + age + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        ratio = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + t)))
        numerator = (a + b + x - 1) / (a - 1) * (1 - ratio * hyp)
        return numerator * self._p_alive(x, t_x, age)

    def expected_purchases_new(self, t: float) -> float:
        """Return E[X(t)]: expected purchases in ``t`` periods of a customer just acquired.

        ``(a + b - 1) / (a - 1) · [1 - (α / (α + t))^r · 2F1(r, b; a + b - 1; t / (α + t))]``
        (Fader, Hardie and Lee 2005, eq. 9).
        """
        self._check_fitted()
        t = _check_horizon(t)
        r, alpha, a, b = self.params_.to_numpy()
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))


def _check_horizon(t: float) -> float:
    if isinstance(t, bool) or not isinstance(t, int | float | np.integer | np.floating):
        raise ValueError(f"t must be a number of periods >= 0; got {t!r}")
    if not (np.isfinite(t) and t >= 0):
        raise ValueError(f"t must be a number of periods >= 0; got {t!r}")
    return float(t)


def fit_bgnbd(
    summary: pd.DataFrame,
    *,
    penalizer: float = 0.0,
    rules: Mapping[str, float] | None = None,
    frequency_col: str = FREQUENCY,
    recency_col: str = RECENCY,
    T_col: str = T,
) -> BetaGeoModel:
    """Fit the BG/NBD model to a lifetimes-convention summary by maximum likelihood.

    The log-likelihood (:func:`bgnbd_log_likelihood`) is maximised over the log of
    ``r, alpha, a, b`` (so they stay positive) with scipy: L-BFGS-B, a Nelder-Mead polish, then
    L-BFGS-B again. Standard errors come from the inverse of a central-difference Hessian on the
    log scale, carried to the parameters by the delta method.

    Parameters
    ----------
    summary : DataFrame
        One row per customer with ``frequency`` (repeat periods), ``recency`` and ``T``, e.g.
        ``rfm_summary(orders, convention="lifetimes", freq="W")``. Its period is the model's time
        unit. Not modified.
    penalizer : float, default=0.0
        See :class:`BetaGeoModel`.
    rules : mapping, optional
        Overrides of :data:`FIT_RULES` ``["bgnbd"]`` (``min_customers``, ``min_repeat_buyers``,
        ``max_log_param``).
    frequency_col, recency_col, T_col : str
        Column names.

    Returns
    -------
    BetaGeoModel
        Fitted: ``params_`` (r, alpha, a, b), ``standard_errors_``, ``covariance_``,
        ``log_likelihood_``, ``n_customers_``, ``n_repeat_buyers_``, ``converged_``.

    Raises
    ------
    CLVFitError
        Too few customers or repeat buyers, missing values, a summary not in the lifetimes
        convention, or a fit that does not converge (the message says what to try).
    SchemaError
        A column is missing.
    """
    return BetaGeoModel(penalizer=penalizer, rules=rules).fit(
        summary, frequency_col=frequency_col, recency_col=recency_col, T_col=T_col
    )


# ---------------------------------------------------------------------------------------------
# Gamma-Gamma
# ---------------------------------------------------------------------------------------------


@dataclass
class GammaGammaModel:
    """The Gamma-Gamma model of the value per purchase (sklearn-like: learned attributes end in ``_``).

    Parameters
    ----------
    penalizer : float, default=0.0
        Weight of an L2 penalty on the log-parameters around the starting values (p = q = 2,
        v = half the mean value of the repeat buyers), as in :class:`BetaGeoModel`.
    rules : mapping, optional
        Overrides of :data:`FIT_RULES` ``["gamma_gamma"]``.

    Attributes
    ----------
    params_ : Series
        ``p, q, v`` (lifetimes' names; Fader and Hardie write γ for ``v``).
    standard_errors_, covariance_, log_likelihood_, converged_
        As in :class:`BetaGeoModel`.
    n_customers_ : int
        Repeat buyers fitted (customers with ``frequency > 0``).
    """

    penalizer: float = 0.0
    rules: Mapping[str, float] | None = None
    params_: pd.Series = field(init=False, repr=False)
    standard_errors_: pd.Series = field(init=False, repr=False)
    covariance_: pd.DataFrame = field(init=False, repr=False)
    log_likelihood_: float = field(init=False, repr=False)
    n_customers_: int = field(init=False, repr=False)
    converged_: bool = field(init=False, repr=False)

    @classmethod
    def from_params(cls, *, p: float, q: float, v: float) -> GammaGammaModel:
        """Return a model with given parameters (e.g. published ones), without fitting."""
        model = cls()
        values = {"p": p, "q": q, "v": v}
        for name, value in values.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0; got {value!r}")
        model.params_ = pd.Series(values, dtype="float64")
        model.standard_errors_ = pd.Series(np.nan, index=list(_GG_PARAMS))
        model.covariance_ = pd.DataFrame(np.nan, index=list(_GG_PARAMS), columns=_GG_PARAMS)
        model.log_likelihood_ = math.nan
        model.n_customers_ = 0
        model.converged_ = True
        return model

    def fit(
        self,
        summary: pd.DataFrame,
        *,
        frequency_col: str = FREQUENCY,
        monetary_col: str = MONETARY_VALUE,
    ) -> GammaGammaModel:
        """Fit by maximum likelihood; see :func:`fit_gamma_gamma`. Returns ``self``."""
        where = "fit_gamma_gamma"
        penalizer = _check_penalizer(self.penalizer)
        rules = _rules("gamma_gamma", self.rules)
        require_columns(summary.columns, (frequency_col, monetary_col), where=where)
        cols = _numeric(summary, (frequency_col, monetary_col), where)
        repeat = cols[frequency_col] > 0
        x = cols[frequency_col][repeat]
        m = cols[monetary_col][repeat]
        n = len(x)
        if n == 0:
            raise CLVFitError(
                f"{where}: no repeat buyers ({frequency_col} > 0): the Gamma-Gamma model is fitted "
                "on the average value of repeat purchases; use a longer history or a finer freq"
            )
        if n < rules["min_customers"]:
            raise CLVFitError(
                f"{where}: {n} repeat buyers are too few to fit the Gamma-Gamma model (at least "
                f"{rules['min_customers']:g}); use more customers or a longer history"
            )
        if (m <= 0).any():
            raise CLVFitError(
                f"{where}: {int((m <= 0).sum())} repeat buyers have {monetary_col} <= 0; the "
                "model needs positive purchase values. Net refunds first (rfm_summary does) or "
                "drop those customers"
            )

        def nll(theta: np.ndarray) -> float:
            return -float(np.sum(gamma_gamma_log_likelihood(np.exp(theta), x, m)))

        # Start at p = q = 2 and v such that the population mean p v / (q - 1) is the observed one.
        x0 = np.log([2.0, 2.0, max(float(m.mean()) / 2.0, 1e-6)])
        fit = _maximise(
            nll,
            x0,
            names=_GG_PARAMS,
            model=where,
            n=n,
            penalizer=penalizer,
            max_log_param=rules["max_log_param"] + max(0.0, math.log(max(float(m.mean()), 1.0))),
        )
        names = list(_GG_PARAMS)
        self.params_ = pd.Series(fit.params, index=names, dtype="float64")
        self.covariance_ = pd.DataFrame(fit.covariance, index=names, columns=names)
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(fit.covariance)), index=names)
        self.log_likelihood_ = fit.log_likelihood
        self.n_customers_ = n
        self.converged_ = fit.converged
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise AttributeError(
                "this GammaGammaModel is not fitted yet; call fit() or fit_gamma_gamma()"
            )

    def summary_table(self) -> pd.DataFrame:
        """Return the parameters with standard errors and 95% intervals (as :class:`BetaGeoModel`)."""
        self._check_fitted()
        return _param_table(_GG_PARAMS, self.params_, self.standard_errors_)

    def population_mean(self) -> float:
        """Return the mean value per purchase across customers, ``p v / (q - 1)`` (NaN if q <= 1)."""
        self._check_fitted()
        p, q, v = self.params_.to_numpy()
        return float(p * v / (q - 1)) if q > 1 else math.nan

    def expected_average_value(
        self,
        summary: pd.DataFrame,
        *,
        frequency_col: str = FREQUENCY,
        monetary_col: str = MONETARY_VALUE,
    ) -> pd.Series:
        """Return each customer's expected value per future purchase.

        The conditional expectation ``(v + m x) p / (p x + q - 1)``: a weighted average of the
        population mean ``p v / (q - 1)`` and the customer's own average ``m``, with weight
        ``p x / (p x + q - 1)`` on ``m`` (more purchases, more trust in their own average). A
        customer without repeat purchases gets the population mean (NaN when ``q <= 1``, where
        the mean is infinite).

        Returns
        -------
        Series
            Named ``expected_value``, aligned with ``summary``'s index.
        """
        self._check_fitted()
        where = "expected_average_value"
        require_columns(summary.columns, (frequency_col, monetary_col), where=where)
        cols = _numeric(summary, (frequency_col, monetary_col), where)
        x, m = cols[frequency_col], cols[monetary_col]
        p, q, v = self.params_.to_numpy()
        repeat = x > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            own = (v + m * x) * p / (p * x + q - 1)
        values = np.where(repeat, own, self.population_mean())
        return _series(values, summary.index, "expected_value")


def fit_gamma_gamma(
    summary: pd.DataFrame,
    *,
    penalizer: float = 0.0,
    rules: Mapping[str, float] | None = None,
    frequency_col: str = FREQUENCY,
    monetary_col: str = MONETARY_VALUE,
) -> GammaGammaModel:
    """Fit the Gamma-Gamma model of purchase value by maximum likelihood, on repeat buyers.

    Only customers with ``frequency > 0`` enter (their ``monetary_value`` is the mean value of
    their repeat purchases; the first purchase is left out, as in lifetimes and Fader-Hardie).
    The model assumes that how much a customer spends per purchase does not depend on how often
    they buy; check the correlation of ``frequency`` and ``monetary_value`` among repeat buyers
    (it should be near 0) before trusting it.

    Parameters
    ----------
    summary : DataFrame
        The lifetimes-convention summary (``frequency``, ``monetary_value``). Not modified.
    penalizer : float, default=0.0
        See :class:`GammaGammaModel`.
    rules : mapping, optional
        Overrides of :data:`FIT_RULES` ``["gamma_gamma"]`` (``min_customers``, ``max_log_param``).
    frequency_col, monetary_col : str
        Column names.

    Returns
    -------
    GammaGammaModel
        Fitted: ``params_`` (p, q, v), ``standard_errors_``, ``covariance_``,
        ``log_likelihood_``, ``n_customers_``, ``converged_``.

    Raises
    ------
    CLVFitError
        No or too few repeat buyers, non-positive values, missing values, or no convergence.
    SchemaError
        A column is missing.
    """
    return GammaGammaModel(penalizer=penalizer, rules=rules).fit(
        summary, frequency_col=frequency_col, monetary_col=monetary_col
    )


# ---------------------------------------------------------------------------------------------
# CLV
# ---------------------------------------------------------------------------------------------


def customer_lifetime_value(
    bgnbd: BetaGeoModel,
    gg: GammaGammaModel,
    summary: pd.DataFrame,
    *,
    months: Sequence[int] = (3, 6, 12),
    discount_rate: float = 0.01,
    freq: str = "D",
    periods_per_month: Mapping[str, float] | None = None,
    customer_col: str = CUSTOMER_ID,
    frequency_col: str = FREQUENCY,
    recency_col: str = RECENCY,
    T_col: str = T,
    monetary_col: str = MONETARY_VALUE,
) -> pd.DataFrame:
    """Return expected purchases and discounted customer lifetime value over horizons in months.

    As lifetimes' ``customer_lifetime_value``: with ``f`` periods per month, the purchases
    expected in month ``i`` are ``E[Y(i f)] - E[Y((i - 1) f)]`` (BG/NBD, conditional on each
    customer's history), each worth the Gamma-Gamma expected value, discounted by
    ``(1 + discount_rate)^i``:

    ``CLV(M) = Σ_{i=1..M} expected_value · (E[Y(i f)] - E[Y((i - 1) f)]) / (1 + discount_rate)^i``.

    Parameters
    ----------
    bgnbd : BetaGeoModel
        Fitted on a summary with the same ``freq``.
    gg : GammaGammaModel
        Fitted on the same customers' repeat purchases.
    summary : DataFrame
        The lifetimes-convention summary; not modified.
    months : sequence of int, default=(3, 6, 12)
        Horizons in months (each >= 1).
    discount_rate : float, default=0.01
        Discount rate **per month** (0.01 = 1% a month, about 12.7% a year); >= 0.
    freq : {"D", "W", "M"}, default="D"
        The period of the summary (the ``freq`` passed to ``rfm_summary``).
    periods_per_month : mapping, optional
        Replaces :data:`PERIODS_PER_MONTH` (lifetimes' 30 days, 4.345 weeks, 1 month).
    customer_col : str, default="customer_id"
        Copied to the result when present in ``summary``.
    frequency_col, recency_col, T_col, monetary_col : str
        Column names.

    Returns
    -------
    DataFrame
        One row per customer, same index and order as ``summary``:

        - ``customer_col`` – when present in ``summary``.
        - ``p_alive`` – probability the customer is still active.
        - ``expected_value`` – Gamma-Gamma expected value per future purchase.
        - ``expected_purchases_{M}m`` – expected purchases in the next ``M`` months (undiscounted),
          one column per horizon.
        - ``clv_{M}m`` – discounted expected value of those purchases, one column per horizon.

    Examples
    --------
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"frequency": [2.0], "recency": [30.43], "T": [38.86],
    ...                         "monetary_value": [22.35]})
    >>> bg = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> gg = GammaGammaModel.from_params(p=6.25, q=3.74, v=15.44)
    >>> clv = customer_lifetime_value(bg, gg, summary, months=(12,), freq="W")
    >>> list(clv.columns)
    ['p_alive', 'expected_value', 'expected_purchases_12m', 'clv_12m']
    >>> round(float(clv["clv_12m"].iloc[0]), 2)
    36.29
    """
    ppm = dict(PERIODS_PER_MONTH if periods_per_month is None else periods_per_month)
    if not isinstance(freq, str) or freq not in ppm:
        raise ValueError(f"freq must be one of {sorted(ppm)}; got {freq!r}")
    factor = float(ppm[freq])
    if not factor > 0:
        raise ValueError(f"periods_per_month[{freq!r}] must be > 0; got {ppm[freq]!r}")
    horizons = _check_months(months)
    if (
        isinstance(discount_rate, bool)
        or not isinstance(discount_rate, int | float)
        or not (np.isfinite(discount_rate) and discount_rate >= 0)
    ):
        raise ValueError(
            f"discount_rate must be a monthly rate >= 0, e.g. 0.01; got {discount_rate!r}"
        )
    bgnbd._check_fitted()
    gg._check_fitted()
    where = "customer_lifetime_value"
    x, t_x, age = _summary_arrays(
        summary, frequency_col=frequency_col, recency_col=recency_col, T_col=T_col, where=where
    )
    value = gg.expected_average_value(
        summary, frequency_col=frequency_col, monetary_col=monetary_col
    ).to_numpy()
    out = pd.DataFrame(index=summary.index)
    if customer_col in summary.columns:
        out[customer_col] = summary[customer_col]
    out["p_alive"] = bgnbd._p_alive(x, t_x, age)
    out["expected_value"] = value
    cumulative = {0: np.zeros(len(x))}
    clv = np.zeros(len(x))
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(1, max(horizons) + 1):
        cumulative[i] = bgnbd._expected(x, t_x, age, i * factor)
        clv = clv + value * (cumulative[i] - cumulative[i - 1]) / (1 + discount_rate) ** i
        if i in horizons:
            results[i] = (cumulative[i], clv.copy())
    for m in horizons:
        out[f"expected_purchases_{m}m"] = results[m][0]
    for m in horizons:
        out[f"clv_{m}m"] = results[m][1]
    return out


def _check_months(months: Sequence[int]) -> list[int]:
    if isinstance(months, int | np.integer) and not isinstance(months, bool):
        months = [int(months)]
    try:
        values = list(months)
    except TypeError:
        values = []
    ok = bool(values) and all(
        isinstance(m, int | np.integer) and not isinstance(m, bool) and m >= 1 for m in values
    )
    if not ok:
        raise ValueError(
            f"months must be whole numbers of months >= 1, e.g. (3, 6, 12); got {months!r}"
        )
    return sorted({int(m) for m in values})


# ---------------------------------------------------------------------------------------------
# Calibration and holdout
# ---------------------------------------------------------------------------------------------


def calibration_holdout(
    orders: pd.DataFrame,
    *,
    calibration_end: Any,
    holdout_end: Any,
    freq: str = "D",
    customer_col: str = CUSTOMER_ID,
    date_col: str = ORDER_DATE,
    amount_col: str = AMOUNT,
) -> pd.DataFrame:
    """Split an orders table into a calibration summary and the purchases of a later holdout.

    As lifetimes' ``calibration_and_holdout_data``, lines are first cut by their day: the
    calibration part is ``rfm_summary(lines up to calibration_end, convention="lifetimes",
    freq=freq, as_of=calibration_end)`` (customers whose first purchase is on or before
    ``calibration_end``); the holdout is the lines after ``calibration_end`` up to and including
    ``holdout_end``, put into periods (a purchase later in the week of ``calibration_end`` is a
    holdout purchase, not a calibration one). A holdout purchase period is counted as in the calibration: lines
    are netted per period, every period with a line is a purchase (0.00 lines included, as in
    lifetimes), and a period with a refund line only when its net amount is positive in cents
    (so refunds reduce that period's value and a fully refunded period is no purchase). Dates
    with a time zone count on their own wall clock.

    Parameters
    ----------
    orders : DataFrame
        Order lines (pandas) with customer, datetime and amount columns.
    calibration_end, holdout_end : str, date or Timestamp
        Last day of the calibration and of the holdout (only the calendar day counts: every
        line dated on it is in; a time zone is dropped, keeping the local date);
        ``holdout_end`` must lie in a later period.
    freq : {"D", "W", "M"}, default="D"
        Period (days, Monday-to-Sunday weeks, calendar months), as in ``rfm_summary``.
    customer_col, date_col, amount_col : str
        Column names.

    Returns
    -------
    DataFrame
        One row per calibration customer, sorted by customer:

        - ``customer_col``.
        - ``frequency_cal``, ``recency_cal``, ``T_cal``, ``monetary_value_cal`` – the calibration
          summary (lifetimes convention).
        - ``frequency_holdout`` – purchase periods in the holdout.
        - ``monetary_value_holdout`` – mean net value of those periods (0 when none).
        - ``duration_holdout`` – holdout length in periods (the same for everyone).

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["A", "A", "A", "B"],
    ...     "order_date": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-12", "2024-01-03"]),
    ...     "amount": [10.0, 20.0, 30.0, 40.0]})
    >>> split = calibration_holdout(orders, calibration_end="2024-01-06", holdout_end="2024-01-16")
    >>> split[["customer_id", "frequency_cal", "recency_cal", "T_cal", "frequency_holdout"]]
      customer_id  frequency_cal  recency_cal  T_cal  frequency_holdout
    0           A            1.0          4.0    5.0                  1
    1           B            0.0          0.0    3.0                  0
    >>> split[["monetary_value_cal", "monetary_value_holdout", "duration_holdout"]]
       monetary_value_cal  monetary_value_holdout  duration_holdout
    0                20.0                    30.0              10.0
    1                 0.0                     0.0              10.0
    """
    from .rfm import rfm_summary

    if not isinstance(freq, str) or freq not in ("D", "W", "M"):
        raise ValueError(f"freq must be one of ['D', 'W', 'M']; got {freq!r}")
    where = "calibration_holdout"
    require_columns(
        orders.columns, (customer_col, date_col, amount_col), where=where, table="orders"
    )
    cal_day = as_of_day(calibration_end, name="calibration_end")
    hold_day = as_of_day(holdout_end, name="holdout_end")
    cal_period = _period_numbers(pd.Series([cal_day]), freq)[0]
    hold_period = _period_numbers(pd.Series([hold_day]), freq)[0]
    if hold_period <= cal_period:
        raise ValueError(
            f"holdout_end must fall in a later {freq} period than calibration_end; got "
            f"calibration_end={calibration_end!r}, holdout_end={holdout_end!r}"
        )
    # As lifetimes' calibration_and_holdout_data: lines are cut by their day first (a purchase
    # after calibration_end in the same week belongs to the holdout), then put into periods.
    days = local_days(orders[date_col])
    calibration = rfm_summary(
        orders[(days <= cal_day).to_numpy()],
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        as_of=cal_day,
        convention="lifetimes",
        freq=freq,
    )
    calibration = calibration.rename(
        columns={c: f"{c}_cal" for c in (FREQUENCY, RECENCY, T, MONETARY_VALUE)}
    )
    lines = orders[[customer_col, date_col, amount_col]]
    keep = (lines[customer_col].notna() & lines[date_col].notna()).to_numpy()
    lines, days = lines[keep], days[keep]
    periods = _period_numbers(days, freq)
    in_holdout = ((days > cal_day) & (days <= hold_day)).to_numpy()
    amounts = pd.to_numeric(lines[amount_col]).fillna(0.0).to_numpy()[in_holdout]
    held = pd.DataFrame(
        {
            customer_col: lines[customer_col].to_numpy()[in_holdout],
            "__period": periods[in_holdout],
            "__amount": amounts,
            "__refund": is_negative_money(amounts),
        }
    )
    per_period = held.groupby([customer_col, "__period"], sort=False).agg(
        {"__amount": "sum", "__refund": "any"}
    )
    # Purchase periods as in rfm_summary's lifetimes convention: every period with a line, 0.00
    # included; a period with a refund line only when its net amount is positive.
    counted = is_positive_money(per_period["__amount"]) | ~per_period["__refund"]
    bought = per_period.loc[counted, "__amount"].groupby(level=0).agg(["count", "mean"])
    out = calibration.merge(
        bought.rename(columns={"count": "frequency_holdout", "mean": "monetary_value_holdout"}),
        left_on=customer_col,
        right_index=True,
        how="left",
    )
    out["frequency_holdout"] = out["frequency_holdout"].fillna(0).astype("int64")
    out["monetary_value_holdout"] = out["monetary_value_holdout"].fillna(0.0).astype("float64")
    out["duration_holdout"] = float(hold_period - cal_period)
    return out.reset_index(drop=True)


def _period_numbers(dates: pd.Series, freq: str) -> np.ndarray:
    """Consecutive integer period numbers: days, Monday-to-Sunday weeks or calendar months."""
    days = (
        dates.dt.normalize().to_numpy().astype("datetime64[D]").astype("int64")
    )  # days since 1970-01-01, a Thursday
    if freq == "D":
        return days
    if freq == "W":
        return (days + 3) // 7  # week 0 starts on Monday 1969-12-29
    months = dates.to_numpy().astype("datetime64[M]").astype("int64")
    return months


def holdout_predictions(
    bgnbd: BetaGeoModel,
    calhold: pd.DataFrame,
    *,
    customer_col: str = CUSTOMER_ID,
) -> pd.DataFrame:
    """Predicted against actual holdout purchases, per customer.

    Parameters
    ----------
    bgnbd : BetaGeoModel
        Fitted on the calibration columns of ``calhold`` (``frequency_cal``, ``recency_cal``,
        ``T_cal``), e.g. ``fit_bgnbd(calhold, frequency_col="frequency_cal", ...)``.
    calhold : DataFrame
        As returned by :func:`calibration_holdout`; not modified.
    customer_col : str, default="customer_id"
        Copied to the result when present.

    Returns
    -------
    DataFrame
        Same rows as ``calhold``: ``customer_col`` (when present), ``frequency_cal``,
        ``actual_purchases`` (``frequency_holdout``), ``predicted_purchases`` (conditional expected
        purchases over ``duration_holdout``), ``p_alive`` (at the end of calibration) and
        ``error`` (predicted - actual).
    """
    needed = ("frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout")
    require_columns(calhold.columns, needed, where="holdout_predictions")
    durations = pd.to_numeric(calhold["duration_holdout"]).unique()
    if len(durations) > 1:
        raise ValueError(
            f"duration_holdout must be the same for every row; got {sorted(durations)}"
        )
    duration = float(durations[0]) if len(durations) else 0.0
    cols = {"frequency_col": "frequency_cal", "recency_col": "recency_cal", "T_col": "T_cal"}
    out = pd.DataFrame(index=calhold.index)
    if customer_col in calhold.columns:
        out[customer_col] = calhold[customer_col]
    out["frequency_cal"] = calhold["frequency_cal"].astype("float64")
    out["actual_purchases"] = calhold["frequency_holdout"].astype("float64")
    out["predicted_purchases"] = bgnbd.expected_purchases(calhold, t=duration, **cols)
    out["p_alive"] = bgnbd.probability_alive(calhold, **cols)
    out["error"] = out["predicted_purchases"] - out["actual_purchases"]
    return out


def holdout_by_frequency(predictions: pd.DataFrame, *, max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases by calibration frequency.

    The check of Fader, Hardie and Lee (2005, figure 4) and lifetimes'
    ``plot_calibration_purchases_vs_holdout_purchases``: customers grouped by their repeat
    purchases in the calibration period, ``max_frequency`` and more pooled in one group.

    Parameters
    ----------
    predictions : DataFrame
        As returned by :func:`holdout_predictions`.
    max_frequency : int, default=7
        Calibration frequencies from this value up form one group, labelled ``"7+"``.

    Returns
    -------
    DataFrame
        One row per group present, in order: ``frequency_cal`` (int, the group's lowest value),
        ``label`` (``"0"``, ``"1"``, …, ``"7+"``), ``customers``, ``actual`` and ``predicted``
        (means of actual and predicted holdout purchases).

    Examples
    --------
    >>> import pandas as pd
    >>> preds = pd.DataFrame({"frequency_cal": [0, 0, 1, 5], "actual_purchases": [0, 1, 2, 4],
    ...                       "predicted_purchases": [0.2, 0.2, 1.0, 3.0]})
    >>> holdout_by_frequency(preds, max_frequency=2)
       frequency_cal label  customers  actual  predicted
    0              0     0          2     0.5        0.2
    1              1     1          1     2.0        1.0
    2              2    2+          1     4.0        3.0
    """
    if isinstance(max_frequency, bool) or not isinstance(max_frequency, int) or max_frequency < 1:
        raise ValueError(f"max_frequency must be an integer >= 1; got {max_frequency!r}")
    require_columns(
        predictions.columns,
        ("frequency_cal", "actual_purchases", "predicted_purchases"),
        where="holdout_by_frequency",
    )
    group = np.minimum(predictions["frequency_cal"].to_numpy(dtype="float64"), max_frequency)
    table = (
        pd.DataFrame(
            {
                "frequency_cal": group.astype("int64"),
                "actual": predictions["actual_purchases"].to_numpy(dtype="float64"),
                "predicted": predictions["predicted_purchases"].to_numpy(dtype="float64"),
            }
        )
        .groupby("frequency_cal", sort=True)
        .agg(
            customers=("actual", "size"),
            actual=("actual", "mean"),
            predicted=("predicted", "mean"),
        )
        .reset_index()
    )
    table.insert(
        1,
        "label",
        [f"{f}+" if f == max_frequency else str(f) for f in table["frequency_cal"]],
    )
    return table


# ---------------------------------------------------------------------------------------------
# Protect list
# ---------------------------------------------------------------------------------------------


def customers_to_protect(
    clv: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    segment: str | Sequence[str] = "001",
    value_col: str = "clv_12m",
    top_n: int | None = 10,
    customer_col: str = CUSTOMER_ID,
    segment_col: str = SEGMENT_CODE,
) -> pd.DataFrame:
    """Rank the customers of an RFM segment by expected value: whom to win back first.

    With the default ``segment="001"`` (重要挽留客户: spent a lot, but long ago and rarely) this
    is the list of valuable customers who are slipping away, ranked by what they are still
    expected to be worth (e.g. 12-month CLV).

    Parameters
    ----------
    clv : DataFrame
        One row per customer with ``customer_col`` and ``value_col``, e.g. from
        :func:`customer_lifetime_value`.
    segments : DataFrame
        One row per customer with ``customer_col`` and ``segment_col``, e.g. from
        ``analysis_kit.rfm.rfm_segments``; its ``segment`` and ``action`` columns are kept when
        present.
    segment : str or sequence of str, default="001"
        Segment code(s) to keep.
    value_col : str, default="clv_12m"
        The value to rank by (descending; customers without a value come last).
    top_n : int or None, default=10
        How many to return; None returns every customer of the segment.
    customer_col, segment_col : str
        Column names.

    Returns
    -------
    DataFrame
        ``rank`` (1 = most valuable), ``customer_col``, ``segment_col``, ``segment`` and
        ``action`` (when in ``segments``), then every other column of ``clv``; ties in value are
        broken by customer id.

    Examples
    --------
    >>> import pandas as pd
    >>> clv = pd.DataFrame({"customer_id": ["a", "b", "c"], "clv_12m": [5.0, 9.0, 7.0]})
    >>> seg = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment_code": ["001", "111", "001"]})
    >>> customers_to_protect(clv, seg)
       rank customer_id segment_code  clv_12m
    0     1           c          001      7.0
    1     2           a          001      5.0
    """
    codes = [segment] if isinstance(segment, str) else list(segment)
    if not codes or not all(isinstance(c, str) for c in codes):
        raise ValueError(f"segment must be a segment code or a list of codes; got {segment!r}")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ValueError(f"top_n must be an integer >= 1 or None; got {top_n!r}")
    require_columns(clv.columns, (customer_col, value_col), where="customers_to_protect")
    require_columns(segments.columns, (customer_col, segment_col), where="customers_to_protect")
    keep = [customer_col, segment_col] + [c for c in ("segment", "action") if c in segments]
    keep = [c for c in keep if c == customer_col or c not in clv.columns]
    chosen = segments.loc[segments[segment_col].astype(str).isin(codes), keep]
    merged = chosen.merge(clv, on=customer_col, how="inner")
    merged = merged.sort_values(
        [value_col, customer_col], ascending=[False, True], na_position="last", kind="stable"
    )
    if top_n is not None:
        merged = merged.head(top_n)
    merged = merged.reset_index(drop=True)
    merged.insert(0, "rank", np.arange(1, len(merged) + 1))
    return merged
