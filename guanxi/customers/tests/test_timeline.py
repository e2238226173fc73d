from datetime import datetime
from decimal import Decimal

from django.utils import translation

from guanxi.commerce.models import Channel, Return
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store
from guanxi.customers import profile
from guanxi.customers.merging.merge import merge_customers
from guanxi.customers.models import TimelineEvent
from guanxi.customers.timeline import customer_timeline, record_event


def at(year, month, day):
    return datetime(year, month, day, 12, 0, tzinfo=SHANGHAI)


def summaries(items):
    return [(item.kind, item.summary) for item in items]


def build(unit_a, unit_b, admin_user):
    home = make_store(unit_a, "home-tmall", Channel.TMALL)
    beauty = make_store(unit_b, "beauty-jd", Channel.JD)
    customer = make_customer("张伟", [unit_a, unit_b])
    make_order(home, customer, "TM-1", "120.00", (2024, 1, 5))
    jd = make_order(beauty, customer, "JD-1", "300.00", (2024, 2, 2))
    Return.objects.create(
        store=beauty,
        unit=unit_b,
        customer=customer,
        order=jd,
        source=beauty.source,
        external_id="R-1",
        number="R-1",
        amount=Decimal("50.00"),
        quantity=1,
        returned_at=at(2024, 2, 10),
    )
    note = profile.add_note(customer, "Complained about the courier", actor=admin_user, unit=unit_b)
    TimelineEvent.objects.filter(source_id=str(note.pk)).update(occurred_at=at(2024, 2, 11))
    tag = profile.create_tag("VIP")
    profile.add_tag(customer, tag, actor=admin_user)
    TimelineEvent.objects.filter(kind="tag_added").update(occurred_at=at(2024, 3, 1))
    return customer


def test_a_unit_user_sees_only_their_units_orders_and_events_plus_unit_less_events(
    unit_a, unit_b, admin_user, manager, unit_a_head
):
    customer = build(unit_a, unit_b, admin_user)

    assert summaries(customer_timeline(customer, manager)) == [
        ("tag_added", "Tag “VIP” added"),
        ("note_added", "Note added"),
        ("return_recorded", "Return R-1 in beauty-jd: 50.00 CNY"),
        ("order_placed", "Order JD-1 placed in beauty-jd: 300.00 CNY (Completed)"),
        ("order_placed", "Order TM-1 placed in home-tmall: 120.00 CNY (Completed)"),
    ]
    assert summaries(customer_timeline(customer, unit_a_head)) == [
        ("tag_added", "Tag “VIP” added"),
        ("order_placed", "Order TM-1 placed in home-tmall: 120.00 CNY (Completed)"),
    ]


def test_a_customer_the_user_cannot_see_has_an_empty_timeline(unit_a, unit_b, admin_user, unit_a_head):
    home = make_store(unit_b, "beauty-jd", Channel.JD)
    customer = make_customer("张伟", [unit_b])
    make_order(home, customer, "JD-1", "300.00", (2024, 2, 2))
    record_event(customer, TimelineEvent.Kind.PROFILE_UPDATED, "Profile updated", data={"fields": ["city"]})

    assert customer_timeline(customer, unit_a_head) == []
    assert len(customer_timeline(customer, admin_user)) == 2


def test_the_timeline_is_limited_to_the_newest_items(unit_a, unit_b, admin_user, manager):
    customer = build(unit_a, unit_b, admin_user)

    items = customer_timeline(customer, manager, limit=2)

    assert [item.kind for item in items] == ["tag_added", "note_added"]


def test_merges_appear_on_both_timelines_and_the_survivor_shows_both_histories(
    unit_a, unit_b, admin_user, manager
):
    home = make_store(unit_a, "home-tmall", Channel.TMALL)
    beauty = make_store(unit_b, "beauty-jd", Channel.JD)
    survivor = make_customer("张伟", [unit_a])
    absorbed = make_customer("张伟", [unit_b])
    make_order(home, survivor, "TM-1", "120.00", (2024, 1, 5))
    make_order(beauty, absorbed, "JD-1", "300.00", (2024, 2, 2))

    merge_customers(survivor, absorbed, actor=admin_user, reason="test")

    assert summaries(customer_timeline(survivor, manager)) == [
        ("merged", f"Customer #{absorbed.pk} merged into this profile"),
        ("order_placed", "Order JD-1 placed in beauty-jd: 300.00 CNY (Completed)"),
        ("order_placed", "Order TM-1 placed in home-tmall: 120.00 CNY (Completed)"),
    ]
    assert summaries(customer_timeline(absorbed, manager)) == [
        ("merged", f"Merged into customer #{survivor.pk}")
    ]


def test_kinds_without_a_description_fall_back_to_the_stored_summary(unit_a, admin_user):
    customer = make_customer("张伟", [unit_a])
    record_event(customer, TimelineEvent.Kind.TICKET_OPENED, "Ticket T-9 opened", data={"ticket": 9})

    with translation.override("en"):
        items = customer_timeline(customer, admin_user)

    assert summaries(items) == [("ticket_opened", "Ticket T-9 opened")]
