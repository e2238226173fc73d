"""Company accounts and their contacts. A contact is a customer profile found or created through the
identity model, so the buyer at a distributor who also shops online is one person."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.customers.actions import add_identities, find_customers_by_identity, upsert_customers_by_identity
from guanxi.customers.identities import identity_key
from guanxi.customers.models import Customer, Identity
from guanxi.customers.profile import update_profile
from guanxi.sales import phrases
from guanxi.sales.access import assignable_users, manages_sales
from guanxi.sales.models import Account, Contact

ACCOUNT_FIELDS = ("name", "industry", "website", "phone", "province", "city", "address", "description")


def _owner_for(unit: Any, owner: Any, actor: Any) -> Any:
    if owner is None or owner == actor:
        return owner
    if not assignable_users(unit).filter(pk=owner.pk).exists():
        raise ValidationError({"owner": _("Choose an active sales user of the unit.")})
    if actor is not None and not manages_sales(actor, unit):
        raise ValidationError({"owner": _("Only a sales manager gives records to someone else.")})
    return owner


def create_account(*, unit: Any, actor: Any, owner: Any = None, **fields: Any) -> Account:
    unknown = sorted(set(fields) - set(ACCOUNT_FIELDS))
    if unknown:
        raise ValueError(f"Not account fields: {unknown}")
    values = {name: str(value or "").strip() for name, value in fields.items()}
    if not values.get("name"):
        raise ValidationError({"name": _("Give the company's name.")})
    with transaction.atomic():
        try:
            with transaction.atomic():
                account = Account.objects.create(
                    unit=unit,
                    owner=_owner_for(unit, owner if owner is not None else actor, actor),
                    created_by=actor if getattr(actor, "is_authenticated", False) else None,
                    **values,
                )
        except IntegrityError as error:
            raise ValidationError({"name": _("The unit already has an account of this name.")}) from error
        audit.record(AuditEntry.Action.CREATE, actor=actor, obj=account, unit=unit)
    return account


def ensure_account(*, unit: Any, name: str, owner: Any, actor: Any) -> Account:
    """The unit's account of this name, created (owned by `owner`) if there is none."""
    name = name.strip()[:200]
    if not name:
        raise ValidationError({"account_name": _("Give the company's name.")})
    existing = Account.objects.filter(unit=unit, name=name).first()
    if existing is not None:
        return existing
    return create_account(unit=unit, actor=actor, owner=owner, name=name)


def update_account(account: Account, *, actor: Any, owner: Any = ..., **fields: Any) -> Account:
    unknown = sorted(set(fields) - set(ACCOUNT_FIELDS))
    if unknown:
        raise ValueError(f"Not account fields: {unknown}")
    values: dict[str, Any] = {name: str(value or "").strip() for name, value in fields.items()}
    if "name" in values and not values["name"]:
        raise ValidationError({"name": _("Give the company's name.")})
    if owner is not ...:
        values["owner"] = _owner_for(account.unit, owner, actor)
    with transaction.atomic():
        changes = {n: (getattr(account, n), v) for n, v in values.items() if getattr(account, n) != v}
        if not changes:
            return account
        for name, (_before, value) in changes.items():
            setattr(account, name, value)
        account.updated_at = timezone.now()
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError as error:
            raise ValidationError({"name": _("The unit already has an account of this name.")}) from error
        audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=account, unit=account.unit, changes=changes)
    return account


def ensure_contact(*, account: Account, customer: Customer, title: str = "", actor: Any = None) -> Contact:
    """The customer as a contact of the account (the first one is its primary contact). The customer
    comes from the identity model, which links them to the account's unit."""
    with transaction.atomic():
        contact, created = Contact.objects.get_or_create(
            account=account,
            customer=customer,
            defaults={"title": title.strip()[:64], "is_primary": not account.contacts.exists()},
        )
        if created:
            audit.record(
                AuditEntry.Action.CREATE,
                actor=actor,
                obj=contact,
                unit=account.unit,
                message=phrases.CONTACT_ADDED(account=account.pk),
            )
    return contact


def add_contact(
    *,
    account: Account,
    actor: Any,
    name: str,
    phone: str = "",
    email: str = "",
    title: str = "",
    role: str = "",
) -> Contact:
    """A person at the account, by phone or e-mail: the customer who holds it (one person across
    stores and sales), else a new profile in the account's unit, owned by the account's owner when
    nobody owns them."""
    keys = []
    errors = {}
    for kind, raw, field in ((Identity.Kind.PHONE, phone, "phone"), (Identity.Kind.EMAIL, email, "email")):
        if raw.strip():
            key = identity_key(kind, raw)
            if key is None:
                errors[field] = _("“%(value)s” cannot identify a person.") % {"value": raw.strip()[:64]}
            else:
                keys.append(key)
    if not keys and not errors:
        errors["phone"] = _("Give a phone number or an e-mail address of the contact.")
    if errors:
        raise ValidationError(errors)
    if role and role not in Contact.Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    with transaction.atomic():
        resolved = upsert_customers_by_identity(
            {keys[0]: {"name": name.strip()[:100]}}, unit=account.unit, source="sales:contact", actor=actor
        )
        customer_id = resolved.ids[keys[0]]
        if len(keys) > 1 and not find_customers_by_identity(keys[1:]):
            add_identities({keys[1]: customer_id}, [], source="sales:contact")
        customer = Customer.objects.get(pk=customer_id)
        owner = account.owner or actor
        if customer.owner_id is None and getattr(owner, "is_authenticated", False):
            customer = update_profile(customer, actor=actor, owner=owner)
        contact = ensure_contact(account=account, customer=customer, title=title, actor=actor)
        if role and contact.role != role:
            Contact.objects.filter(pk=contact.pk).update(role=role)
            contact.role = role
    return contact


def remove_contact(contact: Contact, *, actor: Any) -> None:
    with transaction.atomic():
        unit = contact.account.unit
        contact.delete()
        audit.record(
            AuditEntry.Action.DELETE,
            actor=actor,
            unit=unit,
            object_type="sales.contact",
            object_id=str(contact.pk),
        )
