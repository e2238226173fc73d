"""Keeping the query planner's statistics current after bulk writes.

SQLite keeps no statistics until ANALYZE runs, and without them it picks indexes by rule of thumb.
After a demo load or an import it answered "each customer's first order in this unit" through the
(unit, placed_at) index, walking the whole unit per order: 20 s per chart for a unit head on the
6,000-customer demo, under 1 s once analysed. PostgreSQL's autovacuum analyses eventually; a bulk
load that just added most of a table is worth analysing at once.
"""

from django.db import connection

# Rows sampled per index on SQLite: approximate statistics in a fraction of a second at any size.
SQLITE_ANALYSIS_LIMIT = 1000


def refresh_planner_statistics() -> None:
    """Analyse the database, outside of any transaction the caller holds open for long."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
            cursor.execute("ANALYZE")
        elif connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
