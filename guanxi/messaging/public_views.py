"""What people and gateways outside reach without signing in: the unsubscribe page (and its RFC 8058
one-click POST), and the callbacks a gateway posts delivery reports and replies to.

Each is authenticated by a signed token in its URL (Django signing with the install's secret): the
unsubscribe token names the message it was made for, the callback token the channel account.
"""

import json
import logging
from datetime import datetime

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from guanxi.messaging import actions
from guanxi.messaging.addresses import masked
from guanxi.messaging.models import DeliveryReport

logger = logging.getLogger("guanxi.messaging")
MAX_BODY = 1024 * 1024
# Generic gateways and Alibaba Cloud's pushed reports, by their status words.
REPORT_KINDS = {
    "DELIVERED": DeliveryReport.Kind.DELIVERED,
    "DELIVRD": DeliveryReport.Kind.DELIVERED,
    "FAILED": DeliveryReport.Kind.FAILED,
    "UNDELIVERED": DeliveryReport.Kind.FAILED,
    "HARD_BOUNCE": DeliveryReport.Kind.HARD_BOUNCE,
    "BOUNCED": DeliveryReport.Kind.HARD_BOUNCE,
    "SOFT_BOUNCE": DeliveryReport.Kind.SOFT_BOUNCE,
    "COMPLAINT": DeliveryReport.Kind.COMPLAINT,
}


@csrf_exempt
@login_not_required
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the page asking to confirm. POST: the opt-out — from the page's button, or a mail client's
    one-click request (body `List-Unsubscribe=One-Click`, RFC 8058), which needs no page at all."""
    message = actions.message_for_unsubscribe(token)
    if message is None:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        actions.unsubscribe(message, one_click=one_click, everything=request.POST.get("scope") == "all")
        if one_click:
            return HttpResponse(status=200)
        return render(request, "messaging/unsubscribe.html", {"done": True, "message": message})
    # Links get forwarded: the page names the address masked, never in full.
    shown = masked(message.medium, message.address)
    return render(request, "messaging/unsubscribe.html", {"message": message, "address": shown})


def _payload(request: HttpRequest) -> list[dict] | None:
    if len(request.body) > MAX_BODY:
        return None
    try:
        data = json.loads(request.body or b"[]")
    except ValueError:
        return None
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict)]


def _when(value: object) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


@csrf_exempt
@login_not_required
@require_POST
def reports(request: HttpRequest, token: str) -> JsonResponse:
    """Delivery reports: [{"id" | "reference", "status", "at"}] (generic) or Alibaba Cloud's pushed
    SmsReport items ({"biz_id", "out_id", "success", "err_code", "report_time"})."""
    channel = actions.channel_for_hook(token)
    items = _payload(request)
    if channel is None or items is None:
        return JsonResponse({"code": 1, "msg": "refused"}, status=404 if channel is None else 400)
    matched = 0
    for item in items:
        if "biz_id" in item or "out_id" in item:
            kind = (
                DeliveryReport.Kind.DELIVERED
                if item.get("success") in (True, "true")
                else DeliveryReport.Kind.FAILED
            )
            found = actions.record_report(
                channel,
                kind=kind,
                provider_id=str(item.get("biz_id", "")),
                send_key=str(item.get("out_id", "")),
                provider_status=str(item.get("err_code", "")),
                occurred_at=_when(item.get("report_time")),
            )
        else:
            status = str(item.get("status", "")).upper()
            found = actions.record_report(
                channel,
                kind=REPORT_KINDS.get(status, ""),
                provider_id=str(item.get("id", "")),
                send_key=str(item.get("reference", "")),
                provider_status=status,
                occurred_at=_when(item.get("at")),
            )
        matched += found is not None
    return JsonResponse({"code": 0, "msg": "ok", "matched": matched})


@csrf_exempt
@login_not_required
@require_POST
def inbound(request: HttpRequest, token: str) -> JsonResponse:
    """Replies: [{"id", "from", "text", "at"}] (generic) or Alibaba Cloud's pushed SmsUp items
    ({"phone_number", "content", "send_time", "sequence_id"})."""
    channel = actions.channel_for_hook(token)
    items = _payload(request)
    if channel is None or items is None:
        return JsonResponse({"code": 1, "msg": "refused"}, status=404 if channel is None else 400)
    for item in items:
        sender = str(item.get("from") or item.get("phone_number") or "")
        text = str(item.get("text") or item.get("content") or "")
        provider_id = str(
            item.get("id") or item.get("sequence_id") or f"{sender}:{item.get('at') or item.get('send_time')}"
        )
        if sender and text:
            actions.record_inbound(
                channel,
                provider_id=provider_id,
                sender=sender,
                text=text,
                received_at=_when(item.get("at") or item.get("send_time")),
            )
    return JsonResponse({"code": 0, "msg": "ok"})
