"""The demo's marketing: the built-in journeys of every unit installed and the care flows switched on
three days ago and run over the demo's own orders and carts; seed 000's Mother's Day campaign to the
ready-made Mother's Day audience, sent on the last Mother's Day with its holdout and a coupon; and a
Double 11 A/B test whose shoppers answered variant B more often, so its report names a winner.

The shoppers' answers to the two campaigns are simulated orders (the demo's own data cannot react to a
campaign); everything else goes through the marketing actions and engine."""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce import actions as commerce
from guanxi.commerce.models import Store
from guanxi.commerce.records import LineRecord, OrderRecord, PersonRecord
from guanxi.customers.models import Identity
from guanxi.marketing import actions, engine, journeys
from guanxi.marketing.models import Campaign, Flow, Recipient

LIVE = ("unpaid", "shipped", "delivered", "review", "cart", "birthday", "welcome", "tier-upgrade")
SHANGHAI = ZoneInfo("Asia/Shanghai")

NAMES = {"mk_mothers_day": "母亲节关怀", "mk_double11_a": "双十一 A 版", "mk_double11_b": "双十一 B 版"}
# The demo's campaign templates, named as a merchant would name them (the key is a code).
TEMPLATE_NAMES = {
    "mk_mothers_day": "母亲节关怀短信",
    "mk_double11_a": "双十一短信 A 版",
    "mk_double11_b": "双十一短信 B 版",
}
TEMPLATES = {
    "mk_mothers_day": {
        "zh-hans": {
            "body": "{{ customer.name }}，母亲节快乐！送您 {{ coupon.name }} {{ coupon.code }}，{{ coupon.expires }} 前有效。回复TD退订"
        },
        "en": {
            "body": "Happy Mother's Day, {{ customer.name }}! {{ coupon.name }}: {{ coupon.code }}, valid until {{ coupon.expires }}. Reply TD to unsubscribe"
        },
    },
    "mk_double11_a": {
        "zh-hans": {"body": "{{ customer.name }}，双十一会员价已开启。回复TD退订"},
        "en": {"body": "{{ customer.name }}, Double 11 member prices are on. Reply TD to unsubscribe"},
    },
    "mk_double11_b": {
        "zh-hans": {"body": "{{ customer.name }}，双十一专属：满299减50，仅限今天！回复TD退订"},
        "en": {
            "body": "{{ customer.name }}, Double 11 for you: 50 off 299, today only. Reply TD to unsubscribe"
        },
    },
}


def mothers_day(year: int) -> date:
    """The second Sunday of May."""
    first = date(year, 5, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7)


def _programme(unit: BusinessUnit):
    from guanxi.loyalty import actions as loyalty
    from guanxi.loyalty.models import Programme

    programme = Programme.objects.filter(unit=unit).first()
    return programme or loyalty.create_programme(unit=unit, name=f"{unit.name}会员")


def _answers(store: Store, campaign: Campaign, rates: dict[str, float], rng: random.Random) -> int:
    """Orders of the recipients within the attribution window, at the given rate per group."""
    sent = campaign.sent_at
    assert sent is not None
    phones = dict(
        Identity.objects.filter(
            kind=Identity.Kind.PHONE,
            customer_id__in=Recipient.objects.filter(campaign=campaign).values("customer_id"),
        ).values_list("customer_id", "value")
    )
    records = []
    for customer_id, group in Recipient.objects.filter(campaign=campaign).values_list("customer_id", "group"):
        if customer_id not in phones or rng.random() >= rates[group]:
            continue
        paid = sent + timedelta(hours=rng.randint(2, 24 * (campaign.attribution_days - 1)))
        total = Decimal(rng.choice((199, 239, 299, 358, 468)))
        person = PersonRecord()
        person.add("phone", phones[customer_id])
        number = f"MK{campaign.pk}-{customer_id}"
        records.append(
            OrderRecord(
                external_id=number,
                number=number,
                status="completed",
                placed_at=paid,
                paid_at=paid,
                total_amount=total,
                currency="CNY",
                lines=[LineRecord(1, "家纺礼盒", 1, total, total)],
                person=person,
            )
        )
    for start in range(0, len(records), 500):
        commerce.apply_orders(store, records[start : start + 500])
    return len(records)


def install_demo_marketing(seed: int = 14) -> dict[str, int]:
    from guanxi.loyalty import actions as loyalty
    from guanxi.messaging import actions as messaging
    from guanxi.segments.models import Segment

    rng = random.Random(seed)
    now = timezone.now()
    counts = {"flows": 0, "live_flows": 0, "enrolled": 0, "steps": 0, "campaigns": 0, "answers": 0}
    for unit in BusinessUnit.objects.order_by("pk"):
        programme = _programme(unit)
        flows = journeys.install(unit)
        counts["flows"] += len(flows)
        for flow in flows:
            if flow.key in LIVE:
                actions.set_status(flow, Flow.Status.ACTIVE, now=now - timedelta(days=3))
                counts["live_flows"] += 1
        counts["enrolled"] += engine.scan(now) + sum(
            engine.enrol(flow, engine.occurrences(flow, None, now), now)
            for flow in engine.active_flows([unit.pk])
            if flow.current_version
            and flow.current_version.definition["trigger"]["kind"] not in ("birthday", "fixed_date")
            and flow.current_version.definition["trigger"]["kind"] not in engine.steps.SCANNED_TRIGGERS
        )
        counts["steps"] += engine.run_due(now).steps
        for key, contents in TEMPLATES.items():
            messaging.save_template(
                key=key,
                name=TEMPLATE_NAMES[key],
                medium="sms",
                purpose="marketing",
                contents=contents,
                unit=unit,
            )
        store = Store.objects.filter(unit=unit).order_by("pk").first()
        audience = Segment.objects.filter(key="mothers-day").first()
        if store is None or audience is None:
            continue
        coupon = loyalty.save_coupon_template(
            programme, name="母亲节满199减30", kind="spend_save", min_spend=199, amount_off=30, valid_days=14
        )
        day = mothers_day(now.year if now.date() > mothers_day(now.year) else now.year - 1)
        sent_at = datetime.combine(day, time(10), tzinfo=SHANGHAI)
        mothers = actions.save_campaign(
            unit=unit,
            name="母亲节关怀" if unit.pk == 1 else f"母亲节关怀 · {unit.name}",
            key="mothers-day",
            segment=audience,
            template="mk_mothers_day",
            coupon=coupon,
            channel="sms",
            scheduled_at=sent_at,
        )
        actions.approve(mothers)
        actions.send_campaign(mothers, now=sent_at)
        counts["answers"] += _answers(store, mothers, {"holdout": 0.05, "a": 0.08, "b": 0.08}, rng)
        double11 = actions.save_campaign(
            unit=unit,
            name="双十一 A/B",
            key="double11-ab",
            segment=audience,
            template="mk_double11_a",
            template_b="mk_double11_b",
            b_percent=Decimal(50),
            channel="sms",
            attribution_days=3,
            scheduled_at=datetime.combine(date(day.year - 1, 11, 11), time(9), tzinfo=SHANGHAI),
        )
        actions.approve(double11)
        actions.send_campaign(double11, now=double11.scheduled_at)
        counts["answers"] += _answers(store, double11, {"holdout": 0.04, "a": 0.06, "b": 0.14}, rng)
        counts["campaigns"] += 2
    return counts
