"""The outbox end to end through the public actions: queue, gates at send time, send, record."""

from datetime import UTC, timedelta

import pytest
import time_machine
from django.utils import timezone

from guanxi.commerce.tests.factories import make_customer
from guanxi.customers import profile
from guanxi.customers.models import Consent, Identity
from guanxi.messaging import actions, sending
from guanxi.messaging.models import ChannelKind, ContactPreference, Message, Suppression
from guanxi.messaging.tests.conftest import at

pytestmark = pytest.mark.django_db
State = Message.State

SHIPPED = {
    "zh-hans": {"body": "{{ customer.name }}{{ customer.title }}，您的订单 {{ order.number }} 已发货。"}
}
PROMO = {
    "zh-hans": {"body": "{{ customer.name }}，双十一会员价 8 折。回复TD退订"},
    "en": {"body": "{{ customer.name }}, 20% off for members. Reply TD to unsubscribe"},
}


@pytest.fixture
def sms(unit_a, make_channel):
    actions.save_policy(
        unit_a,
        quiet_start=at(2026, 1, 1, 21).time(),
        quiet_end=at(2026, 1, 1, 8).time(),
        daily_cap=2,
        weekly_cap=5,
        sms_signature="关系家纺",
    )
    channel = make_channel(unit_a, ChannelKind.SMS_HTTP)
    actions.save_template(
        key="order_shipped",
        name="发货通知",
        medium="sms",
        purpose="transactional",
        contents=SHIPPED,
        unit=unit_a,
    )
    actions.save_template(
        key="double11", name="双十一", medium="sms", purpose="marketing", contents=PROMO, unit=unit_a
    )
    return channel


def queue(unit, customer, key, template="double11", purpose="marketing", **extra):
    return actions.enqueue_message(
        unit=unit, customer=customer, purpose=purpose, send_key=key, template=template, channel="sms", **extra
    ).message


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_a_message_is_rendered_when_queued_sent_once_and_recorded(unit_a, shopper, sms, gateways):
    message = queue(
        unit_a, shopper, "order:TM20261111001:shipped", template="order_shipped", purpose="transactional"
    )
    assert (message.state, message.body, message.address) == (
        State.QUEUED,
        "王芳女士，您的订单 TM20261111001 已发货。",
        "+8613812345678",
    )
    assert message.send_key == f"order:TM20261111001:shipped:c{shopper.pk}:sms"
    again = actions.enqueue_message(
        unit=unit_a,
        customer=shopper,
        purpose="transactional",
        send_key="order:TM20261111001:shipped",
        template="order_shipped",
        channel="sms",
    )
    assert (again.created, again.message.pk) == (False, message.pk)

    report = sending.send_due()
    assert report.counts == {"sent": 1}
    message.refresh_from_db()
    assert message.state == State.SENT and message.sent_at is not None and message.claim_token is None
    assert message.started_at == timezone.now() and message.time_zone == "Asia/Shanghai"
    assert [(e.key, e.text) for e in gateways.ledger.of("sms")] == [
        (message.send_key, "【关系家纺】王芳女士，您的订单 TM20261111001 已发货。")
    ]
    assert sending.send_due().claimed == 0


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_marketing_needs_consent_evidence_at_send_time(unit_a, sms, gateways):
    silent = make_customer("李雷", [unit_a], phone="+8613900001111")  # never answered: no consent
    withdrawn = make_customer("韩梅梅", [unit_a], phone="+8613900002222")
    profile.record_consent(withdrawn, "sms", Consent.State.GRANTED, Consent.Method.CHECKBOX)
    stale = make_customer("张伟", [unit_a], phone="+8613900003333")
    profile.record_consent(
        stale,
        "sms",
        Consent.State.GRANTED,
        Consent.Method.CHECKBOX,
        recorded_at=timezone.now() - timedelta(days=400),
    )
    messages = [queue(unit_a, person, "promo:1") for person in (silent, withdrawn, stale)]
    profile.record_consent(withdrawn, "sms", Consent.State.WITHDRAWN, Consent.Method.VERBAL)  # after queueing
    policy = sms.unit
    actions.save_policy(
        policy,
        quiet_start=at(2026, 1, 1, 21).time(),
        quiet_end=at(2026, 1, 1, 8).time(),
        daily_cap=2,
        weekly_cap=5,
        consent_max_age_days=365,
        sms_signature="关系家纺",
    )

    assert sending.send_due().counts == {"dropped": 3}
    assert [
        (m.state, m.reason) for m in Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk")
    ] == [
        (State.DROPPED, "no_consent"),
        (State.DROPPED, "consent_withdrawn"),
        (State.DROPPED, "consent_expired"),
    ]
    assert gateways.ledger.of("sms") == []


def test_quiet_hours_hold_marketing_in_the_recipients_time_and_release_it_after(
    unit_a, shopper, sms, gateways
):
    ContactPreference.objects.create(customer=shopper, name="time_zone", value="Europe/Paris")
    with time_machine.travel(at(2026, 3, 28, 22, 30, zone="Europe/Paris"), tick=False):  # Saturday night
        message = queue(unit_a, shopper, "promo:night")
        notice = queue(unit_a, shopper, "order:1", template="order_shipped", purpose="transactional")
        assert sending.send_due().counts == {"held": 1, "sent": 1}  # transactional is exempt
        message.refresh_from_db()
        # DST starts that night in Paris: 08:00 on Sunday is 06:00 UTC, not 07:00.
        assert (message.state, message.reason, message.available_at) == (
            State.HELD,
            "quiet_hours",
            at(2026, 3, 29, 8, zone="Europe/Paris"),
        )
        assert message.available_at.astimezone(UTC).hour == 6
    with time_machine.travel(at(2026, 3, 29, 7, 59, zone="Europe/Paris"), tick=False):
        assert sending.send_due().claimed == 0
    with time_machine.travel(at(2026, 3, 29, 8, 0, zone="Europe/Paris"), tick=False):
        assert sending.send_due().counts == {"sent": 1}
    message.refresh_from_db()
    notice.refresh_from_db()
    assert (message.state, message.reason, message.time_zone, message.attempts) == (
        State.SENT,
        "",
        "Europe/Paris",
        1,
    )
    assert notice.state == State.SENT


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_one_budget_across_channels_per_local_day_transactional_exempt(
    unit_a, shopper, sms, make_channel, gateways
):
    make_channel(unit_a, ChannelKind.SMTP)
    actions.save_template(
        key="double11",
        name="双十一",
        medium="email",
        purpose="marketing",
        unit=unit_a,
        contents={
            "zh-hans": {
                "subject": "双十一",
                "body": "{{ customer.name }}，会员 8 折：{{ message.unsubscribe_url }}",
            }
        },
    )
    first = queue(unit_a, shopper, "promo:a")
    second = actions.enqueue_message(
        unit=unit_a,
        customer=shopper,
        purpose="marketing",
        send_key="promo:b",
        template="double11",
        channel="email",
    ).message
    third = queue(unit_a, shopper, "promo:c")
    notice = queue(unit_a, shopper, "order:2", template="order_shipped", purpose="transactional")
    assert sending.send_due().counts == {"sent": 3, "dropped": 1}
    marketing = Message.objects.filter(pk__in=[first.pk, second.pk, third.pk])
    assert sorted(marketing.values_list("state", "reason")) == [
        (State.DROPPED, "frequency_cap_day"),
        (State.SENT, ""),
        (State.SENT, ""),
    ]
    assert Message.objects.get(pk=notice.pk).state == State.SENT
    assert len(gateways.ledger.of("sms")) + len(gateways.ledger.of("email")) == 3


def test_the_weekly_budget_counts_the_recipients_iso_week(unit_a, shopper, sms, gateways):
    for day in range(9, 14):  # Monday 9 November to Friday 13, one a day
        with time_machine.travel(at(2026, 11, day, 12), tick=False):
            queue(unit_a, shopper, f"promo:{day}")
            assert sending.send_due().counts == {"sent": 1}
    with time_machine.travel(at(2026, 11, 14, 12), tick=False):
        late = queue(unit_a, shopper, "promo:14")
        assert sending.send_due().counts == {"dropped": 1}
    assert Message.objects.get(pk=late.pk).reason == "frequency_cap_week"
    with time_machine.travel(at(2026, 11, 16, 12), tick=False):  # a new week
        queue(unit_a, shopper, "promo:16")
        assert sending.send_due().counts == {"sent": 1}


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_an_opt_out_by_reply_drops_pending_marketing_and_writes_consent_evidence(
    unit_a, shopper, sms, gateways, client
):
    promo = queue(unit_a, shopper, "promo:x")
    notice = queue(unit_a, shopper, "order:3", template="order_shipped", purpose="transactional")
    hook = actions.hook_url(sms, "inbound").removeprefix("http://127.0.0.1:8000")
    response = client.post(
        hook, [{"id": "up-1", "from": "13812345678", "text": " 退订 "}], content_type="application/json"
    )
    assert response.status_code == 200
    client.post(
        hook, [{"id": "up-1", "from": "13812345678", "text": " 退订 "}], content_type="application/json"
    )  # redelivered
    promo.refresh_from_db()
    assert (promo.state, promo.reason) == (State.DROPPED, "suppressed_opt_out")
    consent = Consent.current_for(shopper.pk)["sms"]
    assert (consent.state, consent.method) == (Consent.State.WITHDRAWN, Consent.Method.REPLY)
    assert "退订" in consent.evidence and consent.source == "reply to sms_http channel"
    suppression = Suppression.objects.get()
    assert (suppression.medium, suppression.scope, suppression.masked_address) == (
        "sms",
        "marketing",
        "138****5678",
    )
    assert sending.send_due().counts == {"sent": 1}  # the shipping notice still goes
    notice.refresh_from_db()
    assert notice.state == State.SENT
    late = queue(unit_a, shopper, "promo:y")
    profile.record_consent(
        shopper, "sms", Consent.State.GRANTED, Consent.Method.CHECKBOX
    )  # the suppression still holds
    assert sending.send_due().counts == {"dropped": 1}
    assert Message.objects.get(pk=late.pk).reason == "suppressed_opt_out"


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_one_click_unsubscribe_and_the_unsubscribe_page(unit_a, shopper, make_channel, gateways, client):
    make_channel(unit_a, ChannelKind.SMTP)
    actions.save_template(
        key="news",
        name="月刊",
        medium="email",
        purpose="marketing",
        unit=unit_a,
        contents={"zh-hans": {"subject": "月刊", "body": "退订：{{ message.unsubscribe_url }}"}},
    )
    message = actions.enqueue_message(
        unit=unit_a,
        customer=shopper,
        purpose="marketing",
        send_key="news:11",
        template="news",
        channel="email",
    ).message
    link = actions.unsubscribe_url(message.send_key)
    assert message.body == f"退订：{link}"
    path = link.removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    assert page.status_code == 200 and "w***@guanxi-mail.cn" in page.content.decode()
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    message.refresh_from_db()
    assert (message.state, message.reason) == (State.DROPPED, "suppressed_opt_out")
    assert Consent.current_for(shopper.pk)["email"].method == Consent.Method.UNSUBSCRIBE_LINK
    assert client.get("/m/unsubscribe/forged-token/").status_code == 404


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_delivery_reports_and_hard_bounces_update_the_row(unit_a, shopper, sms, gateways, client):
    message = queue(unit_a, shopper, "order:4", template="order_shipped", purpose="transactional")
    sending.send_due()
    message.refresh_from_db()
    hook = actions.hook_url(sms, "reports").removeprefix("http://127.0.0.1:8000")
    client.post(
        hook,
        [{"id": message.provider_message_id, "status": "DELIVERED", "at": "2026-11-11T10:00:05+08:00"}],
        content_type="application/json",
    )
    message.refresh_from_db()
    assert (message.state, message.delivered_at) == (State.DELIVERED, at(2026, 11, 11, 10, 0, 5))
    other = queue(unit_a, shopper, "order:5", template="order_shipped", purpose="transactional")
    sending.send_due()
    client.post(
        hook, [{"reference": other.send_key, "status": "HARD_BOUNCE"}], content_type="application/json"
    )
    other.refresh_from_db()
    assert (other.state, other.reason) == (State.FAILED, "hard_bounce")
    assert Suppression.objects.get().scope == "all"
    last = queue(unit_a, shopper, "order:6", template="order_shipped", purpose="transactional")
    assert sending.send_due().counts == {"dropped": 1}
    assert Message.objects.get(pk=last.pk).reason == "suppressed_hard_bounce"  # even transactional


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_a_crashed_send_is_resent_with_the_same_key_only_where_the_provider_deduplicates(
    unit_a, shopper, sms, make_channel, gateways
):
    promo = queue(unit_a, shopper, "promo:crash")
    # A worker marked it sending, sent it, and died before recording: its lease runs out.
    Message.objects.filter(pk=promo.pk).update(state=State.SENDING, started_at=timezone.now(), attempts=1)
    gateways.ledger.clear()
    sending.adapter(sms).send(sending.outgoing(Message.objects.get(pk=promo.pk), "关系家纺"))
    assert sending.send_due().counts == {"sent": 1}
    assert len(gateways.ledger.of("sms")) == 1  # the gateway de-duplicated the resend
    promo.refresh_from_db()
    assert promo.state == State.SENT

    mail = make_channel(unit_a, ChannelKind.SMTP)
    actions.save_template(
        key="news",
        name="月刊",
        medium="email",
        purpose="marketing",
        unit=unit_a,
        contents={"zh-hans": {"subject": "月刊", "body": "好物推荐"}},
    )
    letter = actions.enqueue_message(
        unit=unit_a,
        customer=shopper,
        purpose="marketing",
        send_key="news:crash",
        template="news",
        channel="email",
    ).message
    Message.objects.filter(pk=letter.pk).update(state=State.SENDING, started_at=timezone.now(), attempts=1)
    assert sending.send_due().counts == {"unknown": 1}
    letter.refresh_from_db()
    assert (letter.state, letter.reason) == (State.UNKNOWN, "ambiguous_crash")
    assert gateways.ledger.of("email") == []
    assert mail.medium == "email"


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_a_provider_that_fails_for_now_is_retried_after_a_backoff(unit_a, shopper, sms, gateways):
    gateways.faults.unavailable = 1.0
    message = queue(unit_a, shopper, "order:7", template="order_shipped", purpose="transactional")
    assert sending.send_due().counts == {"retry": 1}
    message.refresh_from_db()
    assert (message.state, message.reason, message.available_at) == (
        State.QUEUED,
        "transient_error",
        timezone.now() + timedelta(seconds=30),
    )
    gateways.faults.unavailable = 0.0
    with time_machine.travel(at(2026, 11, 11, 10, 0, 31), tick=False):
        assert sending.send_due().counts == {"sent": 1}


def test_nothing_to_send_to_is_dropped_at_once_with_its_reason(unit_a, sms):
    nobody = make_customer("无手机", [unit_a])
    message = queue(unit_a, nobody, "promo:z")
    assert (message.state, message.reason) == (State.DROPPED, "no_address")
    email_only = actions.enqueue_message(
        unit=unit_a, customer=nobody, purpose="transactional", send_key="k", channel="email", body="hi"
    ).message
    assert email_only.reason == "no_channel"
    Identity.objects.create(customer=nobody, kind="phone", value="+8613700001111")
    best = actions.enqueue_message(
        unit=unit_a, customer=nobody, purpose="marketing", send_key="b", template="double11", channel="best"
    ).message
    assert (best.state, best.reason) == (State.DROPPED, "no_channel")  # no consent on any channel


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_a_member_of_staff_gets_a_wecom_alert_without_consent(unit_a, make_channel, make_user, gateways):
    make_channel(unit_a, ChannelKind.WECOM)
    agent = make_user("agent", units=[unit_a])
    alert = actions.enqueue_message(
        unit=unit_a,
        user=agent,
        address="zhangsan",
        purpose="transactional",
        send_key="ticket:42:sla",
        channel="wecom",
        subject="工单超时",
        body="工单 #42 已超过 SLA",
        source="service.ticket:42",
    ).message
    assert sending.send_due().counts == {"sent": 1}
    alert.refresh_from_db()
    assert alert.state == State.SENT and alert.send_key == f"ticket:42:sla:u{agent.pk}:wecom"
