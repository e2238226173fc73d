"""The loyalty reports on a small fixed programme per unit: points liability by unit and by the month
the points last until, and members by tier, each scoped to the viewer's units."""

from datetime import datetime
from decimal import Decimal

import pytest

from guanxi.loyalty import actions as loyalty
from guanxi.reports.tests.data import SHANGHAI


def _table(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    result = response.context["result"]
    return [(row.label, *row.values) for row in result.rows], result.totals


@pytest.fixture
def programmes(shop, unit_a, unit_b):
    march = datetime(2025, 3, 10, 12, tzinfo=SHANGHAI)
    home = loyalty.create_programme(unit=unit_a, name="家纺会员", point_value=Decimal("0.05"), now=march)
    beauty = loyalty.create_programme(unit=unit_b, name="美妆会员", expiry="never", now=march)
    loyalty.adjust_points(home, shop["zhang"], 1000, reason="welcome", now=march)
    loyalty.adjust_points(home, shop["zhang"], -400, reason="redeemed by phone", now=march)
    loyalty.adjust_points(home, shop["li"], 300, reason="welcome", now=march)
    # Earned in 2026: lasts until the end of 2027.
    loyalty.adjust_points(home, shop["li"], 200, reason="apology", now=datetime(2026, 2, 1, tzinfo=SHANGHAI))
    loyalty.enrol(home, shop["wang"], now=march)
    loyalty.adjust_points(beauty, shop["zhao"], 5000, reason="welcome", now=march)
    return home, beauty


def test_liability_of_a_unit_by_the_month_the_points_last_until(client, programmes, unit_a_head):
    client.force_login(unit_a_head)

    rows, totals = _table(client, "/reports/liability/?group=expiry")

    # Points earned in 2025 expire at midnight on 1 January 2027: they last until December 2026.
    assert rows == [
        ("2026-12", Decimal("45.00"), Decimal("81.8"), 900, Decimal("81.8"), 2),
        ("2027-12", Decimal("10.00"), Decimal("18.2"), 200, Decimal("18.2"), 1),
    ]
    assert totals == (Decimal("55.00"), Decimal("100.0"), 1100, Decimal("100.0"), 2)
    home = client.get("/reports/").context["sections"]
    liability = next(f for s in home if s.key == "customers" for f in s.figures if f.key == "liability")
    assert (liability.current, liability.previous, liability.query) == (Decimal("55.00"), None, "unit=home")


def test_liability_by_unit_for_the_group_and_only_the_own_unit_for_a_unit_head(
    client, programmes, manager, unit_b_head
):
    client.force_login(manager)
    rows, totals = _table(client, "/reports/liability/?group=unit")

    assert rows == [
        ("Home textiles", Decimal("55.00"), Decimal("52.4"), 1100, Decimal("18.0"), 2),
        ("Beauty", Decimal("50.00"), Decimal("47.6"), 5000, Decimal("82.0"), 1),
    ]
    assert totals == (Decimal("105.00"), Decimal("100.0"), 6100, Decimal("100.0"), 3)

    rows, _totals = _table(client, "/reports/liability/?group=expiry")
    assert rows == [
        ("2026-12", Decimal("45.00"), Decimal("42.9"), 900, Decimal("14.8"), 2),
        ("2027-12", Decimal("10.00"), Decimal("9.5"), 200, Decimal("3.3"), 1),
        ("Never expire", Decimal("50.00"), Decimal("47.6"), 5000, Decimal("82.0"), 1),
    ]

    client.force_login(unit_b_head)
    rows, _totals = _table(client, "/reports/liability/?group=unit")
    assert rows == [("Beauty", Decimal("50.00"), Decimal("100.0"), 5000, Decimal("100.0"), 1)]


def test_members_by_tier_and_unit_and_the_drill_behind_a_month(
    client, shop, programmes, manager, unit_a_head
):
    client.force_login(manager)
    by_unit, totals = _table(client, "/reports/tiers/?group=unit")
    by_tier, _totals = _table(client, "/reports/tiers/?group=tier")

    assert by_unit == [("Home textiles", 3, Decimal("75.0")), ("Beauty", 1, Decimal("25.0"))]
    assert totals == (4, Decimal("100.0"))
    assert by_tier == [("银卡", 4, Decimal("100.0"))]

    client.force_login(unit_a_head)
    drill = client.get("/reports/liability/drill/?group=expiry&value=2027-12")
    assert drill.status_code == 200
    assert [row[0] for row in drill.context["drilled"].table.rows] == [shop["li"].pk]
