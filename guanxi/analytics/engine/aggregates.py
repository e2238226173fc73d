"""The refresh's per-customer aggregates computed by the engine, in SQL over the exported tables.

One query per scope returns `CustomerAggregates` (integers only, one row per buyer), the same values
`refresh.compute.aggregate_orders` computes in numpy: orders are first summed per (customer, local
day), then per customer. Fitting and scoring stay in numpy on that compressed summary. The order log
itself (for the backtest and the supervised churn model, which work on single orders) is read from
the engine only when a run needs it.
"""

from datetime import datetime
from typing import Any

import numpy as np

from guanxi.analytics.engine import schema
from guanxi.analytics.engine.connection import Engine
from guanxi.analytics.refresh.arrays import DEVICE_CODES, SECONDS_PER_DAY, OrderArrays
from guanxi.analytics.refresh.compute import CustomerAggregates, _utc_offset_seconds
from guanxi.commerce.models import Order

SALE_STATUSES = [str(status) for status in Order.SALE_STATUSES]
DEVICE_NAMES = [str(name) for name in DEVICE_CODES]
DEVICE_NUMBERS = list(DEVICE_CODES.values())


def _filters(unit_id: int | None, customer_ids: np.ndarray | None, params: dict[str, Any]) -> str:
    where = ["status IN {sale:Array(String)}"]
    params["sale"] = SALE_STATUSES
    if unit_id is not None:
        where.append("unit_id = {unit:Int64}")
        params["unit"] = unit_id
    if customer_ids is not None:
        where.append("customer_id IN {customers:Array(Int64)}")
        params["customers"] = customer_ids.tolist()
    return " AND ".join(where)


def customer_aggregates(
    engine: Engine, as_of: datetime, unit_id: int | None = None, customer_ids: np.ndarray | None = None
) -> CustomerAggregates:
    """The aggregates of one scope's (or some customers') sale orders up to `as_of`."""
    params: dict[str, Any] = {
        "as_of": int(as_of.timestamp()),
        "offset": _utc_offset_seconds(as_of),
        "day": SECONDS_PER_DAY,
    }
    where = _filters(unit_id, customer_ids, params)
    returns_params: dict[str, Any] = {"as_of": params["as_of"]}
    returns_where = "returned_s <= {as_of:Int64}"
    if unit_id is not None:
        returns_where += " AND unit_id = {unit:Int64}"
        returns_params["unit"] = unit_id
    if customer_ids is not None:
        returns_where += " AND customer_id IN {customers:Array(Int64)}"
        returns_params["customers"] = customer_ids.tolist()
    params.update(returns_params)
    columns = engine.columns(
        f"""
        WITH days AS (
            SELECT customer_id,
                   intDiv(placed_s + {{offset:Int64}}, {{day:Int64}})
                     - if(modulo(placed_s + {{offset:Int64}}, {{day:Int64}}) < 0, 1, 0) AS day,
                   count() AS d_orders, min(placed_s) AS d_first, max(placed_s) AS d_last,
                   sum(net_cents) AS d_spend, sum(items) AS d_items,
                   sum(greatest(net_cents, 0)) AS d_positive
            FROM {schema.ORDERS}
            WHERE {where} AND placed_s <= {{as_of:Int64}}
            GROUP BY customer_id, day
        ),
        returned AS (
            SELECT customer_id, sum(cents) AS returned_cents FROM {schema.RETURNS}
            WHERE {returns_where} GROUP BY customer_id
        )
        SELECT b.customer_id AS customer_id, b.orders AS orders, b.first_seconds AS first_seconds,
               b.last_seconds AS last_seconds, b.first_day AS first_day, b.last_day AS last_day,
               b.spend_cents AS spend_cents, b.items AS items, b.purchase_days AS purchase_days,
               b.positive_cents AS positive_cents, b.first_day_positive_cents AS first_day_positive_cents,
               ifNull(r.returned_cents, 0) AS returned_cents
        FROM (
            SELECT customer_id, toInt64(sum(d_orders)) AS orders, min(d_first) AS first_seconds,
                   max(d_last) AS last_seconds, min(day) AS first_day, max(day) AS last_day,
                   toInt64(sum(d_spend)) AS spend_cents, toInt64(sum(d_items)) AS items,
                   toInt64(count()) AS purchase_days, toInt64(sum(d_positive)) AS positive_cents,
                   toInt64(argMin(d_positive, day)) AS first_day_positive_cents
            FROM days GROUP BY customer_id
        ) AS b
        LEFT JOIN returned AS r ON r.customer_id = b.customer_id
        ORDER BY customer_id
        SETTINGS join_use_nulls = 1
        """,
        params,
    )
    future = engine.scalar(
        f"SELECT count() FROM {schema.ORDERS} WHERE {where} AND placed_s > {{as_of:Int64}}", params
    )
    ints = {name: np.asarray(values, dtype=np.int64) for name, values in columns.items()}
    return CustomerAggregates(**ints, future_orders=int(future or 0))


def read_orders(
    engine: Engine, unit_id: int | None = None, customer_ids: np.ndarray | None = None
) -> OrderArrays:
    """Sale orders as the embedded refresh reads them from the database (refresh/read.py), from the
    engine's copy: for the backtest and the supervised churn model, which need single orders."""
    params: dict[str, Any] = {"devices": DEVICE_NAMES, "codes": DEVICE_NUMBERS}
    where = _filters(unit_id, customer_ids, params)
    columns = engine.columns(
        f"""SELECT customer_id, unit_id, placed_s, net_cents, items,
                   transform(device, {{devices:Array(String)}}, {{codes:Array(Int64)}}, toInt64(0)) AS device
            FROM {schema.ORDERS} WHERE {where} ORDER BY customer_id, placed_s, id""",
        params,
    )
    arrays = [np.asarray(columns[name], dtype=np.int64) for name in columns]
    return OrderArrays(*arrays)


def read_returns(
    engine: Engine, as_of: datetime, unit_id: int | None = None, customer_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(customer ids, unit ids, cents, UTC epoch seconds) of returns up to `as_of`, as read.read_returns."""
    params: dict[str, Any] = {"as_of": int(as_of.timestamp())}
    where = "returned_s <= {as_of:Int64}"
    if unit_id is not None:
        where += " AND unit_id = {unit:Int64}"
        params["unit"] = unit_id
    if customer_ids is not None:
        where += " AND customer_id IN {customers:Array(Int64)}"
        params["customers"] = customer_ids.tolist()
    columns = engine.columns(
        f"SELECT customer_id, unit_id, cents, returned_s FROM {schema.RETURNS} WHERE {where} ORDER BY id",
        params,
    )
    customer, unit, cents, seconds = (np.asarray(columns[name], dtype=np.int64) for name in columns)
    return customer, unit, cents, seconds
