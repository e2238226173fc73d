"""The analytics engine for large installs (ADR 0036): ClickHouse, in-process (chDB) or a server.

`GUANXI_ANALYTICS_ENGINE=embedded|clickhouse` selects it (embedded, the default, needs nothing of
this package beyond these two functions); `connection` talks to it, `schema` names its tables,
`export` copies the database into it, `aggregates` computes the refresh's per-customer aggregates.
The heavy modules (pyarrow, chDB) are imported only when the engine is selected.
"""

from django.conf import settings

EMBEDDED = "embedded"
CLICKHOUSE = "clickhouse"


def engine_name() -> str:
    return getattr(settings, "GUANXI_ANALYTICS_ENGINE", EMBEDDED)


def engine_selected() -> bool:
    return engine_name() == CLICKHOUSE


# The export follows the customer change feed under this name when the engine is selected (apps.py).
CHANGE_READER = "analytics_engine"
