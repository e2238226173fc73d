"""The messaging pages and endpoints, as the people who use them."""

import pytest
import time_machine

from guanxi.accounts.roles import Role
from guanxi.core.models import Job
from guanxi.customers.models import Consent
from guanxi.messaging import actions, sending
from guanxi.messaging.models import ChannelAccount, Message, Template
from guanxi.messaging.tests.conftest import at, channel_values

pytestmark = pytest.mark.django_db
NOTICE = {
    "zh-hans": {"body": "{{ customer.name }}，您的订单 {{ order.number }} 已发货。"},
    "en": {"body": "{{ customer.name }}, order {{ order.number }} has shipped."},
}


@pytest.fixture
def head(make_user, unit_a):
    return make_user("head", Role.UNIT_HEAD, [unit_a], can_view_pii=True)


@pytest.fixture
def notice(unit_a):
    return actions.save_template(
        key="shipped", name="发货通知", medium="sms", purpose="transactional", contents=NOTICE, unit=unit_a
    )


def test_a_unit_head_sets_up_a_channel_and_sends_a_test(client, head, unit_a, gateways):
    client.force_login(head)
    values = channel_values("sms_http", gateways)
    response = client.post(
        "/messaging/channels/add/?kind=sms_http",
        {
            "kind": "sms_http",
            "name": "短信网关",
            "unit": unit_a.pk,
            "is_active": "on",
            **values,
            "honours_idempotency_key": "on",
        },
    )
    channel = ChannelAccount.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/messaging/channels/{channel.pk}/"
    page = client.get(f"/messaging/channels/{channel.pk}/").content.decode()
    assert fake_key_not_shown(page) and "/m/hooks/" in page
    result = client.post(
        f"/messaging/channels/{channel.pk}/test/", {"address": "138 1234 5678"}, HTTP_HX_REQUEST="true"
    )
    assert 'id="test-ok"' in result.content.decode()
    assert [(e.to, e.text) for e in gateways.ledger.of("sms")] == [
        ("+8613812345678", "This is a test message from Guanxi CRM.")
    ]


def fake_key_not_shown(page: str) -> bool:
    return "fake-sms-key" not in page


def test_a_marketer_may_not_touch_channel_credentials(client, make_user, unit_a, gateways):
    marketer = make_user("marketer", Role.MARKETER, [unit_a])
    client.force_login(marketer)
    assert client.get("/messaging/channels/add/").status_code == 403
    assert client.get("/messaging/").status_code == 200


def test_the_template_editor_refuses_a_broken_template_and_previews_with_a_real_customer(
    client, head, unit_a, shopper
):
    client.force_login(head)
    form = {
        "key": "double11",
        "name": "双十一",
        "medium": "sms",
        "purpose": "marketing",
        "unit": unit_a.pk,
        "zh-hans-body": "{{ customer.nam }}，双十一 8 折",
        "en-body": "",
    }
    page = client.post("/messaging/templates/add/", form).content.decode()
    assert "“customer.nam” does not exist" in page and not Template.objects.exists()
    form["zh-hans-body"] = "{{ customer.name }}，双十一 8 折"
    page = client.post("/messaging/templates/add/", form).content.decode()
    assert "A marketing SMS must say how to opt out: add “回复TD退订”." in page
    form["zh-hans-body"] = "{{ customer.name }}{{ customer.title }}，双十一 8 折。回复TD退订"
    assert client.post("/messaging/templates/add/", form).status_code == 302
    assert Template.objects.get().current_version.number == 1
    preview = client.post("/messaging/templates/preview/", {**form, "customer": shopper.pk}).content.decode()
    assert "【Shop name】王芳Ms，双十一 8 折。回复TD退订" in preview
    assert "1 SMS" in preview


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_the_api_queues_once_per_send_key_and_masks_for_readers_without_personal_data(
    client, head, make_user, unit_a, shopper, make_channel, notice, gateways
):
    make_channel(unit_a)
    client.force_login(head)
    payload = {
        "unit": unit_a.pk,
        "purpose": "transactional",
        "send_key": "order:TM1",
        "customer": shopper.pk,
        "template": "shipped",
        "channel": "sms",
    }
    first = client.post("/api/v1/messaging/messages", payload, content_type="application/json")
    again = client.post("/api/v1/messaging/messages", payload, content_type="application/json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert (
        first.json()["body"] == "王芳，您的订单 TM20261111001 已发货。"
        and first.json()["address"] == "+8613812345678"
    )
    sending.send_due()
    analyst = make_user("analyst", Role.ANALYST, [unit_a])
    client.force_login(analyst)
    listed = client.get("/api/v1/messaging/messages", {"state": "sent"}).json()["items"]
    assert [(m["state"], m["address"], m["body"]) for m in listed] == [("sent", "138****5678", "")]
    refused = client.post(
        "/api/v1/messaging/messages", {**payload, "send_key": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403
    history = client.get(f"/api/v1/customers/{shopper.pk}").json()["messaging"]
    assert [m["template"] for m in history] == ["shipped"]


def test_api_template_problems_are_listed_and_bulk_sends_run_as_a_job(
    client, head, unit_a, shopper, make_channel, django_capture_on_commit_callbacks
):
    make_channel(unit_a)
    client.force_login(head)
    bad = client.post(
        "/api/v1/messaging/templates",
        {
            "key": "promo",
            "name": "P",
            "medium": "sms",
            "purpose": "marketing",
            "unit": unit_a.pk,
            "contents": {"zh-hans": {"body": "8 折"}},
        },
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {
            "loc": ["body", "contents", "zh-hans", "body"],
            "msg": "A marketing SMS must say how to opt out: add “回复TD退订”.",
            "type": "template",
            "language": "zh-hans",
            "part": "body",
            "message": "A marketing SMS must say how to opt out: add “回复TD退订”.",
        }
    ]
    # Found by the long fuzz run: these errors lacked the documented `loc` and `msg`.
    empty = client.post(
        "/api/v1/messaging/templates",
        {
            "key": "notice",
            "name": "N",
            "medium": "wechat",
            "purpose": "transactional",
            "unit": unit_a.pk,
            "contents": {},
        },
        content_type="application/json",
    )
    assert [(e["loc"], e["msg"]) for e in empty.json()["errors"]] == [
        (["body", "contents"], "Write the message in at least one language."),
        (["body", "provider_template"], "Give the WeChat template id."),
    ]
    good = client.post(
        "/api/v1/messaging/templates",
        {
            "key": "promo",
            "name": "P",
            "medium": "sms",
            "purpose": "marketing",
            "unit": unit_a.pk,
            "contents": {"zh-hans": {"body": "8 折。回复TD退订"}},
        },
        content_type="application/json",
    )
    assert good.status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            "/api/v1/messaging/bulk-sends",
            {
                "unit": unit_a.pk,
                "purpose": "marketing",
                "send_key": "c:1",
                "customers": [shopper.pk],
                "template": "promo",
            },
            content_type="application/json",
        )
    assert started.status_code == 202
    job = Job.objects.get(pk=started.json()["id"])
    assert (job.state, job.counts) == ("succeeded", {"created": 1, "existing": 0, "dropped": 0})
    assert Message.objects.get().send_key == f"c:1:c{shopper.pk}:best"


def test_an_opt_out_recorded_on_the_360_page(client, head, unit_a, shopper, make_channel):
    make_channel(unit_a)
    client.force_login(head)
    page = client.get(f"/customers/{shopper.pk}/").content.decode()
    assert 'id="messaging"' in page
    response = client.post(
        f"/messaging/customers/{shopper.pk}/opt-out/",
        {"medium": "sms", "how": "verbal", "evidence": "电话里要求不再发促销短信"},
    )
    assert response.status_code == 302
    consent = Consent.current_for(shopper.pk)["sms"]
    assert (consent.state, consent.method, consent.evidence) == (
        "withdrawn",
        "verbal",
        "电话里要求不再发促销短信",
    )
    assert "Opted out" in client.get(f"/customers/{shopper.pk}/").content.decode()


@time_machine.travel(at(2026, 11, 11, 10), tick=False)
def test_outbox_filters_and_statistics(client, head, unit_a, shopper, make_channel, notice):
    make_channel(unit_a)
    actions.save_template(
        key="promo",
        name="P",
        medium="sms",
        purpose="marketing",
        unit=unit_a,
        contents={"zh-hans": {"body": "8 折。回复TD退订"}},
    )
    profile_withdrawn(shopper)
    actions.enqueue_message(
        unit=unit_a, customer=shopper, purpose="marketing", send_key="p", template="promo", channel="sms"
    )
    sending.send_due()
    client.force_login(head)
    page = client.get("/messaging/", {"reason": "consent_withdrawn"}).content.decode()
    assert "Consent withdrawn" in page and page.count("badge-dropped") == 1
    stats = client.get("/messaging/statistics/").content.decode()
    assert 'id="chart-by-channel"' in stats and "Consent withdrawn" in stats
    api = client.get("/api/v1/messaging/statistics", {"days": 7}).json()
    assert api["totals"] == {"sms": {"dropped": 1}} and api["reasons"] == [
        {"code": "consent_withdrawn", "label": "Consent withdrawn", "count": 1}
    ]


def profile_withdrawn(customer):
    from guanxi.customers import profile

    profile.record_consent(customer, "sms", "withdrawn", "verbal")
