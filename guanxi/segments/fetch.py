"""Read models of segments for pages, endpoints and exports."""

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.utils.translation import gettext as _

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.models import CustomerMetric, LifecycleStage, RfmSegment
from guanxi.core import exports
from guanxi.core.privacy import mask_value
from guanxi.customers.models import Consent, ConsentChannel, Gender, Identity
from guanxi.segments.actions import current_members
from guanxi.segments.models import Segment

# Members are read in chunks: a segment may hold hundreds of thousands of customers, and one IN list
# per chunk keeps every query within SQLite's parameter limit.
EXPORT_CHUNK = 2000
CONTACT_KINDS = (Identity.Kind.PHONE, Identity.Kind.EMAIL, Identity.Kind.WECHAT_UNIONID)
CONSENT_CHANNELS = (ConsentChannel.SMS, ConsentChannel.EMAIL, ConsentChannel.WECHAT)


def members_table(user, segment: Segment) -> exports.Table:
    """The segment's members as a contact list: who, how to reach them, whether they agreed, and their
    figures in the segment's scope. Contacts and names are masked without the PII permission."""
    masked = not user.has_permission("pii.view")
    scope = _metric_scope(user, segment)
    scope_name = scope.name if isinstance(scope, BusinessUnit) else _("all units")
    columns = (
        _("Customer"),
        _("Name"),
        _("Phone"),
        _("Email"),
        _("WeChat unionid"),
        _("Gender"),
        _("Province"),
        _("City"),
        *(_("Consent: %(channel)s") % {"channel": channel.label} for channel in CONSENT_CHANNELS),
        *(
            f"{label} ({scope_name})"
            for label in (
                _("Orders"),
                _("Total spend"),
                _("Last order"),
                _("RFM segment"),
                _("Lifecycle stage"),
                _("Predicted CLV"),
            )
        ),
        _("Entered"),
    )
    members = (
        current_members(user, segment)
        .order_by("customer_id")
        .values_list(
            "customer_id",
            "customer__name",
            "customer__gender",
            "customer__province",
            "customer__city",
            "entered_at",
        )
    )
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(members.iterator(chunk_size=EXPORT_CHUNK), EXPORT_CHUNK):
        ids = [member[0] for member in chunk]
        contacts = _contacts(user, ids)
        consents = _consents(user, ids)
        metrics = _metrics(user, ids, scope)
        for pk, name, gender, province, city, entered in chunk:
            reach = contacts.get(pk, {})
            rows.append(
                (
                    pk,
                    mask_value(name, "name") if masked else name,
                    *(
                        mask_value(reach.get(kind, ""), kind) if masked else reach.get(kind, "")
                        for kind in CONTACT_KINDS
                    ),
                    Gender(gender).label if gender in Gender.values else gender,
                    province,
                    city,
                    *(_consent_label(consents.get((pk, channel))) for channel in CONSENT_CHANNELS),
                    *metrics.get(pk, (None,) * 6),
                    entered,
                )
            )
    return exports.Table(name=f"segment-{segment.pk}", title=segment.name, columns=columns, rows=tuple(rows))


def _metric_scope(user, segment: Segment) -> BusinessUnit | bool | None:
    """The unit whose figures the export shows: the segment's; organisation-wide for group roles; the
    viewer's unit when they have one; False when no single scope is theirs (the columns stay empty)."""
    if segment.unit_id is not None:
        return segment.unit
    if user.sees_all_units():
        return None
    return user.only_unit() or False


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _contacts(user, ids: list[int]) -> dict[int, dict[str, str]]:
    """The first identity of each contact kind per customer (first recorded, as the customer list shows)."""
    found: dict[int, dict[str, str]] = {}
    identities = (
        Identity.objects.restrict(user, "view")
        .filter(customer_id__in=ids, kind__in=CONTACT_KINDS)
        .order_by("customer_id", "id")
        .values_list("customer_id", "kind", "value")
    )
    for customer_id, kind, value in identities:
        found.setdefault(customer_id, {}).setdefault(kind, value)
    return found


def _consents(user, ids: list[int]) -> dict[tuple[int, str], str]:
    """The current state per (customer, channel): the newest evidence wins (Consent is append-only)."""
    rows = (
        Consent.objects.restrict(user, "view")
        .filter(customer_id__in=ids, channel__in=CONSENT_CHANNELS)
        .order_by("customer_id", "channel", "recorded_at", "id")
        .values_list("customer_id", "channel", "state")
    )
    return {(customer_id, channel): state for customer_id, channel, state in rows}


def _consent_label(state: str | None) -> str:
    return str(Consent.State(state).label) if state else _("Not recorded")


def _metrics(user, ids: list[int], scope: BusinessUnit | bool | None) -> dict[int, tuple[Any, ...]]:
    if scope is False:
        return {}
    rows = (
        CustomerMetric.objects.restrict(user, "view")
        .filter(customer_id__in=ids, unit=scope)
        .values_list(
            "customer_id",
            "orders",
            "total_spend",
            "last_order_at",
            "rfm_segment",
            "lifecycle_stage",
            "predicted_clv",
        )
    )
    return {
        pk: (
            orders,
            spend,
            last,
            str(RfmSegment(rfm).label) if rfm in RfmSegment.values else rfm,
            str(LifecycleStage(stage).label) if stage in LifecycleStage.values else stage,
            clv,
        )
        for pk, orders, spend, last, rfm, stage, clv in rows
    }
