"""The outbox worker: claim due messages, pass them through the gates, send, record what happened.

One pass (`send_due`):
1. `claim()` a batch of pending messages under a lease (core.claims; claims on the outbox are
   serialised, so two workers never hold the same row).
2. Per chunk, in one transaction: lock the chunk's marketing customers (`SELECT … FOR UPDATE`, in id
   order), read consent, suppression and the budget, decide, and mark the messages that pass
   `sending` (`started_at`). An opt-out locks the same customer row, so it either committed before
   the gates read (and the message is dropped) or waits until the chunk is marked: no marketing send
   starts after an opt-out commits. Two workers gating the same customer wait for each other, so the
   budget is never overrun.
3. Send each marked message through its channel adapter with the send key as the provider's
   idempotency key, and record the outcome: sent; failed; given back for a retry (not sent); or,
   when a request may have reached the provider without an answer, resent later with the same key
   if the provider de-duplicates within its window, else `unknown` for marketing (never resent) and
   resent for transactional messages (a duplicate notice beats a lost one).

A worker killed between 2 and 3 leaves messages `sending` under a lease that runs out; the next claim
treats them as interrupted sends, exactly as in the ambiguous case. Chunks of messages for providers
without idempotency are small, so a crash leaves few of them `unknown`.
"""

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from guanxi.core.claims import Claim, claim
from guanxi.customers.models import Customer
from guanxi.messaging import credentials, gates
from guanxi.messaging.channels.base import Adapter, Outcome, Outgoing, SendResult
from guanxi.messaging.channels.registry import adapter_for
from guanxi.messaging.models import ChannelAccount, Message, Purpose
from guanxi.messaging.rendering import sms_text

logger = logging.getLogger("guanxi.messaging")

QUEUE = "messaging-outbox"
BATCH = 200
CHUNK_WITHOUT_IDEMPOTENCY = 20
MAX_ATTEMPTS = 8  # with the doubling backoff: about two hours of a failing provider
FLUSH_EVERY = 25
PAUSED_RECHECK = timedelta(minutes=5)
State = Message.State


@dataclass
class PassReport:
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n


# --- adapters, one set per thread (an SMTP connection is not shared) ---------------------------

_local = threading.local()


def adapter(channel: ChannelAccount) -> Adapter:
    cached: dict[int, tuple[datetime, Adapter]] = getattr(_local, "adapters", None) or {}
    _local.adapters = cached
    entry = cached.get(channel.pk)
    if entry is not None and entry[0] == channel.updated_at:
        return entry[1]
    if entry is not None:
        entry[1].close()
    made = adapter_for(channel.kind, channel.settings, credentials.decrypt(channel.unit_id, channel.secrets))
    cached[channel.pk] = (channel.updated_at, made)
    return made


def close_adapters() -> None:
    for _updated, made in (getattr(_local, "adapters", None) or {}).values():
        made.close()
    _local.adapters = {}


# --- one pass ------------------------------------------------------------------------------------


def lease() -> timedelta:
    return timedelta(seconds=settings.GUANXI_MESSAGING_LEASE_SECONDS)


def send_due(limit: int = BATCH) -> PassReport:
    """Claim up to `limit` due messages and take each as far as it goes now."""
    held_for = lease()
    batch = claim(Message.objects.pending(), queue=QUEUE, limit=limit, lease=held_for)
    rows = list(batch.rows().select_related("channel"))
    report = PassReport(claimed=len(rows))
    if not rows:
        return report
    started = time.monotonic()
    for chunk in _chunks(rows):
        if time.monotonic() - started > held_for.total_seconds() / 3:
            batch.heartbeat(held_for)
            started = time.monotonic()
        try:
            to_send = _gate(batch, chunk, report)
            _send(batch, to_send, report)
        except Exception as error:
            logger.exception("outbox chunk failed")
            batch.retry(f"{type(error).__name__}: {error}", [row.pk for row in chunk])
            report.add("error", len(chunk))
    return report


def _chunks(rows: list[Message]) -> Iterable[list[Message]]:
    """Rows of channels with idempotency in one chunk; the others in small ones."""
    safe = [row for row in rows if row.channel is not None and _window(row.channel) is not None]
    chosen = {row.pk for row in safe}
    unsafe = [row for row in rows if row.pk not in chosen]
    if safe:
        yield safe
    for start in range(0, len(unsafe), CHUNK_WITHOUT_IDEMPOTENCY):
        yield unsafe[start : start + CHUNK_WITHOUT_IDEMPOTENCY]


def _window(channel: ChannelAccount) -> timedelta | None:
    try:
        return adapter(channel).idempotency_window
    except Exception:  # undecryptable credentials: the send reports it
        return None


def _gate(batch: Claim, chunk: list[Message], report: PassReport) -> list[Message]:
    """Decide the chunk and mark the messages to send `sending`, in one transaction; return those."""
    now = timezone.now()
    with transaction.atomic():
        marketing = sorted(
            {row.customer_id for row in chunk if row.customer_id and row.purpose == Purpose.MARKETING}
        )
        if marketing:
            list(
                Customer.objects.select_for_update().filter(pk__in=marketing).order_by("pk").values_list("pk")
            )
        # Re-read under the locks: an opt-out may have dropped some, a cancel may have ended others.
        rows = list(
            Message.objects.filter(
                pk__in=[row.pk for row in chunk], claim_token=batch.token, state__in=Message.PENDING_STATES
            ).select_related("channel", "template_version")
        )
        facts = gates.gather(rows, now, Message.objects.filter(claim_token=batch.token))
        fresh = [row for row in rows if row.state != State.SENDING]
        decisions = gates.evaluate(fresh, facts, now)
        to_send: list[Message] = []
        for row in rows:
            if row.state == State.SENDING:
                reason = _interrupted(row, facts, now)
                if reason:
                    _finish(row, State.UNKNOWN, reason, row.detail, now)
                    report.add("unknown")
                else:
                    to_send.append(row)
        marked: list[Message] = []
        for row in fresh:
            decision = decisions[row.pk]
            row.time_zone = decision.time_zone
            if row.attempts > MAX_ATTEMPTS:
                _finish(row, State.FAILED, "retries_exhausted", row.last_error, now)
                report.add("failed")
            elif decision.action == "drop":
                _finish(row, State.DROPPED, decision.reason, "", now)
                report.add("dropped")
            elif decision.action == "hold":
                _hold(batch, row, decision.reason, decision.until or now)
                report.add("held")
            elif row.channel is None or not row.channel.is_active:
                _hold(batch, row, "channel_paused", now + PAUSED_RECHECK)
                report.add("held")
            else:
                row.state, row.started_at, row.reason, row.detail = State.SENDING, now, "", ""
                marked.append(row)
        _mark_sending(marked, now)
    return to_send + marked


def _mark_sending(rows: list[Message], now: datetime) -> None:
    """One UPDATE per recipient time zone (a batch has few), not a CASE per row and field."""
    by_zone: dict[str, list[int]] = {}
    for row in rows:
        by_zone.setdefault(row.time_zone, []).append(row.pk)
    for zone, pks in by_zone.items():
        Message.objects.filter(pk__in=pks).update(
            state=State.SENDING, started_at=now, reason="", detail="", time_zone=zone
        )


def _interrupted(row: Message, facts: gates.BatchFacts, now: datetime) -> str:
    """An earlier attempt may have reached the provider. Resend (with the same key) only where that is
    safe — the provider de-duplicates it within its window, or the message is transactional — and while
    the recipient still may receive it; otherwise the reason it is left `unknown`."""
    reason = "ambiguous_timeout" if row.detail else "ambiguous_crash"
    if row.attempts > MAX_ATTEMPTS:
        return reason  # it keeps being interrupted: stop, whatever the provider would do
    window = _window(row.channel) if row.channel else None
    idempotent = window is not None and now - (row.started_at or now) < window
    if not idempotent and row.purpose == Purpose.MARKETING:
        return reason
    if gates.permission_reason(row, facts, now):
        return reason
    return ""


def _finish(row: Message, state: str, reason: str, detail: str, now: datetime) -> None:
    Message.objects.filter(pk=row.pk).update(
        state=state,
        reason=reason,
        detail=detail[:300],
        finished_at=now,
        claim_token=None,
        lease_expires_at=None,
        time_zone=row.time_zone,
    )
    row.state = state


def _hold(batch: Claim, row: Message, reason: str, until: datetime) -> None:
    Message.objects.filter(pk=row.pk).update(state=State.HELD, reason=reason, time_zone=row.time_zone)
    batch.postpone([row.pk], until)
    row.state = State.HELD


def outgoing(row: Message, signature: str = "") -> Outgoing:
    from guanxi.messaging.actions import unsubscribe_url

    body = sms_text(signature, row.body) if row.medium == "sms" else row.body
    return Outgoing(
        send_key=row.send_key,
        address=row.address,
        subject=row.subject,
        body=body,
        fields=row.fields or {},
        provider_template=row.template_version.provider_template if row.template_version else "",
        purpose=row.purpose,
        unsubscribe_url=unsubscribe_url(row.send_key)
        if row.purpose == Purpose.MARKETING and row.medium == "email"
        else "",
        customer_id=row.customer_id,
        source=row.source,
    )


def _send(batch: Claim, rows: list[Message], report: PassReport) -> None:
    """Send one by one; what was sent is recorded every FLUSH_EVERY messages (and at the end), so a
    worker killed mid-batch leaves most of its sends recorded, and extends its lease as it goes."""
    if not rows:
        return
    signatures = {
        pk: policy.sms_signature for pk, policy in gates.policies({row.unit_id for row in rows}).items()
    }
    sent: list[Message] = []
    held_for = lease()
    renewed = time.monotonic()
    for row in rows:
        assert row.channel is not None
        try:
            result = adapter(row.channel).send(outgoing(row, signatures.get(row.unit_id, "")))
        except Exception as error:  # a bug or unreadable credentials: not sent
            logger.exception("channel %s failed to send message %s", row.channel_id, row.pk)
            result = SendResult(Outcome.RETRY, detail=f"{type(error).__name__}: {error}")
        _record(batch, row, result, sent, report)
        if len(sent) >= FLUSH_EVERY:
            _flush(sent)
        if time.monotonic() - renewed > held_for.total_seconds() / 3:
            _flush(sent)
            batch.heartbeat(held_for)
            renewed = time.monotonic()
    _flush(sent)


def _flush(sent: list[Message]) -> None:
    if not sent:
        return
    with transaction.atomic():
        Message.objects.filter(pk__in=[row.pk for row in sent]).update(
            state=State.SENT, sent_at=timezone.now(), claim_token=None, lease_expires_at=None
        )
        Message.objects.bulk_update([row for row in sent if row.provider_message_id], ["provider_message_id"])
    sent.clear()


def _record(batch: Claim, row: Message, result: SendResult, sent: list[Message], report: PassReport) -> None:
    now = timezone.now()
    report.add(result.outcome.value)
    if result.outcome == Outcome.SENT:
        row.provider_message_id = result.provider_id
        sent.append(row)
    elif result.outcome == Outcome.FAILED:
        _finish(row, State.FAILED, result.reason or "provider_rejected", result.detail, now)
    elif result.outcome == Outcome.RETRY:
        # Never reached the provider: back to the queue, as if it had not been started.
        Message.objects.filter(pk=row.pk).update(
            state=State.QUEUED, reason="transient_error", detail=result.detail[:300]
        )
        batch.retry(result.detail, [row.pk])
    else:
        window = _window(row.channel) if row.channel else None
        if window is None and row.purpose == Purpose.MARKETING:
            _finish(row, State.UNKNOWN, "ambiguous_timeout", result.detail, now)
        else:
            # Stays `sending`: the retry resends with the same key (see _interrupted).
            Message.objects.filter(pk=row.pk).update(detail=result.detail[:300])
            batch.retry(result.detail, [row.pk])


def drain(seconds: float = 50, limit: int = BATCH, idle_poll: float = 1.0) -> PassReport:
    """Passes until nothing is due — counting messages another worker holds, which come back when its
    lease runs out if it died — or `seconds` are spent (a worker's share of a minute)."""
    total = PassReport()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            report = send_due(limit)
            total.claimed += report.claimed
            for outcome, count in report.counts.items():
                total.add(outcome, count)
            if report.claimed == 0:
                if not pending_now():
                    break
                time.sleep(idle_poll)
    finally:
        close_adapters()
    return total


def pending_now() -> bool:
    return Message.objects.pending().filter(available_at__lte=timezone.now()).exists()


def as_dict(report: PassReport) -> dict[str, Any]:
    return {"claimed": report.claimed, **report.counts}
