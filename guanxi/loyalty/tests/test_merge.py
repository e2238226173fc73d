"""Merging two members combines their ledgers; undo splits them back exactly."""

import pytest

from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.merging.merge import merge_customers, undo_merge
from guanxi.loyalty import actions, earning, ledger
from guanxi.loyalty.models import Entry, Lot, Membership, Movement
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db


def test_merge_combines_ledgers_and_undo_splits_them(programme, person, send_order, unit_a):
    other = make_customer("王芳", [unit_a], phone="+8613900002222")
    send_order(person, "T1", "300.00", at(2026, 3, 1))
    send_order(other, "T2", "500.00", at(2026, 3, 2))
    earning.follow_changes(now=at(2026, 3, 3))
    actions.redeem_points(programme, other, 100, now=at(2026, 3, 4))
    older = Membership.objects.get(customer=person)

    record = merge_customers(person, other, reason="same phone")

    assert ledger.balance(programme.pk, person.pk) == 700
    assert ledger.balance(programme.pk, other.pk) == 0
    assert list(Membership.objects.values_list("pk", "customer_id")) == [(older.pk, person.pk)]
    assert Movement.objects.filter(customer=person).count() == 3
    actions.redeem_points(programme, person, 650, now=at(2026, 3, 5))
    assert ledger.balance(programme.pk, person.pk) == 50

    undo_merge(record)

    # The redemption after the merge stays with the survivor, who took it from the oldest lot (theirs).
    assert ledger.balance(programme.pk, person.pk) == 300 - 300
    assert ledger.balance(programme.pk, other.pk) == 400 - 350
    assert sorted(Membership.objects.values_list("customer_id", flat=True)) == sorted([person.pk, other.pk])
    assert set(Entry.objects.filter(customer=other).values_list("movement__customer_id", flat=True)) == {
        other.pk
    }
    assert sum(Lot.objects.values_list("remaining", flat=True)) == 50
    assert actions.check_ledger() == []
