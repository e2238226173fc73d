"""Customer endpoints. Personal data is masked unless the caller has the pii.view permission."""

from datetime import date, datetime
from typing import Any

from django.core import signing
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field, create_model

from guanxi.accounts.models import BusinessUnit
from guanxi.api.errors import ApiError
from guanxi.api.pagination import CursorParams, paginate
from guanxi.customers import fetch
from guanxi.customers.models import Customer, Identity
from guanxi.customers.references import sections
from guanxi.customers.search import search_customers

router = Router(tags=["customers"])


class CustomerOut(Schema):
    id: int
    name: str
    phone: str = Field(description="The first phone identity, masked without pii.view.")
    email: str = Field(description="The first email identity, masked without pii.view.")
    gender: str
    province: str
    city: str
    district: str
    source_channel: str
    first_seen_at: datetime
    created_at: datetime
    pii_masked: bool = Field(description="True when name and contact details are masked for this caller.")


class IdentityOut(Schema):
    kind: Identity.Kind
    value: str
    namespace: str
    is_verified: bool


class TagOut(Schema):
    id: int
    name: str
    colour: str
    group: str


class ConsentOut(Schema):
    channel: str
    state: str = Field(description='"granted", "withdrawn", or "" when never recorded (no consent).')
    recorded_at: datetime | None
    method: str
    source: str
    evidence: str


class AddressOut(Schema):
    receiver: str = Field(description="Masked without pii.view.")
    phone: str = Field(description="Masked without pii.view.")
    region: str
    street: str = Field(description="Masked without pii.view.")
    postal_code: str
    is_default: bool


class CustomerDetailBase(CustomerOut):
    birthday: date | None = Field(description="Null when masked.")
    occupation: str
    unit_ids: list[int] = Field(description="Units (among those the caller sees) the customer belongs to.")
    identities: list[IdentityOut]
    status: str = Field(description='"active", or "merged" (see merged_into_id).')
    merged_into_id: int | None
    tags: list[TagOut]
    consent: list[ConsentOut] = Field(description="The current state per channel, from the newest evidence.")
    custom_fields: dict[str, Any] = Field(description="Values by field key.")
    addresses: list[AddressOut]


def _detail_schema() -> type[Schema]:
    """The detail schema: the customer's own fields, then one field per section other apps register
    (orders totals, metrics), in registration order."""
    parts = [section for section in sections() if section.api]
    fields: dict[str, Any] = {
        section.key: (section.api.schema, Field(description=section.api.description))
        for section in parts
        if section.api
    }
    return create_model("CustomerDetailOut", __base__=CustomerDetailBase, **fields)


CustomerDetailOut = _detail_schema()


class CustomerListParams(CursorParams):
    q: str | None = Field(
        None,
        max_length=200,
        description="Search: name prefix, phone (full, any format, or last four digits), email, order number "
        "or platform id.",
    )


class TimelineItemOut(Schema):
    occurred_at: datetime
    kind: str
    summary: str
    unit_id: int | None
    source_type: str = Field(description='The record the item is about, e.g. "commerce.order".')
    source_id: str


class TimelinePage(Schema):
    items: list[TimelineItemOut]
    next_cursor: str | None


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


def _first(identities: list[Identity], kind: str) -> str:
    return next((identity.value for identity in identities if identity.kind == kind), "")


def _customer_fields(customer: Customer, mask: fetch.Masker) -> dict:
    contacts = customer.contact_identities  # type: ignore[attr-defined]  # set by _contact_prefetch
    return {
        "id": customer.pk,
        "name": mask(customer.name, "name"),
        "phone": mask(_first(contacts, Identity.Kind.PHONE), "phone"),
        "email": mask(_first(contacts, Identity.Kind.EMAIL), "email"),
        "gender": customer.gender,
        "province": customer.province,
        "city": customer.city,
        "district": customer.district,
        "source_channel": customer.source_channel,
        "first_seen_at": customer.first_seen_at,
        "created_at": customer.created_at,
        "pii_masked": mask.masked,
    }


@router.get(
    "/customers", response=CustomerPage, summary="Customers the caller may see, newest first; `q` searches"
)
def list_customers(request, params: Query[CustomerListParams]):
    customers: QuerySet = Customer.objects.active().restrict(request.user, "view")
    if params.q:
        customers = search_customers(customers, request.user, params.q)
    customers = customers.prefetch_related(fetch.contact_prefetch(request.user))
    page = paginate(customers, params, sort_field="id", descending=True)
    mask = fetch.Masker(request.user)
    return {"items": [_customer_fields(c, mask) for c in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/customers/{customer_id}",
    response=CustomerDetailOut,
    summary="One customer: profile, identities, tags, consent, totals per store and channel, metrics",
)
def get_customer(request, customer_id: int):
    user = request.user
    customer = get_object_or_404(
        Customer.objects.restrict(user, "view").prefetch_related(fetch.contact_prefetch(user)), pk=customer_id
    )
    mask = fetch.Masker(user)
    identities = Identity.objects.restrict(user, "view").filter(customer=customer).order_by("kind", "id")
    links = customer.unit_links.filter(unit__in=BusinessUnit.objects.restrict(user, "view"))
    return {
        **_customer_fields(customer, mask),
        "birthday": None if mask.masked else customer.birthday,
        "occupation": customer.occupation,
        "unit_ids": sorted(links.values_list("unit_id", flat=True)),
        "identities": [
            {
                "kind": identity.kind,
                "value": mask.identity(identity),
                "namespace": identity.namespace,
                "is_verified": identity.is_verified,
            }
            for identity in identities
        ],
        "status": customer.status,
        "merged_into_id": customer.merged_into_id,
        **_detail_sections(user, customer),
    }


def _detail_sections(user, customer: Customer) -> dict:
    masker = fetch.Masker(user)
    return {
        "tags": [vars(tag) for tag in fetch.fetch_tags(user, customer)],
        "consent": [
            {
                "channel": row.channel,
                "state": row.state,
                "recorded_at": row.recorded_at,
                "method": row.method,
                "source": row.source,
                "evidence": row.evidence,
            }
            for row in fetch.fetch_consent(user, customer)
        ],
        "custom_fields": {field.key: field.value for field in fetch.fetch_custom_fields(user, customer)},
        "addresses": [vars(address) for address in fetch.fetch_addresses(user, customer, masker)],
        **{section.key: section.api.read(user, customer) for section in sections() if section.api},
    }


TIMELINE_CURSOR_SALT = "guanxi.customers.timeline"


@router.get(
    "/customers/{customer_id}/timeline",
    response=TimelinePage,
    summary="The customer's timeline, newest first: orders, returns, merges, notes, tags, consent",
)
def get_customer_timeline(request, customer_id: int, params: Query[CursorParams]):
    customer = fetch.access_customer_by_id(request.user, customer_id)
    after = _decode_timeline_cursor(customer, params.cursor) if params.cursor else None
    page = fetch.fetch_timeline_page(request.user, customer, after=after, size=params.limit)
    return {
        "items": [
            {
                "occurred_at": item.occurred_at,
                "kind": item.kind,
                "summary": item.summary,
                "unit_id": item.unit_id,
                "source_type": item.source_type,
                "source_id": item.source_id,
            }
            for item in page.items
        ],
        "next_cursor": _encode_timeline_cursor(customer, page.next_position) if page.next_position else None,
    }


def _encode_timeline_cursor(customer: Customer, position: fetch.TimelinePosition) -> str:
    key = [customer.pk, position.occurred_at.isoformat(), position.same_time_seen, position.offset]
    return signing.dumps(key, salt=TIMELINE_CURSOR_SALT, compress=False)


def _decode_timeline_cursor(customer: Customer, cursor: str) -> fetch.TimelinePosition:
    try:
        customer_id, moment, seen, offset = signing.loads(cursor, salt=TIMELINE_CURSOR_SALT)
        occurred_at = parse_datetime(moment)
        # A cursor is only valid for the timeline it came from.
        if (
            customer_id != customer.pk
            or occurred_at is None
            or not isinstance(seen, int)
            or not isinstance(offset, int)
        ):
            raise ValueError(cursor)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise ApiError(400, _("The cursor is invalid; start again without one.")) from error
    return fetch.TimelinePosition(occurred_at=occurred_at, same_time_seen=seen, offset=offset)
