"""Out-of-time backtest of the purchase and churn forecasts: calibrate on the history up to a cut-off,
predict the holdout period, and compare with what the customers actually did.

Reported, as in Fader, Hardie & Lee (2005): the mean absolute error of each customer's repeat purchases
in the holdout, the aggregate cumulative repeat purchases week by week (forecast against actual), and for
churn (no purchase in the holdout) the AUC of the churn risk and a calibration table.
"""

import datetime
from dataclasses import dataclass, field

import numpy as np

from guanxi.analytics import bgnbd, churn, clv
from guanxi.analytics.fitting import dot
from guanxi.analytics.summary import DAYS_PER_UNIT, summarise_transactions


@dataclass(frozen=True)
class ChurnHoldout:
    """Who had bought by the cut-off (ascending ids), whether each bought nothing in the holdout, and the
    risk the report's AUC was computed from: what a challenger's risk is compared on."""

    customer_ids: np.ndarray
    churned: np.ndarray
    risk: np.ndarray


@dataclass(frozen=True)
class BacktestReport:
    cutoff: datetime.date
    end: datetime.date
    customers: int
    models: clv.ClvModels
    mae: float
    actual_total: float
    forecast_total: float
    churn_auc: float | None
    calibration: list[dict] = field(default_factory=list)
    series: dict = field(default_factory=dict)
    holdout: ChurnHoldout | None = field(default=None, repr=False, compare=False)


def run_backtest(
    customer_ids, dates, amounts, cutoff: datetime.date, end: datetime.date, unit: str = "D"
) -> BacktestReport | None:
    """Backtest on a transaction log (ids, dates, amounts); None when no customer bought by the cut-off."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    ids = np.asarray(customer_ids)
    summary = summarise_transactions(
        ids, dates, np.maximum(np.asarray(amounts, dtype=float), 0), cutoff, unit
    )
    if not len(summary.customer_ids):
        return None
    models = clv.fit_models(summary)
    per_unit = DAYS_PER_UNIT[unit]
    cutoff_day = np.datetime64(cutoff, "D").astype(np.int64)
    end_day = np.datetime64(end, "D").astype(np.int64)
    # Holdout purchase days (same-day orders are one purchase) of the calibration customers.
    days = dates.astype(np.int64)
    holdout = (days > cutoff_day) & (days <= end_day)
    position = np.searchsorted(summary.customer_ids, ids[holdout])
    position = np.minimum(position, len(summary.customer_ids) - 1)
    known = summary.customer_ids[position] == ids[holdout]
    span = int(end_day - cutoff_day) + 1
    # One integer per (customer, day after the cut-off): np.unique on it, not on rows, is fast.
    purchases = np.unique(position[known] * span + (days[holdout][known] - cutoff_day))
    actual = np.bincount(purchases // span, minlength=len(summary.customer_ids)).astype(float)

    horizon = (end_day - cutoff_day) / per_unit
    weeks = np.unique(np.r_[np.arange(7, end_day - cutoff_day, 7), end_day - cutoff_day]).astype(float)
    forecast_series, forecast = _forecast(models.purchases.params, summary, weeks / per_unit)
    actual_series = np.searchsorted(np.sort(purchases % span), weeks, side="right").astype(float)

    churned = actual == 0
    risk = churn.no_order_probability(
        models.purchases.params, summary.frequency, summary.recency, summary.age, horizon
    )
    if risk is None:
        risk = churn.recency_risk((summary.age - summary.recency) * per_unit, np.nan, horizon * per_unit)
    return BacktestReport(
        cutoff=cutoff,
        end=end,
        customers=len(summary.customer_ids),
        models=models,
        mae=float(np.mean(np.abs(forecast - actual))),
        actual_total=float(actual.sum()),
        forecast_total=float(forecast.sum()),
        churn_auc=churn.auc(risk, churned),
        calibration=churn.calibration_table(risk, churned),
        series={
            "days": [int(d) for d in weeks],
            "actual": [round(float(v), 2) for v in actual_series],
            "forecast": [round(float(v), 2) for v in forecast_series],
        },
        holdout=ChurnHoldout(summary.customer_ids, churned, risk),
    )


def _forecast(params: bgnbd.PurchaseModel, summary, horizons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Σ over customers of E[Y(t) | x, t_x, T] for each horizon t, and each customer's E[Y] at the last.

    E[Y(t)] is P(alive), which needs t_x, times a ₂F₁ term that needs only (x, T): the latter is
    evaluated once per distinct (x, T) and horizon, and the sums weight it by the P(alive) of its
    customers.
    """
    alive = bgnbd.probability_alive(params, summary.frequency, summary.recency, summary.age)
    alive = np.where(np.isnan(alive), 1.0, alive)  # the empirical fallback: everyone keeps buying
    pair_x, pair_age, pair_of_customer = clv.distinct_pairs(summary.frequency, summary.age)
    alive_by_pair = np.bincount(pair_of_customer, alive, minlength=len(pair_x))
    while_alive = bgnbd.expected_purchases_while_alive(params, horizons[:, np.newaxis], pair_x, pair_age)
    return dot(while_alive, alive_by_pair), alive * while_alive[-1][pair_of_customer]
