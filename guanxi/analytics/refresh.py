"""The metrics refresh: read orders in chunks into numpy, compute every customer metric vectorised, and
replace the stored rows of each scope (organisation-wide, each business unit) in one transaction.

A full run reads every sale order, refits the BG/NBD and Gamma-Gamma models, recomputes the score
breakpoints (RFM quintiles, ABC cut-offs) and backtests. An incremental run recomputes only customers
with orders, returns or links created since the last successful run, with the stored models and
breakpoints; it turns into a full run when there is none or the last fit is older than REFIT_AFTER_DAYS.
Either way nothing is written until everything is computed, so a failed run keeps the previous metrics.
"""

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics import bgnbd, churn, clv, gammagamma, scores
from guanxi.analytics.backtest import run_backtest
from guanxi.analytics.conf import AnalyticsConfig, analytics_config
from guanxi.analytics.fitting import FallbackReason, FitMethod
from guanxi.analytics.models import ChurnMethod, CustomerClass, CustomerMetric, ModelRun
from guanxi.analytics.summary import summarise_transactions
from guanxi.commerce.models import Order, Return
from guanxi.customers.models import Customer, CustomerUnit

logger = logging.getLogger(__name__)

FETCH_ROWS = 200_000
ID_CHUNK = 5_000
WRITE_BATCH = 20_000
SECONDS_PER_DAY = 86_400


class ProgressSink(Protocol):
    def set_total(self, total: int | None) -> None: ...

    def advance(self, steps: int = 1, message: str = "", **counts: int) -> None: ...


@dataclass
class OrderArrays:
    """Sale orders, one entry each: customer and unit ids, UTC epoch seconds, net amount in cents, items."""

    customer: np.ndarray
    unit: np.ndarray
    seconds: np.ndarray
    cents: np.ndarray
    items: np.ndarray

    def where(self, mask: np.ndarray) -> "OrderArrays":
        return OrderArrays(
            *(getattr(self, name)[mask] for name in ("customer", "unit", "seconds", "cents", "items"))
        )


@dataclass
class ScopeResult:
    columns: dict[str, Any]
    models: clv.ClvModels | None
    breakpoints: dict
    counts: dict
    backtest: Any = None


def refresh_metrics(
    unit: BusinessUnit | None = None,
    full: bool = False,
    progress: ProgressSink | None = None,
    *,
    as_of: datetime | None = None,
    job: Any = None,
) -> ModelRun:
    """Refresh one unit's metrics, or (unit None) the organisation-wide ones and every unit's.

    Returns the run of `unit`'s scope (the organisation-wide run when `unit` is None).
    """
    config = analytics_config()
    started = timezone.now()
    as_of = as_of or started
    scopes: list[BusinessUnit | None] = (
        [unit] if unit is not None else [None, *BusinessUnit.objects.order_by("pk")]
    )
    previous = {_scope_key(s): _last_run(s) for s in scopes}
    incremental = not full and all(
        run is not None and run.parameters and _fit_is_fresh(run, as_of, config) for run in previous.values()
    )
    runs = {
        _scope_key(s): ModelRun.objects.create(
            unit=s, full=not incremental, as_of=as_of, started_at=started, job=job
        )
        for s in scopes
    }
    steps = _Steps(progress, total=2 + 2 * len(scopes))
    try:
        touched = None
        if incremental:
            watermark = min(run.started_at for run in previous.values())
            touched = _touched_customers(watermark, unit)
        steps.done("read orders")
        orders = read_orders(unit_id=unit.pk if unit else None, customer_ids=touched)
        returns = read_returns(as_of, unit_id=unit.pk if unit else None, customer_ids=touched)
        steps.done("orders read", orders=len(orders.customer))
        results = {}
        for scope in scopes:
            key = _scope_key(scope)
            mask = np.ones(len(orders.customer), dtype=bool) if scope is None else orders.unit == scope.pk
            rmask = np.ones(len(returns[0]), dtype=bool) if scope is None else returns[1] == scope.pk
            universe = _universe(scope, touched)
            prior = previous[key] if incremental else None
            scope_orders = orders.where(mask)
            results[key] = compute_scope(
                scope_orders, (returns[0][rmask], returns[2][rmask]), universe, as_of, config, prior
            )
            if not incremental:
                results[key].backtest = backtest_scope(scope_orders, as_of, config)
            steps.done(f"computed {scope or 'organisation'}")
        with transaction.atomic():
            for scope in scopes:
                key = _scope_key(scope)
                run = runs[key]
                result = results[key]
                if incremental:
                    _delete_rows(scope, result.columns["customer_id"])
                else:
                    CustomerMetric.objects.filter(unit=scope).delete()
                write_rows(result.columns, scope, run.pk, as_of)
                _finish_run(run, result, previous[key] if incremental else None, touched)
                steps.done(f"saved {scope or 'organisation'}")
    except Exception as error:
        ModelRun.objects.filter(pk__in=[r.pk for r in runs.values()]).update(
            state=ModelRun.State.FAILED,
            finished_at=timezone.now(),
            message=f"{type(error).__name__}: {error}"[:500],
        )
        raise
    return runs[_scope_key(unit)]


def _scope_key(scope: BusinessUnit | None) -> int | None:
    return scope.pk if scope is not None else None


def _last_run(scope: BusinessUnit | None) -> ModelRun | None:
    return (
        ModelRun.objects.filter(unit=scope, state=ModelRun.State.SUCCEEDED)
        .order_by("-started_at", "-pk")
        .first()
    )


def _fit_is_fresh(run: ModelRun, as_of: datetime, config: AnalyticsConfig) -> bool:
    fitted_at = run.parameters.get("fitted_at")
    if not fitted_at:
        return False
    return as_of - datetime.fromisoformat(fitted_at) < timedelta(days=config.REFIT_AFTER_DAYS)


class _Steps:
    def __init__(self, progress: ProgressSink | None, total: int) -> None:
        self.progress = progress
        if progress is not None:
            progress.set_total(total)

    def done(self, message: str, **counts: int) -> None:
        logger.info("analytics refresh: %s", message)
        if self.progress is not None:
            self.progress.advance(1, message, **counts)


# Reading ---------------------------------------------------------------------------------------------


def read_orders(unit_id: int | None = None, customer_ids: np.ndarray | None = None) -> OrderArrays:
    """Every sale order with a customer (of one unit, of some customers), read in chunks into numpy."""
    table = Order._meta.db_table
    statuses = [str(s) for s in Order.SALE_STATUSES]
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM placed_at)::bigint"
        cents = "ROUND((total_amount - refunded_amount) * 100)::bigint"
    else:
        seconds = "CAST(strftime('%%s', placed_at) AS INTEGER)"
        cents = "CAST(ROUND((total_amount - refunded_amount) * 100) AS INTEGER)"
    where = [f"customer_id IS NOT NULL AND status IN ({', '.join(['%s'] * len(statuses))})"]
    params: list[Any] = list(statuses)
    if unit_id is not None:
        where.append("unit_id = %s")
        params.append(unit_id)
    sql = f"SELECT customer_id, unit_id, {seconds}, {cents}, item_count FROM {table} WHERE {' AND '.join(where)}"  # noqa: S608 (table and expressions are ours; values are bound)
    chunks = [np.array(block, dtype=np.int64).reshape(-1, 5) for block in _select(sql, params, customer_ids)]
    data = np.concatenate(chunks) if chunks else np.zeros((0, 5), dtype=np.int64)
    return OrderArrays(*(np.ascontiguousarray(data[:, i]) for i in range(5)))


def read_returns(
    as_of: datetime, unit_id: int | None = None, customer_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer ids, unit ids, cents) of returns up to `as_of`."""
    table = Return._meta.db_table
    cents = (
        "ROUND(amount * 100)::bigint"
        if connection.vendor == "postgresql"
        else "CAST(ROUND(amount * 100) AS INTEGER)"
    )
    sql = f"SELECT customer_id, unit_id, {cents} FROM {table} WHERE customer_id IS NOT NULL AND returned_at <= %s"  # noqa: S608 (values are bound)
    params: list[Any] = [as_of]
    if unit_id is not None:
        sql += " AND unit_id = %s"
        params.append(unit_id)
    chunks = [np.array(block, dtype=np.int64).reshape(-1, 3) for block in _select(sql, params, customer_ids)]
    data = np.concatenate(chunks) if chunks else np.zeros((0, 3), dtype=np.int64)
    return data[:, 0].copy(), data[:, 1].copy(), data[:, 2].copy()


def _select(sql: str, params: list, customer_ids: np.ndarray | None) -> Iterable[list[tuple]]:
    """Blocks of rows; with `customer_ids`, the query runs per chunk of ids."""
    if customer_ids is None:
        yield from _fetch_blocks(sql, params)
        return
    for start in range(0, len(customer_ids), ID_CHUNK):
        chunk = [int(i) for i in customer_ids[start : start + ID_CHUNK]]
        if chunk:
            yield from _fetch_blocks(
                f"{sql} AND customer_id IN ({', '.join(['%s'] * len(chunk))})", params + chunk
            )


def _fetch_blocks(sql: str, params: list) -> Iterable[list[tuple]]:
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        # A named (server-side) cursor streams rows instead of materialising the result in the client.
        with transaction.atomic(), connection.connection.cursor(name="guanxi_metrics_read") as cursor:
            cursor.itersize = FETCH_ROWS
            cursor.execute(sql.replace("%%", "%"), params)
            while block := cursor.fetchmany(FETCH_ROWS):
                yield block
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while block := cursor.fetchmany(FETCH_ROWS):
            yield block


def _touched_customers(watermark: datetime, unit: BusinessUnit | None) -> np.ndarray:
    """Customers with orders, returns, profiles or unit links created since `watermark`."""
    querysets = [
        Order.objects.filter(created_at__gte=watermark, customer__isnull=False).values_list("customer_id"),
        Return.objects.filter(created_at__gte=watermark, customer__isnull=False).values_list("customer_id"),
        CustomerUnit.objects.filter(first_seen_at__gte=watermark).values_list("customer_id"),
    ]
    if unit is not None:
        querysets = [qs.filter(unit=unit) for qs in querysets]
    else:
        querysets.append(Customer.objects.filter(created_at__gte=watermark).values_list("pk"))
    ids: set[int] = set()
    for queryset in querysets:
        ids.update(pk for (pk,) in queryset.distinct().iterator(chunk_size=10_000))
    return np.array(sorted(ids), dtype=np.int64)


def _universe(scope: BusinessUnit | None, touched: np.ndarray | None) -> np.ndarray:
    """Customers that get a row even without orders: every profile (org-wide) or every linked one (unit)."""
    queryset = (
        Customer.objects.values_list("pk", flat=True)
        if scope is None
        else CustomerUnit.objects.filter(unit=scope).values_list("customer_id", flat=True)
    )
    if touched is not None:
        ids: list[int] = []
        for start in range(0, len(touched), ID_CHUNK):
            chunk = [int(i) for i in touched[start : start + ID_CHUNK]]
            field = "pk__in" if scope is None else "customer_id__in"
            ids.extend(queryset.filter(**{field: chunk}))
        return np.unique(np.array(ids, dtype=np.int64))
    return np.unique(np.fromiter(queryset.iterator(chunk_size=50_000), dtype=np.int64))


# Computing -------------------------------------------------------------------------------------------


def compute_scope(
    orders: OrderArrays,
    returns: tuple[np.ndarray, np.ndarray],
    universe: np.ndarray,
    as_of: datetime,
    config: AnalyticsConfig,
    prior: ModelRun | None = None,
) -> ScopeResult:
    """Every metric column for the customers of one scope (buyers and `universe`), in customer id order."""
    as_of_seconds = int(as_of.timestamp())
    offset = int(as_of.astimezone(timezone.get_current_timezone()).utcoffset().total_seconds())
    as_of_day = (as_of_seconds + offset) // SECONDS_PER_DAY
    future = orders.seconds > as_of_seconds
    orders = orders.where(~future)

    order_index = np.lexsort((orders.seconds, orders.customer))
    customer, seconds = orders.customer[order_index], orders.seconds[order_index]
    cents, items = orders.cents[order_index], orders.items[order_index]
    buyers, starts, counts = np.unique(customer, return_index=True, return_counts=True)
    ends = starts + counts - 1
    first_seconds, last_seconds = seconds[starts], seconds[ends] if len(ends) else seconds[:0]
    spend_cents = np.add.reduceat(cents, starts) if len(starts) else cents[:0]
    item_sums = np.add.reduceat(items, starts) if len(starts) else items[:0]
    days = (seconds + offset) // SECONDS_PER_DAY
    first_day, last_day = days[starts], days[ends] if len(ends) else days[:0]
    recency = (as_of_day - last_day).astype(float)
    tenure = (as_of_day - first_day).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        interval = np.where(
            counts > 1, (last_seconds - first_seconds) / SECONDS_PER_DAY / (counts - 1), np.nan
        )
    spend = spend_cents / 100.0

    returned = np.zeros(len(buyers))
    if len(returns[0]) and len(buyers):
        at = np.minimum(np.searchsorted(buyers, returns[0]), len(buyers) - 1)
        hit = buyers[at] == returns[0]
        returned = np.bincount(at[hit], weights=returns[1][hit] / 100.0, minlength=len(buyers))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns_rate = np.where(spend > 0, np.clip(returned / spend, 0.0, 1.0), 0.0)

    # Models: refit on a full run, reuse the stored fit on an incremental one.
    summary = summarise_transactions(
        customer,
        days.astype("datetime64[D]"),
        np.maximum(cents, 0) / 100.0,
        np.datetime64(int(as_of_day), "D").astype(object),
        unit="D",
    )
    models = clv.fit_models(summary) if prior is None else models_from_parameters(prior.parameters)
    params = models.purchases.params
    clv_scores = clv.score_customers(
        models,
        summary,
        months=config.CLV_MONTHS,
        monthly_discount_rate=config.MONTHLY_DISCOUNT_RATE,
        margin=config.MARGIN,
    )
    rows = bgnbd.compress_rfm(summary.frequency, summary.recency, summary.age)
    expected = {
        horizon: bgnbd.expected_purchases(params, horizon, rows.x, rows.t_x, rows.T)[rows.inverse]
        for horizon in (30, 90, 365)
    }
    alive = clv_scores.probability_alive
    daily_rate = bgnbd.expected_purchases_while_alive(params, 365.0, summary.frequency, summary.age) / 365.0
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
        breakpoints = {
            **scores.rfm_breakpoints(recency, counts, spend, config.RFM_BREAKPOINTS),
            "abc": scores.abc_cutoffs(spend, config),
            "reference": churn.reference_values(recency, counts, spend),
        }
    else:
        breakpoints = prior.breakpoints
    r, f, m = scores.rfm_scores(recency, counts, spend, breakpoints)
    stages = scores.lifecycle_stages(counts, recency, tenure, interval, config)
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
        "rfm_segment": scores.rfm_segments(r, f),
        "abc_class": scores.abc_classes(spend, breakpoints["abc"]),
        "probability_alive": alive,
        "churn_risk": risk,
        "churn_method": np.full(len(buyers), churn_method.value, dtype=object),
        "churn_reasons": reasons,
        "expected_purchases_30": expected[30],
        "expected_purchases_90": expected[90],
        "expected_purchases_365": expected[365],
        "expected_spend_per_order": clv_scores.expected_spend,
        "predicted_clv": clv_scores.lifetime_value,
        "expected_next_order_day": as_of_day + wait_days,
        "lifecycle_stage": stages,
        "customer_class": scores.customer_classes(counts, tenure, stages, config),
        "method": np.full(len(buyers), str(models.method), dtype=object),
    }
    columns = _with_potential_customers(buyer_columns, universe)
    counts_out = {
        "customers": len(columns["customer_id"]),
        "buyers": len(buyers),
        "repeat_buyers": int(np.count_nonzero(counts > 1)),
        "orders": int(counts.sum()),
        "future_orders_skipped": int(np.count_nonzero(future)),
    }
    return ScopeResult(columns=columns, models=models, breakpoints=breakpoints, counts=counts_out)


def _with_potential_customers(columns: dict[str, np.ndarray], universe: np.ndarray) -> dict[str, np.ndarray]:
    """Add a row for each customer in `universe` without orders: class "potential", no figures."""
    extra = np.setdiff1d(universe, columns["customer_id"], assume_unique=True)
    if not len(extra):
        return columns
    result = {}
    for name, values in columns.items():
        if name == "customer_id":
            filler = extra
        elif name in (
            "orders",
            "items",
            "total_spend",
            "average_order_value",
            "returns_amount",
            "returns_rate",
        ):
            filler = np.zeros(len(extra), dtype=values.dtype)
        elif name == "customer_class":
            filler = np.full(len(extra), CustomerClass.POTENTIAL.value, dtype=object)
        elif name == "method":
            filler = np.full(len(extra), str(FitMethod.EMPIRICAL), dtype=object)
        elif name == "churn_reasons":
            filler = np.full(len(extra), "[]", dtype=object)
        elif values.dtype == object:
            filler = np.full(len(extra), "", dtype=object)
        else:
            filler = np.full(len(extra), np.nan)
        if filler.dtype.kind == "f":
            values = values.astype(float)
        result[name] = np.concatenate([values, filler])
    order = np.argsort(result["customer_id"], kind="stable")
    return {name: values[order] for name, values in result.items()}


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


def backtest_scope(orders: OrderArrays, as_of: datetime, config: AnalyticsConfig):
    """Hold out the last BACKTEST_HOLDOUT_DAYS (at most half the history); None when the history is short."""
    tz = timezone.get_current_timezone()
    offset = int(as_of.astimezone(tz).utcoffset().total_seconds())
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


# Writing ---------------------------------------------------------------------------------------------

MONEY_COLUMNS = (
    "total_spend",
    "average_order_value",
    "returns_amount",
    "expected_spend_per_order",
    "predicted_clv",
)
FLOAT_DIGITS = {
    "probability_alive": 4,
    "churn_risk": 4,
    "expected_purchases_30": 4,
    "expected_purchases_90": 4,
    "expected_purchases_365": 4,
}


def write_rows(
    columns: dict[str, np.ndarray], scope: BusinessUnit | None, run_id: int, as_of: datetime
) -> int:
    """Insert the computed rows (COPY on PostgreSQL, batched executemany elsewhere)."""
    n = len(columns["customer_id"])
    if not n:
        return 0
    postgres = connection.vendor == "postgresql"
    out: dict[str, list] = {}
    for name, values in columns.items():
        if name in ("first_order_at", "last_order_at"):
            out[name] = _timestamps(values, postgres)
        elif name == "expected_next_order_day":
            out["expected_next_order_at"] = _dates(values)
        elif name in MONEY_COLUMNS:
            out[name] = _nullable(np.round(np.asarray(values, dtype=float), 2))
        elif name in FLOAT_DIGITS:
            out[name] = _nullable(np.round(np.asarray(values, dtype=float), FLOAT_DIGITS[name]))
        elif values.dtype == object:
            out[name] = values.tolist()
        elif name in ("recency_days", "r_score", "f_score", "m_score"):
            out[name] = _nullable_int(values)
        else:
            out[name] = _nullable(values)
    out["unit_id"] = [scope.pk if scope else None] * n
    out["run_id"] = [run_id] * n
    out["computed_at"] = [as_of] * n
    names = list(out)
    rows = zip(*(out[name] for name in names), strict=True)
    table = CustomerMetric._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(name) for name in names)
    with connection.cursor() as cursor:
        if postgres:
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join(['%s'] * len(names))})"  # noqa: S608 (column names come from the model)
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) >= WRITE_BATCH:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
    return n


def _nullable(values: np.ndarray) -> list:
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return [None if v != v else v for v in values.tolist()]
    return values.tolist()


def _nullable_int(values: np.ndarray) -> list:
    values = np.asarray(values, dtype=float)
    return [None if v != v else int(v) for v in values.tolist()]


def _timestamps(seconds: np.ndarray, postgres: bool) -> list:
    seconds = np.asarray(seconds, dtype=float)
    missing = np.isnan(seconds)
    text = np.datetime_as_string(np.where(missing, 0, seconds).astype("datetime64[s]"), unit="s")
    text = np.char.add(text, "+00:00") if postgres else np.char.replace(text, "T", " ")
    return [None if gone else t for t, gone in zip(text.tolist(), missing.tolist(), strict=True)]


def _dates(day_numbers: np.ndarray) -> list:
    days = np.asarray(day_numbers, dtype=float)
    missing = ~np.isfinite(days)
    text = np.datetime_as_string(np.where(missing, 0, days).astype("datetime64[D]"), unit="D")
    return [None if gone else t for t, gone in zip(text.tolist(), missing.tolist(), strict=True)]


def _delete_rows(scope: BusinessUnit | None, customer_ids: np.ndarray) -> None:
    for start in range(0, len(customer_ids), ID_CHUNK):
        chunk = [int(i) for i in customer_ids[start : start + ID_CHUNK]]
        CustomerMetric.objects.filter(unit=scope, customer_id__in=chunk).delete()


def _finish_run(
    run: ModelRun, result: ScopeResult, prior: ModelRun | None, touched: np.ndarray | None
) -> None:
    run.state = ModelRun.State.SUCCEEDED
    run.finished_at = timezone.now()
    run.counts = result.counts | ({"changed_customers": len(touched)} if touched is not None else {})
    run.breakpoints = _json_safe(result.breakpoints)
    if prior is not None:
        # Incremental: the models and their backtest are those of the last full run.
        for name in (
            "parameters",
            "method",
            "fallback_reason",
            "log_likelihood",
            "backtest_cutoff",
            "backtest_mae",
            "backtest_series",
            "churn_method",
            "churn_auc",
            "supervised_churn_auc",
            "churn_calibration",
        ):
            setattr(run, name, getattr(prior, name))
    else:
        models = result.models
        run.parameters = models_to_parameters(models, run.started_at)
        run.method = models.method
        run.fallback_reason = ", ".join(str(reason) for reason in models.reasons)
        lls = [fit.log_likelihood for fit in (models.purchases, models.spend)]
        run.log_likelihood = None if any(math.isnan(v) for v in lls) else float(sum(lls))
        report = result.backtest
        if report is not None:
            run.backtest_cutoff = report.cutoff
            run.backtest_mae = report.mae
            run.backtest_series = report.series
            run.churn_method = (
                ChurnMethod.PROBABILITY_ALIVE
                if report.models.purchases.method == FitMethod.MAXIMUM_LIKELIHOOD
                else ChurnMethod.RECENCY
            )
            run.churn_auc = report.churn_auc
            run.churn_calibration = report.calibration
    run.save()


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
