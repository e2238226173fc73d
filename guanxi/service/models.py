"""Customer service (客户服务): tickets from creation to archive (创建 → 分配 → 处理 → 反馈 → 归档), what
happened on them, the unit's queue and SLA settings with its holiday calendar, cross-unit transfers,
follow-up calls (客户回访) and satisfaction surveys."""

import secrets
from datetime import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.querysets import ScopedModel


class TicketType(models.TextChoices):
    INQUIRY = "inquiry", _("Inquiry")
    COMPLAINT = "complaint", _("Complaint")
    AFTER_SALES = "after_sales", _("Return / after-sales")
    SUGGESTION = "suggestion", _("Suggestion")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class TicketChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    CHAT = "chat", _("Online chat (旺旺/QQ)")
    WECHAT = "wechat", _("WeChat")
    SMS = "sms", _("SMS")
    WEB = "web", _("Web form")
    API = "api", _("API")


class ComplaintReason(models.TextChoices):
    """The seed's satisfaction dimensions (唯品会 客户满意度指标): what a complaint is about."""

    PRODUCT = "product", _("Product quality")
    PRICE = "price", _("Price")
    LOGISTICS = "logistics", _("Logistics and delivery")
    PAYMENT = "payment", _("Payment")
    SERVICE = "service", _("Service attitude")
    WEBSITE = "website", _("Website or app")
    OTHER = "other", _("Other")


class Status(models.TextChoices):
    CREATED = "created", _("Created")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting on customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed (archived)")


OPEN_STATUSES = (Status.CREATED, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING)
# The statuses whose tickets count as an agent's load.
WORKING_STATUSES = (Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING)


class AssignmentMode(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")
    MANUAL = "manual", _("Manual (the queue)")


class ServiceSettings(ScopedModel):
    """A unit's service desk: how new tickets are dealt out, its support address, its business hours
    and how long before a deadline the warning goes out."""

    unit = models.OneToOneField(
        "accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+", verbose_name=_("unit")
    )
    assignment = models.CharField(
        _("assignment"), max_length=16, choices=AssignmentMode.choices, default=AssignmentMode.ROUND_ROBIN
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    support_address = models.EmailField(_("support address"), blank=True, db_index=True)
    opens = models.TimeField(_("opens"), default=time(9, 0))
    closes = models.TimeField(_("closes"), default=time(18, 0))
    # Working weekdays as digits, Monday 0 ("01234": Monday to Friday).
    weekdays = models.CharField(_("working weekdays"), max_length=7, default="01234")
    warn_minutes = models.PositiveIntegerField(_("warn this many business minutes before"), default=60)

    class Meta:
        verbose_name = _("service settings")

    def __str__(self) -> str:
        return f"service settings of {self.unit_id}"

    @property
    def audit_label(self) -> str:
        return str(self.unit)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.unit.time_zone)


class Holiday(ScopedModel):
    """A day of the unit's calendar that differs from its weekly rhythm: a public holiday off (放假),
    or an adjusted working day (调休上班) on a weekend."""

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    is_day_off = models.BooleanField(_("day off"), default=True)
    name = models.CharField(_("name"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["unit", "day"], name="service_holiday_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.name}"

    @property
    def audit_label(self) -> str:
        return str(self.day)


class SlaPolicy(ScopedModel):
    """Targets for one type and priority of ticket in a unit, in business minutes."""

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    ticket_type = models.CharField(_("type"), max_length=16, choices=TicketType.choices)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(_("first response (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"))

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["ticket_type", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "ticket_type", "priority"], name="service_sla_unique")
        ]

    def __str__(self) -> str:
        return f"{self.ticket_type}/{self.priority}"

    @property
    def audit_label(self) -> str:
        return f"{self.get_ticket_type_display()} / {self.get_priority_display()}"


class AgentShift(ScopedModel):
    """Whether an agent takes new tickets in a unit now (on shift). An agent without a row is on shift."""

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    on_shift = models.BooleanField(default=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("agent shift")
        verbose_name_plural = _("agent shifts")
        constraints = [models.UniqueConstraint(fields=["unit", "user"], name="service_shift_unique")]


class Ticket(ScopedModel):
    """One request of one customer: a question, a complaint, a return or after-sales case, or a
    suggestion. Deadlines are moments computed from the unit's SLA policy in business hours; while the
    ticket waits on the customer (`paused_at`) its clocks stand still and move on when it resumes."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    subject = models.CharField(_("subject"), max_length=200)
    ticket_type = models.CharField(
        _("type"), max_length=16, choices=TicketType.choices, default=TicketType.INQUIRY
    )
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    channel = models.CharField(
        _("channel"), max_length=8, choices=TicketChannel.choices, default=TicketChannel.PHONE
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.CREATED)
    complaint_reason = models.CharField(
        _("complaint reason"), max_length=12, choices=ComplaintReason.choices, blank=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("assignee"),
        db_index=False,
    )
    orders = models.ManyToManyField("commerce.Order", blank=True, related_name="+", through="TicketOrder")
    # The address replies go to when the ticket came by e-mail, and the Message-ID it started with.
    email_address = models.EmailField(blank=True)
    email_message_id = models.CharField(max_length=250, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened = models.PositiveIntegerField(default=0)
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    first_response_warned_at = models.DateTimeField(null=True, blank=True)
    resolution_warned_at = models.DateTimeField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        indexes = [
            models.Index(fields=["unit", "status", "created_at"], name="service_ticket_queue"),
            models.Index(fields=["assignee", "status", "created_at"], name="service_ticket_assignee"),
            models.Index(fields=["customer", "created_at"], name="service_ticket_customer"),
            models.Index(fields=["unit", "created_at"], name="service_ticket_unit_created"),
            models.Index(
                fields=["first_response_due"],
                condition=models.Q(
                    first_response_at__isnull=True,
                    first_response_breached_at__isnull=True,
                    status__in=["created", "assigned", "in_progress"],
                ),
                name="service_ticket_fr_scan",
            ),
            models.Index(
                fields=["resolution_due"],
                condition=models.Q(
                    resolution_breached_at__isnull=True, status__in=["created", "assigned", "in_progress"]
                ),
                name="service_ticket_res_scan",
            ),
            models.Index(fields=["email_message_id"], name="service_ticket_message_id"),
            # The inbox: a unit's queue oldest first, an agent's open tickets by their deadline.
            models.Index(
                fields=["unit", "created_at"],
                condition=models.Q(status="created", assignee__isnull=True),
                name="service_ticket_queue_open",
            ),
            models.Index(
                fields=["assignee", "resolution_due"],
                condition=models.Q(status__in=["created", "assigned", "in_progress", "waiting"]),
                name="service_ticket_mine_open",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def next_due(self):
        """The deadline running now: the first response until it is given, then the resolution; None
        when no clock runs (resolved, archived)."""
        if self.status not in OPEN_STATUSES:
            return None
        return self.first_response_due if self.first_response_at is None else self.resolution_due

    def is_late(self, now) -> bool:
        due = self.next_due
        return due is not None and self.paused_at is None and due < now


class TicketOrder(ScopedModel):
    """An order a ticket is about."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="order_links")
    order = models.ForeignKey("commerce.Order", on_delete=models.CASCADE, related_name="+")

    UNIT_FIELD = "ticket__unit"

    class Meta:
        verbose_name = _("ticket order")
        verbose_name_plural = _("ticket orders")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "order"], name="service_ticket_order_unique")
        ]


class TicketEvent(ScopedModel):
    """One entry of a ticket's conversation and history: what the customer wrote, an agent's reply or
    internal note, and every transition, assignment, transfer, SLA warning or breach, survey. `body` is
    what a person wrote; everything else is a kind and its data, put into words when shown."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        INBOUND = "inbound", _("Customer wrote")
        REPLY = "reply", _("Reply")
        NOTE = "note", _("Internal note")
        ASSIGNED = "assigned", _("Assigned")
        STATUS = "status", _("Status changed")
        TRANSFER = "transfer", _("Transferred")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACH = "sla_breach", _("SLA breached")
        SURVEY = "survey", _("Survey")
        FOLLOW_UP = "follow_up", _("Follow-up")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # An e-mail's Message-ID (inbound) for threading and replay protection; the outbox row of a reply.
    message_id = models.CharField(max_length=250, blank=True)
    outbox_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    UNIT_FIELD = "ticket__unit"

    class Meta:
        verbose_name = _("ticket entry")
        verbose_name_plural = _("ticket entries")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="service_event_ticket"),
            models.Index(fields=["message_id"], name="service_event_message_id"),
        ]


def _attachment_path(instance: "Attachment", filename: str) -> str:
    return f"service/{secrets.token_hex(16)}/{filename}"


class Attachment(ScopedModel):
    """A file on a ticket entry: checked for size and kind before it is stored (service/attachments.py),
    read back only through the permission-checked download."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(TicketEvent, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path, max_length=200)
    name = models.CharField(_("file name"), max_length=120)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    UNIT_FIELD = "ticket__unit"

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


class InboundEmail(models.Model):
    """Every e-mail received for a support address, once: a replayed Message-ID is found here and
    creates nothing."""

    message_id = models.CharField(max_length=250, unique=True)
    recipient = models.CharField(max_length=254)
    sender = models.CharField(max_length=254)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    # What became of it: "created", "threaded", or "no_unit" (nobody's support address).
    outcome = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name = _("inbound e-mail")
        verbose_name_plural = _("inbound e-mails")

    def __str__(self) -> str:
        return self.message_id


class Transfer(ScopedModel):
    """A ticket handed to another unit (跨版块): it moves when a manager of each side has agreed."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        DONE = "done", _("Transferred")
        REJECTED = "rejected", _("Rejected")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="transfers")
    from_unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    to_unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ticket transfer")
        verbose_name_plural = _("ticket transfers")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"transfer of {self.ticket_id}"

    @property
    def audit_label(self) -> str:
        return f"#{self.ticket_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(from_unit__in=unit_ids) | models.Q(to_unit__in=unit_ids)


class FollowUp(ScopedModel):
    """A scheduled call back to the customer (客户回访): after a complaint is resolved or after a low
    satisfaction score, with the outcome recorded."""

    class Reason(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint resolved")
        RESOLVED = "resolved", _("Ticket resolved")
        LOW_SCORE = "low_score", _("Low satisfaction score")
        MANUAL = "manual", _("Planned by hand")

    class Outcome(models.TextChoices):
        SATISFIED = "satisfied", _("Satisfied")
        UNSATISFIED = "unsatisfied", _("Still unsatisfied")
        UNREACHABLE = "unreachable", _("Could not reach")

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="follow_ups"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    due_at = models.DateTimeField(_("due"))
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("follow-up call")
        verbose_name_plural = _("follow-up calls")
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["unit", "done_at", "due_at"], name="service_followup_due")]

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"


class Survey(ScopedModel):
    """A satisfaction survey sent to a customer: CSAT (1–5) after a ticket is closed, or NPS (0–10).
    Answered once, through a signed link, without signing in."""

    class Kind(models.TextChoices):
        CSAT = "csat", _("CSAT (1–5)")
        NPS = "nps", _("NPS (0–10)")

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="surveys"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    outbox_id = models.BigIntegerField(null=True, blank=True)
    # An NPS send's name ("2026 Q4 NPS", a segment job's key): one invitation per customer per round, so a
    # retried send or a re-run job invites nobody twice.
    round = models.CharField(_("round"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["unit", "kind", "answered_at"], name="service_survey_answered")]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "round", "customer"],
                condition=~models.Q(round=""),
                name="service_survey_round_once",
            )
        ]

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @property
    def top(self) -> int:
        return 5 if self.kind == self.Kind.CSAT else 10


class CannedReply(ScopedModel):
    """A prepared answer agents insert into a reply, in Chinese and English."""

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=100)
    body_zh = models.TextField(_("text (Chinese)"))
    body_en = models.TextField(_("text (English)"), blank=True)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def audit_label(self) -> str:
        return self.title
