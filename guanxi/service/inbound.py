"""E-mail to a unit's support address becomes a ticket, and a reply to it threads onto the same ticket.

`receive_email(raw)` parses a message exactly as an SMTP server received it (Python's `email` package,
the modern policy), so the same code serves the SMTP listener (`guanxi service-mail`), an MTA pipe and
tests. Threading: the message's In-Reply-To and References are looked up among the Message-IDs the desk
has seen (a ticket's first message and every later one), then a "[#123]" tag in the subject from the
ticket's own sender. A Message-ID seen before (a replay, a retried delivery) creates nothing.
"""

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from guanxi.customers.actions import upsert_customers_by_identity
from guanxi.customers.identities import identity_key
from guanxi.customers.models import Customer, Identity
from guanxi.service import actions
from guanxi.service.models import (
    InboundEmail,
    ServiceSettings,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketType,
)

TAG = re.compile(r"\[#(\d{1,12})\]")
MESSAGE_ID = re.compile(r"<[^<>\s]{1,240}>")
MAX_BODY = 20_000


@dataclass(frozen=True)
class Received:
    """What became of one message: `outcome` is "created", "threaded", "replayed" or "no_unit"."""

    outcome: str
    ticket: Ticket | None = None


def _ids(header: str | None) -> list[str]:
    return MESSAGE_ID.findall(str(header or ""))


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = cast(EmailMessage, part).get_content()
    if part.get_content_type() == "text/html":
        content = re.sub(r"<[^>]+>", " ", content)
    # Drop the quoted history of a reply: lines starting with ">" and everything after "On … wrote:".
    lines = []
    for line in content.splitlines():
        if re.match(r"^\s*(On .+ wrote:|在.+写道[:：])\s*$", line):
            break
        if not line.startswith(">"):
            lines.append(line)
    return "\n".join(lines).strip()[:MAX_BODY]


def _files(message: EmailMessage) -> list[tuple[str, bytes]]:
    """The message's attached files as (name, bytes); parts without a file name are not files."""
    files = []
    for part in message.iter_attachments():
        name = part.get_filename()
        payload = part.get_payload(decode=True)
        if name and isinstance(payload, bytes):
            files.append((name, payload))
    return files


def _customer(address: str, name: str, desk: ServiceSettings) -> Customer | None:
    key = identity_key(Identity.Kind.EMAIL, address)
    if key is None:
        return None
    profile = {"name": name[:100]} if name else {}
    resolved = upsert_customers_by_identity({key: profile}, unit=desk.unit, source="service_email")
    return Customer.objects.filter(pk=resolved.ids[key]).first()


def _thread(message: EmailMessage, sender: str, unit_id: int) -> Ticket | None:
    references = [*_ids(message.get("In-Reply-To")), *reversed(_ids(message.get("References")))]
    for message_id in references:
        ticket = Ticket.objects.filter(unit_id=unit_id, email_message_id=message_id).first()
        if ticket is None:
            event = (
                TicketEvent.objects.filter(message_id=message_id, ticket__unit_id=unit_id)
                .select_related("ticket")
                .first()
            )
            ticket = event.ticket if event is not None else None
        if ticket is not None:
            return ticket
    tag = TAG.search(str(message.get("Subject", "")))
    if tag:
        return Ticket.objects.filter(pk=int(tag.group(1)), unit_id=unit_id, email_address=sender).first()
    return None


def receive_email(raw: bytes, *, recipients: list[str] | None = None) -> Received:
    """Turn one received message into a ticket or a message on one. `recipients` are the SMTP envelope's
    RCPT TO addresses (the To and Cc headers when not given)."""
    message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
    name, sender = parseaddr(str(message.get("From", "")))
    sender = sender.strip().lower()
    message_id = next(iter(_ids(message.get("Message-ID"))), "")
    if not message_id:
        # Without an id a retried delivery cannot be told apart; one made from the content is stable.
        message_id = "<" + hashlib.sha256(raw).hexdigest()[:40] + "@guanxi.invalid>"
    addresses = recipients or [
        address for _name, address in getaddresses([str(message.get("To", "")), str(message.get("Cc", ""))])
    ]
    desk = (
        ServiceSettings.objects.select_related("unit")
        .filter(support_address__in=[a.strip().lower() for a in addresses if a], unit__is_active=True)
        .first()
    )
    with actions.storing_files() as stored, transaction.atomic():
        try:
            with transaction.atomic():
                record = InboundEmail.objects.create(
                    message_id=message_id, recipient=",".join(addresses)[:254], sender=sender[:254]
                )
        except IntegrityError:
            return Received("replayed")
        if desk is None:
            record.outcome = "no_unit"
            record.save(update_fields=["outcome"])
            return Received("no_unit")
        body = _text(message)
        subject = str(message.get("Subject", "")).strip() or body[:60] or "(no subject)"
        ticket = _thread(message, sender, desk.unit_id)
        now = timezone.now()
        files = _files(message)
        event: TicketEvent | None
        if ticket is not None:
            event = actions.customer_wrote(ticket, body, message_id=message_id, now=now)
            outcome = "threaded"
        else:
            ticket = actions.open_ticket(
                actor=None,
                unit=desk.unit,
                subject=subject,
                customer=_customer(sender, name, desk),
                ticket_type=TicketType.INQUIRY,
                channel=TicketChannel.EMAIL,
                body=body,
                email_address=sender,
                message_id=message_id,
                now=now,
            )
            kinds = [TicketEvent.Kind.INBOUND] if body else [TicketEvent.Kind.CREATED]
            event = ticket.events.filter(kind__in=kinds).first()
            outcome = "created"
        if files and event is not None:
            stored.extend(actions.attach_received(event, files))
        record.ticket = ticket
        record.outcome = outcome
        record.save(update_fields=["ticket", "outcome"])
    return Received(outcome, ticket)
