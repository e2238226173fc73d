"""Customer lifetime value from the BG/NBD purchase model and the Gamma-Gamma spend model.

CLV over a horizon of whole months is the discounted sum, month by month, of the expected repeat
purchases in that month times the expected spend per purchase times the margin:

    CLV = Σ_{m=1..M} (E[Y(m)] − E[Y(m−1)]) · E[M] · margin / (1 + d)^m

with E[Y(·)] from FHL (2005) eq. 10 and E[M] from Hardie's note 025 eq. 5. This is the approximation
to the discounted expected residual transactions (DERT) that the `lifetimes` package uses in
`customer_lifetime_value`, with its month lengths (4.345 weeks, 30 days), so results are comparable.
"""

from dataclasses import dataclass

import numpy as np

from guanxi.analytics import bgnbd, gammagamma
from guanxi.analytics.fitting import FallbackReason, FitMethod, dot
from guanxi.analytics.summary import CustomerSummary

PERIODS_PER_MONTH = {"W": 4.345, "D": 30.0}


@dataclass(frozen=True)
class ClvModels:
    """The two fitted models behind a CLV estimate; either may be the empirical fallback."""

    purchases: bgnbd.BgNbdFit
    spend: gammagamma.GammaGammaFit
    unit: str

    @property
    def method(self) -> FitMethod:
        if FitMethod.EMPIRICAL in (self.purchases.method, self.spend.method):
            return FitMethod.EMPIRICAL
        return FitMethod.MAXIMUM_LIKELIHOOD

    @property
    def reasons(self) -> tuple[FallbackReason, ...]:
        return tuple(fit.reason for fit in (self.purchases, self.spend) if fit.reason is not None)


def fit_models(summary: CustomerSummary) -> ClvModels:
    """Fit both models to a customer summary (the spend model on its repeat customers only)."""
    return ClvModels(
        purchases=bgnbd.fit(summary.frequency, summary.recency, summary.age),
        spend=gammagamma.fit(summary.frequency, summary.monetary_value),
        unit=summary.unit,
    )


@dataclass(frozen=True)
class CustomerScores:
    """Per-customer forecasts over the next `months` months, in the order of the summary."""

    probability_alive: np.ndarray  # NaN under the empirical fallback, which does not model dropout
    expected_purchases: np.ndarray
    expected_spend: np.ndarray  # per purchase
    lifetime_value: np.ndarray  # discounted, after margin


def score_customers(
    models: ClvModels,
    summary: CustomerSummary,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
) -> CustomerScores:
    """P(alive), expected repeat purchases, expected spend and CLV for every customer in `summary`."""
    if summary.unit != models.unit:
        raise ValueError("the summary and the models must count time in the same unit")
    rows = bgnbd.compress_rfm(summary.frequency, summary.recency, summary.age)
    alive, expected, discounted = _purchase_forecast(
        models.purchases.params,
        rows,
        months=months,
        monthly_discount_rate=monthly_discount_rate,
        periods_per_month=PERIODS_PER_MONTH[summary.unit],
    )
    spend = gammagamma.conditional_expected_average_profit(
        models.spend.params, summary.frequency, summary.monetary_value
    )
    return CustomerScores(
        probability_alive=alive[rows.inverse],
        expected_purchases=expected[rows.inverse],
        expected_spend=spend,
        lifetime_value=discounted[rows.inverse] * spend * margin,
    )


def customer_lifetime_value(
    models: ClvModels,
    summary: CustomerSummary,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
) -> np.ndarray:
    """Discounted expected margin of each customer in `summary` over the next `months` months."""
    return score_customers(
        models, summary, months=months, monthly_discount_rate=monthly_discount_rate, margin=margin
    ).lifetime_value


def _purchase_forecast(
    params: bgnbd.PurchaseModel,
    rows: bgnbd.CompressedRfm,
    *,
    months: int,
    monthly_discount_rate: float,
    periods_per_month: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct (x, t_x, T): P(alive), E[Y(months)] and Σ_m (E[Y(m)] − E[Y(m−1)]) / (1 + d)^m.

    E[Y] is P(alive) (which needs t_x) times a ₂F₁ term (which does not), so the expensive term is
    computed once per distinct (x, T) and month.
    """
    pair_x, pair_age, pair_of_row = distinct_pairs(rows.x, rows.T)
    horizons = periods_per_month * np.arange(0, months + 1)
    cumulative = bgnbd.expected_purchases_while_alive(params, horizons[:, np.newaxis], pair_x, pair_age)
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, months + 1)
    discounted = dot(discount, np.diff(cumulative, axis=0))
    if isinstance(params, bgnbd.EmpiricalPurchaseRate):
        alive = np.full(len(rows.x), np.nan)
        return alive, cumulative[-1][pair_of_row], discounted[pair_of_row]
    alive = bgnbd.probability_alive(params, rows.x, rows.t_x, rows.T)
    return alive, alive * cumulative[-1][pair_of_row], alive * discounted[pair_of_row]


def distinct_pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (first, second) pairs and, for each input position, the index of its pair."""
    order = np.lexsort((second, first))
    first, second = first[order], second[order]
    starts_pair = np.ones(len(first), dtype=bool)
    starts_pair[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
    pair_of_row = np.empty(len(first), dtype=np.intp)
    pair_of_row[order] = np.cumsum(starts_pair) - 1
    return first[starts_pair], second[starts_pair], pair_of_row
