"""What every channel adapter takes and answers.

`send()` returns an `Outcome` for one message: SENT (the provider took it), FAILED (it never will:
a bad address, a rejected template), RETRY (it did not reach the provider, or the provider said to
come back later) or AMBIGUOUS (it may have been sent: a timeout after the request went out). The
sender decides what AMBIGUOUS becomes from the adapter's `idempotency_window`: providers that
de-duplicate on our send key within that window get the same key again; the others are left
`unknown` for marketing (sending.py).
"""

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol


class Outcome(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Outgoing:
    """One message as an adapter sends it."""

    send_key: str
    address: str
    subject: str
    body: str  # an SMS already carries its 【signature】
    fields: dict[str, str]
    provider_template: str
    purpose: str
    unsubscribe_url: str = ""
    customer_id: int | None = None
    source: str = ""


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_id: str = ""
    reason: str = ""  # a code of reasons.py for FAILED
    detail: str = ""


@dataclass
class TestResult:
    ok: bool
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    # How long the provider de-duplicates requests carrying the same key; None when it does not.
    idempotency_window: timedelta | None

    def send(self, message: Outgoing) -> SendResult: ...

    def close(self) -> None: ...


def key_digest(send_key: str, length: int = 32) -> str:
    """A short stable form of a send key, for providers that limit their idempotency field's length."""
    return hashlib.sha256(send_key.encode()).hexdigest()[:length]


def sent(provider_id: Any = "") -> SendResult:
    return SendResult(Outcome.SENT, provider_id=str(provider_id or "")[:128])


def failed(reason: str, detail: str = "") -> SendResult:
    return SendResult(Outcome.FAILED, reason=reason, detail=detail[:300])


def retry(detail: str) -> SendResult:
    return SendResult(Outcome.RETRY, detail=detail[:300])


def ambiguous(detail: str) -> SendResult:
    return SendResult(Outcome.AMBIGUOUS, detail=detail[:300])
