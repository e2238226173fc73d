"""Fixtures for messaging tests: the local fake gateways and channels of every kind pointing at them."""

from datetime import datetime

import pytest

from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.customers import profile
from guanxi.customers.models import Consent, Identity
from guanxi.messaging import actions
from guanxi.messaging import fake_gateways as fakes
from guanxi.messaging.models import ChannelKind


@pytest.fixture(scope="module")
def gateways(tmp_path_factory):
    running = fakes.Gateways(state_dir=tmp_path_factory.mktemp("smtp")).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _clean_ledger(request):
    if "gateways" in request.fixturenames:
        request.getfixturevalue("gateways").reset()


def channel_values(kind: str, gateways: fakes.Gateways) -> dict:
    return {
        ChannelKind.SMTP: {
            "host": "127.0.0.1",
            "port": gateways.smtp_port,
            "security": "starttls",
            "username": fakes.SMTP_USER,
            "password": fakes.SMTP_PASSWORD,
            "from_address": "care@guanxi-shop.cn",
            "from_name": "关系家纺",
            "ca_pem": gateways.smtp_ca_pem,
        },
        ChannelKind.SMS_HTTP: {
            "url": gateways.url("/sms/send"),
            "api_key": fakes.SMS_API_KEY,
            "honours_idempotency_key": True,
        },
        ChannelKind.SMS_ALIYUN: {
            "access_key_id": fakes.ALIYUN_KEY_ID,
            "access_key_secret": fakes.ALIYUN_SECRET,
            "sign_name": "关系家纺",
            "endpoint": gateways.url("/aliyun/"),
        },
        ChannelKind.WECHAT_TEMPLATE: {
            "appid": fakes.WECHAT_APPID,
            "appsecret": fakes.WECHAT_SECRET,
            "base_url": gateways.url("/wechat"),
        },
        ChannelKind.WECOM: {
            "corpid": fakes.WECOM_CORPID,
            "agentid": 1000002,
            "corpsecret": fakes.WECOM_SECRET,
            "base_url": gateways.url("/wecom"),
        },
        ChannelKind.WEBHOOK: {"url": gateways.url("/webhook/orders"), "signing_secret": fakes.WEBHOOK_SECRET},
    }[kind]


@pytest.fixture
def make_channel(gateways):
    def make(unit, kind=ChannelKind.SMS_HTTP, name=None, **overrides):
        values = {**channel_values(kind, gateways), **overrides}
        return actions.save_channel(unit=unit, name=name or f"{kind} channel", kind=kind, values=values)

    return make


@pytest.fixture
def shopper(unit_a):
    """A customer of unit A with a phone, an email and consent to marketing by SMS and email."""
    customer = make_customer("王芳", [unit_a], phone="+8613812345678", gender="female", city="杭州")
    make_order(make_store(unit_a, "家纺旗舰店"), customer, "TM20261111001", "268.00", (2026, 11, 10))
    Identity.objects.create(customer=customer, kind=Identity.Kind.EMAIL, value="wangfang@guanxi-mail.cn")
    for channel in ("sms", "email"):
        profile.record_consent(
            customer,
            channel,
            Consent.State.GRANTED,
            Consent.Method.DOUBLE_OPT_IN,
            source="signup form v3",
            recorded_at=at(2025, 1, 1, 9),
        )
    return customer


def at(*parts: int, zone: str = "Asia/Shanghai") -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*parts, tzinfo=ZoneInfo(zone))
