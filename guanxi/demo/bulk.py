"""Fast row insertion for the demo: executemany on SQLite, COPY on PostgreSQL.

The generator hands over plain tuples in database form (timestamps already formatted by
`BulkWriter.timestamp`), so no model instance is built per row. Columns a caller does not
supply get their field default, so fields added to the models later do not break the loader.
"""

import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import connection, models

from guanxi.core.bulk import insert_rows

SQLITE_CACHE_KIB = 256 * 1024


class BulkWriter:
    def __init__(self):
        self.vendor = connection.vendor
        if self.vendor not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"No bulk path for {self.vendor}")

    @contextmanager
    def tuned(self):
        """Session settings for a long load, restored afterwards.

        SQLite: a large page cache, so index inserts stop waiting on page reads. PostgreSQL: commits
        do not wait for the WAL flush; a crash can lose the last chunks, which a demo can afford.
        """
        if self.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
            try:
                yield
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("RESET synchronous_commit")
            return
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            before = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(before)}")

    def timestamp(self, ts: int | None):
        """A Unix timestamp as the database stores it (UTC)."""
        if ts is None:
            return None
        if self.vendor == "sqlite":
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
        return datetime.fromtimestamp(ts, UTC)

    def reserve_ids(self, model: type[models.Model], count: int) -> list[int]:
        """Primary keys for rows inserted with explicit ids, so children can refer to them."""
        if count == 0:
            return []
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                # nextval hands out ids no concurrent writer can get; gaps are harmless.
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            # SQLite: the chunk's transaction holds the write lock, so max + 1 is ours.
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 (table name from _meta)
            highest = cursor.fetchone()[0]
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
            first = max(highest, cursor.fetchone()[0]) + 1
            return list(range(first, first + count))

    def insert(self, model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> None:
        meta = model._meta
        given = [meta.get_field(name) for name in fields]
        if not all(isinstance(field, models.Field) for field in given):
            raise TypeError(f"{model.__name__}: bulk inserts name concrete columns only, not {fields}")
        given_names = {field.name for field in given}
        others = [
            field
            for field in meta.concrete_fields
            if field.name not in given_names and not field.primary_key and not field.generated
        ]
        columns = [
            field.column for field in [*given, *others] if isinstance(field, models.Field) and field.column
        ]
        tail = tuple(field.get_db_prep_save(field.get_default(), connection) for field in others)
        if tail:
            rows = (row + tail for row in rows)
        with connection.cursor() as cursor:
            insert_rows(cursor, meta.db_table, columns, rows)
