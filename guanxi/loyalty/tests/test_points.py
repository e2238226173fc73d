"""Earning, reversing, redeeming, adjusting and expiring points, with exact values."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from guanxi.core.models import AuditEntry
from guanxi.customers.models import Customer
from guanxi.loyalty import actions, earning, ledger
from guanxi.loyalty.ledger import LedgerError
from guanxi.loyalty.models import Account, Entry, Lot, Membership, Movement, Programme, TierChange
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db


def balance(programme, person):
    return ledger.balance(programme.pk, person.pk)


def test_a_paid_order_earns_once_from_the_change_feed(programme, person, send_order):
    send_order(person, "T1", "199.90", at(2026, 3, 1, 10))

    assert earning.follow_changes(now=at(2026, 3, 1, 11)) == 1

    earned = Movement.objects.get(kind=Movement.Kind.EARN)
    assert (earned.points, earned.customer_id, earned.key) == (199, person.pk, f"earn:{earned.order_id}")
    assert sorted(Entry.objects.filter(movement=earned).values_list("account", "amount")) == [
        (Account.EARNED, -199),
        (Account.MEMBER, 199),
    ]
    assert balance(programme, person) == 199
    membership = Membership.objects.get(customer=person)
    assert membership.tier.name == "银卡"
    assert list(TierChange.objects.values_list("reason", flat=True)) == [TierChange.Reason.JOINED]


def test_the_same_order_by_webhook_and_by_import_earns_once(programme, person, send_order):
    send_order(person, "T1", "100.00", at(2026, 3, 1, 10))
    earning.follow_changes(now=at(2026, 3, 1, 11))
    # Delivered again later (an import of the same order, updated at the platform): one earning.
    send_order(person, "T1", "100.00", at(2026, 3, 1, 10), updated=at(2026, 3, 2), attributes={"note": "x"})
    earning.follow_changes(now=at(2026, 3, 2, 11))
    earning.sync_customers([person.pk], now=at(2026, 3, 3))

    assert list(Movement.objects.values_list("kind", "points")) == [("earn", 100)]
    assert balance(programme, person) == 100


def test_category_and_store_multipliers_rounding_and_cap(programme, person, send_order, store):
    actions.add_rule_version(
        programme,
        effective_from=at(2026, 2, 1),
        now=at(2026, 1, 15),
        points_per_yuan=Decimal("1.5"),
        rounding="half_up",
        category_multipliers={"bedding": "2"},
        store_multipliers={str(store.pk): "1.1"},
        max_points_per_order=1000,
    )
    # (2 × 50.30 × 2 + 1 × 9.90) × 1.1 × 1.5 = 348.315 → 348
    send_order(person, "T1", "110.50", at(2026, 3, 1), lines=[("bedding", 2, "50.30"), ("towels", 1, "9.90")])
    send_order(person, "T2", "1000.00", at(2026, 3, 2))  # 1650 capped at 1000
    earning.follow_changes(now=at(2026, 3, 3))

    assert sorted(Movement.objects.values_list("points", flat=True)) == [348, 1000]


def test_a_rule_change_applies_from_its_effective_time_never_before(programme, person, send_order):
    send_order(person, "T1", "100.00", at(2026, 5, 31, 23, 59))
    actions.add_rule_version(
        programme, effective_from=at(2026, 6, 1), now=at(2026, 5, 20), points_per_yuan=Decimal(3)
    )
    send_order(person, "T2", "100.00", at(2026, 6, 1, 0, 0))
    earning.follow_changes(now=at(2026, 6, 2))

    assert dict(Movement.objects.values_list("order__number", "points")) == {"T1": 100, "T2": 300}
    with pytest.raises(ValidationError):
        actions.add_rule_version(programme, effective_from=at(2026, 5, 1), now=at(2026, 6, 2))


def test_the_return_window_delays_earning_until_the_daily_sweep(programme, person, send_order):
    actions.add_rule_version(programme, effective_from=at(2026, 2, 1), now=at(2026, 1, 2), delay_days=7)
    send_order(person, "T1", "80.00", at(2026, 3, 1, 12))
    earning.follow_changes(now=at(2026, 3, 2))
    assert not Movement.objects.exists()

    earning.earn_due(now=at(2026, 3, 8, 12))

    assert list(Movement.objects.values_list("points", "occurred_at")) == [(80, at(2026, 3, 1, 12))]


def test_partial_returns_reverse_pro_rata_and_add_up_to_the_whole(programme, person, send_order):
    send_order(person, "T1", "300.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 1, 1))
    send_order(
        person,
        "T1",
        "300.00",
        at(2026, 3, 1),
        updated=at(2026, 3, 5),
        refunds=[("R1", "100.00", at(2026, 3, 5))],
    )
    earning.follow_changes(now=at(2026, 3, 5, 1))
    assert balance(programme, person) == 200

    send_order(
        person,
        "T1",
        "300.00",
        at(2026, 3, 1),
        updated=at(2026, 3, 6),
        refunds=[("R1", "100.00", at(2026, 3, 5)), ("R2", "200.00", at(2026, 3, 6))],
    )
    earning.follow_changes(now=at(2026, 3, 6, 1))

    assert sorted(Movement.objects.filter(kind="reverse").values_list("points", flat=True)) == [-200, -100]
    assert balance(programme, person) == 0
    assert actions.check_ledger() == []


def test_a_refund_after_redemption_leaves_a_recorded_debt_paid_from_the_next_earning(
    programme, person, send_order
):
    send_order(person, "T1", "100.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 1, 1))
    actions.redeem_points(programme, person, 70, now=at(2026, 3, 2))
    send_order(
        person,
        "T1",
        "100.00",
        at(2026, 3, 1),
        updated=at(2026, 3, 3),
        refunds=[("R1", "100.00", at(2026, 3, 3))],
    )
    earning.follow_changes(now=at(2026, 3, 3, 1))

    assert (balance(programme, person), ledger.debt(programme.pk, person.pk)) == (0, 70)
    reverse = Movement.objects.get(kind="reverse")
    assert sorted(reverse.entries.values_list("account", "amount")) == [
        (Account.DEBT, -70),
        (Account.MEMBER, -30),
        (Account.REVERSED, 100),
    ]

    send_order(person, "T2", "50.00", at(2026, 3, 4))
    earning.follow_changes(now=at(2026, 3, 4, 1))
    assert (balance(programme, person), ledger.debt(programme.pk, person.pk)) == (0, 20)
    send_order(person, "T3", "50.00", at(2026, 3, 5))
    earning.follow_changes(now=at(2026, 3, 5, 1))
    assert (balance(programme, person), ledger.debt(programme.pk, person.pk)) == (30, 0)
    assert actions.check_ledger() == []


def test_redemption_checks_the_balance_and_takes_the_oldest_lots_first(programme, person, send_order):
    send_order(person, "T1", "40.00", at(2026, 3, 1))
    send_order(person, "T2", "60.00", at(2026, 4, 1))
    earning.follow_changes(now=at(2026, 4, 2))

    actions.redeem_points(programme, person, 50, now=at(2026, 4, 3))

    assert list(Lot.objects.order_by("earned_at").values_list("points", "remaining")) == [(40, 0), (60, 50)]
    with pytest.raises(LedgerError):
        actions.redeem_points(programme, person, 51, now=at(2026, 4, 3))
    assert balance(programme, person) == 50


def test_a_repeated_redemption_request_with_its_key_redeems_once(programme, person, send_order):
    send_order(person, "T1", "40.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 4, 2))
    first = actions.redeem_points(programme, person, 10, key="pos-1", now=at(2026, 4, 3))
    again = actions.redeem_points(programme, person, 10, key="pos-1", now=at(2026, 4, 3))
    assert first.pk == again.pk
    assert balance(programme, person) == 30


def test_a_manual_adjustment_needs_a_reason_and_is_audited(programme, person, admin_user):
    with pytest.raises(ValidationError):
        actions.adjust_points(programme, person, 50, reason=" ", actor=admin_user, now=at(2026, 3, 1))

    actions.adjust_points(
        programme, person, 50, reason="补偿：物流延误", actor=admin_user, now=at(2026, 3, 1)
    )
    with pytest.raises(ValidationError):
        actions.adjust_points(programme, person, -51, reason="误发", actor=admin_user, now=at(2026, 3, 2))
    actions.adjust_points(programme, person, -20, reason="误发", actor=admin_user, now=at(2026, 3, 2))

    assert balance(programme, person) == 30
    assert list(Movement.objects.order_by("occurred_at").values_list("points", "reason", "actor")) == [
        (50, "补偿：物流延误", admin_user.pk),
        (-20, "误发", admin_user.pk),
    ]
    entry = AuditEntry.objects.filter(object_type="customers.customer").order_by("pk").last()
    assert (entry.message_code, entry.details) == ("loyalty.points_adjusted", "-20 points adjusted: 误发")


def test_points_expire_at_the_end_of_the_next_calendar_year_in_shanghai(programme, person, send_order):
    send_order(person, "T1", "100.00", at(2026, 12, 31, 23, 30))  # 2026-12-31 15:30 UTC
    earning.follow_changes(now=at(2027, 1, 1))
    lot = Lot.objects.get()
    assert lot.expires_at == at(2028, 1, 1)

    assert actions.expire_points(now=at(2027, 12, 31, 23, 59, 59)) == 0
    assert actions.expire_points(now=at(2028, 1, 1)) == 100
    assert actions.expire_points(now=at(2028, 1, 2)) == 0

    assert balance(programme, person) == 0
    expired = Movement.objects.get(kind="expire")
    assert (expired.points, expired.occurred_at) == (-100, at(2028, 1, 1))
    assert actions.check_ledger() == []


def test_points_earned_on_a_leap_day_expire_on_the_last_day_of_february(programme, person, send_order):
    actions.update_programme(programme, expiry=Programme.Expiry.MONTHS, expiry_months=12)
    send_order(person, "T1", "100.00", at(2028, 2, 29, 9))
    earning.follow_changes(now=at(2028, 3, 1))

    assert Lot.objects.get().expires_at == at(2029, 2, 28, 9)
    assert actions.expire_points(now=at(2029, 2, 28, 8, 59)) == 0
    assert actions.expire_points(now=at(2029, 2, 28, 9)) == 100


def test_expiry_takes_only_what_is_left_of_a_lot(programme, person, send_order):
    actions.update_programme(programme, expiry=Programme.Expiry.MONTHS, expiry_months=1)
    send_order(person, "T1", "100.00", at(2026, 3, 1))
    send_order(person, "T2", "100.00", at(2026, 3, 20))
    earning.follow_changes(now=at(2026, 3, 21))
    actions.redeem_points(programme, person, 130, now=at(2026, 3, 25))

    assert actions.expire_points(now=at(2026, 4, 1)) == 0  # the first lot was spent
    assert actions.expire_points(now=at(2026, 4, 20)) == 70
    assert balance(programme, person) == 0


def test_the_check_finds_references_of_the_ledger_that_lead_nowhere(programme, person, send_order):
    # Movements, lots and entries have no database constraints (ADR 0042): the check proves them.
    send_order(person, "T1", "100.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 1, 1))
    assert actions.check_ledger() == []
    entry = Entry.objects.get(account=Account.MEMBER)
    lot = Lot.objects.get()
    missing = Customer.objects.order_by("-pk").first().pk + 1000
    Entry.objects.filter(pk=entry.pk).update(customer_id=missing)
    Lot.objects.filter(pk=lot.pk).update(programme_id=programme.pk + 1000)
    movement = Movement.objects.get()
    gone = movement.order_id + 1000
    Movement.objects.filter(pk=movement.pk).update(order_id=gone)

    assert [(p.what, p.detail) for p in actions.check_ledger()] == [
        ("dangling", f"movement {movement.pk}: order {gone} does not exist"),
        ("dangling", f"entry {entry.pk}: customer {missing} does not exist"),
        ("dangling", f"lot {lot.pk}: programme {programme.pk + 1000} does not exist"),
    ]
