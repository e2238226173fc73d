"""Service test data: two units, each with three agents, a unit head and a customer."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from guanxi.accounts.models import BusinessUnit, User
from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.models import Customer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


@dataclass
class Desk:
    unit: BusinessUnit
    agent: User
    agent2: User
    agent3: User
    head: User
    customer: Customer


def _desk(make_user, unit: BusinessUnit, prefix: str) -> Desk:
    return Desk(
        unit=unit,
        agent=make_user(f"{prefix}_agent", Role.SERVICE_AGENT, [unit], display_name=f"{prefix} agent"),
        agent2=make_user(f"{prefix}_agent2", Role.SERVICE_AGENT, [unit], display_name=f"{prefix} agent two"),
        agent3=make_user(
            f"{prefix}_agent3", Role.SERVICE_AGENT, [unit], display_name=f"{prefix} agent three"
        ),
        head=make_user(
            f"{prefix}_head",
            Role.UNIT_HEAD,
            [unit],
            display_name=f"{prefix} head",
            email=f"{prefix}head@shop.cn",
        ),
        customer=make_customer(
            f"{prefix} 王芳", [unit], phone="13912345678" if prefix == "a" else "13687654321"
        ),
    )


@pytest.fixture
def desk_a(make_user, unit_a) -> Desk:
    return _desk(make_user, unit_a, "a")


@pytest.fixture
def desk_b(make_user, unit_b) -> Desk:
    return _desk(make_user, unit_b, "b")


@pytest.fixture
def sms_channel(desk_a):
    """An SMS channel for unit A, so replies and survey links are queued rather than dropped (nothing
    is sent: no worker runs in these tests)."""
    from guanxi.messaging.actions import save_channel
    from guanxi.messaging.models import ChannelKind

    return save_channel(
        unit=desk_a.unit,
        name="短信",
        kind=ChannelKind.SMS_HTTP,
        values={
            "url": "https://sms-gateway.guanxi-shop.cn/send",
            "api_key": "k-1",
            "honours_idempotency_key": True,
        },
    )
