"""The customer 360 read model: everything about one customer that one user may see, as frozen data.

Every part is read through `restrict(user, "view")`, so a unit-A user looking at a person shared with
unit B gets unit A's notes and timeline only; the sections other apps register (orders, metrics) are
scoped the same way by their owners.
Personal values (name, phone, email, address, receiver) are masked here unless the user may see PII,
so the page and the API cannot forget to. The number of queries does not grow with the data.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Prefetch, Q
from django.http import Http404

from guanxi.accounts.models import BusinessUnit, User
from guanxi.accounts.roles import ALL_UNIT_ROLES, Role
from guanxi.core.privacy import mask_value
from guanxi.customers.models import (
    Address,
    Consent,
    ConsentChannel,
    Customer,
    CustomerTag,
    CustomFieldDefinition,
    CustomFieldValue,
    Identity,
    Note,
    Tag,
)
from guanxi.customers.references import sections
from guanxi.customers.timeline import TimelineItem, customer_timeline

RECENT_NOTES = 20
# Extra timeline items read per page, so events added at the top meanwhile rarely force a re-read.
TIMELINE_SLACK = 20
TIMELINE_PAGE = 30
CONTACT_KINDS = (Identity.Kind.PHONE, Identity.Kind.EMAIL)


class Masker:
    """Shows personal values as stored, or masked, depending on the user's PII permission."""

    def __init__(self, user) -> None:
        self.masked = not user.has_permission("pii.view")

    def __call__(self, value: str, kind: str = "name") -> str:
        return mask_value(value, kind) if self.masked else value

    def identity(self, identity: Identity) -> str:
        return self(identity.value, identity.kind if identity.kind in CONTACT_KINDS else "identifier")


def contact_prefetch(user) -> Prefetch:
    """Each customer's phones and emails the user may see, oldest first, as `contact_identities`."""
    return Prefetch(
        "identities",
        queryset=Identity.objects.restrict(user, "view").filter(kind__in=CONTACT_KINDS).order_by("id"),
        to_attr="contact_identities",
    )


@dataclass(frozen=True)
class IdentityView:
    kind: str
    kind_label: str
    value: str
    namespace: str
    source: str
    is_verified: bool


@dataclass(frozen=True)
class ConsentView:
    """The current state of one channel: the newest evidence row, or none ("not recorded": no consent)."""

    channel: str
    channel_label: str
    state: str
    state_label: str
    recorded_at: datetime | None
    method: str
    method_label: str
    purpose: str
    text_version: str
    source: str
    evidence: str


@dataclass(frozen=True)
class TagView:
    id: int
    name: str
    colour: str
    group: str


@dataclass(frozen=True)
class CustomFieldView:
    key: str
    label: str
    type: str
    value: object


@dataclass(frozen=True)
class AddressView:
    receiver: str
    phone: str
    region: str
    street: str
    postal_code: str
    is_default: bool


@dataclass(frozen=True)
class SectionView:
    """A registered section's value for this customer, with the templates that show it."""

    key: str
    template: str
    kpi_template: str
    value: Any


@dataclass(frozen=True)
class NoteView:
    id: int
    body: str
    author: str
    unit_name: str
    created_at: datetime


@dataclass(frozen=True)
class Customer360:
    customer: Customer
    masked: bool
    name: str
    birthday: date | None
    units: tuple[BusinessUnit, ...]
    identities: tuple[IdentityView, ...]
    consent: tuple[ConsentView, ...]
    tags: tuple[TagView, ...]
    custom_fields: tuple[CustomFieldView, ...]
    addresses: tuple[AddressView, ...]
    sections: tuple[SectionView, ...]
    notes: tuple[NoteView, ...]
    timeline: "TimelinePage"

    def section(self, key: str) -> Any:
        """The value of the registered section `key` ("totals", "metrics")."""
        return next(section.value for section in self.sections if section.key == key)


def access_customer_by_id(user, customer_id: int, action: str = "view") -> Customer:
    """The customer if `user` may `action` it; Http404 otherwise (never revealing that it exists)."""
    customer = Customer.objects.restrict(user, action).select_related("owner").filter(pk=customer_id).first()
    if customer is None:
        raise Http404
    return customer


def fetch_customer_360(user, customer: Customer) -> Customer360:
    """The 360 view of `customer` (already loaded through `access_customer_by_id`) for `user`."""
    mask = Masker(user)
    return Customer360(
        customer=customer,
        masked=mask.masked,
        name=mask(customer.name),
        birthday=None if mask.masked else customer.birthday,
        units=_units(user, customer),
        identities=_identities(user, customer, mask),
        consent=fetch_consent(user, customer),
        tags=fetch_tags(user, customer),
        custom_fields=fetch_custom_fields(user, customer),
        addresses=fetch_addresses(user, customer, mask),
        sections=tuple(
            SectionView(section.key, section.template, section.kpi_template, section.fetch(user, customer))
            for section in sections()
        ),
        notes=fetch_notes(user, customer),
        timeline=fetch_timeline_page(user, customer, size=TIMELINE_PAGE),
    )


def _units(user, customer: Customer) -> tuple[BusinessUnit, ...]:
    units = BusinessUnit.objects.restrict(user, "view").filter(customer_links__customer=customer)
    return tuple(units.order_by("code"))


def _identities(user, customer: Customer, mask: Masker) -> tuple[IdentityView, ...]:
    rows = Identity.objects.restrict(user, "view").filter(customer=customer).order_by("kind", "id")
    return tuple(
        IdentityView(
            kind=row.kind,
            kind_label=str(row.get_kind_display()),
            value=mask.identity(row),
            namespace=row.namespace,
            source=row.source,
            is_verified=row.is_verified,
        )
        for row in rows
    )


def fetch_consent(user, customer: Customer) -> tuple[ConsentView, ...]:
    current: dict[str, Consent] = {}
    rows = Consent.objects.restrict(user, "view").filter(customer=customer).order_by("-recorded_at", "-id")
    for row in rows:
        current.setdefault(row.channel, row)
    views = []
    for channel, label in ConsentChannel.choices:
        row = current.get(channel)
        views.append(
            ConsentView(
                channel=channel,
                channel_label=str(label),
                state=row.state if row else "",
                state_label=str(row.get_state_display()) if row else "",
                recorded_at=row.recorded_at if row else None,
                method=row.method if row else "",
                method_label=str(row.get_method_display()) if row else "",
                purpose=row.purpose if row else "",
                text_version=row.text_version if row else "",
                source=row.source if row else "",
                evidence=row.evidence if row else "",
            )
        )
    return tuple(views)


def owner_candidates(user, customer: Customer) -> list[User]:
    """Who `user` may make the customer's owner: active users of the units they share with the
    customer (group-wide users too) who may see customers, by name."""
    shared = BusinessUnit.objects.restrict(user, "view").filter(customer_links__customer=customer)
    people = User.objects.filter(is_active=True).filter(Q(units__in=shared) | Q(role__in=ALL_UNIT_ROLES))
    return sorted(
        (person for person in people.distinct() if person.has_permission("customers.view")),
        key=lambda person: (person.role != Role.SALES_REP, person.shown_name),
    )


def fetch_tags(user, customer: Customer) -> tuple[TagView, ...]:
    rows = (
        CustomerTag.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("tag__group")
        .order_by("tag__name")
    )
    return tuple(
        TagView(
            id=row.tag_id,
            name=row.tag.name,
            colour=row.tag.colour,
            group=row.tag.group.name if row.tag.group else "",
        )
        for row in rows
    )


def available_tags(user, customer: Customer) -> tuple[Tag, ...]:
    """Tags the customer does not carry yet, for the add-tag picker."""
    carried = CustomerTag.objects.filter(customer=customer).values("tag_id")
    return tuple(
        Tag.objects.restrict(user, "view").exclude(pk__in=carried).select_related("group").order_by("name")
    )


def fetch_custom_fields(user, customer: Customer) -> tuple[CustomFieldView, ...]:
    values = {
        row.definition_id: row.value
        for row in CustomFieldValue.objects.restrict(user, "view").filter(customer=customer)
    }
    definitions = CustomFieldDefinition.objects.restrict(user, "view").order_by("label")
    return tuple(
        CustomFieldView(key=d.key, label=d.label, type=d.type, value=values[d.pk])
        for d in definitions
        if d.pk in values
    )


def fetch_addresses(user, customer: Customer, mask: Masker) -> tuple[AddressView, ...]:
    rows = Address.objects.restrict(user, "view").filter(customer=customer)
    return tuple(
        AddressView(
            receiver=mask(row.receiver),
            phone=mask(row.phone, "phone"),
            region=" ".join(part for part in (row.province, row.city, row.district) if part),
            street=mask(row.street),
            postal_code=row.postal_code,
            is_default=row.is_default,
        )
        for row in rows
    )


@dataclass(frozen=True)
class TimelinePosition:
    """Where a timeline page ended: the last item's time, how many items at exactly that time were
    shown, and how many items came before (only a hint for how much to read)."""

    occurred_at: datetime
    same_time_seen: int
    offset: int


@dataclass(frozen=True)
class TimelinePage:
    items: tuple[TimelineItem, ...]
    next_position: TimelinePosition | None


def fetch_timeline_page(
    user, customer: Customer, after: TimelinePosition | None = None, size: int = 50
) -> TimelinePage:
    """One page of the customer's timeline, newest first, continuing strictly after `after`.

    Keyed by time rather than by position, so events added at the top while someone pages do not
    shift or repeat the older pages.
    """
    read = (after.offset if after else 0) + size + 1 + TIMELINE_SLACK
    while True:
        items = customer_timeline(customer, user, limit=read)
        start = _timeline_start(items, after)
        if start + size + 1 <= len(items) or len(items) < read:
            break
        read *= 2
    page = items[start : start + size]
    more = len(items) > start + size
    if not page or not more:
        return TimelinePage(items=tuple(page), next_position=None)
    last = page[-1].occurred_at
    same_time = sum(1 for item in items[: start + size] if item.occurred_at == last)
    return TimelinePage(
        items=tuple(page),
        next_position=TimelinePosition(occurred_at=last, same_time_seen=same_time, offset=start + size),
    )


def _timeline_start(items: list[TimelineItem], after: TimelinePosition | None) -> int:
    if after is None:
        return 0
    newer = sum(1 for item in items if item.occurred_at > after.occurred_at)
    same = sum(1 for item in items if item.occurred_at == after.occurred_at)
    return newer + min(after.same_time_seen, same)


def fetch_notes(user, customer: Customer) -> tuple[NoteView, ...]:
    rows = (
        Note.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("author", "unit")
        .order_by("-created_at", "-id")[:RECENT_NOTES]
    )
    return tuple(
        NoteView(
            id=row.pk,
            body=row.body,
            author=row.author.shown_name if row.author else "",
            unit_name=row.unit.name if row.unit else "",
            created_at=row.created_at,
        )
        for row in rows
    )
