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
