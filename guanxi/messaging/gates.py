"""The gates a message passes at send time, for a whole batch at once.

In order: expiry, suppression (an opt-out stops marketing; a bounce, complaint or erasure stops
everything), consent evidence for the medium (marketing only: China's rules make "no reply" a refusal,
so no evidence is no consent), quiet hours (marketing only; held until the window ends in the recipient's
time zone) and one frequency budget per customer across every channel and unit (marketing only; counted
per calendar day and ISO week in the recipient's time zone). Transactional messages skip the budget
and quiet hours, never suppression.

Time zones and calendar days are exact under DST: an instant belongs to the local day
`instant.astimezone(zone).date()`, and a window ends at the first instant after it that is not quiet.
`evaluate()` reads everything for a batch in a handful of queries; the caller holds the customers'
row locks, so an opt-out or a concurrent send for the same customer is either seen or waits.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.db.models import QuerySet
from phonenumbers import timezone as phone_zones

from guanxi.accounts.models import BusinessUnit
from guanxi.customers.models import Consent, ConsentChannel
from guanxi.messaging.models import (
    ContactPreference,
    Medium,
    Message,
    MessagingPolicy,
    Purpose,
    Suppression,
)

CONSENT_CHANNEL = {
    Medium.SMS: ConsentChannel.SMS,
    Medium.EMAIL: ConsentChannel.EMAIL,
    Medium.WECHAT: ConsentChannel.WECHAT,
    Medium.WECOM: ConsentChannel.WECHAT,
}
BUDGET_LOOKBACK = timedelta(days=9)  # a local ISO week, whatever the zone's offset


@dataclass(frozen=True)
class Policy:
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    quiet_weekdays: frozenset[int] = frozenset()
    daily_cap: int = 2
    weekly_cap: int = 5
    consent_max_age: timedelta | None = None
    sms_signature: str = ""
    time_zone: str = "Asia/Shanghai"

    @classmethod
    def of(cls, row: MessagingPolicy | None, unit: BusinessUnit) -> "Policy":
        if row is None:
            return cls(time_zone=unit.time_zone)
        return cls(
            quiet_start=row.quiet_start,
            quiet_end=row.quiet_end,
            quiet_weekdays=frozenset(row.quiet_weekdays or ()),
            daily_cap=row.daily_cap,
            weekly_cap=row.weekly_cap,
            consent_max_age=timedelta(days=row.consent_max_age_days) if row.consent_max_age_days else None,
            sms_signature=row.sms_signature,
            time_zone=unit.time_zone,
        )


def policies(unit_ids: Iterable[int]) -> dict[int, Policy]:
    units = BusinessUnit.objects.in_bulk(set(unit_ids))
    rows = {row.unit_id: row for row in MessagingPolicy.objects.filter(unit_id__in=units)}
    return {pk: Policy.of(rows.get(pk), unit) for pk, unit in units.items()}


@cache
def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def is_quiet(local: datetime, policy: Policy) -> bool:
    if local.isoweekday() in policy.quiet_weekdays:
        return True
    start, end, now = policy.quiet_start, policy.quiet_end, local.time()
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def quiet_until(now: datetime, zone: ZoneInfo, policy: Policy) -> datetime | None:
    """When the quiet window around `now` ends (the first instant after it that is not quiet), or None
    when `now` is not quiet in `zone`."""
    if not is_quiet(now.astimezone(zone), policy):
        return None
    today = now.astimezone(zone).date()
    candidates = []
    for days in range(0, 9):
        day = today + timedelta(days=days)
        for wall in (policy.quiet_end, time(0)):
            # A wall time a DST jump skips resolves to the instant after the jump.
            instant = datetime.combine(day, wall, tzinfo=zone).astimezone(UTC).astimezone(zone)
            if instant > now and not is_quiet(instant, policy):
                candidates.append(instant)
        if candidates:
            return min(candidates).astimezone(UTC)
    return now + timedelta(days=1)  # every day is quiet: look again tomorrow


def budget_reason(sent: Iterable[datetime], now: datetime, zone: ZoneInfo, policy: Policy) -> str:
    """ "frequency_cap_day"/"frequency_cap_week" when one more marketing message would exceed the budget
    in the recipient's local calendar day or ISO week; "" when it fits."""
    local_now = now.astimezone(zone)
    today, week = local_now.date(), local_now.isocalendar()[:2]
    days = weeks = 0
    for instant in sent:
        local = instant.astimezone(zone)
        days += local.date() == today
        weeks += local.isocalendar()[:2] == week
    if days >= policy.daily_cap:
        return "frequency_cap_day"
    if weeks >= policy.weekly_cap:
        return "frequency_cap_week"
    return ""


@dataclass
class Decision:
    action: str  # "send", "hold", "drop"
    reason: str = ""
    until: datetime | None = None
    time_zone: str = ""


@dataclass
class BatchFacts:
    """What the gates need about a batch's recipients, read in a few queries."""

    policies: dict[int, Policy]
    consent: dict[tuple[int, str], tuple[str, datetime]] = field(
        default_factory=dict
    )  # -> (state, recorded at)
    suppressed: dict[tuple[str, str], str] = field(default_factory=dict)  # (medium, hash) -> scope:reason
    sent: dict[int, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    zones: dict[int, str] = field(default_factory=dict)


# What the gates read of a message: a gate pass over a large queue loads only this.
GATE_FIELDS = ("id", "unit_id", "customer_id", "medium", "purpose", "address", "address_hash", "expires_at")


class GateRow(NamedTuple):
    """A message as the gates see it (a Message works as well)."""

    pk: int
    unit_id: int
    customer_id: int | None
    medium: str
    purpose: str
    address: str
    address_hash: str
    expires_at: datetime | None


def gather(rows: list[Any], now: datetime, batch: QuerySet | None = None) -> BatchFacts:
    """Read what the gates need about `rows`. `batch` is a queryset of the same rows (the claim, a pk
    range): the reads then select by sub-query instead of sending every id as a parameter."""
    batch = batch if batch is not None else Message.objects.filter(pk__in=[row.pk for row in rows])
    facts = BatchFacts(policies=policies({row.unit_id for row in rows}))
    if any(row.purpose == Purpose.MARKETING and row.customer_id for row in rows):
        marketing: Any = batch.filter(purpose=Purpose.MARKETING, customer__isnull=False).values("customer_id")
        consent_rows = Consent.objects.filter(customer_id__in=marketing, recorded_at__lte=now).order_by(
            "customer_id", "channel", "-recorded_at", "-id"
        )
        for customer_id, channel, state, recorded_at in consent_rows.values_list(
            "customer_id", "channel", "state", "recorded_at"
        ):
            facts.consent.setdefault((customer_id, channel), (state, recorded_at))
        attempted = Message.objects.filter(
            customer_id__in=marketing,
            purpose=Purpose.MARKETING,
            state__in=Message.ATTEMPTED_STATES,
            started_at__gte=now - BUDGET_LOOKBACK,
        ).values_list("customer_id", "started_at")
        for customer_id, started_at in attempted:
            if started_at is not None:
                facts.sent[customer_id].append(started_at)
    suppressed = Suppression.objects.filter(
        address_hash__in=batch.exclude(address_hash="").values("address_hash")
    )
    for medium, address_hash, scope, reason in suppressed.values_list(
        "medium", "address_hash", "scope", "reason"
    ):
        facts.suppressed[(medium, address_hash)] = f"{scope}:{reason}"
    facts.zones = dict(
        ContactPreference.objects.filter(
            customer_id__in=cast(Any, batch.filter(customer__isnull=False).values("customer_id")),
            name=ContactPreference.Name.TIME_ZONE,
        ).values_list("customer_id", "value")
    )
    return facts


def recipient_zone(row: Any, facts: BatchFacts) -> str:
    """The customer's stated zone, else the one their mobile number's region has, else the unit's."""
    if row.customer_id and row.customer_id in facts.zones:
        return facts.zones[row.customer_id]
    if row.medium == Medium.SMS and row.address:
        # The zone hangs on the country and area prefix; the first number with a prefix answers for
        # all of them (parsing each of a million numbers would cost more than every other gate).
        zones = _phone_zones(row.address[:8], row.address)
        if len(zones) == 1:
            return zones[0]
    return facts.policies[row.unit_id].time_zone


_zones_by_prefix: dict[str, tuple[str, ...]] = {}


def _phone_zones(prefix: str, address: str) -> tuple[str, ...]:
    if prefix not in _zones_by_prefix:
        _zones_by_prefix[prefix] = _parse_zones(address)
    return _zones_by_prefix[prefix]


def _parse_zones(address: str) -> tuple[str, ...]:
    try:
        zones = phone_zones.time_zones_for_number(phonenumbers.parse(address))
    except phonenumbers.NumberParseException:
        return ()
    return tuple(zone for zone in zones if zone != "Etc/Unknown")


def permission_reason(row: Any, facts: BatchFacts, now: datetime) -> str:
    """Suppression and consent: the gates no message skips (consent for marketing only)."""
    suppressed = facts.suppressed.get((row.medium, row.address_hash))
    if suppressed:
        scope, reason = suppressed.split(":")
        if scope == Suppression.Scope.ALL or row.purpose == Purpose.MARKETING:
            return f"suppressed_{reason}"
    if row.purpose != Purpose.MARKETING or not row.customer_id:
        return ""
    consent = facts.consent.get((row.customer_id, CONSENT_CHANNEL.get(row.medium, "")))
    if consent is None:
        return "no_consent"
    state, recorded_at = consent
    if state != Consent.State.GRANTED:
        return "consent_withdrawn"
    max_age = facts.policies[row.unit_id].consent_max_age
    if max_age is not None and recorded_at < now - max_age:
        return "consent_expired"
    return ""


def evaluate(rows: list[Any], facts: BatchFacts, now: datetime) -> dict[int, Decision]:
    """A decision per message of the batch, in id order so earlier messages use the budget first.
    Quiet hours depend only on the zone and the policy at `now`, so they are worked out once per pair."""
    decisions: dict[int, Decision] = {}
    quiet: dict[tuple[str, int], tuple[datetime | None, bool]] = {}
    for row in sorted(rows, key=lambda message: message.pk):
        zone_name = recipient_zone(row, facts)
        decision = Decision("send", time_zone=zone_name)
        decisions[row.pk] = decision
        if row.expires_at is not None and row.expires_at <= now:
            decision.action, decision.reason = "drop", "expired"
            continue
        if reason := permission_reason(row, facts, now):
            decision.action, decision.reason = "drop", reason
            continue
        if row.purpose != Purpose.MARKETING or not row.customer_id:
            continue
        policy, zone = facts.policies[row.unit_id], zone_of(zone_name)
        key = (zone_name, row.unit_id)
        if key not in quiet:
            quiet[key] = (
                quiet_until(now, zone, policy),
                now.astimezone(zone).isoweekday() in policy.quiet_weekdays,
            )
        until, quiet_day = quiet[key]
        if until is not None:
            decision.action, decision.reason, decision.until = (
                "hold",
                "quiet_day" if quiet_day else "quiet_hours",
                until,
            )
            continue
        sent = facts.sent[row.customer_id]
        if sent and (reason := budget_reason(sent, now, zone, policy)):
            decision.action, decision.reason = "drop", reason
            continue
        if policy.daily_cap == 0 or policy.weekly_cap == 0:
            decision.action, decision.reason = (
                "drop",
                "frequency_cap_day" if policy.daily_cap == 0 else "frequency_cap_week",
            )
            continue
        sent.append(now)  # the next message of this batch sees this one
    return decisions
