"""Store pages: the stores of the user's units (and adding one), one store with its settings and
its webhook set-up.

The webhook secret is write-only here: it is shown in the one response that sets it (generated
or pasted), never again, and the page only says whether one is set and until when a rotated-out
one is still accepted.
"""

from typing import cast

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.actions import create_store, set_api_credentials, set_webhook_secret, update_store
from guanxi.commerce.models import Channel, Store
from guanxi.commerce.reconcile import RECONCILED_CHANNELS, ReconcileError, check_address
from guanxi.commerce.webhooks import (
    MIN_SECRET_LENGTH,
    PLATFORMS,
    new_webhook_secret,
    webhook_path,
    webhook_url,
)
from guanxi.core.access import require
from guanxi.core.zones import DEFAULT_TIME_ZONE, TimeZoneSelect, time_zone_choices

VIEW = "commerce.view"
ADD = "commerce.add"
CHANGE = "commerce.change"


class StoreForm(forms.Form):
    """What can change about a store: its name, currency and time zone."""

    name = forms.CharField(label=_("Name"), max_length=100)
    currency = forms.RegexField(
        label=_("Currency"),
        regex=r"^[A-Za-z]{3}$",
        initial="CNY",
        max_length=3,
        help_text=_("The ISO code of the currency its orders are in, e.g. CNY, HKD, USD."),
        error_messages={"invalid": _("Use a three-letter currency code such as CNY.")},
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        initial=DEFAULT_TIME_ZONE,
        widget=TimeZoneSelect,
        help_text=_("Order times from the platform without an offset are read in this time zone."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = time_zone_choices()

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()


class StoreAddForm(StoreForm):
    unit = forms.TypedChoiceField(label=_("Business unit"), coerce=int)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)

    field_order = ["name", "unit", "channel", "currency", "time_zone"]

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["unit"]).choices = [(unit.pk, unit.name) for unit in units]


class WebhookSecretForm(forms.Form):
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        min_length=MIN_SECRET_LENGTH,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_(
            "Paste the signing secret the platform shows (Shopify), or leave empty to generate one "
            "to paste into the platform (WooCommerce)."
        ),
    )


class ApiForm(forms.Form):
    """The platform REST API the reconciliation job polls; the secret is write-only, like the webhook's."""

    api_url = forms.URLField(
        label=_("Shop address"),
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text=_("e.g. https://example.myshopify.com or https://shop.example.com; empty to stop polling."),
    )
    api_key = forms.CharField(
        label=_("Consumer key"),
        required=False,
        max_length=200,
        help_text=_("WooCommerce only: the REST API key's consumer key."),
    )
    api_secret = forms.CharField(
        label=_("Access token or consumer secret"),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_(
            "Shopify: the Admin API access token (read_orders). WooCommerce: the consumer secret. "
            "Leave empty to keep the one saved."
        ),
    )

    def __init__(self, *args, store: Store, **kwargs):
        super().__init__(*args, **kwargs)
        self.store = store

    def clean_api_url(self) -> str:
        url = self.cleaned_data["api_url"]
        if url:
            try:
                check_address(url)
            except ReconcileError:
                raise forms.ValidationError(
                    _("This address cannot be called: use the shop's public https:// address.")
                ) from None
        return url

    def clean(self):
        data = super().clean() or {}
        if data.get("api_url") and not (data.get("api_secret") or self.store.api_secret):
            self.add_error("api_secret", _("Enter the access token or consumer secret."))
        return data


def units_for_stores(user) -> list[BusinessUnit]:
    """The active units the user may add a store to."""
    if not user.has_permission(ADD):
        return []
    return list(BusinessUnit.objects.restrict(user, "view").filter(is_active=True).order_by("code"))


@require_http_methods(["GET", "POST"])
def store_list(request):
    user = require(request, VIEW)
    units = units_for_stores(user)
    form = StoreAddForm(request.POST or None, units=units) if units else None
    if request.method == "POST":
        require(request, ADD)
        if form is not None and form.is_valid():
            data = form.cleaned_data
            unit = BusinessUnit.objects.restrict(user, "view").get(pk=data["unit"])
            shown = create_store(
                unit=unit,
                name=data["name"],
                channel=data["channel"],
                currency=data["currency"],
                time_zone=data["time_zone"],
                actor=user,
            )
            messages.success(request, _("Store %(name)s was added.") % {"name": shown.name})
            return redirect("commerce:store", pk=shown.pk)
    stores = (
        Store.objects.restrict(user, "view")
        .select_related("unit")
        .annotate(order_count=Count("orders"))
        .order_by("unit__code", "name")
    )
    return render(request, "commerce/stores/store_list.html", {"stores": stores, "form": form})


@require_http_methods(["GET", "POST"])
def store(request, pk):
    user = require(request, VIEW)
    shown = _store(user, pk, "view")
    form = _settings_form(shown, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require(request, CHANGE)
        shown = _store(user, pk, "change")
        if form.is_valid():
            update_store(shown, actor=user, **{name: form.cleaned_data[name] for name in form.changed_data})
            messages.success(
                request, _("Changes to %(name)s were saved.") % {"name": form.cleaned_data["name"]}
            )
            return redirect("commerce:store", pk=shown.pk)
    return render(request, "commerce/stores/store.html", _context(user, shown, WebhookSecretForm(), form))


@require_POST
def store_webhook_secret(request, pk):
    """Set or rotate the secret; rendered, not redirected: the secret exists only in this response."""
    user = require(request, CHANGE)
    shown = _store(user, pk, "change")
    form = WebhookSecretForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "commerce/stores/store.html",
            _context(user, shown, form, _settings_form(shown)),
            status=400,
        )
    secret = form.cleaned_data["secret"] or new_webhook_secret()
    set_webhook_secret(shown, secret, actor=user)
    response = render(
        request,
        "commerce/stores/store.html",
        _context(user, shown, WebhookSecretForm(), _settings_form(shown), new_secret=secret),
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def store_api(request, pk):
    user = require(request, CHANGE)
    shown = _store(user, pk, "change")
    form = ApiForm(request.POST, store=shown)
    if not form.is_valid():
        return render(
            request,
            "commerce/stores/store.html",
            _context(user, shown, WebhookSecretForm(), _settings_form(shown), api_form=form),
            status=400,
        )
    data = form.cleaned_data
    set_api_credentials(
        shown, api_url=data["api_url"], api_key=data["api_key"], secret=data["api_secret"] or None, actor=user
    )
    messages.success(request, _("Reconciliation settings of %(name)s were saved.") % {"name": shown.name})
    return redirect("commerce:store", pk=shown.pk)


def _store(user, pk: int, action: str) -> Store:
    return get_object_or_404(
        Store.objects.restrict(user, action).select_related("unit").annotate(order_count=Count("orders")),
        pk=pk,
    )


def _settings_form(shown: Store, data=None) -> StoreForm:
    return StoreForm(
        data, initial={"name": shown.name, "currency": shown.currency, "time_zone": shown.time_zone}
    )


def _context(
    user,
    shown: Store,
    secret_form: WebhookSecretForm,
    settings_form: StoreForm,
    new_secret: str = "",
    api_form: ApiForm | None = None,
) -> dict:
    platform = PLATFORMS.get(shown.channel)
    return {
        "reconciles": shown.channel in RECONCILED_CHANNELS,
        "api_form": api_form
        or ApiForm(store=shown, initial={"api_url": shown.api_url, "api_key": shown.api_key}),
        "has_api_secret": bool(shown.api_secret),
        "store": shown,
        "webhook_url": webhook_url(shown),
        "webhook_path": webhook_path(shown),
        "webhook_topics": platform.subscribe if platform else (),
        "has_secret": bool(shown.webhook_secret),
        "old_secret_until": shown.old_secret_accepted_until,
        "can_change": user.has_permission(CHANGE),
        "form": secret_form,
        "settings_form": settings_form,
        "new_secret": new_secret,
    }
