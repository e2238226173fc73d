"""The role dashboards' period comparison, and the service report over tickets opened through the
service app's actions."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import time_machine
from django.utils import timezone

from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel
from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.reports.kit import add_months
from guanxi.reports.tests.data import make_seasonal_sales
from guanxi.service import actions as service_actions
from guanxi.service.models import TicketType

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _months():
    this = timezone.now().astimezone(SHANGHAI).date().replace(day=1)
    return this, add_months(this, -1), add_months(this, -12)


def _figures(response):
    return {
        section.key: {
            f.key: (f.current, f.previous, f.last_year, f.change, f.change_year) for f in section.figures
        }
        for section in response.context["sections"]
    }


def test_the_unit_head_s_dashboard_compares_this_month_with_last_month_and_last_year(
    client, unit_a, unit_b, unit_a_head
):
    this, last, year_ago = _months()
    store = make_store(unit_a, "home-tmall", Channel.TMALL)
    other = make_store(unit_b, "beauty-douyin", Channel.DOUYIN)
    zhang = make_customer("张三", [unit_a])
    li = make_customer("李四", [unit_a])
    make_order(store, zhang, "T-1", "120.00", (this.year, this.month, 1))
    make_order(store, li, "T-2", "80.00", (this.year, this.month, 1))
    make_order(store, zhang, "L-1", "100.00", (last.year, last.month, 15))
    make_order(store, zhang, "Y-1", "400.00", (year_ago.year, year_ago.month, 15))
    make_order(other, None, "B-1", "5000.00", (this.year, this.month, 1))  # another unit's
    client.force_login(unit_a_head)

    response = client.get("/reports/")

    assert response.status_code == 200
    sales = _figures(response)["sales"]
    assert sales["revenue"] == (
        Decimal("200.00"),
        Decimal("100.00"),
        Decimal("400.00"),
        Decimal("100.0"),
        Decimal("-50.0"),
    )
    assert sales["orders"] == (2, 1, 1, Decimal("100.0"), Decimal("100.0"))
    assert sales["buyers"] == (2, 1, 1, Decimal("100.0"), Decimal("100.0"))
    assert [s.key for s in response.context["sections"]] == ["sales", "customers", "service", "pipeline"]
    page = response.content.decode()
    assert f'href="/reports/products/?unit=home&amp;start={this:%Y-%m}&amp;end={this:%Y-%m}"' in page


def test_a_marketer_sees_customers_first(client, unit_a, make_user):
    marketer = make_user("mk", Role.MARKETER, [unit_a])
    client.force_login(marketer)

    response = client.get("/reports/")

    assert [s.key for s in response.context["sections"]] == ["customers", "marketing", "sales"]


def test_service_report_counts_tickets_and_resolutions_per_agent(client, desk_a, desk_b):
    opened = timezone.now() - timedelta(hours=1)
    tickets = [
        service_actions.open_ticket(
            actor=desk_a.head, unit=desk_a.unit, subject=subject, assignee=agent, now=opened
        )
        for subject, agent in (("one", desk_a.agent), ("two", desk_a.agent), ("three", desk_a.agent2))
    ]
    first = service_actions.open_ticket(
        actor=desk_a.head,
        unit=desk_a.unit,
        subject="four",
        ticket_type=TicketType.COMPLAINT,
        complaint_reason="product",
        assignee=desk_a.agent2,
        now=opened,
    )
    service_actions.transition(first, "resolve", actor=desk_a.agent2, now=opened + timedelta(minutes=5))
    service_actions.open_ticket(
        actor=desk_b.head, unit=desk_b.unit, subject="b", assignee=desk_b.agent, now=opened
    )
    client.force_login(desk_a.head)

    response = client.get("/reports/service/?group=agent")

    assert response.status_code == 200
    rows = [(row.label, *row.values) for row in response.context["result"].rows]
    assert rows == [
        ("a_agent", 2, Decimal("50.0"), 0, 0, None),
        ("a_agent2", 2, Decimal("50.0"), 1, 1, None),
    ]
    drilled = client.get("/reports/service/drill/?group=agent&value=a_agent2")
    assert [row[0] for row in drilled.context["drilled"].table.rows] == [first.pk, tickets[2].pk]


def test_service_report_month_filter(client, desk_a):
    this = timezone.now().astimezone(SHANGHAI)
    service_actions.open_ticket(
        actor=desk_a.head,
        unit=desk_a.unit,
        subject="old",
        assignee=desk_a.agent,
        now=datetime(2024, 5, 3, 10, tzinfo=SHANGHAI),
    )
    client.force_login(desk_a.head)

    default = client.get("/reports/service/?group=month")
    old = client.get("/reports/service/?group=month&start=2024-05&end=2024-05")

    assert default.context["result"].rows == ()
    assert [(r.label, r.values[0]) for r in old.context["result"].rows] == [("2024-05", 1)]
    assert this.year >= 2025


def test_a_sales_lead_sees_the_pipeline_and_the_sales_figures_only(client, unit_a, make_user):
    lead = make_user("lead", Role.SALES_MANAGER, [unit_a])
    client.force_login(lead)

    response = client.get("/reports/")

    assert [s.key for s in response.context["sections"]] == ["pipeline", "sales"]
    assert [r.slug for r in response.context["reports"]] == ["products", "pipeline", "quota"]
    assert client.get("/reports/contribution/").status_code == 403


def test_the_dashboard_shows_this_month_s_revenue_target_from_the_seasonal_index(
    client, unit_a, unit_b, unit_a_head
):
    store = make_store(unit_a, "home-tmall", Channel.TMALL)
    other = make_store(unit_b, "beauty-douyin", Channel.DOUYIN)
    make_seasonal_sales(store, make_customer("张三", [unit_a]))
    make_order(other, None, "B-1", "99999.00", (2025, 6, 1))  # another unit's: not in unit A's index
    client.force_login(unit_a_head)

    with time_machine.travel(datetime(2026, 6, 15, 12, tzinfo=SHANGHAI), tick=False):
        plain = client.get("/reports/")
        response = client.get("/reports/?unit=home&target=120000")
        refused = client.get("/reports/?unit=home&target=-5")

    assert "targets" not in _figures(plain)
    figures = _figures(response)
    assert [s.key for s in response.context["sections"]][:2] == ["sales", "targets"]
    assert figures["sales"]["revenue"][:3] == (Decimal("35000.00"), Decimal("12000.00"), Decimal("1800.00"))
    # June: 120,000 × 4,200 / 7,200; May: 120,000 × 600 / 7,200.
    assert figures["targets"]["target"] == (
        Decimal("70000.00"),
        Decimal("10000.00"),
        None,
        Decimal("600.0"),
        None,
    )
    assert figures["targets"]["target_attainment"] == (
        Decimal("50.0"),
        Decimal("120.0"),
        None,
        Decimal("-58.3"),
        None,
    )
    assert 'data-figure="target_attainment"' in response.content.decode()
    assert "targets" not in _figures(refused)
    assert refused.context["target_form"].errors["target"] == [
        "Ensure this value is greater than or equal to 0.01."
    ]
