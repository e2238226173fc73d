"""The small fixed shop the reports' tests read: three customers of unit A, one of unit B, their metric
rows (per unit and organisation-wide) and a few orders, one with a line whose category is a formula."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from guanxi.analytics.models import CustomerMetric
from guanxi.commerce.models import Channel, OrderLine
from guanxi.commerce.tests.factories import make_customer, make_order, make_store

SHANGHAI = ZoneInfo("Asia/Shanghai")
ATTACK = "=cmd|' /C calc'!A0"
PERIOD = "start=2025-01&end=2025-12"


def _metric(customer, unit, *, orders, spend, cls, abc, stage, risk, last=None, clv="0.00"):
    CustomerMetric.objects.create(
        customer=customer,
        unit=unit,
        orders=orders,
        total_spend=Decimal(spend),
        customer_class=cls,
        abc_class=abc,
        lifecycle_stage=stage,
        churn_risk=risk,
        last_order_at=last,
        predicted_clv=Decimal(clv),
    )


def make_seasonal_sales(store, customer):
    """2024 and 2025 are full years of sales, 7,200.00 each, of which June 4,200.00 and May 600.00;
    then May 2026 12,000.00 and June 2026 35,000.00."""
    for number, amount, day in (
        ("S-1", "1200.00", (2024, 1, 10)),
        ("S-2", "2400.00", (2024, 6, 10)),
        ("S-3", "1200.00", (2024, 12, 10)),
        ("S-4", "600.00", (2025, 5, 10)),
        ("S-5", "1800.00", (2025, 6, 10)),
        ("S-6", "12000.00", (2026, 5, 10)),
        ("S-7", "35000.00", (2026, 6, 1)),
    ):
        make_order(store, customer, number, amount, day)


def make_shop(unit_a, unit_b):
    tmall = make_store(unit_a, "home-tmall", Channel.TMALL)
    douyin = make_store(unit_b, "beauty-douyin", Channel.DOUYIN)
    zhang = make_customer("张三", [unit_a], province="广东")
    li = make_customer("李四", [unit_a], province="上海")
    wang = make_customer("王五", [unit_a], province="广东")
    zhao = make_customer("赵六", [unit_b], province="北京")
    march = datetime(2025, 3, 10, 12, tzinfo=SHANGHAI)
    february = datetime(2025, 2, 1, 12, tzinfo=SHANGHAI)
    for unit in (unit_a, None):  # the unit's rows and the organisation-wide rows
        _metric(zhang, unit, orders=3, spend="300.00", cls="loyal", abc="A", stage="stable", risk=0.1)
        _metric(
            li, unit, orders=1, spend="100.00", cls="new", abc="B", stage="exploration", risk=0.7, clv="80"
        )
        _metric(wang, unit, orders=2, spend="50.00", cls="old", abc="C", stage="lost", risk=0.9, last=march)
    for unit in (unit_b, None):
        _metric(
            zhao, unit, orders=1, spend="1000.00", cls="new", abc="A", stage="lost", risk=0.85, last=february
        )
    make_order(tmall, zhang, "A-1", "100.00", (2025, 1, 10))
    order = make_order(tmall, li, "A-2", "50.00", (2025, 2, 5))
    OrderLine.objects.create(
        order=order,
        sku="X",
        name="Odd",
        category=ATTACK,
        quantity=2,
        unit_price=Decimal("3.50"),
        amount=Decimal("7.00"),
    )
    make_order(tmall, zhang, "A-3", "999.00", (2025, 2, 6), status="cancelled")
    make_order(tmall, zhang, "A-0", "80.00", (2024, 12, 31))  # before the period
    make_order(douyin, zhao, "B-1", "98765.00", (2025, 2, 6))
    return {"zhang": zhang, "li": li, "wang": wang, "zhao": zhao}
