"""Merging two customers into one and undoing it exactly.

A merge re-points every registered reference (`customers.references`) of the absorbed customer to the
survivor and keeps the absorbed customer (status "merged", `merged_into` the survivor) so that
`undo_merge` can split them back exactly from the MergeRecord's snapshot. Survivorship decides profile
fields: the most recently updated non-empty value wins unless `settings.GUANXI_SURVIVORSHIP` names
another rule per field.
"""

from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core import audit
from guanxi.core.display import Coded
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Address, Customer, MergeRecord, MergeSuggestion, TimelineEvent
from guanxi.customers.phrases import MERGED, UNMERGED
from guanxi.customers.references import Reference, Repoint, repointed
from guanxi.customers.timeline import record_event

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


class MergeError(ValueError):
    """A merge or undo that must not happen; the message says why and is shown to the user."""


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
        for ref in repointed():
            moved, removed = _repoint(ref, absorbed.pk, survivor.pk)
            snapshot["moved"][ref.key] = moved
            if removed:
                snapshot["removed"][ref.key] = removed
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
            merged_by=acting_user(actor),
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
            message=MERGED(absorbed=absorbed.pk, survivor=survivor.pk, merge=record.pk, reason=record.reason),
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
        refs = {ref.key: ref for ref in repointed()}
        # The absorbed customer's own rows go back first, so recreated survivor rows cannot clash.
        for key, ids in snapshot["moved"].items():
            if ids and key in refs:
                _rows(refs[key]).filter(pk__in=ids).update(**{_column(refs[key]): absorbed.pk})
        for key, rows in snapshot["removed"].items():
            model = refs[key].model
            model._base_manager.bulk_create(
                [_row_from_json(model, row) for row in rows], ignore_conflicts=True
            )
        Address.objects.filter(pk__in=snapshot["cleared_default_addresses"]).update(is_default=True)

        changes = _restore_survivor(survivor, snapshot)
        _restore_fields(absorbed, snapshot["absorbed"], SNAPSHOT_FIELDS)
        absorbed.save()

        now = timezone.now()
        record.undone_at = now
        record.undone_by = acting_user(actor)
        record.save(update_fields=["undone_at", "undone_by"])
        # Split back means "not the same person": the pair is not suggested or auto-merged again.
        pair_suggestion(survivor.pk, absorbed.pk).filter(state=MergeSuggestion.State.ACCEPTED).update(
            state=MergeSuggestion.State.REJECTED,
            decided_at=now,
            decided_by=acting_user(actor),
            updated_at=now,
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
            message=UNMERGED(merge=record.pk, absorbed=absorbed.pk, survivor=survivor.pk),
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
    message: Coded,
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


def acting_user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _repoint(ref: Reference, absorbed_id: int, survivor_id: int) -> tuple[list[int], list[dict]]:
    """Re-point the absorbed customer's rows; of two rows that would clash, keep one and delete the other."""
    rule = cast(Repoint, ref.rule)
    column = _column(ref)
    removed: list[dict] = []
    if rule.unique_with:
        theirs = {
            tuple(getattr(row, f) for f in rule.unique_with): row
            for row in _rows(ref).filter(**{column: absorbed_id})
        }
        ours = {
            tuple(getattr(row, f) for f in rule.unique_with): row
            for row in _rows(ref).filter(**{column: survivor_id})
        }
        for key in theirs.keys() & ours.keys():
            loser = ours[key] if _keeps_first(rule.keep, theirs[key], ours[key]) else theirs[key]
            removed.append(_row_to_json(loser))
            loser.delete()
    ids = sorted(_rows(ref).filter(**{column: absorbed_id}).values_list("pk", flat=True))
    _rows(ref).filter(pk__in=ids).update(**{column: survivor_id})
    return ids, removed


def _rows(ref: Reference) -> models.QuerySet:
    # The base manager: every row, whatever filtering a model's default manager may add.
    return ref.model._base_manager.all()


def _column(ref: Reference) -> str:
    return cast(models.Field, ref.model._meta.get_field(ref.field)).attname


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


def undone_pairs() -> set[frozenset[int]]:
    pairs = MergeRecord.objects.filter(undone_at__isnull=False).values_list("survivor_id", "absorbed_id")
    return {frozenset(pair) for pair in pairs}


def ordered_pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def pair_suggestion(a: int, b: int) -> models.QuerySet:
    low, high = ordered_pair(a, b)
    return MergeSuggestion.objects.filter(customer_a_id=low, customer_b_id=high)
