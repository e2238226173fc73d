"""A report delivered by e-mail on a schedule: the only rows the reports app owns (its figures are read
from the other apps' read models)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.querysets import ScopedModel


class Frequency(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly (Mondays)")
    MONTHLY = "monthly", _("Monthly (the 1st)")


class Delivery(ScopedModel):
    """Report `report` with the filters of its permalink `query`, e-mailed to `recipients` through the
    messaging outbox, read with the rights of the user who set it up (`created_by`)."""

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    report = models.CharField(_("report"), max_length=32)
    query = models.CharField(_("filters"), max_length=500, blank=True)
    frequency = models.CharField(_("frequency"), max_length=8, choices=Frequency.choices)
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", verbose_name=_("recipients")
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_on = models.DateField(_("last sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled report")
        verbose_name_plural = _("scheduled reports")

    def __str__(self) -> str:
        return f"{self.report} ({self.frequency})"


class RevenueTarget(ScopedModel):
    """A business unit's annual sales target: the dashboards and the Analytics page spread it over the
    months by the seasonal index (a page's `?target=` still overrides it, for a what-if)."""

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField(_("year"))
    amount = models.DecimalField(_("annual sales target"), max_digits=14, decimal_places=2)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("revenue target")
        verbose_name_plural = _("revenue targets")
        constraints = [models.UniqueConstraint(fields=["unit", "year"], name="reports_target_unit_year")]

    def __str__(self) -> str:
        return f"{self.year}: {self.amount}"
