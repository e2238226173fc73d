"""Activities (活动, the rulebook's 一般行动): every contact with a buyer, and the tasks planned for
one; and the in-app notifications sales users receive."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.querysets import ScopedModel


class Activity(ScopedModel):
    """A call, visit, meeting, e-mail or task about a lead, an opportunity, an account or a customer.
    Planned until it is done; `done_at` is when it happened, which is what the rulebook's clocks
    (stale records, inactive users) count. A manager may assign one to a rep (指派一般行动)."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        VISIT = "visit", _("Visit")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("E-mail")
        TASK = "task", _("Task")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    unit = models.ForeignKey(
        "accounts.BusinessUnit",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("unit"),
        db_index=False,  # the composite indexes below lead with it
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
        db_index=False,  # the composite indexes below lead with it
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.CALL)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PLANNED)
    subject = models.CharField(_("subject"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=300, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    reminder_at = models.DateTimeField(_("remind at"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    lead = models.ForeignKey(
        "sales.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    account = models.ForeignKey(
        "sales.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # sales_activity_customer leads with it
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    OWNER_FIELD = "owner"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["owner", "status", "due_at"], name="sales_activity_owner_due"),
            models.Index(fields=["owner", "done_at"], name="sales_activity_owner_done"),
            models.Index(fields=["unit", "done_at"], name="sales_activity_unit_done"),
            models.Index(fields=["customer", "done_at"], name="sales_activity_customer"),
            models.Index(
                fields=["reminder_at"],
                condition=models.Q(reminded_at__isnull=True, status="planned"),
                name="sales_activity_reminder",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @property
    def when(self):
        return self.done_at or self.due_at or self.created_at


class Notification(ScopedModel):
    """Something a sales user should know, shown in their list until read. Written only by
    `guanxi.sales.notifications.notify`; the text is made from `kind` and `data` when shown, in the
    reader's language, and `data` never holds personal data."""

    class Kind(models.TextChoices):
        LEAD_ASSIGNED = "lead_assigned", _("Lead assigned")
        ACTIVITY_ASSIGNED = "activity_assigned", _("Activity assigned")
        REMINDER = "reminder", _("Reminder")
        STALE = "stale", _("No activity for too long")
        RETURNED_TO_POOL = "returned_to_pool", _("Returned to the pool")
        TRANSFER_REQUESTED = "transfer_requested", _("Transfer requested")
        TRANSFER_DECIDED = "transfer_decided", _("Transfer decided")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey("accounts.BusinessUnit", null=True, blank=True, on_delete=models.CASCADE)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    data = models.JSONField(default=dict, blank=True)
    # The record it is about ("sales.opportunity", "12"), for the link.
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    OWNER_FIELD = "user"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "created_at"], name="sales_notification_user")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(unit__in=unit_ids) | models.Q(unit__isnull=True)
