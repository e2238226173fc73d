"""Automatic merging of customers that share a strong identifier (phone, email, unionid, person id)."""

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import models

from guanxi.core.privacy import mask_value
from guanxi.customers.identities import normalise_identity
from guanxi.customers.merging.merge import merge_customers, undone_pairs
from guanxi.customers.models import Customer, Identity, MergeRecord
from guanxi.customers.phrases import MERGED_STRONG

# Identifiers that make two records one person, whatever store or namespace they came from.
STRONG_KINDS = (
    Identity.Kind.PHONE,
    Identity.Kind.EMAIL,
    Identity.Kind.WECHAT_UNIONID,
    Identity.Kind.PERSON_ID,
)
LOOKUP_BATCH = 500


def resolve_strong_matches(customer_ids: Iterable[int] | None = None, actor: Any = None) -> list[MergeRecord]:
    """Merge customers that share a normalised strong identifier (survivor: the oldest customer).

    The Identity unique constraint keeps one value on one customer per namespace, so matches come
    from the same value in different namespaces, or from values stored before normalisation.
    With `customer_ids`, only groups touching those customers are merged. Pairs whose merge was
    undone are never merged again automatically.
    """
    groups = _strong_groups(None if customer_ids is None else set(customer_ids))
    undone = undone_pairs()
    records = []
    for members, evidence in _components(groups):
        customers = sorted(
            Customer.objects.filter(pk__in=members, status=Customer.Status.ACTIVE),
            key=lambda c: (c.first_seen_at, c.pk),
        )
        if len(customers) < 2:
            continue
        survivor = customers[0]
        for other in customers[1:]:
            if frozenset((survivor.pk, other.pk)) in undone:
                continue
            records.append(
                merge_customers(
                    survivor,
                    other,
                    actor=actor,
                    reason=MERGED_STRONG.code,
                    evidence=[e for e in evidence if other.pk in e["customers"]],
                    automatic=True,
                )
            )
    return records


def _strong_groups(customer_ids: set[int] | None) -> dict[tuple[str, str], set[int]]:
    """(kind, normalised value) → customers holding it, for values held by more than one customer.

    Memory stays small on a full scan: values shared as stored are found by the database, and
    only values stored unnormalised are normalised here and looked up again.
    """
    identities = Identity.objects.filter(kind__in=STRONG_KINDS, customer__status=Customer.Status.ACTIVE)
    wanted: dict[str, set[str]] = defaultdict(set)
    if customer_ids is not None:
        ordered_ids = sorted(customer_ids)
        for start in range(0, len(ordered_ids), LOOKUP_BATCH):
            own = identities.filter(customer_id__in=ordered_ids[start : start + LOOKUP_BATCH])
            for kind, value in own.values_list("kind", "value"):
                wanted[kind].add(value)
                wanted[kind].add(normalise_identity(kind, value) or value)
    else:
        shared = (
            identities.values("kind", "value")
            .annotate(people=models.Count("customer_id", distinct=True))
            .filter(people__gt=1)
            .values_list("kind", "value")
        )
        for kind, value in shared:
            wanted[kind].add(value)
        # E.164 phones are the bulk of the table; the database skips them.
        odd = identities.exclude(kind=Identity.Kind.PHONE, value__regex=r"^\+[0-9]{8,15}$")
        for kind, value in odd.values_list("kind", "value").iterator(chunk_size=5000):
            if not _looks_normalised(kind, value):
                wanted[kind].update((value, normalise_identity(kind, value) or value))
    owners: dict[tuple[str, str], set[int]] = defaultdict(set)
    for kind, values in wanted.items():
        ordered = sorted(values)
        for start in range(0, len(ordered), LOOKUP_BATCH):
            rows = identities.filter(kind=kind, value__in=ordered[start : start + LOOKUP_BATCH])
            for customer_id, value in rows.values_list("customer_id", "value"):
                normalised = value if _looks_normalised(kind, value) else normalise_identity(kind, value)
                if normalised:
                    owners[(kind, normalised)].add(customer_id)
    # Shared values are checked in full, so a placeholder that slipped into the table merges nobody.
    return {
        (kind, value): ids
        for (kind, value), ids in owners.items()
        if len(ids) > 1 and normalise_identity(kind, value) == value
    }


def _looks_normalised(kind: str, value: str) -> bool:
    # A cheap shape check, so a full scan parses only values that importers did not normalise.
    if kind == Identity.Kind.PHONE:
        return bool(re.fullmatch(r"\+\d{8,15}", value))
    if kind == Identity.Kind.EMAIL:
        return value == value.strip().lower() and "@" in value
    return value == value.strip()


def _components(groups: dict[tuple[str, str], set[int]]) -> list[tuple[set[int], list[dict[str, Any]]]]:
    """Customers connected by any shared value, with the evidence (masked values) that connects them."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in groups.values():
        first, *rest = sorted(ids)
        for other in rest:
            parent[find(other)] = find(first)
    members: dict[int, set[int]] = defaultdict(set)
    for customer_id in parent:
        members[find(customer_id)].add(customer_id)
    evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (kind, value), ids in sorted(groups.items()):
        evidence[find(min(ids))].append(
            {"code": f"same_{kind}", "detail": mask_value(value, kind), "customers": sorted(ids)}
        )
    return [(members[root], evidence[root]) for root in sorted(members)]
