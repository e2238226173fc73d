"""The points ledger's bookkeeping, used by the actions inside their transactions.

Every write to a member's points first locks their membership row (`locked_membership`), so two
redemptions from one balance are serialised: the second reads the balance the first left. A movement
is written with all its entries at once and they must sum to zero (`post` refuses otherwise). Credits
to a member open a lot; debits take from the open lots oldest first (the order's own lot first for a
reversal), so expiry removes exactly what is left of each lot.
"""

import calendar
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from guanxi.core.bulk import quoted
from guanxi.loyalty.models import Account, Entry, Lot, Membership, Movement, Programme, Tier, TierChange


class LedgerError(ValueError):
    """A movement the ledger refuses: not enough points, an unbalanced movement."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Side:
    """One entry to write: `lot` is "new" for a credit that opens a lot."""

    account: str
    amount: int
    customer_id: int | None = None
    lot: Lot | None = None
    opens_lot: bool = False


def add_months(moment: datetime, months: int) -> datetime:
    """The same wall-clock time `months` later; the 29th–31st become the month's last day if it is shorter."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def months_later(programme: Programme, moment: datetime, months: int) -> datetime:
    """`add_months` on the wall clock of the programme's unit (Asia/Shanghai by default)."""
    return add_months(moment.astimezone(ZoneInfo(programme.unit.time_zone)), months)


def expiry_for(programme: Programme, earned_at: datetime) -> datetime | None:
    """When points earned at `earned_at` expire, in the programme unit's time zone: the first instant
    of 1 January two years on for "end of the next calendar year", or N months later."""
    if programme.expiry == Programme.Expiry.NEVER:
        return None
    zone = ZoneInfo(programme.unit.time_zone)
    local = earned_at.astimezone(zone)
    if programme.expiry == Programme.Expiry.END_OF_NEXT_YEAR:
        return datetime.combine(
            local.date().replace(year=local.year + 2, month=1, day=1), time(), tzinfo=zone
        )
    return add_months(local, programme.expiry_months)


def locked_membership(
    programme: Programme, customer_id: int, now: datetime, *, create: bool = True, via: str = ""
) -> Membership | None:
    """The customer's membership, locked for this transaction; created at the entry tier if absent
    and `create`. Must run inside a transaction."""
    membership = (
        Membership.objects.select_for_update().filter(programme=programme, customer_id=customer_id).first()
    )
    if membership is not None or not create:
        return membership
    entry_tier = Tier.objects.filter(programme=programme).order_by("rank").first()
    if entry_tier is None:
        raise LedgerError("no_tiers", "The programme has no tiers.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                programme=programme,
                customer_id=customer_id,
                tier=entry_tier,
                tier_since=now,
                review_at=months_later(programme, now, programme.review_months),
                joined_at=now,
                joined_via=via or Membership.Via.PURCHASE,
            )
            TierChange.objects.create(
                programme=programme,
                customer_id=customer_id,
                from_tier=None,
                to_tier=entry_tier,
                reason=TierChange.Reason.JOINED,
                changed_at=now,
            )
    except IntegrityError:
        pass  # another transaction enrolled them first
    return Membership.objects.select_for_update().get(programme=programme, customer_id=customer_id)


def lock_member(programme_id: int, customer_id: int) -> bool:
    """Lock an existing membership for this transaction, as `locked_membership(create=False)` does,
    without building the model: one SQL string, no query compilation (the redemption path, ADR 0042).
    False when the customer is not a member. SQLite serialises writers by its own lock instead."""
    table = connection.ops.quote_name(Membership._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE programme_id = %s AND customer_id = %s{lock}",  # noqa: S608
            [programme_id, customer_id],
        )
        return cursor.fetchone() is not None


def lots_to_take(programme_id: int, customer_id: int, points: int) -> tuple[int, list[Lot]]:
    """The member's balance and, oldest first, only the open lots a debit of `points` draws on (the
    running total before each lot is below `points`): one statement returning a row or two, where
    `open_lots` builds a model for every open lot. The membership must be locked."""
    table = connection.ops.quote_name(Lot._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, remaining, total FROM ("  # noqa: S608
            " SELECT id, remaining, earned_at,"
            "  SUM(remaining) OVER (ORDER BY earned_at, id ROWS UNBOUNDED PRECEDING) - remaining AS before,"
            "  SUM(remaining) OVER () AS total"
            f" FROM {table} WHERE programme_id = %s AND customer_id = %s AND remaining > 0"
            ") AS open_lots WHERE before < %s ORDER BY earned_at, id",
            [programme_id, customer_id, points],
        )
        rows = cursor.fetchall()
    if not rows:
        return 0, []
    return int(rows[0][2]), [Lot(pk=pk, remaining=int(remaining)) for pk, remaining, _total in rows]


def balance(programme_id: int, customer_id: int) -> int:
    """The member's points: what is left of their lots (proven equal to their entries by `check`)."""
    total = Lot.objects.filter(programme_id=programme_id, customer_id=customer_id).aggregate(
        s=Sum("remaining")
    )["s"]
    return int(total or 0)


def debt(programme_id: int, customer_id: int) -> int:
    """Points the member owes (a reversal larger than their balance), as a positive number."""
    total = Entry.objects.filter(
        movement__programme_id=programme_id, customer_id=customer_id, account=Account.DEBT
    ).aggregate(s=Sum("amount"))["s"]
    return -int(total or 0)


def open_lots(programme_id: int, customer_id: int, first_movement_id: int | None = None) -> list[Lot]:
    lots = list(
        Lot.objects.filter(programme_id=programme_id, customer_id=customer_id, remaining__gt=0).order_by(
            "earned_at", "pk"
        )
    )
    if first_movement_id is not None:
        lots.sort(key=lambda lot: lot.movement_id != first_movement_id)
    return lots


def take_fifo(lots: list[Lot], points: int, customer_id: int) -> list[Side]:
    """Member debits taking `points` from `lots` in order; the lots' `remaining` is lowered in memory."""
    sides: list[Side] = []
    left = points
    for lot in lots:
        if left <= 0:
            break
        take = min(lot.remaining, left)
        if take <= 0:
            continue
        lot.remaining -= take
        left -= take
        sides.append(Side(Account.MEMBER, -take, customer_id, lot=lot))
    if left > 0:
        raise LedgerError("insufficient", "Not enough points.")
    return sides


def post(
    *,
    programme: Programme,
    customer_id: int,
    kind: str,
    key: str,
    sides: list[Side],
    occurred_at: datetime,
    points: int,
    expires_at: datetime | None = None,
    **fields: Any,
) -> Movement | None:
    """Write one movement with its entries (which must sum to zero) and open or draw down lots.
    Returns None, writing nothing, when a movement with this key already exists."""
    if sum(side.amount for side in sides) != 0:
        raise LedgerError("unbalanced", f"Movement {key} does not balance: {[s.amount for s in sides]}")
    movement = Movement(
        programme=programme,
        customer_id=customer_id,
        kind=kind,
        key=key,
        points=points,
        occurred_at=occurred_at,
        **fields,
    )
    if not _insert_unless_keyed(movement):
        return None
    entries: list[Any] = []
    drawn: list[Any] = []
    for side in sides:
        lot = side.lot
        if side.opens_lot:
            lot = Lot.objects.create(
                programme=programme,
                customer_id=customer_id,
                movement=movement,
                points=side.amount,
                remaining=side.amount,
                earned_at=occurred_at,
                expires_at=expires_at,
            )
        elif lot is not None:
            drawn += [lot.remaining, lot.pk]
        entries += [movement.pk, side.account, side.customer_id, lot.pk if lot else None, side.amount]
    # Plain SQL for the lots drawn down and the entries: these run on every redemption, where
    # compiling an ORM update per lot and a bulk_create cost more Python than the statements (ADR 0042).
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for i in range(0, len(drawn), 2):  # usually one lot; executemany costs more for so few
            cursor.execute(
                f"UPDATE {quote(Lot._meta.db_table)} SET remaining = %s WHERE id = %s",  # noqa: S608
                drawn[i : i + 2],
            )
        cursor.execute(
            f"INSERT INTO {quote(Entry._meta.db_table)} "  # noqa: S608
            f"({quoted(['movement_id', 'account', 'customer_id', 'lot_id', 'amount'])}) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s)"] * len(sides)),
            entries,
        )
    return movement


def _insert_unless_keyed(movement: Movement) -> bool:
    """Insert the movement unless its programme already holds its key (written before, or by a
    concurrent transaction, whose commit PostgreSQL waits for): one INSERT … ON CONFLICT DO NOTHING
    RETURNING, where a lookup, a savepoint, the insert and its release took four round trips on the
    redemption path. Sets the movement's id; False when nothing was written."""
    fields = [field for field in Movement._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    values = [field.get_db_prep_save(field.pre_save(movement, add=True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Movement._meta.db_table)} ({quoted([str(field.column) for field in fields])}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({quoted(['programme_id', 'key'])}) DO NOTHING RETURNING {quote('id')}",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return False
    movement.pk = row[0]
    movement._state.adding = False
    return True


def credit_sides(programme_id: int, customer_id: int, points: int, contra: str) -> list[Side]:
    """A credit of `points` to the member from `contra`, paying their debt first."""
    owed = debt(programme_id, customer_id)
    settle = min(owed, points)
    sides = [Side(contra, -points)]
    if settle:
        sides.append(Side(Account.DEBT, settle, customer_id))
    if points - settle:
        sides.append(Side(Account.MEMBER, points - settle, customer_id, opens_lot=True))
    return sides
