"""Recipients' addresses: where a customer is reached on each medium, normalised, hashed and masked."""

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from guanxi.core.privacy import mask_value
from guanxi.customers.identities import normalise_phone
from guanxi.customers.models import Identity
from guanxi.messaging.models import Medium

IDENTITY_KIND = {
    Medium.SMS: Identity.Kind.PHONE,
    Medium.EMAIL: Identity.Kind.EMAIL,
    Medium.WECHAT: Identity.Kind.WECHAT_OPENID,
}
LOOKUP_BATCH = 1000


def normalise(medium: str, raw: str) -> str:
    """The address as sent and hashed, or a ValidationError saying why it is not one."""
    value = (raw or "").strip()
    if medium == Medium.SMS:
        phone = normalise_phone(value)
        if phone is None:
            raise ValidationError(_("“%(value)s” is not a mobile number."), params={"value": value[:40]})
        return phone
    if medium == Medium.EMAIL:
        value = value.lower()
        validate_email(value)
        return value
    if not value:
        raise ValidationError(_("The address is empty."))
    return value


def address_hash(medium: str, address: str) -> str:
    """A peppered hash: suppression lists keep it, so an erased address stays suppressed unreadably."""
    pepper = (getattr(settings, "GUANXI_ADDRESS_PEPPER", "") or settings.SECRET_KEY).encode()
    return hmac.new(pepper, f"{medium}:{address}".encode(), hashlib.sha256).hexdigest()


def masked(medium: str, address: str) -> str:
    kind = {Medium.SMS: "phone", Medium.EMAIL: "email"}.get(Medium(medium), "text")
    return mask_value(address, kind)


def customer_addresses(customer_ids: Iterable[int], medium: str, namespace: str = "") -> dict[int, str]:
    """Each customer's address on `medium` (verified first, then the newest); absent when they have none.
    WeChat openids are per official account: `namespace` is its appid."""
    kind = IDENTITY_KIND.get(Medium(medium))
    if kind is None:
        return {}
    ids = sorted(set(customer_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), LOOKUP_BATCH):
        rows = (
            Identity.objects.filter(customer_id__in=ids[start : start + LOOKUP_BATCH], kind=kind)
            .filter(namespace=namespace if kind == Identity.Kind.WECHAT_OPENID else "")
            .order_by("customer_id", "-is_verified", "-created_at", "-id")
            .values_list("customer_id", "value")
        )
        for customer_id, value in rows:
            found.setdefault(customer_id, value)
    return found


def customers_with_address(medium: str, address: str) -> list[int]:
    """The customers who hold this address (an opt-out by reply names the address, not the person)."""
    kind = IDENTITY_KIND.get(Medium(medium))
    if kind is None:
        return []
    return sorted(
        set(Identity.objects.filter(kind=kind, value=address).values_list("customer_id", flat=True))
    )
