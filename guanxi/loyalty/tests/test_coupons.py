"""Coupons: unique code pools, issue with relative validity, redemption exactly once from the order
that carries the code, and what each kind takes off."""

from datetime import timedelta
from decimal import Decimal

import pytest

from guanxi.loyalty import actions, coupons, earning, ledger
from guanxi.loyalty.models import CouponCode, Movement
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db


def template(programme, **values):
    values.setdefault("valid_days", 7)
    return actions.save_coupon_template(programme, name=values.pop("name", "券"), **values)


def test_a_pool_of_unique_unguessable_codes(programme):
    spend = template(programme, kind="spend_save", min_spend=100, amount_off=20)
    assert actions.generate_coupon_codes(spend, 25_000) == 25_000
    codes = list(CouponCode.objects.values_list("code", flat=True))
    assert len(set(codes)) == 25_000
    assert all(len(code) == 12 and set(code) <= set(coupons.ALPHABET) for code in codes)
    assert actions.import_coupon_codes(spend, ["tmall-001", "TMALL-001", codes[0]]) == 1


def test_issue_gives_each_member_a_code_valid_for_seven_days_from_sending(programme, person):
    spend = template(programme, kind="spend_save", min_spend=100, amount_off=20)
    actions.generate_coupon_codes(spend, 3)
    (code,) = actions.issue_coupons(spend, [person.pk], now=at(2026, 5, 1, 10))
    assert (code.customer_id, code.state, code.expires_at) == (person.pk, "issued", at(2026, 5, 8, 10))
    assert CouponCode.objects.filter(state="available").count() == 2


def test_the_order_carrying_the_code_redeems_it_once_however_often_it_arrives(programme, person, send_order):
    spend = template(programme, kind="spend_save", min_spend=100, amount_off=20)
    (code,) = actions.issue_coupons(spend, [person.pk], now=at(2026, 5, 1))
    send_order(person, "T1", "150.00", at(2026, 5, 2), attributes={"coupon_codes": [code.code.lower()]})
    earning.follow_changes(now=at(2026, 5, 2, 1))
    send_order(
        person,
        "T1",
        "150.00",
        at(2026, 5, 2),
        updated=at(2026, 5, 3),
        attributes={"coupon_codes": [code.code]},
    )
    send_order(person, "T2", "150.00", at(2026, 5, 3), attributes={"coupon_codes": [code.code]})
    earning.follow_changes(now=at(2026, 5, 3, 1))

    code.refresh_from_db()
    assert (code.state, code.order.number, code.discount) == ("redeemed", "T1", Decimal("20.00"))


def test_an_expired_or_too_small_order_does_not_redeem(programme, person, send_order):
    spend = template(programme, kind="spend_save", min_spend=100, amount_off=20)
    first, second = actions.issue_coupons(spend, [person.pk], now=at(2026, 5, 1)) + actions.issue_coupons(
        spend, [person.pk], now=at(2026, 5, 1)
    )
    send_order(person, "T1", "99.99", at(2026, 5, 2), attributes={"coupon_codes": [first.code]})
    send_order(person, "T2", "500.00", at(2026, 5, 8, 0, 0), attributes={"coupon_codes": [second.code]})
    earning.follow_changes(now=at(2026, 5, 9))
    assert sorted(CouponCode.objects.values_list("state", flat=True)) == ["issued", "issued"]
    assert coupons.expire_codes(now=at(2026, 5, 8)) == 2


@pytest.mark.parametrize(
    ("values", "lines", "discount"),
    [
        (
            {"kind": "percent_off", "percent_off": Decimal(15)},
            [("a", 1, "80.00"), ("b", 1, "20.00")],
            "15.00",
        ),
        (
            {"kind": "percent_off", "percent_off": Decimal(15), "categories": ["b"]},
            [("a", 1, "80.00"), ("b", 1, "20.00")],
            "3.00",
        ),
        # 买二送一 on six items: two full groups of three, the two cheapest items free.
        (
            {"kind": "buy_get", "buy_quantity": 2, "free_quantity": 1},
            [("a", 4, "30.00"), ("b", 2, "10.00")],
            "20.00",
        ),
        (
            {"kind": "spend_save", "min_spend": Decimal(50), "amount_off": Decimal(80)},
            [("a", 1, "60.00")],
            "60.00",
        ),
    ],
)
def test_what_each_kind_takes_off(programme, person, send_order, values, lines, discount):
    coupon = template(programme, **values)
    (code,) = actions.issue_coupons(coupon, [person.pk], now=at(2026, 5, 1))
    total = str(sum(Decimal(p) * q for _c, q, p in lines))
    order = send_order(person, "T1", total, at(2026, 5, 2), lines=lines)
    assert actions.redeem_coupon(code.code, order, now=at(2026, 5, 2, 1))
    code.refresh_from_db()
    assert code.discount == Decimal(discount)


def test_cash_back_credits_points_once(programme, person, send_order):
    cashback = template(programme, kind="cashback", cashback_points=50, min_spend=100)
    (code,) = actions.issue_coupons(cashback, [person.pk], now=at(2026, 5, 1))
    send_order(person, "T1", "100.00", at(2026, 5, 2), attributes={"coupon_codes": [code.code]})
    earning.follow_changes(now=at(2026, 5, 2, 1))
    earning.sync_customers([person.pk], now=at(2026, 5, 3))

    assert sorted(Movement.objects.values_list("kind", "points")) == [("cashback", 50), ("earn", 100)]
    assert ledger.balance(programme.pk, person.pk) == 150


def test_two_codes_on_one_order_redeem_only_the_stackable_ones(programme, person, send_order):
    alone = template(programme, kind="spend_save", min_spend=0, amount_off=5, name="单独")
    stacks = template(programme, kind="spend_save", min_spend=0, amount_off=5, stackable=True, name="叠加")
    (a,) = actions.issue_coupons(alone, [person.pk], now=at(2026, 5, 1))
    (b,) = actions.issue_coupons(stacks, [person.pk], now=at(2026, 5, 1))
    send_order(person, "T1", "100.00", at(2026, 5, 2), attributes={"coupon_codes": [a.code, b.code]})
    earning.follow_changes(now=at(2026, 5, 2) + timedelta(hours=1))
    assert dict(CouponCode.objects.values_list("template__name", "state")) == {
        "单独": "issued",
        "叠加": "redeemed",
    }
