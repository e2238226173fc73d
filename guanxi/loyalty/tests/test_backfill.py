"""The initial backfill writes what following the change feed would have written."""

from decimal import Decimal

import pytest
from django.db import connection

from guanxi.commerce.models import Order
from guanxi.commerce.tests.factories import make_customer
from guanxi.loyalty import actions, earning, ledger, tiers
from guanxi.loyalty.models import Entry, Lot, Membership, Movement, Tier, TierChange
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db


def snapshot(programme, people):
    return {
        "movements": sorted(Movement.objects.values_list("kind", "key", "points", "occurred_at")),
        "entries": sorted(Entry.objects.values_list("movement__key", "account", "amount", "customer_id")),
        "balances": [ledger.balance(programme.pk, p.pk) for p in people],
        "tiers": sorted(Membership.objects.values_list("customer_id", "tier__name")),
        "history": sorted(TierChange.objects.values_list("customer_id", "to_tier__name", "reason")),
    }


def history(send_order, unit_a):
    people = [make_customer(f"p{i}", [unit_a], phone=f"+861380000{i:04d}") for i in range(3)]
    send_order(
        people[0], "A1", "120.50", at(2026, 2, 1), lines=[("bedding", 1, "100.50"), ("towels", 2, "10.00")]
    )
    send_order(people[0], "A2", "2000.00", at(2026, 3, 1))
    send_order(people[1], "B1", "80.00", at(2026, 2, 10), refunds=[("R1", "40.00", at(2026, 2, 12))])
    send_order(people[2], "C1", "99.00", at(2026, 3, 5), status="created")
    return people


def test_backfill_equals_following_the_feed(programme, send_order, unit_a, store):
    people = history(send_order, unit_a)
    actions.add_rule_version(
        programme,
        effective_from=at(2026, 2, 20),
        now=at(2026, 2, 1),
        points_per_yuan=2,
        category_multipliers={"bedding": "1.5"},
    )

    result = earning.backfill(programme, now=at(2026, 4, 1))
    assert (result.orders, result.movements, result.members, result.slow_path) == (3, 3, 2, 1)
    assert tiers.recalculate(programme, now=at(2026, 4, 1)) == 1
    by_backfill = snapshot(programme, people)

    assert by_backfill["balances"] == [120 + 4000, 40, 0]
    assert by_backfill["tiers"] == [(people[0].pk, "金卡"), (people[1].pk, "银卡")]
    # The same history followed customer by customer from the feed gives the same ledger.
    Entry.objects.all().delete()
    Lot.objects.all().delete()
    Movement.objects.all().delete()
    TierChange.objects.all().delete()
    Membership.objects.all().delete()
    earning.sync_customers([p.pk for p in people], now=at(2026, 4, 1))
    by_feed = snapshot(programme, people)
    assert by_backfill["movements"] == by_feed["movements"]
    assert by_backfill["entries"] == by_feed["entries"]
    assert by_backfill["balances"] == by_feed["balances"]
    assert by_backfill["tiers"] == by_feed["tiers"]
    assert [h[1:] for h in by_backfill["history"]] == [h[1:] for h in by_feed["history"]]


@pytest.mark.django_db(transaction=True)
def test_backfill_by_several_workers_writes_what_one_writes(programme, send_order, unit_a, store):
    people = [make_customer(f"w{i}", [unit_a], phone=f"+861390000{i:04d}") for i in range(5)]
    for i, person in enumerate(people):
        for n in range(i + 1):
            send_order(person, f"W{i}-{n}", f"{100 + 10 * n}.00", at(2026, 2, 1 + n))
    orders = Order.objects.filter(customer__in=people).order_by("pk")
    span = (orders.first().pk, orders.last().pk)
    assert earning.history_span(programme, at(2026, 4, 1)) == span

    told: list[int] = []
    result = earning.backfill(programme, now=at(2026, 4, 1), workers=2, progress=told.append)
    assert (result.orders, result.movements, result.members, result.lines) == (15, 15, 5, 15)
    assert sum(told) == span[1] + 1 - span[0]  # the whole span, each stretch once
    by_two = snapshot(programme, people)
    assert by_two["balances"] == [100, 210, 330, 460, 600]

    Entry.objects.all().delete()
    Lot.objects.all().delete()
    Movement.objects.all().delete()
    TierChange.objects.all().delete()
    Membership.objects.all().delete()
    earning.backfill(programme, now=at(2026, 4, 1), workers=1)
    assert snapshot(programme, people) == by_two
    # Run again, nothing earns twice.
    again = earning.backfill(programme, now=at(2026, 4, 1), workers=2)
    assert (again.orders, again.movements, again.members) == (0, 0, 0)


def test_the_backfill_samples_the_statistics_of_a_history_never_analysed(programme, send_order, unit_a):
    # A history just imported has no planner statistics; on PostgreSQL plans on none joined orders to
    # lines by nested loops (ten times slower), so the backfill ANALYZEs what it reads first.
    person = make_customer("新导入", [unit_a], phone="+8613700009999")
    send_order(person, "H1", "88.00", at(2026, 2, 1))
    result = earning.backfill(programme, now=at(2026, 4, 1))
    assert (result.orders, result.movements, ledger.balance(programme.pk, person.pk)) == (1, 1, 88)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL AND relname = ANY(%s)",
                [["commerce_order", "commerce_orderline", "loyalty_membership", "loyalty_movement"]],
            )
            assert sorted(row[0] for row in cursor.fetchall()) == [
                "commerce_order",
                "commerce_orderline",
                "loyalty_membership",
                "loyalty_movement",
            ]


def test_a_member_already_in_a_tier_earns_by_its_multiplier(programme, send_order, unit_a):
    # The backfill reads each member's tier multiplier; members it opens start at the entry tier.
    gold = Tier.objects.get(programme=programme, rank=1)
    gold.points_multiplier = Decimal("1.5")
    gold.save()
    member, newcomer = (make_customer(n, [unit_a], phone=f"+86137000077{i}0") for i, n in enumerate("甲乙"))
    actions.enrol(programme, member, now=at(2026, 1, 10))
    Membership.objects.filter(customer=member).update(tier=gold)
    send_order(member, "M1", "200.00", at(2026, 2, 1))
    send_order(newcomer, "N1", "99.00", at(2026, 2, 1))

    result = earning.backfill(programme, now=at(2026, 4, 1))

    assert (result.movements, result.members) == (2, 1)
    assert [ledger.balance(programme.pk, p.pk) for p in (member, newcomer)] == [300, 99]
