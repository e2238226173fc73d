"""The naive outbox worker the benchmark measures ours against: for each message, query its gates one
by one, send, update the row. Correct for a single worker, and what most first versions look like."""

from datetime import datetime, timedelta

from django.utils import timezone

from guanxi.customers.models import Consent
from guanxi.messaging import gates
from guanxi.messaging.models import Message, MessagingPolicy, Suppression
from guanxi.messaging.sending import adapter, outgoing


def naive_decision(row: Message, now: datetime) -> str:
    customer = row.customer_id or 0
    """The gates for one message, a query each: "" to send, else the reason."""
    if Suppression.objects.filter(medium=row.medium, address_hash=row.address_hash).exists():
        return "suppressed"
    consent = (
        Consent.objects.filter(customer_id=customer, channel=row.medium)
        .order_by("-recorded_at", "-id")
        .first()
    )
    if consent is None or consent.state != Consent.State.GRANTED:
        return "no_consent"
    policy = MessagingPolicy.objects.filter(unit_id=row.unit_id).first()
    zone = gates.zone_of(row.time_zone or "Asia/Shanghai")
    local = now.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today = Message.objects.filter(
        customer_id=customer,
        purpose="marketing",
        state__in=Message.ATTEMPTED_STATES,
        started_at__gte=day_start,
    ).count()
    sent_week = Message.objects.filter(
        customer_id=customer,
        purpose="marketing",
        state__in=Message.ATTEMPTED_STATES,
        started_at__gte=day_start - timedelta(days=local.weekday()),
    ).count()
    if policy and (sent_today >= policy.daily_cap or sent_week >= policy.weekly_cap):
        return "capped"
    return ""


def naive_send_loop(worker: int, workers: int) -> None:
    """Send the queued messages whose id falls to this worker (id modulo workers), one at a time."""
    for pk in Message.objects.filter(state="queued").order_by("pk").values_list("pk", flat=True):
        if pk % workers != worker:
            continue
        row = Message.objects.select_related("channel", "template_version").get(pk=pk)
        now = timezone.now()
        if naive_decision(row, now):
            Message.objects.filter(pk=pk).update(state="dropped")
            continue
        Message.objects.filter(pk=pk).update(state="sending", started_at=now)
        assert row.channel is not None
        result = adapter(row.channel).send(outgoing(row))
        Message.objects.filter(pk=pk).update(
            state="sent", sent_at=timezone.now(), provider_message_id=result.provider_id
        )
