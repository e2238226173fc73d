"""Each channel adapter speaks its provider's protocol to the local fake gateways: a real SMTP
conversation with STARTTLS and AUTH, the generic SMS gateway with Idempotency-Key, Alibaba Cloud's
signed SendSms with its nonce, WeChat and WeCom with cached access tokens, and a signed webhook."""

import json

import pytest
from django.core.cache import cache

from guanxi.messaging.channels.base import Outcome, Outgoing
from guanxi.messaging.channels.email import SmtpAdapter
from guanxi.messaging.channels.registry import adapter_for
from guanxi.messaging.channels.sms import AliyunSmsAdapter, aliyun_signature
from guanxi.messaging.models import ChannelKind
from guanxi.messaging.tests.conftest import channel_values

pytestmark = pytest.mark.django_db


def outgoing(key="order:1:c1:sms", address="+8613812345678", **fields):
    values = {
        "send_key": key,
        "address": address,
        "subject": "您的订单已发货",
        "body": "【关系家纺】您的订单 TM1 已发货",
        "fields": {},
        "provider_template": "",
        "purpose": "transactional",
    }
    return Outgoing(**{**values, **fields})


def adapter(kind, gateways, **overrides):
    values = {**channel_values(kind, gateways), **overrides}
    secrets = {
        k: values.pop(k)
        for k in ("password", "api_key", "access_key_secret", "appsecret", "corpsecret", "signing_secret")
        if k in values
    }
    return adapter_for(kind, values, secrets)


def test_email_goes_through_starttls_and_auth_with_one_click_unsubscribe_headers(gateways):
    smtp = adapter(ChannelKind.SMTP, gateways)
    result = smtp.send(
        outgoing(
            key="campaign:7:c1:email",
            address="wangfang@guanxi-mail.cn",
            body="双十一会员专享",
            purpose="marketing",
            unsubscribe_url="https://crm.guanxi.cn/m/unsubscribe/abc/",
        )
    )
    smtp.close()
    assert result.outcome == Outcome.SENT
    [entry] = gateways.ledger.of("email")
    assert entry.to == "wangfang@guanxi-mail.cn"
    assert "List-Unsubscribe: <https://crm.guanxi.cn/m/unsubscribe/abc/>" in entry.text
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in entry.text
    assert "Subject: =?utf-8?b?" in entry.text  # the Chinese subject, encoded
    assert entry.key.startswith("<") and entry.key.endswith(
        "@guanxi-shop.cn>"
    )  # Message-ID from the send key


def test_email_refused_recipient_fails_and_a_wrong_password_is_a_configuration_error(gateways):
    gateways.rejected_recipients = {"nobody@guanxi-mail.cn"}
    smtp = adapter(ChannelKind.SMTP, gateways)
    refused = smtp.send(outgoing(address="nobody@guanxi-mail.cn"))
    smtp.close()
    assert (refused.outcome, refused.reason) == (Outcome.FAILED, "invalid_address")
    wrong = adapter(ChannelKind.SMTP, gateways, password="guess")
    assert (wrong.send(outgoing(address="a@guanxi-mail.cn")).reason) == "configuration"
    assert gateways.ledger.of("email") == []


def test_email_without_the_relays_certificate_is_not_sent(gateways):
    untrusted = adapter(ChannelKind.SMTP, gateways, ca_pem="")
    result = untrusted.send(outgoing(address="a@guanxi-mail.cn"))
    assert result.outcome == Outcome.RETRY and "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert gateways.ledger.of("email") == []


def test_generic_sms_sends_the_key_and_the_gateway_deduplicates_it(gateways):
    sms = adapter(ChannelKind.SMS_HTTP, gateways)
    first = sms.send(outgoing())
    again = sms.send(outgoing())
    assert first.outcome == again.outcome == Outcome.SENT
    assert first.provider_id == again.provider_id  # the stored answer, as Stripe-style keys promise
    assert [(e.key, e.to, e.text) for e in gateways.ledger.of("sms")] == [
        ("order:1:c1:sms", "+8613812345678", "【关系家纺】您的订单 TM1 已发货")
    ]


def test_aliyun_request_is_signed_and_a_replayed_nonce_counts_as_already_sent(gateways):
    aliyun = adapter(ChannelKind.SMS_ALIYUN, gateways)
    message = outgoing(provider_template="SMS_465780123", fields={"number": "TM1"})
    assert aliyun.send(message).outcome == Outcome.SENT
    replay = aliyun.send(message)
    assert replay.outcome == Outcome.SENT and replay.provider_id.startswith("nonce:")
    [entry] = gateways.ledger.of("aliyun")
    assert (entry.to, entry.text) == ("13812345678", '关系家纺|SMS_465780123|{"number":"TM1"}')
    forged = adapter(ChannelKind.SMS_ALIYUN, gateways, access_key_secret="wrong")
    result = forged.send(outgoing(key="other"))
    assert (result.outcome, result.reason) == (Outcome.FAILED, "provider_rejected")
    assert "SignatureDoesNotMatch" in result.detail


def test_aliyun_signature_matches_the_documented_example():
    # The worked example of Alibaba Cloud's RPC signature documentation (AccessKeySecret "testsecret").
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert aliyun_signature("testsecret", "GET", params) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert AliyunSmsAdapter.idempotency_window.total_seconds() == 900


def test_wechat_template_message_caches_its_token_and_renews_an_expired_one(gateways):
    cache.clear()
    wechat = adapter(ChannelKind.WECHAT_TEMPLATE, gateways)
    message = outgoing(
        address="o6_bmjrPTlm6_2sgVt7hMZOPfL2M", provider_template="tmpl-ship", fields={"thing1": "毛巾"}
    )
    assert wechat.send(message).outcome == Outcome.SENT
    token = cache.get(wechat.tokens.key)
    assert token
    assert (
        wechat.send(
            outgoing(key="order:2", address="o6_bmjrPTlm6_2sgVt7hMZOPfL2M", provider_template="t")
        ).outcome
        == Outcome.SENT
    )
    assert cache.get(wechat.tokens.key) == token  # reused, not fetched again
    cache.set(wechat.tokens.key, "expired-token")
    assert wechat.send(outgoing(key="order:3", address="o6_x", provider_template="t")).outcome == Outcome.SENT
    assert cache.get(wechat.tokens.key) not in (token, "expired-token")
    entries = gateways.ledger.of("wechat")
    assert len(entries) == 3 and json.loads(entries[0].text) == {"thing1": {"value": "毛巾"}}


def test_wecom_sends_to_a_member_with_duplicate_check(gateways):
    cache.clear()
    wecom = adapter(ChannelKind.WECOM, gateways)
    alert = outgoing(address="zhangsan", subject="工单超时", body="工单 #42 已超过 SLA")
    assert wecom.send(alert).outcome == Outcome.SENT
    assert wecom.send(alert).outcome == Outcome.SENT  # a resend within the interval is de-duplicated
    assert [(e.to, e.text) for e in gateways.ledger.of("wecom")] == [
        ("zhangsan", "工单超时\n工单 #42 已超过 SLA")
    ]


def test_webhook_is_signed_and_a_bad_secret_is_refused(gateways):
    hook = adapter(ChannelKind.WEBHOOK, gateways)
    assert hook.send(outgoing(key="order:9:-:webhook")).outcome == Outcome.SENT
    forged = adapter(ChannelKind.WEBHOOK, gateways, signing_secret="nope")
    result = forged.send(outgoing(key="order:10:-:webhook"))
    assert (result.outcome, result.reason) == (Outcome.FAILED, "provider_rejected")
    assert [e.key for e in gateways.ledger.of("webhook")] == ["order:9:-:webhook"]


def test_an_answer_that_never_comes_is_ambiguous_and_a_503_is_a_retry(gateways, monkeypatch):
    from guanxi.core import outbound

    monkeypatch.setattr(outbound, "READ_TIMEOUT", 0.3)
    gateways.faults.timeout_after_accept, gateways.faults.hang = 1.0, 1.0
    sms = adapter(ChannelKind.SMS_HTTP, gateways)
    assert sms.send(outgoing()).outcome == Outcome.AMBIGUOUS
    assert len(gateways.ledger.of("sms")) == 1  # it did reach the gateway
    gateways.faults.timeout_after_accept, gateways.faults.unavailable = 0.0, 1.0
    assert sms.send(outgoing(key="x")).outcome == Outcome.RETRY


def test_smtp_adapter_kind_is_not_idempotent():
    assert SmtpAdapter.idempotency_window is None
