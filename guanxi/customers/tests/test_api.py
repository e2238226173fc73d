"""GET /api/v1/customers and /api/v1/customers/{id}: unit scoping and PII masking."""

import pytest

from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.models import Identity


@pytest.fixture
def customers(unit_a, unit_b):
    return {
        "a": make_customer("张三丰", [unit_a], phone="+8613812345678", province="浙江", city="杭州"),
        "b": make_customer("李四", [unit_b], phone="+8613900001111"),
        "both": make_customer("王五", [unit_a, unit_b]),
    }


def test_unit_a_sees_no_unit_b_customer(client, unit_a_head, customers, bearer):
    response = client.get("/api/v1/customers", headers=bearer(unit_a_head))

    assert [item["id"] for item in response.json()["items"]] == [customers["both"].pk, customers["a"].pk]


def test_unit_b_customer_is_404_for_unit_a(client, unit_a_head, customers, bearer):
    response = client.get(f"/api/v1/customers/{customers['b'].pk}", headers=bearer(unit_a_head))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "No such resource, or you may not see it."


def test_pii_masked_without_permission(client, make_user, unit_a, customers, bearer):
    analyst = make_user("ana", Role.ANALYST, [unit_a])

    body = client.get("/api/v1/customers", headers=bearer(analyst)).json()

    assert body["items"][1] == {
        "id": customers["a"].pk,
        "name": "张**",
        "phone": "138****5678",
        "email": "",
        "gender": "",
        "province": "浙江",
        "city": "杭州",
        "district": "",
        "source_channel": "",
        "first_seen_at": body["items"][1]["first_seen_at"],
        "created_at": body["items"][1]["created_at"],
        "pii_masked": True,
    }


def test_pii_shown_with_permission(client, unit_a_head, customers, bearer):
    body = client.get("/api/v1/customers", headers=bearer(unit_a_head)).json()

    item = body["items"][1]
    assert (item["name"], item["phone"], item["pii_masked"]) == ("张三丰", "+8613812345678", False)


def test_detail_masks_identities_and_birthday(client, make_user, unit_a, unit_b, customers, bearer):
    customer = customers["both"]
    customer.birthday = "1990-05-01"
    customer.save(update_fields=["birthday"])
    Identity.objects.create(customer=customer, kind=Identity.Kind.EMAIL, value="wangwu@example.com")
    Identity.objects.create(customer=customer, kind=Identity.Kind.WECHAT_UNIONID, value="oABCDEF123")
    analyst = make_user("ana", Role.ANALYST, [unit_a])

    body = client.get(f"/api/v1/customers/{customer.pk}", headers=bearer(analyst)).json()

    assert (body["name"], body["email"], body["birthday"], body["unit_ids"]) == (
        "王*",
        "w***@example.com",
        None,
        [unit_a.pk],
    )
    assert body["identities"] == [
        {"kind": "email", "value": "w***@example.com", "namespace": "", "is_verified": False},
        {"kind": "wechat_unionid", "value": "o***", "namespace": "", "is_verified": False},
    ]


def test_detail_unmasked_for_pii_holder(client, manager, unit_a, unit_b, customers, bearer):
    customer = customers["a"]

    body = client.get(f"/api/v1/customers/{customer.pk}", headers=bearer(manager)).json()

    assert (body["name"], body["phone"], body["birthday"], body["unit_ids"]) == (
        "张三丰",
        "+8613812345678",
        None,
        [unit_a.pk],
    )
    assert body["identities"] == [
        {"kind": "phone", "value": "+8613812345678", "namespace": "", "is_verified": False}
    ]
