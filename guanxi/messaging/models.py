"""Messaging: channel accounts, templates, the outbox, suppression, delivery reports and replies.

The outbox (`Message`) is the source of truth for every message Guanxi sends: a row is written (rendered,
with its UNIQUE send key) before anything leaves, claimed by a worker (`guanxi.core.claims`), checked at
the gates at send time, marked `sending` in the same transaction that checked it, and then moved to
sent, failed or unknown by what the provider answered (see `sending.py` and ADR 0032).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.claims import Claimable
from guanxi.core.querysets import ScopedModel, ScopedQuerySet


def _customer_visible(unit_ids: list[int], prefix: str = "customer") -> models.Q:
    from guanxi.customers.models import CustomerUnit

    links = CustomerUnit.objects.filter(unit_id__in=unit_ids, customer_id=models.OuterRef(prefix))
    return models.Q(models.Exists(links))


class Medium(models.TextChoices):
    """What kind of address a message goes to; consent and suppression are kept per medium."""

    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    WECHAT = "wechat", _("WeChat official account")
    WECOM = "wecom", _("WeCom")
    WEBHOOK = "webhook", _("Webhook")


class Purpose(models.TextChoices):
    TRANSACTIONAL = "transactional", _("Transactional")
    MARKETING = "marketing", _("Marketing")


class ChannelKind(models.TextChoices):
    SMTP = "smtp", _("Email over SMTP")
    SMS_HTTP = "sms_http", _("SMS over an HTTP gateway")
    SMS_ALIYUN = "sms_aliyun", _("SMS through Alibaba Cloud SMS")
    WECHAT_TEMPLATE = "wechat_template", _("WeChat official-account template messages")
    WECOM = "wecom", _("WeCom application messages")
    WEBHOOK = "webhook", _("Outbound webhook")


MEDIUM_OF_KIND = {
    ChannelKind.SMTP: Medium.EMAIL,
    ChannelKind.SMS_HTTP: Medium.SMS,
    ChannelKind.SMS_ALIYUN: Medium.SMS,
    ChannelKind.WECHAT_TEMPLATE: Medium.WECHAT,
    ChannelKind.WECOM: Medium.WECOM,
    ChannelKind.WEBHOOK: Medium.WEBHOOK,
}


class ChannelAccount(ScopedModel):
    """One business unit's account with a provider: its settings and its credentials, encrypted at rest
    with a key of that unit (`guanxi.messaging.credentials`)."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("business unit")
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=ChannelKind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    # Host, port, sender, sign name, endpoint…: everything but secrets.
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # Fernet token of a JSON object (password, access key secret, app secret, signing secret).
    secrets = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["unit_id", "name"]
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="channel_account_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @property
    def medium(self) -> str:
        return MEDIUM_OF_KIND[ChannelKind(self.kind)]


class MessagingPolicy(ScopedModel):
    """A unit's sending rules: quiet hours and the frequency budget, both in the recipient's time."""

    unit = models.OneToOneField("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    quiet_start = models.TimeField(_("quiet hours start"), default="21:00")
    quiet_end = models.TimeField(_("quiet hours end"), default="08:00")
    # ISO weekdays (1 = Monday … 7 = Sunday) that are quiet all day (France's Sundays, say).
    quiet_weekdays = models.JSONField(_("quiet days"), default=list, blank=True)
    daily_cap = models.PositiveSmallIntegerField(_("marketing messages a day"), default=2)
    weekly_cap = models.PositiveSmallIntegerField(_("marketing messages a week"), default=5)
    # Consent evidence older than this no longer counts (None: consent stands until withdrawn).
    consent_max_age_days = models.PositiveIntegerField(_("consent valid for (days)"), null=True, blank=True)
    # 【店铺名】: the signature every SMS of this unit starts with.
    sms_signature = models.CharField(_("SMS signature"), max_length=20, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Policy of unit {self.unit_id}"


class Template(ScopedModel):
    """A message per channel medium, in zh-Hans and English, with its versions. A unit's template with
    the same key and medium replaces an organisation-wide one (unit empty) for that unit."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("business unit"),
    )
    key = models.SlugField(_("key"), max_length=64)
    name = models.CharField(_("name"), max_length=100)
    medium = models.CharField(_("channel"), max_length=16, choices=Medium.choices)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    current_version = models.ForeignKey(
        "TemplateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["key", "medium"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "key", "medium"], name="template_unique_key"),
            models.UniqueConstraint(
                fields=["key", "medium"],
                condition=models.Q(unit__isnull=True),
                name="template_unique_key_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.medium})"

    @property
    def audit_label(self) -> str:
        return self.name  # the key is a code; the log shows what people call the template

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(unit__in=unit_ids) | models.Q(unit__isnull=True)


class TemplateVersion(models.Model):
    """The contents of a template as saved once: never changed, so a message names exactly what it said.

    `contents` is {language: {"subject": …, "body": …, "fields": {name: text}}}; `fields` are the values
    a provider's own template takes (Alibaba Cloud TemplateParam, WeChat template data)."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    contents = models.JSONField(default=dict)
    # The provider's template id: Alibaba Cloud TemplateCode, WeChat template_id.
    provider_template = models.CharField(_("provider template"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["template_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number}"


class MessageQuerySet(ScopedQuerySet):
    def pending(self) -> "MessageQuerySet":
        """Rows a worker may still take: queued, held, or interrupted while sending."""
        return self.filter(state__in=Message.PENDING_STATES)


class Message(Claimable, ScopedModel):
    """One message in the outbox; the send key makes it at most one per (source step, recipient, medium)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        HELD = "held", _("Held")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown")
        DROPPED = "dropped", _("Dropped")
        CANCELLED = "cancelled", _("Cancelled")

    PENDING_STATES = (State.QUEUED, State.HELD, State.SENDING)
    # Marketing messages in these states count towards the frequency budget: they were (maybe) sent.
    ATTEMPTED_STATES = (State.SENDING, State.SENT, State.DELIVERED, State.UNKNOWN)

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("business unit")
    )
    channel = models.ForeignKey(
        ChannelAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    medium = models.CharField(_("channel"), max_length=16, choices=Medium.choices)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # A member of staff (a ticket alert): users are not customers, and need no marketing consent.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(_("address"), max_length=500, blank=True)
    address_hash = models.CharField(max_length=64, blank=True)
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    template_version = models.ForeignKey(
        TemplateVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    send_key = models.CharField(_("send key"), max_length=255, unique=True)
    # Who asked: "marketing.campaign:12", "service.ticket:7", "manual" — grouping in lists and figures.
    source = models.CharField(_("source"), max_length=100, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), blank=True)
    fields = models.JSONField(default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    # Why it was held, dropped or failed: a code (`reasons.py`), translated where it is shown.
    reason = models.CharField(_("reason"), max_length=40, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("send started"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    # The recipient's time zone as the gates used it.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = MessageQuerySet.as_manager()  # type: ignore[misc]  # django-stubs#1713

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "available_at"], name="message_due"),
            models.Index(fields=["claim_token"], name="message_claim"),
            models.Index(fields=["customer", "purpose", "started_at"], name="message_budget"),
            models.Index(fields=["customer", "created_at"], name="message_history"),
            models.Index(fields=["channel", "provider_message_id"], name="message_provider_id"),
            models.Index(fields=["unit", "created_at"], name="message_unit_time"),
        ]

    def __str__(self) -> str:
        return f"Message #{self.pk} ({self.state})"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.state in self.PENDING_STATES


class Suppression(ScopedModel):
    """An address that must not be sent to: an opt-out (marketing only), or a hard bounce, complaint or
    erasure (everything). Kept by a peppered hash of the address, so an erased person stays suppressed
    without their address being kept."""

    class Scope(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        ALL = "all", _("All messages")

    class Reason(models.TextChoices):
        OPT_OUT = "opt_out", _("Opted out")
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        COMPLAINT = "complaint", _("Complaint")
        ERASED = "erased", _("Personal data erased")
        MANUAL = "manual", _("Blocked by staff")

    medium = models.CharField(_("channel"), max_length=16, choices=Medium.choices)
    address_hash = models.CharField(max_length=64)
    masked_address = models.CharField(_("address"), max_length=100, blank=True)
    scope = models.CharField(_("applies to"), max_length=16, choices=Scope.choices)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(_("source"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["medium", "address_hash"], name="suppression_unique_address")
        ]
        indexes = [models.Index(fields=["customer"], name="suppression_customer")]

    def __str__(self) -> str:
        return f"{self.medium} suppressed ({self.reason})"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _customer_visible(unit_ids)


class DeliveryReport(models.Model):
    """What a provider said after accepting a message: delivered, failed, bounced, complained."""

    class Kind(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Not delivered")
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        SOFT_BOUNCE = "soft_bounce", _("Soft bounce")
        COMPLAINT = "complaint", _("Complaint")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    provider_status = models.CharField(_("provider status"), max_length=64, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [models.UniqueConstraint(fields=["message", "kind"], name="delivery_report_unique")]

    def __str__(self) -> str:
        return f"{self.kind} for message {self.message_id}"


class InboundMessage(ScopedModel):
    """A reply received through a channel (an SMS "TD" to the gateway's number), kept as evidence."""

    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    provider_id = models.CharField(max_length=128)
    address_hash = models.CharField(max_length=64)
    masked_address = models.CharField(_("from"), max_length=100, blank=True)
    text = models.CharField(_("text"), max_length=500)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_opt_out = models.BooleanField(_("opt-out"), default=False)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    UNIT_FIELD = "channel__unit"

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "provider_id"], name="inbound_message_unique")
        ]

    def __str__(self) -> str:
        return f"Inbound #{self.pk}"


class ContactPreference(ScopedModel):
    """One of a customer's messaging preferences: their time zone, language or preferred channel."""

    class Name(models.TextChoices):
        TIME_ZONE = "time_zone", _("Time zone")
        LANGUAGE = "language", _("Language")
        MEDIUM = "medium", _("Preferred channel")

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=16, choices=Name.choices)
    value = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "name"], name="contact_preference_unique")]

    def __str__(self) -> str:
        return f"{self.name} of customer {self.customer_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _customer_visible(unit_ids)
