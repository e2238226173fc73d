"""The loyalty pages and API as their users see them."""

import pytest

from guanxi.accounts.roles import Role
from guanxi.loyalty import actions, earning
from guanxi.loyalty.models import CouponCode, EarnRule, Membership, Movement, Tier
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(programme, person, send_order):
    send_order(person, "T1", "1200.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 2))
    return Membership.objects.get(customer=person)


def test_every_page_opens_for_a_marketer_of_the_unit(client, make_user, unit_a, member, programme):
    template = actions.save_coupon_template(
        programme, name="满100减20", kind="spend_save", min_spend=100, amount_off=20, valid_days=7
    )
    client.force_login(make_user("m", Role.MARKETER, [unit_a]))
    for url in (
        "/loyalty/",
        f"/loyalty/programmes/{programme.pk}/",
        f"/loyalty/programmes/{programme.pk}/tiers/",
        "/loyalty/members/",
        f"/loyalty/members/{member.pk}/",
        "/loyalty/coupons/",
        f"/loyalty/coupons/{template.pk}/",
        f"/customers/{member.customer_id}/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/customers/{member.customer_id}/").content.decode()
    assert "金卡" in page and "1200" in page


def test_the_members_page_filters_by_tier_and_points(client, manager, member, programme):
    client.force_login(manager)
    gold = Tier.objects.get(programme=programme, name="金卡")
    silver = Tier.objects.get(programme=programme, name="银卡")
    assert (
        f"/loyalty/members/{member.pk}/" in client.get(f"/loyalty/members/?tier={gold.pk}").content.decode()
    )
    assert (
        f"/loyalty/members/{member.pk}/"
        not in client.get(f"/loyalty/members/?tier={silver.pk}").content.decode()
    )
    assert (
        f"/loyalty/members/{member.pk}/"
        not in client.get("/loyalty/members/?min_points=1201").content.decode()
    )


def test_a_tier_is_configured_on_the_ladder_page(client, manager, programme):
    client.force_login(manager)
    response = client.post(
        f"/loyalty/programmes/{programme.pk}/tiers/",
        {
            "rank": "1",
            "t1-name": "金卡",
            "t1-min_spend": "800",
            "t1-min_orders": "2",
            "t1-min_points": "0",
            "t1-match": "any",
            "t1-discount_percent": "3",
            "t1-birthday_points": "100",
            "t1-points_multiplier": "1.3",
        },
    )
    assert response.status_code == 302
    gold = Tier.objects.get(programme=programme, rank=1)
    assert (str(gold.min_spend), gold.min_orders, str(gold.points_multiplier), gold.birthday_points) == (
        "800.00",
        2,
        "1.30",
        100,
    )


def test_an_analyst_reads_but_may_not_adjust(client, make_user, unit_a, member):
    client.force_login(make_user("a", Role.ANALYST, [unit_a]))
    assert client.get(f"/loyalty/members/{member.pk}/").status_code == 200
    response = client.post(
        f"/loyalty/members/{member.pk}/adjust/", {"adjust-points": "10", "adjust-reason": "x"}
    )
    assert response.status_code == 403
    assert not Movement.objects.filter(kind="adjust").exists()


def test_adjust_and_redeem_from_the_member_page(client, manager, member):
    client.force_login(manager)
    client.post(
        f"/loyalty/members/{member.pk}/adjust/", {"adjust-points": "-200", "adjust-reason": "退款补差"}
    )
    client.post(
        f"/loyalty/members/{member.pk}/redeem/", {"redeem-points": "1000", "redeem-reason": "兑换礼品"}
    )
    client.post(f"/loyalty/members/{member.pk}/redeem/", {"redeem-points": "1", "redeem-reason": "兑换礼品"})
    assert list(Movement.objects.order_by("pk").values_list("kind", "points")) == [
        ("earn", 1200),
        ("adjust", -200),
        ("redeem", -1000),
    ]


def test_api_programme_rule_tiers_members_and_ledger(client, manager, bearer, programme, member, unit_a):
    headers = bearer(manager, "read_write")
    body = client.get("/api/v1/loyalty/programmes", headers=headers).json()
    assert [t["name"] for t in body[0]["tiers"]] == ["银卡", "金卡", "白金卡", "钻石卡"]

    response = client.post(
        f"/api/v1/loyalty/programmes/{programme.pk}/rules",
        {
            "effective_from": "2099-01-01T00:00:00+08:00",
            "points_per_yuan": "2",
            "category_multipliers": {"bedding": "3"},
        },
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201, response.content
    assert EarnRule.objects.filter(programme=programme).count() == 2

    response = client.patch(
        f"/api/v1/loyalty/programmes/{programme.pk}",
        {"point_value": "0.02"},
        content_type="application/json",
        headers=headers,
    )
    assert response.json()["point_value"] == "0.0200"

    members = client.get(f"/api/v1/loyalty/members?tier={member.tier_id}", headers=headers).json()
    assert [(m["customer_id"], m["tier"], m["points"]) for m in members["items"]] == [
        (member.customer_id, "金卡", 1200)
    ]

    response = client.post(
        f"/api/v1/loyalty/members/{member.pk}/redeem",
        {"points": 1300},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 409
    response = client.post(
        f"/api/v1/loyalty/members/{member.pk}/redeem",
        {"points": 300, "key": "o-1"},
        content_type="application/json",
        headers=headers,
    )
    assert response.json()["points"] == 900
    ledger = client.get(f"/api/v1/loyalty/members/{member.pk}/ledger", headers=headers).json()
    assert [(m["kind"], m["points"]) for m in ledger["items"]] == [("redeem", -300), ("earn", 1200)]

    liability = client.get("/api/v1/loyalty/liability", headers=headers).json()
    assert liability == [
        {
            "programme_id": programme.pk,
            "unit_id": unit_a.pk,
            "points": 900,
            "value": "18.00",
            "never_expiring": 0,
            "by_expiry_month": [{"month": "2027-12", "points": 900, "value": "18.00"}],
        }
    ]
    detail = client.get(f"/api/v1/customers/{member.customer_id}", headers=headers).json()
    assert [(m["tier"], m["points"]) for m in detail["loyalty"]] == [("金卡", 900)]


def test_api_coupons_generate_issue_and_redeem_once(
    client, manager, bearer, programme, member, person, send_order
):
    headers = bearer(manager, "read_write")
    response = client.post(
        "/api/v1/loyalty/coupon-templates",
        {
            "programme": programme.pk,
            "name": "满200减30",
            "kind": "spend_save",
            "min_spend": "200",
            "amount_off": "30",
            "valid_days": 7,
        },
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201, response.content
    template_id = response.json()["id"]
    response = client.post(
        f"/api/v1/loyalty/coupon-templates/{template_id}/codes",
        {"count": 50},
        content_type="application/json",
        headers=headers,
    )
    assert response.json() == {"added": 50}
    issued = client.post(
        f"/api/v1/loyalty/coupon-templates/{template_id}/issue",
        {"customers": [person.pk]},
        content_type="application/json",
        headers=headers,
    ).json()
    code = issued["codes"][0]["code"]
    order = send_order(person, "T9", "250.00", at(2026, 3, 3))

    first = client.post(
        "/api/v1/loyalty/coupons/redeem",
        {"code": code, "order": order.pk},
        content_type="application/json",
        headers=headers,
    )
    again = client.post(
        "/api/v1/loyalty/coupons/redeem",
        {"code": code, "order": order.pk},
        content_type="application/json",
        headers=headers,
    )

    assert first.json() == {"redeemed": True, "discount": "30.00"}
    assert again.json() == {"redeemed": False, "discount": "0"}
    assert CouponCode.objects.filter(state="redeemed").count() == 1
    templates = client.get("/api/v1/loyalty/coupon-templates", headers=headers).json()
    assert [(t["available"], t["issued"], t["redeemed"], t["discount"]) for t in templates] == [
        (49, 0, 1, "30.00")
    ]
