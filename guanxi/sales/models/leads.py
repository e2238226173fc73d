"""Leads (线索): people who may buy, from the UI, the API, a CSV file or a public web form."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.money import amount_field_kwargs
from guanxi.core.querysets import ScopedModel


class Lead(ScopedModel):
    """A prospective buyer of one unit. Name, phone and email are personal data: masked for roles
    without the PII permission, never written to the audit log. `phone_key` and `email_key` hold the
    normalised identity values that deduplicate leads and match them to known customers."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        WORKING = "working", _("Working")
        QUALIFIED = "qualified", _("Qualified")
        DISQUALIFIED = "disqualified", _("Disqualified")
        CONVERTED = "converted", _("Converted")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Entered by hand")
        WEB_FORM = "web_form", _("Web form")
        API = "api", _("API")
        IMPORT = "import", _("CSV import")
        REFERRAL = "referral", _("Referral")
        TRADE_SHOW = "trade_show", _("Trade show")
        INBOUND_CALL = "inbound_call", _("Inbound call")
        OTHER = "other", _("Other")

    class DisqualifyReason(models.TextChoices):
        NO_NEED = "no_need", _("No need")
        NO_BUDGET = "no_budget", _("No budget")
        NO_AUTHORITY = "no_authority", _("Not a decision maker")
        NOT_A_FIT = "not_a_fit", _("Not a fit for our products")
        UNREACHABLE = "unreachable", _("Unreachable")
        COMPETITOR = "competitor", _("Chose a competitor")
        DUPLICATE = "duplicate", _("Duplicate")
        SPAM = "spam", _("Spam")
        OTHER = "other", _("Other")

    OPEN_STATUSES = (Status.NEW, Status.WORKING, Status.QUALIFIED)

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
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    name = models.CharField(_("name"), max_length=100, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    title = models.CharField(_("title"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.CharField(_("email"), max_length=200, blank=True)
    phone_key = models.CharField(max_length=32, blank=True, editable=False)
    email_key = models.CharField(max_length=200, blank=True, editable=False)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    source_detail = models.CharField(_("source detail"), max_length=100, blank=True)
    # The sender's id of an API or file lead (unique per unit and source), so a resend changes nothing.
    external_id = models.CharField(_("external id"), max_length=128, blank=True)
    description = models.TextField(_("description"), blank=True)
    estimated_amount = models.DecimalField(_("estimated amount"), **amount_field_kwargs())
    # A known customer with the same phone or email (set on capture), later the converted contact.
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The wording the person agreed to on the web form, kept as evidence.
    consent_text = models.CharField(_("consent"), max_length=300, blank=True)
    disqualify_reason = models.CharField(
        _("disqualification reason"), max_length=16, choices=DisqualifyReason.choices, blank=True
    )
    disqualify_note = models.CharField(_("note"), max_length=300, blank=True)
    account = models.ForeignKey(
        "sales.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    qualified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)  # disqualified or converted
    # The rulebook's clock: the last logged activity (creation until there is one); stale_since is
    # set when it is older than the unit's threshold and cleared by the next activity.
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now)
    stale_since = models.DateTimeField(_("flagged stale"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    OWNER_FIELD = "owner"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead")
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="sales_lead_external_id",
            )
        ]
        indexes = [
            models.Index(fields=["unit", "status", "created_at"], name="sales_lead_unit_status"),
            models.Index(fields=["owner", "status", "created_at"], name="sales_lead_owner_status"),
            models.Index(fields=["unit", "created_at"], name="sales_lead_unit_created"),
            models.Index(fields=["unit", "phone_key"], name="sales_lead_phone"),
            models.Index(fields=["unit", "email_key"], name="sales_lead_email"),
        ]

    def __str__(self) -> str:
        return f"Lead #{self.pk}"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class LeadForm(ScopedModel):
    """A public web form that turns visitors into the unit's leads (web-to-lead). Reached by its
    unguessable key; the merchant links to it or embeds it in an iframe."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+", verbose_name=_("unit")
    )
    key = models.CharField(max_length=32, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100)
    heading = models.CharField(_("heading"), max_length=200)
    introduction = models.TextField(_("introduction"), blank=True)
    consent_text = models.CharField(
        _("consent wording"),
        max_length=300,
        blank=True,
        help_text=_("Shown beside a checkbox the visitor must tick; left empty, no checkbox is shown."),
    )
    thank_you = models.CharField(_("thank-you message"), max_length=300, blank=True)
    is_active = models.BooleanField(_("accepting submissions"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["unit_id", "name"]
        verbose_name = _("lead form")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class LeadTransfer(ScopedModel):
    """A request to hand a lead to another unit. The rulebook sends every cross-unit allocation
    through the group (跨版块分配 by the group marketing department), so a group-wide user decides.
    The receiving unit sees the request once it is approved."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="transfers")
    from_unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    to_unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=300)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=300, blank=True)

    OWNER_FIELD = "requested_by"

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("lead transfer")
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=models.Q(state="requested"), name="sales_transfer_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"Transfer of lead {self.lead_id}"

    @property
    def audit_label(self) -> str:
        return f"lead #{self.lead_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(from_unit__in=unit_ids) | models.Q(to_unit__in=unit_ids, state="approved")
