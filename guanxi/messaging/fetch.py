"""Reads of the messaging app: a customer's message history, the outbox with its filters, and the
delivery statistics. Every read is scoped through `restrict()`."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from guanxi.messaging import reasons
from guanxi.messaging.addresses import masked
from guanxi.messaging.models import ContactPreference, Medium, Message, Purpose, Suppression

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class MessageView:
    id: int
    created_at: datetime
    started_at: datetime | None
    medium: str
    medium_label: str
    purpose: str
    purpose_label: str
    state: str
    state_label: str
    reason: str
    reason_label: str
    template: str
    template_name: str
    subject: str
    body: str
    address: str  # masked unless the reader may see personal data
    source: str


def view_of(row: Message, user: Any) -> MessageView:
    may_see = user.has_permission("pii.view")
    return MessageView(
        id=row.pk,
        created_at=row.created_at,
        started_at=row.started_at,
        medium=row.medium,
        medium_label=str(Medium(row.medium).label) if row.medium in Medium.values else row.medium,
        purpose=row.purpose,
        purpose_label=str(Purpose(row.purpose).label) if row.purpose in Purpose.values else row.purpose,
        state=row.state,
        state_label=str(Message.State(row.state).label),
        reason=row.reason,
        reason_label=reasons.describe(row.reason) if row.reason else "",
        template=row.template.key if row.template_id and row.template else "",
        template_name=row.template.name if row.template_id and row.template else "",
        subject=row.subject,
        body=row.body if may_see else "",
        address=row.address if may_see else masked(row.medium, row.address),
        source=row.source,
    )


def customer_history(user: Any, customer: Any, limit: int = HISTORY_LIMIT) -> list[MessageView]:
    """The newest messages to `customer` sent by the units `user` may see, newest first (public read
    model for service, sales and marketing pages)."""
    rows = (
        Message.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("template")
        .order_by("-created_at", "-id")[:limit]
    )
    return [view_of(row, user) for row in rows]


@dataclass(frozen=True)
class CustomerMessaging:
    """The 360 page's messages section."""

    history: list[MessageView]
    preferences: dict[str, str]
    suppressions: list[Suppression]
    can_change: bool
    media: list[tuple[str, str]]  # the media a customer can state a preference for or opt out of


def customer_messaging(user: Any, customer: Any) -> CustomerMessaging:
    history = customer_history(user, customer)
    return CustomerMessaging(
        history=history,
        preferences=dict(
            ContactPreference.objects.restrict(user, "view")
            .filter(customer=customer)
            .values_list("name", "value")
        ),
        suppressions=list(Suppression.objects.restrict(user, "view").filter(customer=customer)),
        can_change=user.has_permission("customers.change"),
        media=[(m.value, str(m.label)) for m in (Medium.SMS, Medium.EMAIL, Medium.WECHAT)],
    )


def outbox(user: Any, filters: dict[str, str]) -> QuerySet:
    rows = Message.objects.restrict(user, "view").select_related("template", "channel", "unit")
    for name in ("state", "medium", "purpose", "reason", "unit"):
        value = filters.get(name)
        if value:
            rows = rows.filter(**{name if name != "unit" else "unit_id": value})
    if filters.get("customer"):
        rows = rows.filter(customer_id=filters["customer"])
    return rows


@dataclass(frozen=True)
class DailyFigures:
    days: list[date]
    # medium -> state -> counts per day
    series: dict[str, dict[str, list[int]]]
    totals: dict[str, dict[str, int]]
    reasons: list[tuple[str, str, int]]  # (code, label, count) of held/dropped/failed


def statistics(user: Any, days: int = 30, unit_id: int | None = None) -> DailyFigures:
    """Messages per day (in the install's time zone) and channel, by state, over the last `days` days."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = Message.objects.restrict(user, "view").filter(
        created_at__gte=timezone.make_aware(datetime.combine(first, datetime.min.time()))
    )
    if unit_id:
        rows = rows.filter(unit_id=unit_id)
    per_day = (
        rows.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day", "medium", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    calendar = [first + timedelta(days=offset) for offset in range(days)]
    position = {day: index for index, day in enumerate(calendar)}
    series: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0] * days))
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, medium, state, count in per_day:
        if day in position:
            series[medium][state][position[day]] += count
            totals[medium][state] += count
    by_reason = rows.exclude(reason="").values_list("reason").annotate(n=Count("id")).order_by("-n")
    return DailyFigures(
        days=calendar,
        series={medium: dict(states) for medium, states in series.items()},
        totals={medium: dict(states) for medium, states in totals.items()},
        reasons=[(code, reasons.describe(code), count) for code, count in by_reason],
    )
