"""Which adapter sends for each kind of channel, and what each kind asks for when it is set up."""

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from guanxi.messaging.channels.base import Adapter
from guanxi.messaging.channels.email import SmtpAdapter
from guanxi.messaging.channels.sms import AliyunSmsAdapter, HttpSmsAdapter
from guanxi.messaging.channels.webhook import WebhookAdapter
from guanxi.messaging.channels.wechat import WechatTemplateAdapter, WecomAdapter
from guanxi.messaging.models import ChannelKind


@dataclass(frozen=True)
class Setting:
    name: str
    label: Any
    secret: bool = False
    required: bool = True
    kind: str = "text"  # text | number | bool | url | choice | textarea
    choices: tuple[tuple[str, Any], ...] = ()
    default: Any = ""


@dataclass(frozen=True)
class KindSpec:
    adapter: type
    settings: tuple[Setting, ...]
    url_settings: tuple[str, ...] = ()  # checked against the SSRF rules when saved


KINDS: dict[str, KindSpec] = {
    ChannelKind.SMTP: KindSpec(
        SmtpAdapter,
        (
            Setting("host", _("SMTP server")),
            Setting("port", _("Port"), kind="number", default=587),
            Setting(
                "security",
                _("Security"),
                kind="choice",
                choices=(
                    ("starttls", "STARTTLS"),
                    ("ssl", "SSL/TLS"),
                    ("none", _("None (local relay only)")),
                ),
                default="starttls",
            ),
            Setting("username", _("User name"), required=False),
            Setting("password", _("Password"), secret=True, required=False),
            Setting("from_address", _("Sender address")),
            Setting("from_name", _("Sender name"), required=False),
            Setting(
                "ca_pem",
                _("Trusted CA certificate (PEM), for a relay with its own CA"),
                required=False,
                kind="textarea",
            ),
        ),
    ),
    ChannelKind.SMS_HTTP: KindSpec(
        HttpSmsAdapter,
        (
            Setting("url", _("Gateway URL"), kind="url"),
            Setting("api_key", _("API key"), secret=True, required=False),
            Setting(
                "honours_idempotency_key",
                _("The gateway honours Idempotency-Key"),
                kind="bool",
                required=False,
                default=True,
            ),
            Setting("idempotency_hours", _("For how many hours"), kind="number", required=False, default=24),
            Setting(
                "callback_url", _("Delivery report URL given to the gateway"), kind="url", required=False
            ),
        ),
        url_settings=("url",),
    ),
    ChannelKind.SMS_ALIYUN: KindSpec(
        AliyunSmsAdapter,
        (
            Setting("access_key_id", _("AccessKey ID")),
            Setting("access_key_secret", _("AccessKey secret"), secret=True),
            Setting("sign_name", _("Signature name (SignName)")),
            Setting("region", _("Region"), required=False, default="cn-hangzhou"),
            Setting(
                "endpoint",
                _("Endpoint"),
                kind="url",
                required=False,
                default="https://dysmsapi.aliyuncs.com/",
            ),
        ),
        url_settings=("endpoint",),
    ),
    ChannelKind.WECHAT_TEMPLATE: KindSpec(
        WechatTemplateAdapter,
        (
            Setting("appid", _("AppID")),
            Setting("appsecret", _("AppSecret"), secret=True),
            Setting("link_url", _("Link opened from the message"), kind="url", required=False),
            Setting(
                "base_url", _("API address"), kind="url", required=False, default="https://api.weixin.qq.com"
            ),
        ),
        url_settings=("base_url",),
    ),
    ChannelKind.WECOM: KindSpec(
        WecomAdapter,
        (
            Setting("corpid", _("CorpID")),
            Setting("agentid", _("AgentId"), kind="number"),
            Setting("corpsecret", _("Secret"), secret=True),
            Setting(
                "base_url",
                _("API address"),
                kind="url",
                required=False,
                default="https://qyapi.weixin.qq.com",
            ),
        ),
        url_settings=("base_url",),
    ),
    ChannelKind.WEBHOOK: KindSpec(
        WebhookAdapter,
        (
            Setting("url", _("Receiver URL"), kind="url"),
            Setting("signing_secret", _("Signing secret"), secret=True),
            Setting(
                "receiver_deduplicates",
                _("The receiver de-duplicates on X-Guanxi-Delivery"),
                kind="bool",
                required=False,
                default=True,
            ),
        ),
        url_settings=("url",),
    ),
}


def adapter_for(kind: str, settings: dict[str, Any], secrets: dict[str, Any]) -> Adapter:
    return KINDS[kind].adapter(settings, secrets)
