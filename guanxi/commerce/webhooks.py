"""Live connectors: Shopify and WooCommerce webhooks, authenticated by their HMAC signature.

The signature (base64 HMAC-SHA256 of the raw body with the store's webhook secret, compared in
constant time) is the only authentication, so a request that fails it stores nothing. An
accepted delivery is recorded by the sender's event id (a replay changes nothing) together with an
inbox row holding its body, in the one transaction whose commit the 200 acknowledges; a worker
applies the inbox (guanxi.commerce.inbox, ADR 0040). Senders time out after a few seconds and retry,
so the answer must not wait for the work. Orders carry the platform's `updated_at`, so an older
update applied after a newer one is recorded as stale and changes nothing. While the database is
unreachable the answer is 503, which senders retry, never a 500.
"""

import base64
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, IntegrityError, InterfaceError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from guanxi.commerce.actions import apply_orders, resolve_people
from guanxi.commerce.importers.platform import RowRejected
from guanxi.commerce.importers.shopify import shopify_order, shopify_person
from guanxi.commerce.importers.woocommerce import woocommerce_order
from guanxi.commerce.models import Channel, Store, WebhookDelivery, WebhookInbox
from guanxi.commerce.records import OrderRecord

logger = logging.getLogger("guanxi.webhooks")
MAX_BODY_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Platform:
    channel: str
    signature_header: str
    topic_header: str
    event_id_headers: tuple[str, ...]
    order_topics: frozenset[str]
    customer_topics: frozenset[str]
    url_name: str  # the endpoint, in guanxi.commerce.webhook_urls
    subscribe: tuple[str, ...]  # the topics a merchant should create webhooks for


SHOPIFY = Platform(
    channel=Channel.SHOPIFY,
    url_name="webhooks:shopify",
    subscribe=("orders/create", "orders/updated", "customers/create"),
    signature_header="X-Shopify-Hmac-Sha256",
    topic_header="X-Shopify-Topic",
    event_id_headers=("X-Shopify-Event-Id", "X-Shopify-Webhook-Id"),
    order_topics=frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled"}),
    customer_topics=frozenset({"customers/create", "customers/update"}),
)
WOOCOMMERCE = Platform(
    channel=Channel.WOOCOMMERCE,
    url_name="webhooks:woocommerce",
    subscribe=("order.created", "order.updated"),
    signature_header="X-WC-Webhook-Signature",
    topic_header="X-WC-Webhook-Topic",
    event_id_headers=("X-WC-Webhook-Delivery-ID",),
    order_topics=frozenset({"order.created", "order.updated"}),
    customer_topics=frozenset(),
)
PLATFORMS = {platform.channel: platform for platform in (SHOPIFY, WOOCOMMERCE)}


MIN_SECRET_LENGTH = 16
GENERATED_SECRET_BYTES = 32


def new_webhook_secret() -> str:
    """A secret for platforms that take one from us (WooCommerce)."""
    return secrets.token_urlsafe(GENERATED_SECRET_BYTES)


def signature_of(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_is_valid(secret: str, body: bytes, signature: str) -> bool:
    if not secret or not signature:
        return False
    return hmac.compare_digest(signature_of(secret, body).encode(), signature.strip().encode())


def signed_by_store(store: Store, body: bytes, signature: str) -> bool:
    """Signed with the store's secret, or with the one a rotation replaced while it is still valid
    (guanxi.commerce.actions.set_webhook_secret)."""
    if signature_is_valid(store.webhook_secret, body, signature):
        return True
    return store.old_secret_accepted_until is not None and signature_is_valid(
        store.previous_webhook_secret, body, signature
    )


def webhook_path(store: Store) -> str | None:
    """The path of the store's webhook endpoint; None for a channel without a webhook connector."""
    platform = PLATFORMS.get(store.channel)
    return reverse(platform.url_name, args=[store.source]) if platform else None


def webhook_url(store: Store) -> str | None:
    """The address a platform should send the store's webhooks to: the public base URL
    (GUANXI_PUBLIC_URL, an address the platform can reach, never this machine's own) and the
    endpoint's path. None without a connector or while no public URL is configured."""
    path = webhook_path(store)
    return settings.GUANXI_PUBLIC_URL + path if path and settings.GUANXI_PUBLIC_URL else None


@csrf_exempt
@login_not_required
@require_POST
def shopify(request: HttpRequest, source: str) -> JsonResponse:
    return receive(request, source, SHOPIFY)


@csrf_exempt
@login_not_required
@require_POST
def woocommerce(request: HttpRequest, source: str) -> JsonResponse:
    return receive(request, source, WOOCOMMERCE)


# Seconds a sender is asked to wait before retrying while the database is unreachable.
RETRY_AFTER_SECONDS = 5


def receive(request: HttpRequest, source: str, platform: Platform) -> JsonResponse:
    try:
        return _receive(request, source, platform)
    except (DatabaseError, InterfaceError):
        # The database is down or restarting: nothing was acknowledged, so the sender must retry.
        logger.warning("Database unavailable; %s webhook for %s refused with 503", platform.channel, source)
        return unavailable()


def unavailable() -> JsonResponse:
    response = JsonResponse({"detail": _("Temporarily unavailable; retry later.")}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _receive(request: HttpRequest, source: str, platform: Platform) -> JsonResponse:
    from guanxi.commerce.tasks import wake_inbox

    body = request.body
    # No user is signed in here: the signature authenticates the sender for this one store.
    store = Store.objects.filter(source=source, channel=platform.channel).first()
    signature = request.headers.get(platform.signature_header, "")
    if store is None or len(body) > MAX_BODY_BYTES or not signed_by_store(store, body, signature):
        # One answer for an unknown store and a bad signature: the caller learns nothing.
        logger.warning("Rejected %s webhook for %s: missing or invalid signature", platform.channel, source)
        return JsonResponse({"detail": _("Missing or invalid webhook signature.")}, status=401)
    topic = request.headers.get(platform.topic_header, "").strip()[:64]
    digest = hashlib.sha256(body).hexdigest()
    event_id = next(
        (request.headers[name].strip() for name in platform.event_id_headers if request.headers.get(name)),
        f"sha256:{digest}",
    )[:128]
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                platform=platform.channel,
                store=store,
                unit_id=store.unit_id,
                event_id=event_id,
                topic=topic,
                payload_sha256=digest,
                status=WebhookDelivery.Status.QUEUED,
            )
            WebhookInbox.objects.create(delivery=delivery, store=store, body=body)
            wake_inbox()
    except IntegrityError:
        # Delivered before (or concurrently): the first delivery's outcome stands.
        return JsonResponse({"status": "duplicate"})
    return JsonResponse({"status": "queued"})


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and the senders' operators: 200 while webhooks can be accepted, else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except (DatabaseError, InterfaceError):
        return unavailable()
    return JsonResponse({"status": "ok"})


def apply_delivery(store: Store, platform_name: str, topic: str, body: bytes) -> tuple[str, str]:
    """Apply one accepted delivery; its status and message (called by the inbox worker)."""
    return _apply(PLATFORMS[platform_name], store, topic, body)


def parse_order(platform: Platform, store: Store, topic: str, body: bytes) -> OrderRecord | tuple[str, str]:
    """The order a delivery carries, or the (status, message) it ends with when it carries none: another
    topic, a customer (applied here), or a body that cannot be read."""
    if topic not in platform.order_topics | platform.customer_topics:
        return WebhookDelivery.Status.IGNORED, f"topic {topic!r} not handled"
    try:
        payload: Any = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        if topic in platform.customer_topics:
            person = shopify_person(payload, store.source)
            if person is not None:
                resolve_people([person], unit=store.unit, source=store.source)
            return WebhookDelivery.Status.PROCESSED, ""
        convert = shopify_order if platform is SHOPIFY else woocommerce_order
        return convert(payload, store.source)
    except (ValueError, RowRejected) as error:
        # Acknowledged all the same: a retry of a malformed body cannot succeed, and senders
        # disable endpoints that keep failing. The delivery row says what was wrong.
        reason = f"{error.column}: {error.code}" if isinstance(error, RowRejected) else "invalid JSON"
        return WebhookDelivery.Status.FAILED, reason


def _apply(platform: Platform, store: Store, topic: str, body: bytes) -> tuple[str, str]:
    parsed = parse_order(platform, store, topic, body)
    if isinstance(parsed, tuple):
        return parsed
    (outcome,) = apply_orders(store, [parsed])
    if outcome.status == "stale":
        return WebhookDelivery.Status.STALE, "older than the stored order"
    return WebhookDelivery.Status.PROCESSED, outcome.status
