"""Reads of the service app, every one scoped through `restrict(user, action)`: the agent's inbox, the
ticket list and its filters, a ticket with its conversation and the customer beside it, the SLA
settings, and the service reports (volume, SLA compliance, per-agent statistics — the seed's
"有效统计每个员工服务客户的状况" — complaint reasons and the satisfaction index)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from guanxi.accounts.models import BusinessUnit, User
from guanxi.commerce.models import Order
from guanxi.core.display import label_of
from guanxi.core.privacy import mask_email, mask_text
from guanxi.customers.references import profile_facts
from guanxi.messaging.fetch import customer_history
from guanxi.service import attachments
from guanxi.service.models import (
    OPEN_STATUSES,
    Attachment,
    ComplaintReason,
    FollowUp,
    Holiday,
    Priority,
    SlaPolicy,
    Status,
    Survey,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketType,
    Transfer,
)

INBOX_ROWS = 15
# Counts in the inbox stop here ("1000+"): an exact count of a large queue costs more than it tells.
COUNT_CAP = 1000
SOON = timedelta(hours=2)
RUNNING = (Status.CREATED, Status.ASSIGNED, Status.IN_PROGRESS)


def tickets(user: Any, action: str = "view") -> QuerySet[Ticket]:
    return Ticket.objects.restrict(user, action)


def access_ticket(user: Any, pk: int, action: str = "view") -> Ticket:
    """The ticket if `user` may act on it, else 404 (another unit's tickets do not exist for them)."""
    ticket = tickets(user, action).select_related("unit", "customer", "assignee").filter(pk=pk).first()
    if ticket is None:
        raise Http404
    return ticket


@dataclass(frozen=True)
class Inbox:
    mine: list[Ticket]
    queue: list[Ticket]
    breaching: list[Ticket]
    mine_count: int
    queue_count: int
    follow_ups: list[FollowUp]
    transfers: list[Transfer]


def inbox(user: Any, now: datetime | None = None) -> Inbox:
    """The agent's desk: their open tickets (most urgent deadline first), the unassigned queue of their
    units (oldest first), the running tickets whose deadline passes within two hours and has not been
    breached yet (breached ones are in the ticket list's "SLA breached" filter), their follow-up calls
    due, and transfers waiting for a decision."""
    now = now or timezone.now()
    visible = tickets(user).select_related("assignee", "unit")
    mine = visible.filter(assignee=user, status__in=OPEN_STATUSES)
    queue = visible.filter(assignee__isnull=True, status=Status.CREATED)
    soon = now + SOON
    # Each clock read through its own partial index (running, not yet breached), merged here.
    running = visible.filter(status__in=RUNNING)
    first = running.filter(
        first_response_at__isnull=True, first_response_breached_at__isnull=True, first_response_due__lte=soon
    ).order_by("first_response_due", "pk")[:INBOX_ROWS]
    resolution = running.filter(
        resolved_at__isnull=True, resolution_breached_at__isnull=True, resolution_due__lte=soon
    ).order_by("resolution_due", "pk")[:INBOX_ROWS]
    merged = {t.pk: t for t in [*first, *resolution]}
    breaching = sorted(merged.values(), key=lambda t: (t.next_due or soon, t.pk))[:INBOX_ROWS]
    return Inbox(
        mine=list(mine.order_by("resolution_due", "pk")[:INBOX_ROWS]),
        queue=list(queue.order_by("created_at", "pk")[:INBOX_ROWS]),
        breaching=breaching,
        mine_count=mine.order_by()[:COUNT_CAP].count(),
        queue_count=queue.order_by()[:COUNT_CAP].count(),
        follow_ups=list(
            FollowUp.objects.restrict(user, "view")
            .filter(done_at__isnull=True)
            .filter(Q(assignee=user) | Q(assignee__isnull=True))
            .select_related("ticket")
            .order_by("due_at", "pk")[:INBOX_ROWS]
        ),
        transfers=list(
            Transfer.objects.restrict(user, "view")
            .filter(state=Transfer.State.PENDING)
            .select_related("ticket", "from_unit", "to_unit")[:INBOX_ROWS]
        ),
    )


@dataclass(frozen=True)
class TicketFilters:
    status: str = ""
    ticket_type: str = ""
    priority: str = ""
    channel: str = ""
    assignee: str = ""  # a user id, "me" or "none"
    customer: int | None = None
    unit: int | None = None
    breached: bool = False
    q: str = ""


def ticket_list(user: Any, filters: TicketFilters) -> QuerySet[Ticket]:
    rows = tickets(user).select_related("assignee", "unit", "customer")
    if filters.status == "open":
        rows = rows.filter(status__in=OPEN_STATUSES)
    elif filters.status in Status.values:
        rows = rows.filter(status=filters.status)
    if filters.ticket_type in TicketType.values:
        rows = rows.filter(ticket_type=filters.ticket_type)
    if filters.priority in Priority.values:
        rows = rows.filter(priority=filters.priority)
    if filters.channel in TicketChannel.values:
        rows = rows.filter(channel=filters.channel)
    if filters.assignee == "me":
        rows = rows.filter(assignee=user)
    elif filters.assignee == "none":
        rows = rows.filter(assignee__isnull=True)
    elif filters.assignee.isdigit():
        rows = rows.filter(assignee_id=int(filters.assignee))
    if filters.customer is not None:
        rows = rows.filter(customer_id=filters.customer)
    if filters.unit is not None:
        rows = rows.filter(unit_id=filters.unit)
    if filters.breached:
        rows = rows.filter(
            Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)
        )
    text = filters.q.strip()
    if text:
        rows = (
            rows.filter(pk=int(text.lstrip("#")))
            if text.lstrip("#").isdigit()
            else rows.filter(subject__icontains=text)
        )
    return rows


# --- one ticket --------------------------------------------------------------------------------


def describe_event(event: TicketEvent) -> str:
    """What an entry of the history says, in the reader's language (what a person wrote is shown as is)."""
    data = event.data or {}
    kind = event.kind
    if kind in (TicketEvent.Kind.INBOUND, TicketEvent.Kind.REPLY, TicketEvent.Kind.NOTE):
        return event.body
    if kind == TicketEvent.Kind.CREATED:
        return gettext("Ticket opened (%(type)s, by %(channel)s)") % {
            "type": label_of(TicketType, data.get("type")),
            "channel": label_of(TicketChannel, data.get("channel")),
        }
    if kind == TicketEvent.Kind.ASSIGNED:
        if not data.get("user"):
            return gettext("Put back in the queue")
        return gettext("Assigned to %(name)s") % {"name": data.get("name") or f"#{data['user']}"}
    if kind == TicketEvent.Kind.STATUS:
        text = gettext("%(old)s → %(new)s") % {
            "old": label_of(Status, data.get("old")),
            "new": label_of(Status, data.get("new")),
        }
        return f"{text}: {event.body}" if event.body else text
    if kind == TicketEvent.Kind.TRANSFER:
        texts = {
            "requested": gettext("Transfer to %(unit)s requested"),
            "done": gettext("Transferred to %(unit)s"),
            "rejected": gettext("Transfer to %(unit)s rejected"),
        }
        text = texts.get(data.get("state", ""), gettext("Transfer to %(unit)s")) % {
            "unit": data.get("target", "")
        }
        return f"{text}: {event.body}" if event.body else text
    if kind in (TicketEvent.Kind.SLA_WARNING, TicketEvent.Kind.SLA_BREACH):
        clock = gettext("first response") if data.get("clock") == "first_response" else gettext("resolution")
        template = (
            gettext("SLA breached: the %(clock)s deadline passed")
            if kind == TicketEvent.Kind.SLA_BREACH
            else gettext("SLA at risk: the %(clock)s deadline is near")
        )
        return template % {"clock": clock}
    if kind == TicketEvent.Kind.SURVEY:
        if data.get("state") == "answered":
            text = gettext("Survey answered: %(score)s of %(top)s") % {
                "score": data.get("score"),
                "top": 5 if data.get("survey_kind") == Survey.Kind.CSAT else 10,
            }
            return f"{text} — {event.body}" if event.body else text
        return gettext("%(kind)s survey sent") % {"kind": label_of(Survey.Kind, data.get("survey_kind"))}
    if kind == TicketEvent.Kind.FOLLOW_UP:
        if data.get("state") == "done":
            text = gettext("Follow-up call: %(outcome)s") % {
                "outcome": label_of(FollowUp.Outcome, data.get("outcome"))
            }
            return f"{text} — {event.body}" if event.body else text
        return gettext("Follow-up call planned (%(reason)s)") % {
            "reason": label_of(FollowUp.Reason, data.get("reason"))
        }
    return label_of(TicketEvent.Kind, kind)


@dataclass(frozen=True)
class EventView:
    id: int
    kind: str
    kind_label: str
    actor: str
    actor_id: int | None
    text: str
    created_at: datetime
    is_message: bool
    files: list[Attachment] = field(default_factory=list)
    refused_files: list[str] = field(default_factory=list)


def conversation(ticket: Ticket) -> list[EventView]:
    events = (
        TicketEvent.objects.filter(ticket=ticket)
        .select_related("actor")
        .prefetch_related("attachments")
        .order_by("created_at", "pk")
    )
    return [
        EventView(
            id=event.pk,
            kind=event.kind,
            kind_label=label_of(TicketEvent.Kind, event.kind),
            actor=event.actor.shown_name if event.actor else "",
            actor_id=event.actor_id,
            text=describe_event(event),
            created_at=event.created_at,
            is_message=event.kind
            in (TicketEvent.Kind.INBOUND, TicketEvent.Kind.REPLY, TicketEvent.Kind.NOTE),
            files=list(event.attachments.all()),
            refused_files=[
                attachments.describe(item.get("name", ""), item.get("reason", "type"))
                for item in (event.data or {}).get("refused_files", [])
            ],
        )
        for event in events
    ]


@dataclass(frozen=True)
class CustomerSummary:
    """The customer beside the ticket: who they are, their latest orders and messages in the reader's units."""

    name: str
    customer_id: int | None
    email: str
    orders: list[Order] = field(default_factory=list)
    ticket_orders: list[Order] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)
    open_tickets: int = 0
    csat: float | None = None
    # What other apps say of the customer through the registry (tier and points, sales owner…).
    facts: list[tuple[Any, str]] = field(default_factory=list)


def customer_summary(user: Any, ticket: Ticket) -> CustomerSummary:
    may_see = user.has_permission("pii.view")
    email = (
        ticket.email_address if may_see else mask_email(ticket.email_address) if ticket.email_address else ""
    )
    ticket_orders = list(
        Order.objects.restrict(user, "view").filter(pk__in=ticket.order_links.values("order_id"))
    )
    customer = ticket.customer
    if customer is None:
        return CustomerSummary(name="", customer_id=None, email=email, ticket_orders=ticket_orders)
    name = customer.name or ""
    from guanxi.service.customer_parts import fetch_customer_service

    service = fetch_customer_service(user, customer)
    return CustomerSummary(
        name=name if may_see else mask_text(name),
        customer_id=customer.pk,
        email=email,
        orders=list(
            Order.objects.restrict(user, "view").filter(customer=customer).order_by("-placed_at", "-pk")[:5]
        ),
        ticket_orders=ticket_orders,
        messages=customer_history(user, customer, limit=5),
        open_tickets=service.open_count,
        csat=service.csat,
        facts=profile_facts(user, customer),
    )


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    ticket_type: str
    priority: str
    first_response_minutes: int
    resolution_minutes: int
    is_default: bool

    @property
    def type_label(self) -> str:
        return label_of(TicketType, self.ticket_type)

    @property
    def priority_label(self) -> str:
        return label_of(Priority, self.priority)


def policies(unit: BusinessUnit) -> list[PolicyRow]:
    from guanxi.service.actions import DEFAULT_TARGETS

    own = {(p.ticket_type, p.priority): p for p in SlaPolicy.objects.filter(unit=unit)}
    rows = []
    for ticket_type in TicketType.values:
        for priority in Priority.values:
            policy = own.get((ticket_type, priority))
            first, resolution = (
                (policy.first_response_minutes, policy.resolution_minutes)
                if policy
                else DEFAULT_TARGETS[priority]
            )
            rows.append(PolicyRow(ticket_type, priority, first, resolution, policy is None))
    return rows


def calendar_days(unit: BusinessUnit, year: int | None = None) -> list[Holiday]:
    rows = Holiday.objects.filter(unit=unit)
    if year is not None:
        rows = rows.filter(day__year=year)
    return list(rows.order_by("day"))


# --- reports -----------------------------------------------------------------------------------


def _share(met: int, total: int) -> float | None:
    return round(100 * met / total, 1) if total else None


def report(user: Any, *, unit_id: int | None = None, since: datetime, until: datetime) -> dict[str, Any]:
    """Service figures for the tickets opened in [since, until) that `user` may see."""
    rows = tickets(user).filter(created_at__gte=since, created_at__lt=until)
    if unit_id is not None:
        rows = rows.filter(unit_id=unit_id)
    volume_by_type = dict(
        rows.values_list("ticket_type").annotate(n=Count("id")).values_list("ticket_type", "n")
    )
    volume_by_channel = dict(rows.values_list("channel").annotate(n=Count("id")).values_list("channel", "n"))
    reasons = dict(
        rows.filter(ticket_type=TicketType.COMPLAINT)
        .exclude(complaint_reason="")
        .values_list("complaint_reason")
        .annotate(n=Count("id"))
        .values_list("complaint_reason", "n")
    )
    responded = rows.filter(first_response_at__isnull=False)
    resolved = rows.filter(resolved_at__isnull=False)
    first_met = responded.filter(first_response_at__lte=F("first_response_due")).count()
    resolution_met = resolved.filter(resolved_at__lte=F("resolution_due")).count()
    return {
        "volume_by_type": {key: volume_by_type.get(key, 0) for key in TicketType.values},
        "volume_by_channel": {key: volume_by_channel.get(key, 0) for key in TicketChannel.values},
        "complaint_reasons": {key: reasons.get(key, 0) for key in ComplaintReason.values},
        "first_response_met": _share(first_met, responded.count()),
        "resolution_met": _share(resolution_met, resolved.count()),
        "agents": agent_statistics(rows),
        "satisfaction_index": satisfaction_index(user, unit_id=unit_id, since=since, until=until),
    }


def agent_statistics(rows: QuerySet[Ticket]) -> list[dict[str, Any]]:
    """Per agent: tickets assigned, still open, resolved, first responses and resolutions within the SLA
    (percent of those done), the average minutes to the first response, and their average CSAT."""
    figures = (
        rows.filter(assignee__isnull=False)
        .values("assignee")
        .annotate(
            assigned=Count("id"),
            open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
            resolved=Count("id", filter=Q(resolved_at__isnull=False)),
            responded=Count("id", filter=Q(first_response_at__isnull=False)),
            first_met=Count("id", filter=Q(first_response_at__lte=F("first_response_due"))),
            resolution_met=Count("id", filter=Q(resolved_at__lte=F("resolution_due"))),
            csat=Avg("satisfaction"),
        )
        .order_by("assignee")
    )
    found = list(figures)
    people = {u.pk: u.shown_name for u in User.objects.filter(pk__in=[f["assignee"] for f in found])}
    response_minutes: dict[int, list[float]] = {}
    for assignee, created, first in rows.filter(
        assignee__isnull=False, first_response_at__isnull=False
    ).values_list("assignee", "created_at", "first_response_at"):
        if first is not None:
            response_minutes.setdefault(assignee, []).append((first - created).total_seconds() / 60)
    out = []
    for f in found:
        minutes = response_minutes.get(f["assignee"], [])
        out.append(
            {
                "user_id": f["assignee"],
                "name": people.get(f["assignee"], ""),
                "assigned": f["assigned"],
                "open": f["open"],
                "resolved": f["resolved"],
                "first_response_met": _share(f["first_met"], f["responded"]),
                "resolution_met": _share(f["resolution_met"], f["resolved"]),
                "avg_first_response_minutes": round(sum(minutes) / len(minutes), 1) if minutes else None,
                "csat": round(float(f["csat"]), 2) if f["csat"] is not None else None,
            }
        )
    return out


def satisfaction_index(
    user: Any, *, unit_id: int | None = None, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The satisfaction index per month, as the seed measures it (客户的总体满意度水平, e.g. 83%): the
    share of CSAT answers that are satisfied (4 or 5 of 5), with the average score, and the NPS
    (promoters 9–10 minus detractors 0–6, in points) of the month's NPS answers."""
    answered = Survey.objects.restrict(user, "view").filter(
        answered_at__gte=since, answered_at__lt=until, score__isnull=False
    )
    if unit_id is not None:
        answered = answered.filter(unit_id=unit_id)
    monthly = (
        answered.annotate(month=TruncMonth("answered_at"))
        .values("month", "kind")
        .annotate(
            n=Count("id"),
            satisfied=Count("id", filter=Q(score__gte=4)),
            promoters=Count("id", filter=Q(score__gte=9)),
            detractors=Count("id", filter=Q(score__lte=6)),
            avg=Avg("score"),
        )
        .order_by("month")
    )
    points: dict[str, dict[str, Any]] = {}
    for row in monthly:
        month = row["month"].strftime("%Y-%m")
        point = points.setdefault(
            month, {"month": month, "answers": 0, "index": None, "average": None, "nps": None}
        )
        if row["kind"] == Survey.Kind.CSAT:
            point["answers"] += row["n"]
            point["index"] = _share(row["satisfied"], row["n"])
            point["average"] = round(float(row["avg"]), 2)
        else:
            point["nps"] = round(100 * (row["promoters"] - row["detractors"]) / row["n"], 1)
    return list(points.values())
