"""The reports' test shop, the service desks of guanxi.service's tests for the service report and the
sales teams of guanxi.sales' tests for the pipeline reports, and sent campaigns for the effect figures."""

from datetime import datetime
from decimal import Decimal

import pytest

from guanxi.commerce.models import Store
from guanxi.commerce.tests.factories import make_order
from guanxi.loyalty import actions as loyalty
from guanxi.loyalty.models import CouponCode
from guanxi.marketing.models import Campaign, Recipient
from guanxi.messaging.actions import save_channel
from guanxi.messaging.models import ChannelKind
from guanxi.reports.tests.data import SHANGHAI, make_shop
from guanxi.sales.tests.conftest import team_a, team_b  # noqa: F401 (fixtures)
from guanxi.segments.models import Segment
from guanxi.service.tests.conftest import desk_a, desk_b  # noqa: F401 (fixtures)


@pytest.fixture
def shop(unit_a, unit_b):
    return make_shop(unit_a, unit_b)


@pytest.fixture
def mail(unit_a):
    """Unit A's e-mail channel, through which scheduled reports are sent."""
    return save_channel(
        unit=unit_a,
        name="邮件",
        kind=ChannelKind.SMTP,
        values={
            "host": "127.0.0.1",
            "port": 2525,
            "security": "none",
            "username": "",
            "password": "",
            "from_address": "reports@guanxi-shop.cn",
            "from_name": "关系家纺",
        },
    )


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
