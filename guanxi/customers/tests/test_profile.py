from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError

from guanxi.commerce.tests.factories import SHANGHAI, make_customer
from guanxi.core.models import AuditEntry
from guanxi.customers import profile
from guanxi.customers.merging.merge import merge_customers
from guanxi.customers.models import (
    Address,
    Consent,
    Customer,
    CustomerTag,
    CustomFieldDefinition,
    CustomFieldValue,
    Note,
    TimelineEvent,
)


def at(year, month, day):
    return datetime(year, month, day, 12, 0, tzinfo=SHANGHAI)


def message_of(error: ValidationError) -> str:
    return error.messages[0]


def test_adding_and_removing_a_tag_is_audited_and_on_the_timeline(unit_a, admin_user):
    customer = make_customer("张伟", [unit_a])
    group = profile.create_tag_group("Interests", colour="#ff0000", actor=admin_user)
    tag = profile.create_tag("Runner", colour="#00ff00", group=group, description="Buys running gear")

    assert profile.add_tag(customer, tag, actor=admin_user) is True
    assert profile.add_tag(customer, tag, actor=admin_user) is False
    assert list(CustomerTag.objects.filter(customer=customer).values_list("tag__name", "added_by")) == [
        ("Runner", admin_user.pk)
    ]
    assert profile.remove_tag(customer, tag, actor=admin_user) is True
    assert profile.remove_tag(customer, tag, actor=admin_user) is False

    assert CustomerTag.objects.count() == 0
    assert [
        (entry.action, entry.details)
        for entry in AuditEntry.objects.filter(object_type="customers.customer").order_by("id")
    ] == [("update", "Tag “Runner” added"), ("update", "Tag “Runner” removed")]
    assert list(TimelineEvent.objects.order_by("id").values_list("kind", "data")) == [
        ("tag_added", {"tag": "Runner"}),
        ("tag_removed", {"tag": "Runner"}),
    ]
    assert tag.group == group


def test_tag_names_are_unique_and_required(admin_user):
    profile.create_tag("VIP")

    with pytest.raises(ValidationError) as duplicate:
        profile.create_tag(" VIP ")
    with pytest.raises(ValidationError) as empty:
        profile.create_tag("  ")

    assert message_of(duplicate.value) == "A tag named “VIP” already exists."
    assert message_of(empty.value) == "A tag needs a name."


def test_a_note_written_in_one_unit_is_not_visible_to_another(
    unit_a, unit_b, unit_a_head, unit_b_head, admin_user
):
    customer = make_customer("张伟", [unit_a, unit_b])

    in_b = profile.add_note(customer, "  Complained about the courier  ", actor=unit_b_head, unit=unit_b)
    everywhere = profile.add_note(customer, "VIP since 2019", actor=admin_user)

    assert in_b.body == "Complained about the courier"
    assert list(Note.objects.restrict(unit_a_head, "view").values_list("pk", flat=True)) == [everywhere.pk]
    assert sorted(Note.objects.restrict(unit_b_head, "view").values_list("pk", flat=True)) == [
        in_b.pk,
        everywhere.pk,
    ]
    entry = AuditEntry.objects.get(object_type="customers.note", object_id=str(in_b.pk))
    assert (entry.action, entry.unit, entry.details) == ("create", unit_b, f"On customer #{customer.pk}")
    with pytest.raises(ValidationError):
        profile.add_note(customer, "   ", actor=admin_user)


def test_consent_is_an_evidence_log_whose_newest_row_is_the_current_state(unit_a, admin_user):
    customer = make_customer("张伟", [unit_a])

    profile.record_consent(
        customer,
        "sms",
        "granted",
        "checkbox",
        actor=admin_user,
        source="checkout form",
        recorded_at=at(2024, 1, 1),
    )
    profile.record_consent(customer, "sms", "withdrawn", "reply", evidence="TD", recorded_at=at(2024, 3, 1))
    # Evidence that turns up later but is older does not change the current state.
    profile.record_consent(
        customer, "sms", "granted", "import", source="legacy.csv", recorded_at=at(2023, 6, 1)
    )
    profile.record_consent(customer, "email", "granted", "double_opt_in", recorded_at=at(2024, 2, 1))

    current = Consent.current_for(customer.pk)
    assert {channel: (row.state, row.method) for channel, row in current.items()} == {
        "sms": ("withdrawn", "reply"),
        "email": ("granted", "double_opt_in"),
    }
    assert Consent.objects.filter(customer=customer).count() == 4
    assert list(TimelineEvent.objects.order_by("occurred_at").values_list("data", flat=True)) == [
        {"channel": "sms", "state": "granted", "method": "checkbox"},
        {"channel": "email", "state": "granted", "method": "double_opt_in"},
        {"channel": "sms", "state": "withdrawn", "method": "reply"},
    ]
    with pytest.raises(ValidationError) as error:
        profile.record_consent(customer, "fax", "granted", "checkbox")
    assert message_of(error.value) == "Unknown consent channel: fax."


def test_addresses_keep_one_default_and_updates_audit_changed_fields(unit_a, admin_user):
    customer = make_customer("张伟", [unit_a])

    first = profile.add_address(
        customer, receiver="张伟", phone="13812345678", city="杭州", street="文三路 100号"
    )
    second = profile.add_address(
        customer, receiver="张伟", city="上海", street="南京西路 1号", is_default=True
    )
    profile.update_address(
        first, actor=admin_user, street="文三路 200号", postal_code="310000", is_default=True
    )

    assert sorted(Address.objects.values_list("city", "street", "is_default")) == [
        ("上海", "南京西路 1号", False),
        ("杭州", "文三路 200号", True),
    ]
    entry = AuditEntry.objects.get(action="update", object_type="customers.address")
    assert (entry.object_id, entry.changes) == (
        str(first.pk),
        {
            "street": {"from": "[redacted]", "to": "[redacted]"},
            "postal_code": {"from": "", "to": "310000"},
            "is_default": {"from": False, "to": True},
        },
    )
    assert second.is_default is True
    with pytest.raises(ValidationError) as error:
        profile.add_address(customer, colour="red")
    assert message_of(error.value) == "Not address fields: colour."


@pytest.mark.parametrize(
    ("type_", "choices", "given", "stored"),
    [
        ("text", [], "  likes green  ", "likes green"),
        ("number", [], "41.5", "41.5"),
        ("number", [], 42, "42"),
        ("date", [], "2024-05-01", "2024-05-01"),
        ("date", [], date(2024, 5, 1), "2024-05-01"),
        ("boolean", [], "是", True),
        ("boolean", [], False, False),
        ("choice", ["S", "M", "L"], "M", "M"),
    ],
)
def test_custom_field_values_are_stored_by_type(unit_a, type_, choices, given, stored):
    customer = make_customer("张伟", [unit_a])
    definition = profile.create_custom_field("field", "Field", type_, choices)

    row = profile.set_custom_field(customer, "field", given)

    assert row.value == stored
    assert CustomFieldValue.objects.get(customer=customer, definition=definition).value == stored


@pytest.mark.parametrize(
    ("type_", "choices", "given", "message"),
    [
        ("number", [], "big", "“Shoe size”: “big” is not a number."),
        ("number", [], True, "“Shoe size”: “True” is not a number."),
        ("date", [], "01/05/2024", "“Shoe size”: “01/05/2024” is not a date (YYYY-MM-DD)."),
        ("boolean", [], "maybe", "“Shoe size”: “maybe” is not yes or no."),
        ("choice", ["S", "M"], "XL", "“Shoe size”: “XL” is not one of the choices."),
        ("text", [], "x" * 1001, "“Shoe size”: at most 1000 characters."),
    ],
)
def test_invalid_custom_field_values_are_refused_naming_the_field(unit_a, type_, choices, given, message):
    customer = make_customer("张伟", [unit_a])
    profile.create_custom_field("shoe_size", "Shoe size", type_, choices)

    with pytest.raises(ValidationError) as error:
        profile.set_custom_field(customer, "shoe_size", given)

    assert message_of(error.value) == message
    assert CustomFieldValue.objects.count() == 0


def test_custom_field_values_change_and_clear_with_audit_naming_the_field_only(unit_a, admin_user):
    customer = make_customer("张伟", [unit_a])
    profile.create_custom_field("shoe_size", "Shoe size", CustomFieldDefinition.Type.NUMBER)

    profile.set_custom_field(customer, "shoe_size", "41", actor=admin_user)
    profile.set_custom_field(customer, "shoe_size", "41", actor=admin_user)
    profile.set_custom_field(customer, "shoe_size", "", actor=admin_user)

    assert CustomFieldValue.objects.count() == 0
    assert [(entry.details, entry.changes) for entry in AuditEntry.objects.filter(action="update")] == [
        ("Custom field “Shoe size” set", {}),
        ("Custom field “Shoe size” set", {}),
    ]
    with pytest.raises(ValidationError) as error:
        profile.create_custom_field("colour", "Colour", CustomFieldDefinition.Type.CHOICE)
    assert message_of(error.value) == "A choice field needs at least one choice."


def test_profile_updates_audit_changed_fields_with_personal_values_redacted(unit_a, admin_user):
    customer = make_customer("张伟", [unit_a], city="杭州")

    profile.update_profile(
        customer, actor=admin_user, name="张伟伟", city="上海", birthday="1990-05-01", province=""
    )

    customer.refresh_from_db()
    assert (customer.name, customer.city, customer.birthday) == ("张伟伟", "上海", date(1990, 5, 1))
    entry = AuditEntry.objects.get(action="update")
    assert entry.changes == {
        "name": {"from": "[redacted]", "to": "[redacted]"},
        "city": {"from": "杭州", "to": "上海"},
        "birthday": {"from": "[redacted]", "to": "[redacted]"},
    }
    assert TimelineEvent.objects.get().data == {"fields": ["name", "city", "birthday"]}
    with pytest.raises(ValidationError) as error:
        profile.update_profile(customer, actor=admin_user, status="merged", merged_into=None)
    assert message_of(error.value) == "Not editable profile fields: merged_into, status."
    with pytest.raises(ValidationError):
        profile.update_profile(customer, gender="robot")


def test_a_merged_customer_cannot_be_edited(unit_a, admin_user):
    survivor = make_customer("张伟", [unit_a])
    absorbed = make_customer("张伟", [unit_a])
    merge_customers(survivor, absorbed)
    tag = profile.create_tag("VIP")

    with pytest.raises(ValidationError) as error:
        profile.add_tag(Customer.objects.get(pk=absorbed.pk), tag)

    assert message_of(error.value) == (
        f"Customer #{absorbed.pk} was merged into customer #{survivor.pk}; edit that profile instead."
    )
    assert CustomerTag.objects.count() == 0
