"""Marketing: durable flows (versioned step lists, enrolments, one row per step executed) and one-off
campaigns to a segment with a holdout and an optional A/B split (ADR 0037)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.claims import Claimable
from guanxi.core.querysets import ScopedModel


class Flow(ScopedModel):
    """An automated journey of one business unit. Its steps live in versions; enrolments keep the
    version they entered on, so publishing a new one never changes a journey in flight."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")

    class Reentry(models.TextChoices):
        EVERY_TRIGGER = "every", _("Every time the trigger happens")
        ONCE = "once", _("Once per customer")
        NOT_WHILE_ACTIVE = "not_active", _("Not while already in the flow")

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    # Set on the built-in journeys so installing them again updates instead of duplicating.
    key = models.SlugField(_("key"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    reentry = models.CharField(
        _("re-entry"), max_length=12, choices=Reentry.choices, default=Reentry.EVERY_TRIGGER
    )
    holdout_percent = models.DecimalField(
        _("holdout (%)"), max_digits=5, decimal_places=2, default=Decimal("10.00")
    )
    current_version = models.ForeignKey(
        "FlowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The effect report counts what an enrolled customer paid within this many days of entering.
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=7)
    message_cost = models.DecimalField(
        _("cost per message"), max_digits=8, decimal_places=4, default=Decimal("0.0500")
    )
    # Only triggers that happen from this moment on enrol (set when the flow is switched on).
    active_since = models.DateTimeField(_("active since"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("flow")
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "key"], condition=~models.Q(key=""), name="flow_key_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class FlowVersion(ScopedModel):
    """One published shape of a flow: its trigger, steps, exit conditions and goal (see `steps.py`)."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"), default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="flow_version_unique")]

    def __str__(self) -> str:
        return f"{self.flow_id} v{self.number}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(flow__unit__in=unit_ids)


class Enrolment(Claimable, ScopedModel):
    """One customer's journey through one flow, started by one trigger occurrence (`trigger_key`,
    such as `order:42`); workers claim due enrolments under a lease, so a dead worker's are resumed."""

    class State(models.TextChoices):
        ACTIVE = "active", _("In progress")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Left by an exit condition")
        HOLDOUT = "holdout", _("Held out (control group)")
        FAILED = "failed", _("Failed")

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="enrolments")
    version = models.ForeignKey(FlowVersion, on_delete=models.PROTECT, related_name="enrolments")
    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    trigger_key = models.CharField(max_length=100)
    # What the trigger was about: {"order_id": 42} or {"event_id": 7}.
    context = models.JSONField(default=dict, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.ACTIVE)
    # The id of the next step to run ("" when finished); `due_at` is when.
    step = models.CharField(_("step"), max_length=32, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    variant = models.CharField(_("path"), max_length=16, blank=True)
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=32, blank=True)
    converted_at = models.DateTimeField(_("goal reached"), null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "customer", "trigger_key"], name="enrolment_trigger_unique"
            )
        ]
        indexes = [
            models.Index(fields=["state", "due_at"], name="enrolment_due"),
            models.Index(fields=["customer", "state"], name="enrolment_customer"),
            models.Index(fields=["claim_token"], name="enrolment_claim"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in flow {self.flow_id}"


class StepRun(ScopedModel):
    """A step executed for an enrolment: written in the transaction that does the step's work, and
    unique per enrolment and step, so a step's effects happen once however often a worker retries."""

    class Outcome(models.TextChoices):
        DONE = "done", _("Done")
        WAITING = "waiting", _("Waiting")
        SKIPPED = "skipped", _("Skipped")
        YES = "yes", _("Condition met")
        NO = "no", _("Condition not met")

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="runs")
    step = models.CharField(max_length=32)
    kind = models.CharField(max_length=24)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.DONE)
    detail = models.JSONField(default=dict, blank=True)
    ran_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["enrolment", "ran_at", "id"]
        constraints = [models.UniqueConstraint(fields=["enrolment", "step"], name="step_run_once")]

    def __str__(self) -> str:
        return f"{self.enrolment_id}:{self.step}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(enrolment__unit__in=unit_ids)


class Campaign(ScopedModel):
    """A one-off send to a segment: a message template (and an optional coupon), a holdout that
    receives nothing, and optionally a second variant for an A/B test."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        AWAITING_APPROVAL = "approval", _("Awaiting approval")
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    key = models.SlugField(_("key"), max_length=64, blank=True)
    segment = models.ForeignKey(
        "segments.Segment", on_delete=models.PROTECT, related_name="+", verbose_name=_("segment")
    )
    channel = models.CharField(_("channel"), max_length=16, default="best")
    template = models.CharField(_("message template"), max_length=64)
    template_b = models.CharField(_("variant B template"), max_length=64, blank=True)
    coupon = models.ForeignKey(
        "loyalty.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("coupon"),
    )
    coupon_b = models.ForeignKey(
        "loyalty.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("variant B coupon"),
    )
    holdout_percent = models.DecimalField(
        _("holdout (%)"), max_digits=5, decimal_places=2, default=Decimal("10.00")
    )
    b_percent = models.DecimalField(
        _("variant B share of the treated (%)"), max_digits=5, decimal_places=2, default=Decimal("0.00")
    )
    significance = models.DecimalField(
        _("significance level"), max_digits=4, decimal_places=3, default=Decimal("0.050")
    )
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=7)
    message_cost = models.DecimalField(
        _("cost per message"), max_digits=8, decimal_places=4, default=Decimal("0.0500")
    )
    # With an A/B test: only `test_percent` of the treated are split A/B; the rest wait, and get the
    # winning variant once the test is significant (`campaigns.send_winners`).
    auto_send_winner = models.BooleanField(_("send the winner to the rest"), default=False)
    test_percent = models.DecimalField(
        _("share of the treated in the test (%)"), max_digits=5, decimal_places=2, default=Decimal("20.00")
    )
    winner = models.CharField(_("winner"), max_length=1, blank=True)
    winner_sent_at = models.DateTimeField(_("winner sent"), null=True, blank=True)
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class Recipient(ScopedModel):
    """A customer of a campaign's audience as it was at send time, and the group they fell in."""

    class Group(models.TextChoices):
        HOLDOUT = "holdout", _("Holdout")
        A = "a", _("Variant A")
        B = "b", _("Variant B")
        REST = "rest", _("Waiting for the winner")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    group = models.CharField(_("group"), max_length=8, choices=Group.choices)
    message_id = models.BigIntegerField(null=True, blank=True)
    coupon_code = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["campaign", "customer"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_recipient_unique")
        ]
        indexes = [models.Index(fields=["customer"], name="campaign_recipient_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} in campaign {self.campaign_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(campaign__unit__in=unit_ids)


class MarketingSettings(ScopedModel):
    """A unit's marketing-wide options: the global holdout, a share of customers (chosen by a stable
    hash of unit and customer) that receives nothing from any flow or campaign, so the effect of all
    marketing together can be measured against them."""

    unit = models.OneToOneField(
        "accounts.BusinessUnit", on_delete=models.CASCADE, related_name="marketing_settings"
    )
    global_holdout_percent = models.DecimalField(
        _("global holdout (%)"), max_digits=5, decimal_places=2, default=Decimal("0.00")
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("marketing settings")
        verbose_name_plural = _("marketing settings")

    def __str__(self) -> str:
        return f"marketing settings of {self.unit_id}"

    @property
    def audit_label(self) -> str:
        return str(_("marketing settings"))
