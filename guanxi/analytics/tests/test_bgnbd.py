# ruff: noqa: N803, N806 - T (a customer's age) keeps the paper's capital letter
import math

import numpy as np
import pytest
from scipy.optimize import check_grad
from scipy.special import betaln, gammaln

from guanxi.analytics import bgnbd
from guanxi.analytics.fitting import FallbackReason, FitMethod

# FHL (2005) estimates for the CDNOW calibration sample
CDNOW = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def customers(count=400, seed=7):
    """A small population drawn from the BG/NBD story, on a 39-week window measured in days."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(CDNOW.r, 1 / CDNOW.alpha, count) / 7
    dropout = rng.beta(CDNOW.a, CDNOW.b, count)
    age = rng.integers(0, 274, count)
    arrivals = rng.poisson(rate * age)
    x = np.minimum(arrivals, rng.geometric(dropout))
    t_x = np.where(x > 0, np.ceil(age * rng.beta(np.maximum(x, 1), arrivals - x + 1)), 0)
    return x.astype(float), t_x / 7, age / 7


def eq6_log_likelihood(params, x, t_x, T):
    """FHL eq. 6 written out term by term, for one customer."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    common = math.exp(gammaln(r + x) - gammaln(r) + r * math.log(alpha))
    first = math.exp(betaln(a, b + x) - betaln(a, b)) * common / (alpha + T) ** (r + x)
    second = 0.0
    if x > 0:
        second = math.exp(betaln(a + 1, b + x - 1) - betaln(a, b)) * common / (alpha + t_x) ** (r + x)
    return math.log(first + second)


def test_likelihood_is_eq6():
    rows = [(0, 0.0, 38.86), (2, 30.43, 38.86), (1, 1.71, 38.86), (29, 37.71, 38.0)]
    x, t_x, T = (np.array(column) for column in zip(*rows, strict=True))

    value, _ = bgnbd.negative_log_likelihood(CDNOW.as_log_array(), x, t_x, T)

    expected = -sum(eq6_log_likelihood(CDNOW, *row) for row in rows) / len(rows)
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("log_params", [CDNOW.as_log_array(), np.log([1.5, 20.0, 3.0, 0.6]), np.zeros(4)])
def test_gradient_matches_finite_differences(log_params):
    x, t_x, T = customers()

    def value(theta):
        return bgnbd.negative_log_likelihood(theta, x, t_x, T)[0]

    def gradient(theta):
        return bgnbd.negative_log_likelihood(theta, x, t_x, T)[1]

    error = check_grad(value, gradient, log_params, epsilon=1e-7)
    assert error < 1e-6 * max(1.0, np.linalg.norm(gradient(log_params)))


def test_compressed_rows_give_the_same_likelihood():
    x, t_x, T = customers()
    rows = bgnbd.compress_rfm(x, t_x, T)

    raw_value, raw_gradient = bgnbd.negative_log_likelihood(CDNOW.as_log_array(), x, t_x, T)
    value, gradient = bgnbd.negative_log_likelihood(
        CDNOW.as_log_array(), rows.x, rows.t_x, rows.T, rows.weight
    )

    assert len(rows.x) < len(x)
    assert rows.weight.sum() == len(x)
    assert value == pytest.approx(raw_value, rel=1e-12)
    np.testing.assert_allclose(gradient, raw_gradient, rtol=1e-10)


def test_compression_inverse_restores_every_customer():
    x, t_x, T = customers()
    rows = bgnbd.compress_rfm(x, t_x, T)

    np.testing.assert_array_equal(rows.x[rows.inverse], x)
    np.testing.assert_array_equal(rows.t_x[rows.inverse], t_x)
    np.testing.assert_array_equal(rows.T[rows.inverse], T)


def test_probability_alive_is_one_without_repeat_purchases():
    alive = bgnbd.probability_alive(CDNOW, [0, 0, 0], [0, 0, 0], [0.0, 5.0, 38.86])

    assert alive.tolist() == [1.0, 1.0, 1.0]


def test_probability_alive_matches_high_precision_values():
    # 1 / (1 + a/(b+x-1) ((α+T)/(α+t_x))^(r+x)), evaluated with mpmath at 60 digits
    alive = bgnbd.probability_alive(CDNOW, [2, 1, 29], [30.43, 1.71428571428571, 37.71], [38.86, 38.86, 38.0])

    np.testing.assert_allclose(
        alive, [0.72657857008067291, 0.21224634011662, 0.96912951815933952], rtol=1e-13
    )


def test_expected_purchases_reproduces_fhl_customer():
    # FHL (2005) §5: customer 1 (x = 2, t_x = 30.43, T = 38.86) is expected to make 1.226 purchases in 39 weeks
    assert bgnbd.expected_purchases(CDNOW, 39, 2, 30.43, 38.86) == pytest.approx(
        1.2260281747671444, rel=1e-12
    )


def test_expected_purchases_matches_eq10_at_high_precision():
    # eq. 10 in its textbook form, evaluated with mpmath at 60 digits; scipy's 2F1 on that form returns
    # NaN for the large-x rows, the implementation's Euler-transformed form does not
    cases = [
        (39, 0, 0, 38.86, 0.19509805201126264),
        (52, 300, 38, 38.86, 123.34396145258663),
        (1000, 50, 20, 30, 0.00053184451138707054),
        (0.5, 1, 1, 39, 0.0026708360778223906),
        (5200, 5, 10, 38.86, 1.3124423672185849),
        (78, 120, 77, 78, 83.792898038593097),
    ]
    t, x, t_x, T, expected = (np.array(column, dtype=float) for column in zip(*cases, strict=True))

    np.testing.assert_allclose(bgnbd.expected_purchases(CDNOW, t, x, t_x, T), expected, rtol=1e-9)


def test_expected_purchases_new_matches_eq9():
    # eq. 9 evaluated with mpmath at 60 digits
    expected = [0.05326789117165828, 1.1967231933208168, 1.8605190579427685, 12.148119026370995]

    np.testing.assert_allclose(bgnbd.expected_purchases_new(CDNOW, [1, 39, 78, 5200]), expected, rtol=1e-12)
    assert bgnbd.expected_purchases_new(CDNOW, 0.0) == 0.0


def test_expected_purchases_is_finite_when_a_is_one():
    params = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=1.0, b=2.426)
    nearby = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=1.0 + 1e-4, b=2.426)

    value = bgnbd.expected_purchases(params, 39, 2, 30.43, 38.86)

    assert value == pytest.approx(bgnbd.expected_purchases(nearby, 39, 2, 30.43, 38.86), rel=1e-4)


def test_fit_recovers_simulation_parameters():
    x, t_x, T = customers(count=20_000, seed=11)

    result = bgnbd.fit(x, t_x, T)

    assert result.method == FitMethod.MAXIMUM_LIKELIHOOD
    assert result.converged
    assert result.customers == 20_000
    assert result.params.r == pytest.approx(CDNOW.r, rel=0.1)
    assert result.params.a == pytest.approx(CDNOW.a, rel=0.25)


def test_no_repeat_buyers_fall_back_to_empirical_rate():
    result = bgnbd.fit(np.zeros(50), np.zeros(50), np.full(50, 10.0))

    assert result.method == FitMethod.EMPIRICAL
    assert result.reason == FallbackReason.TOO_FEW_REPEAT_CUSTOMERS
    assert not result.converged
    assert math.isnan(result.log_likelihood)
    assert result.params == bgnbd.EmpiricalPurchaseRate(rate=0.0)


def test_single_customer_falls_back_to_own_rate():
    result = bgnbd.fit([3], [8.0], [10.0])

    assert result.method == FitMethod.EMPIRICAL
    assert result.reason == FallbackReason.TOO_FEW_CUSTOMERS
    assert result.params == bgnbd.EmpiricalPurchaseRate(rate=0.3)
    assert bgnbd.expected_purchases(result.params, 10, 3, 8.0, 10.0) == pytest.approx(3.0)
    assert math.isnan(bgnbd.probability_alive(result.params, 3, 8.0, 10.0))


def test_identical_customers_are_a_degenerate_fit():
    # every customer bought every week up to today: no dropout, and no heterogeneity in the purchase
    # rate either, so even the no-dropout limit runs off to r, α → ∞
    weeks = np.arange(1, 41, dtype=float)

    result = bgnbd.fit(weeks, weeks, weeks)

    assert result.method == FitMethod.EMPIRICAL
    assert result.reason == FallbackReason.DEGENERATE_ESTIMATE
    assert result.params == bgnbd.EmpiricalPurchaseRate(rate=1.0)


def loyal_customers(count=3000, seed=3):
    """The NBD story, nobody ever leaving: Gamma(0.8, 60) daily rates, ages of 30 to 400 days."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.8, 1 / 60.0, count)
    age = rng.integers(30, 400, count).astype(float)
    x = rng.poisson(rate * age).astype(float)
    t_x = np.where(x > 0, np.ceil(age * rng.beta(np.maximum(x, 1), 1)), 0.0)
    return x, t_x, age


@pytest.mark.parametrize("seed", [0, 3])
def test_customers_who_never_leave_get_the_no_dropout_limit(seed):
    # seed 0 drives a → 0, seed 3 a, b → ∞ with a small a/b: both are the NBD model
    x, t_x, T = loyal_customers(seed=seed)

    result = bgnbd.fit(x, t_x, T)

    assert (result.method, result.reason, result.converged) == (FitMethod.MAXIMUM_LIKELIHOOD, None, True)
    assert (result.params.a, result.params.b) == (0.0, 1.0)
    assert result.params.r == pytest.approx(0.8, rel=0.1)
    assert result.params.alpha == pytest.approx(60.0, rel=0.15)
    np.testing.assert_array_equal(bgnbd.probability_alive(result.params, x, t_x, T), np.ones(len(x)))
    np.testing.assert_allclose(
        bgnbd.expected_purchases(result.params, 90.0, x, t_x, T),
        (result.params.r + x) * 90.0 / (result.params.alpha + T),
        rtol=1e-14,
    )


def test_no_dropout_limit_is_the_limit_of_the_bgnbd():
    params = bgnbd.BgNbdParams(r=0.74, alpha=63.3, a=0.0, b=1.0)
    nearly = bgnbd.BgNbdParams(r=0.74, alpha=63.3, a=1e-9, b=2e4)
    x, t_x, T = np.array([0.0, 1.0, 7.0]), np.array([0.0, 20.0, 150.0]), np.array([30.0, 100.0, 300.0])

    np.testing.assert_allclose(
        bgnbd.expected_purchases(params, 365.0, x, t_x, T),
        bgnbd.expected_purchases(nearly, 365.0, x, t_x, T),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        bgnbd.probability_alive(params, x, t_x, T), bgnbd.probability_alive(nearly, x, t_x, T), rtol=1e-6
    )


def test_recency_beyond_age_is_rejected():
    with pytest.raises(ValueError, match="recency"):
        bgnbd.fit([1, 2], [5.0, 11.0], [10.0, 10.0])


def test_an_estimate_that_stops_just_short_of_a_bound_falls_back():
    # A unit of 39 demo customers (days): L-BFGS-B drove b to 999,979 of its 1,000,000 bound, and the
    # forecast of that estimate was NaN (0 × ∞ in the ₂F₁ term), which no JSON column accepts.
    x = np.array(
        [
            0,
            0,
            4,
            0,
            0,
            0,
            2,
            8,
            1,
            11,
            1,
            0,
            0,
            0,
            2,
            0,
            1,
            7,
            20,
            0,
            15,
            12,
            0,
            0,
            17,
            6,
            0,
            4,
            12,
            8,
            0,
            7,
            4,
            0,
            3,
            0,
            4,
            1,
            2,
        ],
        dtype=float,
    )
    t_x = np.array(
        [
            0,
            0,
            283,
            0,
            0,
            0,
            66,
            211,
            93,
            261,
            180,
            0,
            0,
            0,
            133,
            0,
            77,
            328,
            422,
            0,
            384,
            448,
            0,
            0,
            506,
            340,
            0,
            256,
            316,
            309,
            0,
            149,
            309,
            0,
            24,
            0,
            180,
            211,
            110,
        ],
        dtype=float,
    )
    T = np.array(
        [
            306,
            299,
            354,
            643,
            746,
            366,
            716,
            748,
            647,
            756,
            272,
            122,
            144,
            531,
            166,
            385,
            716,
            745,
            469,
            610,
            750,
            491,
            61,
            142,
            539,
            410,
            345,
            738,
            349,
            349,
            640,
            754,
            348,
            510,
            56,
            67,
            595,
            483,
            151,
        ],
        dtype=float,
    )

    result = bgnbd.fit(x, t_x, T)

    assert result.method == FitMethod.EMPIRICAL
    assert result.reason == FallbackReason.DEGENERATE_ESTIMATE
    forecast = bgnbd.expected_purchases_while_alive(result.params, np.array([[7.0], [400.0]]), x, T)
    assert np.all(np.isfinite(forecast))


def test_expected_purchases_stays_finite_when_dropout_is_all_but_known():
    # An estimate from that unit on another day: a and b in the hundred thousands, where ₂F₁ overflows;
    # eq. 10 evaluated with mpmath at 80 digits.
    params = bgnbd.BgNbdParams(r=0.3955, alpha=28.56, a=46634.129, b=535275.716)
    expected = [0.008416137991567155, 8.986056538269063, 3.7173815088190825]

    value = bgnbd.expected_purchases_while_alive(
        params, np.array([7.0, 400, 400]), [0, 20, 4], [300, 469, 354]
    )

    np.testing.assert_allclose(value, expected, rtol=1e-4)
