import hashlib
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.accounts.roles import (
    ALL_UNIT_ROLES,
    LEAST_PRIVILEGED_ROLE,
    OWN_RECORD_ROLES,
    ROLE_PERMISSIONS,
    TEAM_RECORD_ROLES,
    Role,
)
from guanxi.core.querysets import OwnerScope, ScopedModel
from guanxi.core.zones import DEFAULT_TIME_ZONE, validate_time_zone

if TYPE_CHECKING:
    from django_otp.models import Device


class Organisation(models.Model):
    """The one merchant group this install serves (one organisation per install)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    default_currency = models.CharField(_("default currency"), max_length=3, default="CNY")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(singleton=True), name="organisation_singleton")
        ]

    def __str__(self) -> str:
        return self.name


class BusinessUnit(ScopedModel):
    """业务板块: the data scope. Stores, orders, tickets and programmes belong to exactly one unit.

    `BusinessUnit.objects.restrict(user, "view")` is the units a user may see and pick: every unit
    for group-wide roles, else their own, like any other model's rows.
    """

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=DEFAULT_TIME_ZONE, validators=[validate_time_zone]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        verbose_name = _("business unit")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(pk__in=unit_ids)


class User(AbstractUser):
    """A person who signs in. One role; membership of business units scopes what they see."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=LEAST_PRIVILEGED_ROLE)
    units = models.ManyToManyField(BusinessUnit, blank=True, related_name="members", verbose_name=_("units"))
    can_view_pii = models.BooleanField(_("may see personal data"), default=False)
    can_export = models.BooleanField(_("may export data"), default=False)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)

    # Declared only, never assigned here: django-otp looks for it with hasattr() on login and
    # OTPMiddleware sets it per request to the device verified in the session.
    otp_device: "Device | None"

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")

    @property
    def audit_label(self) -> str:
        return self.username

    def has_permission(self, permission: str) -> bool:
        if not self.is_active:
            return False
        if permission == "pii.view":
            return self.can_view_pii
        if permission == "data.export":
            return self.can_export
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    def visible_unit_ids(self) -> list[int] | None:
        """None means every unit; otherwise the ids of the user's units (cached per instance)."""
        if self.role in ALL_UNIT_ROLES:
            return None
        if not hasattr(self, "_unit_ids"):
            self._unit_ids = list(self.units.values_list("id", flat=True))
        return self._unit_ids

    def sees_all_units(self) -> bool:
        """Group-wide roles: organisation-wide figures and segments are theirs to see and change."""
        return self.visible_unit_ids() is None

    def only_unit(self) -> "BusinessUnit | None":
        """The one unit a unit user belongs to, which what they write and are refused belongs to; None
        for group-wide roles and for members of several units."""
        if self.sees_all_units():
            return None
        units = list(BusinessUnit.objects.restrict(self, "view")[:2])
        return units[0] if len(units) == 1 else None

    def owner_scope(self) -> OwnerScope | None:
        """Whose owned records the user sees (cached per instance): None for every owner; a sales rep
        their own; a sales manager their own, their team's (the own-record users of their units) and
        the unassigned ones, which they hand out."""
        if self.role not in OWN_RECORD_ROLES and self.role not in TEAM_RECORD_ROLES:
            return None
        if not hasattr(self, "_owner_scope"):
            if self.role in OWN_RECORD_ROLES:
                self._owner_scope = OwnerScope((self.pk,))
            else:
                team = User.objects.filter(
                    units__in=self.visible_unit_ids() or [], role__in=OWN_RECORD_ROLES
                ).values_list("pk", flat=True)
                self._owner_scope = OwnerScope((self.pk, *sorted(set(team))), unowned=True)
        return self._owner_scope

    @property
    def shown_name(self) -> str:
        return self.display_name or self.get_full_name() or self.username


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 digest is stored; the secret is shown once."""

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        READ_WRITE = "read_write", _("Read and write")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def audit_label(self) -> str:
        return f"{self.prefix}…"

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
