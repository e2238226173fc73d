"""A customer's timeline: stored TimelineEvent rows merged with the items of registered sources (orders
and returns), scoped per user.

Events are written by actions (`record_event`, inside the action's transaction). Summaries are
rendered at read time from the event's kind and data so they follow the reader's language; the
stored `summary` is the fallback for kinds this module does not describe.
"""

from dataclasses import dataclass, field
from datetime import datetime
from heapq import merge
from typing import Any, cast

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext

from guanxi.core.display import label_of
from guanxi.customers.changes import note_changed
from guanxi.customers.models import Consent, ConsentChannel, Customer, TimelineEvent
from guanxi.customers.references import timeline_sources

DEFAULT_LIMIT = 200


@dataclass(frozen=True)
class TimelineItem:
    occurred_at: datetime
    kind: str
    summary: str
    unit_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    source_type: str = ""
    source_id: str = ""


def record_event(customer: Customer | int, kind: str, summary: str, **fields: Any) -> TimelineEvent:
    """Append one event (`fields` as for `event_for`). Call inside the writing action's transaction;
    never pass raw PII in summary or data."""
    event = event_for(customer, kind, summary, **fields)
    event.save()
    note_changed([event.customer_id])  # whatever reaches the timeline may change segment membership
    return event


def record_events(events: list[TimelineEvent]) -> None:
    """Append events made by `event_for` in a few statements, for actions on thousands of customers."""
    TimelineEvent.objects.bulk_create(events, batch_size=1000)
    note_changed(event.customer_id for event in events)


def event_for(
    customer: Customer | int,
    kind: str,
    summary: str,
    *,
    data: dict[str, Any] | None = None,
    unit: Any = None,
    actor: Any = None,
    source: Any = None,
    occurred_at: datetime | None = None,
) -> TimelineEvent:
    """The event `record_event` would write, unsaved."""
    extra: dict[str, Any] = {}
    if occurred_at is not None:
        extra["occurred_at"] = occurred_at
    if source is not None:
        extra["source_type"] = f"{source._meta.app_label}.{source._meta.model_name}"
        extra["source_id"] = str(source.pk)
    return TimelineEvent(
        customer_id=customer if isinstance(customer, int) else customer.pk,
        unit=unit,
        kind=kind,
        summary=str(summary)[:300],
        data=data or {},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        **extra,
    )


def describe(kind: str, data: dict[str, Any], fallback: str = "") -> str:
    """The summary of an event in the active language."""
    if kind == TimelineEvent.Kind.ORDER_PLACED and "number" in data:
        return gettext("Order %(number)s placed in %(store)s: %(total)s %(currency)s (%(status)s)") % data
    if kind == TimelineEvent.Kind.RETURN_RECORDED and "number" in data:
        return gettext("Return %(number)s in %(store)s: %(amount)s %(currency)s") % data
    if kind == TimelineEvent.Kind.MERGED and "absorbed" in data:
        if data.get("role") == "absorbed":
            return gettext("Merged into customer #%(survivor)s") % data
        return gettext("Customer #%(absorbed)s merged into this profile") % data
    if kind == TimelineEvent.Kind.UNMERGED and "absorbed" in data:
        if data.get("role") == "absorbed":
            return gettext("Split back out of customer #%(survivor)s") % data
        return gettext("Customer #%(absorbed)s split back out of this profile") % data
    if kind == TimelineEvent.Kind.TAG_ADDED and "tag" in data:
        return gettext("Tag “%(tag)s” added") % data
    if kind == TimelineEvent.Kind.TAG_REMOVED and "tag" in data:
        return gettext("Tag “%(tag)s” removed") % data
    if kind == TimelineEvent.Kind.NOTE_ADDED:
        return gettext("Note added")
    if kind == TimelineEvent.Kind.CONSENT_CHANGED and "channel" in data:
        return gettext("Consent for %(channel)s: %(state)s (%(method)s)") % {
            "channel": label_of(ConsentChannel, data["channel"]),
            "state": label_of(Consent.State, data.get("state")),
            "method": label_of(Consent.Method, data.get("method")),
        }
    if kind == TimelineEvent.Kind.PROFILE_UPDATED and "fields" in data:
        return gettext("Profile updated: %(fields)s") % {
            "fields": ", ".join(map(_field_name, data["fields"]))
        }
    if kind == TimelineEvent.Kind.CUSTOM_FIELD_CHANGED and "field" in data:
        return gettext("Custom field “%(field)s” changed") % data
    if kind == TimelineEvent.Kind.ADDRESS_CHANGED:
        return gettext("Address added") if data.get("created") else gettext("Address changed")
    return fallback


def _field_name(name: str) -> str:
    try:
        return str(cast(models.Field, Customer._meta.get_field(name)).verbose_name)
    except FieldDoesNotExist:
        return name


def customer_timeline(customer: Customer, user: Any, limit: int = DEFAULT_LIMIT) -> list[TimelineItem]:
    """The newest `limit` items about the customer that `user` may see, newest first.

    Stored events and the items of every registered source (orders and returns, from commerce), each
    scoped by its owner: a unit user sees events of their units and unit-less (organisation-wide)
    events, and only their units' orders and returns; a customer they cannot see has an empty timeline.
    """
    if not Customer.objects.restrict(user, "view").filter(pk=customer.pk).exists():
        return []
    sourced = [source(customer, user, limit) for source in timeline_sources()]
    # An importer may also have written an event about a record a source shows; the source's item,
    # read from the record itself, is the richer one.
    shown = {(item.source_type, item.source_id, item.kind) for items in sourced for item in items}
    events = (
        TimelineEvent.objects.restrict(user, "view")
        .filter(customer=customer)
        .order_by("-occurred_at", "-id")[:limit]
    )
    event_items = [
        _event_item(event)
        for event in events
        if not event.source_type or (event.source_type, event.source_id, event.kind) not in shown
    ]
    merged = merge(*sourced, event_items, key=lambda item: item.occurred_at, reverse=True)
    return list(merged)[:limit]


def _event_item(event: TimelineEvent) -> TimelineItem:
    return TimelineItem(
        occurred_at=event.occurred_at,
        kind=event.kind,
        summary=describe(event.kind, event.data, event.summary),
        unit_id=event.unit_id,
        data=event.data,
        source_type=event.source_type,
        source_id=event.source_id,
    )
