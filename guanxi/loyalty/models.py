"""Loyalty: a programme per business unit, its versioned earn rules and tier ladder, memberships with
their tier history, the double-entry points ledger (movements of balanced entries, lots for FIFO
expiry) and coupons (templates and their pools of single-use codes).

The ledger is append-only: a movement and its entries are never updated or deleted. Every movement's
entries sum to zero, so the whole ledger does too. A member's balance is the sum of their `member`
entries; `Lot.remaining` caches what is left of each credit (the check command proves it equal to its
entries), so a debit takes points from the oldest lots first without reading the whole history.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.money import amount_field_kwargs
from guanxi.core.querysets import ScopedModel


class Programme(ScopedModel):
    """A business unit's membership programme (会员体系): its points, their value and expiry, and how
    tiers are qualified and reviewed."""

    class Expiry(models.TextChoices):
        END_OF_NEXT_YEAR = "end_of_next_year", _("At the end of the next calendar year")
        MONTHS = "months", _("A number of months after they are earned")
        NEVER = "never", _("Never")

    unit = models.OneToOneField(
        "accounts.BusinessUnit", on_delete=models.PROTECT, related_name="loyalty_programme"
    )
    name = models.CharField(_("name"), max_length=100)
    points_name = models.CharField(_("points are called"), max_length=20, default="积分")
    point_value = models.DecimalField(
        _("value of one point"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0.0100"),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("What one point is worth to the merchant, for the liability report."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    expiry = models.CharField(
        _("points expire"), max_length=20, choices=Expiry.choices, default=Expiry.END_OF_NEXT_YEAR
    )
    expiry_months = models.PositiveSmallIntegerField(
        _("months until expiry"), default=24, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    qualifying_days = models.PositiveSmallIntegerField(
        _("qualifying window (days)"), default=365, validators=[MinValueValidator(1), MaxValueValidator(1825)]
    )
    review_months = models.PositiveSmallIntegerField(
        _("tier review period (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    grace_days = models.PositiveSmallIntegerField(
        _("grace period before a downgrade (days)"), default=30, validators=[MaxValueValidator(365)]
    )
    referrer_points = models.PositiveIntegerField(
        _("referral reward to the referrer (points)"),
        default=0,
        help_text=_("Credited when the referred friend's first paid order earns points."),
    )
    referee_points = models.PositiveIntegerField(_("referral reward to the new member (points)"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("loyalty programme")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class EarnRule(ScopedModel):
    """One version of a programme's earn rule. A change is a new version from its effective time: an
    order earns by the version in force when it was paid, so a change is never retroactive."""

    UNIT_FIELD = "programme__unit"

    class Rounding(models.TextChoices):
        FLOOR = "floor", _("Round down")
        HALF_UP = "half_up", _("Round to nearest")
        CEILING = "ceiling", _("Round up")

    class OnStatus(models.TextChoices):
        PAID = "paid", _("When the order is paid")
        COMPLETED = "completed", _("When the order is completed")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="rules")
    effective_from = models.DateTimeField(_("effective from"))
    points_per_yuan = models.DecimalField(
        _("points per yuan paid"),
        max_digits=8,
        decimal_places=4,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(0))],
    )
    rounding = models.CharField(
        _("rounding"), max_length=10, choices=Rounding.choices, default=Rounding.FLOOR
    )
    on_status = models.CharField(_("earn"), max_length=10, choices=OnStatus.choices, default=OnStatus.PAID)
    delay_days = models.PositiveSmallIntegerField(
        _("days after payment (return window)"), default=0, validators=[MaxValueValidator(90)]
    )
    max_points_per_order = models.PositiveIntegerField(_("cap per order"), null=True, blank=True)
    # {"category": "2.0"}: multipliers of a line's points by its product category.
    category_multipliers = models.JSONField(_("category multipliers"), default=dict, blank=True)
    # {"<store id>": "1.5"}: multipliers of an order's points by its store.
    store_multipliers = models.JSONField(_("store multipliers"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("earn rule")
        ordering = ["programme", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "effective_from"], name="loyalty_rule_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.programme} @ {self.effective_from:%Y-%m-%d %H:%M}"


class CouponTemplate(ScopedModel):
    """A kind of coupon a programme hands out: what it is worth, where and for how long."""

    UNIT_FIELD = "programme__unit"

    class Kind(models.TextChoices):
        SPEND_SAVE = "spend_save", _("Spend and save (满减)")
        PERCENT_OFF = "percent_off", _("Percent off (折扣)")
        BUY_GET = "buy_get", _("Buy N get M (多买多送)")
        CASHBACK = "cashback", _("Cash back as points (返现)")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="coupon_templates")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    min_spend = models.DecimalField(_("minimum spend"), **amount_field_kwargs())
    amount_off = models.DecimalField(_("amount off"), **amount_field_kwargs())
    percent_off = models.DecimalField(
        _("percent off"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )
    buy_quantity = models.PositiveSmallIntegerField(_("buy"), default=0)
    free_quantity = models.PositiveSmallIntegerField(_("get free"), default=0)
    cashback_points = models.PositiveIntegerField(_("cash back (points)"), default=0)
    categories = models.JSONField(_("categories"), default=list, blank=True)
    stackable = models.BooleanField(_("combines with other coupons"), default=False)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(
        _("valid days from issue"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("coupon template")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class Tier(ScopedModel):
    """A rung of the ladder (银卡 → 金卡 → 白金卡 → 钻石卡). Rank 0 is where members start; a higher
    rank is qualified by spend, orders and/or qualifying points within the programme's window."""

    UNIT_FIELD = "programme__unit"

    class Match(models.TextChoices):
        ANY = "any", _("Any one condition")
        ALL = "all", _("All conditions")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="tiers")
    rank = models.PositiveSmallIntegerField(_("rank"))
    name = models.CharField(_("name"), max_length=50)
    min_spend = models.DecimalField(_("minimum spend"), **amount_field_kwargs())
    min_orders = models.PositiveIntegerField(_("minimum orders"), default=0)
    min_points = models.PositiveIntegerField(_("minimum qualifying points"), default=0)
    match = models.CharField(_("qualifies on"), max_length=3, choices=Match.choices, default=Match.ANY)
    discount_percent = models.DecimalField(
        _("member discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )
    free_shipping = models.BooleanField(_("free shipping"), default=False)
    birthday_points = models.PositiveIntegerField(_("birthday gift (points)"), default=0)
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(0))],
    )
    exclusive_coupon = models.ForeignKey(
        CouponTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("exclusive coupon"),
    )

    class Meta:
        verbose_name = _("tier")
        ordering = ["programme", "rank"]
        constraints = [models.UniqueConstraint(fields=["programme", "rank"], name="loyalty_tier_rank_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class Membership(ScopedModel):
    """A customer's membership of a programme: their tier and when it is next reviewed."""

    UNIT_FIELD = "programme__unit"

    class Via(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        APPLICATION = "application", _("Application")
        INVITATION = "invitation", _("Invitation")

    programme = models.ForeignKey(  # (programme, tier) below serves lookups by programme
        Programme, on_delete=models.PROTECT, related_name="memberships", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="loyalty_memberships", db_index=False
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="memberships")
    tier_since = models.DateTimeField(_("in tier since"))
    review_at = models.DateTimeField(_("next review"))
    grace_until = models.DateTimeField(_("grace until"), null=True, blank=True)
    joined_at = models.DateTimeField(_("joined"))
    joined_via = models.CharField(_("joined by"), max_length=12, choices=Via.choices, default=Via.PURCHASE)
    # The member's own code for inviting friends; drawn the first time it is asked for.
    referral_code = models.CharField(_("referral code"), max_length=16, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("member")
        ordering = ["-joined_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "programme"], name="loyalty_membership_unique")
        ]
        indexes = [models.Index(fields=["programme", "tier"]), models.Index(fields=["review_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id} @ {self.programme_id}"


class TierChange(ScopedModel):
    """One change of a member's tier, with its reason and the figures it was decided on."""

    UNIT_FIELD = "programme__unit"

    class Reason(models.TextChoices):
        JOINED = "joined", _("Joined")
        UPGRADE = "upgrade", _("Qualified for a higher tier")
        DOWNGRADE = "downgrade", _("Did not requalify at review")
        GRACE = "grace", _("Grace period started at review")
        RECALC = "recalc", _("Recalculated")

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    changed_at = models.DateTimeField(_("changed at"))
    # {"spend": "123.00", "orders": 2, "points": 120}: the qualifying figures at the change.
    figures = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("tier change")
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["customer", "changed_at"])]


class Account(models.TextChoices):
    """The ledger's accounts. `member` and `debt` are per customer; the others are the programme's."""

    MEMBER = "member", _("Member balance")
    DEBT = "debt", _("Member debt")
    EARNED = "earned", _("Earned")
    REDEEMED = "redeemed", _("Redeemed")
    EXPIRED = "expired", _("Expired")
    REVERSED = "reversed", _("Reversed")
    ADJUSTED = "adjusted", _("Adjusted")
    REFERRAL = "referral", _("Referral")
    CASHBACK = "cashback", _("Cash back")
    BONUS = "bonus", _("Bonus")


class Movement(ScopedModel):
    """One movement of points: two or more entries that sum to zero. `key` makes it idempotent
    (an order earns once however often it is delivered)."""

    UNIT_FIELD = "programme__unit"

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned on an order")
        REVERSE = "reverse", _("Reversed on a return")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Manual adjustment")
        CASHBACK = "cashback", _("Coupon cash back")
        BONUS = "bonus", _("Bonus")
        REFERRAL = "referral", _("Referral reward")

    # Indexes a bulk earning pays for on every row are kept only where a query needs them: the
    # programme leads the unique key's index, and rule versions are never deleted (ADR 0042). The
    # references the backfill writes have no database constraints, as on lots and entries: checked at
    # COMMIT they locked every customer and order row earned on (a backfill 1.4–1.7× slower); the
    # ORM's PROTECT and SET_NULL still act on deletes and `guanxi loyalty check` proves each one.
    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="movements", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=120)
    # The change to the member's position (balance plus debt): positive for earning, negative for spending.
    points = models.BigIntegerField(_("points"))
    order = models.ForeignKey(
        "commerce.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    rule = models.ForeignKey(
        EarnRule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("points movement")
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "key"], name="loyalty_movement_key_unique")
        ]
        indexes = [
            models.Index(fields=["customer", "programme", "occurred_at"]),
            models.Index(fields=["order", "kind"], name="loyalty_movement_order"),
        ]

    def __str__(self) -> str:
        return self.key


class Lot(models.Model):
    """Points credited to a member at once, spent oldest first and expiring together."""

    # Lots are read by member (and programme) or, open ones, by programme and expiry: both indexed below.
    # Lots and entries keep their references without database constraints (ADR 0042): each is written
    # in its movement's transaction with ids just drawn, the ORM's PROTECT still guards deletes, and
    # `guanxi loyalty check` proves every reference in one pass. Checked row by row, they doubled the
    # cost of earning in bulk.
    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    movement = models.ForeignKey(Movement, on_delete=models.PROTECT, related_name="lots", db_constraint=False)
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    earned_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["earned_at", "pk"]
        indexes = [
            models.Index(fields=["customer", "programme", "earned_at"]),
            models.Index(
                fields=["programme", "expires_at"],
                condition=models.Q(remaining__gt=0),
                name="loyalty_lot_open",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(remaining__gte=0), name="loyalty_lot_not_negative")
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.points}"


class Entry(models.Model):
    """One side of a movement: points into (+) or out of (−) an account."""

    # No database constraints on the references, as on lots (see Lot).
    movement = models.ForeignKey(
        Movement, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )
    account = models.CharField(max_length=10, choices=Account.choices)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Never looked up by lot (lots are never deleted): no index to maintain on every entry.
    lot = models.ForeignKey(
        Lot,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
        db_constraint=False,
    )
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["movement", "pk"]
        indexes = [models.Index(fields=["customer", "account"])]

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+d}"


class CouponCode(ScopedModel):
    """A single-use code of a template's pool: available, issued to a customer, redeemed on one order."""

    UNIT_FIELD = "template__programme__unit"

    class State(models.TextChoices):
        AVAILABLE = "available", _("Available")
        ISSUED = "issued", _("Issued")
        REDEEMED = "redeemed", _("Redeemed")
        EXPIRED = "expired", _("Expired")

    # (template, state) below serves lookups by template; the code's uniqueness is a constraint rather
    # than `unique=True`, which on PostgreSQL adds a second (LIKE) index on the random codes. The
    # customer index holds issued codes only: lookups by customer never ask for the pool's available
    # ones, and a million generated codes would add a million entries of NULL to it.
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="codes", db_index=False
    )
    code = models.CharField(_("code"), max_length=40)
    imported = models.BooleanField(default=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.AVAILABLE)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)
    order = models.ForeignKey(
        "commerce.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    discount = models.DecimalField(_("discount"), **amount_field_kwargs())
    # The caller's key of the issue that gave this code (a campaign send, a job): issuing again under
    # the same key gives the customer nothing new.
    issue_key = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        verbose_name = _("coupon")
        ordering = ["-issued_at", "-pk"]
        indexes = [
            models.Index(fields=["template", "state"]),
            models.Index(
                fields=["customer", "state"],
                condition=models.Q(customer__isnull=False),
                name="loyalty_coupon_customer",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="loyalty_coupon_code_unique"),
            models.UniqueConstraint(
                fields=["issue_key", "customer"],
                condition=~models.Q(issue_key=""),
                name="loyalty_coupon_issue_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Referral(ScopedModel):
    """A friend who joined with a member's referral code. Both are rewarded once, when the friend's
    first paid order earns points, unless the fraud rules flag it (same phone, same address, same
    device): then nobody is rewarded and the referral waits for a person to look at it."""

    UNIT_FIELD = "programme__unit"

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the first paid order")
        REWARDED = "rewarded", _("Rewarded")
        FLAGGED = "flagged", _("Flagged, not rewarded")

    class Flag(models.TextChoices):
        SAME_PHONE = "same_phone", _("Same phone as the referrer")
        SAME_ADDRESS = "same_address", _("Same address as the referrer")
        SAME_DEVICE = "same_device", _("Device already used for another referral of this referrer")

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="referrals")
    referrer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("referrer")
    )
    referee = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("referred friend")
    )
    device = models.CharField(_("referral device"), max_length=200, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    flags = models.JSONField(_("flags"), default=list, blank=True)
    created_at = models.DateTimeField(_("referred at"))
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    order = models.ForeignKey(
        "commerce.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("referral")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A friend is referred into a programme once.
            models.UniqueConstraint(fields=["programme", "referee"], name="loyalty_referral_referee_unique")
        ]
        indexes = [models.Index(fields=["programme", "referrer"]), models.Index(fields=["referee", "state"])]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referee_id}"
