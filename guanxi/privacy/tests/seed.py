"""One person with data in every place Guanxi keeps it, for the export and erasure tests."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from guanxi.commerce.models import Event, ImportRowError, ImportRun, WebhookDelivery
from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.core.models import Job
from guanxi.customers import profile
from guanxi.customers.merging.merge import merge_customers
from guanxi.customers.models import Address, Consent, ConsentChannel, Identity
from guanxi.messaging.models import Medium, Message, Purpose
from guanxi.sales.models import Lead
from guanxi.service.models import Ticket, TicketEvent

NAME = "欧阳晓梅"
PHONE = "+8613912345678"
NATIONAL = "13912345678"
EMAIL = "xiaomei.ouyang@mailbox-cn.net"
STREET = "朝阳区望京西路88号9栋1201"
# What a token scan looks for: none may remain after erasure.
TOKENS = (NAME, NATIONAL, EMAIL, STREET)


@dataclass
class Seeded:
    customer: object
    other: object
    store: object
    upload: Path


def seed_person(unit, other_unit, media_root: Path, *, events: int = 3) -> Seeded:
    """The person (with a second profile merged into it), a bystander, and their data everywhere."""
    customer = make_customer(NAME, [unit], phone=PHONE, notes=f"Prefers calls at {NATIONAL}")
    Identity.objects.create(customer=customer, kind=Identity.Kind.EMAIL, value=EMAIL, source="test")
    twin = make_customer(NAME, [other_unit])
    Identity.objects.create(
        customer=twin, kind=Identity.Kind.WECHAT_UNIONID, value="oUnion-ouyang-2024", source="t"
    )
    merge_customers(customer, twin, reason="test")
    other = make_customer("路人甲", [unit], phone="+8613711112222", notes="bystander")
    store = make_store(unit, "Home flagship")
    order = make_order(store, customer, "SO-1", "199.00", (2026, 5, 1))
    order.attributes = {"shipping": {"name": NAME, "phone": NATIONAL, "street": STREET}}
    order.save(update_fields=["attributes"])
    Address.objects.create(customer=customer, receiver=NAME, phone=NATIONAL, street=STREET, city="北京")
    profile.add_note(customer, f"Called {NAME} on {NATIONAL}")
    profile.record_consent(
        customer,
        ConsentChannel.SMS,
        Consent.State.GRANTED,
        Consent.Method.WRITTEN,
        evidence=f"signed by {NAME}",
    )
    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(
                store=store,
                unit=unit,
                customer=customer,
                source="web",
                external_id=f"ev-{index}",
                kind=Event.Kind.BROWSE,
                properties={"url": f"/p/{index}", "email": EMAIL},
                occurred_at=now - timedelta(minutes=index),
            )
            for index in range(events)
        ]
    )
    # Before the visitor was known: no customer, but their e-mail in the payload.
    Event.objects.create(
        store=store,
        unit=unit,
        source="web",
        external_id="anon-1",
        kind=Event.Kind.SIGN_UP,
        properties={"email": EMAIL},
        occurred_at=now,
    )
    Message.objects.create(
        unit=unit,
        medium=Medium.SMS,
        customer=customer,
        address=PHONE,
        purpose=Purpose.MARKETING,
        send_key="k-1",
        body=f"{NAME}，您好",
        state=Message.State.QUEUED,
    )
    ticket = Ticket.objects.create(unit=unit, customer=customer, subject=f"退货 {NAME}", email_address=EMAIL)
    TicketEvent.objects.create(ticket=ticket, kind="note", body=f"回电 {NATIONAL}")
    Lead.objects.create(unit=unit, name=NAME, phone=NATIONAL, email=EMAIL)  # not linked to the profile
    WebhookDelivery.objects.create(
        platform="shopify",
        store=store,
        unit=unit,
        event_id="wh-1",
        topic="orders/create",
        payload_sha256="0" * 64,
        status=WebhookDelivery.Status.FAILED,
        message=f"bad phone {NATIONAL}",
    )
    run = ImportRun.objects.create(
        unit=unit, kind="customers", file_name="people.csv", sha256="1" * 64, params={"sample": EMAIL}
    )
    ImportRowError.objects.create(
        run=run, row=2, column="phone", value=NATIONAL, code="x", params={"name": NAME}
    )
    Job.objects.create(kind="commerce.import", params={"preview": [NAME, EMAIL]}, state=Job.State.SUCCEEDED)
    folder = media_root / "imports" / "abc"
    folder.mkdir(parents=True)
    upload = folder / "people.csv"
    upload.write_text(f"name,phone,email\n{NAME},{NATIONAL},{EMAIL}\n路人甲,13711112222,\n", encoding="utf-8")
    return Seeded(customer, other, store, upload)


def scan(text: str) -> list[str]:
    """The tokens found in `text`, raw or as JSON escapes them."""
    import json

    return [
        token
        for token in TOKENS
        if token.lower() in text.lower() or json.dumps(token)[1:-1].lower() in text.lower()
    ]
