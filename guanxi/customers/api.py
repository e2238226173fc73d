"""Customer endpoints. Personal data is masked unless the caller has the pii.view permission."""

from datetime import date, datetime

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from pydantic import Field

from guanxi.api.pagination import CursorParams, paginate
from guanxi.core.privacy import mask_value
from guanxi.customers.models import Customer, Identity

router = Router(tags=["customers"])

CONTACT_KINDS = (Identity.Kind.PHONE, Identity.Kind.EMAIL)


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


class CustomerDetailOut(CustomerOut):
    birthday: date | None = Field(description="Null when masked.")
    occupation: str
    unit_ids: list[int] = Field(description="Units (among those the caller sees) the customer belongs to.")
    identities: list[IdentityOut]


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class Masker:
    """Shows personal values as stored, or masked, depending on the caller's PII permission."""

    def __init__(self, user) -> None:
        self.masked = not user.has_permission("pii.view")

    def __call__(self, value: str, kind: str) -> str:
        return mask_value(value, kind) if self.masked else value


def _contact_prefetch(user) -> Prefetch:
    return Prefetch(
        "identities",
        queryset=Identity.objects.restrict(user, "view").filter(kind__in=CONTACT_KINDS).order_by("id"),
        to_attr="contact_identities",
    )


def _first(identities: list[Identity], kind: str) -> str:
    return next((identity.value for identity in identities if identity.kind == kind), "")


def _customer_fields(customer: Customer, mask: Masker) -> dict:
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


def _mask_kind(kind: str) -> str:
    return kind if kind in CONTACT_KINDS else "identifier"


@router.get("/customers", response=CustomerPage, summary="Customers the caller may see, newest first")
def list_customers(request, params: Query[CursorParams]):
    customers = Customer.objects.restrict(request.user, "view").prefetch_related(
        _contact_prefetch(request.user)
    )
    page = paginate(customers, params, sort_field="id", descending=True)
    mask = Masker(request.user)
    return {"items": [_customer_fields(c, mask) for c in page.items], "next_cursor": page.next_cursor}


@router.get("/customers/{customer_id}", response=CustomerDetailOut, summary="One customer")
def get_customer(request, customer_id: int):
    user = request.user
    customer = get_object_or_404(
        Customer.objects.restrict(user, "view").prefetch_related(_contact_prefetch(user)), pk=customer_id
    )
    mask = Masker(user)
    identities = Identity.objects.restrict(user, "view").filter(customer=customer).order_by("kind", "id")
    unit_ids = user.visible_unit_ids()
    links = (
        customer.unit_links.all() if unit_ids is None else customer.unit_links.filter(unit_id__in=unit_ids)
    )
    return {
        **_customer_fields(customer, mask),
        "birthday": None if mask.masked else customer.birthday,
        "occupation": customer.occupation,
        "unit_ids": sorted(links.values_list("unit_id", flat=True)),
        "identities": [
            {
                "kind": identity.kind,
                "value": mask(identity.value, _mask_kind(identity.kind)),
                "namespace": identity.namespace,
                "is_verified": identity.is_verified,
            }
            for identity in identities
        ],
    }
