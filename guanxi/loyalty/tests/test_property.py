"""Random sequences of orders, partial refunds, redemptions, expiry runs and rule changes against a
Python oracle: the ledger balances, and every balance, debt and tier history equals the oracle's."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.commerce.tests.factories import make_customer
from guanxi.loyalty import actions, earning, ledger
from guanxi.loyalty.ledger import LedgerError, months_later
from guanxi.loyalty.models import Entry, Programme, Tier, TierChange
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db
PEOPLE = 2
GOLD = Decimal(500)  # 金卡 on spend in the window; the other rungs out of reach

step = st.one_of(
    st.tuples(
        st.just("order"), st.integers(0, PEOPLE - 1), st.integers(1, 40000).map(lambda c: Decimal(c) / 100)
    ),
    st.tuples(
        st.just("refund"), st.integers(0, 30), st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal(1)])
    ),
    st.tuples(st.just("redeem"), st.integers(0, PEOPLE - 1), st.integers(1, 300)),
    st.tuples(st.just("expire"), st.just(0), st.just(0)),
    st.tuples(
        st.just("rule"), st.just(0), st.sampled_from([Decimal("0.5"), Decimal(1), Decimal("1.5"), Decimal(2)])
    ),
)


@dataclass
class Lot:
    remaining: int
    earned_at: datetime
    expires_at: datetime
    order: int | None = None


@dataclass
class Person:
    lots: list[Lot] = field(default_factory=list)
    debt: int = 0
    tiers: list[str] = field(default_factory=list)

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots)

    def take(self, points: int, first_order: int | None = None) -> None:
        for lot in sorted(self.lots, key=lambda lot: (lot.order != first_order, lot.earned_at)):
            part = min(lot.remaining, points)
            lot.remaining -= part
            points -= part


@dataclass
class Sent:
    who: int
    pk: int
    number: str
    total: Decimal
    paid: datetime
    earned: int
    refunds: list[tuple[str, str, datetime]] = field(default_factory=list)
    refunded: Decimal = Decimal(0)
    reversed: int = 0


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(step, min_size=1, max_size=14), gaps=st.lists(st.integers(1, 45), min_size=14, max_size=14)
)
def test_the_ledger_agrees_with_the_oracle(unit_a, store, send_order, steps, gaps):
    with transaction.atomic():
        _run(unit_a, send_order, steps, gaps)
        transaction.set_rollback(True)


def _run(unit_a, send_order, steps, gaps):
    now = at(2026, 1, 1)
    programme = actions.create_programme(
        unit=unit_a, name="p", now=now, expiry=Programme.Expiry.MONTHS, expiry_months=2
    )
    Tier.objects.filter(programme=programme).update(points_multiplier=1)
    Tier.objects.filter(programme=programme, rank__gte=2).update(min_spend=10**9)
    Tier.objects.filter(programme=programme, rank=1).update(min_spend=GOLD)
    people = [make_customer(f"p{i}", [unit_a], phone=f"+86138000000{i:02d}") for i in range(PEOPLE)]
    oracle = [Person() for _ in people]
    sent: list[Sent] = []
    rate = Decimal(1)
    for index, (kind, a, b) in enumerate(steps):
        now = now + timedelta(days=gaps[index])
        if kind == "order":
            who = oracle[a]
            order = send_order(people[a], f"O{index}", str(b), now)
            earning.sync_customers([people[a].pk], now=now)
            points = int((b * rate).quantize(Decimal(1), rounding=ROUND_FLOOR))
            if points > 0:
                settle = min(who.debt, points)
                who.debt -= settle
                if points - settle:
                    who.lots.append(Lot(points - settle, now, months_later(programme, now, 2), order.pk))
            sent.append(Sent(a, order.pk, f"O{index}", b, now, points))
            _tier(who, [s for s in sent if s.who == a], now)
        elif kind == "refund" and sent:
            order = sent[a % len(sent)]
            amount = min(order.total - order.refunded, (order.total * b).quantize(Decimal("0.01")))
            if amount <= 0:
                continue
            who = oracle[order.who]
            order.refunds.append((f"R{index}", str(amount), now))
            send_order(
                people[order.who],
                order.number,
                str(order.total),
                order.paid,
                refunds=order.refunds,
                updated=now,
            )
            earning.sync_customers([people[order.who].pk], now=now)
            order.refunded += amount
            if order.earned > 0:
                target = int(
                    (order.earned * order.refunded / order.total).quantize(Decimal(1), rounding=ROUND_HALF_UP)
                )
                points = min(target, order.earned) - order.reversed
                if points > 0:
                    order.reversed += points
                    take = min(points, who.balance)
                    who.take(take, first_order=order.pk)
                    who.debt += points - take
            _tier(who, [s for s in sent if s.who == order.who], now)
        elif kind == "redeem":
            who = oracle[a]
            try:
                actions.redeem_points(programme, people[a], b, now=now)
            except LedgerError:
                assert who.balance < b
            else:
                assert who.balance >= b
                who.take(b)
        elif kind == "expire":
            actions.expire_points(now=now)
            for who in oracle:
                for lot in who.lots:
                    if lot.expires_at <= now:
                        lot.remaining = 0
        elif kind == "rule":
            actions.add_rule_version(programme, effective_from=now, now=now, points_per_yuan=b)
            rate = b
    assert (Entry.objects.aggregate(s=Sum("amount"))["s"] or 0) == 0
    assert actions.check_ledger() == []
    for person, who in zip(people, oracle, strict=True):
        assert (ledger.balance(programme.pk, person.pk), ledger.debt(programme.pk, person.pk)) == (
            who.balance,
            who.debt,
        )
        names = [
            c.to_tier.name for c in TierChange.objects.filter(customer=person).order_by("changed_at", "pk")
        ]
        assert names == who.tiers


def _tier(who: Person, orders: list[Sent], now: datetime) -> None:
    """Join at 银卡 with the first order; 金卡 as soon as the window's spend net of refunds reaches GOLD."""
    if not who.tiers:
        who.tiers.append("银卡")
    spend = sum(
        (s.total - s.refunded for s in orders if now - timedelta(days=365) < s.paid <= now), Decimal(0)
    )
    if spend >= GOLD and who.tiers[-1] == "银卡":
        who.tiers.append("金卡")
