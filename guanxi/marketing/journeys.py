"""The built-in journeys of the seeds, installed disabled with zh-Hans and en SMS templates: seed 000's
订单中心 care (welcome, 催付 with exit on pay, shipped, delivered, 好评签收提醒), birthday with a gift
coupon, holiday greetings (618, Double 11), win-back for customers in 退化期 (seed 002), seed 004's
cart-abandonment coupon with an expiry, and the tier upgrade congratulation. Installing again updates
each flow's draft to the shipped definition (by key) and leaves enrolments alone."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.marketing import actions
from guanxi.marketing.models import Flow
from guanxi.marketing.phrases import JOURNEYS_INSTALLED

SIGN_OFF = "回复TD退订"


def _sms(zh: str, en: str) -> dict[str, dict[str, str]]:
    return {"zh-hans": {"body": zh}, "en": {"body": en}}


# key: (name, purpose, contents)
TEMPLATES: dict[str, tuple[str, str, dict]] = {
    "mk_welcome": (
        "欢迎新会员",
        "marketing",
        _sms(
            "{{ customer.name }}，欢迎加入{{ shop.name }}会员！首单享会员价。" + SIGN_OFF,
            "{{ customer.name }}, welcome to {{ shop.name }} membership: member prices on your first order. Reply TD to unsubscribe",
        ),
    ),
    "mk_unpaid": (
        "催付提醒",
        "transactional",
        _sms(
            "{{ customer.name }}，您在{{ order.store }}的订单 {{ order.number }} 还未付款，商品已为您保留，请尽快完成支付。",
            "{{ customer.name }}, your order {{ order.number }} at {{ order.store }} is not paid yet; we are holding the items for you.",
        ),
    ),
    "mk_shipped": (
        "发货提醒",
        "transactional",
        _sms(
            "{{ customer.name }}，您的订单 {{ order.number }} 已发货，请留意查收。",
            "{{ customer.name }}, your order {{ order.number }} has shipped.",
        ),
    ),
    "mk_delivered": (
        "到达提醒",
        "transactional",
        _sms(
            "{{ customer.name }}，您的订单 {{ order.number }} 已到达，请及时签收。",
            "{{ customer.name }}, your order {{ order.number }} has arrived.",
        ),
    ),
    "mk_review": (
        "好评签收提醒",
        "transactional",
        _sms(
            "{{ customer.name }}，订单 {{ order.number }} 已签收，用得满意的话请给我们一个好评，谢谢！",
            "{{ customer.name }}, order {{ order.number }} was signed for. If you like it, please leave us a review.",
        ),
    ),
    "mk_birthday": (
        "生日祝福",
        "marketing",
        _sms(
            "{{ customer.name }}，生日快乐！送您生日券 {{ coupon.code }}，{{ coupon.expires }} 前有效。"
            + SIGN_OFF,
            "Happy birthday, {{ customer.name }}! Your gift coupon {{ coupon.code }} is valid until {{ coupon.expires }}. Reply TD to unsubscribe",
        ),
    ),
    "mk_holiday": (
        "节日问候",
        "marketing",
        _sms(
            "{{ customer.name }}，节日快乐！{{ shop.name }}会员专享活动已开启。" + SIGN_OFF,
            "Season's greetings, {{ customer.name }}! Member offers at {{ shop.name }} have started. Reply TD to unsubscribe",
        ),
    ),
    "mk_winback": (
        "老客召回",
        "marketing",
        _sms(
            "{{ customer.name }}，好久不见！送您回归券 {{ coupon.code }}，{{ coupon.expires }} 前有效。"
            + SIGN_OFF,
            "We miss you, {{ customer.name }}! Your welcome-back coupon {{ coupon.code }} is valid until {{ coupon.expires }}. Reply TD to unsubscribe",
        ),
    ),
    "mk_cart": (
        "购物车挽回",
        "marketing",
        _sms(
            "{{ customer.name }}，购物车里的宝贝还在等您，送您 {{ coupon.code }}，{{ coupon.expires }} 前有效。"
            + SIGN_OFF,
            "{{ customer.name }}, your cart is waiting: coupon {{ coupon.code }} until {{ coupon.expires }}. Reply TD to unsubscribe",
        ),
    ),
    "mk_tier_up": (
        "会员升级祝贺",
        "transactional",
        _sms(
            "{{ customer.name }}，恭喜您升级为更高等级会员，更多权益已生效！",
            "Congratulations, {{ customer.name }}: you have reached a higher membership tier.",
        ),
    ),
}


@dataclass(frozen=True)
class Journey:
    key: str
    name: Any
    description: Any
    definition: dict[str, Any]
    reentry: str = Flow.Reentry.EVERY_TRIGGER
    coupon: tuple[str, int, int] | None = None  # (name, amount off, valid days) for its coupon step


def _send(step_id: str, template: str, **extra: Any) -> dict[str, Any]:
    purpose = TEMPLATES[template][1]
    return {"id": step_id, "kind": "send", "template": template, "purpose": purpose, **extra}


JOURNEYS = (
    Journey(
        "welcome",
        _("Welcome new member"),
        _("A welcome message when a customer joins the loyalty programme."),
        {
            "trigger": {"kind": "member_joined"},
            "steps": [_send("welcome", "mk_welcome")],
            "goal": "order_placed",
        },
        reentry=Flow.Reentry.ONCE,
    ),
    Journey(
        "unpaid",
        _("Unpaid order reminder (催付)"),
        _("30 minutes after an order is placed and still unpaid, one reminder; paying leaves the flow."),
        {
            "trigger": {"kind": "order_placed", "unpaid_only": True},
            "steps": [
                {"id": "wait", "kind": "wait", "minutes": 30, "after_trigger": True},
                _send("remind", "mk_unpaid"),
            ],
            "exit": ["order_paid"],
        },
    ),
    Journey(
        "shipped",
        _("Order shipped"),
        _("Tells the customer their order has shipped."),
        {
            "trigger": {"kind": "order_shipped"},
            "steps": [_send("notice", "mk_shipped")],
            "exit": ["order_refunded"],
        },
    ),
    Journey(
        "delivered",
        _("Order arrived"),
        _("Tells the customer their order has arrived (物流到达地提醒)."),
        {"trigger": {"kind": "order_delivered"}, "steps": [_send("notice", "mk_delivered")]},
    ),
    Journey(
        "review",
        _("Review request after sign-off (好评签收提醒)"),
        _("The day after an order is signed for, at 10:00, asks for a review; a refund leaves the flow."),
        {
            "trigger": {"kind": "order_delivered"},
            "steps": [{"id": "wait", "kind": "wait", "days": 1, "at": "10:00"}, _send("ask", "mk_review")],
            "exit": ["order_refunded"],
        },
    ),
    Journey(
        "birthday",
        _("Birthday gift coupon"),
        _("On the customer's birthday at 9:00 (their unit's time), a gift coupon and a greeting."),
        {
            "trigger": {"kind": "birthday", "offset_days": 0},
            "steps": [
                {"id": "morning", "kind": "wait", "at": "09:00"},
                {"id": "gift", "kind": "coupon", "coupon_template": None},
                _send("greet", "mk_birthday"),
            ],
            "goal": "order_placed",
        },
        coupon=("生日券满100减20", 20, 14),
    ),
    Journey(
        "holiday-618",
        _("618 greeting"),
        _("A greeting to every customer of the unit on 18 June."),
        {
            "trigger": {"kind": "fixed_date", "month_day": "06-18"},
            "steps": [{"id": "morning", "kind": "wait", "at": "10:00"}, _send("greet", "mk_holiday")],
            "goal": "order_placed",
        },
    ),
    Journey(
        "holiday-double11",
        _("Double 11 greeting"),
        _("A greeting to every customer of the unit on 11 November."),
        {
            "trigger": {"kind": "fixed_date", "month_day": "11-11"},
            "steps": [{"id": "morning", "kind": "wait", "at": "10:00"}, _send("greet", "mk_holiday")],
            "goal": "order_placed",
        },
    ),
    Journey(
        "win-back",
        _("Win back customers in decline (退化期)"),
        _("When a customer enters the decline stage: a coupon and a message; an order leaves the flow."),
        {
            "trigger": {"kind": "segment_entered", "segment": None},
            "steps": [
                {"id": "gift", "kind": "coupon", "coupon_template": None},
                _send("invite", "mk_winback"),
                {"id": "wait", "kind": "wait", "days": 14},
            ],
            "exit": ["order_placed"],
            "goal": "order_placed",
        },
        reentry=Flow.Reentry.NOT_WHILE_ACTIVE,
        coupon=("回归券满200减40", 40, 14),
    ),
    Journey(
        "cart",
        _("Abandoned cart coupon"),
        _("An hour after an item goes in the cart with no order since: a coupon valid 3 days and a nudge."),
        {
            "trigger": {"kind": "cart_abandoned"},
            "steps": [
                {"id": "wait", "kind": "wait", "minutes": 60, "after_trigger": True},
                {"id": "gift", "kind": "coupon", "coupon_template": None},
                _send("nudge", "mk_cart"),
            ],
            "exit": ["order_placed"],
            "goal": "order_placed",
        },
        reentry=Flow.Reentry.NOT_WHILE_ACTIVE,
        coupon=("购物车券满99减10", 10, 3),
    ),
    Journey(
        "tier-upgrade",
        _("Tier upgrade congratulation"),
        _("Congratulates a member who reached a higher tier."),
        {"trigger": {"kind": "tier_changed"}, "steps": [_send("congratulate", "mk_tier_up")]},
    ),
)

DECLINE_SEGMENT_KEY = "lifecycle-decline"


def _decline_segment(unit: Any) -> Any:
    from guanxi.segments import actions as segments
    from guanxi.segments.models import Segment

    key = f"{DECLINE_SEGMENT_KEY}-{unit.pk}"
    existing = Segment.objects.filter(key=key).first()
    if existing is not None:
        return existing
    return segments.create_segment(
        actor=None,
        name=str(_("Customers in decline (退化期)")),
        rule={
            "version": 1,
            "root": {"type": "metric", "field": "lifecycle_stage", "op": "eq", "value": "decline"},
        },
        unit=unit,
        key=key,
    )


def _coupon(unit: Any, spec: tuple[str, int, int]) -> Any:
    from guanxi.loyalty import actions as loyalty
    from guanxi.loyalty.models import CouponTemplate, Programme

    programme = Programme.objects.filter(unit=unit).first()
    if programme is None:
        return None
    name, amount, days = spec
    existing = CouponTemplate.objects.filter(programme=programme, name=name).first()
    if existing is not None:
        return existing
    return loyalty.save_coupon_template(
        programme,
        name=name,
        kind="spend_save",
        min_spend=Decimal(amount * 5),
        amount_off=Decimal(amount),
        valid_days=days,
    )


@transaction.atomic
def install(unit: Any, *, actor: Any = None) -> list[Flow]:
    """Install (or update) the templates and the built-in journeys for `unit`, each disabled (a new
    flow) or left in its status (an existing one), its shipped definition published."""
    from guanxi.messaging import actions as messaging
    from guanxi.messaging.models import Template

    for key, (name, purpose, contents) in TEMPLATES.items():
        if not Template.objects.filter(unit=unit, key=key).exists():
            messaging.save_template(
                key=key, name=name, medium="sms", purpose=purpose, contents=contents, unit=unit
            )
    installed = []
    for journey in JOURNEYS:
        definition = {**journey.definition, "steps": [dict(step) for step in journey.definition["steps"]]}
        if journey.coupon is not None:
            coupon = _coupon(unit, journey.coupon)
            if coupon is None:
                definition["steps"] = [s for s in definition["steps"] if s["kind"] != "coupon"]
            else:
                for step in definition["steps"]:
                    if step["kind"] == "coupon":
                        step["coupon_template"] = coupon.pk
        if definition["trigger"].get("kind") == "segment_entered":
            definition["trigger"] = {**definition["trigger"], "segment": _decline_segment(unit).pk}
        flow = Flow.objects.filter(unit=unit, key=journey.key).first()
        flow = actions.save_flow(
            unit=unit,
            actor=actor,
            flow=flow,
            key=journey.key,
            name=str(journey.name),
            description=str(journey.description),
            reentry=journey.reentry,
        )
        current = flow.current_version.definition if flow.current_version else None
        if current != definition:
            actions.publish(flow, definition, actor=actor)
        installed.append(flow)
    audit.record(
        AuditEntry.Action.CREATE,
        actor=actor,
        unit=unit,
        object_type="marketing.flow",
        message=JOURNEYS_INSTALLED(count=len(installed)),
    )
    return installed
