"""The dashboards' pipeline and marketing sections on fixed data, read as of a fixed moment: deals won
per month (closed in Shanghai), the open pipeline now and won against the month's quota, scoped to the
viewer's deals; campaigns sent per month with marketing's own effect figures."""

from decimal import Decimal

import pytest

from guanxi.accounts.roles import Role
from guanxi.reports import dashboard
from guanxi.reports.kit import Scope
from guanxi.sales.actions import opportunities as deals
from guanxi.sales.actions.targets import set_quota
from guanxi.sales.tests.conftest import at

JUNE_2026 = at(2026, 6, 20, 12)  # months compared: June 2026, May 2026, June 2025
MARCH_2025 = at(2025, 3, 20, 12)  # March 2025, February 2025, March 2024


def _open(team, owner, amount, stage, created=None):
    return deals.create_opportunity(
        unit=team.unit,
        name=f"deal {amount}",
        actor=team.manager,
        owner=owner,
        amount=Decimal(amount),
        stage=team.stage(stage),
        at=created or at(2026, 5, 1, 9),
    )


def _won(team, owner, amount, when, created=None):
    deal = _open(team, owner, amount, 0, created)
    return deals.move_opportunity(deal, team.won, actor=team.manager, at=when)


@pytest.fixture
def deals_won(team_a, team_b):
    _open(team_a, team_a.rep, "1050.00", 0)  # Initial contact, 10 %
    _open(team_a, team_a.rep2, "2000.00", 3)  # Negotiation, 75 %
    _open(team_b, team_b.rep, "99999.00", 2)  # Proposal and quote, 50 %
    _won(team_a, team_a.rep, "6000.00", at(2026, 6, 10, 15))
    _won(team_a, team_a.rep, "1500.00", at(2026, 6, 30, 23, 30))  # June in Shanghai
    _won(team_a, team_a.rep, "700.00", at(2026, 7, 1, 0, 30))  # July: not this month
    _won(team_a, team_a.rep2, "900.00", at(2026, 5, 20, 10))
    _won(team_a, team_a.rep2, "3000.00", at(2025, 6, 5, 10), created=at(2025, 5, 1, 9))
    _won(team_b, team_b.rep, "5555.00", at(2026, 6, 12, 10))
    set_quota(
        unit=team_a.unit,
        user=team_a.rep,
        month=at(2026, 6, 1).date(),
        amount=Decimal("10000"),
        actor=team_a.head,
    )
    set_quota(
        unit=team_b.unit,
        user=team_b.rep,
        month=at(2026, 6, 1).date(),
        amount=Decimal("5000"),
        actor=team_b.head,
    )


def _sections(user, unit, now):
    return {
        section.key: {
            figure.key: (figure.current, figure.previous, figure.last_year, figure.change, figure.change_year)
            for figure in section.figures
        }
        for section in dashboard.sections(user, Scope(unit=unit), now)
    }


def _links(user, unit, now, key):
    section = next(s for s in dashboard.sections(user, Scope(unit=unit), now) if s.key == key)
    return {figure.key: (figure.report, figure.query) for figure in section.figures}


D = Decimal


def test_a_unit_head_s_pipeline_counts_the_unit_s_deals_only(deals_won, team_a):
    figures = _sections(team_a.head, team_a.unit, JUNE_2026)

    assert list(figures) == ["sales", "customers", "service", "pipeline"]
    assert figures["pipeline"] == {
        "won_deals": (2, 1, 1, D("100.0"), D("100.0")),
        "won_amount": (D("7500.00"), D("900.00"), D("3000.00"), D("733.3"), D("150.0")),
        "open_amount": (D("3050.00"), None, None, None, None),
        "weighted": (D("1605.00"), None, None, None, None),  # 1050 × 10 % + 2000 × 75 %
        "attainment": (D("75.00"), D("0.00"), D("0.00"), None, None),  # no quota in May or a year ago
    }
    month = "unit=home&start=2026-06&end=2026-06"
    assert _links(team_a.head, team_a.unit, JUNE_2026, "pipeline") == {
        "won_deals": ("quota", month),
        "won_amount": ("quota", month),
        "open_amount": ("pipeline", "unit=home"),
        "weighted": ("pipeline", "unit=home"),
        "attainment": ("quota", month),
    }


def test_another_unit_s_head_and_the_group_manager(deals_won, team_b, manager):
    assert _sections(team_b.head, team_b.unit, JUNE_2026)["pipeline"] == {
        "won_deals": (1, 0, 0, None, None),
        "won_amount": (D("5555.00"), D("0.00"), D("0.00"), None, None),
        "open_amount": (D("99999.00"), None, None, None, None),
        "weighted": (D("49999.50"), None, None, None, None),
        "attainment": (D("111.10"), D("0.00"), D("0.00"), None, None),
    }
    # All units together: 13,055 won against 15,000 of quota.
    assert _sections(manager, None, JUNE_2026)["pipeline"] == {
        "won_deals": (3, 1, 1, D("200.0"), D("200.0")),
        "won_amount": (D("13055.00"), D("900.00"), D("3000.00"), D("1350.6"), D("335.2")),
        "open_amount": (D("103049.00"), None, None, None, None),
        "weighted": (D("51604.50"), None, None, None, None),
        "attainment": (D("87.03"), D("0.00"), D("0.00"), None, None),
    }


def test_a_sales_manager_sees_the_pipeline_first_and_no_quota_figure_without_a_quota(deals_won, team_a):
    figures = _sections(team_a.manager, team_a.unit, JUNE_2026)
    assert list(figures) == ["pipeline", "sales"]
    assert figures["pipeline"]["won_amount"][:3] == (D("7500.00"), D("900.00"), D("3000.00"))
    assert list(figures["sales"]) == ["revenue", "orders", "buyers"]

    july = _sections(team_a.manager, team_a.unit, at(2026, 7, 15, 12))["pipeline"]
    assert july["won_deals"] == (1, 2, 0, D("-50.0"), None)
    assert "attainment" not in july  # July has no quota


def test_a_marketer_s_campaign_figures(campaigns, unit_a, unit_b, make_user):
    marketer = make_user("mk", Role.MARKETER, [unit_a])

    figures = _sections(marketer, unit_a, MARCH_2025)

    assert list(figures) == ["customers", "marketing", "sales"]
    # 母亲节 in March (2 treated, 80.00 after its coupon), 春节 in February (1 treated, 50.00).
    assert figures["marketing"] == {
        "campaigns": (1, 1, 0, D("0.0"), None),
        "recipients": (2, 1, 0, D("100.0"), None),
        "net": (D("80.00"), D("50.00"), D("0.00"), D("60.0"), None),
    }
    assert _links(marketer, unit_a, MARCH_2025, "marketing")["net"] == (
        "campaigns",
        "unit=home&start=2025-03&end=2025-03",
    )
    other = make_user("mk_b", Role.MARKETER, [unit_b])
    assert _sections(other, unit_b, MARCH_2025)["marketing"]["campaigns"] == (1, 0, 0, None, None)
