"""Quotas (销售定额) and sales plans (销售计划): set per rep and month by their sales managers; a rep
writes their own plan."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.core.money import round_money
from guanxi.sales import phrases
from guanxi.sales.access import require_manager, sales_users
from guanxi.sales.models import Quota, SalesPlan
from guanxi.sales.rulebook import month_start

PLAN_FIELDS = ("planned_calls", "planned_visits", "planned_meetings", "planned_opportunities", "notes")


def _check_seller(unit: Any, user: Any) -> None:
    if not sales_users(unit).filter(pk=user.pk).exists():
        raise ValidationError({"user": _("Choose a sales rep or sales manager of the unit.")})


def set_quota(
    *,
    unit: Any,
    user: Any,
    month: date,
    amount: Decimal,
    actor: Any,
    currency: str = "CNY",
    commission_rate: Decimal | None = None,
) -> Quota:
    """The rep's quota for the month (replacing any), and their commission rate if not the unit's."""
    require_manager(actor, unit)
    _check_seller(unit, user)
    if amount < 0:
        raise ValidationError({"amount": _("A quota is not negative.")})
    if commission_rate is not None and not Decimal("0") <= commission_rate <= Decimal("1"):
        raise ValidationError({"commission_rate": _("A rate is between 0 and 1 (0.03 is 3%).")})
    with transaction.atomic():
        quota, created = Quota.objects.update_or_create(
            unit=unit,
            user=user,
            month=month_start(month),
            defaults={
                "amount": round_money(amount),
                "currency": currency.upper()[:3],
                "commission_rate": commission_rate,
                "updated_at": timezone.now(),
            },
        )
        audit.record(
            AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE,
            actor=actor,
            obj=quota,
            unit=unit,
            message=phrases.QUOTA_SET(amount=str(quota.amount), currency=quota.currency),
        )
    return quota


def set_plan(*, unit: Any, user: Any, month: date, actor: Any, **fields: Any) -> SalesPlan:
    """The rep's plan for the month: a rep writes their own, a sales manager anyone's in the unit."""
    unknown = sorted(set(fields) - set(PLAN_FIELDS))
    if unknown:
        raise ValueError(f"Not plan fields: {unknown}")
    _check_seller(unit, user)
    if user != actor:
        require_manager(actor, unit)
    if any(int(fields.get(name) or 0) < 0 for name in PLAN_FIELDS if name != "notes"):
        raise ValidationError(_("Planned numbers are not negative."))
    with transaction.atomic():
        plan, created = SalesPlan.objects.update_or_create(
            unit=unit,
            user=user,
            month=month_start(month),
            defaults={**fields, "updated_by": actor, "updated_at": timezone.now()},
        )
        audit.record(
            AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE,
            actor=actor,
            obj=plan,
            unit=unit,
        )
    return plan
