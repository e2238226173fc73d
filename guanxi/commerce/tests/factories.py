"""Small, explicit test data for orders and customers across two business units."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.models import Channel, Order, OrderLine, Store
from guanxi.customers.models import Customer, CustomerUnit, Identity

SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_store(unit: BusinessUnit, name: str, channel: str = Channel.TMALL) -> Store:
    return Store.objects.create(unit=unit, name=name, channel=channel, source=f"{channel}:{name}")


def make_customer(name: str, units: list[BusinessUnit], phone: str = "", **fields) -> Customer:
    customer = Customer.objects.create(name=name, **fields)
    for unit in units:
        CustomerUnit.objects.create(customer=customer, unit=unit)
    if phone:
        Identity.objects.create(customer=customer, kind=Identity.Kind.PHONE, value=phone, source="test")
    return customer


def make_order(
    store: Store,
    customer: Customer | None,
    number: str,
    total: str,
    placed: tuple[int, int, int],
    status: str = Order.Status.COMPLETED,
    device: str = Order.Device.MOBILE,
) -> Order:
    placed_at = datetime(*placed, 12, 0, tzinfo=SHANGHAI)
    order = Order.objects.create(
        store=store,
        unit=store.unit,
        customer=customer,
        source=store.source,
        external_id=number,
        number=number,
        status=status,
        device=device,
        total_amount=Decimal(total),
        item_count=1,
        placed_at=placed_at,
        paid_at=placed_at if status in Order.SALE_STATUSES else None,
    )
    OrderLine.objects.create(
        order=order,
        sku="SKU-1",
        name="Towel",
        category="home_textiles",
        quantity=1,
        unit_price=Decimal(total),
        amount=Decimal(total),
    )
    return order
