"""Leads: capture (from the UI, the API, a file or a web form), assignment, qualification, conversion
into an account, a contact and an opportunity, and transfer to another unit through the group."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.accounts.models import BusinessUnit, User
from guanxi.accounts.roles import ALL_UNIT_ROLES, ROLE_PERMISSIONS, TRANSFER_SALES
from guanxi.core import audit
from guanxi.core.access import Denied
from guanxi.core.models import AuditEntry
from guanxi.customers.actions import add_identities, find_customers_by_identity, upsert_customers_by_identity
from guanxi.customers.identities import IdentityKey, identity_key
from guanxi.customers.models import Customer, Identity
from guanxi.customers.profile import update_profile
from guanxi.sales import phrases
from guanxi.sales.access import (
    ROTATION_ROLES,
    assignable_users,
    manages_sales,
    may_transfer_across_units,
    require_manager,
)
from guanxi.sales.actions.accounts import ensure_account, ensure_contact
from guanxi.sales.actions.opportunities import create_opportunity
from guanxi.sales.models import (
    Account,
    Activity,
    Contact,
    Lead,
    LeadTransfer,
    Opportunity,
    Pipeline,
    SalesRules,
)
from guanxi.sales.notifications import Kind, notify

# Fields a lead's capture and edit accept; the personal ones are audited by name only.
LEAD_FIELDS = (
    "name",
    "company",
    "title",
    "phone",
    "email",
    "source_detail",
    "description",
    "estimated_amount",
)


@dataclass(frozen=True)
class Capture:
    """What capturing did: `created`, `updated` (a resent external id with changes), `unchanged`, or
    `duplicate` (an open lead of the unit has the phone or email; `lead` is that one)."""

    lead: Lead
    outcome: str


@dataclass(frozen=True)
class Conversion:
    account: Account
    contact: Contact
    opportunity: Opportunity | None


def lead_title(lead: Lead) -> str:
    """How a lead is named where personal data may not go (notifications, audit): its company or number."""
    return lead.company or _("Lead #%(number)s") % {"number": lead.pk}


def identity_keys(phone: str, email: str) -> tuple[IdentityKey | None, IdentityKey | None]:
    return identity_key(Identity.Kind.PHONE, phone), identity_key(Identity.Kind.EMAIL, email)


def _clean_contact_details(phone: str, email: str) -> tuple[str, str]:
    """The normalised phone and email, refusing values that identify nobody."""
    errors = {}
    phone_key, email_key = identity_keys(phone, email)
    if phone.strip() and phone_key is None:
        errors["phone"] = _("“%(value)s” is not a usable phone number.") % {"value": phone.strip()[:32]}
    if email.strip() and email_key is None:
        errors["email"] = _("“%(value)s” is not a usable e-mail address.") % {"value": email.strip()[:64]}
    if not phone.strip() and not email.strip():
        errors["phone"] = _("Give a phone number or an e-mail address, so the lead can be reached.")
    if errors:
        raise ValidationError(errors)
    return (phone_key.value if phone_key else "", email_key.value if email_key else "")


def capture_lead(
    *,
    unit: BusinessUnit,
    actor: Any = None,
    source: str = Lead.Source.MANUAL,
    external_id: str = "",
    owner: Any = None,
    consent_text: str = "",
    at: datetime | None = None,
    **fields: Any,
) -> Capture:
    """Record a lead of `unit`, deduplicated: a resent `external_id` updates the lead it made, and an
    open lead of the unit with the same phone or e-mail is reported, not duplicated. A known customer
    with that phone or e-mail is linked (`lead.customer`), so converting it reuses the person.

    The owner is `owner` (only a sales manager may give a lead to someone else), else the capturing
    rep, else the unit's rule: round robin among its reps, or its pool."""
    unknown = sorted(set(fields) - set(LEAD_FIELDS))
    if unknown:
        raise ValueError(f"Not lead fields: {unknown}")
    values = {name: fields.get(name, "") for name in LEAD_FIELDS if name != "estimated_amount"}
    values = {name: str(value or "").strip() for name, value in values.items()}
    values["estimated_amount"] = Decimal(fields.get("estimated_amount") or 0)
    if not values["name"] and not values["company"]:
        raise ValidationError({"name": _("Give the person's name or their company.")})
    phone_key, email_key = _clean_contact_details(values["phone"], values["email"])
    when = at or timezone.now()
    with transaction.atomic():
        if external_id:
            existing = (
                Lead.objects.select_for_update()
                .filter(unit=unit, source=source, external_id=external_id)
                .first()
            )
            if existing is not None:
                return _update_from_source(existing, values, phone_key, email_key, actor)
        duplicate = _open_duplicate(unit, phone_key, email_key)
        if duplicate is not None:
            return Capture(duplicate, "duplicate")
        lead = Lead(
            unit=unit,
            source=source,
            external_id=external_id[:128],
            phone_key=phone_key,
            email_key=email_key,
            consent_text=consent_text[:300],
            customer_id=_known_customer(phone_key, email_key),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_at=when,
            updated_at=when,
            last_activity_at=when,
            **values,
        )
        lead.owner = _first_owner(unit, owner, actor)
        lead.assigned_at = when if lead.owner else None
        try:
            with transaction.atomic():
                lead.save()
        except IntegrityError:  # the same external id, captured concurrently
            return Capture(Lead.objects.get(unit=unit, source=source, external_id=external_id), "unchanged")
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=lead,
            unit=unit,
            message=phrases.LEAD_CAPTURED(source=source),
        )
        if lead.owner is not None and lead.owner != actor:
            notify(lead.owner, Kind.LEAD_ASSIGNED, unit=unit, subject=lead, data={"name": lead_title(lead)})
    return Capture(lead, "created")


def _update_from_source(lead: Lead, values: dict, phone_key: str, email_key: str, actor: Any) -> Capture:
    changes = {
        name: (getattr(lead, name), value) for name, value in values.items() if getattr(lead, name) != value
    }
    if not changes:
        return Capture(lead, "unchanged")
    for name, (_before, value) in changes.items():
        setattr(lead, name, value)
    lead.phone_key, lead.email_key = phone_key, email_key
    lead.updated_at = timezone.now()
    lead.save()
    audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=lead, unit=lead.unit, changes=changes)
    return Capture(lead, "updated")


def _open_duplicate(unit: Any, phone_key: str, email_key: str) -> Lead | None:
    same = Q()
    if phone_key:
        same |= Q(phone_key=phone_key)
    if email_key:
        same |= Q(email_key=email_key)
    return Lead.objects.filter(same, unit=unit, status__in=Lead.OPEN_STATUSES).order_by("pk").first()


def _known_customer(phone_key: str, email_key: str) -> int | None:
    keys = [
        IdentityKey(kind, "", value)
        for kind, value in ((Identity.Kind.PHONE, phone_key), (Identity.Kind.EMAIL, email_key))
        if value
    ]
    found = find_customers_by_identity(keys)
    return next((found[key] for key in keys if key in found), None)


def _first_owner(unit: Any, owner: Any, actor: Any) -> Any:
    if owner is not None:
        _check_assignable(unit, owner, actor)
        return owner
    sells_here = (
        getattr(actor, "is_authenticated", False) and assignable_users(unit).filter(pk=actor.pk).exists()
    )
    if sells_here and not manages_sales(actor, unit):
        return actor  # a rep's own lead
    return next_in_rotation(unit)


def _check_assignable(unit: Any, owner: Any, actor: Any) -> None:
    if not assignable_users(unit).filter(pk=owner.pk).exists():
        raise ValidationError({"owner": _("Choose an active sales user of the lead's unit.")})
    if actor is not None and owner != actor:
        require_manager(actor, unit)


def next_in_rotation(unit: Any) -> Any:
    """The next rep of the unit in turn (round robin), or None when the unit assigns by hand."""
    rules, _created = SalesRules.objects.select_for_update().get_or_create(unit=unit)
    if rules.assignment != SalesRules.Assignment.ROUND_ROBIN:
        return None
    reps = list(assignable_users(unit).filter(role__in=ROTATION_ROLES))
    if not reps:
        return None
    after = rules.last_assigned_id or 0
    chosen = next((rep for rep in reps if rep.pk > after), reps[0])
    SalesRules.objects.filter(pk=rules.pk).update(last_assigned=chosen)
    return chosen


def update_lead(lead: Lead, *, actor: Any, **fields: Any) -> Lead:
    """Correct a lead's details; phone and e-mail are checked and re-matched like a capture."""
    unknown = sorted(set(fields) - set(LEAD_FIELDS))
    if unknown:
        raise ValueError(f"Not lead fields: {unknown}")
    values: dict[str, Any] = {
        name: Decimal(value or 0) if name == "estimated_amount" else str(value or "").strip()
        for name, value in fields.items()
    }
    phone_key, email_key = _clean_contact_details(
        str(values.get("phone", lead.phone)), str(values.get("email", lead.email))
    )
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        changes = {n: (getattr(lead, n), v) for n, v in values.items() if getattr(lead, n) != v}
        if not changes:
            return lead
        for name, (_before, value) in changes.items():
            setattr(lead, name, value)
        if (phone_key, email_key) != (lead.phone_key, lead.email_key):
            lead.phone_key, lead.email_key = phone_key, email_key
            if lead.status != Lead.Status.CONVERTED:
                lead.customer_id = _known_customer(phone_key, email_key)
        lead.updated_at = timezone.now()
        lead.save()
        audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=lead, unit=lead.unit, changes=changes)
    return lead


def assign_lead(lead: Lead, owner: Any, *, actor: Any) -> Lead:
    """Give the lead to `owner`, or back to the unit's pool (None). Sales managers only."""
    require_manager(actor, lead.unit)
    if owner is not None:
        _check_assignable(lead.unit, owner, actor)
    with transaction.atomic():
        before = lead.owner
        Lead.objects.filter(pk=lead.pk).update(
            owner=owner, assigned_at=timezone.now() if owner else None, stale_since=None
        )
        lead.owner = owner
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=lead,
            unit=lead.unit,
            changes={"owner": (before, owner)},
        )
        if owner is not None and owner != actor:
            notify(owner, Kind.LEAD_ASSIGNED, unit=lead.unit, subject=lead, data={"name": lead_title(lead)})
    return lead


def _open(lead: Lead) -> Lead:
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if not locked.is_open:
        raise ValidationError(_("This lead is already %(status)s.") % {"status": locked.get_status_display()})
    return locked


def qualify_lead(lead: Lead, *, actor: Any) -> Lead:
    """A lead worth pursuing: qualified, ready to convert."""
    with transaction.atomic():
        lead = _open(lead)
        before = lead.status
        lead.status, lead.qualified_at, lead.updated_at = (
            Lead.Status.QUALIFIED,
            timezone.now(),
            timezone.now(),
        )
        lead.save(update_fields=["status", "qualified_at", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=lead,
            unit=lead.unit,
            changes={"status": (before, lead.status)},
        )
    return lead


def disqualify_lead(lead: Lead, *, actor: Any, reason: str, note: str = "") -> Lead:
    """Close a lead that will not buy, with the reason (a code, shown in the reader's language)."""
    if reason not in Lead.DisqualifyReason.values:
        raise ValidationError({"reason": _("Choose why the lead is disqualified.")})
    with transaction.atomic():
        lead = _open(lead)
        before = lead.status
        now = timezone.now()
        lead.status, lead.disqualify_reason, lead.disqualify_note = (
            Lead.Status.DISQUALIFIED,
            reason,
            note[:300],
        )
        lead.closed_at, lead.updated_at, lead.stale_since = now, now, None
        lead.save(
            update_fields=[
                "status",
                "disqualify_reason",
                "disqualify_note",
                "closed_at",
                "updated_at",
                "stale_since",
            ]
        )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=lead,
            unit=lead.unit,
            changes={"status": (before, lead.status), "disqualify_reason": ("", reason)},
        )
    return lead


def convert_lead(
    lead: Lead,
    *,
    actor: Any,
    account: Account | None = None,
    account_name: str = "",
    contact_title: str = "",
    with_opportunity: bool = True,
    opportunity_name: str = "",
    amount: Decimal | None = None,
    expected_close: date | None = None,
    pipeline: Pipeline | None = None,
    at: datetime | None = None,
) -> Conversion:
    """Turn an open lead into an account (`account`, or the unit's account named `account_name`, else
    the lead's company, else the person), a contact who is the customer with the lead's phone or
    e-mail (the known one, or a new profile linked to the unit), and, with `with_opportunity`, an
    opportunity in the first stage (`at` is when, now by default). All or nothing: on any failure
    nothing is made."""
    if account is not None and account.unit_id != lead.unit_id:
        raise ValidationError({"account": _("Choose an account of the lead's unit.")})
    if pipeline is not None and pipeline.unit_id != lead.unit_id:
        raise ValidationError({"pipeline": _("Choose a pipeline of the lead's unit.")})
    with transaction.atomic():
        lead = _open(lead)
        unit, owner = lead.unit, lead.owner or actor
        if account is None:
            name = (account_name or lead.company or lead.name).strip()
            account = ensure_account(unit=unit, name=name, owner=owner, actor=actor)
        customer = _person_of(lead, actor)
        contact = ensure_contact(
            account=account, customer=customer, title=contact_title or lead.title, actor=actor
        )
        opportunity = None
        if with_opportunity:
            opportunity = create_opportunity(
                unit=unit,
                pipeline=pipeline,
                name=opportunity_name or _("%(account)s deal") % {"account": account.name},
                owner=owner,
                account=account,
                contact=contact,
                amount=amount if amount is not None else lead.estimated_amount,
                expected_close=expected_close,
                lead=lead,
                actor=actor,
                at=at,
            )
        now = at or timezone.now()
        lead.status, lead.closed_at, lead.updated_at, lead.stale_since = Lead.Status.CONVERTED, now, now, None
        lead.account, lead.opportunity, lead.customer = account, opportunity, customer
        lead.save()
        # The lead's history follows the person, the account and the deal.
        Activity.objects.filter(lead=lead, account__isnull=True).update(account=account)
        Activity.objects.filter(lead=lead, customer__isnull=True).update(customer=customer)
        if opportunity is not None:
            Activity.objects.filter(lead=lead, opportunity__isnull=True).update(opportunity=opportunity)
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=lead,
            unit=unit,
            changes={"status": ("qualified", Lead.Status.CONVERTED)},
            message=phrases.LEAD_CONVERTED(
                account=account.pk, contact=contact.pk, opportunity=getattr(opportunity, "pk", "-")
            ),
        )
    return Conversion(account, contact, opportunity)


def _person_of(lead: Lead, actor: Any) -> Customer:
    """The customer with the lead's phone or e-mail: found, else created in the lead's unit; given the
    lead's owner when nobody owns them, so the rep sees the person they sell to."""
    keys = [key for key in identity_keys(lead.phone, lead.email) if key is not None]
    if not keys:
        raise ValidationError(_("The lead has no usable phone or e-mail, so no customer can be made for it."))
    profile = {"name": lead.name or lead.company}
    resolved = upsert_customers_by_identity(
        {keys[0]: profile}, unit=lead.unit, source="sales:lead", actor=actor
    )
    customer_id = resolved.ids[keys[0]]
    if len(keys) > 1 and not find_customers_by_identity(keys[1:]):
        add_identities({keys[1]: customer_id}, [], source="sales:lead")
    customer = Customer.objects.get(pk=customer_id)
    owner = lead.owner or actor
    if customer.owner_id is None and getattr(owner, "is_authenticated", False):
        customer = update_profile(customer, actor=actor, owner=owner)
    return customer


def request_transfer(lead: Lead, *, to_unit: BusinessUnit, reason: str, actor: Any) -> LeadTransfer:
    """Ask the group to hand the lead to another unit (跨版块分配); the group's managers are told. A
    group-wide user's own request is decided at once."""
    if to_unit.pk == lead.unit_id:
        raise ValidationError({"to_unit": _("Choose another unit.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the lead belongs to the other unit.")})
    with transaction.atomic():
        lead = _open(lead)
        if LeadTransfer.objects.filter(lead=lead, state=LeadTransfer.State.REQUESTED).exists():
            raise ValidationError(_("A transfer of this lead is already waiting for a decision."))
        transfer = LeadTransfer.objects.create(
            lead=lead, from_unit=lead.unit, to_unit=to_unit, reason=reason.strip()[:300], requested_by=actor
        )
        audit.record(AuditEntry.Action.CREATE, actor=actor, obj=transfer, unit=lead.unit)
        if may_transfer_across_units(actor):
            return decide_transfer(transfer, approve=True, actor=actor)
        for deciding in User.objects.filter(is_active=True, role__in=_transfer_roles()):
            notify(
                deciding,
                Kind.TRANSFER_REQUESTED,
                subject=transfer,
                data={"name": lead_title(lead), "unit": to_unit.name},
            )
    return transfer


def _transfer_roles() -> list[str]:
    return [role for role in ALL_UNIT_ROLES if TRANSFER_SALES in ROLE_PERMISSIONS.get(role, frozenset())]


def decide_transfer(transfer: LeadTransfer, *, approve: bool, actor: Any, note: str = "") -> LeadTransfer:
    """Approve (the lead moves to the other unit's pool, or to its next rep in turn, with its
    activities) or reject a requested transfer. Group-wide users with sales.transfer only."""
    if not may_transfer_across_units(actor):
        raise Denied(TRANSFER_SALES, obj=transfer)
    with transaction.atomic():
        transfer = LeadTransfer.objects.select_for_update().get(pk=transfer.pk)
        if transfer.state != LeadTransfer.State.REQUESTED:
            raise ValidationError(_("This transfer was already decided."))
        now = timezone.now()
        transfer.state = LeadTransfer.State.APPROVED if approve else LeadTransfer.State.REJECTED
        transfer.decided_by, transfer.decided_at, transfer.decision_note = actor, now, note[:300]
        transfer.save()
        lead = transfer.lead
        if approve:
            before = lead.unit_id
            lead.unit = transfer.to_unit
            lead.owner = next_in_rotation(transfer.to_unit)
            lead.assigned_at = now if lead.owner else None
            lead.stale_since, lead.updated_at = None, now
            lead.save()
            Activity.objects.filter(lead=lead).update(unit=transfer.to_unit)
            audit.record(
                AuditEntry.Action.UPDATE,
                actor=actor,
                obj=lead,
                unit=transfer.to_unit,
                changes={"unit": (before, transfer.to_unit_id)},
                message=phrases.LEAD_TRANSFERRED(),
            )
            if lead.owner is not None:
                notify(
                    lead.owner,
                    Kind.LEAD_ASSIGNED,
                    unit=lead.unit,
                    subject=lead,
                    data={"name": lead_title(lead)},
                )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=transfer,
            unit=transfer.from_unit,
            changes={"state": ("requested", transfer.state)},
        )
        notify(
            transfer.requested_by,
            Kind.TRANSFER_DECIDED,
            unit=transfer.from_unit,
            subject=transfer,
            data={"name": lead_title(lead), "unit": transfer.to_unit.name, "approved": approve},
        )
    return transfer
