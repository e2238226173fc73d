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
from guanxi.analytics.summary import DAYS_PER_UNIT, summarise_transactions


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
    pairs = np.unique(np.column_stack([position[known], days[holdout][known]]), axis=0)
    actual = np.bincount(pairs[:, 0], minlength=len(summary.customer_ids)).astype(float)

    horizon = (end_day - cutoff_day) / per_unit
    weeks = np.unique(np.r_[np.arange(7, end_day - cutoff_day, 7), end_day - cutoff_day]).astype(float)
    forecast_series = _aggregate_forecast(models.purchases.params, summary, weeks / per_unit)
    forecast = bgnbd.expected_purchases(
        models.purchases.params, horizon, summary.frequency, summary.recency, summary.age
    )
    actual_series = np.searchsorted(np.sort(pairs[:, 1] - cutoff_day), weeks, side="right").astype(float)

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
    )


def _aggregate_forecast(params: bgnbd.PurchaseModel, summary, horizons: np.ndarray) -> np.ndarray:
    """Σ over customers of E[Y(t) | x, t_x, T] for each t, on distinct (x, t_x, T) rows."""
    rows = bgnbd.compress_rfm(summary.frequency, summary.recency, summary.age)
    alive = bgnbd.probability_alive(params, rows.x, rows.t_x, rows.T)
    alive = np.where(np.isnan(alive), 1.0, alive)
    totals = []
    for t in horizons:
        while_alive = bgnbd.expected_purchases_while_alive(params, t, rows.x, rows.T)
        totals.append(float(np.dot(rows.weight, alive * while_alive)))
    return np.array(totals)
