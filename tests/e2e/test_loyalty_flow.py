"""A marketer raises the 金卡 tier's multiplier, a member earns on an order and moves up, a coupon
issued from its page is redeemed by the next order (which earns at 金卡's rate), and the customer's
360 page shows the tier, the points and the redeemed coupon; screenshot of the 360 page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.commerce import actions as commerce
from guanxi.commerce.records import LineRecord, OrderRecord, PersonRecord
from guanxi.commerce.tests.factories import make_customer, make_store
from guanxi.loyalty import actions as loyalty
from guanxi.loyalty import earning
from guanxi.loyalty.models import CouponCode, Membership, Movement

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


def send_order(store, number: str, total: str, paid_at, codes: tuple[str, ...] = ()) -> None:
    person = PersonRecord()
    person.add("phone", "+8613811112222")
    commerce.apply_orders(
        store,
        [
            OrderRecord(
                external_id=number,
                number=number,
                status="paid",
                placed_at=paid_at,
                paid_at=paid_at,
                total_amount=Decimal(total),
                currency="CNY",
                source_updated_at=paid_at,
                attributes={"coupon_codes": list(codes)} if codes else {},
                lines=[
                    LineRecord(
                        line_no=1,
                        name="长绒棉浴巾",
                        quantity=1,
                        unit_price=Decimal(total),
                        amount=Decimal(total),
                        category="毛巾浴巾",
                    )
                ],
                person=person,
            )
        ],
    )


def test_a_marketer_configures_a_tier_and_sees_earning_and_a_redeemed_coupon_on_the_360_page(
    live_server, page, transactional_db, screenshots, sign_in
):
    account_actions.ensure_organisation("关系演示集团")
    home = account_actions.create_business_unit(code="home", name="家居生活")
    account_actions.create_user(
        username="mkt", password=PASSWORD, role=Role.MARKETER, units=[home], display_name="冯市场"
    )
    store = make_store(home, "天猫旗舰店")
    buyer = make_customer("林晓", [home], phone="+8613811112222")
    start = timezone.now() - timedelta(days=3)
    programme = loyalty.create_programme(unit=home, name="家居会员", now=start - timedelta(days=1))
    sign_in("mkt")

    # The 金卡 tier: ¥500 in the window, points ×1.5.
    page.goto(f"{live_server.url}/loyalty/programmes/{programme.pk}/tiers/")
    tier = page.locator("form:has(input[name=rank][value='1'])")
    tier.locator("input[name=t1-min_spend]").fill("500")
    tier.locator("input[name=t1-min_orders]").fill("0")
    tier.locator("input[name=t1-points_multiplier]").fill("1.5")
    tier.locator("button[type=submit]").click()
    page.wait_for_load_state()

    send_order(store, "TM-1001", "600.00", start)
    earning.follow_changes()
    assert Membership.objects.get(customer=buyer).tier.name == "金卡"

    template = loyalty.save_coupon_template(
        programme, name="满200减30", kind="spend_save", min_spend=200, amount_off=30, valid_days=7
    )
    page.goto(f"{live_server.url}/loyalty/coupons/{template.pk}/")
    page.fill("textarea[name=issue-customers]", str(buyer.pk))
    page.click("form[action$='/issue/'] button[type=submit]")
    page.wait_for_load_state()
    code = CouponCode.objects.get(customer=buyer)
    assert code.state == "issued"

    send_order(store, "TM-1002", "200.00", start + timedelta(days=1), codes=(code.code.lower(),))
    earning.follow_changes()

    code.refresh_from_db()
    assert (code.state, code.discount, code.order.number) == ("redeemed", Decimal("30.00"), "TM-1002")
    assert sorted(Movement.objects.filter(customer=buyer).values_list("points", flat=True)) == [300, 600]

    page.goto(f"{live_server.url}/customers/{buyer.pk}/")
    section = page.locator(f"#loyalty-{programme.pk}")
    section.scroll_into_view_if_needed()
    text = section.inner_text()
    assert "金卡" in text and "900" in text and code.code in text and "已兑换" in text
    assert "TM-1002" in text
    page.screenshot(path=str(screenshots / "loyalty-360-zh.png"), full_page=True)
