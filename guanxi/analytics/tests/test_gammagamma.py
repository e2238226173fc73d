import math

import numpy as np
import pytest
from scipy.optimize import check_grad
from scipy.special import gammaln

from guanxi.analytics import gammagamma
from guanxi.analytics.fitting import FallbackReason, FitMethod

# FHL (2005) "RFM and CLV" estimates for the CDNOW calibration sample
CDNOW = gammagamma.GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


def spenders(count=300, seed=3):
    """Repeat customers drawn from the Gamma-Gamma story: mean of x values Gamma(p, ν), ν ~ Gamma(q, γ)."""
    rng = np.random.default_rng(seed)
    x = 1.0 + rng.poisson(2.0, count)
    nu = rng.gamma(CDNOW.q, 1 / CDNOW.gamma, count)
    return x, rng.gamma(CDNOW.p * x, 1 / (nu * x))


def log_density(params, x, m):
    """ln f(m̄ | p, q, γ; x) written out, for one customer."""
    p, q, g = params.p, params.q, params.gamma
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * math.log(g)
        + (p * x - 1) * math.log(m)
        + p * x * math.log(x)
        - (p * x + q) * math.log(g + m * x)
    )


def log_params(params):
    return np.log([params.p, params.q, params.gamma])


def test_likelihood_is_the_gamma_gamma_density():
    x, m = np.array([1.0, 2.0, 7.0]), np.array([14.96, 22.345, 41.0])

    value, _ = gammagamma.negative_log_likelihood(log_params(CDNOW), x, m)

    expected = -sum(log_density(CDNOW, *row) for row in zip(x, m, strict=True)) / 3
    assert value == pytest.approx(expected, rel=1e-12)


def test_customers_without_repeat_spend_do_not_enter_the_likelihood():
    x, m = spenders()

    with_others, _ = gammagamma.negative_log_likelihood(log_params(CDNOW), np.r_[x, 0, 3], np.r_[m, 0, 0])
    alone, _ = gammagamma.negative_log_likelihood(log_params(CDNOW), x, m)

    assert with_others == alone


@pytest.mark.parametrize("theta", [log_params(CDNOW), np.log([1.0, 2.0, 30.0]), np.log([15.0, 1.5, 4.0])])
def test_gradient_matches_finite_differences(theta):
    x, m = spenders()

    def value(t):
        return gammagamma.negative_log_likelihood(t, x, m)[0]

    def gradient(t):
        return gammagamma.negative_log_likelihood(t, x, m)[1]

    assert check_grad(value, gradient, theta, epsilon=1e-7) < 1e-6 * max(1.0, np.linalg.norm(gradient(theta)))


def test_fit_recovers_simulation_parameters():
    x, m = spenders(count=20_000, seed=5)

    result = gammagamma.fit(x, m)

    assert result.method == FitMethod.MAXIMUM_LIKELIHOOD
    assert result.converged
    assert result.customers == 20_000
    assert result.params.p == pytest.approx(CDNOW.p, rel=0.1)
    assert result.params.q == pytest.approx(CDNOW.q, rel=0.1)
    assert result.params.gamma == pytest.approx(CDNOW.gamma, rel=0.15)


def test_conditional_expected_average_profit():
    profit = gammagamma.conditional_expected_average_profit(CDNOW, [0, 2], [0.0, 22.35])

    # (pγ + p x m̄) / (px + q − 1): 96.5 / 2.74 and 375.875 / 15.24
    np.testing.assert_allclose(profit, [96.5 / 2.74, 375.875 / 15.24], rtol=1e-15)


def test_all_zero_spend_falls_back():
    result = gammagamma.fit(np.full(20, 2.0), np.zeros(20))

    assert result.method == FitMethod.EMPIRICAL
    assert result.reason == FallbackReason.NO_SPEND
    assert result.params == gammagamma.EmpiricalSpend(mean_spend=0.0)


def test_no_repeat_customers_fall_back():
    result = gammagamma.fit(np.zeros(20), np.zeros(20))

    assert result.reason == FallbackReason.TOO_FEW_REPEAT_CUSTOMERS
    assert result.params == gammagamma.EmpiricalSpend(mean_spend=0.0)


def test_few_repeat_customers_fall_back_to_their_mean_spend():
    result = gammagamma.fit([1, 3, 0], [10.0, 30.0, 0.0])

    assert result.method == FitMethod.EMPIRICAL
    assert result.reason == FallbackReason.TOO_FEW_REPEAT_CUSTOMERS
    assert math.isnan(result.log_likelihood)
    assert result.params == gammagamma.EmpiricalSpend(mean_spend=25.0)  # (1·10 + 3·30) / 4 purchases
    profit = gammagamma.conditional_expected_average_profit(result.params, [1, 3, 0], [10.0, 30.0, 0.0])
    assert profit.tolist() == [10.0, 30.0, 25.0]


def test_identical_spend_everywhere_is_a_degenerate_fit():
    # no spread in spend at all: the shape p runs off to infinity
    result = gammagamma.fit(np.full(30, 2.0), np.full(30, 19.99))

    assert result.method == FitMethod.EMPIRICAL
    assert result.reason == FallbackReason.DEGENERATE_ESTIMATE
    assert result.params == gammagamma.EmpiricalSpend(mean_spend=pytest.approx(19.99))


def test_negative_spend_is_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        gammagamma.fit([1, 2], [10.0, -1.0])
