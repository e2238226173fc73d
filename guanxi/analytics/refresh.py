"""The metrics refresh: read orders into numpy, compute every customer metric vectorised, and replace
the stored rows of each scope (organisation-wide, each business unit) in one transaction.

A full run reads every sale order, refits the BG/NBD and Gamma-Gamma models, recomputes the score
breakpoints (RFM quintiles, ABC cut-offs), backtests, and trains the supervised churn model, which
replaces the P(alive)-based risk of the scopes where it backtests better (see supervised.py). An
incremental run recomputes only customers with orders, returns, links or profiles added since the last
successful run (rows above the ids it recorded), with the stored models (the supervised one included),
breakpoints and backtest; it turns into a full run when there is none or the last fit is older than
REFIT_AFTER_DAYS. Either way nothing is written until everything is computed, so a failed run keeps
the previous metrics.

Where the time goes at a million customers on PostgreSQL (see bench/analytics.py): reading the orders
(array_agg of each column, decoded as numpy), sorting them once, fitting, and writing two million
metric rows (binary COPY into a temporary table, then one INSERT … SELECT per scope; a full refresh of
every scope writes into a new table and builds its indexes afterwards, see rebuild.py).
"""

import logging
import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import psycopg
from django.db import connection, transaction
from django.db.models import Max, TextChoices
from django.utils import timezone
from psycopg import pq
from psycopg.adapt import Loader

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics import bgnbd, churn, clv, gammagamma, scores, supervised
from guanxi.analytics.backtest import run_backtest
from guanxi.analytics.conf import AnalyticsConfig, analytics_config
from guanxi.analytics.fitting import FallbackReason, FitMethod
from guanxi.analytics.models import (
    AbcClass,
    ChurnMethod,
    CustomerClass,
    CustomerMetric,
    LifecycleStage,
    ModelRun,
    RfmSegment,
)
from guanxi.analytics.rebuild import TableRebuild
from guanxi.analytics.summary import summarise_transactions
from guanxi.commerce.models import Order, Return
from guanxi.customers.models import Customer, CustomerUnit

logger = logging.getLogger(__name__)

FETCH_ROWS = 200_000
ID_CHUNK = 5_000
WRITE_BATCH = 50_000
SECONDS_PER_DAY = 86_400
INT8_ARRAY_OID = 1016
# An order's device travels in the low bits of its item count: one column fewer to aggregate and decode.
DEVICE_CODES = {Order.Device.MOBILE: 1, Order.Device.APP: 2, Order.Device.PC: 3, Order.Device.OFFLINE: 4}
DEVICE_BITS = 3
PHONE_DEVICE_CODES = (DEVICE_CODES[Order.Device.MOBILE], DEVICE_CODES[Order.Device.APP])


class ProgressSink(Protocol):
    def set_total(self, total: int | None) -> None: ...

    def advance(self, steps: int = 1, message: str = "", **counts: int) -> None: ...


@dataclass
class OrderArrays:
    """Sale orders, one entry each: customer and unit ids, UTC epoch seconds, net amount in cents, items,
    and the device (DEVICE_CODES, 0 when unknown)."""

    customer: np.ndarray
    unit: np.ndarray
    seconds: np.ndarray
    cents: np.ndarray
    items: np.ndarray
    device: np.ndarray

    def where(self, mask: np.ndarray) -> "OrderArrays":
        return OrderArrays(
            *(
                getattr(self, name)[mask]
                for name in ("customer", "unit", "seconds", "cents", "items", "device")
            )
        )

    def sorted(self) -> "OrderArrays":
        """By customer, then time; done once, since every subset of a sorted log stays sorted."""
        if _is_sorted(self.customer, self.seconds):
            return self
        if len(self.seconds) and self.seconds.max() - self.seconds.min() < 2**32 and self.customer.min() >= 0:
            # One stable argsort of a combined key costs half of np.lexsort's two.
            order = np.argsort(self.customer << 32 | (self.seconds - self.seconds.min()), kind="stable")
        else:
            order = np.lexsort((self.seconds, self.customer))
        return self.where(order)


def _is_sorted(customer: np.ndarray, seconds: np.ndarray) -> bool:
    same = customer[1:] == customer[:-1]
    return bool(np.all(customer[1:] >= customer[:-1]) and np.all(seconds[1:][same] >= seconds[:-1][same]))


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(…, return_index=True, return_counts=True) of a sorted array, in one pass."""
    starts = (
        np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
        if len(sorted_values)
        else np.zeros(0, dtype=np.intp)
    )
    return sorted_values[starts], starts, np.diff(np.r_[starts, len(sorted_values)])


@dataclass(frozen=True)
class Coded:
    """A text column as positions in a short vocabulary, so that rows travel as numbers."""

    vocabulary: tuple[str, ...]
    codes: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, choices: type[TextChoices]) -> "Coded":
        """Encode values of `choices` (or "") by binary search: sorting a million strings costs seconds."""
        vocabulary = np.array(sorted({"", *choices.values}))
        values = np.asarray(values).astype(vocabulary.dtype)
        codes = np.minimum(np.searchsorted(vocabulary, values), len(vocabulary) - 1)
        if not np.array_equal(vocabulary[codes], values):
            raise ValueError(f"values outside {choices.__name__}")
        return cls(tuple(str(v) for v in vocabulary), codes.astype(np.int64))

    @classmethod
    def constant(cls, value: str, count: int) -> "Coded":
        return cls((value,), np.zeros(count, dtype=np.int64))


@dataclass
class ScopeResult:
    columns: dict[str, Any]
    models: clv.ClvModels | None
    breakpoints: dict
    counts: dict
    backtest: Any = None
    supervised_churn: supervised.Outcome | None = None


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
        run is not None and run.parameters and run.watermarks and _fit_is_fresh(run, as_of, config)
        for run in previous.values()
    )
    # Taken before anything is read: rows added from now on are the next incremental run's business.
    marks = _high_water_marks()
    runs = {
        _scope_key(s): ModelRun.objects.create(
            unit=s, full=not incremental, as_of=as_of, started_at=started, job=job, watermarks=marks
        )
        for s in scopes
    }
    steps = _Steps(progress, total=2 + 2 * len(scopes))
    try:
        touched = None
        if incremental:
            since = {
                name: min(run.watermarks.get(name, 0) for run in previous.values() if run is not None)
                for name in marks
            }
            touched = _touched_customers(since, unit)
        steps.done("read orders")
        orders = read_orders(unit_id=unit.pk if unit else None, customer_ids=touched).sorted()
        returns = read_returns(as_of, unit_id=unit.pk if unit else None, customer_ids=touched)
        steps.done("orders read", orders=len(orders.customer))
        results = {}
        # One supervised churn model per refresh, trained on the first scope (see supervised.py).
        trainer = None if incremental else supervised.Trainer(_day_number(as_of), config.CHURN_HORIZON_DAYS)
        for scope in scopes:
            key = _scope_key(scope)
            mask = np.ones(len(orders.customer), dtype=bool) if scope is None else orders.unit == scope.pk
            rmask = np.ones(len(returns[0]), dtype=bool) if scope is None else returns[1] == scope.pk
            universe = _universe(scope, touched)
            prior = previous[key] if incremental else None
            scope_orders = orders.where(mask)
            scope_returns = (returns[0][rmask], returns[2][rmask], returns[3][rmask])
            report, outcome, churn_scores = None, None, None
            if trainer is not None:
                report = backtest_scope(scope_orders, as_of, config)
                outcome = trainer.evaluate(purchase_log(scope_orders, scope_returns, as_of), report)
                churn_scores = outcome.scores
            elif prior is not None and (stored := stored_churn_model(prior)) is not None:
                churn_scores = supervised.score(
                    stored, purchase_log(scope_orders, scope_returns, as_of), _day_number(as_of)
                )
            results[key] = compute_scope(
                scope_orders,
                scope_returns[:2],
                universe,
                as_of,
                config,
                prior,
                supervised_scores=churn_scores,
            )
            results[key].backtest, results[key].supervised_churn = report, outcome
            if outcome is not None and outcome.model is not None:
                # Stored for incremental runs, which score changed customers with it.
                results[key].breakpoints = {
                    **results[key].breakpoints,
                    "churn_model": outcome.model.to_json(),
                }
            steps.done(f"computed {scope or 'organisation'}")
        with transaction.atomic():
            # Every scope anew: write them into a new table and put it in the old one's place.
            rebuild = (
                TableRebuild(CustomerMetric._meta.db_table) if unit is None and not incremental else None
            )
            table = rebuild.begin() if rebuild else None
            for scope in scopes:
                key = _scope_key(scope)
                run = runs[key]
                result = results[key]
                write_rows(result.columns, scope, run.pk, as_of, touched, table=table)
                _finish_run(run, result, previous[key] if incremental else None, touched)
                steps.done(f"saved {scope or 'organisation'}")
            if rebuild:
                rebuild.finish()
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


def stored_churn_model(run: ModelRun) -> supervised.ChurnModel | None:
    """The supervised churn model a full run used and stored, for its incremental successors."""
    if run.churn_method != ChurnMethod.SUPERVISED or "churn_model" not in (run.breakpoints or {}):
        return None
    return supervised.ChurnModel.from_json(run.breakpoints["churn_model"])


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
#
# On PostgreSQL a query's columns come back as one int8[] per column (array_agg) in binary format, and
# each array's bytes are viewed as numpy directly: no Python object per value. That reads ~3x faster
# than a server-side cursor or COPY, which both cost a Python call per row. Large tables are read in
# ranges of ids so that the server never builds arrays of more than READ_CHUNK rows.

READ_CHUNK = 1_000_000
READ_THREADS = 2


class _RawArray(Loader):
    """Keep a binary int8[] result as bytes; `_int8_array` decodes it."""

    format = pq.Format.BINARY

    def load(self, data) -> bytes:
        return bytes(data)


def _int8_array(raw: bytes | None) -> np.ndarray:
    """A one-dimensional int8[] without NULLs, as sent in binary: ndim, flags, element type, size, lower
    bound, then a 4-byte length before each 8-byte big-endian value."""
    if raw is None or int.from_bytes(raw[:4], "big") == 0:  # array_agg over no rows, or '{}'
        return np.zeros(0, dtype=np.int64)
    if int.from_bytes(raw[:4], "big") != 1 or int.from_bytes(raw[4:8], "big") != 0:
        raise ValueError("expected a one-dimensional array without NULLs")
    cells = np.frombuffer(raw, dtype=[("length", ">i4"), ("value", ">i8")], offset=20)
    return cells["value"].astype(np.int64)


def _int_columns(sql: str, params: list, count: int) -> list[np.ndarray]:
    """The `count` integer columns (never NULL) of a query's result as int64 arrays."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        names = ", ".join(f"c{i}" for i in range(count))
        aggregates = ", ".join(f"array_agg(c{i}::bigint)" for i in range(count))
        # Django's cursors bind parameters client-side, which rules out binary results.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.adapters.register_loader(INT8_ARRAY_OID, _RawArray)
            cursor.execute(f"SELECT {aggregates} FROM ({sql}) AS q ({names})", params, binary=True)  # noqa: S608 (our SQL)
            row = cursor.fetchone()
            assert row is not None  # an aggregate query always returns one row
            return [_int8_array(raw) for raw in row]
    blocks = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while block := cursor.fetchmany(FETCH_ROWS):
            blocks.append(np.array(block, dtype=np.int64).reshape(-1, count))
    data = np.concatenate(blocks) if blocks else np.zeros((0, count), dtype=np.int64)
    return [np.ascontiguousarray(data[:, i]) for i in range(count)]


def _select_columns(
    sql: str, params: list, count: int, customer_ids: np.ndarray | None, table: str
) -> list[np.ndarray]:
    """`sql` (which ends in a WHERE clause) for every row, or only for `customer_ids`."""
    if customer_ids is not None:
        if connection.vendor == "postgresql":
            return _int_columns(f"{sql} AND customer_id = ANY(%s)", [*params, customer_ids.tolist()], count)
        parts = [
            _int_columns(
                f"{sql} AND customer_id IN ({', '.join(['%s'] * len(chunk))})", params + chunk, count
            )
            for chunk in _id_chunks(customer_ids)
        ]
        return [np.concatenate([p[i] for p in parts]) for i in range(count)] if parts else _empty(count)
    if connection.vendor != "postgresql":
        return _int_columns(sql, params, count)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {table}")  # noqa: S608 (our table)
        low, high = cursor.fetchone()
    if low is None:
        return _empty(count)
    ranged = f"{sql} AND id >= %s AND id < %s"
    chunks = [[*params, start, start + READ_CHUNK] for start in range(low, high + 1, READ_CHUNK)]
    if len(chunks) > 1 and not connection.in_atomic_block:
        # The server does most of the work: READ_THREADS connections keep as many cores busy. Only
        # outside a transaction, since other connections would not see what it has not committed.
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            parts = list(pool.map(lambda chunk: _int_columns_on_own_connection(ranged, chunk, count), chunks))
    else:
        parts = [_int_columns(ranged, chunk, count) for chunk in chunks]
    return [np.concatenate([p[i] for p in parts]) for i in range(count)]


def _int_columns_on_own_connection(sql: str, params: list, count: int) -> list[np.ndarray]:
    """`_int_columns` in a worker thread, which Django gives a connection of its own; closed after."""
    try:
        return _int_columns(sql, params, count)
    finally:
        connection.close()


def _empty(count: int) -> list[np.ndarray]:
    return [np.zeros(0, dtype=np.int64) for _ in range(count)]


def _id_chunks(ids: np.ndarray) -> Iterable[list[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK].tolist()


def read_orders(unit_id: int | None = None, customer_ids: np.ndarray | None = None) -> OrderArrays:
    """Every sale order with a customer (of one unit, of some customers) as numpy columns."""
    table = Order._meta.db_table
    statuses = [str(s) for s in Order.SALE_STATUSES]
    if connection.vendor == "postgresql":
        seconds = "date_part('epoch', placed_at)::bigint"
        cents = "round((total_amount - refunded_amount) * 100)::bigint"
    else:
        seconds = "CAST(strftime('%%s', placed_at) AS INTEGER)"
        cents = "CAST(ROUND((total_amount - refunded_amount) * 100) AS INTEGER)"
    device = f"CASE device {' '.join(f'WHEN %s THEN {code}' for code in DEVICE_CODES.values())} ELSE 0 END"
    where = [f"customer_id IS NOT NULL AND status IN ({', '.join(['%s'] * len(statuses))})"]
    params: list[Any] = [*(str(value) for value in DEVICE_CODES), *statuses]
    if unit_id is not None:
        where.append("unit_id = %s")
        params.append(unit_id)
    packed = f"item_count * {2**DEVICE_BITS} + {device}"
    sql = (
        f"SELECT customer_id, unit_id, {seconds}, {cents}, {packed} FROM {table} WHERE {' AND '.join(where)}"  # noqa: S608 (table and expressions are ours; values are bound)
    )
    customer, unit, seconds_, cents_, items_and_device = _select_columns(sql, params, 5, customer_ids, table)
    return OrderArrays(
        customer,
        unit,
        seconds_,
        cents_,
        items_and_device >> DEVICE_BITS,
        items_and_device & (2**DEVICE_BITS - 1),
    )


def read_returns(
    as_of: datetime, unit_id: int | None = None, customer_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(customer ids, unit ids, cents, UTC epoch seconds) of returns up to `as_of`."""
    table = Return._meta.db_table
    if connection.vendor == "postgresql":
        cents, seconds = "round(amount * 100)::bigint", "date_part('epoch', returned_at)::bigint"
    else:
        cents, seconds = (
            "CAST(ROUND(amount * 100) AS INTEGER)",
            "CAST(strftime('%%s', returned_at) AS INTEGER)",
        )
    sql = f"SELECT customer_id, unit_id, {cents}, {seconds} FROM {table} WHERE customer_id IS NOT NULL AND returned_at <= %s"  # noqa: S608 (values are bound)
    params: list[Any] = [as_of]
    if unit_id is not None:
        sql += " AND unit_id = %s"
        params.append(unit_id)
    customer, unit, cents_, seconds_ = _select_columns(sql, params, 4, customer_ids, table)
    return customer, unit, cents_, seconds_


def _queryset_ids(queryset) -> np.ndarray:
    """The single integer column of a values_list queryset, as sorted distinct ids."""
    sql, params = queryset.query.sql_with_params()
    return _distinct(_int_columns(sql, list(params), 1)[0])


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique's hashing is several times slower on a million ids)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


WATCHED = {"order": Order, "return": Return, "customer_unit": CustomerUnit, "customer": Customer}


def _high_water_marks() -> dict[str, int]:
    """The highest id of each table whose new rows change customers' metrics (a primary-key look-up)."""
    return {
        name: model._base_manager.aggregate(highest=Max("pk"))["highest"] or 0
        for name, model in WATCHED.items()
    }


def _touched_customers(since: dict[str, int], unit: BusinessUnit | None) -> np.ndarray:
    """Customers with orders, returns, unit links or (organisation-wide) profiles added after the
    `since` ids. Ids, not creation times: the primary key finds them without reading the whole table,
    and an import that back-dates rows cannot hide them."""
    querysets = [
        Order.objects.filter(pk__gt=since["order"], customer__isnull=False).values_list("customer_id"),
        Return.objects.filter(pk__gt=since["return"], customer__isnull=False).values_list("customer_id"),
        CustomerUnit.objects.filter(pk__gt=since["customer_unit"]).values_list("customer_id"),
    ]
    if unit is not None:
        querysets = [qs.filter(unit=unit) for qs in querysets]
    else:
        querysets.append(Customer._base_manager.filter(pk__gt=since["customer"]).values_list("pk"))
    return _distinct(np.concatenate([_queryset_ids(queryset.order_by()) for queryset in querysets]))


def _universe(scope: BusinessUnit | None, touched: np.ndarray | None) -> np.ndarray:
    """Customers that get a row even without orders: every profile (org-wide) or every linked one (unit)."""
    queryset = (
        Customer.objects.values_list("pk")
        if scope is None
        else CustomerUnit.objects.filter(unit=scope).values_list("customer_id")
    ).order_by()
    if touched is None:
        return _queryset_ids(queryset)
    field = "pk__in" if scope is None else "customer_id__in"
    parts = [_queryset_ids(queryset.filter(**{field: chunk})) for chunk in _id_chunks(touched)]
    return _distinct(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


# Computing -------------------------------------------------------------------------------------------


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
    as_of_seconds = int(as_of.timestamp())
    offset = _utc_offset_seconds(as_of)
    as_of_day = (as_of_seconds + offset) // SECONDS_PER_DAY
    future = orders.seconds > as_of_seconds
    orders = orders.where(~future)

    orders = orders.sorted()
    customer, seconds, cents, items = orders.customer, orders.seconds, orders.cents, orders.items
    buyers, starts, counts = _runs(customer)
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
        returned = np.bincount(at[hit], weights=returns[1][hit] / 100.0, minlength=len(buyers)).astype(
            np.float64
        )
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
        "future_orders_skipped": int(np.count_nonzero(future)),
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


def _day_number(moment: datetime) -> int:
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


# Writing ---------------------------------------------------------------------------------------------
#
# Every column is turned into float64 numbers first (NaN for NULL; text as a position in a vocabulary),
# vectorised. PostgreSQL receives them as one binary COPY into a temporary table, built from numpy
# records without a Python object per value, and turns them into the metric rows with one
# INSERT … SELECT … ON CONFLICT DO UPDATE. SQLite gets big executemany batches.

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
    "returns_rate": 4,
    "average_days_between_orders": 1,
}
INTEGER_COLUMNS = ("orders", "items", "recency_days", "r_score", "f_score", "m_score")
TIMESTAMP_COLUMNS = ("first_order_at", "last_order_at")
# The computed column that becomes the expected_next_order_at date: a day number in local time.
NEXT_ORDER_DAY = "expected_next_order_day"
COPY_BLOCK_ROWS = 100_000
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
COPY_TRAILER = b"\xff\xff"
STAGING_TABLE = "guanxi_metric_staging"


def write_rows(
    columns: dict[str, Any],
    scope: BusinessUnit | None,
    run_id: int,
    as_of: datetime,
    touched: np.ndarray | None = None,
    *,
    table: str | None = None,
) -> int:
    """Store the computed rows of one scope, replacing the stored ones.

    With `touched` None the computed rows are the whole scope, and any other row of the scope goes;
    otherwise they are the rows of the `touched` customers, and only those customers' rows go.
    `table` names a new, empty table (see rebuild.py) to write into instead of the metrics table.
    """
    numbers = {name: _as_numbers(name, values) for name, values in columns.items()}
    vocabularies = {name: values.vocabulary for name, values in columns.items() if isinstance(values, Coded)}
    if connection.vendor == "postgresql":
        return _write_postgresql(
            numbers, vocabularies, scope, run_id, as_of, touched, table or CustomerMetric._meta.db_table
        )
    return _write_batches(numbers, vocabularies, scope, run_id, as_of, touched, table)


def _as_numbers(name: str, values: Any) -> np.ndarray:
    if name == "customer_id":
        return np.asarray(values, dtype=np.int64)
    if isinstance(values, Coded):
        return values.codes.astype(float)
    values = np.asarray(values, dtype=float)
    if name in MONEY_COLUMNS:
        values = np.round(values * 100)  # in cents: a bigint becomes numeric far faster than a float
    elif name in FLOAT_DIGITS:
        values = np.round(values, FLOAT_DIGITS[name])
    elif name in INTEGER_COLUMNS or name == NEXT_ORDER_DAY:
        values = np.round(values)
    return np.where(np.isfinite(values), values, np.nan)


def _model_column(name: str) -> str:
    return "expected_next_order_at" if name == NEXT_ORDER_DAY else name


def _write_postgresql(
    numbers: dict[str, np.ndarray],
    vocabularies: dict[str, tuple[str, ...]],
    scope: BusinessUnit | None,
    run_id: int,
    as_of: datetime,
    touched: np.ndarray | None,
    table_name: str,
) -> int:
    names = list(numbers)
    quote = connection.ops.quote_name
    staged = [quote(f"c_{name}") for name in names]
    select: list[str] = []
    params: list[Any] = []
    for name, column in zip(names, staged, strict=True):
        value = f"NULLIF({column}, 'NaN')"
        if name == "customer_id":
            select.append(column)
        elif name in vocabularies:
            select.append(f"(%s::{'jsonb' if name == 'churn_reasons' else 'text'}[])[{column}::int + 1]")
            params.append(list(vocabularies[name]))
        elif name in TIMESTAMP_COLUMNS:
            select.append(f"to_timestamp({value})")
        elif name == NEXT_ORDER_DAY:
            select.append(f"DATE '1970-01-01' + {value}::int")
        elif name in MONEY_COLUMNS:
            select.append(f"{value}::bigint::numeric / 100")
        elif name in INTEGER_COLUMNS:
            select.append(f"{value}::bigint")
        else:
            select.append(value)
    targets = [quote(_model_column(name)) for name in names] + ["unit_id", "run_id", "computed_at"]
    select += ["%s", "%s", "%s"]
    params += [scope.pk if scope else None, run_id, as_of]
    table = quote(table_name)
    conflict = (
        "(customer_id) WHERE unit_id IS NULL"
        if scope is None
        else "(customer_id, unit_id) WHERE unit_id IS NOT NULL"
    )
    updates = ", ".join(f"{target} = EXCLUDED.{target}" for target in targets if target != "customer_id")
    customer = quote("c_customer_id")
    in_scope = "unit_id IS NULL" if scope is None else "unit_id = %s"
    scope_params = [] if scope is None else [scope.pk]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING_TABLE}")
        definitions = ", ".join(
            f"{column} {'bigint' if name == 'customer_id' else 'double precision'}"
            for name, column in zip(names, staged, strict=True)
        )
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGING_TABLE} ({definitions})")
        with cursor.cursor.copy(f"COPY {STAGING_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
            for block in _binary_copy(numbers):
                copy.write(block)
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {in_scope})", scope_params)  # noqa: S608
        (scope_has_rows,) = cursor.fetchone()
        insert = f"INSERT INTO {table} ({', '.join(targets)}) SELECT {', '.join(select)} FROM {STAGING_TABLE}"  # noqa: S608 (identifiers are ours)
        if not scope_has_rows:  # the first refresh: no conflict to look for, nothing stale
            cursor.execute(insert, params)
        elif touched is None:
            # A full refresh replaces the scope: delete and insert skips a million conflict look-ups,
            # and the caller's transaction keeps the old rows visible until the new ones commit.
            cursor.execute(f"DELETE FROM {table} WHERE {in_scope}", scope_params)  # noqa: S608
            cursor.execute(insert, params)
        else:
            cursor.execute(f"{insert} ON CONFLICT {conflict} DO UPDATE SET {updates}", params)
            stale = f"DELETE FROM {table} AS m WHERE {in_scope} AND NOT EXISTS (SELECT 1 FROM {STAGING_TABLE} AS s WHERE s.{customer} = m.customer_id)"  # noqa: S608
            cursor.execute(f"{stale} AND m.customer_id = ANY(%s)", [*scope_params, touched.tolist()])
        cursor.execute(f"DROP TABLE {STAGING_TABLE}")
    return len(numbers["customer_id"])


def _binary_copy(numbers: dict[str, np.ndarray]) -> Iterable[bytes]:
    """The columns in PostgreSQL's binary COPY format: per row a field count, then per field its byte
    length and big-endian value; all fields are 8 bytes wide, so each row is one numpy record."""
    names = list(numbers)
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, name in enumerate(names):
        fields += [(f"length{i}", ">i4"), (f"value{i}", ">i8" if name == "customer_id" else ">f8")]
    record = np.dtype(fields)
    total = len(numbers["customer_id"])
    yield COPY_HEADER
    for start in range(0, total, COPY_BLOCK_ROWS):
        stop = min(start + COPY_BLOCK_ROWS, total)
        rows = np.empty(stop - start, dtype=record)
        rows["count"] = len(names)
        for i, name in enumerate(names):
            rows[f"length{i}"] = 8
            rows[f"value{i}"] = numbers[name][start:stop]
        yield rows.tobytes()
    yield COPY_TRAILER


def _write_batches(
    numbers: dict[str, np.ndarray],
    vocabularies: dict[str, tuple[str, ...]],
    scope: BusinessUnit | None,
    run_id: int,
    as_of: datetime,
    touched: np.ndarray | None,
    new_table: str | None,
) -> int:
    """Delete the scope's (or the touched customers') rows, then insert in large executemany batches
    (into `new_table`, empty, when given)."""
    if new_table is None:
        if touched is None:
            CustomerMetric.objects.filter(unit=scope).delete()
        else:
            for chunk in _id_chunks(touched):
                CustomerMetric.objects.filter(unit=scope, customer_id__in=chunk).delete()
    n = len(numbers["customer_id"])
    if not n:
        return 0
    out: dict[str, list] = {}
    for name, values in numbers.items():
        if name in vocabularies:
            out[name] = np.asarray(vocabularies[name], dtype=object)[values.astype(np.int64)].tolist()
        elif name in TIMESTAMP_COLUMNS:
            out[name] = _text_or_none(values, "s", lambda text: np.char.replace(text, "T", " "))
        elif name == NEXT_ORDER_DAY:
            out[name] = _text_or_none(values, "D", lambda text: text)
        elif name == "customer_id":
            out[name] = values.tolist()
        elif name in MONEY_COLUMNS:
            out[name] = _nullable(np.round(values / 100, 2), float)
        elif name in INTEGER_COLUMNS:
            out[name] = _nullable(values, int)
        else:
            out[name] = _nullable(values, float)
    out["unit_id"] = [scope.pk if scope else None] * n
    out["run_id"] = [run_id] * n
    out["computed_at"] = [as_of] * n
    names = list(out)
    rows = list(zip(*(out[name] for name in names), strict=True))
    table = connection.ops.quote_name(new_table or CustomerMetric._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(_model_column(name)) for name in names)
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join(['%s'] * len(names))})"  # noqa: S608 (column names come from the model)
    with connection.cursor() as cursor:
        for start in range(0, n, WRITE_BATCH):
            cursor.executemany(sql, rows[start : start + WRITE_BATCH])
    return n


def _nullable(values: np.ndarray, kind: type) -> list:
    missing = np.isnan(values)
    result = np.where(missing, 0, values).astype(np.int64 if kind is int else float).astype(object)
    result[missing] = None
    return result.tolist()


def _text_or_none(values: np.ndarray, unit: str, finish) -> list:
    """ISO text of epoch seconds (unit "s", as Django stores UTC datetimes in SQLite) or days ("D")."""
    missing = np.isnan(values)
    text = np.datetime_as_string(np.where(missing, 0, values).astype(np.int64).astype(f"datetime64[{unit}]"))
    result = finish(text).astype(object)
    result[missing] = None
    return result.tolist()


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
        assert models is not None  # a full run always fits (or falls back) before saving
        run.parameters = models_to_parameters(models, run.started_at)
        run.method = models.method
        run.fallback_reason = ", ".join(str(reason) for reason in models.reasons)
        lls = [fit.log_likelihood for fit in (models.purchases, models.spend)]
        run.log_likelihood = None if any(math.isnan(v) for v in lls) else float(sum(lls))
        report = result.backtest
        if report is not None:
            run.backtest_cutoff = report.cutoff
            run.backtest_mae = report.mae
            run.backtest_series = _json_safe(report.series)
            run.churn_method = (
                ChurnMethod.PROBABILITY_ALIVE
                if report.models.purchases.method == FitMethod.MAXIMUM_LIKELIHOOD
                else ChurnMethod.RECENCY
            )
            run.churn_auc = report.churn_auc
            run.churn_calibration = report.calibration
        if result.supervised_churn is not None:
            run.parameters["supervised"] = result.supervised_churn.describe()
            run.supervised_churn_auc = result.supervised_churn.auc
            if result.supervised_churn.used:
                run.churn_method = ChurnMethod.SUPERVISED
    run.save()


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
