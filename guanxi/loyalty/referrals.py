"""Referrals: a member's code, a friend joining with it, and the reward to both on the friend's first
paid order, unless the fraud rules flag the pair (same phone, same address, same device)."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q

from guanxi.customers.models import Address, Identity
from guanxi.loyalty import ledger
from guanxi.loyalty.coupons import new_codes
from guanxi.loyalty.models import Account, Membership, Movement, Programme, Referral


def code_of(membership: Membership) -> str:
    """The member's referral code (R and 7 random characters of the coupon alphabet), drawn the
    first time it is asked for."""
    while not membership.referral_code:
        candidate = "R" + new_codes(1)[0][:7]
        try:
            with transaction.atomic():
                if Membership.objects.filter(pk=membership.pk, referral_code__isnull=True).update(
                    referral_code=candidate
                ):
                    membership.referral_code = candidate
                else:
                    membership.refresh_from_db(fields=["referral_code"])
        except IntegrityError:  # another member holds this code: draw again
            continue
    return membership.referral_code


def _phones(customer_id: int) -> set[str]:
    phones = set(
        Identity.objects.filter(customer_id=customer_id, kind=Identity.Kind.PHONE).values_list(
            "value", flat=True
        )
    )
    phones |= set(
        Address.objects.filter(customer_id=customer_id).exclude(phone="").values_list("phone", flat=True)
    )
    return {phone.replace(" ", "").removeprefix("+86") for phone in phones}


def _addresses(customer_id: int) -> set[tuple[str, ...]]:
    return {
        tuple(part.strip().replace(" ", "").lower() for part in row)
        for row in Address.objects.filter(customer_id=customer_id)
        .exclude(street="")
        .values_list("province", "city", "district", "street")
    }


def flags_for(referral: Referral) -> list[str]:
    """What the fraud rules find in this pair (empty: nothing)."""
    found = []
    if _phones(referral.referrer_id) & _phones(referral.referee_id):
        found.append(Referral.Flag.SAME_PHONE)
    if _addresses(referral.referrer_id) & _addresses(referral.referee_id):
        found.append(Referral.Flag.SAME_ADDRESS)
    if referral.device and (
        Referral.objects.filter(programme_id=referral.programme_id, device=referral.device)
        .filter(Q(referrer_id=referral.referrer_id) | Q(referee_id=referral.referrer_id))
        .exclude(pk=referral.pk)
        .exists()
    ):
        found.append(Referral.Flag.SAME_DEVICE)
    return [str(flag) for flag in found]


def settle(programme: Programme, referee_id: int, now: datetime) -> Referral | None:
    """Inside the referee's transaction (their membership locked): when their first paid order has
    earned, reward both sides (movements keyed by the referral, so once), or flag the pair. Returns
    the referral settled now, if any."""
    referral = (
        Referral.objects.select_for_update()
        .filter(programme=programme, referee_id=referee_id, state=Referral.State.PENDING)
        .first()
    )
    if referral is None:
        return None
    first = (
        Movement.objects.filter(programme=programme, customer_id=referee_id, kind=Movement.Kind.EARN)
        .order_by("occurred_at", "pk")
        .first()
    )
    if first is None:
        return None
    referral.order_id = first.order_id
    referral.settled_at = now
    referral.flags = flags_for(referral)
    if referral.flags:
        referral.state = Referral.State.FLAGGED
        referral.save(update_fields=["order", "settled_at", "flags", "state"])
        return referral
    for customer_id, points, side in (
        (referral.referee_id, programme.referee_points, "referee"),
        (referral.referrer_id, programme.referrer_points, "referrer"),
    ):
        if points <= 0:
            continue
        ledger.locked_membership(programme, customer_id, now)
        ledger.post(
            programme=programme,
            customer_id=customer_id,
            kind=Movement.Kind.REFERRAL,
            key=f"referral:{referral.pk}:{side}",
            sides=ledger.credit_sides(programme.pk, customer_id, points, Account.REFERRAL),
            occurred_at=first.occurred_at,
            points=points,
            expires_at=ledger.expiry_for(programme, first.occurred_at),
            order_id=first.order_id,
        )
    referral.state = Referral.State.REWARDED
    referral.save(update_fields=["order", "settled_at", "flags", "state"])
    return referral
