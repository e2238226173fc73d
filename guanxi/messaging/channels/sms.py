"""SMS over HTTP: a generic JSON gateway, and Alibaba Cloud SMS (dysmsapi SendSms, RPC signature).

The generic gateway gets our send key as `Idempotency-Key` (honoured for a configurable window by
gateways that support it). Alibaba Cloud rejects a second request with the same `SignatureNonce`
within 15 minutes (`SignatureNonceUsed`), so the nonce is derived from the send key: a resend after an
ambiguous timeout is refused by the provider instead of sent twice, and `OutId` carries the key into
delivery reports.
"""

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from guanxi.core.outbound import BlockedError, Client, MaybeSentError, NotSentError, Response
from guanxi.messaging.channels.base import Outgoing, SendResult, ambiguous, failed, key_digest, retry, sent

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
ALIYUN_NONCE_WINDOW = timedelta(minutes=15)
# Answers that mean "not now" rather than "never": flow control and the provider's own failures.
ALIYUN_RETRY_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "ServiceUnavailable"})
ALIYUN_ADDRESS_CODES = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT"})


def http_outcome(response: Response) -> SendResult | None:
    """The outcome an HTTP status alone decides (None for a 2xx, which the adapter reads)."""
    if 200 <= response.status < 300:
        return None
    detail = f"HTTP {response.status}: {response.body[:200].decode(errors='replace')}"
    if response.status in (408, 429, 503):
        return retry(detail)
    if 300 <= response.status < 400:
        return failed("configuration", f"HTTP {response.status}: redirects are not followed")
    if response.status >= 500:
        return ambiguous(detail)
    return failed("provider_rejected", detail)


def call(client: Client, method: str, url: str, **kwargs: Any) -> Response | SendResult:
    try:
        return client.request(method, url, **kwargs)
    except BlockedError as error:
        return failed("configuration", str(error))
    except NotSentError as error:
        return retry(str(error))
    except MaybeSentError as error:
        return ambiguous(str(error))


class HttpSmsAdapter:
    """POST {"to", "text", "reference", "callback_url"} with Bearer auth and an Idempotency-Key."""

    def __init__(self, settings: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.url = settings.get("url", "")
        self.callback_url = settings.get("callback_url", "")
        honours = settings.get("honours_idempotency_key", True)
        self.idempotency_window = (
            timedelta(hours=float(settings.get("idempotency_hours") or 24)) if honours else None
        )
        self.api_key = secrets.get("api_key", "")
        self.client = Client()

    def send(self, message: Outgoing) -> SendResult:
        body = json.dumps(
            {
                "to": message.address,
                "text": message.body,
                "reference": message.send_key,
                "callback_url": self.callback_url,
            },
            ensure_ascii=False,
        ).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.send_key}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        response = call(self.client, "POST", self.url, body=body, headers=headers)
        if isinstance(response, SendResult):
            return response
        if (decided := http_outcome(response)) is not None:
            return decided
        try:
            return sent(response.json().get("id", ""))
        except (ValueError, AttributeError):
            return sent()

    def close(self) -> None:
        self.client.close()


def aliyun_percent(value: str) -> str:
    """Alibaba Cloud's POP encoding: RFC 3986, space as %20, * as %2A, ~ kept."""
    return quote(value, safe="~")


def aliyun_signature(secret: str, method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{aliyun_percent(k)}={aliyun_percent(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{aliyun_percent('/')}&{aliyun_percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def aliyun_phone(address: str) -> str:
    """Mainland numbers without +86; others as country code and number without the plus."""
    return address[3:] if address.startswith("+86") else address.lstrip("+")


class AliyunSmsAdapter:
    """Alibaba Cloud SMS SendSms (API version 2017-05-25), signed with HMAC-SHA1 (SignatureVersion 1.0)."""

    idempotency_window = ALIYUN_NONCE_WINDOW

    def __init__(self, settings: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.endpoint = settings.get("endpoint") or ALIYUN_ENDPOINT
        self.access_key_id = settings.get("access_key_id", "")
        self.sign_name = settings.get("sign_name", "")
        self.region = settings.get("region") or "cn-hangzhou"
        self.secret = secrets.get("access_key_secret", "")
        self.client = Client()

    def params(self, message: Outgoing, now: datetime | None = None) -> dict[str, str]:
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": key_digest(message.send_key),
            "PhoneNumbers": aliyun_phone(message.address),
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": str(uuid.uuid5(uuid.NAMESPACE_URL, f"guanxi:{message.send_key}")),
            "SignatureVersion": "1.0",
            "TemplateCode": message.provider_template,
            "TemplateParam": json.dumps(message.fields, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(self.secret, "POST", params)
        return params

    def send(self, message: Outgoing) -> SendResult:
        body = urlencode(self.params(message), quote_via=quote).encode()
        response = call(
            self.client,
            "POST",
            self.endpoint,
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if isinstance(response, SendResult):
            return response
        try:
            answer = response.json() or {}
        except ValueError:
            answer = {}
        code = str(answer.get("Code", ""))
        if code == "OK":
            return sent(answer.get("BizId", ""))
        if code == "SignatureNonceUsed":
            # The provider already took a request with this key: the earlier attempt reached it.
            return sent(f"nonce:{key_digest(message.send_key)}")
        detail = f"{code or response.status}: {answer.get('Message', '')}"
        if code in ALIYUN_ADDRESS_CODES:
            return failed("invalid_address", detail)
        if code in ALIYUN_RETRY_CODES or code.startswith("isp.") or response.status >= 500:
            return retry(detail)
        return failed("provider_rejected", detail)

    def close(self) -> None:
        self.client.close()
