"""MS-4/MS-5: generated schedules over 24 IANA zones and DST transition days, run on a simulated clock —
no customer over the daily or weekly budget in their local calendar, no marketing send inside the
recipient-local quiet hours, held messages released when the window ends, transactional ones at once.

The clock jumps from event to event (a message queued, a held message due), as workers polling every
minute would see them; each step runs the real outbox against the local fake gateway.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from guanxi.accounts import actions as accounts
from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.models import Consent
from guanxi.messaging import actions, fake_gateways, gates, sending
from guanxi.messaging.models import ContactPreference, Message

ZONES = [
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tehran",
    "Asia/Beirut",
    "Africa/Cairo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Moscow",
    "Atlantic/Azores",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Havana",
    "America/Santiago",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
]
# Days on which some of the zones change their clocks (2026), at 09:00 UTC; schedules run 3 days from there.
DST_DAYS = [
    datetime(2026, 3, 7, 9, tzinfo=UTC),  # US springs forward on the 8th
    datetime(2026, 3, 28, 9, tzinfo=UTC),  # EU and Lebanon on the 29th
    datetime(2026, 4, 4, 9, tzinfo=UTC),  # Australia, New Zealand and Chile fall back on the 5th
    datetime(2026, 9, 5, 9, tzinfo=UTC),  # Chile springs forward on the 6th, at midnight
    datetime(2026, 9, 26, 9, tzinfo=UTC),  # New Zealand and Chatham on the 27th
    datetime(2026, 10, 24, 9, tzinfo=UTC),  # EU falls back on the 25th
    datetime(2026, 10, 31, 9, tzinfo=UTC),  # US and Cuba on 1 November
]
POLICY = gates.Policy()  # 21:00-08:00, 2 a day, 5 a week: the unit below keeps the defaults


def oracle_release(held_at: datetime, zone: ZoneInfo) -> datetime:
    """The first minute after `held_at` outside the quiet window, found by walking minute by minute."""
    moment = held_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while gates.is_quiet(moment.astimezone(zone), POLICY):
        moment += timedelta(minutes=1)
    return moment


schedules = st.fixed_dictionaries(
    {
        "start": st.sampled_from(DST_DAYS),
        "zones": st.lists(st.sampled_from(ZONES), min_size=3, max_size=6),
        "messages": st.lists(
            st.tuples(st.integers(0, 5), st.integers(0, 72 * 60), st.booleans()), min_size=4, max_size=24
        ),
    }
)


class ScheduleTests(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateways = fake_gateways.Gateways(smtp_port=None).start()

    @classmethod
    def tearDownClass(cls):
        cls.gateways.stop()
        super().tearDownClass()

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(schedules)
    def test_budget_and_quiet_hours_hold_in_every_recipients_time(self, schedule):
        accounts.ensure_organisation("Guanxi")
        unit = accounts.create_business_unit(code="home", name="Home")
        actions.save_channel(
            unit=unit,
            name="sms",
            kind="sms_http",
            values={"url": self.gateways.url("/sms/send"), "api_key": fake_gateways.SMS_API_KEY},
        )
        actions.save_template(
            key="promo",
            name="Promo",
            medium="sms",
            purpose="marketing",
            unit=unit,
            contents={"zh-hans": {"body": "会员日 8 折。回复TD退订"}},
        )
        actions.save_template(
            key="notice",
            name="Notice",
            medium="sms",
            purpose="transactional",
            unit=unit,
            contents={"zh-hans": {"body": "您的订单已发货"}},
        )
        people = []
        for index, zone in enumerate(schedule["zones"]):
            person = make_customer(f"顾客{index}", [unit], phone=f"+861391234{index:04d}")
            Consent.objects.create(
                customer=person,
                channel="sms",
                state="granted",
                method="checkbox",
                recorded_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
            ContactPreference.objects.create(customer=person, name="time_zone", value=zone)
            people.append((person, ZoneInfo(zone)))
        start = schedule["start"]
        events = sorted(
            (start + timedelta(minutes=offset), number, who % len(people), marketing)
            for number, (who, offset, marketing) in enumerate(schedule["messages"])
        )
        held_at: dict[int, datetime] = {}
        queued_at: dict[int, datetime] = {}
        zone_of: dict[int, ZoneInfo] = {}
        clock = start
        for _step in range(500):
            pending = (
                Message.objects.pending()
                .order_by("available_at")
                .values_list("available_at", flat=True)
                .first()
            )
            upcoming = [at for at, *_rest in events if at > clock] if events else []
            candidates = [at for at in (pending, upcoming[0] if upcoming else None) if at is not None]
            due_now = [event for event in events if event[0] <= clock]
            if not due_now and not candidates:
                break
            if not due_now:
                clock = max(min(candidates), clock)
            with time_machine.travel(clock, tick=False):
                for event in [event for event in events if event[0] <= clock]:
                    events.remove(event)
                    at, number, who, marketing = event
                    person, zone = people[who]
                    message = actions.enqueue_message(
                        unit=unit,
                        customer=person,
                        purpose="marketing" if marketing else "transactional",
                        send_key=f"s{number}",
                        template="promo" if marketing else "notice",
                        channel="sms",
                    ).message
                    queued_at[message.pk], zone_of[message.pk] = at, zone
                while sending.send_due().claimed:
                    pass
                for pk in Message.objects.filter(state="held").values_list("pk", flat=True):
                    held_at.setdefault(pk, clock)
            if (
                not events
                and Message.objects.pending().filter(available_at__gt=start + timedelta(days=12)).exists()
            ):
                break
        else:
            raise AssertionError("the simulation did not settle")

        rows = list(Message.objects.order_by("pk"))
        assert all(row.state in ("sent", "dropped") for row in rows), {row.state for row in rows}
        local_days: dict[tuple[int, object], int] = {}
        local_weeks: dict[tuple[int, object], int] = {}
        for row in rows:
            zone = zone_of[row.pk]
            if row.purpose == "transactional":
                assert (row.state, row.started_at) == ("sent", queued_at[row.pk])  # never held, never capped
                continue
            if row.state == "dropped":
                assert row.reason in ("frequency_cap_day", "frequency_cap_week"), row.reason
                continue
            local = row.started_at.astimezone(zone)
            assert not gates.is_quiet(local, POLICY), f"sent at {local} local"
            day, week = (row.customer_id, local.date()), (row.customer_id, local.isocalendar()[:2])
            local_days[day] = local_days.get(day, 0) + 1
            local_weeks[week] = local_weeks.get(week, 0) + 1
            if row.pk in held_at:
                release = oracle_release(held_at[row.pk], zone)
                assert release - timedelta(minutes=1) <= row.started_at <= release + timedelta(minutes=5), (
                    f"held at {held_at[row.pk]}, released {row.started_at}, window ended {release}"
                )
            else:
                assert row.started_at == queued_at[row.pk]
        assert max(local_days.values(), default=0) <= POLICY.daily_cap
        assert max(local_weeks.values(), default=0) <= POLICY.weekly_cap
