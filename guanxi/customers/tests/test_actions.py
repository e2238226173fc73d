from datetime import UTC, datetime

from guanxi.core.models import AuditEntry
from guanxi.customers.actions import upsert_customers_by_identity
from guanxi.customers.identities import IdentityKey
from guanxi.customers.models import Customer, CustomerUnit, Identity

PHONE = IdentityKey("phone", "", "+8613812345678")
EMAIL = IdentityKey("email", "", "li.na@qq.com")
SEEN = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def test_unknown_keys_create_one_customer_each_linked_to_the_unit(unit_a):
    resolved = upsert_customers_by_identity(
        {PHONE: {"name": "张伟", "first_seen_at": SEEN}, EMAIL: {"name": "李娜"}}, unit=unit_a, source="test"
    )

    assert resolved.created == 2
    assert set(resolved.ids) == {PHONE, EMAIL}
    phone_customer = Customer.objects.get(pk=resolved.ids[PHONE])
    assert phone_customer.name == "张伟"
    assert phone_customer.first_seen_at == SEEN
    assert list(Identity.objects.filter(customer=phone_customer).values_list("kind", "value", "source")) == [
        ("phone", "+8613812345678", "test")
    ]
    assert CustomerUnit.objects.filter(unit=unit_a).count() == 2
    assert AuditEntry.objects.filter(action="create", object_type="customers.customer").count() == 1


def test_known_keys_resolve_to_the_same_customer_and_change_nothing(unit_a):
    first = upsert_customers_by_identity({PHONE: {"name": "张伟"}}, unit=unit_a, source="test")

    again = upsert_customers_by_identity(
        {PHONE: {"name": "Someone else"}, EMAIL: {}}, unit=unit_a, source="test"
    )

    assert again.ids[PHONE] == first.ids[PHONE]
    assert again.created == 1
    assert Customer.objects.get(pk=first.ids[PHONE]).name == "张伟"
    assert Customer.objects.count() == 2
    assert Identity.objects.count() == 2


def test_a_customer_known_in_one_unit_becomes_visible_to_another(unit_a, unit_b):
    first = upsert_customers_by_identity({PHONE: {}}, unit=unit_a, source="test")

    second = upsert_customers_by_identity({PHONE: {}}, unit=unit_b, source="test")

    assert second.ids[PHONE] == first.ids[PHONE]
    assert second.created == 0
    assert set(CustomerUnit.objects.values_list("unit_id", flat=True)) == {unit_a.pk, unit_b.pk}


def test_many_keys_are_resolved_in_bulk(unit_a, django_assert_max_num_queries):
    keys = {IdentityKey("external_id", "shop", str(number)): {} for number in range(1200)}

    # Batched statements (SQLite binds at most 999 values each), never a query per key.
    with django_assert_max_num_queries(50):
        resolved = upsert_customers_by_identity(keys, unit=unit_a, source="test")

    assert resolved.created == 1200
    assert len(set(resolved.ids.values())) == 1200
    assert CustomerUnit.objects.filter(unit=unit_a).count() == 1200
