"""What must never happen: a channel calling a private address (SSRF, reliability.md AC-5), a credential
readable in the database, a template reaching Python objects, a marketing SMS without its opt-out text."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from guanxi.core.outbound import BlockedError, check_url
from guanxi.messaging import actions, credentials, rendering
from guanxi.messaging.models import ChannelAccount

pytestmark = pytest.mark.django_db

DENIED = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/",
    "http://[::1]/",
    "http://10.0.0.8/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0.0.0.0/",
    "http://localhost:8000/",
    "http://100.64.0.1/",
    "ftp://example.com/",
    "http://user:pw@example.com/",
]


@override_settings(GUANXI_ALLOW_PRIVATE_GATEWAYS=False)
@pytest.mark.parametrize("url", DENIED)
def test_every_private_or_odd_address_is_refused(url):
    with pytest.raises(BlockedError):
        check_url(url)


@pytest.fixture
def trap():
    """A loopback server that counts every request reaching it."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], hits
    server.shutdown()


def test_ssrf_is_refused_when_saved_and_again_when_sent(unit_a, trap, settings):
    port, hits = trap
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = False
    with pytest.raises(ValidationError, match="not public"):
        actions.save_channel(
            unit=unit_a,
            name="hook",
            kind="webhook",
            values={"url": f"http://127.0.0.1:{port}/x", "signing_secret": "s"},
        )
    # Saved while allowed (a DNS answer that changed later looks the same): the send checks again.
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = True
    channel = actions.save_channel(
        unit=unit_a,
        name="hook",
        kind="webhook",
        values={"url": f"http://127.0.0.1:{port}/x", "signing_secret": "s"},
    )
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = False
    result = actions.test_channel(channel, "")
    assert not result.ok and "not public" in result.detail
    assert hits == []


def test_credentials_are_encrypted_with_a_key_of_their_unit(unit_a, unit_b):
    channel = actions.save_channel(
        unit=unit_a,
        name="aliyun",
        kind="sms_aliyun",
        values={"access_key_id": "LTAI5t", "access_key_secret": "s3cr3t-value", "sign_name": "关系家纺"},
    )
    stored = ChannelAccount.objects.get(pk=channel.pk)
    assert "s3cr3t-value" not in stored.secrets and "access_key_secret" not in stored.settings
    assert credentials.decrypt(unit_a.pk, stored.secrets) == {"access_key_secret": "s3cr3t-value"}
    with pytest.raises(Exception, match="cannot be decrypted"):
        credentials.decrypt(unit_b.pk, stored.secrets)  # copied into another unit's row, it is useless
    # Saving again with the secret left empty keeps it.
    again = actions.save_channel(
        unit=unit_a,
        name="aliyun",
        kind="sms_aliyun",
        channel=stored,
        values={"access_key_id": "LTAI5t", "access_key_secret": "", "sign_name": "关系"},
    )
    assert credentials.decrypt(unit_a.pk, again.secrets) == {"access_key_secret": "s3cr3t-value"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "{{ customer.nmae }}",
            "“customer.nmae” does not exist; customer has: name, title, city, province, birthday.",
        ),
        ("{{ voucher.code }}", "Unknown variable “voucher”."),  # coupon.* is marketing's (issue 14)
        ("{{ customer }}", "Name a field of “customer”, such as customer.name."),
        ("{{ customer.name.__class__.__mro__ }}", None),  # the sandbox refuses it when filled
        ("{% for x in range(10**9) %}{% endfor %}", "Unknown variable “range”."),
        ("{{ customer.name", "Line 1: unexpected end of template, expected 'end of print statement'."),
    ],
)
def test_templates_are_checked_when_saved(body, message):
    problems = rendering.check("email", "transactional", {"en": {"subject": "Hi", "body": body}})
    if message is None:
        assert problems and "could not be filled" in problems[0].message
    else:
        assert [problem.message for problem in problems] == [message]


def test_marketing_sms_rules_and_segment_counts():
    no_opt_out = rendering.check("sms", "marketing", {"zh-hans": {"body": "双十一 8 折"}})
    assert [p.message for p in no_opt_out] == ["A marketing SMS must say how to opt out: add “回复TD退订”."]
    signed = rendering.check("sms", "transactional", {"zh-hans": {"body": "【关系】您的订单已发货"}})
    assert [p.message for p in signed] == ["Leave out 【…】: the channel adds the shop's signature itself."]
    assert rendering.check("wechat", "marketing", {"zh-hans": {"body": "x"}}, provider_template="t")[
        0
    ].message == ("WeChat template messages may carry service notices only, never marketing.")
    text = rendering.sms_text("关系家纺", "王芳，双十一会员价 8 折，全场包邮。回复TD退订")
    assert rendering.sms_length(text) == rendering.SmsLength(characters=31, encoding="UCS-2", segments=1)
    assert rendering.sms_length("字" * 71).segments == 2 and rendering.sms_length("字" * 134).segments == 2
    assert rendering.sms_length("字" * 135).segments == 3
    assert rendering.sms_length("a" * 160) == rendering.SmsLength(160, "GSM-7", 1)
    assert rendering.sms_length("a" * 159 + "€").segments == 2  # an extended character counts twice


def test_a_reply_is_an_opt_out_only_when_it_says_so():
    assert all(
        actions.is_opt_out_reply(text) for text in ("TD", "td", " 退订 ", "ＴＤ", "STOP", "t", "退订。")
    )
    assert not any(actions.is_opt_out_reply(text) for text in ("谢谢", "TD一下", "stop it", ""))
