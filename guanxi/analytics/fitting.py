"""Maximum-likelihood plumbing shared by the BG/NBD and Gamma-Gamma models.

Both models are fitted on log-parameters (so every parameter stays positive without constraints) by
L-BFGS-B with an analytic gradient. When a model cannot be fitted, callers fall back to empirical rates
and say why with a `FallbackReason`, which the UI shows as a label.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db import models
from django.utils.translation import gettext_lazy as _
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

# Starting points are set on the data's scale (time unit, currency), so an estimate a million times
# larger or smaller than its start is a model drifting to a limit that the data cannot pin down.
LOG_PARAM_RANGE = float(np.log(1e6))
STATIONARY_GRADIENT = 1e-6
# L-BFGS-B slows down as it nears a bound and may stop short of it: 0.1% (in log) from the bound is
# there all the same. b stopped at 999,979 of a 1,000,000 bound on a unit of 39 demo customers.
AT_BOUND_TOLERANCE = 1e-3
# An estimate drifting along a ridge towards a limit (r, α → ∞ together; p, q → ∞ together) stops where
# the likelihood is flat in some direction: the Hessian there is singular or indefinite. Central
# differences of the gradient at HESSIAN_STEP carry noise of about 1e-6 (in units of the mean
# log-likelihood), so a curvature must stand clear of that to count; a ridge measured as -3e-6 beside
# 41 passed the former threshold of 1e-9 on one machine and failed it on another.
MIN_RELATIVE_CURVATURE = 1e-6
HESSIAN_STEP = 1e-5


class FitMethod(models.TextChoices):
    MAXIMUM_LIKELIHOOD = "mle", _("Maximum likelihood")
    EMPIRICAL = "empirical", _("Empirical rates")


class FallbackReason(models.TextChoices):
    TOO_FEW_CUSTOMERS = "too_few_customers", _("Too few customers to fit the model")
    TOO_FEW_REPEAT_CUSTOMERS = "too_few_repeat_customers", _("Too few repeat customers to fit the model")
    NO_SPEND = "no_spend", _("No repeat customer has a positive spend")
    NOT_CONVERGED = "not_converged", _("The model fit did not converge")
    DEGENERATE_ESTIMATE = "degenerate_estimate", _("The data do not pin the model's parameters down")


@dataclass(frozen=True)
class LogParamOptimum:
    """Result of minimising a mean negative log-likelihood over log-parameters."""

    log_params: np.ndarray
    mean_negative_log_likelihood: float
    converged: bool
    degenerate: bool


def minimise_log_params(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]], initial_log_params: np.ndarray
) -> LogParamOptimum:
    """Minimise `objective` (value and gradient) with L-BFGS-B within LOG_PARAM_RANGE of the start.

    The objective is a *mean* over customers, so the tolerances below do not depend on how many
    customers there are; they are tight enough to reproduce published estimates to four digits.
    """
    start = np.asarray(initial_log_params, dtype=float)
    bounds = list(zip(start - LOG_PARAM_RANGE, start + LOG_PARAM_RANGE, strict=True))
    # L-BFGS-B makes hundreds of BLAS calls on vectors of three or four numbers. OpenBLAS hands them
    # to its thread pool, whose wake-ups cost milliseconds on a busy two-core machine: measured 3.4 ms
    # a call, most of a fit's time, against next to nothing on one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000},
        )
    # A line search that cannot improve on an optimum is reported as a failure; a flat gradient says
    # the optimum was reached all the same.
    stationary = bool(result.success) or bool(np.max(np.abs(result.jac)) < STATIONARY_GRADIENT)
    at_bound = bool(np.any(np.abs(result.x - start) >= LOG_PARAM_RANGE - AT_BOUND_TOLERANCE))
    return LogParamOptimum(
        log_params=np.asarray(result.x),
        mean_negative_log_likelihood=float(result.fun),
        converged=stationary and bool(np.isfinite(result.fun)),
        degenerate=at_bound or not _is_sharp_minimum(objective, np.asarray(result.x)),
    )


def _is_sharp_minimum(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], point: np.ndarray) -> bool:
    """Whether the Hessian (central differences of the analytic gradient) is clearly positive definite."""
    columns = []
    for step in np.eye(len(point)) * HESSIAN_STEP:
        columns.append((objective(point + step)[1] - objective(point - step)[1]) / (2 * HESSIAN_STEP))
    hessian = np.array(columns)
    eigenvalues = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    return (
        bool(np.all(np.isfinite(eigenvalues))) and eigenvalues[0] > MIN_RELATIVE_CURVATURE * eigenvalues[-1]
    )


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ a·b over the last axis of `a` and the first of `b`, without BLAS.

    OpenBLAS runs even a single dot product on every core and, on a busy two-core machine, waits for
    them: measured 15 ms instead of 0.06 ms for 120,000 terms.
    """
    return np.einsum("...i,i...->...", a, b)
