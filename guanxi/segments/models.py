"""Segments (saved rules or fixed lists of customers) and their materialised membership with history."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.querysets import ScopedModel
from guanxi.customers.models import CustomerUnit


class Segment(ScopedModel):
    """A group of customers: defined by a rule (dynamic) or listed one by one (static).

    `unit` NULL is an organisation-wide segment; a unit's segment counts only that unit's customers,
    orders, events and metrics.
    """

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (rule)")
        STATIC = "static", _("Static (list)")

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.DYNAMIC)
    rule = models.JSONField(_("rule"), default=dict, blank=True)
    schema_version = models.PositiveSmallIntegerField(_("rule schema version"), default=1)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
    )
    unit = models.ForeignKey(
        "accounts.BusinessUnit",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("business unit"),
    )
    # Set on the ready-made segments so installing them again updates instead of duplicating.
    key = models.SlugField(_("key"), max_length=64, blank=True)
    member_count = models.PositiveIntegerField(_("members"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=~models.Q(key=""), name="segment_key_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        # Organisation-wide definitions are shared; their members are still filtered per viewer.
        return models.Q(unit__in=unit_ids) | models.Q(unit__isnull=True)


class SegmentMembership(ScopedModel):
    """One stay of a customer in a segment: entered, and exited (NULL while still a member)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)
    exited_at = models.DateTimeField(_("exited"), null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer"],
                condition=models.Q(exited_at__isnull=True),
                name="segment_membership_current",
            )
        ]
        indexes = [
            models.Index(fields=["segment", "exited_at", "customer"]),
            models.Index(fields=["customer", "segment"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(customer__in=CustomerUnit.objects.filter(unit_id__in=unit_ids).values("customer_id"))
