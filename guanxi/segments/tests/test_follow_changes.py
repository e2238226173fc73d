"""Membership follows the customers whose orders, events or tags change, between full refreshes."""

import json

import pytest

from guanxi.accounts import actions as account_actions
from guanxi.commerce.models import Channel, Store
from guanxi.commerce.tests.factories import make_customer
from guanxi.customers import profile
from guanxi.customers.models import CustomerChange
from guanxi.segments import actions
from guanxi.segments.models import SegmentMembership

TOWEL_BUYERS = {
    "version": 1,
    "root": {"type": "orders", "of": "lines", "op": "gte", "value": 1, "filters": {"categories": ["towels"]}},
}
BROWSERS = {"version": 1, "root": {"type": "event", "kind": "browse", "at_least": 1}}


@pytest.fixture
def store(unit_a):
    return Store.objects.create(unit=unit_a, name="Home", channel=Channel.OWN_SITE, source="site:home")


def post(client, user, path, items):
    secret = account_actions.create_api_token(user=user, name="t", scope="read_write").secret
    return client.post(
        path,
        json.dumps({"items": items}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


def members(segment) -> set[str]:
    rows = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    return set(rows.values_list("customer__name", flat=True))


def test_tag_added_then_removed_enters_then_leaves(manager, unit_a):
    tag = profile.create_tag("VIP")
    anna = make_customer("Anna", [unit_a])
    make_customer("Bo", [unit_a])
    segment = actions.create_segment(
        actor=manager,
        name="VIPs",
        rule={"version": 1, "root": {"type": "tags", "match": "any", "tags": [tag.pk]}},
    )
    actions.refresh_segment(segment)
    assert members(segment) == set()

    profile.add_tag(anna, tag)
    assert members(segment) == set()  # not until the changes are followed
    assert actions.refresh_changed_customers() == 1
    assert members(segment) == {"Anna"}

    profile.remove_tag(anna, tag)
    assert actions.refresh_changed_customers() == 1
    assert members(segment) == set()
    assert SegmentMembership.objects.get(segment=segment).exited_at is not None
    assert actions.refresh_changed_customers() == 0
    assert not CustomerChange.objects.exists()


def test_orders_and_events_from_the_api_are_followed(client, manager, unit_a, unit_a_head, store):
    make_customer("Wang Fang", [unit_a], phone="+8613900001111")  # events attach to known customers only
    towels = actions.create_segment(actor=manager, name="Towel buyers", rule=TOWEL_BUYERS)
    browsers = actions.create_segment(actor=manager, name="Browsers", rule=BROWSERS)
    li = {"identities": [{"kind": "phone", "value": "13812345678"}], "name": "Li Lei"}
    wang = {"identities": [{"kind": "phone", "value": "139 0000 1111"}]}
    order = {
        "store": "site:home",
        "external_id": "A-1",
        "status": "paid",
        "placed_at": "2026-05-01T10:00:00+08:00",
        "total_amount": "99.00",
        "customer": li,
        "lines": [{"name": "Bath towel", "category": "towels", "unit_price": "99.00", "amount": "99.00"}],
    }
    event = {
        "store": "site:home",
        "external_id": "E-1",
        "kind": "browse",
        "occurred_at": "2026-05-01T09:00:00+08:00",
        "customer": wang,
    }
    assert post(client, unit_a_head, "/api/v1/orders", [order]).status_code == 202
    assert post(client, unit_a_head, "/api/v1/events", [event]).status_code == 202

    assert actions.refresh_changed_customers() == 2
    assert members(towels) == {"Li Lei"}
    assert members(browsers) == {"Wang Fang"}


def test_a_change_written_while_reading_is_kept_for_the_next_pass(unit_a):
    from guanxi.customers.changes import forget_changes, note_changed, take_changes

    first, second, third = (make_customer(name, [unit_a]).pk for name in ("A", "B", "C"))
    CustomerChange.objects.all().delete()
    note_changed([first, second, first, None])
    ids, rows = take_changes(10)
    note_changed([third])  # committed after the read, whatever its id
    assert ids == [first, second]
    assert forget_changes(rows) == 2
    assert take_changes(10)[0] == [third]
