"""Writes of the analytics app: starting a metrics refresh (the refresh itself writes only derived rows)."""

from typing import Any

from django.db import transaction

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.jobs import REFRESH_KIND
from guanxi.analytics.phrases import FULL_REFRESH, INCREMENTAL_REFRESH
from guanxi.core import audit
from guanxi.core.access import Denied
from guanxi.core.background import start_job
from guanxi.core.models import AuditEntry, Job


def start_refresh(*, user: Any, unit: Any = None, full: bool = False, ip_address: str | None = None) -> Job:
    """Queue a refresh of one unit's metrics (or, unit None, of every scope) on behalf of `user`."""
    if not user.has_permission("analytics.change"):
        raise Denied("analytics.change", unit=unit)
    if not user.sees_all_units() and (
        unit is None or not BusinessUnit.objects.restrict(user, "view").filter(pk=unit.pk).exists()
    ):
        # Organisation-wide figures mix every unit's orders: only roles that see all units may refresh them.
        raise Denied("analytics.change", unit=unit)
    with transaction.atomic():
        job = start_job(
            REFRESH_KIND,
            params={"unit": unit.pk if unit else None, "full": bool(full)},
            started_by=user,
            unit=unit,
        )
        audit.record(
            AuditEntry.Action.CREATE,
            actor=user,
            obj=job,
            unit=unit,
            ip_address=ip_address,
            message=FULL_REFRESH() if full else INCREMENTAL_REFRESH(),
        )
    return job
