"""Quotas (销售定额) and sales plans (销售计划) per rep and month."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.money import amount_field_kwargs
from guanxi.core.querysets import ScopedModel


class Quota(ScopedModel):
    """What a rep should win in a month (a quarter or year is the sum of its months), and, when it
    differs from the unit's, the commission rate on what they win in it."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+", verbose_name=_("unit")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("sales user")
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    amount = models.DecimalField(_("quota"), **amount_field_kwargs())
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    commission_rate = models.DecimalField(
        _("commission rate"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    updated_at = models.DateTimeField(default=timezone.now)

    OWNER_FIELD = "user"

    class Meta:
        ordering = ["-month", "user_id"]
        verbose_name = _("quota")
        constraints = [models.UniqueConstraint(fields=["unit", "user", "month"], name="sales_quota_month")]

    def __str__(self) -> str:
        return f"Quota of {self.user_id} for {self.month:%Y-%m}"

    @property
    def audit_label(self) -> str:
        return f"{self.user_id} {self.month:%Y-%m}"


class SalesPlan(ScopedModel):
    """A rep's plan for a month: the visits, calls and meetings they mean to make and the new
    opportunities they mean to open, set against what they logged."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+", verbose_name=_("unit")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("sales user")
    )
    month = models.DateField(_("month"))
    planned_calls = models.PositiveIntegerField(_("calls"), default=0)
    planned_visits = models.PositiveIntegerField(_("visits"), default=0)
    planned_meetings = models.PositiveIntegerField(_("meetings"), default=0)
    planned_opportunities = models.PositiveIntegerField(_("new opportunities"), default=0)
    notes = models.TextField(_("plan"), blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    OWNER_FIELD = "user"

    class Meta:
        ordering = ["-month", "user_id"]
        verbose_name = _("sales plan")
        constraints = [models.UniqueConstraint(fields=["unit", "user", "month"], name="sales_plan_month")]

    def __str__(self) -> str:
        return f"Plan of {self.user_id} for {self.month:%Y-%m}"

    @property
    def audit_label(self) -> str:
        return f"{self.user_id} {self.month:%Y-%m}"
