"""Outbound webhooks: a signed JSON POST to the merchant's own system.

The body is signed with HMAC-SHA256 over "<timestamp>.<raw body>" (`X-Guanxi-Signature: sha256=<hex>`,
`X-Guanxi-Timestamp`), so a receiver can refuse forgeries and stale replays; `X-Guanxi-Delivery` (also
sent as `Idempotency-Key`) is the send key, on which receivers de-duplicate — that contract is what
lets a failed or timed-out delivery be retried with a backoff.
"""

import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

from guanxi.core.outbound import Client
from guanxi.messaging.channels.base import Outgoing, SendResult, sent
from guanxi.messaging.channels.sms import call, http_outcome


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_is_valid(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    return bool(secret) and hmac.compare_digest(signature(secret, timestamp, body), given or "")


class WebhookAdapter:
    def __init__(self, settings: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.url = settings.get("url", "")
        deduplicates = settings.get("receiver_deduplicates", True)
        self.idempotency_window = timedelta(days=7) if deduplicates else None
        self.secret = secrets.get("signing_secret", "")
        self.client = Client()

    def send(self, message: Outgoing) -> SendResult:
        body = json.dumps(
            {
                "delivery": message.send_key,
                "source": message.source,
                "customer_id": message.customer_id,
                "subject": message.subject,
                "body": message.body,
                "fields": message.fields,
            },
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Guanxi-Delivery": message.send_key,
            "Idempotency-Key": message.send_key,
            "X-Guanxi-Timestamp": timestamp,
            "X-Guanxi-Signature": signature(self.secret, timestamp, body),
        }
        response = call(self.client, "POST", self.url, body=body, headers=headers)
        if isinstance(response, SendResult):
            return response
        return http_outcome(response) or sent(message.send_key)

    def close(self) -> None:
        self.client.close()
