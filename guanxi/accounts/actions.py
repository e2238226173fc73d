"""Writes to organisation, units, users and tokens. Each owns its transaction and audit entry."""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from guanxi.accounts.models import ApiToken, BusinessUnit, Organisation, User
from guanxi.accounts.phrases import TOKEN_CREATED, UNIT_CREATED, USER_CREATED
from guanxi.accounts.roles import EXPORT_BY_DEFAULT, LEAST_PRIVILEGED_ROLE, PII_BY_DEFAULT, Role
from guanxi.core import audit
from guanxi.core.edits import save_changes
from guanxi.core.models import AuditEntry
from guanxi.core.zones import DEFAULT_TIME_ZONE

TOKEN_PREFIX = "gx_"  # noqa: S105  (the public marker that starts every token, not a secret)


@transaction.atomic
def ensure_organisation(name: str) -> Organisation:
    organisation, _ = Organisation.objects.get_or_create(singleton=True, defaults={"name": name})
    return organisation


UNIT_FIELDS = ("name", "time_zone", "is_active")


@transaction.atomic
def create_business_unit(
    *, code: str, name: str, time_zone: str = DEFAULT_TIME_ZONE, actor: User | None = None
) -> BusinessUnit:
    """A new business unit (业务板块); its code is for good, its name and time zone can change."""
    unit = BusinessUnit(code=code.strip(), name=name.strip(), time_zone=time_zone)
    unit.full_clean()
    unit.save()
    audit.record(
        AuditEntry.Action.CREATE,
        actor=actor,
        obj=unit,
        unit=unit,
        message=UNIT_CREATED(code=unit.code, time_zone=unit.time_zone),
    )
    return unit


def update_business_unit(unit: BusinessUnit, *, actor: User | None = None, **fields) -> BusinessUnit:
    """Rename a unit, change its time zone, or deactivate it (no new users or imports are given it;
    its data stays). Unchanged values write nothing."""
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    return save_changes(unit, fields, editable=UNIT_FIELDS, actor=actor, unit=unit)


@transaction.atomic
def create_user(
    *,
    username: str,
    password: str | None,
    role: str = LEAST_PRIVILEGED_ROLE,
    units: Iterable[BusinessUnit] = (),
    display_name: str = "",
    email: str = "",
    can_view_pii: bool | None = None,
    can_export: bool | None = None,
    actor: User | None = None,
) -> User:
    user = User(
        username=username,
        email=email,
        role=role,
        display_name=display_name,
        can_view_pii=role in PII_BY_DEFAULT if can_view_pii is None else can_view_pii,
        can_export=role in EXPORT_BY_DEFAULT if can_export is None else can_export,
        is_staff=role == Role.SYSTEM_ADMIN,
        is_superuser=False,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.units.set(list(units))
    audit.record(AuditEntry.Action.CREATE, actor=actor, obj=user, message=USER_CREATED(role=role))
    return user


@transaction.atomic
def change_role(
    *, user: User, role: str, actor: User | None, units: Iterable[BusinessUnit] | None = None
) -> User:
    before_role = user.role
    before_units = sorted(user.units.values_list("code", flat=True))
    user.role = role
    user.is_staff = role == Role.SYSTEM_ADMIN
    user.save(update_fields=["role", "is_staff"])
    if units is not None:
        user.units.set(list(units))
    after_units = sorted(user.units.values_list("code", flat=True))
    audit.record(
        AuditEntry.Action.ROLE_CHANGE,
        actor=actor,
        obj=user,
        changes={"role": (before_role, role), "units": (",".join(before_units), ",".join(after_units))},
    )
    return user


@transaction.atomic
def set_data_permissions(*, user: User, can_view_pii: bool, can_export: bool, actor: User | None) -> User:
    changes = {
        "can_view_pii": (user.can_view_pii, can_view_pii),
        "can_export": (user.can_export, can_export),
    }
    user.can_view_pii, user.can_export = can_view_pii, can_export
    user.save(update_fields=["can_view_pii", "can_export"])
    audit.record(AuditEntry.Action.ROLE_CHANGE, actor=actor, obj=user, changes=changes)
    return user


@transaction.atomic
def set_user_active(*, user: User, is_active: bool, actor: User | None) -> User:
    """A deactivated user can no longer sign in; their records and audit trail stay."""
    if user.is_active != is_active:
        changes = {"is_active": (user.is_active, is_active)}
        user.is_active = is_active
        user.save(update_fields=["is_active"])
        audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=user, changes=changes)
    return user


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown to the user once; only its digest is stored


@transaction.atomic
def create_api_token(
    *, user: User, name: str, scope: str = ApiToken.Scope.READ, actor: User | None = None
) -> IssuedToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, scope=scope, prefix=secret[:10], digest=ApiToken.digest_of(secret)
    )
    audit.record(
        AuditEntry.Action.TOKEN_CREATE, actor=actor or user, obj=token, message=TOKEN_CREATED(scope=scope)
    )
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def revoke_api_token(*, token: ApiToken, actor: User) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(AuditEntry.Action.TOKEN_REVOKE, actor=actor, obj=token)
    return token


@transaction.atomic
def start_totp_setup(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator the user is about to scan; the same one until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def confirm_totp_device(*, device: TOTPDevice, token: str, actor: User) -> bool:
    """Confirm the device with a code from it. Wrong codes count in the device's own back-off."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if device.confirmed or not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=device.user_id, confirmed=False).delete()
    audit.record(AuditEntry.Action.OTP_ENABLED, actor=actor, obj=device.user)
    return True
