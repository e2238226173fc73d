"""Identity resolution: merging customers, undoing merges, and suggesting merges from weak evidence.

A merge re-points every row of the absorbed customer to the survivor and keeps the absorbed
customer (status "merged", `merged_into` the survivor) so that `undo_merge` can split them back
exactly from the MergeRecord's snapshot. Survivorship decides profile fields: the most recently
updated non-empty value wins unless `settings.GUANXI_SURVIVORSHIP` names another rule per field.
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import Order
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.core.privacy import mask_text, mask_value
from guanxi.customers.identities import normalise_identity
from guanxi.customers.models import (
    Address,
    Consent,
    Customer,
    CustomerTag,
    CustomerUnit,
    CustomFieldValue,
    Identity,
    IdentityHint,
    MergeRecord,
    MergeSuggestion,
    Note,
    TimelineEvent,
)
from guanxi.customers.timeline import record_event

# Identifiers that make two records one person, whatever store or namespace they came from.
STRONG_KINDS = (
    Identity.Kind.PHONE,
    Identity.Kind.EMAIL,
    Identity.Kind.WECHAT_UNIONID,
    Identity.Kind.PERSON_ID,
)
SURVIVORSHIP_FIELDS = (
    "name",
    "gender",
    "birthday",
    "province",
    "city",
    "district",
    "occupation",
    "source_channel",
    "notes",
    "owner",
    "first_seen_at",
)
# Every field restored on undo (the absorbed customer's merge markers included).
SNAPSHOT_FIELDS = (*SURVIVORSHIP_FIELDS, "created_at", "updated_at", "status", "merged_into", "merged_at")
RULES = ("most_recent_non_empty", "oldest_non_empty", "survivor_non_empty", "earliest", "latest")
DEFAULT_RULES = {"first_seen_at": "earliest"}

SCORE_SAME_NAME_ADDRESS = 60
SCORE_SAME_TAOBAO_NICK = 70
SCORE_MASKED_PHONE_AND_NAME = 80
MASKED_MOBILE = re.compile(r"^(?:\+?86)?(1\d{2})[*＊•●xX]{4}(\d{4})$")
LOOKUP_BATCH = 500


class MergeError(ValueError):
    """A merge or undo that must not happen; the message says why and is shown to the user."""


@dataclass(frozen=True)
class _Reassigned:
    """A table whose rows follow the customer; `unique_with` names the fields that must not repeat."""

    key: str
    # Reached through _default_manager, which for each listed model is its only manager, `objects`.
    model: type[models.Model]
    unique_with: tuple[str, ...] = ()
    # Which of two clashing rows is kept: the one with the smallest value of this field.
    keep_lowest: str = ""


def _reassigned_tables() -> list[_Reassigned]:
    tables = [
        _Reassigned("orders", Order),
        _Reassigned("order_lines", apps.get_model("commerce", "OrderLine")),  # their copy of the customer
        _Reassigned("returns", apps.get_model("commerce", "Return")),
        _Reassigned("events", apps.get_model("commerce", "Event")),
    ]
    return [
        *tables,
        _Reassigned("identities", Identity),
        _Reassigned("identity_hints", IdentityHint, ("kind", "namespace", "value"), "created_at"),
        _Reassigned("tags", CustomerTag, ("tag_id",), "added_at"),
        _Reassigned("notes", Note),
        _Reassigned("consents", Consent),
        _Reassigned("addresses", Address),
        # The most recently set value wins (negated order: keep the row with the latest updated_at).
        _Reassigned("custom_values", CustomFieldValue, ("definition_id",), "-updated_at"),
        _Reassigned("unit_links", CustomerUnit, ("unit_id",), "first_seen_at"),
        _Reassigned("timeline", TimelineEvent),
    ]


# --- merging -----------------------------------------------------------------------------------


def merge_customers(
    survivor: Customer,
    absorbed: Customer,
    actor: Any = None,
    reason: str = "",
    evidence: list[dict[str, Any]] | None = None,
    *,
    automatic: bool = False,
) -> MergeRecord:
    """Merge `absorbed` into `survivor` in one transaction and return the record that can undo it."""
    with transaction.atomic():
        survivor, absorbed = _lock(survivor.pk, absorbed.pk)
        if survivor.pk == absorbed.pk:
            raise MergeError(_("A customer cannot be merged with itself."))
        for customer in (survivor, absorbed):
            if customer.is_merged:
                raise MergeError(
                    _("Customer #%(id)s has already been merged into customer #%(into)s.")
                    % {"id": customer.pk, "into": customer.merged_into_id}
                )
        now = timezone.now()
        snapshot: dict[str, Any] = {
            "absorbed": _field_values(absorbed),
            "survivor": _field_values(survivor),
            "moved": {},
            "removed": {},
            "cleared_default_addresses": [],
        }
        survivor_has_default = Address.objects.filter(customer=survivor, is_default=True).exists()
        for table in _reassigned_tables():
            moved, removed = _reassign(table, absorbed.pk, survivor.pk)
            snapshot["moved"][table.key] = moved
            if removed:
                snapshot["removed"][table.key] = removed
        if survivor_has_default:
            # One default address per person: the survivor's stays the default.
            cleared = list(
                Address.objects.filter(pk__in=snapshot["moved"]["addresses"], is_default=True).values_list(
                    "pk", flat=True
                )
            )
            Address.objects.filter(pk__in=cleared).update(is_default=False)
            snapshot["cleared_default_addresses"] = cleared

        decisions, changes = _apply_survivorship(survivor, absorbed)
        snapshot["survivorship"] = decisions
        survivor.updated_at = now
        survivor.save()
        snapshot["survivor_after"] = _field_values(survivor)
        absorbed.status = Customer.Status.MERGED
        absorbed.merged_into = survivor
        absorbed.merged_at = now
        absorbed.save(update_fields=["status", "merged_into", "merged_at"])

        record = MergeRecord.objects.create(
            survivor=survivor,
            absorbed=absorbed,
            snapshot=snapshot,
            reason=reason[:200],
            evidence=evidence or [],
            automatic=automatic,
            merged_at=now,
            merged_by=_user(actor),
        )
        # Open suggestions naming the absorbed customer are about a profile that is gone; the next
        # scan suggests the survivor instead if the evidence still holds. Undo re-opens them.
        MergeSuggestion.objects.filter(
            models.Q(customer_a=absorbed) | models.Q(customer_b=absorbed), state=MergeSuggestion.State.OPEN
        ).update(state=MergeSuggestion.State.SUPERSEDED, merge=record, decided_at=now, updated_at=now)
        counts = {key: len(ids) for key, ids in snapshot["moved"].items() if ids}
        _log_on_both(
            record,
            survivor,
            absorbed,
            AuditEntry.Action.MERGE,
            TimelineEvent.Kind.MERGED,
            message=f"Customer #{absorbed.pk} merged into #{survivor.pk} (merge #{record.pk}): {reason}",
            summaries=(
                f"Customer #{absorbed.pk} merged into this profile",
                f"Merged into customer #{survivor.pk}",
            ),
            changes=changes,
            data={"moved": counts},
            actor=actor,
            now=now,
        )
    return record


def undo_merge(record: MergeRecord, actor: Any = None) -> Customer:
    """Split the absorbed customer back out exactly as it was; returns it, active again."""
    with transaction.atomic():
        record = MergeRecord.objects.select_for_update().get(pk=record.pk)
        if record.undone_at is not None:
            raise MergeError(_("Merge #%(id)s has already been undone.") % {"id": record.pk})
        survivor, absorbed = _lock(record.survivor_id, record.absorbed_id)
        if absorbed.merged_into_id != survivor.pk:
            raise MergeError(
                _("Customer #%(id)s is no longer merged into customer #%(into)s.")
                % {"id": absorbed.pk, "into": survivor.pk}
            )
        if survivor.is_merged:
            raise MergeError(
                _("Customer #%(id)s was later merged into customer #%(into)s; undo that merge first.")
                % {"id": survivor.pk, "into": survivor.merged_into_id}
            )
        snapshot = record.snapshot
        tables = {table.key: table for table in _reassigned_tables()}
        # The absorbed customer's own rows go back first, so recreated survivor rows cannot clash.
        for key, ids in snapshot["moved"].items():
            if ids and key in tables:
                tables[key].model._default_manager.filter(pk__in=ids).update(customer_id=absorbed.pk)
        for key, rows in snapshot["removed"].items():
            model = tables[key].model
            model._default_manager.bulk_create(
                [_row_from_json(model, row) for row in rows], ignore_conflicts=True
            )
        Address.objects.filter(pk__in=snapshot["cleared_default_addresses"]).update(is_default=True)

        changes = _restore_survivor(survivor, snapshot)
        _restore_fields(absorbed, snapshot["absorbed"], SNAPSHOT_FIELDS)
        absorbed.save()

        now = timezone.now()
        record.undone_at = now
        record.undone_by = _user(actor)
        record.save(update_fields=["undone_at", "undone_by"])
        # Split back means "not the same person": the pair is not suggested or auto-merged again.
        _pair_suggestion(survivor.pk, absorbed.pk).filter(state=MergeSuggestion.State.ACCEPTED).update(
            state=MergeSuggestion.State.REJECTED, decided_at=now, decided_by=_user(actor), updated_at=now
        )
        MergeSuggestion.objects.filter(merge=record, state=MergeSuggestion.State.SUPERSEDED).update(
            state=MergeSuggestion.State.OPEN, merge=None, decided_at=None, updated_at=now
        )
        _log_on_both(
            record,
            survivor,
            absorbed,
            AuditEntry.Action.UNMERGE,
            TimelineEvent.Kind.UNMERGED,
            message=f"Merge #{record.pk} undone: customer #{absorbed.pk} split from #{survivor.pk}",
            summaries=(
                f"Customer #{absorbed.pk} split back out",
                f"Split back out of customer #{survivor.pk}",
            ),
            changes=changes,
            data={},
            actor=actor,
            now=now,
        )
    return absorbed


def _log_on_both(
    record: MergeRecord,
    survivor: Customer,
    absorbed: Customer,
    action: str,
    kind: str,
    *,
    message: str,
    summaries: tuple[str, str],
    changes: dict,
    data: dict[str, Any],
    actor: Any,
    now: Any,
) -> None:
    """A merge, or its undo, in both customers' audit trails and timelines; only the survivor's
    audit entry carries the field changes, and `summaries` are (survivor's, absorbed's)."""
    audit.record(action, actor=actor, obj=survivor, changes=changes, message=message)
    audit.record(action, actor=actor, obj=absorbed, message=message)
    data = {"merge": record.pk, "survivor": survivor.pk, "absorbed": absorbed.pk, **data}
    for customer, role, summary in (
        (survivor, "survivor", summaries[0]),
        (absorbed, "absorbed", summaries[1]),
    ):
        record_event(
            customer,
            kind,
            summary,
            data={**data, "role": role},
            actor=actor,
            source=record,
            occurred_at=now,
        )


def survivor_of(customer: Customer) -> Customer:
    """The active customer a (possibly merged) customer now lives on."""
    seen = set()
    while customer.merged_into_id is not None and customer.pk not in seen:
        seen.add(customer.pk)
        customer = Customer.objects.get(pk=customer.merged_into_id)
    return customer


def _lock(*ids: int) -> list[Customer]:
    rows = {row.pk: row for row in Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    return [rows[pk] for pk in ids]


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _reassign(table: _Reassigned, absorbed_id: int, survivor_id: int) -> tuple[list[int], list[dict]]:
    """Re-point the absorbed customer's rows; of two rows that would clash, keep one and delete the other."""
    model = table.model
    removed: list[dict] = []
    if table.unique_with:
        theirs = {
            tuple(getattr(row, f) for f in table.unique_with): row
            for row in model._default_manager.filter(customer_id=absorbed_id)
        }
        ours = {
            tuple(getattr(row, f) for f in table.unique_with): row
            for row in model._default_manager.filter(customer_id=survivor_id)
        }
        for key in theirs.keys() & ours.keys():
            loser = ours[key] if _keeps_first(table.keep_lowest, theirs[key], ours[key]) else theirs[key]
            removed.append(_row_to_json(loser))
            loser.delete()
    ids = sorted(model._default_manager.filter(customer_id=absorbed_id).values_list("pk", flat=True))
    model._default_manager.filter(pk__in=ids).update(customer_id=survivor_id)
    return ids, removed


def _keeps_first(order_field: str, first: models.Model, second: models.Model) -> bool:
    """Whether `first` is kept over `second`; ties keep the survivor's (second) row."""
    if not order_field:
        return False
    name = order_field.lstrip("-")
    a, b = getattr(first, name), getattr(second, name)
    return a > b if order_field.startswith("-") else a < b


def _row_to_json(row: models.Model) -> dict[str, Any]:
    return {f.attname: _to_json(f, row) for f in row._meta.concrete_fields if not f.generated}


def _row_from_json(model: type[models.Model], data: dict[str, Any]) -> models.Model:
    fields = {f.attname: f for f in model._meta.concrete_fields}
    return model(**{name: _from_json(fields[name], value) for name, value in data.items()})


def _to_json(field: models.Field, obj: models.Model) -> Any:
    value = field.value_from_object(obj)
    if value is None or isinstance(field, models.JSONField):
        return value
    return field.value_to_string(obj)


def _from_json(field: models.Field, value: Any) -> Any:
    if value is None or isinstance(field, models.JSONField):
        return value
    return field.to_python(value)


def _field_values(customer: Customer) -> dict[str, Any]:
    fields = {f.name: f for f in Customer._meta.concrete_fields}
    return {fields[name].attname: _to_json(fields[name], customer) for name in SNAPSHOT_FIELDS}


def _restore_fields(customer: Customer, values: dict[str, Any], names: Iterable[str]) -> None:
    fields = {f.name: f for f in Customer._meta.concrete_fields}
    for name in names:
        field = fields[name]
        setattr(customer, field.attname, _from_json(field, values[field.attname]))


def _restore_survivor(survivor: Customer, snapshot: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Put back the survivor's own values, except fields someone edited after the merge."""
    current = _field_values(survivor)
    after, before = snapshot["survivor_after"], snapshot["survivor"]
    fields = {f.name: f for f in Customer._meta.concrete_fields}
    restore = [
        name
        for name in (*SURVIVORSHIP_FIELDS, "updated_at")
        if current[fields[name].attname] == after[fields[name].attname]
    ]
    changes = {
        name: (current[fields[name].attname], before[fields[name].attname])
        for name in restore
        if name != "updated_at" and current[fields[name].attname] != before[fields[name].attname]
    }
    _restore_fields(survivor, before, restore)
    survivor.save()
    return changes


def survivorship_rules() -> dict[str, str]:
    rules = {name: DEFAULT_RULES.get(name, "most_recent_non_empty") for name in SURVIVORSHIP_FIELDS}
    configured = getattr(settings, "GUANXI_SURVIVORSHIP", {}) or {}
    for name, rule in configured.items():
        if name not in rules or rule not in RULES:
            raise MergeError(
                _("Unknown survivorship rule %(rule)s for field %(field)s.") % {"rule": rule, "field": name}
            )
        rules[name] = rule
    return rules


def _apply_survivorship(
    survivor: Customer, absorbed: Customer
) -> tuple[dict[str, dict[str, str]], dict[str, tuple[Any, Any]]]:
    """Set each profile field on the survivor by its rule; returns the decisions and the changed fields."""
    decisions: dict[str, dict[str, str]] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    for name, rule in survivorship_rules().items():
        # Survivorship fields are all concrete columns of Customer, never relations.
        attname = cast(models.Field, Customer._meta.get_field(name)).attname
        values = {"survivor": getattr(survivor, attname), "absorbed": getattr(absorbed, attname)}
        present = [c for c in (survivor, absorbed) if _non_empty(getattr(c, attname))]
        # Every rule breaks ties in favour of the survivor (listed first; sorts are stable).
        if rule == "most_recent_non_empty":
            present.sort(key=lambda c: c.updated_at, reverse=True)
        elif rule == "oldest_non_empty":
            present.sort(key=lambda c: c.updated_at)
        elif rule == "earliest":
            present.sort(key=lambda c: getattr(c, attname))
        elif rule == "latest":
            present.sort(key=lambda c: getattr(c, attname), reverse=True)
        winner = present[0] if present else None
        source = "absorbed" if winner is absorbed else "survivor"
        decisions[name] = {"rule": rule, "from": source}
        if source == "absorbed" and values["absorbed"] != values["survivor"]:
            changes[name] = (values["survivor"], values["absorbed"])
            setattr(survivor, attname, values["absorbed"])
    return decisions, changes


def _non_empty(value: Any) -> bool:
    return value is not None and value != ""


# --- automatic merging on strong identifiers ---------------------------------------------------


def resolve_strong_matches(customer_ids: Iterable[int] | None = None, actor: Any = None) -> list[MergeRecord]:
    """Merge customers that share a normalised strong identifier (survivor: the oldest customer).

    The Identity unique constraint keeps one value on one customer per namespace, so matches come
    from the same value in different namespaces, or from values stored before normalisation.
    With `customer_ids`, only groups touching those customers are merged. Pairs whose merge was
    undone are never merged again automatically.
    """
    groups = _strong_groups(None if customer_ids is None else set(customer_ids))
    undone = _undone_pairs()
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
                    reason="strong identifier",
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


def _undone_pairs() -> set[frozenset[int]]:
    pairs = MergeRecord.objects.filter(undone_at__isnull=False).values_list("survivor_id", "absorbed_id")
    return {frozenset(pair) for pair in pairs}


# --- suggestions from weaker evidence ----------------------------------------------------------


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
    undone = _undone_pairs()
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


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


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
            found.append((_ordered(customer_id, other_id), reason))
    return found


def _pair_suggestion(a: int, b: int) -> models.QuerySet:
    low, high = _ordered(a, b)
    return MergeSuggestion.objects.filter(customer_a_id=low, customer_b_id=high)


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
            pair[0], pair[1], actor=actor, reason=f"suggestion #{suggestion.pk}", evidence=suggestion.evidence
        )
        now = timezone.now()
        suggestion.state = MergeSuggestion.State.ACCEPTED
        suggestion.decided_at = suggestion.updated_at = now
        suggestion.decided_by = _user(actor)
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
        suggestion.decided_by = _user(actor)
        suggestion.save()
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=suggestion,
            changes={"state": (MergeSuggestion.State.OPEN, MergeSuggestion.State.REJECTED)},
            message=f"Merge suggestion rejected: {reason}"[:500],
        )
    return suggestion
