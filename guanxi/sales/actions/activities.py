"""Activities (一般行动): logging calls, visits, meetings, e-mails and tasks, planning and assigning them,
completing them, their reminders; and marking notifications read.

A done activity is progress on the lead or opportunity it is about: it moves the rulebook's clock
(`last_activity_at`) and lifts a stale flag."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.accounts.models import BusinessUnit
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.sales import phrases
from guanxi.sales.access import assignable_users, require_manager
from guanxi.sales.models import Activity, Lead, Notification, Opportunity, SalesRules
from guanxi.sales.notifications import Kind, notify
from guanxi.sales.rulebook import days_cutoff

REMINDER_BATCH = 500


def record_progress(
    *, at: datetime, lead: Lead | None = None, opportunity: Opportunity | None = None
) -> None:
    """Move the record's last activity to `at` if later, and lift its stale flag when `at` is recent
    by the unit's rule (a back-dated call from two months ago does not)."""
    for model, record in ((Lead, lead), (Opportunity, opportunity)):
        if record is None:
            continue
        model.objects.filter(pk=record.pk, last_activity_at__lt=at).update(last_activity_at=at)
        rules = SalesRules.for_unit(record.unit)
        if at >= days_cutoff(rules.stale_after_days, rules.zone):
            model.objects.filter(pk=record.pk).update(stale_since=None)


def log_activity(
    *,
    actor: Any,
    kind: str,
    subject: str,
    notes: str = "",
    done: bool = True,
    done_at: datetime | None = None,
    due_at: datetime | None = None,
    reminder_at: datetime | None = None,
    owner: Any = None,
    lead: Lead | None = None,
    opportunity: Opportunity | None = None,
    account: Any = None,
    customer: Any = None,
    unit: BusinessUnit | None = None,
    outcome: str = "",
) -> Activity:
    """Log what happened (`done`, at `done_at`, now by default) or plan it (due at `due_at`, with an
    optional reminder), about a lead, an opportunity, an account or a customer (the unit comes from
    the record; for a customer alone, `unit`). The owner is the actor unless a sales manager assigns
    it to someone (指派一般行动), who is then told."""
    if kind not in Activity.Kind.values:
        raise ValidationError({"kind": _("Choose what kind of activity it is.")})
    if not subject.strip():
        raise ValidationError({"subject": _("Say what the activity is about.")})
    if not done and due_at is None:
        raise ValidationError({"due_at": _("Give a planned activity its due time.")})
    if reminder_at is not None and (done or reminder_at > (due_at or reminder_at)):
        raise ValidationError({"reminder_at": _("A reminder comes before a planned activity is due.")})
    if opportunity is not None:
        unit, account = opportunity.unit, account or opportunity.account
        customer = customer or opportunity.customer
    elif lead is not None:
        unit, customer = lead.unit, customer or lead.customer
    elif account is not None:
        unit = account.unit
    if unit is None:
        raise ValidationError(_("Say which lead, opportunity, account or customer the activity is about."))
    for record in (lead, account):
        if record is not None and record.unit_id != unit.pk:
            raise ValidationError(_("The activity's records belong to different units."))
    owner = owner if owner is not None else actor
    if not assignable_users(unit).filter(pk=owner.pk).exists():
        raise ValidationError({"owner": _("Choose an active sales user of the unit.")})
    if owner != actor:
        require_manager(actor, unit)
    now = timezone.now()
    when = (done_at or now) if done else None
    with transaction.atomic():
        activity = Activity.objects.create(
            unit=unit,
            owner=owner,
            kind=kind,
            status=Activity.Status.DONE if done else Activity.Status.PLANNED,
            subject=subject.strip()[:200],
            notes=notes.strip(),
            outcome=outcome.strip()[:300],
            due_at=due_at,
            reminder_at=reminder_at,
            done_at=when,
            lead=lead,
            opportunity=opportunity,
            account=account,
            customer=customer,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_at=min(now, when) if when else now,
        )
        if when is not None:
            _progress(activity)
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=activity,
            unit=unit,
            message=phrases.ACTIVITY_LOGGED(kind=kind),
        )
        if owner != actor:
            notify(
                owner, Kind.ACTIVITY_ASSIGNED, unit=unit, subject=activity, data={"name": activity.subject}
            )
    return activity


def _progress(activity: Activity) -> None:
    assert activity.done_at is not None
    record_progress(at=activity.done_at, lead=activity.lead, opportunity=activity.opportunity)
    if activity.lead_id is not None:  # the first contact puts a new lead to work
        Lead.objects.filter(pk=activity.lead_id, status=Lead.Status.NEW).update(status=Lead.Status.WORKING)


def complete_activity(
    activity: Activity, *, actor: Any, outcome: str = "", done_at: datetime | None = None
) -> Activity:
    """A planned activity done (at `done_at`, now by default), with what came of it."""
    with transaction.atomic():
        activity = (
            Activity.objects.select_for_update(of=("self",))
            .select_related("lead", "opportunity")
            .get(pk=activity.pk)
        )
        if activity.status != Activity.Status.PLANNED:
            raise ValidationError(_("This activity is not planned any more."))
        activity.status, activity.done_at = Activity.Status.DONE, done_at or timezone.now()
        activity.outcome = outcome.strip()[:300] or activity.outcome
        activity.save(update_fields=["status", "done_at", "outcome"])
        _progress(activity)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=activity,
            unit=activity.unit,
            changes={"status": ("planned", "done")},
        )
    return activity


def cancel_activity(activity: Activity, *, actor: Any) -> Activity:
    with transaction.atomic():
        updated = Activity.objects.filter(pk=activity.pk, status=Activity.Status.PLANNED).update(
            status=Activity.Status.CANCELLED
        )
        if not updated:
            raise ValidationError(_("This activity is not planned any more."))
        activity.status = Activity.Status.CANCELLED
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=activity,
            unit=activity.unit,
            changes={"status": ("planned", "cancelled")},
        )
    return activity


def send_due_reminders(now: datetime | None = None) -> int:
    """Notify the owners of planned activities whose reminder time has come; each reminder once."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            Activity.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Activity.Status.PLANNED, reminded_at__isnull=True, reminder_at__lte=now)
            .select_related("owner", "unit")
            .order_by("reminder_at", "pk")[:REMINDER_BATCH]
        )
        for activity in due:
            due_at = timezone.localtime(activity.due_at).strftime("%Y-%m-%d %H:%M") if activity.due_at else ""
            if notify(
                activity.owner,
                Kind.REMINDER,
                unit=activity.unit,
                subject=activity,
                data={"name": activity.subject, "due": due_at},
            ):
                sent += 1
        Activity.objects.filter(pk__in=[activity.pk for activity in due]).update(reminded_at=now)
    return sent


def mark_notifications_read(user: Any, ids: list[int] | None = None) -> int:
    """Mark the user's unread notifications read (only `ids` if given); how many."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
