"""Which customers changed: a feed that several apps follow, each at its own pace.

Actions that change what another app may react to — orders and returns upserted, behavioural events
recorded, anything that writes a timeline event (tags, consent, profile, custom fields, merges) — call
`note_changed` inside their transaction, so a rolled-back change leaves no row. Each app that follows
the feed registers as a reader from its `AppConfig.ready()`; a change is written once per reader, and a
reader takes its own rows with `taken()`, which claims them under a lease (`guanxi.core.claims`):
deleted when the reader is done, given back for a retry if it fails, taken again by the next pass if
its worker died. Rows are claimed, never read past a high-water mark, so a transaction that commits
late is not skipped; a customer's rows are held by one worker at a time, oldest first.
"""

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from guanxi.core.claims import claim
from guanxi.customers.models import CustomerChange

WRITE_BATCH = 5000
LEASE = timedelta(minutes=10)

_readers: list[str] = []


def register_change_reader(reader: str) -> None:
    """Follow the feed as `reader` (an app label) from now on: every later change gets a row for it."""
    if reader not in _readers:
        _readers.append(reader)


def change_readers() -> list[str]:
    return list(_readers)


def note_changed(customer_ids: Iterable[int | None]) -> int:
    """Record that these customers changed (None and repeats are dropped) for every reader; how many
    customers.

    One INSERT … SELECT over the ids and readers passed as arrays (JSON on SQLite): imports call this
    for every chunk of thousands of customers, where building a model instance per row cost more than
    writing the orders."""
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if not ids or not _readers:
        return 0
    table = connection.ops.quote_name(CustomerChange._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start : start + WRITE_BATCH]
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO {table} (customer_id, reader, changed_at) "  # noqa: S608
                    "SELECT customer.id, reader.name, %s "
                    "FROM unnest(%s::bigint[]) AS customer(id) CROSS JOIN unnest(%s::text[]) AS reader(name)",
                    [now, batch, _readers],
                )
            else:
                cursor.execute(
                    f"INSERT INTO {table} (customer_id, reader, changed_at) "  # noqa: S608
                    "SELECT customer.value, reader.value, %s FROM json_each(%s) AS customer, json_each(%s) AS reader",
                    [connection.ops.adapt_datetimefield_value(now), json.dumps(batch), json.dumps(_readers)],
                )
    return len(ids)


@contextmanager
def taken(reader: str, limit: int) -> Iterator[list[int]]:
    """The distinct customers of up to `limit` of `reader`'s oldest change rows, claimed for the block:
    the rows are deleted when it ends, or given back for a retry (after a backoff) if it raises."""
    batch = claim(
        CustomerChange.objects.filter(reader=reader),
        queue=f"customer-changes:{reader}",
        limit=limit,
        lease=LEASE,
        together_by="customer_id",
    )
    try:
        yield sorted(set(batch.rows().values_list("customer_id", flat=True)))
    except BaseException as error:
        batch.retry(f"{type(error).__name__}: {error}")
        raise
    batch.rows().delete()


def pending(reader: str) -> int:
    """How many change rows wait for `reader` (held, waiting for a retry or due)."""
    return CustomerChange.objects.filter(reader=reader).count()
