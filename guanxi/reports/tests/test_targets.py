"""The annual sales target stored per business unit and year: set on the Reports home by who may manage
the unit (audited), read by the dashboards and the Analytics page when no what-if target is given, and
added up over the units for the group-wide view."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel
from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.core.models import AuditEntry
from guanxi.reports.models import RevenueTarget
from guanxi.reports.tests.data import make_seasonal_sales

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 12, tzinfo=SHANGHAI)
D = Decimal


@pytest.fixture
def sales(unit_a, unit_b):
    """Unit A: 2024 and 2025 are full years of sales, 7,200.00, of which June 4,200.00 and May 600.00;
    this May 12,000.00 and this June 35,000.00. Unit B: June 2025, 1,800.00."""
    store = make_store(unit_a, "home-tmall", Channel.TMALL)
    make_seasonal_sales(store, make_customer("张三", [unit_a]))
    make_order(make_store(unit_b, "beauty-douyin", Channel.DOUYIN), None, "B-1", "1800.00", (2025, 6, 1))


def _targets(response):
    section = next((s for s in response.context["sections"] if s.key == "targets"), None)
    if section is None:
        return None
    return {f.key: (f.current, f.previous, f.change) for f in section.figures}


def _store(client, user, unit, year, amount):
    client.force_login(user)
    return client.post("/reports/target/", {"unit": unit, "year": year, "amount": amount})


def test_a_stored_target_gives_the_month_s_target_and_attainment(
    client, sales, unit_a, unit_b, unit_a_head, unit_b_head
):
    with time_machine.travel(NOW, tick=False):
        _store(client, unit_b_head, "beauty", "2026", "50000")  # another unit's: not in unit A's dashboard
        _store(client, unit_a_head, "home", "2025", "999")  # another year's
        saved = _store(client, unit_a_head, "home", "2026", "120000")
        stored = client.get("/reports/?unit=home")
        what_if = client.get("/reports/?unit=home&target=240000")

    assert saved.status_code == 302
    assert saved.url == "/reports/?unit=home"
    # June: 120,000 × 4,200 / 7,200; May: 120,000 × 600 / 7,200. Revenue 35,000 and 12,000 against them.
    assert _targets(stored) == {
        "target": (D("70000.00"), D("10000.00"), D("600.0")),
        "target_attainment": (D("50.0"), D("120.0"), D("-58.3")),
    }
    assert stored.context["annual_target"] == D("120000.00")
    assert 'data-stored-target="2026"' in stored.content.decode()
    # ?target= overrides the stored target: a what-if.
    assert _targets(what_if) == {
        "target": (D("140000.00"), D("20000.00"), D("600.0")),
        "target_attainment": (D("25.0"), D("60.0"), D("-58.3")),
    }
    target = RevenueTarget.objects.get(unit=unit_a, year=2026)
    assert (target.amount, target.updated_by) == (D("120000.00"), unit_a_head)
    entry = AuditEntry.objects.filter(object_type="reports.revenuetarget", object_id=str(target.pk)).get()
    assert (entry.action, entry.actor, entry.unit) == (AuditEntry.Action.CREATE, unit_a_head, unit_a)
    assert entry.details == "Annual sales target for 2026 set to 120000.00"


def test_setting_the_target_again_replaces_it_and_is_audited_as_a_change(client, unit_a, unit_a_head):
    _store(client, unit_a_head, "home", "2026", "120000")
    _store(client, unit_a_head, "home", "2026", "90000.50")

    assert list(RevenueTarget.objects.values_list("year", "amount")) == [(2026, D("90000.50"))]
    assert list(
        AuditEntry.objects.filter(object_type="reports.revenuetarget").order_by("pk").values_list("action")
    ) == [(AuditEntry.Action.CREATE,), (AuditEntry.Action.UPDATE,)]


def test_a_unit_head_cannot_set_another_unit_s_target(client, unit_a, unit_b, unit_a_head, make_user):
    analyst = make_user("analyst", Role.ANALYST, [unit_a])

    other_unit = _store(client, unit_a_head, "beauty", "2026", "50000")
    no_right = _store(client, analyst, "home", "2026", "50000")
    invalid = _store(client, unit_a_head, "home", "2026", "-1")

    assert other_unit.status_code == 404  # unit B is not among the head's units (as scheduling answers)
    assert no_right.status_code == 403
    assert invalid.status_code == 302
    assert not RevenueTarget.objects.exists()
    # Only who may set the unit's target is offered the form.
    client.force_login(analyst)
    assert client.get("/reports/?unit=home").context["set_target_form"] is None
    client.force_login(unit_a_head)
    assert client.get("/reports/?unit=home").context["set_target_form"] is not None


def test_the_group_wide_dashboard_adds_up_the_units_targets(client, sales, unit_a, unit_b, manager):
    with time_machine.travel(NOW, tick=False):
        _store(client, manager, "home", "2026", "120000")  # the group's manager sets any unit's target
        _store(client, manager, "beauty", "2026", "60000")
        _store(client, manager, "beauty", "2027", "70000")
        group = client.get("/reports/")
        unit = client.get("/reports/?unit=beauty")

    assert group.context["annual_target"] == D("180000.00")
    # Both units' sales: 9,000.00 over 2024 and 2025, June 6,000.00 and May 600.00. June: 180,000 ×
    # 6,000 / 9,000 = 120,000 against 35,000; May: 180,000 × 600 / 9,000 = 12,000 against 12,000.
    assert _targets(group) == {
        "target": (D("120000.00"), D("12000.00"), D("900.0")),
        "target_attainment": (D("29.2"), D("100.0"), D("-70.8")),
    }
    assert unit.context["annual_target"] == D("60000.00")


def test_the_analytics_page_spreads_the_stored_target(client, sales, unit_a, unit_a_head):
    with time_machine.travel(NOW, tick=False):
        _store(client, unit_a_head, "home", "2026", "72000")
        page = client.get("/analytics/?unit=home").content.decode()

    # 72,000 × 4,200 / 7,200 in June, 72,000 × 600 / 7,200 in May.
    assert '<td class="num" data-target-month="6">¥42,000.00</td>' in page
    assert '<td class="num" data-target-month="5">¥6,000.00</td>' in page
    assert "data-stored-target" in page


def test_the_unit_picker_keeps_the_what_if_target(client, unit_a, unit_b, manager):
    client.force_login(manager)

    page = client.get("/reports/?unit=home&target=120000")
    stored = client.get("/reports/?unit=home")

    picker = page.content.decode().split('class="unit-picker"')[1].split("</form>")[0]
    assert '<input type="hidden" name="target" value="120000">' in picker
    assert 'name="target"' not in stored.content.decode().split('class="unit-picker"')[1].split("</form>")[0]


def test_an_empty_amount_removes_the_year_s_target_and_is_audited(client, unit_a, unit_a_head):
    _store(client, unit_a_head, "home", "2026", "120000")
    _store(client, unit_a_head, "home", "2027", "130000")
    target = RevenueTarget.objects.get(year=2026)

    removed = _store(client, unit_a_head, "home", "2026", "")
    again = _store(client, unit_a_head, "home", "2026", "")  # nothing left to remove: no audit entry

    assert (removed.status_code, again.status_code) == (302, 302)
    assert list(RevenueTarget.objects.values_list("year", "amount")) == [(2027, D("130000.00"))]
    entries = AuditEntry.objects.filter(object_type="reports.revenuetarget", object_id=str(target.pk))
    assert [(e.action, e.actor, e.details) for e in entries.order_by("pk")] == [
        (AuditEntry.Action.CREATE, unit_a_head, "Annual sales target for 2026 set to 120000.00"),
        (AuditEntry.Action.DELETE, unit_a_head, "Annual sales target for 2026 removed"),
    ]
    client.force_login(unit_a_head)
    with time_machine.travel(NOW, tick=False):
        assert client.get("/reports/?unit=home").context["stored_target"] is None
