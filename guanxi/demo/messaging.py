"""The demo's messaging: each unit's channels pointing at the local fake gateways that `guanxi demo`
starts, its sending rules, templates in Chinese and English, and a month of message history sent
through the real outbox (consent, suppression, budget and quiet hours decide, as they would live)."""

import random
from datetime import time, timedelta
from pathlib import Path

from django.db.models import F

from guanxi.accounts.models import BusinessUnit
from guanxi.customers.models import Customer
from guanxi.messaging import actions, sending
from guanxi.messaging import fake_gateways as fakes
from guanxi.messaging.models import ChannelAccount, Message

HTTP_PORT = 8026
SMTP_PORT = 8025
SIGNATURES = {"home": "关系家居", "beauty": "关系美妆"}
TEMPLATES = (
    (
        "order_shipped",
        "发货通知",
        "sms",
        "transactional",
        {
            "zh-hans": {
                "body": "{{ customer.name }}{{ customer.title }}，您在{{ order.store }}的订单 {{ order.number }} 已发货，请留意查收。"
            },
            "en": {
                "body": "{{ customer.name }}, your order {{ order.number }} from {{ order.store }} has shipped."
            },
        },
    ),
    (
        "payment_reminder",
        "催付提醒",
        "sms",
        "transactional",
        {
            "zh-hans": {
                "body": "{{ customer.name }}{{ customer.title }}，您的订单 {{ order.number }}（¥{{ order.total }}）还未付款，库存有限，请尽快完成支付。"
            },
            "en": {
                "body": "{{ customer.name }}, order {{ order.number }} ({{ order.total }} {{ order.currency }}) is waiting for payment."
            },
        },
    ),
    (
        "birthday",
        "生日关怀",
        "sms",
        "marketing",
        {
            "zh-hans": {
                "body": "{{ customer.name }}{{ customer.title }}，生日快乐！{{ shop.name }}为您准备了生日专享礼券，本月内有效。回复TD退订"
            },
            "en": {
                "body": "Happy birthday, {{ customer.name }}! A birthday voucher from {{ shop.name }} is waiting for you this month. Reply TD to unsubscribe"
            },
        },
    ),
    (
        "double11",
        "双十一会员日",
        "email",
        "marketing",
        {
            "zh-hans": {
                "subject": "{{ customer.name }}，双十一会员专享 8 折",
                "body": "{{ customer.name }}{{ customer.title }}：\n\n双十一会员日全场 8 折，满 299 包邮。\n\n不想再收到此类邮件？退订：{{ message.unsubscribe_url }}",
            },
            "en": {
                "subject": "{{ customer.name }}, 20% off for members on 11.11",
                "body": "Dear {{ customer.name }},\n\n20% off everything for members on 11.11.\n\nUnsubscribe: {{ message.unsubscribe_url }}",
            },
        },
    ),
)


def start_gateways(home: Path, http_port: int = HTTP_PORT, smtp_port: int = SMTP_PORT) -> fakes.Gateways:
    """The fake gateways the demo's channels point at; their ledger is `<home>/gateways/ledger.jsonl`."""
    folder = home / "gateways"
    folder.mkdir(parents=True, exist_ok=True)
    return fakes.Gateways(
        http_port=http_port,
        smtp_port=smtp_port,
        ledger=fakes.Ledger(path=folder / "ledger.jsonl"),
        state_dir=folder,
    ).start()


def install_demo_messaging(gateways: fakes.Gateways, *, history: int = 400, seed: int = 11) -> dict[str, int]:
    """Channels, rules and templates for every demo unit, then `history` customers' messages sent."""
    if ChannelAccount.objects.exists():
        return {"channels": 0, "messages": 0}
    rng = random.Random(seed)
    for unit in BusinessUnit.objects.filter(code__in=SIGNATURES).order_by("code"):
        actions.save_policy(
            unit,
            quiet_start=time(21),
            quiet_end=time(8),
            daily_cap=2,
            weekly_cap=5,
            consent_max_age_days=730,
            sms_signature=SIGNATURES[unit.code],
        )
        actions.save_channel(
            unit=unit,
            name="短信网关",
            kind="sms_http",
            values={
                "url": gateways.url("/sms/send"),
                "api_key": fakes.SMS_API_KEY,
                "honours_idempotency_key": True,
            },
        )
        actions.save_channel(
            unit=unit,
            name="会员邮件",
            kind="smtp",
            values={
                "host": "127.0.0.1",
                "port": gateways.smtp_port,
                "security": "starttls",
                "username": fakes.SMTP_USER,
                "password": fakes.SMTP_PASSWORD,
                "from_address": f"care@{unit.code}.guanxi-demo.cn",
                "from_name": SIGNATURES[unit.code],
                "ca_pem": gateways.smtp_ca_pem,
            },
        )
        actions.save_channel(
            unit=unit,
            name="订单系统 Webhook",
            kind="webhook",
            values={"url": gateways.url(f"/webhook/{unit.code}"), "signing_secret": fakes.WEBHOOK_SECRET},
        )
        for key, name, medium, purpose, contents in TEMPLATES:
            actions.save_template(
                key=key, name=name, medium=medium, purpose=purpose, contents=contents, unit=unit
            )
        people = list(
            Customer.objects.filter(unit_links__unit=unit, orders__isnull=False)
            .distinct()
            .order_by("pk")[:history]
        )
        for key, _name, medium, purpose, _contents in TEMPLATES:
            chosen = [person.pk for person in people if rng.random() < 0.5]
            actions.enqueue_many(
                unit=unit,
                customer_ids=chosen,
                purpose=purpose,
                send_key=f"demo:{key}",
                template=key,
                channel=medium,
                source=f"demo {key}",
            )
    report = sending.drain(seconds=120)
    _spread_over_the_last_month(rng)
    return {"channels": ChannelAccount.objects.count(), "messages": report.claimed}


def _spread_over_the_last_month(rng: random.Random) -> None:
    """The history was sent just now; spread it over the last 30 days so the statistics show a month."""
    for message in Message.objects.exclude(state__in=Message.PENDING_STATES).only("pk"):
        shift = timedelta(days=rng.randrange(0, 30), minutes=rng.randrange(0, 600))
        Message.objects.filter(pk=message.pk).update(
            created_at=F("created_at") - shift,
            started_at=F("started_at") - shift,
            sent_at=F("sent_at") - shift,
            finished_at=F("finished_at") - shift,
        )
