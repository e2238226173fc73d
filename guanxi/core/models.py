from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from guanxi.core.display import render
from guanxi.core.querysets import ScopedModel, ScopedQuerySet


class Job(ScopedModel):
    """A piece of long work (import, analysis, demo load) whose state and progress users watch."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=64)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    # What the job says it is doing: a phrase code (guanxi.core.display) with `message_params`, put into
    # the reader's language when shown, or a text (a failure's own words, older rows).
    message = models.CharField(_("message"), max_length=500, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unit = models.ForeignKey(
        "accounts.BusinessUnit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    OWNER_FIELD = "started_by"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]
        verbose_name = _("job")

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        # Organisation-wide jobs (no unit) are visible to everyone allowed to see jobs.
        return models.Q(unit__in=unit_ids) | models.Q(unit__isnull=True)

    @property
    def shown_message(self) -> str:
        return render(self.message, self.message_params, fallback=self.message)

    @property
    def kind_label(self) -> str:
        from guanxi.core.background import JOB_LABELS

        return str(JOB_LABELS.get(self.kind, self.kind))

    @property
    def count_items(self) -> list[tuple[str, Any]]:
        """The counts as the job pages show them: labelled in the kind's order, then any others."""
        from guanxi.core.background import JOB_COUNT_LABELS

        labels = JOB_COUNT_LABELS.get(self.kind, {})
        labelled = [
            (str(label), self.counts[name]) for name, label in labels.items() if name in self.counts and label
        ]
        others = [(name, value) for name, value in self.counts.items() if name not in labels]
        return labelled + others

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.state == self.State.SUCCEEDED else None
        return min(100, int(self.progress_done * 100 / self.progress_total))

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)


class AuditQuerySet(ScopedQuerySet):
    def update(self, **kwargs):  # type: ignore[override]
        raise PermissionError("The audit log is append-only")

    def delete(self):  # type: ignore[override]
        raise PermissionError("The audit log is append-only")


class AuditEntry(ScopedModel):
    """One append-only record of who did what to which object. Never holds raw PII."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGOUT = "logout", _("Logged out")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGIN_THROTTLED = "login_throttled", _("Login throttled")
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        DELETE = "delete", _("Deleted")
        PERMISSION_DENIED = "permission_denied", _("Permission denied")
        EXPORT = "export", _("Exported")
        ROLE_CHANGE = "role_change", _("Role changed")
        TOKEN_CREATE = "token_create", _("API token created")
        TOKEN_REVOKE = "token_revoke", _("API token revoked")
        OTP_ENABLED = "otp_enabled", _("Two-factor enabled")
        MERGE = "merge", _("Merged")
        UNMERGE = "unmerge", _("Merge undone")
        ERASE = "erase", _("Erased")
        IMPORT = "import", _("Imported")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=200, blank=True)
    unit = models.ForeignKey(
        "accounts.BusinessUnit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    # What happened in words, as a phrase code and its parameters (guanxi.core.display), put into
    # the reader's language when shown. `message` is the text older versions stored instead.
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)

    objects = AuditQuerySet.as_manager()  # type: ignore[misc]  # django-stubs#1713: as_manager() cannot be annotated ClassVar

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_type}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(unit__in=unit_ids)

    @property
    def details(self) -> str:
        """The message in the reader's language; an entry written before messages were coded, as stored."""
        if not self.message_code:
            return self.message
        return render(self.message_code, self.message_params, fallback=self.message)

    @property
    def object_type_label(self) -> str:
        """The kind of object in the reader's language ("Custom field" for customers.customfielddefinition)."""
        return object_type_label(self.object_type)

    @property
    def changed_field_labels(self) -> list[str]:
        """The names of the changed fields in the reader's language, as the object's model calls them."""
        return [field_label(self.object_type, name) for name in self.changes]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("The audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only")


def _model(object_type: str) -> type[models.Model] | None:
    """The model an entry names as "app.model", through the content types registry (which is what it
    is for: naming any model without depending on its app); None for other kinds of object."""
    app_label, dot, model_name = object_type.partition(".")
    if not dot:
        return None
    try:
        return ContentType.objects.get_by_natural_key(app_label, model_name).model_class()
    except ContentType.DoesNotExist:
        return None


def object_type_label(object_type: str) -> str:
    """A model's name (its verbose_name) for "app.model"; other object kinds ("permission",
    "table") by the phrase "object.<kind>"; anything else as stored."""
    if not object_type:
        return ""
    model = _model(object_type)
    if model is not None:
        return capfirst(str(model._meta.verbose_name))
    return render(f"object.{object_type}", fallback=object_type)


def field_label(object_type: str, name: str) -> str:
    """The verbose name of field `name` of the model `object_type`; other names as stored."""
    model = _model(object_type)
    if model is not None:
        try:
            return capfirst(str(model._meta.get_field(name).verbose_name))  # type: ignore[union-attr]
        except FieldDoesNotExist:
            pass
    return render(f"field.{name}", fallback=name)
