"""WeChat official-account template messages and WeCom application messages, with access tokens cached.

Access tokens live two hours and both platforms limit how often one may be fetched, so a token is kept
in the shared cache (file cache or Redis: every worker process sees it) until five minutes before it
expires, fetched under a cache lock by one process at a time, and dropped when the platform says it is
no longer valid (40001, 42001, 40014), after which the send is tried once more with a fresh one. The
official account uses `stable_token`, which does not invalidate the token other processes hold.

WeChat de-duplicates template messages on `client_msg_id` per openid; WeCom checks duplicates of the
same content to the same member within `duplicate_check_interval` — both serve as the idempotency
that lets a resend after a timeout go out safely within their window.
"""

import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache

from guanxi.core.outbound import Client, Response
from guanxi.messaging.channels.base import Outgoing, SendResult, ambiguous, failed, key_digest, retry, sent
from guanxi.messaging.channels.sms import call, http_outcome

WECHAT_API = "https://api.weixin.qq.com"
WECOM_API = "https://qyapi.weixin.qq.com"
EXPIRED_TOKEN_CODES = frozenset({40001, 40014, 42001})
BUSY_CODES = frozenset({-1, 45009, 45011, 45033})
ADDRESS_CODES = frozenset({40003, 43004, 43019, 81013, 60111})
TOKEN_MARGIN = 300
WECOM_DUPLICATE_INTERVAL = 1800


class TokenUnavailableError(Exception):
    def __init__(self, result: SendResult) -> None:
        self.result = result


class TokenCache:
    """One access token per (platform, app), shared by every process through the cache."""

    def __init__(self, key: str, fetch: Any) -> None:
        self.key = f"guanxi:messaging:token:{key}"
        self.fetch = fetch  # () -> (token, expires_in) or a SendResult explaining the failure

    def get(self) -> str:
        token = cache.get(self.key)
        if token:
            return token
        lock = f"{self.key}:lock"
        for _attempt in range(50):
            if cache.add(lock, "1", timeout=10):
                try:
                    token = cache.get(self.key)
                    if token:
                        return token
                    fetched = self.fetch()
                    if isinstance(fetched, SendResult):
                        raise TokenUnavailableError(fetched)
                    token, expires_in = fetched
                    cache.set(self.key, token, timeout=max(int(expires_in) - TOKEN_MARGIN, 60))
                    return token
                finally:
                    cache.delete(lock)
            time.sleep(0.1)
            token = cache.get(self.key)
            if token:
                return token
        raise TokenUnavailableError(retry("another process is fetching the access token"))

    def forget(self) -> None:
        cache.delete(self.key)


def _answer(response: Response | SendResult) -> dict | SendResult:
    if isinstance(response, SendResult):
        return response
    if (decided := http_outcome(response)) is not None:
        return decided
    try:
        return response.json() or {}
    except ValueError:
        return ambiguous(f"unreadable answer: {response.body[:100]!r}")


def _errcode_outcome(answer: dict) -> SendResult:
    code = int(answer.get("errcode", 0) or 0)
    detail = f"{code}: {answer.get('errmsg', '')}"
    if code in ADDRESS_CODES:
        return failed("invalid_address", detail)
    if code in BUSY_CODES:
        return retry(detail)
    return failed("provider_rejected", detail)


class _TokenSender:
    client: Client
    tokens: TokenCache

    def _post(self, url: str, token: str, payload: dict) -> dict | SendResult:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return _answer(
            call(
                self.client,
                "POST",
                f"{url}?{urlencode({'access_token': token})}",
                body=body,
                headers={"Content-Type": "application/json"},
            )
        )

    def _send_with_token(self, url: str, payload: dict) -> dict | SendResult:
        for attempt in range(2):
            try:
                token = self.tokens.get()
            except TokenUnavailableError as error:
                return error.result
            answer = self._post(url, token, payload)
            if (
                isinstance(answer, dict)
                and int(answer.get("errcode", 0) or 0) in EXPIRED_TOKEN_CODES
                and attempt == 0
            ):
                self.tokens.forget()  # an expired token was refused before anything was sent
                continue
            return answer
        return retry("the access token keeps being refused")

    def close(self) -> None:
        self.client.close()


class WechatTemplateAdapter(_TokenSender):
    """POST /cgi-bin/message/template/send with client_msg_id = a digest of the send key."""

    idempotency_window = timedelta(minutes=10)

    def __init__(self, settings: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.base = (settings.get("base_url") or WECHAT_API).rstrip("/")
        self.appid = settings.get("appid", "")
        self.link = settings.get("link_url", "")
        self.secret = secrets.get("appsecret", "")
        self.client = Client()
        self.tokens = TokenCache(f"wechat:{self.base}:{self.appid}", self._fetch_token)

    def _fetch_token(self) -> tuple[str, int] | SendResult:
        body = json.dumps(
            {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": False,
            }
        ).encode()
        answer = _answer(
            call(
                self.client,
                "POST",
                f"{self.base}/cgi-bin/stable_token",
                body=body,
                headers={"Content-Type": "application/json"},
            )
        )
        if isinstance(answer, SendResult):
            return retry(answer.detail) if answer.outcome.value == "ambiguous" else answer
        if not answer.get("access_token"):
            return failed(
                "configuration", f"no access token: {answer.get('errcode')} {answer.get('errmsg', '')}"
            )
        return answer["access_token"], int(answer.get("expires_in") or 7200)

    def send(self, message: Outgoing) -> SendResult:
        payload: dict[str, Any] = {
            "touser": message.address,
            "template_id": message.provider_template,
            "data": {name: {"value": value} for name, value in message.fields.items()},
            "client_msg_id": key_digest(message.send_key),
        }
        if self.link:
            payload["url"] = self.link
        answer = self._send_with_token(f"{self.base}/cgi-bin/message/template/send", payload)
        if isinstance(answer, SendResult):
            return answer
        if int(answer.get("errcode", 0) or 0) == 0:
            return sent(answer.get("msgid", ""))
        return _errcode_outcome(answer)


class WecomAdapter(_TokenSender):
    """POST /cgi-bin/message/send (a text message from the application to a member)."""

    idempotency_window = timedelta(seconds=WECOM_DUPLICATE_INTERVAL)

    def __init__(self, settings: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.base = (settings.get("base_url") or WECOM_API).rstrip("/")
        self.corpid = settings.get("corpid", "")
        self.agentid = settings.get("agentid", "")
        self.secret = secrets.get("corpsecret", "")
        self.client = Client()
        self.tokens = TokenCache(f"wecom:{self.base}:{self.corpid}:{self.agentid}", self._fetch_token)

    def _fetch_token(self) -> tuple[str, int] | SendResult:
        query = urlencode({"corpid": self.corpid, "corpsecret": self.secret})
        answer = _answer(call(self.client, "GET", f"{self.base}/cgi-bin/gettoken?{query}"))
        if isinstance(answer, SendResult):
            return retry(answer.detail) if answer.outcome.value == "ambiguous" else answer
        if int(answer.get("errcode", 0) or 0) != 0 or not answer.get("access_token"):
            return failed(
                "configuration", f"no access token: {answer.get('errcode')} {answer.get('errmsg', '')}"
            )
        return answer["access_token"], int(answer.get("expires_in") or 7200)

    def send(self, message: Outgoing) -> SendResult:
        content = f"{message.subject}\n{message.body}" if message.subject else message.body
        payload = {
            "touser": message.address,
            "msgtype": "text",
            "agentid": int(self.agentid or 0),
            "text": {"content": content},
            "enable_duplicate_check": 1,
            "duplicate_check_interval": WECOM_DUPLICATE_INTERVAL,
        }
        answer = self._send_with_token(f"{self.base}/cgi-bin/message/send", payload)
        if isinstance(answer, SendResult):
            return answer
        if int(answer.get("errcode", 0) or 0) == 0:
            if answer.get("invaliduser"):
                return failed("invalid_address", "WeCom does not know this member")
            return sent(answer.get("msgid", ""))
        return _errcode_outcome(answer)
