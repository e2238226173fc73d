"""The statistics the pages state: a two-proportion z-test for A/B winners and conversion lift, and a
normal interval for the difference of two means (Welch's standard error) for incremental revenue."""

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float  # two-sided

    def significant(self, alpha: float) -> bool:
        return self.p_value < alpha


def two_proportion_z(successes_a: int, n_a: int, successes_b: int, n_b: int) -> ZTest:
    """H0: both groups convert at the same rate; pooled standard error. z > 0 when B converts better."""
    if n_a == 0 or n_b == 0:
        return ZTest(0.0, 1.0)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return ZTest(0.0, 1.0)
    z = (p_b - p_a) / se
    return ZTest(z, 2 * (1 - normal_cdf(abs(z))))


@dataclass(frozen=True)
class MeanDifference:
    difference: float
    low: float
    high: float


def mean_difference(
    n_t: int, sum_t: float, sumsq_t: float, n_c: int, sum_c: float, sumsq_c: float, z: float = Z_95
) -> MeanDifference:
    """Treated minus control mean with a normal interval from each group's own variance."""
    if n_t < 2 or n_c < 2:
        mean_t = sum_t / n_t if n_t else 0.0
        mean_c = sum_c / n_c if n_c else 0.0
        return MeanDifference(mean_t - mean_c, -math.inf, math.inf)
    mean_t, mean_c = sum_t / n_t, sum_c / n_c
    var_t = max((sumsq_t - n_t * mean_t**2) / (n_t - 1), 0.0)
    var_c = max((sumsq_c - n_c * mean_c**2) / (n_c - 1), 0.0)
    se = math.sqrt(var_t / n_t + var_c / n_c)
    difference = mean_t - mean_c
    return MeanDifference(difference, difference - z * se, difference + z * se)
