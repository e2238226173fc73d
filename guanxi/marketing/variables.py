"""The `coupon` namespace of message templates: the recipient's newest code of the coupon template
the sender names (`context={"coupon_template": id}`), so a bulk send gives each their own code."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.messaging.variables import register_template_variables


def _coupons(customer_ids: Sequence[int | None], context: Mapping[str, Any], unit: Any) -> dict:
    from guanxi.loyalty.models import CouponCode

    template = context.get("coupon_template")
    ids = [pk for pk in customer_ids if pk is not None]
    if not template or not ids:
        return {}
    found: dict[int, dict[str, Any]] = {}
    for customer_id, code, expires, name in (
        CouponCode.objects.filter(template_id=template, customer_id__in=ids)
        .order_by("customer_id", "-issued_at", "-pk")
        .values_list("customer_id", "code", "expires_at", "template__name")
    ):
        if customer_id not in found:
            found[customer_id] = {
                "code": code,
                "expires": timezone.localtime(expires).strftime("%Y-%m-%d") if expires else "",
                "name": name,
            }
    return found


def register() -> None:
    register_template_variables(
        "coupon",
        label=_("Coupon"),
        fields={"code": _("Coupon code"), "expires": _("Coupon expiry date"), "name": _("Coupon name")},
        load=_coupons,
        examples={"code": "MOM20-7K3Q", "expires": "2026-05-17", "name": "母亲节满199减30"},
    )
