"""The rulebook's stale rule, run on a schedule: an open lead or opportunity without a logged activity
for the unit's number of days (counted in its time zone, see `guanxi.sales.rulebook`) is flagged and
its owner told; where the unit says so, it goes back to the unit's pool and its sales managers are
told, to hand it to someone else."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from guanxi.accounts.models import BusinessUnit, User
from guanxi.accounts.roles import TEAM_RECORD_ROLES, Role
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.sales import phrases
from guanxi.sales.actions.leads import lead_title
from guanxi.sales.models import Lead, Opportunity, SalesRules
from guanxi.sales.notifications import Kind, notify
from guanxi.sales.rulebook import days_cutoff, days_since

BATCH = 1000
SUMMARY_AFTER = 5
# Who hands out what comes back to a unit's pool.
POOL_KEEPERS = (Role.UNIT_HEAD, *TEAM_RECORD_ROLES)


@dataclass(frozen=True)
class StaleSweep:
    flagged: int
    returned_to_pool: int


def flag_stale_records(now: datetime | None = None) -> StaleSweep:
    """Flag every open lead and opportunity that went stale since the last sweep; see the module."""
    now = now or timezone.now()
    flagged = returned = 0
    for unit in BusinessUnit.objects.filter(is_active=True).order_by("pk"):
        rules = SalesRules.for_unit(unit)
        cutoff = days_cutoff(rules.stale_after_days, rules.zone, now)
        keepers = list(User.objects.filter(units=unit, role__in=POOL_KEEPERS, is_active=True))
        for model, still_open in (
            (Opportunity, Q(status=Opportunity.Status.OPEN)),
            (Lead, Q(status__in=Lead.OPEN_STATUSES)),
        ):
            while True:
                done, back = _flag_batch(model, still_open, unit, rules, cutoff, keepers, now)
                flagged, returned = flagged + done, returned + back
                if done < BATCH:
                    break
    return StaleSweep(flagged, returned)


def _tell(user, kind: str, unit, about: list[tuple[Any, dict]], days: int) -> None:
    """One notification per record, or one summary when a sweep flags many of a user's records at once
    (a first sweep over an old pipeline would bury them otherwise)."""
    if len(about) <= SUMMARY_AFTER:
        for row, data in about:
            notify(user, kind, unit=unit, subject=row, data=data)
    else:
        notify(user, kind, unit=unit, data={"count": len(about), "days": days})


def _flag_batch(model, still_open: Q, unit, rules: SalesRules, cutoff, keepers, now) -> tuple[int, int]:
    with transaction.atomic():
        rows = list(
            model.objects.select_for_update(of=("self",))
            .filter(still_open, unit=unit, stale_since__isnull=True, last_activity_at__lt=cutoff)
            .select_related("owner")
            .order_by("pk")[:BATCH]
        )
        if not rows:
            return 0, 0
        to_pool = rules.return_stale_to_pool
        # Keyed by user id: model instances are no dict keys.
        told: dict[tuple[int, str], list[tuple[Any, dict]]] = defaultdict(list)
        people = {keeper.pk: keeper for keeper in keepers}
        for row in rows:
            data = {
                "name": row.name if model is Opportunity else lead_title(row),
                "days": days_since(row.last_activity_at, rules.zone, now),
            }
            kind = Kind.RETURNED_TO_POOL if to_pool and row.owner is not None else Kind.STALE
            if row.owner is not None:
                people[row.owner.pk] = row.owner
                told[(row.owner.pk, kind)].append((row, data))
            if row.owner is None or to_pool:
                for keeper in keepers:
                    told[(keeper.pk, kind)].append((row, data))
        for (user_id, told_kind), about in told.items():
            _tell(people[user_id], told_kind, unit, about, rules.stale_after_days)
        ids = [row.pk for row in rows]
        returned = sum(1 for row in rows if row.owner is not None) if to_pool else 0
        changes = {"stale_since": now, **({"owner": None} if to_pool else {})}
        model.objects.filter(pk__in=ids).update(**changes)
        audit.record(
            AuditEntry.Action.UPDATE,
            unit=unit,
            object_type=f"sales.{model._meta.model_name}",
            message=(
                phrases.FLAGGED_STALE_TO_POOL(count=len(ids), days=rules.stale_after_days, returned=returned)
                if to_pool
                else phrases.FLAGGED_STALE(count=len(ids), days=rules.stale_after_days)
            ),
        )
    return len(ids), returned
