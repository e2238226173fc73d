"""What action steps do, through the other apps' public actions: a message through the messaging
outbox (send key = enrolment and step, so a retried step finds the message it queued), a coupon
through loyalty, a tag through the customer profile, points through the loyalty ledger, a ticket or
a follow-up call through the service desk, and a webhook through messaging's webhook channel (signed
with HMAC, retried with a backoff, refused towards private addresses by messaging's HTTP client).
Each runs inside the step's transaction, beside its UNIQUE StepRun: it happens once per enrolment."""

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from guanxi.customers import profile
from guanxi.customers.models import Tag
from guanxi.marketing.models import Enrolment, StepRun
from guanxi.marketing.steps import Step


def send_key(enrolment: Enrolment, step: Step) -> str:
    return f"flow:{enrolment.pk}:{step.id}"


def last_coupon(enrolment: Enrolment) -> dict[str, Any]:
    """The code the enrolment's latest coupon step gave, with its expiry as a date in the unit's zone."""
    run = StepRun.objects.filter(enrolment=enrolment, kind="coupon", outcome=StepRun.Outcome.DONE).last()
    if run is None:
        return {}
    expires = run.detail.get("expires", "")
    if expires:
        zone = ZoneInfo(enrolment.unit.time_zone)
        expires = datetime.fromisoformat(expires).astimezone(zone).strftime("%Y-%m-%d")
    return {"code": run.detail.get("code", ""), "expires": expires}


def perform(enrolment: Enrolment, step: Step, now: datetime) -> dict[str, Any]:
    params = step.params
    if step.kind == "send":
        from guanxi.messaging import actions as messaging

        context: dict[str, Any] = {}
        if enrolment.context.get("order_id"):
            context["order_id"] = enrolment.context["order_id"]
        coupon = last_coupon(enrolment)
        if coupon:
            context["coupon"] = coupon
        queued = messaging.enqueue_message(
            unit=enrolment.unit,
            purpose=params.get("purpose", "marketing"),
            send_key=send_key(enrolment, step),
            customer=enrolment.customer,
            channel=params.get("channel", "best"),
            template=params["template"],
            context=context,
            source=f"flow:{enrolment.flow_id}",
        )
        return {"message": queued.message.pk, "state": queued.message.state}
    if step.kind == "coupon":
        from guanxi.loyalty import actions as loyalty
        from guanxi.loyalty.models import CouponTemplate

        template = CouponTemplate.objects.filter(
            pk=params["coupon_template"], programme__unit_id=enrolment.unit_id, active=True
        ).first()
        if template is None:
            return {"skipped": "no_coupon_template"}
        code = loyalty.issue_coupons(template, [enrolment.customer_id], now=now)[0]
        return {
            "code": code.code,
            "template": template.pk,
            "expires": code.expires_at.isoformat() if code.expires_at else "",
        }
    if step.kind == "tag":
        tag = Tag.objects.filter(pk=params["tag"]).first()
        if tag is None:
            return {"skipped": "no_tag"}
        if params.get("remove"):
            changed = profile.remove_tag(enrolment.customer, tag, unit=enrolment.unit)
        else:
            changed = profile.add_tag(enrolment.customer, tag, unit=enrolment.unit)
        return {"tag": tag.pk, "changed": changed}
    if step.kind == "points":
        from guanxi.loyalty import actions as loyalty
        from guanxi.loyalty.models import Membership

        membership = (
            Membership.objects.filter(customer_id=enrolment.customer_id, programme__unit_id=enrolment.unit_id)
            .select_related("programme")
            .first()
        )
        if membership is None:
            return {"skipped": "not_a_member"}
        movement = loyalty.adjust_points(
            membership.programme,
            enrolment.customer,
            int(params.get("points", 0)),
            reason=f"flow {enrolment.flow_id}",
            now=now,
        )
        return {"movement": movement.pk, "points": int(params.get("points", 0))}
    if step.kind == "ticket":
        from guanxi.service import actions as service
        from guanxi.service.models import TicketChannel

        ticket = service.open_ticket(
            actor=None,
            unit=enrolment.unit,
            subject=params.get("subject") or enrolment.flow.name,
            customer=enrolment.customer,
            priority=params.get("priority", "normal"),
            channel=TicketChannel.API,
            body=params.get("note", ""),
            now=now,
        )
        return {"ticket": ticket.pk}
    if step.kind == "follow_up":
        from guanxi.service import actions as service

        follow_up = service.plan_follow_up(
            unit=enrolment.unit,
            customer=enrolment.customer,
            notes=params.get("subject") or enrolment.flow.name,
            now=now,
        )
        return {"follow_up": follow_up.pk}
    if step.kind == "webhook":
        from guanxi.messaging import actions as messaging

        payload = {
            "event": params.get("event") or "flow_step",
            "flow": enrolment.flow_id,
            "step": step.id,
            "enrolment": enrolment.pk,
            "customer": enrolment.customer_id,
            "trigger": enrolment.trigger_key,
            "context": {k: v for k, v in (enrolment.context or {}).items() if k != "awaiting"},
        }
        queued = messaging.enqueue_message(
            unit=enrolment.unit,
            purpose="transactional",
            send_key=send_key(enrolment, step),
            channel="webhook",
            subject=str(payload["event"]),
            body=json.dumps(payload, sort_keys=True),
            source=f"flow:{enrolment.flow_id}",
        )
        return {"message": queued.message.pk, "state": queued.message.state}
    raise ValueError(f"not an action step: {step.kind}")
