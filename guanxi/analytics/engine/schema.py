"""The engine's tables: facts partitioned by business unit and month, dimensions keyed by customer.

Times travel as integers: `*_us` is microseconds since the epoch (UTC, exact), `placed_s` and
`returned_s` are the seconds the embedded refresh reads (the database's own conversion, which rounds
on PostgreSQL and truncates on SQLite), so that both paths bucket orders into the same days. Money is
in cents. A customer's rows are replaced together (delete, then insert), which is what makes an
export idempotent.
"""

from guanxi.analytics.engine.connection import Engine

ORDERS = "guanxi_orders"
LINES = "guanxi_order_lines"
RETURNS = "guanxi_returns"
CUSTOMERS = "guanxi_customers"
CUSTOMER_UNITS = "guanxi_customer_units"
TAGS = "guanxi_customer_tags"
IDENTITIES = "guanxi_identities"
EVENTS = "guanxi_events"
METRICS = "guanxi_customer_metrics"
STATE = "guanxi_export_state"

MONTH_OF_US = "toYYYYMM(toDateTime(intDiv({column}, 1000000), 'UTC'))"

TABLES: dict[str, str] = {
    ORDERS: f"""
        id Int64, customer_id Int64, unit_id Int64, store_id Int64,
        channel LowCardinality(String), status LowCardinality(String), device LowCardinality(String),
        placed_us Int64, placed_s Int64, net_cents Int64, total_cents Int64, items Int64
    ) ENGINE = MergeTree PARTITION BY (unit_id, {MONTH_OF_US.format(column="placed_us")})
      ORDER BY (customer_id, id)""",
    LINES: f"""
        id Int64, order_id Int64, customer_id Int64, unit_id Int64, store_id Int64,
        channel LowCardinality(String), device LowCardinality(String), status LowCardinality(String),
        placed_us Nullable(Int64), sku String, category LowCardinality(String), amount_cents Int64
    ) ENGINE = MergeTree PARTITION BY (unit_id, {MONTH_OF_US.format(column="ifNull(placed_us, 0)")})
      ORDER BY (customer_id, id)""",
    RETURNS: f"""
        id Int64, customer_id Int64, unit_id Int64, cents Int64, returned_s Int64, returned_us Int64
    ) ENGINE = MergeTree PARTITION BY (unit_id, {MONTH_OF_US.format(column="returned_us")})
      ORDER BY (customer_id, id)""",
    EVENTS: f"""
        id Int64, customer_id Int64, unit_id Int64, kind LowCardinality(String), occurred_us Int64
    ) ENGINE = MergeTree PARTITION BY (unit_id, {MONTH_OF_US.format(column="occurred_us")})
      ORDER BY (customer_id, kind, occurred_us, id)""",
    CUSTOMERS: """
        id Int64, status LowCardinality(String), gender LowCardinality(String), birthday Nullable(Int32),
        province String, city String, district String, occupation String, source_channel String,
        first_seen_us Int64
    ) ENGINE = MergeTree ORDER BY id""",
    CUSTOMER_UNITS: """
        customer_id Int64, unit_id Int64
    ) ENGINE = MergeTree ORDER BY (unit_id, customer_id)""",
    TAGS: """
        customer_id Int64, tag_id Int64
    ) ENGINE = MergeTree ORDER BY (tag_id, customer_id)""",
    IDENTITIES: """
        customer_id Int64, kind LowCardinality(String)
    ) ENGINE = MergeTree ORDER BY (kind, customer_id)""",
    METRICS: """
        customer_id Int64, unit_id Int64,
        r_score Nullable(Int64), f_score Nullable(Int64), m_score Nullable(Int64),
        rfm_segment LowCardinality(String), abc_class LowCardinality(String),
        lifecycle_stage LowCardinality(String), customer_class LowCardinality(String),
        predicted_clv_cents Nullable(Int64), total_spend_cents Int64, average_order_value_cents Int64,
        churn_risk Nullable(Float64), probability_alive Nullable(Float64),
        orders Int64, recency_days Nullable(Int64),
        first_order_us Nullable(Int64), last_order_us Nullable(Int64), expected_next_order_at Nullable(Int32)
    ) ENGINE = MergeTree PARTITION BY unit_id ORDER BY customer_id""",
    STATE: """
        exported_at DateTime64(6, 'UTC'), full UInt8, marks String
    ) ENGINE = MergeTree ORDER BY exported_at""",
}


def create_tables(engine: Engine) -> None:
    for name, body in TABLES.items():
        engine.command(f"CREATE TABLE IF NOT EXISTS {name} ({body}")


def drop_tables(engine: Engine) -> None:
    for name in TABLES:
        engine.command(f"DROP TABLE IF EXISTS {name}")
