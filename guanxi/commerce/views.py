"""Order pages: the scoped list with filters and totals, and one order with its lines and returns."""

from datetime import date, datetime, time, timedelta
from typing import cast

from django import forms
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from guanxi.commerce.models import Order, Return, Store
from guanxi.core.access import require
from guanxi.core.privacy import mask_value

PAGE_SIZE = 50
VIEW = "commerce.view"


class OrderFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Order number"),
        required=False,
        max_length=128,
        widget=forms.SearchInput(attrs={"autocomplete": "off"}),
    )
    store = forms.TypedChoiceField(label=_("Store"), required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *Order.Status.choices]
    )
    device = forms.ChoiceField(
        label=_("Device"),
        required=False,
        choices=[("", _("Any")), *((value, label) for value, label in Order.Device.choices if value)],
    )
    placed_from = forms.DateField(
        label=_("Placed from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    placed_to = forms.DateField(
        label=_("Placed to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    customer = forms.IntegerField(
        label=_("Customer id"), required=False, min_value=1, widget=forms.HiddenInput
    )

    def __init__(self, data, *, stores) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["store"]).choices = [
            ("", _("All stores")),
            *((store.pk, store.name) for store in stores),
        ]

    def filter(self, orders):
        if not self.is_valid():
            return orders
        data = self.cleaned_data
        if data["q"].strip():
            orders = orders.filter(number=data["q"].strip())
        if data["store"] is not None:
            orders = orders.filter(store_id=data["store"])
        if data["status"]:
            orders = orders.filter(status=data["status"])
        if data["device"]:
            orders = orders.filter(device=data["device"])
        # Whole days in the current time zone, as bounds the placed_at index can use.
        if data["placed_from"]:
            orders = orders.filter(placed_at__gte=_start_of(data["placed_from"]))
        if data["placed_to"]:
            orders = orders.filter(placed_at__lt=_start_of(data["placed_to"] + timedelta(days=1)))
        if data["customer"]:
            orders = orders.filter(customer_id=data["customer"])
        return orders


@require_GET
def order_list(request):
    user = require(request, VIEW)
    stores = Store.objects.restrict(user, "view").order_by("name")
    form = OrderFilterForm(request.GET or None, stores=stores)
    orders = form.filter(Order.objects.restrict(user, "view"))
    totals = list(
        orders.values("currency")
        .annotate(
            orders=Count("id"),
            revenue=Sum("total_amount", filter=Q(status__in=Order.SALE_STATUSES)),
            refunded=Sum("refunded_amount"),
        )
        .order_by("currency")
    )
    page = orders.select_related("store", "customer").order_by("-placed_at", "-id")
    after = _int(request.GET.get("after"))
    if after is not None:
        last = orders.filter(pk=after).values("placed_at").first()
        if last is not None:
            page = page.filter(
                Q(placed_at__lt=last["placed_at"]) | Q(placed_at=last["placed_at"], pk__lt=after)
            )
    rows = list(page[: PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("after", None)
    masked = not user.has_permission("pii.view")
    context = {
        "form": form,
        "orders": [(order, _customer_name(order, masked)) for order in rows[:PAGE_SIZE]],
        "totals": totals,
        "next_after": rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None,
        "is_first_page": after is None,
        "query": query.urlencode(),
    }
    if request.htmx and request.htmx.target == "order-table":
        return render(request, "commerce/partials/_order_table.html", context)
    return render(request, "commerce/order_list.html", context)


@require_GET
def order(request, pk):
    user = require(request, VIEW)
    shown = get_object_or_404(
        Order.objects.restrict(user, "view")
        .select_related("store", "unit", "customer")
        .prefetch_related("lines"),
        pk=pk,
    )
    returns = Return.objects.restrict(user, "view").filter(order=shown).order_by("-returned_at", "-id")
    masked = not user.has_permission("pii.view")
    return render(
        request,
        "commerce/order.html",
        {
            "order": shown,
            "customer_name": _customer_name(shown, masked),
            # The link is offered only when the profile is visible (it always is for a visible order).
            "customer_visible": shown.customer_id is not None and user.has_permission("customers.view"),
            "returns": list(returns),
        },
    )


def _customer_name(order: Order, masked: bool) -> str:
    if order.customer is None:
        return ""
    name = order.customer.name
    return mask_value(name, "name") if masked else name


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
