"""A unit head sets up an SMS channel against the local fake gateway, sends a test message, records a
customer's opt-out on the 360 page, and sees the next marketing send dropped with the reason in the
outbox; screenshots of the channel page and the outbox."""

import pytest

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.customers import profile
from guanxi.messaging import actions
from guanxi.messaging import fake_gateways as fakes
from guanxi.messaging.models import Message

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def gateways():
    running = fakes.Gateways(smtp_port=None).start()
    yield running
    running.stop()


def test_channel_test_send_opt_out_and_the_next_send_dropped(
    live_server, page, transactional_db, screenshots, sign_in, gateways
):
    account_actions.ensure_organisation("关系演示集团")
    home = account_actions.create_business_unit(code="home", name="家居生活")
    account_actions.create_user(
        username="head",
        password=PASSWORD,
        role=Role.UNIT_HEAD,
        units=[home],
        display_name="林家居",
        can_view_pii=True,
    )
    customer = make_customer("王芳", [home], phone="+8613812345678", gender="female")
    profile.record_consent(customer, "sms", "granted", "double_opt_in", source="注册表单 v3")
    actions.save_template(
        key="double11",
        name="双十一",
        medium="sms",
        purpose="marketing",
        unit=home,
        contents={"zh-hans": {"body": "{{ customer.name }}，双十一会员 8 折。回复TD退订"}},
    )
    sign_in("head")

    page.goto(f"{live_server.url}/messaging/channels/add/?kind=sms_http")
    page.fill("#c-name", "短信网关")
    page.fill("#c-url", gateways.url("/sms/send"))
    page.fill("#c-api_key", fakes.SMS_API_KEY)
    page.click("#channel-form button[type=submit]")
    page.wait_for_selector("#test-form")
    page.fill("#t-address", "13812345678")
    page.click("#test-form button[type=submit]")
    page.wait_for_selector("#test-ok")
    assert [entry.to for entry in gateways.ledger.of("sms")] == ["+8613812345678"]
    page.screenshot(path=str(screenshots / "messaging-channel-test-zh.png"), full_page=True)

    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.select_option("#oo-medium", "sms")
    page.fill("#oo-evidence", "电话里要求不再发促销短信")
    page.click("#opt-out-form button[type=submit]")
    page.wait_for_selector("text=已登记退订")

    actions.enqueue_message(
        unit=home,
        customer=customer,
        purpose="marketing",
        send_key="double11",
        template="double11",
        channel="sms",
    )
    message = Message.objects.get(send_key__startswith="double11")
    assert (message.state, message.reason) == ("dropped", "suppressed_opt_out")
    page.goto(f"{live_server.url}/messaging/?reason=suppressed_opt_out")
    assert page.locator("#outbox td.reason").first.inner_text() == "已退订"
    page.screenshot(path=str(screenshots / "messaging-outbox-opted-out-zh.png"), full_page=True)
    page.goto(f"{live_server.url}/messaging/messages/{message.pk}/")
    assert page.locator("#message-reason").inner_text().startswith("已退订")
    assert len(gateways.ledger.of("sms")) == 1  # nothing more went out
