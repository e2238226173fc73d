"""Store pages: the stores of the user's units, and one store with its webhook set-up.

The webhook secret is write-only here: it is shown in the one response that sets it (generated
or pasted), never again, and the page only says whether one is set.
"""

import secrets

from django import forms
from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.commerce.actions import set_webhook_secret
from guanxi.commerce.models import Channel, Store
from guanxi.core.access import require

VIEW = "commerce.view"
CHANGE = "commerce.change"
# Webhook endpoints (guanxi.commerce.webhook_urls) and the topics each platform should send.
WEBHOOKS: dict[str, tuple[str, tuple[str, ...]]] = {
    Channel.SHOPIFY: ("webhooks:shopify", ("orders/create", "orders/updated", "customers/create")),
    Channel.WOOCOMMERCE: ("webhooks:woocommerce", ("order.created", "order.updated")),
}
GENERATED_SECRET_BYTES = 32


class WebhookSecretForm(forms.Form):
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        min_length=16,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_(
            "Paste the signing secret the platform shows (Shopify), or leave empty to generate one "
            "to paste into the platform (WooCommerce)."
        ),
    )


@require_GET
def store_list(request):
    user = require(request, VIEW)
    stores = (
        Store.objects.restrict(user, "view")
        .select_related("unit")
        .annotate(order_count=Count("orders"))
        .order_by("unit__code", "name")
    )
    return render(request, "commerce/stores/store_list.html", {"stores": stores})


@require_GET
def store(request, pk):
    user = require(request, VIEW)
    shown = _store(user, pk, "view")
    return render(request, "commerce/stores/store.html", _context(request, user, shown, WebhookSecretForm()))


@require_POST
def store_webhook_secret(request, pk):
    """Set or rotate the secret; rendered, not redirected: the secret exists only in this response."""
    user = require(request, CHANGE)
    shown = _store(user, pk, "change")
    form = WebhookSecretForm(request.POST)
    if not form.is_valid():
        return render(request, "commerce/stores/store.html", _context(request, user, shown, form), status=400)
    secret = form.cleaned_data["secret"] or secrets.token_urlsafe(GENERATED_SECRET_BYTES)
    set_webhook_secret(shown, secret, actor=user)
    response = render(
        request,
        "commerce/stores/store.html",
        _context(request, user, shown, WebhookSecretForm(), new_secret=secret),
    )
    response["Cache-Control"] = "no-store"
    return response


def _store(user, pk: int, action: str) -> Store:
    return get_object_or_404(
        Store.objects.restrict(user, action).select_related("unit").annotate(order_count=Count("orders")),
        pk=pk,
    )


def _context(request, user, shown: Store, form: WebhookSecretForm, new_secret: str = "") -> dict:
    url_name, topics = WEBHOOKS.get(shown.channel, ("", ()))
    return {
        "store": shown,
        "webhook_url": request.build_absolute_uri(reverse(url_name, args=[shown.source])) if url_name else "",
        "webhook_topics": topics,
        "has_secret": bool(shown.webhook_secret),
        "can_change": user.has_permission(CHANGE),
        "form": form,
        "new_secret": new_secret,
    }
