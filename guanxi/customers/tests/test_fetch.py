"""The customer 360 read model, directly and through GET /api/v1/customers/{id} and its timeline."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from guanxi.accounts.roles import Role
from guanxi.analytics.models import CustomerMetric
from guanxi.commerce.customer_parts import fetch_order_totals
from guanxi.commerce.models import Channel, Order, Return
from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.customers import profile
from guanxi.customers.models import Consent, ConsentChannel


@pytest.fixture
def shared(unit_a, unit_b, admin_user):
    tmall = make_store(unit_a, "Home Tmall", Channel.TMALL)
    jd = make_store(unit_a, "Home JD", Channel.JD)
    douyin = make_store(unit_b, "Beauty Douyin", Channel.DOUYIN)
    customer = make_customer("王芳", [unit_a, unit_b], phone="+8613812345678")
    first = make_order(tmall, customer, "T-1", "100.00", (2026, 3, 1))
    make_order(jd, customer, "J-1", "30.00", (2026, 5, 1), status=Order.Status.CREATED)
    make_order(douyin, customer, "D-1", "999.00", (2026, 5, 3))
    Return.objects.create(
        store=tmall,
        unit=unit_a,
        customer=customer,
        order=first,
        source=tmall.source,
        external_id="R-1",
        number="R-1",
        amount=Decimal("20.00"),
        quantity=1,
        returned_at=datetime(2026, 3, 9, tzinfo=UTC),
    )
    Return.objects.create(
        store=douyin,
        unit=unit_b,
        customer=customer,
        source=douyin.source,
        external_id="R-2",
        number="R-2",
        amount=Decimal("99.00"),
        quantity=1,
        returned_at=datetime(2026, 5, 9, tzinfo=UTC),
    )
    profile.add_tag(customer, profile.create_tag("VIP", colour="#ff0000", actor=admin_user), actor=admin_user)
    profile.record_consent(
        customer,
        ConsentChannel.EMAIL,
        Consent.State.WITHDRAWN,
        Consent.Method.UNSUBSCRIBE_LINK,
        source="newsletter",
        actor=admin_user,
    )
    CustomerMetric.objects.create(
        customer=customer,
        unit=unit_a,
        orders=1,
        total_spend=Decimal("100.00"),
        recency_days=10,
        r_score=5,
        f_score=1,
        m_score=3,
        rfm_segment="new",
        abc_class="B",
        lifecycle_stage="exploration",
        predicted_clv=Decimal("321.00"),
        churn_risk=0.25,
        churn_method="recency",
        expected_next_order_at=date(2026, 12, 1),
    )
    CustomerMetric.objects.create(customer=customer, unit=unit_b, orders=1, total_spend=Decimal("999.00"))
    return customer


def test_totals_count_only_visible_orders_and_returns(unit_a_head, shared):
    totals = fetch_order_totals(unit_a_head, shared)

    assert totals.orders == 2
    assert [(s.store_name, s.orders, s.revenue) for s in totals.per_store] == [
        ("Home JD", 1, Decimal("0.00")),
        ("Home Tmall", 1, Decimal("100.00")),
    ]
    assert [(t.currency, t.orders, t.revenue, t.returned) for t in totals.per_currency] == [
        ("CNY", 2, Decimal("100.00"), Decimal("20.00"))
    ]


def test_api_detail_grows_to_the_360_view_for_unit_a(client, unit_a_head, unit_a, shared, bearer):
    body = client.get(f"/api/v1/customers/{shared.pk}", headers=bearer(unit_a_head)).json()

    assert body["name"] == "王芳"
    assert body["status"] == "active"
    assert body["tags"] == [{"id": body["tags"][0]["id"], "name": "VIP", "colour": "#ff0000", "group": ""}]
    assert [(c["channel"], c["state"], c["method"]) for c in body["consent"]] == [
        ("sms", "", ""),
        ("email", "withdrawn", "unsubscribe_link"),
        ("wechat", "", ""),
        ("phone", "", ""),
    ]
    assert body["totals"]["orders"] == 2
    assert body["totals"]["per_channel"] == [
        {"channel": "tmall", "currency": "CNY", "orders": 1, "revenue": "100.00", "refunded": "0.00"},
        {"channel": "jd", "currency": "CNY", "orders": 1, "revenue": "0.00", "refunded": "0.00"},
    ]
    assert body["totals"]["per_currency"] == [
        {"currency": "CNY", "orders": 2, "revenue": "100.00", "refunded": "0.00", "returned": "20.00"}
    ]
    assert [m["unit_id"] for m in body["metrics"]] == [unit_a.pk]
    metric = body["metrics"][0]
    assert (metric["rfm_segment"], metric["abc_class"], metric["predicted_clv"]) == ("new", "B", "321.00")
    assert metric["explanations"]["next_order"] == "Next order expected around Dec. 1, 2026."
    # Nothing of unit B: not its order D-1 of 999.00, nor its metric row with a spend of 999.00.
    assert "999.00" not in str(body)  # an amount, not a run of digits an id could hold


def test_api_detail_masks_identities_without_pii(client, make_user, unit_a, shared, bearer):
    analyst = make_user("ana", Role.ANALYST, [unit_a])

    body = client.get(f"/api/v1/customers/{shared.pk}", headers=bearer(analyst)).json()

    assert (body["name"], body["phone"], body["pii_masked"]) == ("王*", "138****5678", True)
    assert [identity["value"] for identity in body["identities"]] == ["138****5678"]


def test_api_timeline_is_cursor_paginated_and_scoped(client, unit_a_head, shared, bearer):
    headers = bearer(unit_a_head)

    first = client.get(f"/api/v1/customers/{shared.pk}/timeline", {"limit": 3}, headers=headers).json()
    second = client.get(
        f"/api/v1/customers/{shared.pk}/timeline",
        {"limit": 3, "cursor": first["next_cursor"]},
        headers=headers,
    ).json()

    kinds = [item["kind"] for item in first["items"] + second["items"]]
    assert second["next_cursor"] is None
    assert sorted(kinds) == sorted(
        ["order_placed", "order_placed", "return_recorded", "tag_added", "consent_changed"]
    )
    # Unit B's order D-1 is not shown (the items only: a signed cursor may contain any letters).
    assert not [item for item in first["items"] + second["items"] if "D-1" in str(item)]


def test_api_timeline_refuses_a_cursor_from_another_customer(client, unit_a_head, unit_a, shared, bearer):
    other = make_customer("赵六", [unit_a])
    headers = bearer(unit_a_head)
    cursor = client.get(f"/api/v1/customers/{shared.pk}/timeline", {"limit": 1}, headers=headers).json()[
        "next_cursor"
    ]

    response = client.get(f"/api/v1/customers/{other.pk}/timeline", {"cursor": cursor}, headers=headers)

    assert response.status_code == 400


def test_api_timeline_of_an_invisible_customer_is_404(client, unit_a_head, unit_b, bearer):
    only_b = make_customer("李娜", [unit_b])

    response = client.get(f"/api/v1/customers/{only_b.pk}/timeline", headers=bearer(unit_a_head))

    assert response.status_code == 404
