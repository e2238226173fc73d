"""Writes to customer profiles and identities. Every function owns its transaction and audits."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.customers.changes import note_changed
from guanxi.customers.identities import IdentityKey
from guanxi.customers.models import Customer, CustomerUnit, Identity, IdentityHint
from guanxi.customers.phrases import CUSTOMERS_CREATED
from guanxi.customers.references import identities_received

# SQLite's default limit on bound parameters is 32,766; three per key in an OR of ANDs stays far below.
LOOKUP_BATCH = 500
PROFILE_FIELDS = frozenset(
    {
        "name",
        "gender",
        "birthday",
        "province",
        "city",
        "district",
        "occupation",
        "source_channel",
        "first_seen_at",
        "notes",
    }
)


@dataclass
class ResolvedCustomers:
    """Customer id per identity key, and how many of those customers this call created."""

    ids: dict[IdentityKey, int] = field(default_factory=dict)
    created: int = 0


def find_customers_by_identity(keys: Iterable[IdentityKey]) -> dict[IdentityKey, int]:
    """The customer id owning each key that is already known (one query per few hundred keys)."""
    by_kind: dict[tuple[str, str], set[str]] = {}
    for key in keys:
        by_kind.setdefault((key.kind, key.namespace), set()).add(key.value)
    found: dict[IdentityKey, int] = {}
    for (kind, namespace), values in by_kind.items():
        ordered = sorted(values)
        for start in range(0, len(ordered), LOOKUP_BATCH):
            rows = Identity.objects.filter(
                kind=kind, namespace=namespace, value__in=ordered[start : start + LOOKUP_BATCH]
            ).values_list("value", "customer_id")
            for value, customer_id in rows:
                found[IdentityKey(kind, namespace, value)] = customer_id
    return found


def upsert_customers_by_identity(
    profiles: Mapping[IdentityKey, Mapping[str, Any]],
    *,
    unit: Any,
    source: str,
    actor: Any = None,
) -> ResolvedCustomers:
    """Resolve every key to a customer id, creating customers (linked to `unit`) for unknown keys.

    Set-based: a handful of queries whatever the number of keys. Profile fields are written only
    on the customers this call creates; known customers are left as they are (merging and
    survivorship decide later changes). Race-safe: if a concurrent writer claims a key first, the
    unique constraint on Identity makes its customer win and the one created here is removed.
    """
    unknown_fields = {name for fields in profiles.values() for name in fields} - PROFILE_FIELDS
    if unknown_fields:
        raise ValueError(f"Not customer profile fields: {sorted(unknown_fields)}")
    with transaction.atomic():
        resolved = find_customers_by_identity(profiles)
        missing = [key for key in profiles if key not in resolved]
        created_ids: list[int] = []
        if missing:
            now = timezone.now()
            customers = Customer.objects.bulk_create(
                [
                    Customer(**{"first_seen_at": now, **profiles[key], "created_at": now, "updated_at": now})
                    for key in missing
                ]
            )
            Identity.objects.bulk_create(
                [
                    Identity(
                        customer_id=customer.pk,
                        kind=key.kind,
                        namespace=key.namespace,
                        value=key.value,
                        source=source,
                        created_at=now,
                    )
                    for key, customer in zip(missing, customers, strict=True)
                ],
                ignore_conflicts=True,
            )
            winners = find_customers_by_identity(missing)
            resolved.update(winners)
            ours = {customer.pk for customer in customers}
            created_ids = [pk for pk in winners.values() if pk in ours]
            lost = ours - set(created_ids)
            if lost:
                Customer.objects.filter(pk__in=lost).delete()
            note_changed(created_ids)
            created = set(created_ids)
            identities_received({key: pk for key, pk in winners.items() if pk in created})
        if resolved:
            _link_to_unit(set(resolved.values()), unit)
        if created_ids:
            audit.record(
                AuditEntry.Action.CREATE,
                actor=actor,
                unit=unit,
                object_type="customers.customer",
                message=CUSTOMERS_CREATED(count=len(created_ids), source=source),
            )
    return ResolvedCustomers(ids=resolved, created=len(created_ids))


@transaction.atomic
def add_identities(
    identities: Mapping[IdentityKey, int], hints: Iterable[tuple[int, str, str]], *, source: str
) -> None:
    """Give customers identities (key → customer id) and hints ((customer id, kind, masked value)).

    A key some customer holds already is left with that customer (a concurrent writer may win it
    between look-up and insert), so this never moves an identity; merging does that.
    """
    hints = sorted(set(hints))
    Identity.objects.bulk_create(
        [
            Identity(customer_id=pk, kind=key.kind, namespace=key.namespace, value=key.value, source=source)
            for key, pk in identities.items()
        ],
        ignore_conflicts=True,
    )
    IdentityHint.objects.bulk_create(
        [IdentityHint(customer_id=pk, kind=kind, value=value, source=source) for pk, kind, value in hints],
        ignore_conflicts=True,
    )
    note_changed([*identities.values(), *(pk for pk, _kind, _value in hints)])
    identities_received(identities)


def _link_to_unit(customer_ids: set[int], unit: Any) -> None:
    ordered = sorted(customer_ids)
    linked: set[int] = set()
    for start in range(0, len(ordered), LOOKUP_BATCH):
        linked.update(
            CustomerUnit.objects.filter(
                unit=unit, customer_id__in=ordered[start : start + LOOKUP_BATCH]
            ).values_list("customer_id", flat=True)
        )
    # ignore_conflicts: a concurrent import may link the same customer in between.
    CustomerUnit.objects.bulk_create(
        [CustomerUnit(customer_id=pk, unit=unit) for pk in ordered if pk not in linked], ignore_conflicts=True
    )
