"""Computing every metric column of one scope, vectorised: RFM, ABC, CLV (BG/NBD and Gamma-Gamma),
churn, lifecycle stage and customer class; the stored form of a fit; the inputs of the backtest and of
the supervised churn model."""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.utils import timezone

from guanxi.analytics import bgnbd, churn, clv, gammagamma, scores, supervised
from guanxi.analytics.backtest import run_backtest
from guanxi.analytics.conf import AnalyticsConfig
from guanxi.analytics.fitting import FallbackReason, FitMethod
from guanxi.analytics.models import (
    AbcClass,
    ChurnMethod,
    CustomerClass,
    LifecycleStage,
    ModelRun,
    RfmSegment,
)
from guanxi.analytics.refresh.arrays import (
    PHONE_DEVICE_CODES,
    SECONDS_PER_DAY,
    Coded,
    OrderArrays,
    value_runs,
)
from guanxi.analytics.summary import CustomerSummary


@dataclass
class ScopeResult:
    columns: dict[str, Any]
    models: clv.ClvModels | None
    breakpoints: dict
    counts: dict
    backtest: Any = None
    supervised_churn: supervised.Outcome | None = None


@dataclass
class CustomerAggregates:
    """What the metrics need of one scope's sale orders up to `as_of`, one entry per buyer in customer id
    order, all integers: the refresh computes these either in numpy (`aggregate_orders`) or in the
    analytics engine (guanxi.analytics.engine.aggregates), and everything after them is shared."""

    customer_id: np.ndarray
    orders: np.ndarray
    first_seconds: np.ndarray
    last_seconds: np.ndarray
    # Local day numbers (days since 1970-01-01 on the merchant's calendar) of the first and last order.
    first_day: np.ndarray
    last_day: np.ndarray
    spend_cents: np.ndarray
    items: np.ndarray
    # Days with an order (BG/NBD counts repeat purchase days), the orders' amounts floored at zero,
    # and those of the first day alone (Gamma-Gamma leaves the first purchase out).
    purchase_days: np.ndarray
    positive_cents: np.ndarray
    first_day_positive_cents: np.ndarray
    returned_cents: np.ndarray
    future_orders: int


def aggregate_orders(
    orders: OrderArrays, returns: tuple[np.ndarray, np.ndarray], as_of: datetime
) -> CustomerAggregates:
    """The per-buyer aggregates of sale orders (and returns: customer ids, cents) up to `as_of`."""
    as_of_seconds = int(as_of.timestamp())
    offset = _utc_offset_seconds(as_of)
    future = orders.seconds > as_of_seconds
    orders = orders.where(~future).sorted()
    customer, seconds, cents, items = orders.customer, orders.seconds, orders.cents, orders.items
    buyers, starts, counts = value_runs(customer)
    ends = starts + counts - 1
    days = (seconds + offset) // SECONDS_PER_DAY
    positive = np.maximum(cents, 0)
    # One entry per (customer, day): the log is sorted by customer, then time, so days ascend.
    day_starts = np.flatnonzero(
        np.r_[True, (customer[1:] != customer[:-1]) | (days[1:] != days[:-1])] if len(days) else []
    )
    day_customer = customer[day_starts]
    day_cents = np.add.reduceat(positive, day_starts) if len(day_starts) else positive[:0]
    _, first_of_customer, days_per_customer = value_runs(day_customer)
    returned = np.zeros(len(buyers), dtype=np.int64)
    if len(returns[0]) and len(buyers):
        at = np.minimum(np.searchsorted(buyers, returns[0]), len(buyers) - 1)
        hit = buyers[at] == returns[0]
        returned = np.bincount(at[hit], weights=returns[1][hit], minlength=len(buyers)).astype(np.int64)
    empty = len(starts) == 0
    return CustomerAggregates(
        customer_id=buyers,
        orders=counts,
        first_seconds=seconds[starts],
        last_seconds=seconds[ends] if len(ends) else seconds[:0],
        first_day=days[starts],
        last_day=days[ends] if len(ends) else days[:0],
        spend_cents=cents[:0] if empty else np.add.reduceat(cents, starts),
        items=items[:0] if empty else np.add.reduceat(items, starts),
        purchase_days=days_per_customer,
        positive_cents=positive[:0] if empty else np.add.reduceat(positive, starts),
        first_day_positive_cents=day_cents[first_of_customer],
        returned_cents=returned,
        future_orders=int(np.count_nonzero(future)),
    )


def summary_of(aggregates: CustomerAggregates, as_of_day: int) -> CustomerSummary:
    """(x, t_x, T, m̄) in days, as `summarise_transactions` defines them, from the integer aggregates."""
    frequency = (aggregates.purchase_days - 1).astype(float)
    repeat_spend = (aggregates.positive_cents - aggregates.first_day_positive_cents) / 100.0
    return CustomerSummary(
        customer_ids=aggregates.customer_id,
        frequency=frequency,
        recency=(aggregates.last_day - aggregates.first_day).astype(float),
        age=(as_of_day - aggregates.first_day).astype(float),
        monetary_value=np.divide(
            repeat_spend, frequency, out=np.zeros_like(repeat_spend), where=frequency > 0
        ),
        unit="D",
    )


def compute_scope(
    orders: OrderArrays,
    returns: tuple[np.ndarray, np.ndarray],
    universe: np.ndarray,
    as_of: datetime,
    config: AnalyticsConfig,
    prior: ModelRun | None = None,
    supervised_scores: supervised.Scores | None = None,
) -> ScopeResult:
    """Every metric column for the customers of one scope (buyers and `universe`), in customer id order.

    With `supervised_scores` (the supervised model's risk and reasons of the same buyers) those replace
    the P(alive)-based ones."""
    return score_scope(
        aggregate_orders(orders, returns, as_of), universe, as_of, config, prior, supervised_scores
    )


def score_scope(
    aggregates: CustomerAggregates,
    universe: np.ndarray,
    as_of: datetime,
    config: AnalyticsConfig,
    prior: ModelRun | None = None,
    supervised_scores: supervised.Scores | None = None,
) -> ScopeResult:
    """Every metric column from the per-buyer aggregates: models are fitted (or reused) and customers
    scored on these, whichever engine aggregated them."""
    as_of_seconds = int(as_of.timestamp())
    offset = _utc_offset_seconds(as_of)
    as_of_day = (as_of_seconds + offset) // SECONDS_PER_DAY
    buyers, counts = aggregates.customer_id, aggregates.orders
    first_seconds, last_seconds = aggregates.first_seconds, aggregates.last_seconds
    spend_cents, item_sums = aggregates.spend_cents, aggregates.items
    first_day, last_day = aggregates.first_day, aggregates.last_day
    recency = (as_of_day - last_day).astype(float)
    tenure = (as_of_day - first_day).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        interval = np.where(
            counts > 1, (last_seconds - first_seconds) / SECONDS_PER_DAY / (counts - 1), np.nan
        )
    spend = spend_cents / 100.0
    returned = aggregates.returned_cents / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        returns_rate = np.where(spend > 0, np.clip(returned / spend, 0.0, 1.0), 0.0)

    # Models: refit on a full run, reuse the stored fit on an incremental one.
    summary = summary_of(aggregates, as_of_day)
    models = clv.fit_models(summary) if prior is None else models_from_parameters(prior.parameters)
    params = models.purchases.params
    clv_scores = clv.score_customers(
        models,
        summary,
        months=config.CLV_MONTHS,
        monthly_discount_rate=config.MONTHLY_DISCOUNT_RATE,
        margin=config.MARGIN,
    )
    # E[Y(t)] = P(alive) × a term of (x, T) alone, evaluated once per distinct (x, T).
    alive = clv_scores.probability_alive
    pair_x, pair_age, pair_of_customer = clv.distinct_pairs(summary.frequency, summary.age)
    horizons = np.array([30.0, 90.0, 365.0])
    while_alive = bgnbd.expected_purchases_while_alive(params, horizons[:, np.newaxis], pair_x, pair_age)
    alive_or_one = np.where(np.isnan(alive), 1.0, alive)  # the empirical fallback models no dropout
    expected = {
        int(horizon): alive_or_one * while_alive[i][pair_of_customer] for i, horizon in enumerate(horizons)
    }
    daily_rate = while_alive[-1][pair_of_customer] / 365.0
    likely_active = np.where(np.isnan(alive), True, alive >= 0.5) & (daily_rate > 0)
    with np.errstate(divide="ignore"):
        wait_days = np.where(likely_active, np.ceil(1.0 / np.where(daily_rate > 0, daily_rate, 1.0)), np.nan)

    typical_interval = (
        float(np.nanmedian(interval)) if np.any(counts > 1) else float(config.CHURN_HORIZON_DAYS)
    )
    risk = churn.no_order_probability(
        params, summary.frequency, summary.recency, summary.age, float(config.CHURN_HORIZON_DAYS)
    )
    churn_method = ChurnMethod.PROBABILITY_ALIVE
    if risk is None:
        risk = churn.recency_risk(recency, interval, typical_interval)
        churn_method = ChurnMethod.RECENCY

    if prior is None:
        breakpoints: dict[str, Any] = {
            **scores.rfm_breakpoints(recency, counts, spend, config.RFM_BREAKPOINTS),
            "abc": scores.abc_cutoffs(spend, config),
            "reference": churn.reference_values(recency, counts, spend),
        }
    else:
        breakpoints = prior.breakpoints
    r, f, m = scores.rfm_scores(recency, counts, spend, breakpoints)
    stages = scores.lifecycle_stages(counts, recency, tenure, interval, config)
    if supervised_scores is not None:
        if not np.array_equal(supervised_scores.customer_ids, buyers):
            raise ValueError("supervised churn scores are for other customers")
        risk, reasons = supervised_scores.risk, supervised_scores.reasons
        churn_method = ChurnMethod.SUPERVISED
    else:
        reasons = churn.top_reasons(recency, counts, spend, interval, returns_rate, breakpoints["reference"])

    buyer_columns = {
        "customer_id": buyers,
        "first_order_at": first_seconds,
        "last_order_at": last_seconds,
        "orders": counts,
        "items": item_sums,
        "total_spend": spend,
        "average_order_value": np.where(counts > 0, spend / np.maximum(counts, 1), 0.0),
        "average_days_between_orders": np.round(interval, 1),
        "returns_amount": returned,
        "returns_rate": np.round(returns_rate, 4),
        "recency_days": recency,
        "r_score": r,
        "f_score": f,
        "m_score": m,
        "rfm_segment": Coded.of(scores.rfm_segments(r, f), RfmSegment),
        "abc_class": Coded.of(scores.abc_classes(spend, breakpoints["abc"]), AbcClass),
        "probability_alive": alive,
        "churn_risk": risk,
        "churn_method": Coded.constant(churn_method.value, len(buyers)),
        "churn_reasons": Coded(*reasons),
        "expected_purchases_30": expected[30],
        "expected_purchases_90": expected[90],
        "expected_purchases_365": expected[365],
        "expected_spend_per_order": clv_scores.expected_spend,
        "predicted_clv": clv_scores.lifetime_value,
        "expected_next_order_day": as_of_day + wait_days,
        "lifecycle_stage": Coded.of(stages, LifecycleStage),
        "customer_class": Coded.of(scores.customer_classes(counts, tenure, stages, config), CustomerClass),
        "method": Coded.constant(str(models.method), len(buyers)),
    }
    columns = _with_potential_customers(buyer_columns, universe)
    counts_out = {
        "customers": len(columns["customer_id"]),
        "buyers": len(buyers),
        "repeat_buyers": int(np.count_nonzero(counts > 1)),
        "orders": int(counts.sum()),
        "future_orders_skipped": aggregates.future_orders,
    }
    return ScopeResult(columns=columns, models=models, breakpoints=breakpoints, counts=counts_out)


def _with_potential_customers(columns: dict[str, Any], universe: np.ndarray) -> dict[str, Any]:
    """Add a row for each customer in `universe` without orders: class "potential", no figures."""
    extra = np.setdiff1d(universe, columns["customer_id"], assume_unique=True)
    if not len(extra):
        return columns
    texts = {
        "customer_class": CustomerClass.POTENTIAL.value,
        "method": str(FitMethod.EMPIRICAL),
        "churn_reasons": "[]",
    }
    result: dict[str, Any] = {}
    for name, values in columns.items():
        if isinstance(values, Coded):
            text = texts.get(name, "")
            vocabulary = values.vocabulary if text in values.vocabulary else (*values.vocabulary, text)
            filler = np.full(len(extra), vocabulary.index(text), dtype=np.int64)
            result[name] = Coded(vocabulary, np.concatenate([values.codes, filler]))
            continue
        if name == "customer_id":
            filler = extra
        elif name in ZERO_WITHOUT_ORDERS:
            filler = np.zeros(len(extra), dtype=values.dtype)
        else:
            filler = np.full(len(extra), np.nan)
        if filler.dtype.kind == "f":
            values = values.astype(float)
        result[name] = np.concatenate([values, filler])
    order = np.argsort(result["customer_id"], kind="stable")
    return {
        name: Coded(values.vocabulary, values.codes[order]) if isinstance(values, Coded) else values[order]
        for name, values in result.items()
    }


ZERO_WITHOUT_ORDERS = (
    "orders",
    "items",
    "total_spend",
    "average_order_value",
    "returns_amount",
    "returns_rate",
)


def models_to_parameters(models: clv.ClvModels, fitted_at: datetime) -> dict:
    def describe(fit) -> dict:
        return {
            "values": {k: float(v) for k, v in vars(fit.params).items()},
            "method": str(fit.method),
            "reason": str(fit.reason) if fit.reason else "",
            "log_likelihood": None if math.isnan(fit.log_likelihood) else fit.log_likelihood,
            "customers": fit.customers,
        }

    return {
        "bgnbd": describe(models.purchases),
        "gamma_gamma": describe(models.spend),
        "unit": models.unit,
        "fitted_at": fitted_at.isoformat(),
    }


def models_from_parameters(parameters: dict) -> clv.ClvModels:
    def fit(kind: str, model_class, empirical_class, fit_class):
        entry = parameters[kind]
        method = FitMethod(entry["method"])
        params = (model_class if method == FitMethod.MAXIMUM_LIKELIHOOD else empirical_class)(
            **entry["values"]
        )
        return fit_class(
            params=params,
            log_likelihood=float("nan"),
            converged=method == FitMethod.MAXIMUM_LIKELIHOOD,
            method=method,
            reason=FallbackReason(entry["reason"]) if entry["reason"] else None,
            customers=entry["customers"],
        )

    return clv.ClvModels(
        purchases=fit("bgnbd", bgnbd.BgNbdParams, bgnbd.EmpiricalPurchaseRate, bgnbd.BgNbdFit),
        spend=fit(
            "gamma_gamma", gammagamma.GammaGammaParams, gammagamma.EmpiricalSpend, gammagamma.GammaGammaFit
        ),
        unit=parameters.get("unit", "D"),
    )


def _utc_offset_seconds(moment: datetime) -> int:
    """Offset of the display time zone at `moment`: days are counted on the merchant's calendar."""
    offset = moment.astimezone(timezone.get_current_timezone()).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def day_number(moment: datetime) -> int:
    """The day of `moment` on the merchant's calendar, as days since 1970-01-01."""
    return (int(moment.timestamp()) + _utc_offset_seconds(moment)) // SECONDS_PER_DAY


def purchase_log(
    orders: OrderArrays, returns: tuple[np.ndarray, np.ndarray, np.ndarray], as_of: datetime
) -> supervised.PurchaseLog:
    """A scope's orders (sorted) and returns (customer ids, cents, seconds) up to `as_of`, by local day."""
    offset = _utc_offset_seconds(as_of)
    upto = orders.seconds <= int(as_of.timestamp())
    columns = [orders.customer, orders.seconds, orders.cents, orders.device]
    if not upto.all():
        columns = [column[upto] for column in columns]
    customer, seconds, cents, device = columns
    return supervised.PurchaseLog.build(
        customer,
        (seconds + offset) // SECONDS_PER_DAY,
        cents,
        np.isin(device, PHONE_DEVICE_CODES),
        (returns[0], (returns[2] + offset) // SECONDS_PER_DAY, returns[1]),
    )


def backtest_scope(orders: OrderArrays, as_of: datetime, config: AnalyticsConfig):
    """Hold out the last BACKTEST_HOLDOUT_DAYS (at most half the history); None when the history is short."""
    offset = _utc_offset_seconds(as_of)
    end_day = (int(as_of.timestamp()) + offset) // SECONDS_PER_DAY
    days = (orders.seconds + offset) // SECONDS_PER_DAY
    keep = days <= end_day
    days = days[keep]
    if not len(days) or end_day - days.min() < config.BACKTEST_MIN_DAYS:
        return None
    holdout = min(config.BACKTEST_HOLDOUT_DAYS, int(end_day - days.min()) // 2)
    return run_backtest(
        orders.customer[keep],
        days.astype("datetime64[D]"),
        np.maximum(orders.cents[keep], 0) / 100.0,
        _day_to_date(end_day - holdout),
        _day_to_date(end_day),
        unit="D",
    )


def _day_to_date(day: int):
    return np.datetime64(int(day), "D").astype(object)
