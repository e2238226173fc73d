"""Every write of the service app: tickets through the seed's process (创建 → 分配 → 处理 → 反馈 → 归档),
assignment, cross-unit transfers, replies and notes, SLA clocks and their scan, the unit's desk settings
and calendar, follow-up calls (客户回访) and satisfaction surveys.

Each function owns its transaction, writes the ticket's history (a `TicketEvent`) and the audit entry,
and sends through the messaging outbox (replies to customers, SLA alerts to staff, survey links).
Views, the API, the inbound e-mail handler, jobs and tests call these; nothing else writes.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guanxi.accounts.models import BusinessUnit, User
from guanxi.accounts.roles import MANAGE_SERVICE, ROLE_PERMISSIONS, Role
from guanxi.core import audit
from guanxi.core.access import Denied
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Customer, CustomerUnit
from guanxi.messaging import actions as messaging
from guanxi.messaging.models import ContactPreference
from guanxi.messaging.rendering import DEFAULT_LANGUAGE
from guanxi.service import attachments, china_holidays, phrases
from guanxi.service.calendar import BusinessCalendar
from guanxi.service.models import (
    WORKING_STATUSES,
    AgentShift,
    AssignmentMode,
    Attachment,
    CannedReply,
    ComplaintReason,
    FollowUp,
    Holiday,
    Priority,
    ServiceSettings,
    SlaPolicy,
    Status,
    Survey,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketOrder,
    TicketType,
    Transfer,
)

Kind = TicketEvent.Kind
SURVEY_SALT = "guanxi.service.survey"
SURVEY_DAYS = 14
# Resolved tickets nobody reopened are archived (归档) after this many days.
AUTO_CLOSE_DAYS = 7
SCAN_BATCH = 500
# At most this many batches of alerts per clock and unit in one scan (the next scan, a minute later, goes on).
MAX_PASSES = 40
# The tickets an SLA e-mail lists by name; the rest are counted.
MAX_DIGEST_LINES = 50
# A follow-up call is due one business day (of the unit's hours) after what prompted it.
FOLLOW_UP_MINUTES = 8 * 60
LOW_CSAT = 2
LOW_NPS = 6

# Business minutes (first response, resolution) by priority when a unit has no policy of its own.
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {
    Priority.URGENT: (30, 4 * 60),
    Priority.HIGH: (60, 8 * 60),
    Priority.NORMAL: (4 * 60, 16 * 60),
    Priority.LOW: (8 * 60, 40 * 60),
}

# The ticket's medium when a reply goes out through messaging.
REPLY_MEDIUM: dict[str, str] = {
    TicketChannel.EMAIL: "email",
    TicketChannel.SMS: "sms",
    TicketChannel.WECHAT: "wechat",
}


def _check(condition: bool, message: str, field: str | None = None) -> None:
    if not condition:
        raise ValidationError({field: message} if field else message)


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# --- who ---------------------------------------------------------------------------------------


def manages_service(user: Any, unit: Any = None) -> bool:
    """May configure the unit's desk, reassign its tickets and agree to transfers (in `unit` if given)."""
    if not (getattr(user, "is_authenticated", False) and user.has_permission(MANAGE_SERVICE)):
        return False
    return unit is None or BusinessUnit.objects.restrict(user, "view").filter(pk=unit.pk).exists()


def require_manager(user: Any, unit: Any) -> None:
    """Refuse unless `user` manages service in `unit`; None is the system itself (jobs, the demo)."""
    if user is not None and not manages_service(user, unit):
        raise Denied(MANAGE_SERVICE, unit=unit)


def agents(unit: Any) -> Any:
    """Who may own a unit's tickets: its active members who may change service records."""
    roles = [role for role in Role.values if "service.change" in ROLE_PERMISSIONS.get(role, frozenset())]
    return User.objects.filter(units=unit, role__in=roles, is_active=True).order_by("pk")


def rotation(unit: Any) -> list[User]:
    """The service agents of the unit on shift now, in a fixed order: new tickets are dealt among them."""
    off = AgentShift.objects.filter(unit=unit, on_shift=False).values("user_id")
    return list(agents(unit).filter(role=Role.SERVICE_AGENT).exclude(pk__in=off))


def managers(unit: Any) -> list[User]:
    roles = [role for role in Role.values if MANAGE_SERVICE in ROLE_PERMISSIONS.get(role, frozenset())]
    return list(User.objects.filter(units=unit, role__in=roles, is_active=True).order_by("pk"))


# --- the desk's settings and calendar ----------------------------------------------------------


def settings_for(unit: BusinessUnit) -> ServiceSettings:
    found, _created = ServiceSettings.objects.select_related("unit").get_or_create(unit=unit)
    return found


def calendar_for(unit: BusinessUnit, desk: ServiceSettings | None = None) -> BusinessCalendar:
    desk = desk or settings_for(unit)
    rows = list(Holiday.objects.filter(unit=unit).values_list("day", "is_day_off"))
    return BusinessCalendar(
        zone=desk.zone,
        opens=desk.opens,
        closes=desk.closes,
        weekdays=frozenset(int(d) for d in desk.weekdays if d.isdigit()),
        holidays=frozenset(day for day, off in rows if off),
        workdays=frozenset(day for day, off in rows if not off),
    )


def targets(unit: BusinessUnit, ticket_type: str, priority: str) -> tuple[int, int]:
    """(first response, resolution) business minutes for a type and priority in the unit."""
    policy = SlaPolicy.objects.filter(unit=unit, ticket_type=ticket_type, priority=priority).first()
    if policy is not None:
        return policy.first_response_minutes, policy.resolution_minutes
    return DEFAULT_TARGETS[priority]


def save_settings(
    unit: BusinessUnit,
    *,
    actor: Any,
    assignment: str,
    support_address: str = "",
    opens: time | None = None,
    closes: time | None = None,
    weekdays: str = "01234",
    warn_minutes: int = 60,
) -> ServiceSettings:
    require_manager(actor, unit)
    _check(assignment in AssignmentMode.values, _("Choose how tickets are assigned."), "assignment")
    days = "".join(sorted(set(weekdays)))
    _check(bool(days) and set(days) <= set("0123456"), _("Choose at least one working weekday."), "weekdays")
    opens, closes = opens or time(9), closes or time(18)
    _check(opens < closes, _("The desk closes after it opens."), "closes")
    address = support_address.strip().lower()
    if address:
        taken = ServiceSettings.objects.filter(support_address=address).exclude(unit=unit).exists()
        _check(not taken, _("Another unit uses this support address."), "support_address")
    with transaction.atomic():
        desk = settings_for(unit)
        desk.assignment, desk.support_address = assignment, address
        desk.opens, desk.closes, desk.weekdays, desk.warn_minutes = opens, closes, days, warn_minutes
        desk.save()
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=desk,
            unit=unit,
            message=phrases.SETTINGS_SAVED(mode=assignment),
        )
    return desk


def save_policy(
    unit: BusinessUnit, *, actor: Any, ticket_type: str, priority: str, first_response: int, resolution: int
) -> SlaPolicy:
    require_manager(actor, unit)
    _check(ticket_type in TicketType.values, _("Choose a ticket type."), "ticket_type")
    _check(priority in Priority.values, _("Choose a priority."), "priority")
    _check(first_response > 0 and resolution > 0, _("Targets are at least one minute."), "first_response")
    _check(first_response <= resolution, _("The first response comes before the resolution."), "resolution")
    with transaction.atomic():
        policy, _created = SlaPolicy.objects.update_or_create(
            unit=unit,
            ticket_type=ticket_type,
            priority=priority,
            defaults={"first_response_minutes": first_response, "resolution_minutes": resolution},
        )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=policy,
            unit=unit,
            message=phrases.POLICY_SAVED(
                type=ticket_type, priority=priority, first=first_response, resolution=resolution
            ),
        )
    return policy


def set_calendar_day(
    unit: BusinessUnit, day: date, *, actor: Any, is_day_off: bool, name: str = ""
) -> Holiday:
    require_manager(actor, unit)
    with transaction.atomic():
        row, _created = Holiday.objects.update_or_create(
            unit=unit, day=day, defaults={"is_day_off": is_day_off, "name": name.strip()[:60]}
        )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=row,
            unit=unit,
            message=phrases.HOLIDAY_SET(day=day.isoformat()),
        )
    return row


def remove_calendar_day(unit: BusinessUnit, day: date, *, actor: Any) -> None:
    require_manager(actor, unit)
    with transaction.atomic():
        Holiday.objects.filter(unit=unit, day=day).delete()
        audit.record(
            AuditEntry.Action.DELETE,
            actor=actor,
            object_type="service.holiday",
            object_id=day.isoformat(),
            unit=unit,
            message=phrases.HOLIDAY_REMOVED(day=day.isoformat()),
        )


def load_china_holidays(unit: BusinessUnit, year: int, *, actor: Any) -> int:
    """Add the State Council's holidays and adjusted working days of `year` to the unit's calendar (days
    already set by hand are kept). The number of days added."""
    require_manager(actor, unit)
    rows = china_holidays.days_of(year)
    _check(
        bool(rows), _("The holidays of %(year)d are not in the table yet; add them by hand.") % {"year": year}
    )
    with transaction.atomic():
        known = set(Holiday.objects.filter(unit=unit, day__year=year).values_list("day", flat=True))
        added = [
            Holiday(unit=unit, day=day, is_day_off=off, name=name)
            for day, off, name in rows
            if day not in known
        ]
        Holiday.objects.bulk_create(added)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=unit,
            unit=unit,
            message=phrases.HOLIDAYS_LOADED(year=year, count=len(added)),
        )
    return len(added)


def set_on_shift(actor: Any, unit: BusinessUnit, on_shift: bool) -> None:
    """An agent starts or ends their shift: only agents on shift get new tickets."""
    with transaction.atomic():
        AgentShift.objects.update_or_create(
            unit=unit, user=actor, defaults={"on_shift": on_shift, "changed_at": timezone.now()}
        )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=actor,
            unit=unit,
            message=phrases.SHIFT_CHANGED(on=on_shift),
        )


def save_canned_reply(
    unit: BusinessUnit, *, actor: Any, title: str, body_zh: str, body_en: str = "", pk: int | None = None
) -> CannedReply:
    require_manager(actor, unit)
    _check(bool(title.strip()), _("Give the reply a title."), "title")
    _check(bool(body_zh.strip()), _("Write the Chinese text."), "body_zh")
    with transaction.atomic():
        row = CannedReply.objects.filter(unit=unit, pk=pk).first() if pk else None
        row = row or CannedReply(unit=unit)
        row.title, row.body_zh, row.body_en = title.strip()[:100], body_zh.strip(), body_en.strip()
        row.save()
        audit.record(
            AuditEntry.Action.UPDATE, actor=actor, obj=row, unit=unit, message=phrases.CANNED_SAVED()
        )
    return row


# --- tickets -----------------------------------------------------------------------------------


def _event(
    ticket: Ticket, kind: str, *, actor: Any = None, at: datetime, body: str = "", **data: Any
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=_actor(actor),
        body=body,
        data={k: v for k, v in data.items() if k not in ("message_id", "outbox_id")},
        message_id=data.get("message_id", "") or "",
        outbox_id=data.get("outbox_id"),
        created_at=at,
    )


def _link_customer(customer: Customer | None, unit: BusinessUnit) -> None:
    """The unit serves this person now, so it sees their profile."""
    if customer is not None:
        CustomerUnit.objects.get_or_create(customer=customer, unit=unit)


def open_ticket(
    *,
    actor: Any,
    unit: BusinessUnit,
    subject: str,
    customer: Customer | None = None,
    ticket_type: str = TicketType.INQUIRY,
    priority: str = Priority.NORMAL,
    channel: str = TicketChannel.PHONE,
    body: str = "",
    orders: Sequence[Any] = (),
    complaint_reason: str = "",
    email_address: str = "",
    message_id: str = "",
    assignee: Any = None,
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket (创建) with its SLA deadlines from the unit's policy in business hours, then deal it
    to an agent by the unit's rule (分配) unless `assignee` is given or the desk assigns by hand."""
    _check(bool(subject.strip()), _("Say what the ticket is about."), "subject")
    _check(ticket_type in TicketType.values, _("Choose a ticket type."), "ticket_type")
    _check(priority in Priority.values, _("Choose a priority."), "priority")
    _check(channel in TicketChannel.values, _("Choose the channel it came by."), "channel")
    _check(
        complaint_reason == "" or complaint_reason in ComplaintReason.values,
        _("Choose a complaint reason."),
        "complaint_reason",
    )
    for order in orders:
        _check(order.unit_id == unit.pk, _("An order of another unit cannot be on this ticket."), "orders")
        _check(
            customer is None or order.customer_id in (None, customer.pk),
            _("The order belongs to another customer."),
            "orders",
        )
    if assignee is not None:
        _check(agents(unit).filter(pk=assignee.pk).exists(), _("Choose an agent of the unit."), "assignee")
    now = now or timezone.now()
    desk = settings_for(unit)
    calendar = calendar_for(unit, desk)
    first, resolution = targets(unit, ticket_type, priority)
    with transaction.atomic():
        ticket = Ticket.objects.create(
            unit=unit,
            customer=customer,
            subject=subject.strip()[:200],
            ticket_type=ticket_type,
            priority=priority,
            channel=channel,
            complaint_reason=complaint_reason if ticket_type == TicketType.COMPLAINT else "",
            email_address=email_address,
            email_message_id=message_id,
            created_by=_actor(actor),
            created_at=now,
            updated_at=now,
            first_response_due=calendar.add_business_minutes(now, first),
            resolution_due=calendar.add_business_minutes(now, resolution),
        )
        TicketOrder.objects.bulk_create([TicketOrder(ticket=ticket, order=order) for order in orders])
        _link_customer(customer, unit)
        _event(ticket, Kind.CREATED, actor=actor, at=now, type=ticket_type, channel=channel)
        if body.strip():
            _event(ticket, Kind.INBOUND, at=now, body=body.strip(), message_id=message_id)
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=ticket,
            unit=unit,
            message=phrases.TICKET_OPENED(type=ticket_type, channel=channel),
        )
        if assignee is not None:
            _assign(ticket, assignee, actor=actor, at=now)
        elif desk.assignment != AssignmentMode.MANUAL:
            auto_assign(ticket, actor=actor, now=now)
    return ticket


def _assign(ticket: Ticket, assignee: Any, *, actor: Any, at: datetime) -> None:
    old = ticket.assignee_id
    ticket.assignee = assignee
    ticket.assigned_at = at if assignee is not None else None
    ticket.updated_at = at
    if assignee is not None and ticket.status == Status.CREATED:
        ticket.status = Status.ASSIGNED
    if assignee is None and ticket.status == Status.ASSIGNED:
        ticket.status = Status.CREATED
    ticket.save(update_fields=["assignee", "assigned_at", "updated_at", "status"])
    _event(
        ticket,
        Kind.ASSIGNED,
        actor=actor,
        at=at,
        user=assignee.pk if assignee else None,
        name=assignee.shown_name if assignee else "",
        previous=old,
    )
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=ticket,
        unit=ticket.unit,
        changes={"assignee": (old, assignee.pk if assignee else None)},
        message=phrases.TICKET_ASSIGNED(user=assignee.pk) if assignee else phrases.TICKET_UNASSIGNED(),
    )


def auto_assign(ticket: Ticket, *, actor: Any = None, now: datetime | None = None) -> User | None:
    """Deal the ticket to an agent on shift by the unit's rule: the next one after the last assigned
    (round robin), or the one with the fewest open tickets (least loaded; ties to the earlier agent).
    Nobody on shift: it stays in the queue."""
    now = now or timezone.now()
    with transaction.atomic():
        desk = ServiceSettings.objects.select_for_update().get(pk=settings_for(ticket.unit).pk)
        candidates = rotation(ticket.unit)
        if not candidates:
            return None
        if desk.assignment == AssignmentMode.LEAST_LOADED:
            loads = dict(
                Ticket.objects.filter(unit=ticket.unit, assignee__in=candidates, status__in=WORKING_STATUSES)
                .values("assignee")
                .annotate(n=Count("id"))
                .values_list("assignee", "n")
            )
            chosen = min(candidates, key=lambda agent: (loads.get(agent.pk, 0), agent.pk))
        else:
            after = [
                agent for agent in candidates if desk.last_assigned_id and agent.pk > desk.last_assigned_id
            ]
            chosen = (after or candidates)[0]
        desk.last_assigned = chosen
        desk.save(update_fields=["last_assigned"])
        _assign(ticket, chosen, actor=actor, at=now)
    return chosen


def assign(ticket: Ticket, assignee: Any, *, actor: Any, now: datetime | None = None) -> Ticket:
    """Manual assignment: an agent takes a ticket themselves; a manager gives it to anyone of the unit
    or back to the queue (None)."""
    _check(ticket.is_open, _("Only open tickets are assigned."))
    if assignee is not None:
        _check(
            agents(ticket.unit).filter(pk=assignee.pk).exists(), _("Choose an agent of the unit."), "assignee"
        )
    if assignee is None or assignee.pk != getattr(actor, "pk", None):
        require_manager(actor, ticket.unit)
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        _assign(locked, assignee, actor=actor, at=now or timezone.now())
    return locked


# The transitions of the seed's process: action -> (from, to).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": ((Status.CREATED, Status.ASSIGNED), Status.IN_PROGRESS),
    "wait": ((Status.ASSIGNED, Status.IN_PROGRESS), Status.WAITING),
    "resume": ((Status.WAITING,), Status.IN_PROGRESS),
    "resolve": ((Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING), Status.RESOLVED),
    "close": ((Status.RESOLVED,), Status.CLOSED),
    "reopen": ((Status.RESOLVED, Status.CLOSED), Status.IN_PROGRESS),
}


def allowed_transitions(ticket: Ticket) -> list[str]:
    return [name for name, (sources, _target) in TRANSITIONS.items() if ticket.status in sources]


def _pause(ticket: Ticket, at: datetime) -> None:
    if ticket.paused_at is None:
        ticket.paused_at = at


def _resume(ticket: Ticket, at: datetime) -> None:
    """Move the deadlines still running on by the business time the ticket waited on the customer."""
    if ticket.paused_at is None:
        return
    calendar = calendar_for(ticket.unit)
    for due_field, done_field in (
        ("first_response_due", "first_response_at"),
        ("resolution_due", "resolved_at"),
    ):
        due = getattr(ticket, due_field)
        if due is None or getattr(ticket, done_field) is not None:
            continue
        left = calendar.business_minutes_between(ticket.paused_at, due) if due > ticket.paused_at else 0
        setattr(ticket, due_field, calendar.add_business_minutes(at, left))
    ticket.paused_at = None


def transition(
    ticket: Ticket, action: str, *, actor: Any, now: datetime | None = None, note: str = ""
) -> Ticket:
    """Move the ticket along its process; every move is a history entry and an audit entry."""
    _check(action in TRANSITIONS, _("Unknown action."))
    now = now or timezone.now()
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update(of=("self",)).select_related("unit").get(pk=ticket.pk)
        sources, target = TRANSITIONS[action]
        _check(ticket.status in sources, _("A ticket in this state cannot be moved that way."))
        old = ticket.status
        if action == "start" and ticket.assignee_id is None:
            _check(
                agents(ticket.unit).filter(pk=getattr(actor, "pk", None)).exists(),
                _("Assign the ticket first."),
            )
            _assign(ticket, actor, actor=actor, at=now)
        if action == "wait":
            _pause(ticket, now)
        elif action in ("resume", "resolve"):
            _resume(ticket, now)
        if action == "resolve":
            ticket.resolved_at = now
        elif action == "close":
            ticket.closed_at = now
        elif action == "reopen":
            calendar = calendar_for(ticket.unit)
            _first, resolution = targets(ticket.unit, ticket.ticket_type, ticket.priority)
            ticket.reopened += 1
            ticket.resolved_at = ticket.closed_at = None
            ticket.resolution_due = calendar.add_business_minutes(now, resolution)
            ticket.resolution_warned_at = ticket.resolution_breached_at = None
            if ticket.assignee_id is None:
                target = Status.CREATED
        ticket.status = target
        ticket.updated_at = now
        ticket.save()
        _event(ticket, Kind.STATUS, actor=actor, at=now, body=note.strip(), old=old, new=target)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=ticket,
            unit=ticket.unit,
            changes={"status": (old, target)},
            message=phrases.TICKET_STATUS(old=old, new=target),
        )
        if action == "resolve" and ticket.ticket_type == TicketType.COMPLAINT:
            plan_follow_up(ticket=ticket, reason=FollowUp.Reason.COMPLAINT, actor=None, now=now)
        if action == "close" and ticket.customer_id is not None:
            send_survey(
                unit=ticket.unit,
                kind=Survey.Kind.CSAT,
                customer=ticket.customer,
                ticket=ticket,
                actor=None,
                now=now,
            )
    return ticket


def change_priority(ticket: Ticket, priority: str, *, actor: Any, now: datetime | None = None) -> Ticket:
    """A new priority brings the policy's targets for it, counted from the ticket's start."""
    _check(priority in Priority.values, _("Choose a priority."), "priority")
    now = now or timezone.now()
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update(of=("self",)).select_related("unit").get(pk=ticket.pk)
        calendar = calendar_for(ticket.unit)
        first, resolution = targets(ticket.unit, ticket.ticket_type, priority)
        old = ticket.priority
        ticket.priority = priority
        if ticket.first_response_at is None:
            ticket.first_response_due = calendar.add_business_minutes(ticket.created_at, first)
            ticket.first_response_warned_at = None
        if ticket.resolved_at is None:
            ticket.resolution_due = calendar.add_business_minutes(ticket.created_at, resolution)
            ticket.resolution_warned_at = None
        ticket.updated_at = now
        ticket.save()
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=ticket,
            unit=ticket.unit,
            changes={"priority": (old, priority)},
            message=phrases.TICKET_PRIORITY(priority=priority),
        )
    return ticket


def reply(
    ticket: Ticket, body: str, *, actor: Any, now: datetime | None = None, wait: bool = False
) -> TicketEvent:
    """An agent's answer to the customer: written on the ticket and sent through the messaging outbox on
    the ticket's channel (its e-mail address for e-mail tickets). The first one stops the first-response
    clock; with `wait`, the ticket then waits on the customer."""
    _check(bool(body.strip()), _("Write the reply."), "body")
    now = now or timezone.now()
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("unit", "customer")
            .get(pk=ticket.pk)
        )
        _check(ticket.status != Status.CLOSED, _("Reopen an archived ticket before replying."))
        event = _event(ticket, Kind.REPLY, actor=actor, at=now, body=body.strip())
        medium = REPLY_MEDIUM.get(ticket.channel, "email" if ticket.email_address else messaging.BEST)
        customer = ticket.customer
        if customer is not None or ticket.email_address:
            queued = messaging.enqueue_message(
                unit=ticket.unit,
                purpose="transactional",
                send_key=f"service-reply-{event.pk}",
                customer=customer,
                address=ticket.email_address if medium == "email" else "",
                channel=medium if (customer is not None or medium != messaging.BEST) else "email",
                subject=f"[#{ticket.pk}] {ticket.subject}",
                body=body.strip(),
                source=f"service:{ticket.pk}",
            )
            event.outbox_id = queued.message.pk
            event.save(update_fields=["outbox_id"])
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        if ticket.status in (Status.CREATED, Status.ASSIGNED) and ticket.assignee_id is not None:
            ticket.status = Status.IN_PROGRESS
        ticket.updated_at = now
        ticket.save()
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=ticket,
            unit=ticket.unit,
            message=phrases.TICKET_REPLIED(),
        )
    if wait and ticket.status in TRANSITIONS["wait"][0]:
        transition(ticket, "wait", actor=actor, now=now)
    return event


def add_note(
    ticket: Ticket,
    body: str,
    *,
    actor: Any,
    files: Sequence[tuple[str, bytes]] = (),
    now: datetime | None = None,
) -> TicketEvent:
    """An internal note, with files if any: colleagues see it, the customer never does. A refused file
    (type, size, content) refuses the whole note, naming the file and the reason."""
    _check(bool(body.strip()) or bool(files), _("Write the note."), "body")
    checked = attachments.check_files(list(files))
    now = now or timezone.now()
    with storing_files() as stored, transaction.atomic():
        event = _event(ticket, Kind.NOTE, actor=actor, at=now, body=body.strip())
        stored.extend(_attach(event, checked, actor=actor, at=now))
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
        audit.record(
            AuditEntry.Action.UPDATE, actor=actor, obj=ticket, unit=ticket.unit, message=phrases.TICKET_NOTE()
        )
    return event


@contextmanager
def storing_files() -> Iterator[list[str]]:
    """Files written inside a transaction that then fails are deleted again (the rows are gone)."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise


def _attach(
    event: TicketEvent, files: list[attachments.CheckedFile], *, actor: Any, at: datetime
) -> list[str]:
    """Store checked files on an entry; the storage names written."""
    names = []
    for checked in files:
        row = Attachment(
            ticket_id=event.ticket_id,
            event=event,
            name=checked.name,
            content_type=checked.content_type,
            size=len(checked.data),
            uploaded_by=_actor(actor),
            created_at=at,
        )
        row.file.save(checked.name, ContentFile(checked.data), save=True)
        names.append(str(row.file.name))
    return names


def customer_wrote(
    ticket: Ticket, body: str, *, message_id: str = "", now: datetime | None = None
) -> TicketEvent:
    """The customer answered (an e-mail reply, a call logged): a ticket waiting on them resumes, a
    resolved one is reopened."""
    now = now or timezone.now()
    with transaction.atomic():
        event = _event(ticket, Kind.INBOUND, at=now, body=body.strip(), message_id=message_id)
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
    ticket.refresh_from_db()
    if ticket.status == Status.WAITING:
        transition(ticket, "resume", actor=None, now=now)
    elif ticket.status in (Status.RESOLVED, Status.CLOSED):
        transition(ticket, "reopen", actor=None, now=now)
    return event


def attach_received(event: TicketEvent, files: Sequence[tuple[str, bytes]]) -> list[str]:
    """Files a customer sent (an e-mail's attachments): each acceptable one is stored on the entry, each
    refused one is named on it with the reason's code — the message itself is never lost for a bad
    file. The storage names written (for the caller's clean-up if its transaction fails)."""
    accepted: list[tuple[str, bytes]] = []
    refused: list[dict[str, str]] = []
    for name, data in files:
        code = attachments.problem(name, data)
        if not code and len(accepted) >= attachments.MAX_FILES:
            code = "count"
        if code:
            refused.append({"name": attachments.safe_name(name), "reason": code})
        else:
            accepted.append((name, data))
    if refused:
        event.data = {**event.data, "refused_files": refused}
        event.save(update_fields=["data"])
    return _attach(event, attachments.check_files(accepted), actor=None, at=event.created_at)


# --- cross-unit transfer (跨版块) ---------------------------------------------------------------


def request_transfer(ticket: Ticket, to_unit: BusinessUnit, *, actor: Any, reason: str = "") -> Transfer:
    """Ask to hand the ticket to another unit. A manager of the ticket's unit asking agrees for their
    side at once; the ticket moves when a manager of the other unit agrees too."""
    _check(to_unit.pk != ticket.unit_id, _("Choose another unit."), "to_unit")
    _check(to_unit.is_active, _("Choose an active unit."), "to_unit")
    _check(ticket.is_open, _("Only open tickets are transferred."))
    with transaction.atomic():
        _check(
            not Transfer.objects.filter(ticket=ticket, state=Transfer.State.PENDING).exists(),
            _("A transfer of this ticket is already waiting."),
        )
        transfer = Transfer.objects.create(
            ticket=ticket,
            from_unit_id=ticket.unit_id,
            to_unit=to_unit,
            reason=reason.strip()[:300],
            requested_by=_actor(actor),
        )
        _event(
            ticket,
            Kind.TRANSFER,
            actor=actor,
            at=transfer.created_at,
            body=reason.strip(),
            state="requested",
            target=to_unit.name,
        )
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=transfer,
            unit=ticket.unit,
            message=phrases.TRANSFER_REQUESTED(unit=to_unit.pk),
        )
        if manages_service(actor, ticket.unit):
            _approve(transfer, actor)
    return transfer


def approve_transfer(transfer: Transfer, *, actor: Any) -> Transfer:
    """A manager agrees for their unit's side (both sides when they manage both units)."""
    with transaction.atomic():
        transfer = (
            Transfer.objects.select_for_update(of=("self",))
            .select_related("ticket", "from_unit", "to_unit")
            .get(pk=transfer.pk)
        )
        _check(transfer.state == Transfer.State.PENDING, _("This transfer is decided already."))
        if not (manages_service(actor, transfer.from_unit) or manages_service(actor, transfer.to_unit)):
            raise Denied(MANAGE_SERVICE, obj=transfer)
        _approve(transfer, actor)
    return transfer


def _approve(transfer: Transfer, actor: Any) -> None:
    for side, unit, field in (
        ("source", transfer.from_unit, "source_approved_by"),
        ("target", transfer.to_unit, "target_approved_by"),
    ):
        if getattr(transfer, f"{field}_id") is None and manages_service(actor, unit):
            setattr(transfer, field, actor)
            audit.record(
                AuditEntry.Action.UPDATE,
                actor=actor,
                obj=transfer,
                unit=unit,
                message=phrases.TRANSFER_APPROVED(side=side),
            )
    if transfer.source_approved_by_id and transfer.target_approved_by_id:
        now = timezone.now()
        ticket = Ticket.objects.select_for_update().get(pk=transfer.ticket_id)
        source = ticket.unit_id
        ticket.unit = transfer.to_unit
        ticket.assignee, ticket.assigned_at = None, None
        ticket.status = Status.CREATED if ticket.status == Status.ASSIGNED else ticket.status
        if ticket.status == Status.IN_PROGRESS:
            ticket.status = Status.CREATED
        ticket.updated_at = now
        ticket.save()
        _link_customer(ticket.customer, transfer.to_unit)
        transfer.state, transfer.decided_at = Transfer.State.DONE, now
        _event(ticket, Kind.TRANSFER, actor=actor, at=now, state="done", target=transfer.to_unit.name)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=ticket,
            unit=transfer.to_unit,
            changes={"unit": (source, transfer.to_unit.pk)},
            message=phrases.TRANSFER_DONE(source=source, target=transfer.to_unit.pk),
        )
        if settings_for(transfer.to_unit).assignment != AssignmentMode.MANUAL:
            auto_assign(ticket, actor=actor, now=now)
    transfer.save()


def reject_transfer(transfer: Transfer, *, actor: Any) -> Transfer:
    with transaction.atomic():
        transfer = (
            Transfer.objects.select_for_update(of=("self",))
            .select_related("from_unit", "to_unit")
            .get(pk=transfer.pk)
        )
        _check(transfer.state == Transfer.State.PENDING, _("This transfer is decided already."))
        if not (manages_service(actor, transfer.from_unit) or manages_service(actor, transfer.to_unit)):
            raise Denied(MANAGE_SERVICE, obj=transfer)
        transfer.state, transfer.decided_at = Transfer.State.REJECTED, timezone.now()
        transfer.save()
        _event(
            transfer.ticket,
            Kind.TRANSFER,
            actor=actor,
            at=transfer.decided_at,
            state="rejected",
            target=transfer.to_unit.name,
        )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=transfer,
            unit=transfer.from_unit,
            message=phrases.TRANSFER_REJECTED(),
        )
    return transfer


# --- SLA scan ----------------------------------------------------------------------------------


@dataclass
class ScanResult:
    warnings: int = 0
    breaches: int = 0
    closed: int = 0


RUNNING = (Status.CREATED, Status.ASSIGNED, Status.IN_PROGRESS)
CLOCKS = (
    # (which, due field, done field, warned field, breached field)
    (
        "first_response",
        "first_response_due",
        "first_response_at",
        "first_response_warned_at",
        "first_response_breached_at",
    ),
    ("resolution", "resolution_due", "resolved_at", "resolution_warned_at", "resolution_breached_at"),
)


@dataclass
class _DeskContext:
    """What a scan needs of a unit, read once per scan: its desk, calendar and service managers."""

    desk: ServiceSettings
    calendar: BusinessCalendar
    managers: list[User]


def _contexts() -> dict[int, _DeskContext]:
    found: dict[int, _DeskContext] = {}
    for unit in BusinessUnit.objects.filter(is_active=True).order_by("pk"):
        desk = settings_for(unit)
        found[unit.pk] = _DeskContext(desk, calendar_for(unit, desk), managers(unit))
    return found


@dataclass
class _Alert:
    ticket_id: int
    subject: str
    which: str
    due: datetime
    breach: bool
    zone: Any


def scan_sla(now: datetime | None = None, *, batch: int = SCAN_BATCH, passes: int = MAX_PASSES) -> ScanResult:
    """Warn of deadlines coming within the unit's warning time (in business minutes) and alert on
    deadlines passed, once each, for running tickets (not those waiting on the customer); archive
    resolved tickets nobody reopened. Reads only the partial indexes of running clocks, up to the
    moment each unit's warning reaches, so a pass costs the tickets it alerts on, not the open ones.
    Each person told (the assignee, the unit's service managers) gets one e-mail per scan listing
    their tickets, through messaging."""
    now = now or timezone.now()
    result = ScanResult()
    contexts = _contexts()
    inbox: dict[int, tuple[Any, Any, list[_Alert]]] = {}  # user id -> (user, unit, alerts)
    for which, due, done, warned, breached in CLOCKS:
        running = Ticket.objects.filter(
            status__in=RUNNING, **{f"{done}__isnull": True, f"{breached}__isnull": True}
        )
        for _pass in range(passes):
            found = _mark(
                running.filter(**{f"{due}__lte": now}),
                which,
                breached,
                now,
                batch,
                contexts,
                inbox,
                breach=True,
            )
            result.breaches += found
            if found < batch:
                break
        for unit_id, context in contexts.items():
            # Business minutes only grow with wall time: every deadline up to this moment is within
            # the warning time, and none after it.
            limit = context.calendar.add_business_minutes(now, context.desk.warn_minutes)
            coming = running.filter(
                unit_id=unit_id, **{f"{warned}__isnull": True, f"{due}__gt": now, f"{due}__lte": limit}
            )
            for _pass in range(passes):
                found = _mark(coming, which, warned, now, batch, contexts, inbox, breach=False)
                result.warnings += found
                if found < batch:
                    break
    for user, unit, alerts in inbox.values():
        _tell(user, unit, alerts, now)
    stale = Ticket.objects.filter(
        status=Status.RESOLVED, resolved_at__lte=now - timedelta(days=AUTO_CLOSE_DAYS)
    )
    for ticket in stale.order_by("resolved_at", "pk")[:batch]:
        transition(ticket, "close", actor=None, now=now)
        result.closed += 1
    return result


def _mark(
    rows: Any,
    which: str,
    field: str,
    now: datetime,
    batch: int,
    contexts: dict[int, _DeskContext],
    inbox: dict[int, tuple[Any, Any, list[_Alert]]],
    *,
    breach: bool,
) -> int:
    """Mark one batch of clocks warned or breached, with a history entry each; rows another scan holds
    are skipped (PostgreSQL's SKIP LOCKED; SQLite runs one writer at a time). How many were marked."""
    due_field = f"{which}_due"
    with transaction.atomic():
        tickets = list(
            rows.select_for_update(skip_locked=True, of=("self",))
            .order_by(due_field, "pk")
            .values("pk", "unit_id", "assignee_id", "subject", due_field)[:batch]
        )
        if not tickets:
            return 0
        Ticket.objects.filter(pk__in=[t["pk"] for t in tickets]).update(**{field: now})
        kind = Kind.SLA_BREACH if breach else Kind.SLA_WARNING
        TicketEvent.objects.bulk_create(
            TicketEvent(
                ticket_id=t["pk"],
                kind=kind,
                data={"clock": which, "due": t[due_field].isoformat()},
                created_at=now,
            )
            for t in tickets
        )
        assignees = {
            u.pk: u
            for u in User.objects.filter(pk__in={t["assignee_id"] for t in tickets if t["assignee_id"]})
        }
        for t in tickets:
            context = contexts[t["unit_id"]]
            alert = _Alert(t["pk"], t["subject"], which, t[due_field], breach, context.desk.zone)
            people = list(context.managers)
            if t["assignee_id"] in assignees:
                people.append(assignees[t["assignee_id"]])
            for user in people:
                inbox.setdefault(user.pk, (user, context.desk.unit, []))[2].append(alert)
    return len(tickets)


def _tell(user: Any, unit: Any, alerts: list[_Alert], now: datetime) -> None:
    """One e-mail to `user` listing the tickets a scan warned or alerted on (in the organisation's language)."""
    breached = sum(1 for alert in alerts if alert.breach)
    with translation.override(settings.LANGUAGE_CODE):
        if len(alerts) == 1:
            alert = alerts[0]
            clock = _("first response") if alert.which == "first_response" else _("resolution")
            subject = (
                _("SLA breached: ticket #%(id)s (%(clock)s)")
                if alert.breach
                else _("SLA at risk: ticket #%(id)s (%(clock)s)")
            ) % {"id": alert.ticket_id, "clock": clock}
        else:
            subject = _("SLA: %(breached)d tickets breached, %(warned)d at risk") % {
                "breached": breached,
                "warned": len(alerts) - breached,
            }
        lines = []
        for alert in alerts[:MAX_DIGEST_LINES]:
            clock = _("first response") if alert.which == "first_response" else _("resolution")
            lines.append(
                _("Ticket #%(id)s “%(subject)s”: the %(clock)s deadline is %(due)s.")
                % {
                    "id": alert.ticket_id,
                    "subject": alert.subject,
                    "clock": clock,
                    "due": timezone.localtime(alert.due, alert.zone).strftime("%Y-%m-%d %H:%M"),
                }
            )
        if len(alerts) > MAX_DIGEST_LINES:
            lines.append(
                _("… and %(count)d more in the service inbox.") % {"count": len(alerts) - MAX_DIGEST_LINES}
            )
    messaging.enqueue_message(
        unit=unit,
        purpose="transactional",
        send_key=f"service-sla-{user.pk}-{int(now.timestamp())}-{alerts[0].ticket_id}",
        user=user,
        channel="email",
        subject=subject,
        body="\n".join(lines),
        source="service:sla",
    )


# --- follow-ups (客户回访) ----------------------------------------------------------------------


def plan_follow_up(
    *,
    ticket: Ticket | None = None,
    unit: BusinessUnit | None = None,
    customer: Customer | None = None,
    reason: str = FollowUp.Reason.MANUAL,
    actor: Any = None,
    assignee: Any = None,
    due_at: datetime | None = None,
    notes: str = "",
    now: datetime | None = None,
) -> FollowUp:
    """Schedule a call back to the customer, by default one business day from now, for the ticket's
    assignee."""
    now = now or timezone.now()
    unit = ticket.unit if ticket is not None else unit
    _check(unit is not None, _("Say which unit calls back."))
    assert unit is not None
    customer = ticket.customer if ticket is not None else customer
    due_at = due_at or calendar_for(unit).add_business_minutes(now, FOLLOW_UP_MINUTES)
    with transaction.atomic():
        follow_up = FollowUp.objects.create(
            unit=unit,
            ticket=ticket,
            customer=customer,
            assignee=assignee or (ticket.assignee if ticket is not None else None),
            reason=reason,
            due_at=due_at,
            notes=notes.strip(),
            created_at=now,
        )
        if ticket is not None:
            _event(ticket, Kind.FOLLOW_UP, actor=actor, at=now, state="planned", reason=reason)
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=follow_up,
            unit=unit,
            message=phrases.FOLLOW_UP_PLANNED(reason=reason),
        )
    return follow_up


def complete_follow_up(
    follow_up: FollowUp, *, actor: Any, outcome: str, notes: str = "", now: datetime | None = None
) -> FollowUp:
    _check(outcome in FollowUp.Outcome.values, _("Say how the call went."), "outcome")
    _check(follow_up.done_at is None, _("This follow-up is done already."))
    now = now or timezone.now()
    with transaction.atomic():
        follow_up.outcome, follow_up.done_at = outcome, now
        follow_up.notes = "\n".join(part for part in (follow_up.notes, notes.strip()) if part)
        follow_up.save()
        if follow_up.ticket is not None:
            _event(
                follow_up.ticket,
                Kind.FOLLOW_UP,
                actor=actor,
                at=now,
                body=notes.strip(),
                state="done",
                outcome=outcome,
            )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=follow_up,
            unit=follow_up.unit,
            message=phrases.FOLLOW_UP_DONE(outcome=outcome),
        )
    return follow_up


# --- satisfaction surveys ----------------------------------------------------------------------


def survey_token(survey: Survey) -> str:
    return signing.dumps(survey.pk, salt=SURVEY_SALT)


def survey_url(survey: Survey) -> str:
    return settings.GUANXI_PUBLIC_URL.rstrip("/") + reverse(
        "service_public:survey", args=[survey_token(survey)]
    )


def survey_for_token(token: str) -> Survey | None:
    """The survey a link was made for; None for a link we did not sign (tampered or made up)."""
    try:
        pk = signing.loads(token, salt=SURVEY_SALT)
    except signing.BadSignature:
        return None
    return Survey.objects.select_related("unit").filter(pk=pk).first() if isinstance(pk, int) else None


def send_survey(
    *,
    unit: BusinessUnit,
    kind: str,
    customer: Customer | None,
    ticket: Ticket | None = None,
    actor: Any = None,
    round_name: str = "",
    now: datetime | None = None,
) -> Survey:
    """Invite a customer to answer a survey through a signed link, sent through messaging."""
    _check(kind in Survey.Kind.values, _("Choose CSAT or NPS."))
    now = now or timezone.now()
    with transaction.atomic():
        survey = Survey.objects.create(
            unit=unit,
            kind=kind,
            ticket=ticket,
            customer=customer,
            created_at=now,
            expires_at=now + timedelta(days=SURVEY_DAYS),
            round=round_name[:60],
        )
        if customer is not None:
            with translation.override(_language_of(customer)):
                if kind == Survey.Kind.CSAT:
                    text = _(
                        "How satisfied are you with how we handled your request #%(id)s? Tell us here: %(url)s"
                    )
                else:
                    text = _("How likely are you to recommend us to a friend? Tell us here: %(url)s")
                body = text % {"id": ticket.pk if ticket else "", "url": survey_url(survey)}
                subject = _("How did we do?")
            queued = messaging.enqueue_message(
                unit=unit,
                purpose="transactional",
                send_key=f"service-survey-{survey.pk}",
                customer=customer,
                address=ticket.email_address if ticket is not None and ticket.email_address else "",
                channel="email" if ticket is not None and ticket.email_address else messaging.BEST,
                subject=subject,
                body=body,
                source=f"service:survey:{survey.pk}",
            )
            survey.outbox_id = queued.message.pk
            survey.save(update_fields=["outbox_id"])
        if ticket is not None:
            _event(ticket, Kind.SURVEY, actor=actor, at=now, state="sent", survey=survey.pk, survey_kind=kind)
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=survey,
            unit=unit,
            message=phrases.SURVEY_SENT(kind=kind),
        )
    return survey


def _language_of(customer: Customer) -> str:
    """The language a customer reads messages in: their preference, else messaging's default."""
    chosen = (
        ContactPreference.objects.filter(customer=customer, name="language")
        .values_list("value", flat=True)
        .first()
    )
    return chosen or DEFAULT_LANGUAGE


def send_nps(
    unit: BusinessUnit,
    customers: Iterable[Customer],
    *,
    actor: Any,
    round_name: str = "",
    progress: Callable[[int], None] | None = None,
) -> int:
    """An NPS survey to each of the customers (a segment's members, a list); how many were invited. With a
    `round_name`, customers already invited in that round are skipped, so running it again is safe."""
    require_manager(actor, unit)
    invited: set[int] = set()
    if round_name:
        invited = set(
            Survey.objects.filter(unit=unit, round=round_name[:60]).values_list("customer_id", flat=True)
        )
    count = 0
    for customer in customers:
        if customer.pk not in invited:
            send_survey(
                unit=unit, kind=Survey.Kind.NPS, customer=customer, actor=actor, round_name=round_name
            )
            invited.add(customer.pk)
            count += 1
        if progress is not None:
            progress(1)
    return count


class SurveyClosedError(ValidationError):
    """The survey was answered already or its link expired."""


def answer_survey(survey: Survey, *, score: int, comment: str = "", now: datetime | None = None) -> Survey:
    """Record the one answer an invitation takes. A second answer, or one after the link expired, is
    refused; a low score plans a follow-up call."""
    now = now or timezone.now()
    _check(
        0 <= score <= survey.top and (score >= 1 or survey.kind == Survey.Kind.NPS),
        _("Choose a score."),
        "score",
    )
    if survey.expires_at <= now:
        raise SurveyClosedError(_("This survey link has expired."))
    with transaction.atomic():
        taken = Survey.objects.filter(pk=survey.pk, answered_at__isnull=True).update(
            answered_at=now, score=score, comment=comment.strip()[:2000]
        )
        if not taken:
            raise SurveyClosedError(_("This survey has been answered already."))
        survey.refresh_from_db()
        if survey.ticket is not None:
            Ticket.objects.filter(pk=survey.ticket.pk).update(
                satisfaction=score if survey.kind == Survey.Kind.CSAT else None
            )
            _event(
                survey.ticket,
                Kind.SURVEY,
                at=now,
                body=survey.comment,
                state="answered",
                score=score,
                survey_kind=survey.kind,
            )
        low = score <= (LOW_CSAT if survey.kind == Survey.Kind.CSAT else LOW_NPS)
        if low:
            plan_follow_up(
                ticket=survey.ticket,
                unit=survey.unit,
                customer=survey.customer,
                reason=FollowUp.Reason.LOW_SCORE,
                now=now,
            )
    return survey
