"""Bulk writes for the paths that move hundreds of thousands of rows: imports, the demo loader and the
metrics refresh.

PostgreSQL gets COPY (text rows, or binary blocks a caller builds from numpy), and upserts go through a
temporary stage table and one INSERT … SELECT … ON CONFLICT, because psycopg re-parses a long multi-row
statement on every call. SQLite gets executemany, which its driver runs as one prepared statement.
Table and column names are the models' own (quoted here); every value is a bound parameter or COPY data.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

# Rows per executemany call on SQLite: bounds the memory of one batch of parameters.
SQLITE_BATCH = 50_000


def quoted(columns: Sequence[str]) -> str:
    return ", ".join(connection.ops.quote_name(column) for column in columns)


def on_conflict_update(conflict: Sequence[str], updates: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    set_clause = ", ".join(f"{quote(column)} = EXCLUDED.{quote(column)}" for column in updates)
    return f"ON CONFLICT ({quoted(conflict)}) DO UPDATE SET {set_clause}"


def insert_rows(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert plain rows (values in `columns` order, in database form): COPY on PostgreSQL,
    executemany in batches on SQLite."""
    if connection.vendor == "postgresql":
        copy_rows(cursor, table, columns, rows)
        return
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted(columns)}) VALUES ({placeholders})"  # noqa: S608
    batch: list[Sequence] = []
    for row in rows:
        batch.append(row)
        if len(batch) == SQLITE_BATCH:
            cursor.executemany(sql, batch)
            batch = []
    if batch:  # a list, not a generator: Django's debug cursor takes len() of the parameters
        cursor.executemany(sql, batch)


def copy_rows(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """COPY rows into a PostgreSQL table, one psycopg row write each."""
    with cursor.cursor.copy(
        f"COPY {connection.ops.quote_name(table)} ({quoted(columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def copy_binary(cursor: Any, table: str, blocks: Iterable[bytes]) -> None:
    """COPY data already in PostgreSQL's binary format (header, rows, trailer) into a table."""
    with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} FROM STDIN (FORMAT BINARY)") as copy:
        for block in blocks:
            copy.write(block)


def stage_upsert(
    cursor: Any,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    conflict: Sequence[str],
    updates: Sequence[str],
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert or update `rows` (values in `columns` order) in `table` on PostgreSQL: COPY into a
    temporary stage table, then one INSERT … SELECT … ON CONFLICT. Returns the `returning` columns of
    every row written."""
    quote = connection.ops.quote_name
    names, stage = quoted(columns), f"{table}_stage"
    # No constraints on the stage (CREATE … AS copies none); dropped at commit, so a rolled-back
    # chunk takes it away with everything else, and emptied after use for the next call.
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(stage)} ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {names} FROM {quote(table)} WITH NO DATA"
    )
    copy_rows(cursor, stage, columns, rows)
    statement = (
        f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {quote(stage)} "  # noqa: S608
        f"{on_conflict_update(conflict, updates)}"
    )
    if returning:
        statement += f" RETURNING {quoted(returning)}"
    cursor.execute(statement)
    written = cursor.fetchall() if returning else []
    cursor.execute(f"TRUNCATE {quote(stage)}")
    return written
