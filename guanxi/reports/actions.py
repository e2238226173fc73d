"""Writes of the reports app: scheduling a report's delivery, cancelling it, sending the due ones
through the messaging outbox, and setting a business unit's annual sales target. Each is audited."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override, pgettext

from guanxi.accounts.models import BusinessUnit
from guanxi.core import audit
from guanxi.core.access import Denied
from guanxi.core.models import AuditEntry
from guanxi.messaging import actions as messaging
from guanxi.reports import catalogue, customer_filters
from guanxi.reports.kit import Result, parse_scope, run
from guanxi.reports.models import Delivery, Frequency, RevenueTarget
from guanxi.reports.phrases import (
    DELIVERY_CANCELLED,
    DELIVERY_SCHEDULED,
    DELIVERY_SENT,
    TARGET_REMOVED,
    TARGET_SET,
)

SCHEDULE_PERMISSION = "reports.add"
TARGET_PERMISSION = "reports.change"  # the group's roles for any unit, a unit's head for their own
BODY_ROWS = 20  # rows of the table written into the e-mail; the link shows them all


class DeliveryError(ValueError):
    pass


def may_read(user, report: catalogue.Report, unit: BusinessUnit) -> bool:
    return (
        user.is_active
        and user.has_permission("reports.view")
        and user.has_permission(report.needs)
        and BusinessUnit.objects.restrict(user, "view").filter(pk=unit.pk).exists()
    )


def may_set_target(user, unit: BusinessUnit) -> bool:
    return (
        user.is_authenticated
        and user.has_permission(TARGET_PERMISSION)
        and BusinessUnit.objects.restrict(user, "view").filter(pk=unit.pk).exists()
    )


def set_target(*, actor, unit: BusinessUnit, year: int, amount: Decimal | None) -> RevenueTarget | None:
    """Store `unit`'s annual sales target for `year`, replacing the one set before; with no amount,
    remove it (the dashboards then show no target for that year)."""
    if not may_set_target(actor, unit):
        raise Denied(TARGET_PERMISSION, unit=unit)
    if amount is None:
        with transaction.atomic():
            stored = RevenueTarget.objects.select_for_update().filter(unit=unit, year=year).first()
            if stored is not None:
                audit.record(
                    AuditEntry.Action.DELETE,
                    actor=actor,
                    obj=stored,
                    unit=unit,
                    message=TARGET_REMOVED(year=year),
                )
                stored.delete()
        return None
    with transaction.atomic():
        target, created = RevenueTarget.objects.update_or_create(
            unit=unit,
            year=year,
            defaults={"amount": amount, "updated_by": actor, "updated_at": timezone.now()},
        )
        audit.record(
            AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE,
            actor=actor,
            obj=target,
            unit=unit,
            message=TARGET_SET(year=year, amount=f"{target.amount:.2f}"),
        )
    return target


def may_see_filters(user, scope) -> bool:
    """Whether `user` may see what the filters name: the chosen segment, if any."""
    return not scope.segment or customer_filters.chosen_segment(user, scope) is not None


def schedule(*, actor, unit: BusinessUnit, report: str, query: str, frequency: str, recipients) -> Delivery:
    """Deliver `report` with the filters `query` to `recipients` every day, Monday or 1st of the month.
    Each recipient must be able to read the report in `unit` themselves."""
    shown = catalogue.BY_SLUG.get(report)
    if shown is None or frequency not in Frequency.values:
        raise DeliveryError(_("Choose a report and how often to send it."))
    if not actor.has_permission(SCHEDULE_PERMISSION) or not may_read(actor, shown, unit):
        raise Denied(SCHEDULE_PERMISSION, unit=unit)
    people = list(recipients)
    if not people:
        raise DeliveryError(_("Choose at least one recipient."))
    if not all(may_read(person, shown, unit) for person in people):
        raise DeliveryError(_("Every recipient must be able to read this report in this business unit."))
    params = QueryDict(query, mutable=True)
    params["unit"] = unit.code
    params.pop("format", None)
    scope = parse_scope(shown, params, unit, timezone.now())
    if not may_see_filters(actor, scope):
        raise Denied(SCHEDULE_PERMISSION, unit=unit)
    if not all(may_see_filters(person, scope) for person in people):
        raise DeliveryError(_("Every recipient must be able to see the chosen segment."))
    with transaction.atomic():
        delivery = Delivery.objects.create(
            unit=unit, report=report, query=params.urlencode(), frequency=frequency, created_by=actor
        )
        delivery.recipients.set(people)
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=delivery,
            unit=unit,
            message=DELIVERY_SCHEDULED(report=report, frequency=frequency),
        )
    return delivery


def cancel(delivery: Delivery, *, actor) -> None:
    if not actor.has_permission(SCHEDULE_PERMISSION):
        raise Denied(SCHEDULE_PERMISSION, unit=delivery.unit)
    with transaction.atomic():
        audit.record(
            AuditEntry.Action.DELETE,
            actor=actor,
            obj=delivery,
            unit=delivery.unit,
            message=DELIVERY_CANCELLED(report=delivery.report),
        )
        delivery.delete()


def is_due(delivery: Delivery, today: date) -> bool:
    if delivery.last_sent_on is not None and delivery.last_sent_on >= today:
        return False
    if delivery.frequency == Frequency.WEEKLY:
        return today.weekday() == 0
    if delivery.frequency == Frequency.MONTHLY:
        return today.day == 1
    return True


def deliver_due(now: datetime | None = None) -> int:
    """Send every delivery due today (business time zone); the messages' send keys name the day, so a
    second run the same day queues nothing twice. Returns the number of deliveries sent."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    for delivery in Delivery.objects.select_related("unit", "created_by").order_by("pk"):
        if is_due(delivery, today):
            send(delivery, now)
            sent += 1
    return sent


def send(delivery: Delivery, now: datetime) -> int:
    """Queue the report's e-mail to each recipient who may still read it, read with the rights of its
    creator and of the recipient alike (the narrower wins: nobody receives figures they may not see)."""
    shown = catalogue.BY_SLUG[delivery.report]
    today = timezone.localdate(now)
    queued = 0
    for person in delivery.recipients.order_by("pk"):
        if not may_read(person, shown, delivery.unit) or not may_read(
            delivery.created_by, shown, delivery.unit
        ):
            continue
        scope = parse_scope(shown, QueryDict(delivery.query), delivery.unit, now)
        # Someone who may no longer see the delivery's segment gets nothing (not an empty report).
        if not may_see_filters(person, scope) or not may_see_filters(delivery.created_by, scope):
            continue
        with override(settings.LANGUAGE_CODE):
            result = run(shown, person, scope)
            subject = _("%(report)s — %(unit)s, %(day)s") % {
                "report": shown.title,
                "unit": delivery.unit.name,
                "day": today.isoformat(),
            }
            body = _body(result, _link(delivery))
        messaging.enqueue_message(
            unit=delivery.unit,
            purpose="transactional",
            send_key=f"report:{delivery.pk}:{today.isoformat()}",
            user=person,
            channel="email",
            subject=subject,
            body=body,
            source="reports",
        )
        queued += 1
    with transaction.atomic():
        delivery.last_sent_on = today
        delivery.save(update_fields=["last_sent_on"])
        audit.record(
            AuditEntry.Action.EXPORT,
            actor=delivery.created_by,
            obj=delivery,
            unit=delivery.unit,
            message=DELIVERY_SENT(report=delivery.report, recipients=queued),
        )
    return queued


def _link(delivery: Delivery) -> str:
    path = reverse("reports:report", args=[delivery.report])
    return f"{settings.GUANXI_PUBLIC_URL.rstrip('/')}{path}?{delivery.query}"


def _body(result: Result, link: str) -> str:
    """The report as plain text: a line per row (the first rows), the total, and the link to the rest."""
    lines = [" | ".join(result.columns)]
    for row in result.rows[:BODY_ROWS]:
        lines.append(" | ".join(_cell(value) for value in (row.label, *row.values)))
    if len(result.rows) > BODY_ROWS:
        lines.append(_("… and %(count)d more rows") % {"count": len(result.rows) - BODY_ROWS})
    lines.append(" | ".join([pgettext("report total", "Total"), *(_cell(value) for value in result.totals)]))
    lines += ["", _("The full report, its chart and its export: %(link)s") % {"link": link}]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)
