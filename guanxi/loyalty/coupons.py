"""Coupons: pools of unique single-use codes, issuing a code to a customer, redeeming it exactly once
on the order that carries it, and expiring what was not used.

A code is 12 characters of Crockford's base-32 alphabet drawn from the operating system's random
source (60 bits): a million codes in a pool leave one chance in a million million of guessing one.
Codes are written in sorted batches whose INSERT skips a clash with an existing code (ON CONFLICT DO
NOTHING), topped up until the pool holds as many new codes as asked. Redemption is one conditional
UPDATE (issued → redeemed) so two deliveries of one order, or two orders carrying one code, redeem it
once.
"""

import base64
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from guanxi.commerce.models import Order, OrderLine
from guanxi.core.bulk import quoted
from guanxi.core.money import round_money
from guanxi.loyalty import ledger
from guanxi.loyalty.models import Account, CouponCode, CouponTemplate, Movement

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 12
# Codes per INSERT: the larger the sorted batch, the more of the unique index's pages each visit fills.
BATCH = 250_000


def new_code() -> str:
    """60 random bits from the operating system, written in 12 base-32 characters."""
    return new_codes(1)[0]


# base64's base-32 alphabet (RFC 4648) to Crockford's, character for character.
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode())


def new_codes(count: int) -> list[str]:
    """`count` codes of 60 random bits each: 15 random bytes are 24 base-32 characters, two codes."""
    text = base64.b32encode(secrets.token_bytes(15 * ((count + 1) // 2))).translate(_TO_CROCKFORD).decode()
    return [text[i : i + CODE_LENGTH] for i in range(0, CODE_LENGTH * count, CODE_LENGTH)]


def _insert_new(template: CouponTemplate, codes: list[str]) -> int:
    """Insert the codes that no pool holds yet, skipping clashes in the database (one statement on
    PostgreSQL, one prepared statement on SQLite); how many were inserted. The codes go in sorted:
    random codes land all over the unique index, sorted ones fill its pages one after another, which
    took the INSERT of 200,000 codes on PostgreSQL from 6.3–7.0 s to 4.2–6.0 s (ADR 0042)."""
    codes = sorted(codes)
    table = connection.ops.quote_name(CouponCode._meta.db_table)
    columns = quoted(["template_id", "code", "imported", "state", "discount", "issue_key"])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT %s, code, false, %s, 0, '' "  # noqa: S608
                "FROM unnest(%s::varchar[]) AS code ON CONFLICT (code) DO NOTHING",
                [template.pk, str(CouponCode.State.AVAILABLE), codes],
            )
            return cursor.rowcount
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, 0, %s, 0, '') ON CONFLICT (code) DO NOTHING",  # noqa: S608
            [(template.pk, code, str(CouponCode.State.AVAILABLE)) for code in codes],
        )
        return cursor.rowcount


def generate_codes(
    template: CouponTemplate, count: int, progress: Callable[[int], None] | None = None
) -> int:
    """Add `count` new available codes to the template's pool; returns how many were written. A batch
    is inserted with ON CONFLICT DO NOTHING and the codes a clash skipped are drawn again."""
    written = 0
    while written < count:
        with transaction.atomic():
            added = _insert_new(template, new_codes(min(BATCH, count - written)))
        written += added
        if progress is not None:
            progress(added)
    return written


def import_codes(template: CouponTemplate, codes: list[str]) -> int:
    """Add a platform's own codes to the pool (existing codes are skipped); how many were new."""
    cleaned = sorted({code.strip().upper() for code in codes if code.strip()})
    existing = set(CouponCode.objects.filter(code__in=cleaned).values_list("code", flat=True))
    CouponCode.objects.bulk_create(
        [CouponCode(template=template, code=code, imported=True) for code in cleaned if code not in existing],
        ignore_conflicts=True,
    )
    return len([code for code in cleaned if code not in existing])


def expiry_of(template: CouponTemplate, issued_at: datetime) -> datetime | None:
    ends = [moment for moment in (template.valid_until,) if moment is not None]
    if template.valid_days:
        ends.append(issued_at + timedelta(days=template.valid_days))
    return min(ends) if ends else None


def issue(template: CouponTemplate, customer_id: int, now: datetime, key: str = "") -> CouponCode:
    """Give the customer one code of the pool (a new one if the pool is empty), recorded under the
    issue's `key` if any; inside a transaction."""
    code = (
        CouponCode.objects.select_for_update(skip_locked=True)
        .filter(template=template, state=CouponCode.State.AVAILABLE)
        .order_by("pk")
        .first()
    )
    if code is None:
        generate_codes(template, 1)
        code = (
            CouponCode.objects.select_for_update(skip_locked=True)
            .filter(template=template, state=CouponCode.State.AVAILABLE)
            .order_by("pk")
            .first()
        )
        assert code is not None
    code.state = CouponCode.State.ISSUED
    code.customer_id = customer_id
    code.issued_at = now
    code.expires_at = expiry_of(template, now)
    code.issue_key = key
    code.save(update_fields=["state", "customer", "issued_at", "expires_at", "issue_key"])
    return code


def issue_many(
    template: CouponTemplate,
    customer_ids: Iterable[int],
    now: datetime,
    key: str = "",
    progress: Callable[[int], None] | None = None,
) -> tuple[list[CouponCode], list[CouponCode]]:
    """A code to each customer, 500 to a transaction. Under `key` a customer already holding a code
    issued with it gets nothing new (UNIQUE on key and customer; a concurrent run's codes are skipped
    on retry). Returns (the codes issued now, each customer's code in the order given)."""
    key = key[:120]
    ids = list(dict.fromkeys(customer_ids))
    issued: list[CouponCode] = []
    result: list[CouponCode] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        for attempt in range(2):
            try:
                with transaction.atomic():
                    holding = (
                        {
                            code.customer_id: code
                            for code in CouponCode.objects.filter(issue_key=key, customer_id__in=part)
                        }
                        if key
                        else {}
                    )
                    batch = [issue(template, pk, now, key) for pk in part if pk not in holding]
                break
            except IntegrityError:  # a concurrent run under the same key issued some first: skip them
                if attempt:
                    raise
        issued += batch
        holding.update((code.customer_id, code) for code in batch)
        result += [holding[pk] for pk in part]
        if progress is not None:
            progress(len(part))
    return issued, result


def give_tier_coupon(tier: Any, customer_ids: Iterable[int], now: datetime) -> int:
    """The tier's exclusive coupon to members who have just reached it: once per member and tier
    (keyed `tier:<id>`), so a member who falls back and qualifies again is not given it twice. An
    inactive or missing template gives nothing. Inside the upgrade's transaction."""
    template = tier.exclusive_coupon
    if template is None or not template.active:
        return 0
    issued, _codes = issue_many(template, customer_ids, now, key=f"tier:{tier.pk}")
    return len(issued)


def discount_for(template: CouponTemplate, order: Order) -> Decimal | None:
    """What the coupon takes off this order, or None when the order does not meet its conditions."""
    lines = list(
        OrderLine.objects.filter(order=order).values_list("category", "quantity", "unit_price", "amount")
    )
    if template.categories:
        lines = [line for line in lines if line[0] in template.categories]
        eligible = sum((line[3] for line in lines), Decimal(0))
    else:
        eligible = order.total_amount
    if eligible < template.min_spend or eligible <= 0:
        return None
    if template.kind == CouponTemplate.Kind.SPEND_SAVE:
        return min(template.amount_off, eligible)
    if template.kind == CouponTemplate.Kind.PERCENT_OFF:
        return round_money(eligible * template.percent_off / 100)
    if template.kind == CouponTemplate.Kind.BUY_GET:
        group = template.buy_quantity + template.free_quantity
        units = sorted(
            (price for _category, quantity, price, _amount in lines for _ in range(max(quantity, 0))),
        )
        if group <= 0 or len(units) < group:
            return None
        free = (len(units) // group) * template.free_quantity
        return round_money(sum(units[:free], Decimal(0)))
    return Decimal(0)  # cash back: nothing off the order; points are credited


def redeem(code: CouponCode, order: Order, now: datetime) -> bool:
    """Redeem an issued, unexpired code on `order` of its holder; exactly once. Inside a transaction."""
    template = code.template
    if order.unit_id != template.programme.unit_id:
        return False
    if code.customer_id is not None and code.customer_id != order.customer_id:
        return False
    if code.expires_at is not None and code.expires_at <= (order.paid_at or order.placed_at):
        return False
    if template.valid_from is not None and (order.paid_at or order.placed_at) < template.valid_from:
        return False
    discount = discount_for(template, order)
    if discount is None:
        return False
    updated = CouponCode.objects.filter(pk=code.pk, state=CouponCode.State.ISSUED).update(
        state=CouponCode.State.REDEEMED,
        order=order,
        redeemed_at=now,
        discount=discount,
        customer_id=order.customer_id,
    )
    if not updated:
        return False
    if template.kind == CouponTemplate.Kind.CASHBACK and template.cashback_points and order.customer_id:
        programme = template.programme
        ledger.locked_membership(programme, order.customer_id, now)
        ledger.post(
            programme=programme,
            customer_id=order.customer_id,
            kind=Movement.Kind.CASHBACK,
            key=f"cashback:{code.pk}",
            sides=ledger.credit_sides(
                programme.pk, order.customer_id, template.cashback_points, Account.CASHBACK
            ),
            occurred_at=order.paid_at or now,
            points=template.cashback_points,
            expires_at=ledger.expiry_for(programme, order.paid_at or now),
            order=order,
        )
    return True


def redeem_codes_of(order: Order, now: datetime) -> int:
    """Redeem the codes an order carries (`attributes["coupon_codes"]`, as importers, webhooks and the
    ingestion API store them; Shopify's `discount_codes`); how many were redeemed now."""
    raw: Any = order.attributes.get("coupon_codes") or order.attributes.get("discount_codes") or []
    codes = [str(code).strip().upper() for code in (raw if isinstance(raw, list) else [raw])]
    done = 0
    with transaction.atomic():
        rows = CouponCode.objects.select_related("template__programme").filter(
            code__in=codes, state=CouponCode.State.ISSUED
        )
        stacking = len(codes) > 1
        for code in rows:
            if stacking and not code.template.stackable:
                continue
            done += redeem(code, order, now)
    return done


def expire_codes(now: datetime | None = None) -> int:
    """Mark issued codes past their end as expired; how many."""
    now = now or timezone.now()
    return CouponCode.objects.filter(state=CouponCode.State.ISSUED, expires_at__lte=now).update(
        state=CouponCode.State.EXPIRED
    )
