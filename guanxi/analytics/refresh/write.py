"""Writing a scope's computed rows into the metrics table.

Every column is turned into float64 numbers first (NaN for NULL; text as a position in a vocabulary),
vectorised. PostgreSQL receives them as one binary COPY into a temporary table, built from numpy
records without a Python object per value, and turns them into the metric rows with one
INSERT … SELECT … ON CONFLICT DO UPDATE. SQLite gets big executemany batches.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.models import (
    CustomerMetric,
)
from guanxi.analytics.refresh.arrays import (
    Coded,
)
from guanxi.analytics.refresh.read import (
    id_chunks,
)
from guanxi.core import bulk

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
        bulk.copy_binary(cursor, STAGING_TABLE, _binary_copy(numbers))
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
            for chunk in id_chunks(touched):
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
    with connection.cursor() as cursor:
        bulk.insert_rows(
            cursor,
            new_table or CustomerMetric._meta.db_table,
            [_model_column(name) for name in names],
            zip(*(out[name] for name in names), strict=True),
        )
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
