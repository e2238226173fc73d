"""Rows that workers take in turn: a claim under a lease, a heartbeat, a retry after a backoff.

A table of work (the customer change feed, the messaging outbox) inherits `Claimable`. `claim()` hands
a batch of available rows to one worker under a lease; the worker extends the lease with
`Claim.heartbeat()` while it works, then finishes the rows itself (deletes them, or marks them sent)
or gives them back with `Claim.retry()`, which makes them available again after a backoff (or with
`Claim.postpone()`, untouched, for a time the worker chose). A worker
that dies lets its lease run out, and the next claim takes its rows: every row is handled at least once.

Claims on one queue are serialised (an advisory lock on PostgreSQL; SQLite's immediate transactions
already are), so two workers never take the same row, and with `together_by` never hold rows of the
same group (a customer) at once: a group's rows are handled oldest first, one worker at a time.
"""

import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

# Retries wait 30 s, 1 min, 2 min, … up to an hour.
FIRST_RETRY_AFTER = timedelta(seconds=30)
LONGEST_RETRY_AFTER = timedelta(hours=1)


class Claimable(models.Model):
    """The lease and retry bookkeeping of a row of work. Database defaults, so rows written with raw
    INSERT … SELECT (the change feed's bulk path) need not name these columns."""

    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    available_at = models.DateTimeField(db_default=Now(), editable=False)
    attempts = models.PositiveIntegerField(db_default=0, editable=False)
    last_error = models.CharField(max_length=500, db_default="", blank=True, editable=False)

    class Meta:
        abstract = True


def retry_delay(attempts: int) -> timedelta:
    """How long a row waits after its `attempts`-th failed attempt."""
    return min(FIRST_RETRY_AFTER * 2 ** max(attempts - 1, 0), LONGEST_RETRY_AFTER)


@dataclass(frozen=True)
class Claim:
    """The rows one worker holds until its lease runs out (`token` is indexed by the claiming table)."""

    model: type[Claimable]
    token: uuid.UUID

    def rows(self) -> QuerySet:
        """The claimed rows this worker still holds (none once the lease ran out and another took them)."""
        return self.model._default_manager.filter(claim_token=self.token)

    def heartbeat(self, lease: timedelta) -> int:
        """Extend the lease of the rows still held; how many those are."""
        return self.rows().update(lease_expires_at=timezone.now() + lease)

    def retry(self, error: str, pks: Iterable[int] | None = None) -> int:
        """Give the rows back (all, or those of `pks`), available again after a backoff that grows
        with each row's attempts."""
        now = timezone.now()
        held = self._held(pks)
        given_back = 0
        for attempts in set(held.values_list("attempts", flat=True)):
            given_back += held.filter(attempts=attempts).update(
                claim_token=None,
                lease_expires_at=None,
                available_at=now + retry_delay(attempts),
                last_error=error[:500],
            )
        return given_back

    def postpone(self, pks: Iterable[int], until: datetime) -> int:
        """Give rows back untouched, to be taken again at `until`: the claimer found them not yet
        due for its own reasons (a message held for quiet hours), so the claim is not counted as an
        attempt and no backoff applies."""
        return self._held(pks).update(
            claim_token=None,
            lease_expires_at=None,
            available_at=until,
            attempts=models.F("attempts") - 1,
        )

    def _held(self, pks: Iterable[int] | None) -> QuerySet:
        return self.rows() if pks is None else self.rows().filter(pk__in=list(pks))


def claim(
    rows: QuerySet,
    *,
    queue: str,
    limit: int,
    lease: timedelta,
    together_by: str | None = None,
    max_attempts: int | None = None,
) -> Claim:
    """Take up to `limit` of `rows` that are due and held by no live lease, oldest first.

    `together_by` names a field (customer_id): a group with a row held, or waiting for its retry, is
    skipped whole, so its later rows never overtake it. Rows tried `max_attempts` times are no longer
    taken (they stay in the table, where `dead()` finds them)."""
    model = rows.model
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        _lock(queue)
        live = rows if max_attempts is None else rows.filter(attempts__lt=max_attempts)
        free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
        due = live.filter(free, available_at__lte=now)
        if together_by:
            waiting = live.filter(Q(lease_expires_at__gt=now) | Q(available_at__gt=now, attempts__gt=0))
            due = due.exclude(**{f"{together_by}__in": waiting.values(together_by)})
        model._default_manager.filter(pk__in=due.order_by("pk").values("pk")[:limit]).update(
            claim_token=token, lease_expires_at=now + lease, attempts=models.F("attempts") + 1
        )
    return Claim(model, token)


def dead(rows: QuerySet, max_attempts: int) -> QuerySet:
    """The rows tried `max_attempts` times that no worker holds any more: no claim takes them again."""
    now = timezone.now()
    return rows.filter(attempts__gte=max_attempts).exclude(lease_expires_at__gt=now)


def _lock(queue: str) -> None:
    """Serialise claims on one queue until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(queue.encode())])
