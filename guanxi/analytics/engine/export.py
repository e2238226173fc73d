"""Copying the database's orders, lines, returns, events, customers and metrics into the engine.

Incremental from a watermark: the highest id of each watched table at the last export (stored in the
engine's `guanxi_export_state`). The customers with rows above those ids — the same rule the embedded
incremental refresh uses, `touched_customers` — plus the profiles edited since the last export and,
when the engine is selected, the customers the change feed names (orders whose status or refund
changed in place, merges, tags: `guanxi.customers.changes`) have all their rows deleted from the
engine and inserted anew, so running an export twice, or again after
one that failed half-way (the watermark moves only at the end), leaves the same tables. Tags and
identities are small and copied whole. A full export empties the tables and copies everything.

Values are converted by the database with the expressions the embedded refresh reads with (epoch
seconds, cents), so the engine buckets orders into the same days and sums the same integers.
"""

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.engine import CHANGE_READER, schema
from guanxi.analytics.engine.connection import Engine
from guanxi.analytics.models import CustomerMetric
from guanxi.analytics.refresh.read import high_water_marks, touched_customers
from guanxi.commerce.models import Event, Order, OrderLine, Return
from guanxi.customers import changes
from guanxi.customers.models import Customer, CustomerTag, CustomerUnit, Identity

FEED_BATCH = 50_000
FETCH_ROWS = 100_000
CUSTOMER_CHUNK = 20_000
ID_RANGE = 1_000_000


@dataclass
class ExportResult:
    full: bool
    customers: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)


def _vendor() -> str:
    connection.ensure_connection()
    return connection.vendor


def _micros(column: str) -> str:
    """Exact microseconds since the epoch of a timestamp column."""
    if _vendor() == "postgresql":
        return f"(extract(epoch FROM {column}) * 1000000)::bigint"
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC.
    return (
        f"(CAST(strftime('%%s', {column}) AS INTEGER) * 1000000 + "
        f"CASE WHEN length({column}) > 20 THEN CAST(substr({column} || '000000', 21, 6) AS INTEGER) ELSE 0 END)"
    )


def _seconds(column: str) -> str:
    """Epoch seconds exactly as the embedded refresh reads them (refresh/read.py)."""
    if _vendor() == "postgresql":
        return f"date_part('epoch', {column})::bigint"
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"


def _cents(expression: str) -> str:
    if _vendor() == "postgresql":
        return f"round(({expression}) * 100)::bigint"
    return f"CAST(ROUND(({expression}) * 100) AS INTEGER)"


def _day_number(column: str) -> str:
    if _vendor() == "postgresql":
        return f"({column} - DATE '1970-01-01')"
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


def _sources() -> dict[str, tuple[str, list[tuple[str, pa.DataType]]]]:
    """Each engine table's SELECT (ending in a WHERE clause on the alias-free columns) and columns."""
    orders, lines, returns = Order._meta.db_table, OrderLine._meta.db_table, Return._meta.db_table
    stores = Order._meta.get_field("store").related_model._meta.db_table
    i64, text = pa.int64(), pa.string()
    return {
        schema.ORDERS: (
            f"SELECT o.id, o.customer_id, o.unit_id, o.store_id, s.channel, o.status, o.device, "
            f"{_micros('o.placed_at')}, {_seconds('o.placed_at')}, "
            f"{_cents('o.total_amount - o.refunded_amount')}, {_cents('o.total_amount')}, o.item_count "
            f"FROM {orders} o JOIN {stores} s ON s.id = o.store_id WHERE o.customer_id IS NOT NULL",
            [
                ("id", i64),
                ("customer_id", i64),
                ("unit_id", i64),
                ("store_id", i64),
                ("channel", text),
                ("status", text),
                ("device", text),
                ("placed_us", i64),
                ("placed_s", i64),
                ("net_cents", i64),
                ("total_cents", i64),
                ("items", i64),
            ],
        ),
        schema.LINES: (
            f"SELECT l.id, l.order_id, l.customer_id, COALESCE(l.unit_id, o.unit_id), o.store_id, s.channel, o.device, l.status, "
            f"{_micros('l.placed_at')}, l.sku, l.category, {_cents('l.amount')} "
            f"FROM {lines} l JOIN {orders} o ON o.id = l.order_id JOIN {stores} s ON s.id = o.store_id "
            f"WHERE l.customer_id IS NOT NULL",
            [
                ("id", i64),
                ("order_id", i64),
                ("customer_id", i64),
                ("unit_id", i64),
                ("store_id", i64),
                ("channel", text),
                ("device", text),
                ("status", text),
                ("placed_us", i64),
                ("sku", text),
                ("category", text),
                ("amount_cents", i64),
            ],
        ),
        schema.RETURNS: (
            f"SELECT r.id, r.customer_id, r.unit_id, {_cents('r.amount')}, {_seconds('r.returned_at')}, "
            f"{_micros('r.returned_at')} FROM {returns} r WHERE r.customer_id IS NOT NULL",
            [
                ("id", i64),
                ("customer_id", i64),
                ("unit_id", i64),
                ("cents", i64),
                ("returned_s", i64),
                ("returned_us", i64),
            ],
        ),
        schema.EVENTS: (
            f"SELECT e.id, e.customer_id, e.unit_id, e.kind, {_micros('e.occurred_at')} "
            f"FROM {Event._meta.db_table} e WHERE e.customer_id IS NOT NULL",
            [("id", i64), ("customer_id", i64), ("unit_id", i64), ("kind", text), ("occurred_us", i64)],
        ),
        schema.CUSTOMERS: (
            f"SELECT c.id, c.status, c.gender, {_day_number('c.birthday')}, c.province, c.city, c.district, "
            f"c.occupation, c.source_channel, {_micros('c.first_seen_at')} "
            f"FROM {Customer._meta.db_table} c WHERE 1 = 1",
            [
                ("id", i64),
                ("status", text),
                ("gender", text),
                ("birthday", pa.int32()),
                ("province", text),
                ("city", text),
                ("district", text),
                ("occupation", text),
                ("source_channel", text),
                ("first_seen_us", i64),
            ],
        ),
        schema.CUSTOMER_UNITS: (
            f"SELECT c.customer_id, c.unit_id FROM {CustomerUnit._meta.db_table} c WHERE 1 = 1",
            [("customer_id", i64), ("unit_id", i64)],
        ),
    }


# The column a table's rows belong to a customer by, in the SELECT above and in the engine.
CUSTOMER_COLUMN = {
    schema.ORDERS: ("o.customer_id", "customer_id"),
    schema.LINES: ("l.customer_id", "customer_id"),
    schema.RETURNS: ("r.customer_id", "customer_id"),
    schema.EVENTS: ("e.customer_id", "customer_id"),
    schema.CUSTOMERS: ("c.id", "id"),
    schema.CUSTOMER_UNITS: ("c.customer_id", "customer_id"),
}
ID_COLUMN = {
    schema.ORDERS: "o.id",
    schema.LINES: "l.id",
    schema.RETURNS: "r.id",
    schema.EVENTS: "e.id",
    schema.CUSTOMERS: "c.id",
    schema.CUSTOMER_UNITS: "c.id",
}
MODELS = {
    schema.ORDERS: Order,
    schema.LINES: OrderLine,
    schema.RETURNS: Return,
    schema.EVENTS: Event,
    schema.CUSTOMERS: Customer,
    schema.CUSTOMER_UNITS: CustomerUnit,
}


def _blocks(sql: str, params: list, columns: list[tuple[str, pa.DataType]]) -> Iterator[pa.Table]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_ROWS):
            values = list(zip(*rows, strict=True))
            yield pa.table(
                {
                    name: pa.array(
                        [("" if v is None else v) for v in values[i]] if kind == pa.string() else values[i],
                        type=kind,
                    )
                    for i, (name, kind) in enumerate(columns)
                }
            )


def _copy(engine: Engine, table: str, where: str, params: list) -> int:
    sql, columns = _sources()[table]
    copied = 0
    for block in _blocks(f"{sql} AND {where}", params, columns):
        engine.insert(table, block)
        copied += block.num_rows
    return copied


def _marks() -> dict[str, int]:
    marks = high_water_marks()
    for name, model in (("line", OrderLine), ("event", Event)):
        marks[name] = model._base_manager.aggregate(highest=Max("pk"))["highest"] or 0
    return marks


def last_export(engine: Engine) -> tuple[datetime, dict[str, int]] | None:
    schema.create_tables(engine)
    table = engine.arrow(f"SELECT exported_at, marks FROM {schema.STATE} ORDER BY exported_at DESC LIMIT 1")
    if not table.num_rows:
        return None
    return table.column("exported_at")[0].as_py(), json.loads(table.column("marks")[0].as_py())


def export(engine: Engine, full: bool = False) -> ExportResult:
    """Bring the engine's tables up to date with the database (see the module's docstring)."""
    with ExitStack() as stack:
        # Customers changed in place (order status, refunds, merges, tags): the change feed names them.
        # Their rows are claimed for the export and deleted only when it has succeeded.
        followed: list[int] = []
        if CHANGE_READER in changes.change_readers():
            while batch := stack.enter_context(changes.taken(CHANGE_READER, FEED_BATCH)):
                followed += batch
        return _export(engine, full, np.array(followed, dtype=np.int64))


def _export(engine: Engine, full: bool, followed: np.ndarray) -> ExportResult:
    previous = last_export(engine)
    started = timezone.now()
    marks = _marks()  # taken first: rows added from now on are the next export's business
    if previous is None or full:
        result = ExportResult(full=True, marks=marks)
        for table in (*CUSTOMER_COLUMN, schema.TAGS, schema.IDENTITIES):
            engine.command(f"TRUNCATE TABLE {table}")
        for table, model in MODELS.items():
            highest = model._base_manager.aggregate(highest=Max("pk"))["highest"] or 0
            id_column = ID_COLUMN[table]
            result.rows[table] = sum(
                _copy(engine, table, f"{id_column} >= %s AND {id_column} < %s", [start, start + ID_RANGE])
                for start in range(0, highest + 1, ID_RANGE)
            )
        result.customers = result.rows[schema.CUSTOMERS]
    else:
        exported_at, since = previous
        result = ExportResult(full=False, marks=marks)
        since = {name: since.get(name, 0) for name in marks}
        touched = touched_customers(since, None)
        more = [
            Event.objects.filter(pk__gt=since["event"], customer__isnull=False).values_list(
                "customer_id", flat=True
            ),
            OrderLine.objects.filter(pk__gt=since["line"], customer__isnull=False).values_list(
                "customer_id", flat=True
            ),
            Customer._base_manager.filter(updated_at__gte=exported_at).values_list("pk", flat=True),
        ]
        extra = np.array([pk for queryset in more for pk in queryset.order_by().distinct()], dtype=np.int64)
        touched = np.union1d(np.union1d(touched, extra), followed)
        result.customers = len(touched)
        for start in range(0, len(touched), CUSTOMER_CHUNK):
            chunk = touched[start : start + CUSTOMER_CHUNK].tolist()
            for table, (source_column, engine_column) in CUSTOMER_COLUMN.items():
                engine.command(
                    f"DELETE FROM {table} WHERE {engine_column} IN {{ids:Array(Int64)}}", {"ids": chunk}
                )
                placeholders = ", ".join(["%s"] * len(chunk))
                result.rows[table] = result.rows.get(table, 0) + _copy(
                    engine, table, f"{source_column} IN ({placeholders})", chunk
                )
        for table in (schema.TAGS, schema.IDENTITIES):
            engine.command(f"TRUNCATE TABLE {table}")
    result.rows[schema.TAGS] = _copy_pairs(engine, schema.TAGS, CustomerTag, "tag_id")
    result.rows[schema.IDENTITIES] = _copy_pairs(engine, schema.IDENTITIES, Identity, "kind")
    engine.insert(
        schema.STATE,
        pa.table(
            {
                "exported_at": pa.array([started], type=pa.timestamp("us", tz="UTC")),
                "full": pa.array([int(result.full)], type=pa.uint8()),
                "marks": pa.array([json.dumps(marks, sort_keys=True)]),
            }
        ),
    )
    return result


def _copy_pairs(engine: Engine, table: str, model: Any, column: str) -> int:
    kind = pa.string() if column == "kind" else pa.int64()
    copied = 0
    queryset = model.objects.order_by().values_list("customer_id", column)
    batch: list[tuple[int, Any]] = []
    for row in queryset.iterator(chunk_size=FETCH_ROWS):
        batch.append(row)
        if len(batch) == FETCH_ROWS:
            copied += _insert_pairs(engine, table, batch, column, kind)
            batch = []
    return copied + _insert_pairs(engine, table, batch, column, kind)


def _insert_pairs(engine: Engine, table: str, rows: list, column: str, kind: pa.DataType) -> int:
    if not rows:
        return 0
    customers, values = zip(*rows, strict=True)
    engine.insert(
        table, pa.table({"customer_id": pa.array(customers, pa.int64()), column: pa.array(values, kind)})
    )
    return len(rows)


METRIC_COLUMNS = (
    "customer_id",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "abc_class",
    "lifecycle_stage",
    "customer_class",
    "predicted_clv",
    "total_spend",
    "average_order_value",
    "churn_risk",
    "probability_alive",
    "orders",
    "recency_days",
    "first_order_at",
    "last_order_at",
    "expected_next_order_at",
)


def export_metrics(engine: Engine, scope: BusinessUnit | None, customer_ids: np.ndarray | None = None) -> int:
    """Replace the engine's copy of a scope's metric rows (those of `customer_ids`, or all) with the
    stored ones, which segment rules on metrics read."""
    schema.create_tables(engine)
    unit_id = scope.pk if scope is not None else 0
    rows = CustomerMetric.objects.filter(unit=scope).order_by()
    if customer_ids is None:
        engine.command(f"DELETE FROM {schema.METRICS} WHERE unit_id = {{unit:Int64}}", {"unit": unit_id})
        chunks: list[Any] = [rows]
    else:
        chunks = []
        for start in range(0, len(customer_ids), CUSTOMER_CHUNK):
            ids = customer_ids[start : start + CUSTOMER_CHUNK].tolist()
            engine.command(
                f"DELETE FROM {schema.METRICS} WHERE unit_id = {{unit:Int64}} AND customer_id IN {{ids:Array(Int64)}}",
                {"unit": unit_id, "ids": ids},
            )
            chunks.append(rows.filter(customer_id__in=ids))
    copied = 0
    for queryset in chunks:
        batch: list[tuple] = []
        for row in queryset.values_list(*METRIC_COLUMNS).iterator(chunk_size=FETCH_ROWS):
            batch.append(row)
            if len(batch) == FETCH_ROWS:
                copied += _insert_metrics(engine, unit_id, batch)
                batch = []
        copied += _insert_metrics(engine, unit_id, batch)
    return copied


def _cents_of(value: Any) -> int | None:
    return None if value is None else round(value * 100)


def _micros_of(value: datetime | None) -> int | None:
    if value is None:
        return None
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _insert_metrics(engine: Engine, unit_id: int, rows: list[tuple]) -> int:
    if not rows:
        return 0
    c = dict(zip(METRIC_COLUMNS, zip(*rows, strict=True), strict=True))
    i64, f64, text = pa.int64(), pa.float64(), pa.string()
    epoch = date(1970, 1, 1)
    engine.insert(
        schema.METRICS,
        pa.table(
            {
                "customer_id": pa.array(c["customer_id"], i64),
                "unit_id": pa.array([unit_id] * len(rows), i64),
                **{
                    name: pa.array(c[name], i64) for name in ("r_score", "f_score", "m_score", "recency_days")
                },
                **{
                    name: pa.array(c[name], text)
                    for name in ("rfm_segment", "abc_class", "lifecycle_stage", "customer_class")
                },
                "predicted_clv_cents": pa.array([_cents_of(v) for v in c["predicted_clv"]], i64),
                "total_spend_cents": pa.array([_cents_of(v) or 0 for v in c["total_spend"]], i64),
                "average_order_value_cents": pa.array(
                    [_cents_of(v) or 0 for v in c["average_order_value"]], i64
                ),
                "churn_risk": pa.array(c["churn_risk"], f64),
                "probability_alive": pa.array(c["probability_alive"], f64),
                "orders": pa.array(c["orders"], i64),
                "first_order_us": pa.array([_micros_of(v) for v in c["first_order_at"]], i64),
                "last_order_us": pa.array([_micros_of(v) for v in c["last_order_at"]], i64),
                "expected_next_order_at": pa.array(
                    [None if v is None else (v - epoch).days for v in c["expected_next_order_at"]], pa.int32()
                ),
            }
        ),
    )
    return len(rows)
