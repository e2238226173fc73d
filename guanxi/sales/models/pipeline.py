"""Opportunities (商机) moving through a unit's pipeline of stages, with their products, competitors
(竞争对手), quotes and bids (投标), and the history of their stages."""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.money import amount_field_kwargs
from guanxi.core.querysets import ScopedModel


class ForecastCategory(models.TextChoices):
    """How sure a rep is of an open opportunity (HubSpot's and Salesforce's forecast categories)."""

    PIPELINE = "pipeline", _("Pipeline")
    BEST_CASE = "best_case", _("Best case")
    COMMIT = "commit", _("Commit")
    OMITTED = "omitted", _("Omitted")


class Pipeline(ScopedModel):
    """A unit's sales process: its stages in order, the currency of its amounts, and the store in
    commerce where won opportunities become orders (the unit's direct-sales store by default)."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    name = models.CharField(_("name"), max_length=100)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    store = models.ForeignKey(
        "commerce.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("store for won orders"),
    )
    is_default = models.BooleanField(_("default pipeline"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["unit_id", "-is_default", "name"]
        verbose_name = _("pipeline")
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="sales_pipeline_unit_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class Stage(ScopedModel):
    """One step of a pipeline, with the chance that an opportunity in it is won. A pipeline has open
    stages in order, then exactly one won and one lost stage."""

    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=64)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"), default=10, validators=[MaxValueValidator(100)]
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.OPEN)
    forecast_category = models.CharField(
        _("forecast category"),
        max_length=16,
        choices=ForecastCategory.choices,
        default=ForecastCategory.PIPELINE,
    )

    class Meta:
        ordering = ["pipeline_id", "position", "id"]
        verbose_name = _("stage")
        constraints = [
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="sales_stage_probability"),
            models.UniqueConstraint(
                fields=["pipeline", "kind"], condition=~models.Q(kind="open"), name="sales_stage_one_closed"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.kind == self.Kind.OPEN

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(pipeline__unit__in=unit_ids)


class Opportunity(ScopedModel):
    """A deal with one account or person: its amount, expected close and stage. Won, it becomes one
    order in commerce (`order`); lost, it keeps its reason. `last_activity_at` and `stale_since`
    are the rulebook's clock, as on a lead."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    class LostReason(models.TextChoices):
        PRICE = "price", _("Price too high")
        COMPETITOR = "competitor", _("Lost to a competitor")
        NO_BUDGET = "no_budget", _("No budget")
        NO_DECISION = "no_decision", _("No decision")
        TIMING = "timing", _("Bad timing")
        PRODUCT_FIT = "product_fit", _("Products do not fit")
        UNRESPONSIVE = "unresponsive", _("Stopped responding")
        OTHER = "other", _("Other")

    unit = models.ForeignKey(
        "accounts.BusinessUnit",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("unit"),
        db_index=False,  # the composite indexes below lead with it
    )
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="opportunities", db_index=False
    )  # sales_opp_board_totals leads with it
    # Indexed by the composite indexes below, which lead with unit, owner and stage.
    stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, related_name="+", verbose_name=_("stage"), db_index=False
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
    name = models.CharField(_("name"), max_length=200)
    account = models.ForeignKey(
        "sales.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
        verbose_name=_("account"),
    )
    contact = models.ForeignKey(
        "sales.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("contact"),
    )
    # The buyer whose order a win creates (the contact's profile, or a person without an account).
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.DecimalField(_("amount"), **amount_field_kwargs())
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    # Blank: the stage's category.
    forecast_category = models.CharField(
        _("forecast category"), max_length=16, choices=ForecastCategory.choices, blank=True
    )
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    lost_reason = models.CharField(_("lost reason"), max_length=16, choices=LostReason.choices, blank=True)
    lost_note = models.CharField(_("note"), max_length=300, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    order = models.ForeignKey(
        "commerce.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead = models.ForeignKey("sales.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stage_entered_at = models.DateTimeField(default=timezone.now)
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
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            # A kanban column: one stage's cards by expected close, or the deals it closed lately.
            models.Index(fields=["stage", "expected_close", "id"], name="sales_opp_stage_close"),
            models.Index(fields=["stage", "closed_at"], name="sales_opp_stage_closed"),
            # The board's totals per stage, read from the index alone whatever restrict() adds (unit,
            # owner): 80,000 open deals of a pipeline summed in 40 ms instead of 110 (bench sales).
            models.Index(
                fields=["pipeline", "status", "stage", "unit", "owner", "amount"],
                name="sales_opp_board_totals",
            ),
            models.Index(fields=["owner", "stage", "expected_close"], name="sales_opp_owner_stage"),
            models.Index(fields=["unit", "created_at"], name="sales_opp_unit_created"),
            models.Index(fields=["owner", "created_at"], name="sales_opp_owner_created"),
            models.Index(fields=["unit", "status", "last_activity_at"], name="sales_opp_unit_activity"),
            models.Index(fields=["unit", "status", "closed_at"], name="sales_opp_unit_closed"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def shown_forecast_category(self) -> str:
        return self.forecast_category or self.stage.forecast_category


class OpportunityLine(ScopedModel):
    """A product of an opportunity: becomes a line of the order a win creates."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "commerce.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    name = models.CharField(_("product"), max_length=200)
    category = models.CharField(_("category"), max_length=64, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), **amount_field_kwargs())
    amount = models.DecimalField(_("amount"), **amount_field_kwargs())

    OWNER_FIELD = "opportunity__owner"

    class Meta:
        ordering = ["opportunity_id", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(opportunity__unit__in=unit_ids)


class Competitor(ScopedModel):
    """Another company a unit meets in its deals (竞争对手), with what it knows of them."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+", verbose_name=_("unit")
    )
    name = models.CharField(_("name"), max_length=200)
    website = models.CharField(_("website"), max_length=200, blank=True)
    strengths = models.TextField(_("strengths"), blank=True)
    weaknesses = models.TextField(_("weaknesses"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("competitor")
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="sales_competitor_unit_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class OpportunityCompetitor(ScopedModel):
    """A competitor met in one opportunity: how threatening, and their price if known."""

    class Threat(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="competitors")
    competitor = models.ForeignKey(Competitor, on_delete=models.CASCADE, related_name="+")
    threat = models.CharField(_("threat"), max_length=8, choices=Threat.choices, default=Threat.MEDIUM)
    their_price = models.DecimalField(
        _("their price"), null=True, blank=True, max_digits=14, decimal_places=2
    )
    notes = models.CharField(_("notes"), max_length=300, blank=True)

    OWNER_FIELD = "opportunity__owner"

    class Meta:
        ordering = ["opportunity_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "competitor"], name="sales_opp_competitor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.competitor_id} in {self.opportunity_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(opportunity__unit__in=unit_ids)


class Quote(ScopedModel):
    """A price offered for an opportunity: a quote (报价) or a tender bid (投标). Its lines are a
    snapshot of the opportunity's products when it was made."""

    class Kind(models.TextChoices):
        QUOTE = "quote", _("Quote")
        BID = "bid", _("Bid")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="quotes")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.QUOTE)
    number = models.CharField(_("number"), max_length=32)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    amount = models.DecimalField(_("amount"), **amount_field_kwargs())
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    # [{"sku", "name", "quantity", "unit_price", "amount"}] with amounts as decimal strings.
    lines = models.JSONField(_("lines"), default=list, blank=True)
    terms = models.TextField(_("terms"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    OWNER_FIELD = "opportunity__owner"

    class Meta:
        ordering = ["opportunity_id", "-created_at", "-id"]
        verbose_name = _("quote")
        constraints = [models.UniqueConstraint(fields=["opportunity", "number"], name="sales_quote_number")]

    def __str__(self) -> str:
        return self.number

    @property
    def audit_label(self) -> str:
        return self.number

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(opportunity__unit__in=unit_ids)


class StageChange(ScopedModel):
    """An opportunity entering a stage (its first stage too): the funnel, cycle times and history."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount"), **amount_field_kwargs())
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    OWNER_FIELD = "opportunity__owner"

    class Meta:
        ordering = ["opportunity_id", "changed_at", "id"]
        indexes = [models.Index(fields=["opportunity", "changed_at"], name="sales_stage_change_opp")]

    def __str__(self) -> str:
        return f"{self.opportunity_id} → {self.to_stage_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(opportunity__unit__in=unit_ids)
