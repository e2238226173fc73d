from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Right
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.claims import Claimable
from guanxi.core.display import render
from guanxi.core.querysets import ScopedModel, ScopedQuerySet


class Gender(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class CustomerQuerySet(ScopedQuerySet):
    def active(self) -> "CustomerQuerySet":
        """Customers that have not been merged into another one (what lists and search show)."""
        return self.filter(status=Customer.Status.ACTIVE)


class Customer(ScopedModel):
    """One person across every store and unit (organisation-wide profile)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        MERGED = "merged", _("Merged")

    name = models.CharField(_("name"), max_length=100, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    province = models.CharField(_("province"), max_length=32, blank=True)
    city = models.CharField(_("city"), max_length=32, blank=True)
    district = models.CharField(_("district"), max_length=32, blank=True)
    occupation = models.CharField(_("occupation"), max_length=64, blank=True)
    source_channel = models.CharField(_("source channel"), max_length=32, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # A merged customer is kept (not deleted) so the merge can be undone; it points at the survivor.
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="absorbed",
        verbose_name=_("merged into"),
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)

    OWNER_FIELD = "owner"

    objects = CustomerQuerySet.as_manager()  # type: ignore[misc]  # django-stubs#1713: as_manager() cannot be annotated ClassVar

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["province", "city"])]
        verbose_name = _("customer")

    def __str__(self) -> str:
        return f"Customer #{self.pk}"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @property
    def is_merged(self) -> bool:
        return self.status == self.Status.MERGED

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        # A profile is visible to a unit once the person has a relationship with it.
        return _customer_visible(unit_ids, prefix="pk")


class CustomerUnit(models.Model):
    """The relationship that makes a customer visible to a business unit (bought there, created there)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="unit_links")
    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="customer_links")
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "customer"], name="customer_unit_unique")]
        indexes = [models.Index(fields=["customer", "unit"])]

    def __str__(self) -> str:
        return f"{self.customer_id}@{self.unit_id}"


class Identity(ScopedModel):
    """One identifier of a customer (phone, email, WeChat unionid, platform id…), normalised."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Mobile phone")
        EMAIL = "email", _("Email")
        WECHAT_UNIONID = "wechat_unionid", _("WeChat unionid")
        WECHAT_OPENID = "wechat_openid", _("WeChat openid")
        QQ = "qq", _("QQ")
        WEIBO = "weibo", _("Weibo")
        TAOBAO_NICK = "taobao_nick", _("Taobao buyer nick")
        TAOBAO_OAID = "taobao_oaid", _("Taobao OAID")
        SHOPIFY_ID = "shopify_id", _("Shopify customer id")
        WOOCOMMERCE_ID = "woocommerce_id", _("WooCommerce customer id")
        EXTERNAL_ID = "external_id", _("External id")
        # A person id that a mapping table or master-data system assigns across stores.
        PERSON_ID = "person_id", _("Cross-store person id")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=200)
    # Namespace for ids that are only unique within one app/store (openid per app, shop ids).
    namespace = models.CharField(_("namespace"), max_length=64, blank=True, default="")
    source = models.CharField(_("source"), max_length=64, blank=True)
    is_verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # The last four characters, stored and indexed: service agents search by a phone's last four digits.
    value_tail = models.GeneratedField(
        expression=Right("value", 4), output_field=models.CharField(max_length=4), db_persist=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "namespace", "value"], name="identity_unique_value")
        ]
        verbose_name = _("identity")
        indexes = [
            models.Index(fields=["value"], name="identity_value"),
            models.Index(fields=["kind", "value_tail"], name="identity_kind_tail"),
            models.Index(fields=["customer", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of customer {self.customer_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _customer_visible(unit_ids)


def _customer_visible(unit_ids: list[int], prefix: str = "customer") -> models.Q:
    """Rows that belong to a person visible to the units (consent, addresses, tags, custom values).

    A correlated EXISTS on the (customer, unit) key, not `IN (the unit's customers)`: PostgreSQL plans
    both as a semi-join, but SQLite would build the list of a unit's 700,000 customers for every
    search and page (360 ms at 1M) where probing the key for the rows at hand takes microseconds."""
    links = CustomerUnit.objects.filter(unit_id__in=unit_ids, customer_id=models.OuterRef(prefix))
    return models.Q(models.Exists(links))


def _unit_or_customer_visible(unit_ids: list[int]) -> models.Q:
    # Written in one of the units, or written organisation-wide about a customer the units see.
    return models.Q(unit__in=unit_ids) | (models.Q(unit__isnull=True) & _customer_visible(unit_ids))


class IdentityHint(ScopedModel):
    """A value that is not an identity but hints at one: a masked phone (138****5678) or email.

    Never used for automatic merging; it only produces merge suggestions when it agrees with a
    known full value of another customer.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identity_hints")
    kind = models.CharField(_("kind"), max_length=32, choices=Identity.Kind.choices)
    # As received, masked (138****5678); the masked part is never guessed.
    value = models.CharField(_("value"), max_length=200)
    namespace = models.CharField(_("namespace"), max_length=64, blank=True, default="")
    source = models.CharField(_("source"), max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind", "namespace", "value"], name="identity_hint_unique"
            )
        ]
        indexes = [models.Index(fields=["kind", "value"])]

    def __str__(self) -> str:
        return f"{self.kind} hint of customer {self.customer_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _customer_visible(unit_ids)


DEFAULT_COLOUR = "#64748b"
COLOUR = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", _("Use a colour written as # and six hex digits, such as #64748b.")
)


class TagGroup(ScopedModel):
    """A family of tags (lifestyle, interests, service) shown together; organisation-wide."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    colour = models.CharField(_("colour"), max_length=7, default=DEFAULT_COLOUR, validators=[COLOUR])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag group")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q()


class Tag(ScopedModel):
    """A manual label on customers; organisation-wide, so every unit uses the same vocabulary."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    colour = models.CharField(_("colour"), max_length=7, default=DEFAULT_COLOUR, validators=[COLOUR])
    group = models.ForeignKey(
        TagGroup,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tags",
        verbose_name=_("group"),
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q()


class CustomerTag(ScopedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="customer_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="customer_tags")
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["tag__name"]
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="customer_tag_unique")]
        indexes = [models.Index(fields=["tag", "customer"])]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.customer_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _customer_visible(unit_ids)


class Note(ScopedModel):
    """Free text about a customer. A note written in a unit is visible to that unit only."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="customer_notes")
    unit = models.ForeignKey(
        "accounts.BusinessUnit",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("business unit"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "created_at"])]
        verbose_name = _("note")

    def __str__(self) -> str:
        return f"Note #{self.pk}"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _unit_or_customer_visible(unit_ids)


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    WECHAT = "wechat", _("WeChat")
    PHONE = "phone", _("Phone call")


class Consent(ScopedModel):
    """One piece of consent evidence. Append-only: the newest row per channel is the current state."""

    class State(models.TextChoices):
        GRANTED = "granted", _("Granted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Method(models.TextChoices):
        CHECKBOX = "checkbox", _("Checkbox")
        DOUBLE_OPT_IN = "double_opt_in", _("Double opt-in")
        IMPORT = "import", _("Import")
        API = "api", _("API")
        VERBAL = "verbal", _("Verbal")
        WRITTEN = "written", _("Written")
        UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
        REPLY = "reply", _("Reply (TD/退订)")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=16, choices=ConsentChannel.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    method = models.CharField(_("method"), max_length=32, choices=Method.choices)
    # The evidence: what the person agreed to, the version of the wording they were shown, the form
    # or file it came from, and the reply or note received.
    purpose = models.CharField(_("purpose"), max_length=200, blank=True)
    text_version = models.CharField(_("text version"), max_length=64, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    evidence = models.TextField(_("evidence"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unit = models.ForeignKey(
        "accounts.BusinessUnit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["customer", "channel", "recorded_at"])]
        verbose_name = _("consent")

    def __str__(self) -> str:
        return f"{self.channel} {self.state} for {self.customer_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        # Consent is the person's, whichever unit recorded it: every unit that sees them must obey it.
        return _customer_visible(unit_ids)

    @classmethod
    def current_for(cls, customer_id: int) -> dict[str, "Consent"]:
        """The newest evidence row per channel (channels never recorded are absent: no consent)."""
        current: dict[str, Consent] = {}
        for row in cls.objects.filter(customer_id=customer_id).order_by("-recorded_at", "-id"):
            current.setdefault(row.channel, row)
        return current


class Address(ScopedModel):
    """A delivery address of a customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    receiver = models.CharField(_("receiver name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    province = models.CharField(_("province"), max_length=32, blank=True)
    city = models.CharField(_("city"), max_length=32, blank=True)
    district = models.CharField(_("district"), max_length=32, blank=True)
    street = models.CharField(_("street address"), max_length=300, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=16, blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    source = models.CharField(_("source"), max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_default", "-updated_at", "-id"]
        indexes = [models.Index(fields=["customer", "is_default"])]
        verbose_name = _("address")

    def __str__(self) -> str:
        return f"Address #{self.pk}"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _customer_visible(unit_ids)


class CustomFieldDefinition(ScopedModel):
    """A typed custom profile field, defined once for the organisation."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        BOOLEAN = "boolean", _("Yes/no")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(_("key"), max_length=64, unique=True)
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["label"]
        verbose_name = _("custom field")

    def __str__(self) -> str:
        return self.label

    @property
    def audit_label(self) -> str:
        return self.label

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q()


class CustomFieldValue(ScopedModel):
    """A customer's value of one custom field, stored as JSON validated against the definition's type.

    Numbers are stored as decimal strings ("12.50") and dates as ISO dates ("2024-05-01").
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="custom_values")
    definition = models.ForeignKey(CustomFieldDefinition, on_delete=models.CASCADE, related_name="values")
    value = models.JSONField(_("value"), null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "definition"], name="custom_field_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.definition_id} of {self.customer_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _customer_visible(unit_ids)


class TimelineEvent(ScopedModel):
    """Something that happened to a customer. The summary never holds raw personal data."""

    class Kind(models.TextChoices):
        ORDER_PLACED = "order_placed", _("Order placed")
        ORDER_STATUS_CHANGED = "order_status_changed", _("Order status changed")
        RETURN_RECORDED = "return_recorded", _("Return recorded")
        MERGED = "merged", _("Merged")
        UNMERGED = "unmerged", _("Merge undone")
        NOTE_ADDED = "note_added", _("Note added")
        TAG_ADDED = "tag_added", _("Tag added")
        TAG_REMOVED = "tag_removed", _("Tag removed")
        CONSENT_CHANGED = "consent_changed", _("Consent changed")
        PROFILE_UPDATED = "profile_updated", _("Profile updated")
        ADDRESS_CHANGED = "address_changed", _("Address changed")
        CUSTOM_FIELD_CHANGED = "custom_field_changed", _("Custom field changed")
        MESSAGE_SENT = "message_sent", _("Message sent")
        TICKET_OPENED = "ticket_opened", _("Ticket opened")
        TICKET_CLOSED = "ticket_closed", _("Ticket closed")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="timeline_events")
    unit = models.ForeignKey(
        "accounts.BusinessUnit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    summary = models.CharField(_("summary"), max_length=300)
    data = models.JSONField(default=dict, blank=True)
    # The object the event is about ("commerce.order", "42"), for links and de-duplication.
    source_type = models.CharField(max_length=64, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["customer", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.kind} of {self.customer_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _unit_or_customer_visible(unit_ids)


class MergeRecord(ScopedModel):
    """One merge of `absorbed` into `survivor`, with everything needed to split them back exactly.

    `snapshot` holds the absorbed customer's fields, the survivor's fields before survivorship,
    the ids of every row re-pointed per table, and the rows removed or changed by de-duplication.
    """

    survivor = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_survived")
    absorbed = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_absorbed")
    snapshot = models.JSONField(default=dict)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    evidence = models.JSONField(_("evidence"), default=list, blank=True)
    automatic = models.BooleanField(_("automatic"), default=False)
    merged_at = models.DateTimeField(_("merged at"), default=timezone.now)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-merged_at", "-id"]
        indexes = [models.Index(fields=["absorbed", "undone_at"])]
        verbose_name = _("merge")

    def __str__(self) -> str:
        return f"Merge #{self.pk}: {self.absorbed_id} into {self.survivor_id}"

    @property
    def audit_label(self) -> str:
        return f"#{self.absorbed_id} → #{self.survivor_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None

    @property
    def reason_text(self) -> str:
        """The reason in the reader's language: a phrase code of guanxi.customers.phrases, or the
        words a person gave (shown as given)."""
        return render(self.reason, fallback=self.reason)

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return _customer_visible(unit_ids, prefix="survivor")


class MergeSuggestion(ScopedModel):
    """Two customers that weaker evidence says may be one person, waiting for a person to decide."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        # One of the two was merged with a third customer: the pair no longer exists as suggested.
        SUPERSEDED = "superseded", _("Superseded by another merge")

    # Ordered pair: customer_a has the lower id, so one pair has one suggestion.
    customer_a = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    customer_b = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"), default=0)
    # A list of {"code": ..., "detail": ...} reasons; details are masked, never raw PII.
    evidence = models.JSONField(_("evidence"), default=list, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merge = models.ForeignKey(MergeRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-score", "-created_at", "-id"]
        verbose_name = _("merge suggestion")
        constraints = [
            models.UniqueConstraint(fields=["customer_a", "customer_b"], name="merge_suggestion_pair_unique"),
            models.CheckConstraint(
                condition=models.Q(customer_a__lt=models.F("customer_b")),
                name="merge_suggestion_pair_ordered",
            ),
        ]
        indexes = [models.Index(fields=["state", "score"])]

    def __str__(self) -> str:
        return f"Suggestion #{self.pk}: {self.customer_a_id} ~ {self.customer_b_id}"

    @property
    def audit_label(self) -> str:
        return f"#{self.customer_a_id} ~ #{self.customer_b_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        # Both people must be visible: a suggestion reveals that the other profile exists.
        return _customer_visible(unit_ids, prefix="customer_a") & _customer_visible(
            unit_ids, prefix="customer_b"
        )


class CustomerChange(Claimable):
    """A customer whose orders, events, tags or profile changed, as one reader of the change feed will
    see it (`guanxi.customers.changes`): written once per reader in the changing action's transaction,
    so a rolled-back change leaves no row, and deleted by that reader once it has dealt with the
    customer. A plain integer, not a foreign key, so writing costs one insert and merges or deletions
    never cascade here."""

    customer_id = models.BigIntegerField()
    reader = models.CharField(max_length=32)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A reader's oldest rows, and the customers it holds, without reading other readers' rows.
            models.Index(fields=["reader", "id"], name="customer_change_reader"),
            models.Index(fields=["reader", "lease_expires_at"], name="customer_change_lease"),
            models.Index(fields=["claim_token"], name="customer_change_claim"),
        ]

    def __str__(self) -> str:
        return f"Customer #{self.customer_id} changed at {self.changed_at:%Y-%m-%d %H:%M:%S} ({self.reader})"
