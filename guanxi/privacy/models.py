"""Requests a person makes about their data (a copy of it, or its erasure), and retention settings
and runs. The erasure log that survives a backup restore is a file (guanxi.privacy.log), not a table."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.querysets import ScopedModel
from guanxi.customers.models import CustomerUnit


class PrivacyRequest(ScopedModel):
    """A subject access (export) or erasure request about one customer, with its workflow state."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("Copy of the data")
        ERASURE = "erasure", _("Erasure")

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        APPROVED = "approved", _("Approved")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RECEIVED)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("customer"),
    )
    # How the person asked (a letter's date, a ticket number); may name them, so erasure scrubs it.
    note = models.CharField(_("note"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The export's zip, relative to privacy.exports_dir(); removed when it expires or the person is erased.
    file = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(_("download until"), null=True, blank=True)
    # Rows per table: exported, or erased/blanked/scrubbed.
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["customer", "kind"])]
        verbose_name = _("privacy request")

    def __str__(self) -> str:
        return f"Privacy request #{self.pk}"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        links = CustomerUnit.objects.filter(unit_id__in=unit_ids, customer_id=models.OuterRef("customer"))
        return models.Q(models.Exists(links))


class RetentionSetting(models.Model):
    """A horizon set on the retention page, overriding GUANXI_RETENTION_DAYS for one data class."""

    data_class = models.CharField(max_length=32, unique=True)
    days = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.data_class}: {self.days} days"


class RetentionRun(models.Model):
    """One pass of the retention job: the horizons it applied and how much it purged per data class."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    horizons = models.JSONField(default=dict)
    purged = models.JSONField(default=dict)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Retention run #{self.pk}"
