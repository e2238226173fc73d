"""The campaign effect report on fixed campaigns: per campaign sent in the period, marketing's own
figures (recipients, holdout, conversion of each, incremental revenue and its coupon cost), scoped to
the viewer's units, and the drill-down to the customers of a campaign."""

from datetime import datetime
from decimal import Decimal

import pytest

from guanxi.commerce.models import Store
from guanxi.commerce.tests.factories import make_order
from guanxi.loyalty import actions as loyalty
from guanxi.loyalty.models import CouponCode
from guanxi.marketing.models import Campaign, Recipient
from guanxi.reports.tests.data import PERIOD, SHANGHAI
from guanxi.segments.models import Segment


def _table(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    result = response.context["result"]
    return [(row.label, *row.values) for row in result.rows], result.totals


def _campaign(unit, name, sent, groups):
    segment = Segment.objects.create(name=f"{name} 人群", kind=Segment.Kind.STATIC, unit=unit)
    campaign = Campaign.objects.create(
        unit=unit,
        name=name,
        segment=segment,
        template="promo",
        status="sent",
        sent_at=sent,
        attribution_days=7,
    )
    for customer, group, code in groups:
        Recipient.objects.create(campaign=campaign, customer=customer, group=group, coupon_code=code)
    return campaign


@pytest.fixture
def campaigns(shop, unit_a, unit_b):
    tmall = Store.objects.get(unit=unit_a)
    sent = datetime(2025, 3, 1, 10, tzinfo=SHANGHAI)
    programme = loyalty.create_programme(unit=unit_a, name="家纺会员", now=sent)
    template = loyalty.save_coupon_template(
        programme, name="满199减20", kind="spend_save", min_spend=199, amount_off=20, valid_days=14
    )
    CouponCode.objects.create(
        template=template,
        code="MOM-1",
        state=CouponCode.State.REDEEMED,
        customer=shop["zhang"],
        redeemed_at=datetime(2025, 3, 3, 12, tzinfo=SHANGHAI),
        discount=Decimal("20.00"),
    )
    mothers_day = _campaign(
        unit_a,
        "母亲节",
        sent,
        [(shop["zhang"], "a", "MOM-1"), (shop["li"], "a", ""), (shop["wang"], "holdout", "")],
    )
    make_order(tmall, shop["zhang"], "C-1", "300.00", (2025, 3, 3))
    make_order(tmall, shop["wang"], "C-2", "100.00", (2025, 3, 4))
    make_order(tmall, shop["li"], "C-3", "500.00", (2025, 3, 20))  # after the 7-day window
    # Li's order A-2 of the shop (50.00 on 5 February) falls in this campaign's window.
    _campaign(
        unit_a,
        "春节",
        datetime(2025, 2, 1, 10, tzinfo=SHANGHAI),
        [(shop["li"], "a", ""), (shop["wang"], "holdout", "")],
    )
    _campaign(unit_b, "美妆节", sent, [(shop["zhao"], "a", "")])
    return mothers_day


def test_campaign_effect_per_campaign_of_a_unit(client, campaigns, unit_a_head):
    client.force_login(unit_a_head)

    rows, totals = _table(client, f"/reports/campaigns/?{PERIOD}")

    # (campaign, incremental after coupon cost, treated, holdout, conversion treated %, holdout %,
    #  incremental revenue, coupon cost). 母亲节: treated spent (300 + 0) / 2 = 150 each, the holdout
    # 100: (150 − 100) × 2 = 100, less the 20 of the redeemed coupon.
    assert rows == [
        (
            "母亲节",
            Decimal("80.00"),
            2,
            1,
            Decimal("50.00"),
            Decimal("100.00"),
            Decimal("100.00"),
            Decimal("20.00"),
        ),
        (
            "春节",
            Decimal("50.00"),
            1,
            1,
            Decimal("100.00"),
            Decimal("0.00"),
            Decimal("50.00"),
            Decimal("0.00"),
        ),
    ]
    assert totals == (Decimal("130.00"), 3, 2, None, None, Decimal("150.00"), Decimal("20.00"))


def test_campaign_effect_is_scoped_and_drills_to_the_campaign_s_customers(
    client, shop, campaigns, unit_b_head, unit_a_head
):
    client.force_login(unit_b_head)
    rows, _totals = _table(client, f"/reports/campaigns/?{PERIOD}")
    assert [row[:3] for row in rows] == [("美妆节", Decimal("0.00"), 1)]

    client.force_login(unit_a_head)
    drill = client.get(f"/reports/campaigns/drill/?value={campaigns.pk}&{PERIOD}")
    assert drill.status_code == 200
    assert [row[0] for row in drill.context["drilled"].table.rows] == sorted(
        [shop["zhang"].pk, shop["li"].pk, shop["wang"].pk]
    )
    march = client.get("/reports/campaigns/?start=2025-03&end=2025-03").context["result"]
    assert [row.label for row in march.rows] == ["母亲节"]
