"""Customer endpoints (personal data is masked unless the caller has the pii.view permission): the
list and one customer, consent evidence and the owner; and the organisation's tags, tag groups and
custom fields."""

from datetime import date, datetime
from typing import Any

from django.core import signing
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field, create_model

from guanxi.accounts.models import BusinessUnit
from guanxi.api.errors import ApiError
from guanxi.api.pagination import CursorParams, paginate
from guanxi.api.schemas import AwareDatetime
from guanxi.core.access import require
from guanxi.customers import fetch, profile
from guanxi.customers.models import (
    DEFAULT_COLOUR,
    Consent,
    ConsentChannel,
    Customer,
    CustomFieldDefinition,
    Identity,
    Tag,
    TagGroup,
)
from guanxi.customers.references import sections
from guanxi.customers.search import search_customers

router = Router(tags=["customers"])
CONFIGURE = "customers.configure"


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
    purpose: str = Field(description="What the customer agreed to or withdrew from.")
    text_version: str = Field(description="The version of the wording the customer was shown.")
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
                "purpose": row.purpose,
                "text_version": row.text_version,
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


# --- consent and owner on one customer ---------------------------------------------------------


class ConsentIn(Schema):
    channel: ConsentChannel
    state: Consent.State
    method: Consent.Method
    purpose: str = Field(
        min_length=1, max_length=200, description="What the customer agreed to or withdrew from."
    )
    text_version: str = Field("", max_length=64, description="The version of the wording shown.")
    source: str = Field("", max_length=200)
    evidence: str = Field("", max_length=2000)
    recorded_at: AwareDatetime | None = Field(None, description="When it was given; now if absent.")


class OwnerIn(Schema):
    owner_id: int | None = Field(description="A user who may see the customer's units, or null for nobody.")


class OwnerOut(Schema):
    owner_id: int | None
    owner_name: str


@router.post(
    "/customers/{customer_id}/consent",
    response={201: list[ConsentOut]},
    summary="Record consent evidence, granted or withdrawn; returns the current state per channel",
    tags=["customers"],
)
def record_consent(request, customer_id: int, payload: ConsentIn):
    user = require(request, "customers.change")
    customer = fetch.access_customer_by_id(user, customer_id, "change")
    profile.record_consent(customer, **payload.model_dump(), actor=user, unit=user.only_unit())
    return Status(201, _detail_sections(user, customer)["consent"])


@router.put(
    "/customers/{customer_id}/owner",
    response=OwnerOut,
    summary="Make a user the customer's owner (sales reps see only the customers they own)",
    tags=["customers"],
)
def assign_owner(request, customer_id: int, payload: OwnerIn):
    user = require(request, "customers.change")
    customer = fetch.access_customer_by_id(user, customer_id, "change")
    owner = None
    if payload.owner_id is not None:
        owner = next((u for u in fetch.owner_candidates(user, customer) if u.pk == payload.owner_id), None)
        if owner is None:
            raise ApiError(422, _("That user cannot own this customer: they do not see its business units."))
    customer = profile.assign_owner(customer, owner, actor=user)
    return {"owner_id": customer.owner_id, "owner_name": owner.shown_name if owner else ""}


# --- the organisation's tags, tag groups and custom fields (customers.configure to change) ------


class TagGroupOut(Schema):
    id: int
    name: str
    colour: str


class TagGroupIn(Schema):
    name: str = Field(min_length=1, max_length=64)
    colour: str = Field(DEFAULT_COLOUR, pattern=r"^#[0-9a-fA-F]{6}$")


class TagGroupPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=64)
    colour: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")


class TagDetailOut(Schema):
    id: int
    name: str
    colour: str
    group_id: int | None
    description: str


class TagIn(TagGroupIn):
    group_id: int | None = None
    description: str = Field("", max_length=300)


class TagPatch(TagGroupPatch):
    group_id: int | None = Field(None, description="Send 0 to take the tag out of its group.")
    description: str | None = Field(None, max_length=300)


class CustomFieldOut(Schema):
    id: int
    key: str
    label: str
    type: CustomFieldDefinition.Type
    choices: list[str]
    description: str


class CustomFieldIn(Schema):
    key: str = Field(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$", description="Permanent.")
    label: str = Field(min_length=1, max_length=100)
    type: CustomFieldDefinition.Type = CustomFieldDefinition.Type.TEXT
    choices: list[str] = Field(default_factory=list, max_length=200)
    description: str = Field("", max_length=300)


class CustomFieldPatch(Schema):
    label: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=300)
    choices: list[str] | None = Field(
        None, max_length=200, description="Only additions: no choice is removed."
    )


def _configurable(request, model, pk: int):
    user = require(request, CONFIGURE)
    return user, get_object_or_404(model.objects.restrict(user, "configure"), pk=pk)


def _tag_group_of(user, group_id: int | None) -> TagGroup | None:
    if not group_id:
        return None
    group = TagGroup.objects.restrict(user, "view").filter(pk=group_id).first()
    if group is None:
        raise ApiError(422, _("No such tag group."))
    return group


@router.get("/tag-groups", response=list[TagGroupOut], summary="Tag groups", tags=["settings"])
def list_tag_groups(request):
    return list(TagGroup.objects.restrict(request.user, "view").order_by("name"))


@router.post("/tag-groups", response={201: TagGroupOut}, summary="Create a tag group", tags=["settings"])
def create_tag_group(request, payload: TagGroupIn):
    user = require(request, CONFIGURE)
    return Status(201, profile.create_tag_group(payload.name, payload.colour, actor=user))


@router.patch(
    "/tag-groups/{group_id}",
    response=TagGroupOut,
    summary="Rename or recolour a tag group",
    tags=["settings"],
)
def update_tag_group(request, group_id: int, payload: TagGroupPatch):
    user, group = _configurable(request, TagGroup, group_id)
    return profile.update_tag_group(group, actor=user, **payload.model_dump(exclude_none=True))


@router.get("/tags", response=list[TagDetailOut], summary="Tags", tags=["settings"])
def list_tags(request):
    return list(Tag.objects.restrict(request.user, "view").order_by("name"))


@router.post("/tags", response={201: TagDetailOut}, summary="Create a tag", tags=["settings"])
def create_tag(request, payload: TagIn):
    user = require(request, CONFIGURE)
    group = _tag_group_of(user, payload.group_id)
    tag = profile.create_tag(payload.name, payload.colour, group, payload.description, actor=user)
    return Status(201, tag)


@router.patch(
    "/tags/{tag_id}",
    response=TagDetailOut,
    summary="Rename, recolour, regroup or describe a tag",
    tags=["settings"],
)
def update_tag(request, tag_id: int, payload: TagPatch):
    user, tag = _configurable(request, Tag, tag_id)
    changes = payload.model_dump(exclude_none=True)
    if "group_id" in changes:
        changes["group"] = _tag_group_of(user, changes.pop("group_id"))
    return profile.update_tag(tag, actor=user, **changes)


@router.get(
    "/custom-fields", response=list[CustomFieldOut], summary="Custom field definitions", tags=["settings"]
)
def list_custom_fields(request):
    return list(CustomFieldDefinition.objects.restrict(request.user, "view").order_by("label"))


@router.post(
    "/custom-fields", response={201: CustomFieldOut}, summary="Define a custom field", tags=["settings"]
)
def create_custom_field(request, payload: CustomFieldIn):
    user = require(request, CONFIGURE)
    return Status(201, profile.create_custom_field(**payload.model_dump(), actor=user))


@router.patch(
    "/custom-fields/{field_id}",
    response=CustomFieldOut,
    summary="Relabel or describe a custom field, or add choices",
    tags=["settings"],
)
def update_custom_field(request, field_id: int, payload: CustomFieldPatch):
    user, definition = _configurable(request, CustomFieldDefinition, field_id)
    return profile.update_custom_field(definition, actor=user, **payload.model_dump(exclude_none=True))
