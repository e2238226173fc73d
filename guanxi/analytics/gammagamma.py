"""The Gamma-Gamma model of repeat spend.

Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", Journal of
Marketing Research 42(4), 415-430, and Hardie's note 025, "The Gamma-Gamma Model of Monetary Value"
(2013), whose equation numbers are cited below. Each transaction value is Gamma(p, ν), with ν ~ Gamma(q, γ)
across customers; a customer is summarised by x repeat transactions with mean value m̄.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from guanxi.analytics.fitting import FallbackReason, FitMethod, dot, minimise_log_params

MIN_REPEAT_CUSTOMERS = 10


@dataclass(frozen=True)
class GammaGammaParams:
    """p: shape of transaction values; q, γ: shape and rate of the Gamma mixing over customers."""

    p: float
    q: float
    gamma: float


@dataclass(frozen=True)
class EmpiricalSpend:
    """Fallback model: a repeat customer's own mean spend, everybody else the pooled mean repeat spend."""

    mean_spend: float


SpendModel = GammaGammaParams | EmpiricalSpend


@dataclass(frozen=True)
class GammaGammaFit:
    """A fitted spend model; `method` and `reason` say whether it is the Gamma-Gamma or the fallback."""

    params: SpendModel
    log_likelihood: float
    converged: bool
    method: FitMethod
    reason: FallbackReason | None
    customers: int


@dataclass(frozen=True)
class _SpendStatistics:
    """What the likelihood needs, reduced once per fit: distinct x with counts, per-customer x·m̄, sums."""

    x_values: np.ndarray
    x_counts: np.ndarray
    x: np.ndarray
    total_spend: np.ndarray
    sum_log_m: float
    sum_x_log_m: float
    sum_x_log_x: float

    @classmethod
    def from_arrays(cls, x: np.ndarray, m: np.ndarray) -> "_SpendStatistics":
        x_values, x_counts = np.unique(x, return_counts=True)
        log_m = np.log(m)
        return cls(
            x_values=x_values,
            x_counts=x_counts.astype(float),
            x=x,
            total_spend=x * m,
            sum_log_m=float(log_m.sum()),
            sum_x_log_m=float(dot(x, log_m)),
            sum_x_log_x=float(dot(x_counts, x_values * np.log(x_values))),
        )


def negative_log_likelihood(log_params, x, m) -> tuple[float, np.ndarray]:
    """Mean −ln f(m̄ | p, q, γ; x) over repeat customers and its gradient in (ln p, ln q, ln γ).

    f(m̄ | p, q, γ; x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q m̄^{px−1} x^{px} / (γ + m̄x)^{px+q}   (note 025)
    """
    x, m = _repeat_spenders(x, m)
    return _mean_negative_log_likelihood(
        np.asarray(log_params, dtype=float), _SpendStatistics.from_arrays(x, m)
    )


def fit(x, m) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on the customers with x > 0 and m̄ > 0, or the fallback.

    Customers without repeat purchases carry no information on repeat spend, and a zero mean spend has
    zero density under the model, so both are left out of the fit.
    """
    x, m = _validated_spend(x, m)
    repeat_customers = int(np.count_nonzero(x > 0))
    x, m = _repeat_spenders(x, m)
    customers = len(x)
    if customers == 0 and repeat_customers > 0:
        return _empirical_fit(x, m, FallbackReason.NO_SPEND)
    if customers < MIN_REPEAT_CUSTOMERS:
        return _empirical_fit(x, m, FallbackReason.TOO_FEW_REPEAT_CUSTOMERS)
    stats = _SpendStatistics.from_arrays(x, m)
    initial = np.log([1.0, 2.0, float(stats.total_spend.sum() / x.sum())])
    optimum = minimise_log_params(lambda theta: _mean_negative_log_likelihood(theta, stats), initial)
    if not optimum.converged:
        return _empirical_fit(x, m, FallbackReason.NOT_CONVERGED)
    if optimum.degenerate:
        return _empirical_fit(x, m, FallbackReason.DEGENERATE_ESTIMATE)
    p, q, gamma = (float(v) for v in np.exp(optimum.log_params))
    if q <= 1.0:  # the mean of ν's inverse, hence the expected spend, is infinite
        return _empirical_fit(x, m, FallbackReason.DEGENERATE_ESTIMATE)
    return GammaGammaFit(
        params=GammaGammaParams(p=p, q=q, gamma=gamma),
        log_likelihood=-optimum.mean_negative_log_likelihood * customers,
        converged=True,
        method=FitMethod.MAXIMUM_LIKELIHOOD,
        reason=None,
        customers=customers,
    )


def conditional_expected_average_profit(params: SpendModel, x, m) -> np.ndarray:
    """E[M | p, q, γ; m̄, x] = (pγ + p x m̄) / (px + q − 1)   (note 025, eq. 5).

    A weighted mean of the population mean pγ/(q−1) and the customer's own m̄; for x = 0 it is the
    population mean. The empirical fallback takes m̄ as is for repeat customers.
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    if isinstance(params, EmpiricalSpend):
        return np.where(x > 0, m, params.mean_spend)
    p, q, gamma = params.p, params.q, params.gamma
    return (p * gamma + p * x * m) / (p * x + q - 1.0)


def _mean_negative_log_likelihood(
    log_params: np.ndarray, stats: _SpendStatistics
) -> tuple[float, np.ndarray]:
    """The density summed over customers, with every term that depends only on x summed per distinct x."""
    p, q, gamma = np.exp(log_params)
    n = len(stats.x)
    px_values = p * stats.x_values
    log_denominator = np.log(gamma + stats.total_spend)
    sum_log_denominator = log_denominator.sum()
    sum_x_log_denominator = dot(stats.x, log_denominator)
    log_lik = (
        dot(stats.x_counts, gammaln(px_values + q) - gammaln(px_values))
        - n * gammaln(q)
        + n * q * np.log(gamma)
        + p * stats.sum_x_log_m
        - stats.sum_log_m
        + p * stats.sum_x_log_x
        - p * sum_x_log_denominator
        - q * sum_log_denominator
    )
    d_p = (
        dot(stats.x_counts, stats.x_values * (digamma(px_values + q) - digamma(px_values)))
        + stats.sum_x_log_m
        + stats.sum_x_log_x
        - sum_x_log_denominator
    )
    d_q = (
        dot(stats.x_counts, digamma(px_values + q)) - n * digamma(q) + n * np.log(gamma) - sum_log_denominator
    )
    d_gamma = n * q / gamma - dot(p * stats.x + q, 1.0 / (gamma + stats.total_spend))
    gradient = np.array([p * d_p, q * d_q, gamma * d_gamma])
    return -float(log_lik) / n, -gradient / n


def _validated_spend(x, m) -> tuple[np.ndarray, np.ndarray]:
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(m, dtype=float))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m))) or np.any(x < 0) or np.any(m < 0):
        raise ValueError("frequency and monetary value must be finite and non-negative")
    return np.ravel(x), np.ravel(m)


def _repeat_spenders(x, m) -> tuple[np.ndarray, np.ndarray]:
    x, m = _validated_spend(x, m)
    keep = (x > 0) & (m > 0)
    return x[keep], m[keep]


def _empirical_fit(x: np.ndarray, m: np.ndarray, reason: FallbackReason) -> GammaGammaFit:
    purchases = float(x.sum())
    mean_spend = float(dot(x, m)) / purchases if purchases > 0 else 0.0
    return GammaGammaFit(
        params=EmpiricalSpend(mean_spend=mean_spend),
        log_likelihood=float("nan"),
        converged=False,
        method=FitMethod.EMPIRICAL,
        reason=reason,
        customers=len(x),
    )
