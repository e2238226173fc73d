"""Merge suggestions from weaker evidence, and the decisions people take on them."""

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.core.privacy import mask_text, mask_value
from guanxi.customers.merging.merge import (
    MergeError,
    acting_user,
    merge_customers,
    ordered_pair,
    undone_pairs,
)
from guanxi.customers.merging.strong import LOOKUP_BATCH
from guanxi.customers.models import Address, Customer, Identity, IdentityHint, MergeRecord, MergeSuggestion
from guanxi.customers.phrases import MERGED_SUGGESTION, SUGGESTION_REJECTED

SCORE_SAME_NAME_ADDRESS = 60
SCORE_SAME_TAOBAO_NICK = 70
SCORE_MASKED_PHONE_AND_NAME = 80
MASKED_MOBILE = re.compile(r"^(?:\+?86)?(1\d{2})[*＊•●xX]{4}(\d{4})$")


def suggest_merges(customer_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Create or refresh open suggestions for pairs that weaker evidence links; returns counts.

    Evidence: same name and same address; the same Taobao nick in two stores; a masked phone
    (138****5678) agreeing with another customer's full number, plus the same name. Decided
    pairs and pairs whose merge was undone are left alone.
    """
    only = None if customer_ids is None else set(customer_ids)
    found: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for pair, reason in (*_same_name_and_address(), *_same_taobao_nick(), *_masked_phone_matches()):
        if (only is None or only & set(pair)) and reason not in found[pair]:
            found[pair].append(reason)
    undone = undone_pairs()
    wanted = {pair: evidence for pair, evidence in found.items() if frozenset(pair) not in undone}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    now = timezone.now()
    pairs = sorted(wanted)
    # Set-based: one read, one insert and one update per batch of pairs.
    for start in range(0, len(pairs), LOOKUP_BATCH):
        batch = pairs[start : start + LOOKUP_BATCH]
        with transaction.atomic():
            known = {
                (row.customer_a_id, row.customer_b_id): row
                for row in MergeSuggestion.objects.filter(customer_a_id__in={a for a, _b in batch})
                if (row.customer_a_id, row.customer_b_id) in wanted
            }
            new, changed = [], []
            for pair in batch:
                evidence = wanted[pair]
                score = min(100, sum(reason["score"] for reason in evidence))
                row = known.get(pair)
                if row is None:
                    new.append(
                        MergeSuggestion(
                            customer_a_id=pair[0],
                            customer_b_id=pair[1],
                            score=score,
                            evidence=evidence,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                elif row.state == MergeSuggestion.State.OPEN and (row.score, row.evidence) != (
                    score,
                    evidence,
                ):
                    row.score, row.evidence, row.updated_at = score, evidence, now
                    changed.append(row)
                else:
                    counts["unchanged"] += 1
            # ignore_conflicts: a concurrent run may have created the same pair in between.
            MergeSuggestion.objects.bulk_create(new, ignore_conflicts=True)
            MergeSuggestion.objects.bulk_update(changed, ["score", "evidence", "updated_at"])
            counts["created"] += len(new)
            counts["updated"] += len(changed)
    return counts


def _pairs(ids: Iterable[int]) -> list[tuple[int, int]]:
    ordered = sorted(set(ids))
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]]


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text or "").lower()


def _same_name_and_address() -> list[tuple[tuple[int, int], dict[str, Any]]]:
    groups: dict[tuple[str, ...], set[int]] = defaultdict(set)
    rows = (
        Address.objects.filter(customer__status=Customer.Status.ACTIVE)
        .exclude(customer__name="")
        .exclude(street="")
        .values_list("customer_id", "customer__name", "province", "city", "district", "street")
    )
    for customer_id, name, *address in rows.iterator(chunk_size=5000):
        groups[(_plain(name), *(_plain(part) for part in address))].add(customer_id)
    found = []
    for key, ids in groups.items():
        if len(ids) < 2:
            continue
        detail = f"{mask_text(key[0])} · {key[2] or key[1]}"
        for pair in _pairs(ids):
            found.append(
                (pair, {"code": "same_name_address", "detail": detail, "score": SCORE_SAME_NAME_ADDRESS})
            )
    return found


def _same_taobao_nick() -> list[tuple[tuple[int, int], dict[str, Any]]]:
    shared = (
        Identity.objects.filter(kind=Identity.Kind.TAOBAO_NICK, customer__status=Customer.Status.ACTIVE)
        .values("value")
        .annotate(people=models.Count("customer_id", distinct=True))
        .filter(people__gt=1)
        .values_list("value", flat=True)
    )
    owners: dict[str, list[tuple[int, str]]] = defaultdict(list)
    rows = Identity.objects.filter(
        kind=Identity.Kind.TAOBAO_NICK, value__in=shared, customer__status=Customer.Status.ACTIVE
    ).values_list("value", "customer_id", "namespace")
    for value, customer_id, namespace in rows:
        owners[value].append((customer_id, namespace))
    found = []
    for value, holders in owners.items():
        spaces = dict(holders)
        for a, b in _pairs(spaces):
            detail = f"{mask_text(value)} · {spaces[a] or '-'} / {spaces[b] or '-'}"
            found.append(
                ((a, b), {"code": "same_taobao_nick", "detail": detail, "score": SCORE_SAME_TAOBAO_NICK})
            )
    return found


def _masked_phone_matches() -> list[tuple[tuple[int, int], dict[str, Any]]]:
    """Masked phones (first three and last four digits kept) that fit a full number with the same name."""
    hints = IdentityHint.objects.filter(
        kind=Identity.Kind.PHONE, customer__status=Customer.Status.ACTIVE
    ).values_list("customer_id", "customer__name", "value")
    by_digits: dict[tuple[str, str], set[tuple[int, str]]] = defaultdict(set)
    for customer_id, name, value in hints.iterator(chunk_size=5000):
        match = MASKED_MOBILE.match(re.sub(r"[\s-]", "", value))
        if match and _plain(name):
            by_digits[(match[1], match[2])].add((customer_id, name.strip()))
    found: list[tuple[tuple[int, int], dict[str, Any]]] = []
    if not by_digits:
        return found
    # One pass over Chinese mobiles: a suffix test cannot use an index, so per-hint queries would
    # each scan the table.
    phones = Identity.objects.filter(
        kind=Identity.Kind.PHONE, value__startswith="+861", customer__status=Customer.Status.ACTIVE
    ).values_list("customer_id", "customer__name", "value")
    for other_id, other_name, full in phones.iterator(chunk_size=5000):
        holders = by_digits.get((full[3:6], full[-4:])) if len(full) == 14 else None
        if not holders:
            continue
        for customer_id, name in sorted(holders):
            if customer_id == other_id or _plain(other_name) != _plain(name):
                continue
            detail = f"{full[3:6]}****{full[-4:]} ~ {mask_value(full, 'phone')} · {mask_text(name)}"
            reason = {"code": "masked_phone_and_name", "detail": detail, "score": SCORE_MASKED_PHONE_AND_NAME}
            found.append((ordered_pair(customer_id, other_id), reason))
    return found


def accept_suggestion(suggestion: MergeSuggestion, actor: Any = None) -> MergeRecord:
    """Merge the pair (survivor: the older customer) and close the suggestion."""
    with transaction.atomic():
        suggestion = MergeSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if suggestion.state != MergeSuggestion.State.OPEN:
            raise MergeError(
                _("This suggestion was already decided (%(state)s).")
                % {"state": suggestion.get_state_display()}
            )
        pair = sorted([suggestion.customer_a, suggestion.customer_b], key=lambda c: (c.first_seen_at, c.pk))
        record = merge_customers(
            pair[0], pair[1], actor=actor, reason=MERGED_SUGGESTION.code, evidence=suggestion.evidence
        )
        now = timezone.now()
        suggestion.state = MergeSuggestion.State.ACCEPTED
        suggestion.decided_at = suggestion.updated_at = now
        suggestion.decided_by = acting_user(actor)
        suggestion.merge = record
        suggestion.save()
    return record


def reject_suggestion(suggestion: MergeSuggestion, actor: Any = None, reason: str = "") -> MergeSuggestion:
    """Close the suggestion as "not the same person"; the pair is not suggested again."""
    with transaction.atomic():
        suggestion = MergeSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if suggestion.state != MergeSuggestion.State.OPEN:
            raise MergeError(
                _("This suggestion was already decided (%(state)s).")
                % {"state": suggestion.get_state_display()}
            )
        now = timezone.now()
        suggestion.state = MergeSuggestion.State.REJECTED
        suggestion.decided_at = suggestion.updated_at = now
        suggestion.decided_by = acting_user(actor)
        suggestion.save()
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=suggestion,
            changes={"state": (MergeSuggestion.State.OPEN, MergeSuggestion.State.REJECTED)},
            message=SUGGESTION_REJECTED(reason=reason[:300]),
        )
    return suggestion
