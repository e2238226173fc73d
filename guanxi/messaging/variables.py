"""The variables templates may use, by namespace: `customer.name`, `order.number`, `shop.name`…

Messaging provides the profile, order, shop and message namespaces itself; apps above it add theirs
(loyalty: tier, points, coupon) with `register_template_variables` from their `AppConfig.ready()`.
A template is checked against what is registered when it is saved, so a misspelt or unknown
variable is an error on the editor page, never a blank in a customer's message.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# (customer ids — None for a message to a member of staff —, the caller's context, the sending unit)
# -> {customer id: {field: value}}; fields a provider cannot fill for someone are left out.
VariableLoader = Callable[[Sequence[int | None], Mapping[str, Any], Any], dict[int | None, dict[str, Any]]]


@dataclass(frozen=True)
class VariableNamespace:
    name: str
    label: Any
    fields: dict[str, Any]  # field -> label shown in the editor
    load: VariableLoader
    examples: dict[str, Any]  # what the editor's preview without a customer shows


_namespaces: dict[str, VariableNamespace] = {}


def register_template_variables(
    namespace: str, *, label: Any, fields: dict[str, Any], load: VariableLoader, examples: dict[str, Any]
) -> None:
    """Offer `namespace.field` variables to every template. A caller's context under the same name
    (`context={"coupon": {"code": "MOM20"}}`) overrides what `load` gives."""
    missing = sorted(set(fields) - set(examples))
    if missing:
        raise ValueError(f"template variables {namespace}.{missing} need an example")
    _namespaces[namespace] = VariableNamespace(namespace, label, dict(fields), load, dict(examples))


def template_variables() -> dict[str, VariableNamespace]:
    return dict(_namespaces)


def load_variables(
    customer_ids: Sequence[int | None], context: Mapping[str, Any], unit: Any
) -> dict[int | None, dict[str, dict[str, Any]]]:
    """Every namespace's values per recipient, the context's own values on top."""
    values: dict[int | None, dict[str, dict[str, Any]]] = {pk: {} for pk in customer_ids}
    for namespace in _namespaces.values():
        loaded = namespace.load(customer_ids, context, unit)
        given = context.get(namespace.name)
        for pk in customer_ids:
            merged = dict(loaded.get(pk, {}))
            if isinstance(given, Mapping):
                merged.update(given)
            values[pk][namespace.name] = merged
    return values


def examples() -> dict[str, dict[str, Any]]:
    return {name: dict(namespace.examples) for name, namespace in _namespaces.items()}


# --- the namespaces messaging provides ----------------------------------------------------------


def _customers(customer_ids: Sequence[int | None], context: Mapping[str, Any], unit: Any) -> dict:
    from guanxi.customers.models import Customer, Gender

    ids = [pk for pk in customer_ids if pk is not None]
    titles: dict[str, Any] = {Gender.FEMALE: _("Ms"), Gender.MALE: _("Mr")}
    return {
        row.pk: {
            "name": row.name,
            "title": str(titles.get(row.gender, "")),
            "city": row.city,
            "province": row.province,
            "birthday": row.birthday.strftime("%m-%d") if row.birthday else "",
        }
        for row in Customer.objects.filter(pk__in=ids).only("name", "gender", "city", "province", "birthday")
    }


def _orders(customer_ids: Sequence[int | None], context: Mapping[str, Any], unit: Any) -> dict:
    """The order the context names (`order_id`), else each customer's latest order in the unit."""
    from guanxi.commerce.models import Order

    ids = [pk for pk in customer_ids if pk is not None]
    orders = Order.objects.select_related("store")
    if context.get("order_id"):
        chosen = orders.filter(pk=context["order_id"]).first()
        return {pk: _order_values(chosen) for pk in customer_ids} if chosen else {}
    if not ids:
        return {}
    latest: dict[int | None, dict] = {}
    rows = orders.filter(Q(customer_id__in=ids) & (Q(unit=unit) if unit else Q())).order_by(
        "customer_id", "-placed_at", "-id"
    )
    for order in rows.iterator(chunk_size=2000):
        if order.customer_id not in latest:
            latest[order.customer_id] = _order_values(order)
    return latest


def _order_values(order: Any) -> dict[str, Any]:
    return {
        "number": order.number,
        "total": str(order.total_amount),
        "currency": order.currency,
        "status": str(order.get_status_display()),
        "store": order.store.name,
        "item_count": order.item_count,
        "placed_at": timezone.localtime(order.placed_at).strftime("%Y-%m-%d %H:%M"),
    }


def _shop(customer_ids: Sequence[int | None], context: Mapping[str, Any], unit: Any) -> dict:
    from guanxi.messaging.models import MessagingPolicy

    policy = MessagingPolicy.objects.filter(unit=unit).first() if unit else None
    values = {"name": unit.name if unit else "", "signature": policy.sms_signature if policy else ""}
    return {pk: dict(values) for pk in customer_ids}


def _message(customer_ids: Sequence[int | None], context: Mapping[str, Any], unit: Any) -> dict:
    # The unsubscribe link is per recipient and address; the sender fills it in (see rendering.py).
    today = timezone.localdate().isoformat()
    return {pk: {"date": today} for pk in customer_ids}


def register_builtin_variables() -> None:
    register_template_variables(
        "customer",
        label=_("Customer"),
        fields={
            "name": _("Name"),
            "title": _("Form of address (Mr/Ms)"),
            "city": _("City"),
            "province": _("Province"),
            "birthday": _("Birthday (MM-DD)"),
        },
        load=_customers,
        examples={"name": "王芳", "title": "女士", "city": "杭州", "province": "浙江", "birthday": "05-12"},
    )
    register_template_variables(
        "order",
        label=_("Order"),
        fields={
            "number": _("Order number"),
            "total": _("Total"),
            "currency": _("Currency"),
            "status": _("Status"),
            "store": _("Store"),
            "item_count": _("Items"),
            "placed_at": _("Placed at"),
        },
        load=_orders,
        examples={
            "number": "TM20261111001",
            "total": "268.00",
            "currency": "CNY",
            "status": "已发货",
            "store": "家纺旗舰店",
            "item_count": 2,
            "placed_at": "2026-11-11 10:24",
        },
    )
    register_template_variables(
        "shop",
        label=_("Shop"),
        fields={"name": _("Business unit"), "signature": _("SMS signature")},
        load=_shop,
        examples={"name": "家居生活", "signature": "关系家纺"},
    )
    register_template_variables(
        "message",
        label=_("Message"),
        fields={"unsubscribe_url": _("Unsubscribe link"), "date": _("Today's date")},
        load=_message,
        examples={"unsubscribe_url": "https://crm.example.cn/m/unsubscribe/…", "date": "2026-11-11"},
    )
