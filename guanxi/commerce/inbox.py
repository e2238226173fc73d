"""Applying the webhook inbox (ADR 0040): the rows the endpoint wrote, one store at a time, oldest first.

A store's claimed rows are applied in one transaction, which also deletes them and records each
delivery's outcome, so a row is either still in the inbox or applied, never both and never neither (a
batch that fails is retried row by row, each in its own transaction, to isolate the bad one). Rows are taken under
a lease (`guanxi.core.claims`): a worker that dies leaves its rows to the next pass once the lease runs
out, and a row that keeps failing is tried MAX_ATTEMPTS times, then recorded as failed. Applying twice
is harmless anyway: orders are upserted by external id and an older `updated_at` changes nothing.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, InterfaceError, close_old_connections, transaction
from django.utils import timezone

from guanxi.commerce.actions import apply_orders
from guanxi.commerce.models import WebhookDelivery, WebhookInbox
from guanxi.commerce.records import OrderRecord
from guanxi.commerce.webhooks import PLATFORMS, apply_delivery, parse_order
from guanxi.core.claims import Claim, claim

logger = logging.getLogger("guanxi.webhooks")

QUEUE = "commerce.webhook-inbox"
BATCH = 50
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5


@dataclass
class DrainReport:
    applied: int = 0
    failed: int = 0
    passes: int = 0


def pending() -> int:
    return WebhookInbox.objects.count()


def drain(seconds: float, *, idle: float = 0.0) -> DrainReport:
    """Apply inbox rows for up to `seconds`; once the inbox is empty, keep looking for `idle` seconds
    (a worker woken for a burst takes the rows that arrive just after it looked)."""
    report = DrainReport()
    deadline = time.monotonic() + seconds
    empty_since: float | None = None
    while time.monotonic() < deadline:
        try:
            held = claim(
                WebhookInbox.objects.all(),
                queue=QUEUE,
                limit=BATCH,
                lease=LEASE,
                together_by="store_id",
                max_attempts=MAX_ATTEMPTS,
            )
            done = _apply_claimed(held, report)
        except (DatabaseError, InterfaceError):
            # The database went away: the rows stay in the inbox for the next pass.
            logger.warning("webhook inbox: database unavailable, stopping this pass")
            close_old_connections()
            break
        report.passes += 1
        if done:
            empty_since = None
            continue
        now = time.monotonic()
        empty_since = empty_since or now
        if now - empty_since >= idle:
            break
        time.sleep(0.1)
    return report


def _apply_claimed(held: Claim, report: DrainReport) -> int:
    rows = list(held.rows().select_related("store__unit", "delivery").order_by("pk"))
    by_store: dict[int, list[WebhookInbox]] = {}
    for row in rows:
        by_store.setdefault(row.store_id, []).append(row)
    for group in by_store.values():
        try:
            _apply_batch(held, group)
            report.applied += len(group)
        except (DatabaseError, InterfaceError):
            raise
        except Exception:
            # One bad row must not hold the others back: apply them one by one to find it.
            logger.warning(
                "webhook inbox: a batch of store %s failed; applying its rows one by one", group[0].store_id
            )
            _apply_one_by_one(held, group, report)
    return len(rows)


class _LeaseLostError(Exception):
    """Some of the batch's rows are no longer ours (the lease ran out and another worker took them)."""


def _apply_batch(held: Claim, group: list[WebhookInbox]) -> None:
    """A store's claimed rows in one transaction: the orders go to `apply_orders` in one call (the newest
    version of each order; an older one in the same batch changes nothing, as it would one by one)."""
    store = group[0].store
    platform = PLATFORMS[group[0].delivery.platform]
    outcomes: dict[int, tuple[str, str]] = {}
    newest: dict[str, tuple[WebhookInbox, OrderRecord]] = {}
    with transaction.atomic():
        deleted = WebhookInbox.objects.filter(
            pk__in=[row.pk for row in group], claim_token=held.token
        ).delete()[0]
        if deleted != len(group):
            raise _LeaseLostError
        for row in group:
            parsed = parse_order(platform, store, row.delivery.topic, bytes(row.body))
            if isinstance(parsed, tuple):
                outcomes[row.pk] = parsed
                continue
            held_before = newest.get(parsed.external_id)
            if held_before is not None:
                older, kept = (
                    (held_before, (row, parsed))
                    if _newer(parsed, held_before[1])
                    else ((row, parsed), held_before)
                )
                outcomes[older[0].pk] = (
                    WebhookDelivery.Status.STALE,
                    "older than another delivery applied with it",
                )
                newest[parsed.external_id] = kept
            else:
                newest[parsed.external_id] = (row, parsed)
        if newest:
            applied = apply_orders(store, [record for _row, record in newest.values()])
            for (row, _record), outcome in zip(newest.values(), applied, strict=True):
                outcomes[row.pk] = (
                    (WebhookDelivery.Status.STALE, "older than the stored order")
                    if outcome.status == "stale"
                    else (WebhookDelivery.Status.PROCESSED, outcome.status)
                )
        now = timezone.now()
        by_outcome: dict[tuple[str, str], list[int]] = {}
        for row in group:
            by_outcome.setdefault(outcomes[row.pk], []).append(row.delivery_id)
        for (status, message), delivery_ids in by_outcome.items():
            WebhookDelivery.objects.filter(pk__in=delivery_ids).update(
                status=status, message=message[:300], processed_at=now
            )


def _newer(record: OrderRecord, than: OrderRecord) -> bool:
    """Whether `record` replaces `than` (later `updated_at`; on a tie or none, the later delivery)."""
    if record.source_updated_at is None or than.source_updated_at is None:
        return True
    return record.source_updated_at >= than.source_updated_at


def _apply_one_by_one(held: Claim, rows: list[WebhookInbox], report: DrainReport) -> None:
    for position, row in enumerate(rows):
        try:
            with transaction.atomic():
                if not WebhookInbox.objects.filter(pk=row.pk, claim_token=held.token).delete()[0]:
                    continue  # the lease ran out and another worker has it
                delivery = row.delivery
                status, message = apply_delivery(
                    row.store, delivery.platform, delivery.topic, bytes(row.body)
                )
                WebhookDelivery.objects.filter(pk=delivery.pk).update(
                    status=status, message=message[:300], processed_at=timezone.now()
                )
            report.applied += 1
        except (DatabaseError, InterfaceError):
            raise
        except Exception as error:
            logger.exception("webhook inbox row %s failed", row.pk)
            if row.attempts >= MAX_ATTEMPTS:
                with transaction.atomic():
                    WebhookInbox.objects.filter(pk=row.pk).delete()
                    WebhookDelivery.objects.filter(pk=row.delivery_id).update(
                        status=WebhookDelivery.Status.FAILED,
                        message=f"{type(error).__name__}"[:300],
                        processed_at=timezone.now(),
                    )
                report.failed += 1
                continue
            # The store's later rows wait with it, so they never overtake it.
            held.retry(f"{type(error).__name__}: {error}", pks=[later.pk for later in rows[position:]])
            return
