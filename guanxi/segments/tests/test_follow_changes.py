"""Membership follows the customers whose orders, events or tags change, between full refreshes."""

import json

import pytest
from django.utils import timezone

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
    assert not CustomerChange.objects.filter(reader="segments").exists()  # other apps read at their pace


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


def test_a_failed_pass_is_retried_and_other_readers_are_not_held_up(monkeypatch, manager, unit_a):
    from guanxi.customers import changes

    monkeypatch.setattr(changes, "_readers", ["segments", "tiers"])
    tag = profile.create_tag("VIP")
    segment = actions.create_segment(
        actor=manager,
        name="VIPs",
        rule={"version": 1, "root": {"type": "tags", "match": "any", "tags": [tag.pk]}},
    )
    anna = make_customer("Anna", [unit_a])
    profile.add_tag(anna, tag)

    def broken(customer_ids, now=None):
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(actions, "refresh_for_customers", broken)
        with pytest.raises(RuntimeError):
            actions.refresh_changed_customers()

    assert members(segment) == set()
    assert changes.pending("segments") == 1  # given back, waiting for its retry
    CustomerChange.objects.filter(reader="segments").update(available_at=timezone.now())
    assert actions.refresh_changed_customers() == 1
    assert members(segment) == {"Anna"}
    assert changes.pending("tiers") == 1  # the other reader's row is untouched
