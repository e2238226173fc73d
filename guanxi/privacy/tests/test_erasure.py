"""Erasure reaches every table, file and payload; survives a backup restore; keeps the person from
being marketed again; and no model with a personal-looking field escapes the inventory."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.test.utils import isolate_apps
from django.utils import timezone

from guanxi.accounts.roles import Role
from guanxi.commerce.actions import resolve_people
from guanxi.commerce.models import Order
from guanxi.commerce.records import PersonRecord
from guanxi.customers.models import Consent, Customer, Identity
from guanxi.customers.references import Scrub, pii_fields, register_pii, undeclared_pii_fields
from guanxi.messaging.addresses import address_hash
from guanxi.messaging.models import Medium, Suppression
from guanxi.privacy import actions
from guanxi.privacy.models import PrivacyRequest
from guanxi.privacy.tests import dumps
from guanxi.privacy.tests.seed import EMAIL, NAME, NATIONAL, PHONE, scan, seed_person


def test_every_personal_looking_field_is_declared(db):
    assert undeclared_pii_fields() == []


def test_a_new_model_with_a_personal_field_is_caught():
    with isolate_apps("guanxi.privacy") as registry:

        class Inbox(models.Model):
            payload = models.JSONField()
            received_at = models.DateTimeField()

            class Meta:
                app_label = "privacy"

            def __str__(self) -> str:
                return "inbox row"

        Inbox.__module__ = "guanxi.privacy.models"
        assert undeclared_pii_fields(registry) == ["privacy.Inbox.payload"]
        before = len(pii_fields())
        register_pii(Inbox, ["payload"], Scrub())
        try:
            assert undeclared_pii_fields(registry) == []
        finally:
            from guanxi.customers import references

            del references._pii[before:]


def _erase(customer, requester, approver):
    item = actions.request_erasure(customer, actor=requester, note=f"letter from {NAME}")
    actions.approve(item, actor=approver)
    item.refresh_from_db()
    return actions.perform_erasure(item, actor=approver), item


def _files_text(home) -> str:
    return "\n".join(
        path.read_bytes().decode("utf-8", "replace") for path in sorted(home.rglob("*")) if path.is_file()
    )


@pytest.mark.django_db(transaction=True)
def test_erasure_leaves_no_trace_and_a_restored_backup_is_erased_again(
    home, unit_a, unit_b, make_user, tmp_path
):
    requester = make_user("head", Role.UNIT_HEAD, [unit_a])
    approver = make_user("group", Role.GROUP_MANAGER)
    seeded = seed_person(unit_a, unit_b, home / "media")
    assert scan(dumps.dump_text()) == [
        "欧阳晓梅",
        "13912345678",
        "xiaomei.ouyang@mailbox-cn.net",
        "朝阳区望京西路88号9栋1201",
    ]
    saved = dumps.backup(tmp_path)

    counts, item = _erase(seeded.customer, requester, approver)

    assert scan(dumps.dump_text()) == []
    assert scan(_files_text(home)) == []
    assert seeded.upload.read_text(encoding="utf-8") == "name,phone,email\n路人甲,13711112222,\n"
    assert counts["deleted customers.Identity"] == 3
    assert counts["deleted messaging.Message"] == 1
    assert counts["files"] == 1
    # The allow-list: the order and its amount stay (accounting law), on a profile without data.
    order = Order.objects.get(number="SO-1")
    assert (order.customer_id, str(order.total_amount), order.attributes) == (
        seeded.customer.pk,
        "199.00",
        {},
    )
    assert Customer.objects.filter(pk=seeded.customer.pk).values_list("name", "notes").get() == ("", "")
    assert sorted(Suppression.objects.values_list("medium", "address_hash", "reason", "scope")) == sorted(
        [
            (Medium.SMS, address_hash(Medium.SMS, PHONE), "erased", "all"),
            (Medium.EMAIL, address_hash(Medium.EMAIL, EMAIL), "erased", "all"),
        ]
    )
    item.refresh_from_db()
    assert (item.state, item.note) == (PrivacyRequest.State.DONE, "")
    # The bystander is untouched.
    assert (
        Identity.objects.filter(customer=seeded.other).values_list("value", flat=True).get()
        == "+8613711112222"
    )

    dumps.restore(saved)
    assert scan(dumps.dump_text()) == [
        "欧阳晓梅",
        "13912345678",
        "xiaomei.ouyang@mailbox-cn.net",
        "朝阳区望京西路88号9栋1201",
    ]

    assert actions.replay() == [(item.pk, seeded.customer.pk)]

    assert scan(dumps.dump_text()) == []
    assert actions.replay() == []
    assert Customer.objects.get(pk=seeded.other.pk).name == "路人甲"


def test_an_erased_phone_or_email_comes_back_not_marketable(db, home, unit_a, unit_b, make_user):
    requester = make_user("head", Role.UNIT_HEAD, [unit_a])
    approver = make_user("group", Role.GROUP_MANAGER)
    seeded = seed_person(unit_a, unit_b, home / "media")
    _erase(seeded.customer, requester, approver)

    person = PersonRecord()
    person.add(Identity.Kind.PHONE, NATIONAL)
    stranger = PersonRecord()
    stranger.add(Identity.Kind.EMAIL, "someone.else@mailbox-cn.net")
    resolved = resolve_people([person, stranger], unit=unit_a, source="csv")

    back, fresh = resolved.ids
    assert back != seeded.customer.pk
    assert sorted(Consent.current_for(back)) == ["email", "phone", "sms", "wechat"]
    assert {row.state for row in Consent.current_for(back).values()} == {Consent.State.WITHDRAWN}
    assert Consent.current_for(fresh) == {}
    assert Suppression.objects.filter(address_hash=address_hash(Medium.SMS, PHONE), scope="all").exists()


def test_the_two_person_rule(db, unit_a, make_user, home):
    head = make_user("head", Role.UNIT_HEAD, [unit_a])
    group = make_user("group", Role.GROUP_MANAGER)
    customer = Customer.objects.create(name="A")
    item = actions.request_erasure(customer, actor=group)
    with pytest.raises(ValidationError) as refused:
        actions.approve(item, actor=group)
    assert refused.value.code == "same_person"
    with pytest.raises(PermissionDenied):
        actions.approve(item, actor=head)  # a unit head may request, not approve
    actions.approve(item, actor=make_user("admin", Role.SYSTEM_ADMIN))
    item.refresh_from_db()
    assert item.state == PrivacyRequest.State.APPROVED
    assert item.approved_at <= timezone.now()


@pytest.mark.django_db(transaction=True)
def test_erasure_deletes_the_files_on_the_persons_tickets(home, unit_a, make_user):
    from guanxi.commerce.tests.factories import make_customer
    from guanxi.service import actions as service
    from guanxi.service.models import Attachment
    from guanxi.service.tests.test_attachments import png

    agent = make_user("kefu", Role.SERVICE_AGENT, [unit_a])
    person = make_customer(NAME, [unit_a], phone="+8613912345678")
    bystander = make_customer("路人甲", [unit_a], phone="+8613711112222")
    mine = service.open_ticket(actor=agent, unit=unit_a, subject="破损", customer=person)
    theirs = service.open_ticket(actor=agent, unit=unit_a, subject="破损", customer=bystander)
    service.add_note(mine, "", actor=agent, files=[("面单.png", png())])
    service.add_note(theirs, "", actor=agent, files=[("快递.png", png())])
    kept = Attachment.objects.get(ticket=theirs)
    assert len([p for p in (home / "media").rglob("*") if p.is_file()]) == 2

    counts, _item = _erase(
        person, make_user("head", Role.UNIT_HEAD, [unit_a]), make_user("group", Role.GROUP_MANAGER)
    )

    assert counts["deleted service.Attachment"] == 1
    assert list(Attachment.objects.values_list("pk", flat=True)) == [kept.pk]
    assert [p for p in (home / "media").rglob("*") if p.is_file()] == [home / "media" / kept.file.name]
