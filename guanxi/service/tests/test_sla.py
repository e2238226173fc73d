"""SLA deadlines in business hours (Asia/Shanghai, 09:00–18:00, Monday to Friday) over China's 2026
calendar: weekends, public holidays, adjusted working weekend days (调休上班) and pauses while the ticket
waits on the customer; and the scan that warns and alerts once through messaging."""

from datetime import date, time

import pytest

from guanxi.core.models import AuditEntry
from guanxi.messaging.models import Message
from guanxi.service import actions
from guanxi.service.calendar import BusinessCalendar
from guanxi.service.models import Holiday, Priority, Ticket, TicketEvent, TicketType

from .conftest import SHANGHAI, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def calendar_2026(desk_a):
    actions.load_china_holidays(desk_a.unit, 2026, actor=desk_a.head)
    return desk_a


def policy(desk, first: int, resolution: int, ticket_type=TicketType.INQUIRY, priority=Priority.NORMAL):
    actions.save_policy(
        desk.unit,
        actor=desk.head,
        ticket_type=ticket_type,
        priority=priority,
        first_response=first,
        resolution=resolution,
    )


def open_at(desk, when, **fields):
    return actions.open_ticket(
        actor=desk.agent, unit=desk.unit, subject="退货", customer=desk.customer, now=when, **fields
    )


def test_the_2026_calendar_has_the_state_councils_days(calendar_2026):
    days = dict(Holiday.objects.filter(unit=calendar_2026.unit).values_list("day", "is_day_off"))

    assert len(days) == 33 + 6  # 33 days off, 6 adjusted working days
    assert days[date(2026, 2, 14)] is False and days[date(2026, 2, 28)] is False
    assert all(days[date(2026, 2, d)] for d in range(15, 24))
    assert days[date(2026, 1, 4)] is False and days[date(2026, 10, 10)] is False
    assert actions.load_china_holidays(calendar_2026.unit, 2026, actor=calendar_2026.head) == 0


def test_friday_evening_runs_over_the_weekend(calendar_2026):
    policy(calendar_2026, 120, 600)

    ticket = open_at(calendar_2026, at(2026, 1, 9, 17, 0))  # a Friday

    assert ticket.first_response_due == at(2026, 1, 12, 10, 0)  # Monday
    # 60 minutes on Friday, 540 on Monday
    assert ticket.resolution_due == at(2026, 1, 12, 18, 0)


def test_new_year_holiday_and_the_sunday_worked_instead(calendar_2026):
    policy(calendar_2026, 120, 1200)

    ticket = open_at(calendar_2026, at(2025, 12, 31, 17, 30))  # Wednesday; 1–3 January off

    # 30 minutes on the 31st, then Sunday 4 January is a working day (调休上班)
    assert ticket.first_response_due == at(2026, 1, 4, 10, 30)
    # 30 + 540 (Sunday) + 540 (Monday) = 1110, then 90 more on Tuesday
    assert ticket.resolution_due == at(2026, 1, 6, 10, 30)


def test_spring_festival_after_the_adjusted_working_saturday(calendar_2026):
    policy(calendar_2026, 600, 601)

    ticket = open_at(calendar_2026, at(2026, 2, 13, 17, 0))  # Friday

    # 60 minutes on Friday and the whole working Saturday 14 February make exactly 600
    assert ticket.first_response_due == at(2026, 2, 14, 18, 0)
    # one minute more lands after the holiday, 15–23 February: Tuesday the 24th
    assert ticket.resolution_due == at(2026, 2, 24, 9, 1)


def test_outside_hours_the_clock_starts_at_the_next_opening(calendar_2026):
    policy(calendar_2026, 30, 60)

    ticket = open_at(calendar_2026, at(2026, 3, 7, 22, 15))  # Saturday night

    assert ticket.first_response_due == at(2026, 3, 9, 9, 30)
    assert ticket.resolution_due == at(2026, 3, 9, 10, 0)


def test_waiting_on_the_customer_pauses_the_clocks(calendar_2026):
    policy(calendar_2026, 60, 960)
    ticket = open_at(calendar_2026, at(2026, 3, 2, 10, 0), assignee=calendar_2026.agent)  # Monday
    assert ticket.resolution_due == at(2026, 3, 3, 17, 0)

    actions.reply(ticket, "请提供订单截图", actor=calendar_2026.agent, now=at(2026, 3, 2, 16, 0), wait=True)
    ticket.refresh_from_db()
    assert ticket.status == "waiting"
    assert ticket.paused_at == at(2026, 3, 2, 16, 0)

    # the customer answers on Thursday: 600 business minutes were left (2 h on Monday, 8 h on Tuesday)
    actions.customer_wrote(ticket, "截图见附件", now=at(2026, 3, 5, 11, 0))
    ticket.refresh_from_db()

    assert ticket.status == "in_progress"
    assert ticket.paused_at is None
    assert ticket.first_response_at == at(2026, 3, 2, 16, 0)
    assert ticket.first_response_due == at(2026, 3, 2, 11, 0)  # answered already: not moved
    assert ticket.resolution_due == at(2026, 3, 6, 12, 0)  # 420 on Thursday, 180 on Friday


def test_a_paused_ticket_is_not_alerted(calendar_2026):
    policy(calendar_2026, 60, 120)
    ticket = open_at(calendar_2026, at(2026, 3, 2, 10, 0), assignee=calendar_2026.agent)
    actions.reply(ticket, "请稍等", actor=calendar_2026.agent, now=at(2026, 3, 2, 10, 30), wait=True)

    result = actions.scan_sla(now=at(2026, 3, 9, 10, 0))

    assert (result.warnings, result.breaches) == (0, 0)


def test_the_scan_warns_then_alerts_once_through_messaging(calendar_2026):
    policy(calendar_2026, 60, 480)
    desk = calendar_2026
    desk.agent.email = "agent@shop.cn"
    desk.agent.save()
    ticket = open_at(desk, at(2026, 3, 2, 9, 0), assignee=desk.agent)
    assert ticket.first_response_due == at(2026, 3, 2, 10, 0)

    early = actions.scan_sla(now=at(2026, 3, 2, 9, 1))  # 59 business minutes before: within the hour
    again = actions.scan_sla(now=at(2026, 3, 2, 9, 2))
    late = actions.scan_sla(now=at(2026, 3, 2, 10, 5))
    later = actions.scan_sla(now=at(2026, 3, 2, 10, 6))

    assert (early.warnings, early.breaches) == (1, 0)
    assert (again.warnings, again.breaches) == (0, 0)
    assert (late.warnings, late.breaches) == (0, 1)  # the resolution clock is 8 h away: not warned yet
    assert (later.warnings, later.breaches) == (0, 0)
    ticket.refresh_from_db()
    assert ticket.first_response_warned_at == at(2026, 3, 2, 9, 1)
    assert ticket.first_response_breached_at == at(2026, 3, 2, 10, 5)
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds.count("sla_warning") == 1 and kinds.count("sla_breach") == 1
    alerts = Message.objects.filter(source="service:sla").order_by("pk")
    # the assignee and the unit head, for the warning and for the breach
    assert sorted((m.user_id, m.subject.startswith("SLA breached")) for m in alerts) == sorted(
        [(desk.agent.pk, False), (desk.head.pk, False), (desk.agent.pk, True), (desk.head.pk, True)]
    )
    assert all(m.medium == "email" for m in alerts)


def test_calendar_counts_working_minutes_between_two_moments():
    calendar = BusinessCalendar(
        zone=SHANGHAI,
        opens=time(9),
        closes=time(18),
        holidays=frozenset({date(2026, 5, 4)}),
        workdays=frozenset({date(2026, 5, 9)}),
    )

    assert calendar.business_minutes_between(at(2026, 5, 8, 17, 0), at(2026, 5, 11, 10, 0)) == 60 + 540 + 60
    assert calendar.business_minutes_between(at(2026, 5, 4, 10, 0), at(2026, 5, 4, 12, 0)) == 0
    assert calendar.add_business_minutes(at(2026, 5, 8, 17, 0), 0) == at(2026, 5, 8, 17, 0)


def test_audit_records_every_policy_and_calendar_change(calendar_2026):
    policy(calendar_2026, 60, 480)

    messages = [e.details for e in AuditEntry.objects.filter(unit=calendar_2026.unit).order_by("pk")]

    assert messages[-2:] == [
        "China's 2026 holidays loaded: 39 days",
        "SLA Inquiry / Normal: first response 60 min, resolution 480 min",
    ]


def test_open_tickets_keep_their_deadlines_when_the_policy_changes(calendar_2026):
    ticket = open_at(calendar_2026, at(2026, 3, 2, 9, 0), priority=Priority.URGENT)
    policy(calendar_2026, 5, 10, priority=Priority.URGENT)

    assert Ticket.objects.get(pk=ticket.pk).first_response_due == at(2026, 3, 2, 9, 30)


def test_one_scan_tells_each_person_once_about_all_their_tickets(calendar_2026):
    policy(calendar_2026, 60, 480)
    desk = calendar_2026
    for _ in range(3):
        open_at(desk, at(2026, 3, 2, 9, 0), assignee=desk.agent)

    result = actions.scan_sla(now=at(2026, 3, 2, 10, 30))

    assert result.breaches == 3
    mails = {m.user_id: m for m in Message.objects.filter(source="service:sla")}
    assert set(mails) == {desk.agent.pk, desk.head.pk}
    assert mails[desk.agent.pk].subject == "SLA: 3 tickets breached, 0 at risk"
