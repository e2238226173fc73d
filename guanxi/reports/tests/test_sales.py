"""The sales reports on a fixed pipeline per unit: open opportunities by stage and unit (count, amount,
amount weighted by the stage's win probability) and won against quota per month, rep and unit, with
deals counted in the month they closed in Shanghai."""

from datetime import date
from decimal import Decimal

import pytest

from guanxi.sales.actions import opportunities as deals
from guanxi.sales.actions.targets import set_quota
from guanxi.sales.tests.conftest import at


def _table(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    result = response.context["result"]
    return [(row.label, *row.values) for row in result.rows], result.totals


def _open(team, owner, amount, stage, name="deal"):
    return deals.create_opportunity(
        unit=team.unit,
        name=name,
        actor=team.manager,
        owner=owner,
        amount=Decimal(amount),
        stage=team.stage(stage),
        at=at(2026, 5, 1, 9),
    )


def _won(team, owner, amount, when, name="won deal"):
    return deals.move_opportunity(_open(team, owner, amount, 0, name), team.won, actor=team.manager, at=when)


@pytest.fixture
def pipeline(team_a, team_b):
    _open(team_a, team_a.rep, "1050.00", 0)  # Initial contact, 10%
    _open(team_a, team_a.rep, "3333.33", 3)  # Negotiation, 75%
    _open(team_a, team_a.rep, "2000.00", 3)
    _open(team_a, team_a.rep2, "1001.01", 1)  # Needs confirmed, 25%
    _open(team_b, team_b.rep, "99999.00", 2)  # Proposal and quote, 50%
    lost = _open(team_a, team_a.rep, "777.00", 2)
    deals.move_opportunity(lost, team_a.lost, actor=team_a.manager, lost_reason="price", at=at(2026, 6, 3))

    for team, user, month, amount in (
        (team_a, team_a.rep, date(2026, 6, 1), "10000"),
        (team_a, team_a.rep2, date(2026, 6, 1), "5000"),
        (team_a, team_a.rep, date(2026, 7, 1), "8000"),
        (team_b, team_b.rep, date(2026, 6, 1), "5000"),
    ):
        set_quota(unit=team.unit, user=user, month=month, amount=Decimal(amount), actor=team.head)
    _won(team_a, team_a.rep, "6000.00", at(2026, 6, 10, 15), "June deal")
    _won(team_a, team_a.rep, "1500.00", at(2026, 6, 30, 23, 30), "last-evening deal")  # June in Shanghai
    _won(team_a, team_a.rep, "700.00", at(2026, 7, 1, 0, 30))  # July in Shanghai, 30 June in UTC
    _won(team_a, team_a.rep, "900.00", at(2026, 5, 20, 10))  # May: no quota, not counted
    _won(team_b, team_b.rep, "5555.00", at(2026, 6, 12, 10))


def test_open_pipeline_by_stage_in_a_unit_and_by_unit_for_the_group(
    client, pipeline, team_a, team_b, manager
):
    client.force_login(team_a.head)
    rows, totals = _table(client, "/reports/pipeline/?group=stage")

    # (stage, deals, share, amount, share, amount × win probability)
    assert rows == [
        ("Negotiation", 2, Decimal("50.0"), Decimal("5333.33"), Decimal("72.2"), Decimal("4000.00")),
        ("Initial contact", 1, Decimal("25.0"), Decimal("1050.00"), Decimal("14.2"), Decimal("105.00")),
        ("Needs confirmed", 1, Decimal("25.0"), Decimal("1001.01"), Decimal("13.6"), Decimal("250.25")),
    ]
    assert totals == (4, Decimal("100.0"), Decimal("7384.34"), Decimal("100.0"), Decimal("4355.25"))
    home = client.get("/reports/").context["sections"]
    weighted = next(f for s in home if s.key == "pipeline" for f in s.figures if f.key == "weighted")
    assert (weighted.current, weighted.previous, weighted.report) == (Decimal("4355.25"), None, "pipeline")

    client.force_login(manager)
    rows, _totals = _table(client, "/reports/pipeline/?group=unit")
    assert rows == [
        ("Home textiles", 4, Decimal("80.0"), Decimal("7384.34"), Decimal("6.9"), Decimal("4355.25")),
        ("Beauty", 1, Decimal("20.0"), Decimal("99999.00"), Decimal("93.1"), Decimal("49999.50")),
    ]

    client.force_login(team_b.head)
    rows, _totals = _table(client, "/reports/pipeline/?group=unit")
    assert [row[:2] for row in rows] == [("Beauty", 1)]


def test_won_against_quota_by_month_and_rep(client, pipeline, team_a):
    client.force_login(team_a.head)
    period = "start=2026-05&end=2026-07"

    by_month, totals = _table(client, f"/reports/quota/?group=month&{period}")
    by_rep, _totals = _table(client, f"/reports/quota/?group=rep&{period}")

    assert by_month == [
        ("2026-06", Decimal("15000.00"), Decimal("7500.00"), Decimal("50.00")),
        ("2026-07", Decimal("8000.00"), Decimal("700.00"), Decimal("8.75")),
    ]
    assert totals == (Decimal("23000.00"), Decimal("8200.00"), Decimal("35.65"))
    assert by_rep == [
        ("a_rep", Decimal("18000.00"), Decimal("8200.00"), Decimal("45.56")),
        ("a_rep2", Decimal("5000.00"), Decimal("0.00"), Decimal("0.00")),
    ]

    drill = client.get(f"/reports/quota/drill/?group=month&value=2026-06-01&{period}")
    assert drill.status_code == 200
    assert [row[0] for row in drill.context["drilled"].table.rows] == ["June deal", "last-evening deal"]


def test_won_against_quota_by_unit_for_the_group(client, pipeline, manager):
    client.force_login(manager)

    rows, _totals = _table(client, "/reports/quota/?group=unit&start=2026-06&end=2026-06")

    assert rows == [
        ("Beauty", Decimal("5000.00"), Decimal("5555.00"), Decimal("111.10")),
        ("Home textiles", Decimal("15000.00"), Decimal("7500.00"), Decimal("50.00")),
    ]
