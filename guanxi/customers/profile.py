"""Writes to a customer's profile: tags, notes, consent, addresses, custom fields, fields, identities.

Every function owns its transaction, writes an audit entry (personal values are redacted by
`guanxi.core.audit`) and a timeline event whose summary holds no personal data.
"""

import datetime
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core import audit
from guanxi.core.display import Coded
from guanxi.core.edits import save_changes
from guanxi.core.models import AuditEntry
from guanxi.core.privacy import mask_value
from guanxi.customers.identities import IdentityKey, is_masked, normalise_identity
from guanxi.customers.merging.merge import SURVIVORSHIP_FIELDS, acting_user, merge_customers
from guanxi.customers.merging.strong import STRONG_KINDS
from guanxi.customers.models import (
    DEFAULT_COLOUR,
    Address,
    Consent,
    ConsentChannel,
    Customer,
    CustomerTag,
    CustomFieldDefinition,
    CustomFieldValue,
    Identity,
    IdentityHint,
    Note,
    Tag,
    TagGroup,
    TimelineEvent,
)
from guanxi.customers.phrases import (
    CONSENT_RECORDED,
    CUSTOM_FIELD_SET,
    MERGED_IDENTIFIER_ADDED,
    ON_CUSTOMER,
    OWNER_ASSIGNED,
    OWNER_REMOVED,
    TAG_ADDED,
    TAG_REMOVED,
)
from guanxi.customers.references import identities_received
from guanxi.customers.timeline import event_for, record_event, record_events

# The profile fields a merge decides, but for when the customer was first seen: that comes from their data.
EDITABLE_FIELDS = tuple(name for name in SURVIVORSHIP_FIELDS if name != "first_seen_at")
ADDRESS_FIELDS = ("receiver", "phone", "province", "city", "district", "street", "postal_code", "source")
TEXT_VALUE_MAX = 1000
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "是", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "否", "off"})


def _active(customer: Customer) -> Customer:
    """The row, locked; edits to a merged-away customer are refused (they belong on the survivor)."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.is_merged:
        raise ValidationError(
            _("Customer #%(id)s was merged into customer #%(into)s; edit that profile instead."),
            code="merged",
            params={"id": customer.pk, "into": customer.merged_into_id},
        )
    return customer


# --- tags, tag groups and custom field definitions (organisation-wide settings) ---------------

TAG_GROUP_FIELDS = ("name", "colour")
TAG_FIELDS = ("name", "colour", "group", "description")
CUSTOM_FIELD_FIELDS = ("label", "description", "choices")


@transaction.atomic
def create_tag_group(name: str, colour: str = DEFAULT_COLOUR, actor: Any = None) -> TagGroup:
    group = TagGroup(name=name.strip(), colour=colour)
    group.full_clean()
    group.save()
    audit.record(AuditEntry.Action.CREATE, actor=actor, obj=group)
    return group


@transaction.atomic
def create_tag(
    name: str,
    colour: str = DEFAULT_COLOUR,
    group: TagGroup | None = None,
    description: str = "",
    actor: Any = None,
) -> Tag:
    name = name.strip()
    if not name:
        raise ValidationError(_("A tag needs a name."), code="required")
    if Tag.objects.filter(name=name).exists():
        raise ValidationError(
            _("A tag named “%(name)s” already exists."), code="unique", params={"name": name}
        )
    tag = Tag(name=name, colour=colour, group=group, description=description.strip())
    tag.full_clean()
    tag.save()
    audit.record(AuditEntry.Action.CREATE, actor=actor, obj=tag)
    return tag


def update_tag_group(group: TagGroup, *, actor: Any = None, **fields: Any) -> TagGroup:
    """Rename or recolour a tag group; unchanged values write nothing."""
    return save_changes(group, fields, editable=TAG_GROUP_FIELDS, actor=actor)


def update_tag(tag: Tag, *, actor: Any = None, **fields: Any) -> Tag:
    """Rename, recolour, regroup or describe a tag. Segments and customers refer to it by id, so a
    rename changes nothing else."""
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        if Tag.objects.filter(name=fields["name"]).exclude(pk=tag.pk).exists():
            raise ValidationError(
                _("A tag named “%(name)s” already exists."), code="unique", params={"name": fields["name"]}
            )
    return save_changes(tag, fields, editable=TAG_FIELDS, actor=actor)


def update_custom_field(definition: CustomFieldDefinition, *, actor: Any = None, **fields: Any):
    """Relabel or describe a custom field, or add choices to a choice field. Its key and type stay,
    and no choice is taken away, so every stored value stays valid."""
    if "choices" in fields:
        kept = [choice for choice in definition.choices if choice not in fields["choices"]]
        if kept:
            raise ValidationError(
                _("Choices cannot be removed (customers may hold them): %(choices)s."),
                code="invalid",
                params={"choices": ", ".join(kept)},
            )
    return save_changes(definition, fields, editable=CUSTOM_FIELD_FIELDS, actor=actor)


@transaction.atomic
def add_tag(customer: Customer, tag: Tag, actor: Any = None, unit: Any = None) -> bool:
    """Tag the customer; False when the tag was already there (nothing written)."""
    customer = _active(customer)
    _row, created = CustomerTag.objects.get_or_create(
        customer=customer, tag=tag, defaults={"added_by": acting_user(actor)}
    )
    if created:
        _log_tag_change(customer, tag, actor, unit, remove=False)
    return created


@transaction.atomic
def remove_tag(customer: Customer, tag: Tag, actor: Any = None, unit: Any = None) -> bool:
    """Untag the customer; False when it did not have the tag."""
    customer = _active(customer)
    deleted, _per_model = CustomerTag.objects.filter(customer=customer, tag=tag).delete()
    if deleted:
        _log_tag_change(customer, tag, actor, unit, remove=True)
    return bool(deleted)


TAG_BATCH = 1000


def tag_customers(
    customers: models.QuerySet[Customer],
    tag: Tag,
    *,
    actor: Any = None,
    unit: Any = None,
    remove: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Add (or remove) `tag` on many active customers at once, a transaction per thousand; the ids changed.

    The same audit entry and timeline event per customer as `add_tag`/`remove_tag`, written in bulk:
    tagging a segment of 100,000 is a few hundred statements, not half a million. `progress` is told
    how many customers each batch looked at.
    """
    changed: list[int] = []
    ids = list(customers.filter(status=Customer.Status.ACTIVE).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), TAG_BATCH):
        batch = ids[start : start + TAG_BATCH]
        with transaction.atomic():
            tagged = set(
                CustomerTag.objects.filter(tag=tag, customer_id__in=batch).values_list(
                    "customer_id", flat=True
                )
            )
            if remove:
                todo = [pk for pk in batch if pk in tagged]
                CustomerTag.objects.filter(tag=tag, customer_id__in=todo).delete()
            else:
                todo = [pk for pk in batch if pk not in tagged]
                CustomerTag.objects.bulk_create(
                    [CustomerTag(customer_id=pk, tag=tag, added_by=acting_user(actor)) for pk in todo],
                    ignore_conflicts=True,  # a concurrent add wins; the outcome is the same
                )
            kind, verb = _tag_change(remove)
            audit.record_all(
                [
                    audit.entry_for(
                        AuditEntry.Action.UPDATE,
                        actor=actor,
                        obj=Customer(pk=pk),
                        unit=unit,
                        message=_tag_message(tag, remove),
                    )
                    for pk in todo
                ]
            )
            record_events([_tag_event(pk, tag, kind, verb, actor, unit) for pk in todo])
        changed += todo
        if progress is not None:
            progress(len(batch))
    return changed


def _tag_message(tag: Tag, remove: bool) -> Coded:
    return (TAG_REMOVED if remove else TAG_ADDED)(tag=tag.name)


def _tag_change(remove: bool) -> tuple[str, str]:
    return (TimelineEvent.Kind.TAG_REMOVED, "removed") if remove else (TimelineEvent.Kind.TAG_ADDED, "added")


def _tag_event(
    customer: Customer | int, tag: Tag, kind: str, verb: str, actor: Any, unit: Any
) -> TimelineEvent:
    return event_for(
        customer, kind, f"Tag {tag.name} {verb}", data={"tag": tag.name}, unit=unit, actor=actor, source=tag
    )


def _log_tag_change(customer: Customer, tag: Tag, actor: Any, unit: Any, *, remove: bool) -> None:
    kind, verb = _tag_change(remove)
    audit.record(
        AuditEntry.Action.UPDATE, actor=actor, obj=customer, unit=unit, message=_tag_message(tag, remove)
    )
    record_events([_tag_event(customer, tag, kind, verb, actor, unit)])


# --- notes and consent -------------------------------------------------------------------------


@transaction.atomic
def add_note(customer: Customer, body: str, actor: Any = None, unit: Any = None) -> Note:
    """A note in `unit` is seen by that unit only; without a unit, by every unit that sees the customer."""
    customer = _active(customer)
    body = body.strip()
    if not body:
        raise ValidationError(_("The note is empty."), code="required")
    note = Note.objects.create(customer=customer, unit=unit, author=acting_user(actor), body=body)
    audit.record(
        AuditEntry.Action.CREATE, actor=actor, obj=note, unit=unit, message=ON_CUSTOMER(customer=customer.pk)
    )
    record_event(
        customer,
        TimelineEvent.Kind.NOTE_ADDED,
        "Note added",
        data={"note": note.pk},
        unit=unit,
        actor=actor,
        source=note,
        occurred_at=note.created_at,
    )
    return note


@transaction.atomic
def record_consent(
    customer: Customer,
    channel: str,
    state: str,
    method: str,
    *,
    actor: Any = None,
    purpose: str = "",
    text_version: str = "",
    source: str = "",
    evidence: str = "",
    unit: Any = None,
    recorded_at: datetime.datetime | None = None,
) -> Consent:
    """Append one piece of consent evidence; the newest row per channel is the customer's current state.

    The evidence says what the person agreed to or withdrew from (`purpose`), which version of the
    wording they saw (`text_version`), where it was given (`source`: a form, a file, a call) and
    anything else received (`evidence`: the reply, a note). Withdrawing is recording "withdrawn"."""
    customer = _active(customer)
    for value, choices, label in (
        (channel, ConsentChannel, _("channel")),
        (state, Consent.State, _("state")),
        (method, Consent.Method, _("method")),
    ):
        if value not in choices.values:
            raise ValidationError(
                _("Unknown consent %(what)s: %(value)s."),
                code="invalid",
                params={"what": label, "value": value},
            )
    before = Consent.current_for(customer.pk).get(channel)
    consent = Consent.objects.create(
        customer=customer,
        channel=channel,
        state=state,
        method=method,
        purpose=purpose.strip()[:200],
        text_version=text_version.strip()[:64],
        source=source.strip()[:200],
        evidence=evidence.strip(),
        recorded_by=acting_user(actor),
        unit=unit,
        recorded_at=recorded_at or timezone.now(),
    )
    current = Consent.current_for(customer.pk)[channel]
    previous_state = before.state if before else ""
    audit.record(
        AuditEntry.Action.CREATE,
        actor=actor,
        obj=consent,
        unit=unit,
        changes={"state": (previous_state, current.state)} if current.pk == consent.pk else {},
        message=CONSENT_RECORDED(channel=channel, customer=customer.pk),
    )
    # Backdated evidence older than the current row does not change the state.
    if current.pk == consent.pk and previous_state != state:
        record_event(
            customer,
            TimelineEvent.Kind.CONSENT_CHANGED,
            f"Consent {channel} {state}",
            data={"channel": channel, "state": state, "method": method},
            unit=unit,
            actor=actor,
            source=consent,
            occurred_at=consent.recorded_at,
        )
    return consent


# --- addresses ---------------------------------------------------------------------------------


@transaction.atomic
def add_address(customer: Customer, *, actor: Any = None, is_default: bool = False, **fields: Any) -> Address:
    customer = _active(customer)
    _check_address_fields(fields)
    has_default = Address.objects.filter(customer=customer, is_default=True).exists()
    address = Address(customer=customer, **fields)
    address.is_default = is_default or not has_default
    address.full_clean()
    if address.is_default:
        Address.objects.filter(customer=customer, is_default=True).update(is_default=False)
    address.save()
    audit.record(
        AuditEntry.Action.CREATE, actor=actor, obj=address, message=ON_CUSTOMER(customer=customer.pk)
    )
    record_event(
        customer,
        TimelineEvent.Kind.ADDRESS_CHANGED,
        "Address added",
        data={"created": True},
        actor=actor,
        source=address,
    )
    return address


@transaction.atomic
def update_address(address: Address, *, actor: Any = None, **fields: Any) -> Address:
    """Change the given fields (and `is_default`); unchanged values write nothing."""
    address = Address.objects.select_for_update().get(pk=address.pk)
    _active(address.customer)
    make_default = fields.pop("is_default", None)
    _check_address_fields(fields)
    changes = {
        name: (getattr(address, name), value)
        for name, value in fields.items()
        if getattr(address, name) != value
    }
    if make_default is not None and make_default != address.is_default:
        changes["is_default"] = (address.is_default, make_default)
    if not changes:
        return address
    for name, (_before, after) in changes.items():
        setattr(address, name, after)
    address.updated_at = timezone.now()
    address.full_clean()
    if address.is_default:
        Address.objects.filter(customer_id=address.customer_id, is_default=True).exclude(
            pk=address.pk
        ).update(is_default=False)
    address.save()
    audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=address, changes=changes)
    record_event(
        address.customer_id,
        TimelineEvent.Kind.ADDRESS_CHANGED,
        "Address changed",
        data={"created": False, "fields": sorted(changes)},
        actor=actor,
        source=address,
    )
    return address


def _check_address_fields(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(ADDRESS_FIELDS))
    if unknown:
        raise ValidationError(
            _("Not address fields: %(fields)s."), code="invalid", params={"fields": ", ".join(unknown)}
        )


# --- custom fields -----------------------------------------------------------------------------


@transaction.atomic
def create_custom_field(
    key: str,
    label: str,
    type: str = CustomFieldDefinition.Type.TEXT,
    choices: list[str] | None = None,
    description: str = "",
    actor: Any = None,
) -> CustomFieldDefinition:
    definition = CustomFieldDefinition(
        key=key, label=label, type=type, choices=choices or [], description=description
    )
    definition.full_clean()
    if type == CustomFieldDefinition.Type.CHOICE and not definition.choices:
        raise ValidationError(_("A choice field needs at least one choice."), code="required")
    definition.save()
    audit.record(AuditEntry.Action.CREATE, actor=actor, obj=definition)
    return definition


def clean_custom_value(definition: CustomFieldDefinition, value: Any) -> Any:
    """The JSON value to store for `value`, or a ValidationError that names the field."""
    if value is None or value == "":
        return None
    kind = definition.type
    params = {"field": definition.label, "value": str(value)[:50]}
    if kind == CustomFieldDefinition.Type.TEXT:
        text = str(value).strip()
        if len(text) > TEXT_VALUE_MAX:
            raise ValidationError(
                _("“%(field)s”: at most %(max)s characters."),
                code="max_length",
                params={**params, "max": TEXT_VALUE_MAX},
            )
        return text
    if kind == CustomFieldDefinition.Type.NUMBER:
        if isinstance(value, bool | float):
            value = str(value) if isinstance(value, float) else "x"
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise ValidationError(
                _("“%(field)s”: “%(value)s” is not a number."), code="invalid", params=params
            )
        return str(number)
    if kind == CustomFieldDefinition.Type.DATE:
        if isinstance(value, datetime.datetime):
            value = value.date()
        if isinstance(value, datetime.date):
            return value.isoformat()
        try:
            return datetime.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValidationError(
                _("“%(field)s”: “%(value)s” is not a date (YYYY-MM-DD)."), code="invalid", params=params
            ) from None
    if kind == CustomFieldDefinition.Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValidationError(_("“%(field)s”: “%(value)s” is not yes or no."), code="invalid", params=params)
    if kind == CustomFieldDefinition.Type.CHOICE:
        if str(value) not in definition.choices:
            raise ValidationError(
                _("“%(field)s”: “%(value)s” is not one of the choices."), code="invalid_choice", params=params
            )
        return str(value)
    raise ValidationError(_("“%(field)s” has an unknown type."), code="invalid", params=params)


@transaction.atomic
def set_custom_field(
    customer: Customer, definition: CustomFieldDefinition | str, value: Any, actor: Any = None
) -> CustomFieldValue | None:
    """Set (or, with None/"", clear) a custom field value; returns the stored row or None when cleared."""
    customer = _active(customer)
    if isinstance(definition, str):
        definition = CustomFieldDefinition.objects.get(key=definition)
    cleaned = clean_custom_value(definition, value)
    row = CustomFieldValue.objects.filter(customer=customer, definition=definition).first()
    before = row.value if row else None
    if before == cleaned:
        return row
    if cleaned is None:
        # Clearing an unset value returned above; this check only narrows the type.
        if row is not None:
            row.delete()
        row = None
    elif row is None:
        row = CustomFieldValue.objects.create(
            customer=customer, definition=definition, value=cleaned, updated_by=acting_user(actor)
        )
    else:
        row.value, row.updated_at, row.updated_by = cleaned, timezone.now(), acting_user(actor)
        row.save()
    # Custom values may be personal: the audit names the field, never its value.
    audit.record(
        AuditEntry.Action.UPDATE, actor=actor, obj=customer, message=CUSTOM_FIELD_SET(field=definition.label)
    )
    record_event(
        customer,
        TimelineEvent.Kind.CUSTOM_FIELD_CHANGED,
        f"Custom field {definition.key} changed",
        data={"field": definition.label, "key": definition.key},
        actor=actor,
    )
    return row


# --- profile fields and identities -------------------------------------------------------------


@transaction.atomic
def update_profile(customer: Customer, actor: Any = None, **fields: Any) -> Customer:
    """Change profile fields; the audit lists changed field names (personal values are redacted)."""
    customer = _active(customer)
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError(
            _("Not editable profile fields: %(fields)s."),
            code="invalid",
            params={"fields": ", ".join(unknown)},
        )
    changes: dict[str, tuple[Any, Any]] = {}
    for name, raw in fields.items():
        # EDITABLE_FIELDS are all concrete fields of Customer, never reverse relations.
        field = cast(models.Field, Customer._meta.get_field(name))
        value = raw if name == "owner" else field.clean(raw, customer)
        if getattr(customer, name) != value:
            changes[name] = (getattr(customer, name), value)
            setattr(customer, name, value)
    if not changes:
        return customer
    customer.updated_at = timezone.now()
    customer.save()
    audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=customer, changes=changes)
    record_event(
        customer,
        TimelineEvent.Kind.PROFILE_UPDATED,
        f"Profile updated: {', '.join(changes)}",
        data={"fields": list(changes)},
        actor=actor,
    )
    return customer


@transaction.atomic
def assign_owner(customer: Customer, owner: Any, *, actor: Any = None) -> Customer:
    """Make `owner` (a user, or None for nobody) the customer's owner: the one sales rep who sees
    them, since sales reps see only the customers they own. The owner must be an active user who may
    see customers of one of the customer's business units."""
    customer = _active(customer)
    if owner is not None and not may_own(owner, customer):
        raise ValidationError(
            _("%(user)s cannot own this customer: they do not see customers of its business units."),
            code="invalid",
            params={"user": owner.shown_name},
        )
    if customer.owner_id == (owner.pk if owner else None):
        return customer
    changes = {"owner": (customer.owner_id, owner.pk if owner else None)}
    customer.owner = owner
    customer.updated_at = timezone.now()
    customer.save(update_fields=["owner", "updated_at"])
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=customer,
        changes=changes,
        message=OWNER_ASSIGNED(owner=owner.username) if owner else OWNER_REMOVED(),
    )
    record_event(
        customer,
        TimelineEvent.Kind.PROFILE_UPDATED,
        "Profile updated: owner",
        data={"fields": ["owner"]},
        actor=actor,
    )
    return customer


def may_own(user: Any, customer: Customer) -> bool:
    """Whether `user` could see `customer` once they own it: active, allowed to see customers, and in
    one of the customer's units (or seeing every unit)."""
    if not (user.is_active and user.has_permission("customers.view")):
        return False
    units = user.visible_unit_ids()
    return units is None or customer.unit_links.filter(unit_id__in=units).exists()


def add_identity(
    customer: Customer, kind: str, raw: str, *, namespace: str = "", source: str = "manual", actor: Any = None
) -> Identity | IdentityHint:
    """Attach an identifier typed in or received later.

    A masked value is kept as a hint (never an identity); a placeholder or invalid value is refused.
    A strong identifier (phone, email, unionid, person id) already held by another customer means
    one person: the two are merged (survivor: the older one). Other kinds held elsewhere are refused.
    """
    if is_masked(raw):
        with transaction.atomic():
            customer = _active(customer)
            hint, _created = IdentityHint.objects.get_or_create(
                customer=customer,
                kind=kind,
                namespace=namespace,
                value=raw.strip(),
                defaults={"source": source},
            )
        return hint
    value = normalise_identity(kind, raw)
    if value is None:
        raise ValidationError(
            _("“%(value)s” is not a usable %(kind)s."),
            code="invalid",
            params={"value": raw[:50], "kind": Identity.Kind(kind).label},
        )
    with transaction.atomic():
        customer = _active(customer)
        existing = Identity.objects.filter(kind=kind, namespace=namespace, value=value).first()
        if existing is None:
            identity = Identity.objects.create(
                customer=customer, kind=kind, namespace=namespace, value=value, source=source
            )
            identities_received({IdentityKey(kind, namespace, value): customer.pk})
            audit.record(
                AuditEntry.Action.CREATE, actor=actor, obj=identity, message=ON_CUSTOMER(customer=customer.pk)
            )
            return identity
        if existing.customer_id == customer.pk:
            return existing
        if kind not in STRONG_KINDS:
            raise ValidationError(
                _("This %(kind)s belongs to another customer."),
                code="taken",
                params={"kind": Identity.Kind(kind).label},
            )
        other = Customer.objects.get(pk=existing.customer_id)
        survivor, absorbed = sorted([customer, other], key=lambda c: (c.first_seen_at, c.pk))
        merge_customers(
            survivor,
            absorbed,
            actor=actor,
            reason=MERGED_IDENTIFIER_ADDED.code,
            evidence=[
                {
                    "code": f"same_{kind}",
                    "detail": mask_value(value, kind),
                    "customers": sorted([customer.pk, other.pk]),
                }
            ],
            automatic=True,
        )
        existing.refresh_from_db()
        return existing
