"""The rulebook's clocks: a record without activity for N days is flagged at the unit's local midnight
of day N, notified, and optionally returned to the pool; users without activity for N days are
reported; reminders come once."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from guanxi.accounts.models import BusinessUnit
from guanxi.accounts.roles import Role
from guanxi.sales.actions import activities, leads
from guanxi.sales.actions import opportunities as deals
from guanxi.sales.actions.configuration import update_rules
from guanxi.sales.actions.rulebook import flag_stale_records
from guanxi.sales.models import Lead, Notification, Opportunity
from guanxi.sales.notifications import describe
from guanxi.sales.reports import inactivity
from guanxi.sales.tests.conftest import at

pytestmark = pytest.mark.django_db
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def opportunity_logged_at(team, moment, name="换季床品"):
    opportunity = deals.create_opportunity(
        unit=team.unit, name=name, actor=team.rep, at=moment - timedelta(days=3)
    )
    activities.log_activity(
        actor=team.rep, kind="call", subject="跟进", opportunity=opportunity, done_at=moment
    )
    return Opportunity.objects.get(pk=opportunity.pk)


def test_an_opportunity_goes_stale_at_local_midnight_of_day_n(team_a):
    update_rules(team_a.unit, actor=team_a.head, stale_after_days=30)
    opportunity = opportunity_logged_at(team_a, at(2026, 3, 1, 23, 50))

    assert flag_stale_records(now=at(2026, 3, 30, 23, 59, 59)).flagged == 0
    assert Opportunity.objects.get(pk=opportunity.pk).stale_since is None
    assert flag_stale_records(now=at(2026, 3, 31, 0, 0)).flagged == 1

    flagged = Opportunity.objects.get(pk=opportunity.pk)
    assert (flagged.stale_since, flagged.owner) == (at(2026, 3, 31, 0, 0), team_a.rep)
    note = Notification.objects.get()
    assert (note.user, note.kind, note.data) == (team_a.rep, "stale", {"name": "换季床品", "days": 30})
    assert flag_stale_records(now=at(2026, 4, 2)).flagged == 0  # flagged once


def test_the_unit_time_zone_decides_the_day(team_a):
    BusinessUnit.objects.filter(pk=team_a.unit.pk).update(time_zone="America/Los_Angeles")
    update_rules(team_a.unit, actor=team_a.head, stale_after_days=10)
    # 1 March 20:00 in Los Angeles is already 2 March in Shanghai.
    opportunity = opportunity_logged_at(team_a, at(2026, 3, 1, 20, 0, zone=LOS_ANGELES))

    assert flag_stale_records(now=at(2026, 3, 10, 23, 59, zone=LOS_ANGELES)).flagged == 0
    assert flag_stale_records(now=at(2026, 3, 11, 0, 0, zone=LOS_ANGELES)).flagged == 1
    assert Opportunity.objects.get(pk=opportunity.pk).stale_since == at(2026, 3, 11, 0, 0, zone=LOS_ANGELES)


def test_a_stale_opportunity_may_go_back_to_the_pool(team_a):
    update_rules(team_a.unit, actor=team_a.head, stale_after_days=7, return_stale_to_pool=True)
    opportunity = opportunity_logged_at(team_a, at(2026, 5, 1, 9))

    sweep = flag_stale_records(now=at(2026, 5, 8, 0, 1))

    assert (sweep.flagged, sweep.returned_to_pool) == (1, 1)
    assert Opportunity.objects.get(pk=opportunity.pk).owner is None
    assert sorted(Notification.objects.values_list("user__username", "kind")) == [
        ("a_head", "returned_to_pool"),
        ("a_manager", "returned_to_pool"),
        ("a_rep", "returned_to_pool"),
    ]


def test_logging_an_activity_lifts_the_flag(team_a):
    update_rules(team_a.unit, actor=team_a.head, stale_after_days=7)
    opportunity = opportunity_logged_at(team_a, at(2026, 5, 1, 9))
    flag_stale_records(now=at(2026, 5, 9))

    activities.log_activity(actor=team_a.rep, kind="visit", subject="拜访", opportunity=opportunity)

    assert Opportunity.objects.get(pk=opportunity.pk).stale_since is None


def test_open_leads_follow_the_same_rule(team_a):
    update_rules(team_a.unit, actor=team_a.head, stale_after_days=14)
    lead = leads.capture_lead(
        unit=team_a.unit, actor=team_a.rep, name="周婷", phone="13511112222", at=at(2026, 1, 10, 12)
    ).lead
    closed = leads.capture_lead(
        unit=team_a.unit, actor=team_a.rep, name="吴凡", phone="13511113333", at=at(2026, 1, 10, 12)
    ).lead
    leads.disqualify_lead(closed, actor=team_a.rep, reason="spam")

    assert flag_stale_records(now=at(2026, 1, 24, 0, 0)).flagged == 1
    assert Lead.objects.get(pk=lead.pk).stale_since == at(2026, 1, 24, 0, 0)
    assert Lead.objects.get(pk=closed.pk).stale_since is None


def test_the_inactivity_report_lists_exactly_the_inactive_sales_users(team_a, team_b, make_user):
    update_rules(team_a.unit, actor=team_a.head, inactive_after_days=14)
    make_user("a_idle", Role.SALES_REP, [team_a.unit])  # never logged anything
    make_user("a_marketer", Role.MARKETER, [team_a.unit])  # not a sales user: never reported
    opportunity = deals.create_opportunity(unit=team_a.unit, name="酒店", actor=team_a.rep)
    activities.log_activity(
        actor=team_a.rep, kind="call", subject="a", opportunity=opportunity, done_at=at(2026, 6, 17, 23, 59)
    )
    activities.log_activity(
        actor=team_a.rep2, kind="call", subject="b", opportunity=opportunity, done_at=at(2026, 6, 16, 23, 59)
    )
    activities.log_activity(
        actor=team_a.manager, kind="call", subject="c", opportunity=opportunity, done_at=at(2026, 6, 20, 8)
    )
    other_unit = deals.create_opportunity(unit=team_b.unit, name="b", actor=team_b.rep)
    activities.log_activity(
        actor=team_b.rep, kind="call", subject="d", opportunity=other_unit, done_at=at(2026, 5, 1)
    )

    now = at(2026, 6, 30, 12)  # day 14 since 16 June; day 13 since 17 June
    report = inactivity(team_a.head, now=now, only_inactive=True)

    assert [(row.user.username, row.days_without) for row in report] == [("a_rep2", 14), ("a_idle", None)]
    everyone = {row.user.username: row.is_inactive for row in inactivity(team_a.head, now=now)}
    assert everyone == {"a_rep": False, "a_rep2": True, "a_manager": False, "a_idle": True}


def test_a_sales_manager_sees_the_inactivity_of_their_team_only(team_a, make_user):
    other_manager = make_user("a_manager2", Role.SALES_MANAGER, [team_a.unit])

    seen = {row.user.username for row in inactivity(team_a.manager, now=at(2026, 6, 30))}

    assert seen == {"a_rep", "a_rep2", "a_manager"}
    assert other_manager.username not in seen


def test_reminders_come_once_when_their_time_comes(team_a):
    lead = leads.capture_lead(unit=team_a.unit, actor=team_a.rep, name="郑洁", phone="13522223333").lead
    activities.log_activity(
        actor=team_a.rep,
        kind="call",
        subject="回电",
        lead=lead,
        done=False,
        due_at=at(2026, 7, 1, 15),
        reminder_at=at(2026, 7, 1, 14, 45),
    )

    assert activities.send_due_reminders(now=at(2026, 7, 1, 14, 44)) == 0
    assert activities.send_due_reminders(now=at(2026, 7, 1, 14, 45)) == 1
    assert activities.send_due_reminders(now=at(2026, 7, 1, 14, 50)) == 0
    note = Notification.objects.get()
    assert (note.kind, note.data) == ("reminder", {"name": "回电", "due": "2026-07-01 15:00"})


def test_a_manager_assigns_an_activity_and_the_rep_is_told(team_a):
    lead = leads.capture_lead(unit=team_a.unit, actor=team_a.rep, name="郑洁", phone="13522223333").lead

    activity = activities.log_activity(
        actor=team_a.manager,
        kind="visit",
        subject="上门拜访",
        lead=lead,
        owner=team_a.rep2,
        done=False,
        due_at=at(2026, 7, 2, 10),
    )

    assert (activity.owner, activity.created_by, activity.status) == (team_a.rep2, team_a.manager, "planned")
    assert Notification.objects.get().user == team_a.rep2


def test_the_first_logged_activity_puts_a_new_lead_to_work(team_a):
    lead = leads.capture_lead(unit=team_a.unit, actor=team_a.rep, name="郑洁", phone="13522223333").lead

    activities.log_activity(actor=team_a.rep, kind="call", subject="首次电话", lead=lead)

    assert Lead.objects.get(pk=lead.pk).status == "working"


def test_a_sweep_that_flags_many_of_a_reps_deals_sends_one_summary(team_a):
    update_rules(team_a.unit, actor=team_a.head, stale_after_days=30)
    for number in range(7):
        opportunity_logged_at(team_a, at(2026, 1, 5, 10), name=f"旧商机 {number}")

    assert flag_stale_records(now=at(2026, 3, 1)).flagged == 7

    [summary] = Notification.objects.all()
    assert (summary.user, summary.kind, summary.data, summary.subject_id) == (
        team_a.rep,
        "stale",
        {"count": 7, "days": 30},
        "",
    )
    assert describe(summary) == "7 records have had no activity for 30 days or more"
