"""Forecast, attainment and commission, and the funnel and win-rate reports, exact on a fixed pipeline."""

from datetime import date
from decimal import Decimal

import pytest

from guanxi.sales import periods, reports
from guanxi.sales.actions import opportunities as deals
from guanxi.sales.actions.targets import set_quota
from guanxi.sales.forecast import forecast
from guanxi.sales.tests.conftest import at

pytestmark = pytest.mark.django_db
JUNE = periods.month(date(2026, 6, 1))


def opened(team, owner, amount, stage=0, closes=None, category="", name="deal"):
    return deals.create_opportunity(
        unit=team.unit,
        name=name,
        actor=team.manager,
        owner=owner,
        amount=Decimal(amount),
        stage=team.stage(stage),
        expected_close=closes,
        forecast_category=category,
        at=at(2026, 5, 1, 9),
    )


def won(team, owner, amount, when):
    return deals.move_opportunity(opened(team, owner, amount), team.won, actor=team.manager, at=when)


@pytest.fixture
def fixed_pipeline(team_a, team_b):
    rep, rep2 = team_a.rep, team_a.rep2
    set_quota(
        unit=team_a.unit,
        user=rep,
        month=date(2026, 6, 1),
        amount=Decimal("100000"),
        commission_rate=Decimal("0.05"),
        actor=team_a.head,
    )
    set_quota(unit=team_a.unit, user=rep2, month=date(2026, 6, 1), amount=Decimal("50000"), actor=team_a.head)
    won(team_a, rep, "30000", at(2026, 6, 10, 15))
    won(team_a, rep, "20000", at(2026, 5, 31, 23, 30))  # May in Shanghai
    won(team_a, rep, "5000", at(2026, 6, 30, 23, 30))  # still June in Shanghai (15:30 UTC)
    won(team_a, rep, "6000", at(2026, 7, 1, 0, 30))  # July in Shanghai, though 30 June in UTC
    opened(team_a, rep, "40000", stage=3, closes=date(2026, 6, 20))  # Negotiation 75%: commit
    opened(team_a, rep, "10000", stage=2, closes=date(2026, 6, 25))  # Proposal 50%: best case
    opened(team_a, rep, "8000", stage=0, closes=date(2026, 6, 5), category="commit")  # 10%, called commit
    opened(team_a, rep, "99999", stage=3, closes=date(2026, 6, 28), category="omitted")  # left out
    opened(team_a, rep, "70000", stage=3, closes=date(2026, 7, 2))  # July
    opened(team_a, rep2, "12345.67", stage=1, closes=date(2026, 6, 15))  # Needs confirmed 25%: pipeline
    won(team_a, rep2, "7777.77", at(2026, 6, 2, 11))
    lost = opened(team_a, rep2, "5000", closes=date(2026, 6, 9))
    deals.move_opportunity(
        lost, team_a.lost, actor=team_a.manager, lost_reason="price", at=at(2026, 6, 9, 10)
    )
    set_quota(
        unit=team_b.unit, user=team_b.rep, month=date(2026, 6, 1), amount=Decimal("1"), actor=team_b.head
    )
    won(team_b, team_b.rep, "999", at(2026, 6, 3, 10))


def figures(row):
    return (
        row.quota,
        row.won,
        row.attainment,
        row.commit,
        row.best_case,
        row.pipeline,
        row.weighted,
        row.commission,
        row.best_case_total,
    )


def test_the_forecast_of_a_sales_manager(team_a, fixed_pipeline):
    shown = forecast(team_a.manager, JUNE)

    rows = {row.owner_name: figures(row) for row in shown.reps}
    assert rows == {
        "a rep": (
            Decimal("100000.00"),
            Decimal("35000.00"),
            Decimal("35.0"),
            Decimal("48000.00"),
            Decimal("10000.00"),
            Decimal("0.00"),
            Decimal("35800.00"),
            Decimal("1750.00"),
            Decimal("93000.00"),
        ),
        "a rep two": (
            Decimal("50000.00"),
            Decimal("7777.77"),
            Decimal("15.6"),
            Decimal("0.00"),
            Decimal("0.00"),
            Decimal("12345.67"),
            Decimal("3086.42"),
            Decimal("233.33"),
            Decimal("7777.77"),
        ),
    }
    [unit] = shown.units
    assert (unit.unit_name, *figures(unit)) == (
        "Home textiles",
        Decimal("150000.00"),
        Decimal("42777.77"),
        Decimal("28.5"),
        Decimal("48000.00"),
        Decimal("10000.00"),
        Decimal("12345.67"),
        Decimal("38886.42"),
        Decimal("1983.33"),
        Decimal("100777.77"),
    )


def test_a_rep_forecasts_their_own_deals_only(team_a, fixed_pipeline):
    shown = forecast(team_a.rep, JUNE)

    assert [row.owner_name for row in shown.reps] == ["a rep"]
    assert shown.units[0].won == Decimal("35000.00")


def test_commission_follows_each_month_rate_over_a_quarter(team_a, fixed_pipeline):
    shown = forecast(team_a.rep, periods.quarter(date(2026, 5, 1)))  # April to June

    [row] = shown.reps
    # May's 20,000 at the unit's 3% (no quota in May) and June's 35,000 at 5%.
    assert (row.won, row.commission, row.quota) == (
        Decimal("55000.00"),
        Decimal("2350.00"),
        Decimal("100000.00"),
    )


def test_the_funnel_counts_the_furthest_stage_each_deal_reached(team_a):
    def created(name, day):
        return deals.create_opportunity(unit=team_a.unit, name=name, actor=team_a.rep, at=at(2026, 6, day, 9))

    created("A", 1)
    b = created("B", 2)
    deals.move_opportunity(b, team_a.stage(1), actor=team_a.rep, at=at(2026, 6, 3, 9))
    c = created("C", 3)
    deals.move_opportunity(c, team_a.stage(2), actor=team_a.rep, at=at(2026, 6, 4, 9))
    deals.move_opportunity(c, team_a.lost, actor=team_a.rep, lost_reason="competitor", at=at(2026, 6, 5, 9))
    d = created("D", 1)
    for stage, day in ((1, 2), (2, 4), (3, 8)):
        d = deals.move_opportunity(d, team_a.stage(stage), actor=team_a.rep, at=at(2026, 6, day, 9))
    deals.move_opportunity(d, team_a.won, actor=team_a.rep, at=at(2026, 6, 11, 21))
    deals.create_opportunity(unit=team_a.unit, name="May deal", actor=team_a.rep, at=at(2026, 5, 31, 9))

    funnel = reports.funnel(team_a.head, team_a.pipeline, JUNE)

    assert [(step.stage.name, step.reached, step.conversion) for step in funnel] == [
        ("Initial contact", 4, Decimal("75.0")),
        ("Needs confirmed", 3, Decimal("66.7")),
        ("Proposal and quote", 2, Decimal("50.0")),
        ("Negotiation", 1, Decimal("100.0")),
        ("Won", 1, None),
    ]
    [results] = reports.results(team_a.head, JUNE)
    assert (
        results.owner_name,
        results.won,
        results.lost,
        results.win_rate,
        results.won_amount,
        results.cycle_days,
    ) == (
        "a rep",
        1,
        1,
        Decimal("50.0"),
        Decimal("0.00"),
        Decimal("10.5"),
    )
    assert reports.lost_reasons(team_a.head, JUNE) == [("competitor", "Lost to a competitor", 1)]
