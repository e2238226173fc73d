"""Applying the webhook inbox (ADR 0040): the rows the endpoint wrote, one store at a time, oldest first.

Each row is applied in its own transaction, which also deletes it and records the delivery's outcome,
so a row is either still in the inbox or applied, never both and never neither. Rows are taken under
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

from guanxi.commerce.models import WebhookDelivery, WebhookInbox
from guanxi.commerce.webhooks import apply_delivery
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
    given_back: set[int] = set()
    for row in rows:
        if row.store_id in given_back:
            continue  # an earlier row of this store failed: its later rows wait with it
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
            later = [other.pk for other in rows if other.store_id == row.store_id and other.pk >= row.pk]
            held.retry(f"{type(error).__name__}: {error}", pks=later)
            given_back.add(row.store_id)
    return len(rows)
