"""Writes to stores, orders and returns. Bulk upserts are keyed on (source, external_id)."""

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection, transaction

from guanxi.commerce.models import Order, OrderLine, Return, Store
from guanxi.core import audit
from guanxi.core.models import AuditEntry

ORDER_UPDATE_FIELDS = [
    "store",
    "unit",
    "customer",
    "number",
    "status",
    "device",
    "currency",
    "total_amount",
    "item_count",
    "placed_at",
    "paid_at",
]
LINE_UPDATE_FIELDS = ["sku", "name", "category", "quantity", "unit_price", "amount"]
# The columns, in order, of each tuple given to upsert_order_lines.
LINE_COLUMNS = ("order_id", "line_no", "sku", "name", "category", "quantity", "unit_price", "amount")
# Rows per INSERT statement: 8 parameters each stays below SQLite's 32,766 and PostgreSQL's 65,535.
LINES_PER_STATEMENT = 500
RETURN_UPDATE_FIELDS = [
    "store",
    "unit",
    "customer",
    "order",
    "number",
    "currency",
    "amount",
    "quantity",
    "returned_at",
    "reason",
]


class StoreConflictError(Exception):
    """The store source already belongs to another business unit."""


def ensure_store(
    *, unit: Any, source: str, name: str, channel: str, currency: str, actor: Any = None
) -> Store:
    """The store with this source, created in `unit` the first time."""
    with transaction.atomic():
        store, created = Store.objects.get_or_create(
            source=source, defaults={"unit": unit, "name": name, "channel": channel, "currency": currency}
        )
        if store.unit_id != unit.pk:
            raise StoreConflictError(source)
        if created:
            audit.record(AuditEntry.Action.CREATE, actor=actor, obj=store, unit=unit)
    return store


def upsert_orders(orders: list[Order]) -> dict[str, int]:
    """Insert or update orders (all of one source) by external id; returns their ids by external id."""
    if not orders:
        return {}
    with transaction.atomic():
        saved = Order.objects.bulk_create(
            orders,
            update_conflicts=True,
            unique_fields=["source", "external_id"],
            update_fields=ORDER_UPDATE_FIELDS,
        )
    return {order.external_id: order.pk for order in saved}


def upsert_order_lines(lines: Sequence[tuple], *, orders_are_new: bool = False) -> int:
    """Insert or update order lines, given as tuples in LINE_COLUMNS order, by (order, line_no).

    `orders_are_new` says every line belongs to an order created in the current transaction,
    so none can exist yet: PostgreSQL then copies them straight into the table (should one
    exist after all, the unique constraint fails the transaction; nothing is duplicated).

    A re-import rewrites lines, never appends. Lines are the bulk of every import (hundreds of
    thousands per file) and `bulk_create` spends about 25 µs a row building model instances and
    compiling SQL, so this is the same upsert from plain tuples: multi-row INSERT … ON CONFLICT
    DO UPDATE on SQLite; on PostgreSQL, COPY into a temporary table, then one INSERT … SELECT …
    ON CONFLICT (psycopg re-parses long multi-row statements on every call).
    """
    if not lines:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql" and orders_are_new:
            _copy_lines(cursor, lines)
        elif connection.vendor == "postgresql":
            _copy_upsert_lines(cursor, lines)
        else:
            for start in range(0, len(lines), LINES_PER_STATEMENT):
                batch = lines[start : start + LINES_PER_STATEMENT]
                cursor.execute(
                    _values_upsert_sql(connection.vendor, len(batch)),
                    [value for line in batch for value in line],
                )
    return len(lines)


def _line_columns() -> tuple[str, str, str]:
    """Quoted column list, conflict target and update clause of the order line upsert."""
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(OrderLine._meta.get_field(name.removesuffix("_id")).column) for name in LINE_COLUMNS
    )
    conflict = f"{quote('order_id')}, {quote('line_no')}"
    updates = ", ".join(
        f"{quote(column)} = EXCLUDED.{quote(column)}"
        for column in (OrderLine._meta.get_field(name).column for name in LINE_UPDATE_FIELDS)
    )
    return columns, conflict, updates


@cache
def _values_upsert_sql(vendor: str, rows: int) -> str:
    # Cached per vendor and batch size: quoting differs between databases.
    columns, conflict, updates = _line_columns()
    placeholders = "(" + ", ".join(["%s"] * len(LINE_COLUMNS)) + ")"
    values = ", ".join([placeholders] * rows)
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    # Identifiers come from the model's metadata; every value is a bound parameter.
    return f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT ({conflict}) DO UPDATE SET {updates}"  # noqa: S608


STAGE_TABLE = "guanxi_order_line_stage"


def _copy_lines(cursor: Any, lines: Sequence[tuple]) -> None:
    columns, _conflict, _updates = _line_columns()
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for line in lines:
            copy.write_row(line)


def _copy_upsert_lines(cursor: Any, lines: Sequence[tuple]) -> None:
    columns, conflict, updates = _line_columns()
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    # Dropped at commit; a rolled-back chunk takes it away with everything else.
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE_TABLE} (order_id bigint, line_no bigint, sku text, "
        "name text, category text, quantity integer, unit_price numeric, amount numeric) ON COMMIT DROP"
    )
    with cursor.cursor.copy(f"COPY {STAGE_TABLE} ({', '.join(LINE_COLUMNS)}) FROM STDIN") as copy:
        for line in lines:
            copy.write_row(line)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {', '.join(LINE_COLUMNS)} FROM {STAGE_TABLE} "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    )
    cursor.execute(f"TRUNCATE {STAGE_TABLE}")


def upsert_returns(returns: list[Return]) -> dict[str, int]:
    """Insert or update returns (all of one source) by external id; returns their ids by external id."""
    if not returns:
        return {}
    with transaction.atomic():
        saved = Return.objects.bulk_create(
            returns,
            update_conflicts=True,
            unique_fields=["source", "external_id"],
            update_fields=RETURN_UPDATE_FIELDS,
        )
    return {item.external_id: item.pk for item in saved}
