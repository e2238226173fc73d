"""Replace a whole table at once: the write of a full metrics refresh of every scope.

Inserting two million metric rows into a table with seven indexes costs a random insertion into each
index for every row, which was most of a full refresh at a million customers (bench/analytics.py).
Loading them into a new table without indexes and then building each index once, from sorted data,
costs a fraction of that. The new table takes the old one's place, with the old names of its
indexes, constraints and id sequence, in the caller's transaction: readers keep seeing the old rows
until it commits, and wait only for the swap itself (a DROP and a few renames). PostgreSQL and SQLite
differ in how the definitions are read (catalogue functions; the stored CREATE statements) and in
renaming indexes (SQLite cannot, so it builds them after the swap under their own names).
"""

import re
from typing import Any

from django.db import connection

SUFFIX = "__next"
# pg_get_indexdef: "CREATE [UNIQUE] INDEX name ON [schema.]table USING method (columns) [WHERE …]"
INDEX_DEFINITION = re.compile(r"^(CREATE (?:UNIQUE )?INDEX) (\S+) ON (\S+) (USING .*)$", re.DOTALL)
# Memory for building each index in one sorted pass instead of spilling to disk.
INDEX_BUILD_MEMORY = "256MB"
# Rows of each index SQLite's ANALYZE samples.
SQLITE_ANALYSIS_LIMIT = 1000


class TableRebuild:
    """`begin()` creates the empty new table (columns, defaults, checks, identity) and returns its
    name to write into; `finish()` builds its keys and indexes and puts it in place of the old one.
    Both run inside one transaction (the caller's), so a failure anywhere leaves the old table."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.next = f"{table}{SUFFIX}"

    def begin(self) -> str:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(self.next)}")
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"CREATE TABLE {quote(self.next)} (LIKE {quote(self.table)} "
                    "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)"
                )
            else:
                cursor.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [self.table]
                )
                (definition,) = cursor.fetchone()
                if not definition.startswith(f"CREATE TABLE {quote(self.table)} "):
                    raise ValueError(f"Unexpected table definition: {definition[:100]}")
                cursor.execute(definition.replace(quote(self.table), quote(self.next), 1))
        return self.next

    def finish(self) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                self._finish_postgresql(cursor)
            else:
                self._finish_sqlite(cursor)

    def _finish_postgresql(self, cursor: Any) -> None:
        quote = connection.ops.quote_name
        constraints, indexes, sequence = _keys_of(cursor, self.table)
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
        for name, definition in constraints:
            cursor.execute(
                f"ALTER TABLE {quote(self.next)} ADD CONSTRAINT {quote(name + SUFFIX)} {definition}"
            )
        for name, definition in indexes:
            match = INDEX_DEFINITION.match(definition)
            if match is None:
                raise ValueError(f"Unexpected index definition: {definition}")
            create, _name, _table, rest = match.groups()
            cursor.execute(f"{create} {quote(name + SUFFIX)} ON {quote(self.next)} {rest}")
        cursor.execute(f"ANALYZE {quote(self.next)}")
        _, _, next_sequence = _keys_of(cursor, self.next)
        cursor.execute(f"DROP TABLE {quote(self.table)}")
        cursor.execute(f"ALTER TABLE {quote(self.next)} RENAME TO {quote(self.table)}")
        for name, _definition in constraints:
            cursor.execute(
                f"ALTER TABLE {quote(self.table)} RENAME CONSTRAINT {quote(name + SUFFIX)} TO {quote(name)}"
            )
        for name, _definition in indexes:
            cursor.execute(f"ALTER INDEX {quote(name + SUFFIX)} RENAME TO {quote(name)}")
        if sequence and next_sequence:
            cursor.execute(f"ALTER SEQUENCE {next_sequence} RENAME TO {quote(sequence.rsplit('.', 1)[-1])}")

    def _finish_sqlite(self, cursor: Any) -> None:
        quote = connection.ops.quote_name
        # Indexes of constraints declared in the table (sql NULL) came along with its definition.
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
            [self.table],
        )
        indexes = [definition for (definition,) in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {quote(self.table)}")
        cursor.execute(f"ALTER TABLE {quote(self.next)} RENAME TO {quote(self.table)}")
        for definition in indexes:
            cursor.execute(definition)
        # The planner's statistics went with the old table; a sampled ANALYZE takes a moment.
        cursor.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
        cursor.execute(f"ANALYZE {quote(self.table)}")


def _keys_of(cursor: Any, table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str | None]:
    """The table's key constraints (primary, unique, foreign, exclusion) and other indexes, each as
    (name, definition), and the qualified name of its id sequence."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f', 'x') ORDER BY conname",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid) "
        "ORDER BY i.relname",
        [table],
    )
    indexes = cursor.fetchall()
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    return constraints, indexes, sequence
