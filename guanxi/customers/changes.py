"""Which customers changed: the outbox behind segment membership that follows orders, events and tags.

Actions that change what a segment rule can test — orders and returns upserted, behavioural events
recorded, anything that writes a timeline event (tags, consent, profile, custom fields, merges) — call
`note_changed` inside their transaction. The segments app takes the rows with `take_changes` and deletes
them once it has re-evaluated those customers, so a row is never skipped by a transaction that commits
late (a reader keeping an id high-water mark would be) and a failed refresh leaves them for the next.
"""

import json
from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from guanxi.customers.models import CustomerChange

WRITE_BATCH = 5000


def note_changed(customer_ids: Iterable[int | None]) -> int:
    """Record that these customers changed (None and repeats are dropped); how many rows were written.

    One INSERT … SELECT over the ids passed as a single array (JSON on SQLite): imports call this for
    every chunk of thousands of customers, where building a model instance per row cost more than
    writing the orders."""
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if not ids:
        return 0
    table = connection.ops.quote_name(CustomerChange._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start : start + WRITE_BATCH]
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO {table} (customer_id, changed_at) SELECT unnest(%s::bigint[]), %s",
                    [batch, now],
                )
            else:
                cursor.execute(
                    f"INSERT INTO {table} (customer_id, changed_at) SELECT value, %s FROM json_each(%s)",  # noqa: S608
                    [connection.ops.adapt_datetimefield_value(now), json.dumps(batch)],
                )
    return len(ids)


def take_changes(limit: int) -> tuple[list[int], list[int]]:
    """The distinct customers of up to `limit` oldest change rows, and those rows' ids: pass them to
    `forget_changes` once the customers are dealt with."""
    rows = list(CustomerChange.objects.order_by("pk").values_list("pk", "customer_id")[:limit])
    return sorted({customer_id for _pk, customer_id in rows}), [pk for pk, _customer_id in rows]


def forget_changes(row_ids: list[int]) -> int:
    """Delete exactly the rows read. Not a range of ids: a transaction that took a lower id may commit
    after the read, and its row must stay for the next reader."""
    deleted = 0
    for start in range(0, len(row_ids), WRITE_BATCH):
        count, _per_model = CustomerChange.objects.filter(
            pk__in=row_ids[start : start + WRITE_BATCH]
        ).delete()
        deleted += count
    return deleted
