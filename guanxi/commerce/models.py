from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.claims import Claimable
from guanxi.core.display import render
from guanxi.core.money import amount_field_kwargs, validate_currency
from guanxi.core.querysets import ScopedModel
from guanxi.core.zones import DEFAULT_TIME_ZONE, validate_time_zone


class Channel(models.TextChoices):
    TMALL = "tmall", _("Tmall")
    TAOBAO = "taobao", _("Taobao")
    JD = "jd", _("JD")
    DOUYIN = "douyin", _("Douyin")
    WECHAT_MINIPROGRAM = "wechat_mp", _("WeChat mini-program")
    SHOPIFY = "shopify", _("Shopify")
    WOOCOMMERCE = "woocommerce", _("WooCommerce")
    OWN_SITE = "own_site", _("Own site")
    OFFLINE = "offline", _("Offline store")


class Store(ScopedModel):
    """A shop on one channel, owned by one business unit."""

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.PROTECT, related_name="stores")
    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    # The source namespace of every external record from this store: "tmall:guanxi-home".
    source = models.CharField(_("source"), max_length=64, unique=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY", validators=[validate_currency])
    # Where the shop trades; its platform's local times (in imports without an offset) are read in it.
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=DEFAULT_TIME_ZONE, validators=[validate_time_zone]
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Shared secret that signs this store's webhooks (Shopify app secret, WooCommerce webhook
    # secret). Never logged, audited or shown after it is set.
    webhook_secret = models.CharField(_("webhook secret"), max_length=200, blank=True, editable=False)
    # After a rotation the secret it replaced still signs deliveries until `previous_secret_until`
    # (an hour): the platform may take that long to start signing with the new one.
    previous_webhook_secret = models.CharField(max_length=200, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Reconciliation (guanxi.commerce.reconcile): the platform's REST API, polled for the orders
    # updated since `reconciled_until`, recovers webhooks the platform never delivered.
    api_url = models.URLField(_("shop address"), max_length=200, blank=True)
    api_key = models.CharField(_("API key"), max_length=200, blank=True)  # WooCommerce consumer key
    # Shopify Admin API access token or WooCommerce consumer secret: kept like the webhook secret.
    api_secret = models.CharField(max_length=200, blank=True, editable=False)
    reconciled_until = models.DateTimeField(null=True, blank=True, editable=False)
    reconciled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last pass: {"fetched": n, "recovered": n, "rejected": n} or {"error": code}.
    reconcile_result = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["unit_id", "name"]
        verbose_name = _("store")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @property
    def old_secret_accepted_until(self) -> datetime | None:
        """While the secret a rotation replaced still signs deliveries, until when; otherwise None."""
        until = self.previous_secret_until
        return until if self.previous_webhook_secret and until and until > timezone.now() else None


class Product(models.Model):
    """A sellable SKU, organisation-wide."""

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=64, blank=True)
    price = models.DecimalField(_("list price"), **amount_field_kwargs())

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Order(ScopedModel):
    """An order placed in one store; unique on (source, external_id)."""

    class Status(models.TextChoices):
        CREATED = "created", _("Awaiting payment")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        CLOSED = "closed", _("Closed")
        REFUNDED = "refunded", _("Refunded")

    class Device(models.TextChoices):
        MOBILE = "mobile", _("Mobile")
        PC = "pc", _("PC")
        APP = "app", _("App")
        OFFLINE = "offline", _("Offline")
        UNKNOWN = "", _("Unknown")

    # Statuses that count as a sale in revenue figures.
    SALE_STATUSES = (Status.PAID, Status.SHIPPED, Status.DELIVERED, Status.COMPLETED)

    # No single-column indexes on the foreign keys: each leads a composite index below, and every
    # index is paid for on each of the hundreds of thousands of rows an import writes.
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders", db_index=False)
    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        db_index=False,
    )
    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    number = models.CharField(_("order number"), max_length=128)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.CREATED)
    device = models.CharField(_("device"), max_length=16, choices=Device.choices, blank=True, default="")
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    total_amount = models.DecimalField(_("total"), **amount_field_kwargs())
    refunded_amount = models.DecimalField(_("refunded"), **amount_field_kwargs())
    item_count = models.PositiveIntegerField(_("items"), default=0)
    placed_at = models.DateTimeField(_("placed at"), db_index=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The platform's own last-modified time of the record we hold: an update carrying an older
    # time (a late webhook, a stale export) never overwrites a newer one.
    source_updated_at = models.DateTimeField(_("updated at source"), null=True, blank=True)
    # Platform facts without a column of their own (buyer message, masked contact, shipping
    # method); never used for identity.
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("order")
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="order_source_unique")]
        indexes = [
            models.Index(fields=["unit", "placed_at"]),
            models.Index(fields=["customer", "placed_at"]),
            models.Index(fields=["number"]),
            # Segment conditions on a store ("bought in store A but never in B") read only this index.
            models.Index(fields=["store", "status", "customer"], name="order_store_status_customer"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def audit_label(self) -> str:
        return self.number


class OrderLine(models.Model):
    """One product line of an order.

    `unit_cost` is what one unit of the product cost the merchant (cost of goods) when it was sold,
    as the file or API that brought the line said; empty when the sender did not know it. It lives on
    the line, not on the product, so a later change of a product's cost never rewrites the profit of
    past sales. Margin figures (the reports' margin report) count only lines whose cost is known: a
    line without one is never read as costing nothing.
    """

    # Indexed by order_line_source_unique (order, line_no) and, for lines that have a product,
    # order_line_product: most imported lines have none, and they need no index entry for it.
    # No database constraint (ADR 0009): lines are written only with the ids of orders upserted in the
    # same transaction, and deleting an order deletes its lines (Django's CASCADE); the constraint's
    # check at commit cost a sixth of an import's time.
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="lines", db_index=False, db_constraint=False
    )
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    name = models.CharField(_("product"), max_length=200)
    category = models.CharField(_("category"), max_length=64, blank=True)
    quantity = models.IntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), **amount_field_kwargs())
    amount = models.DecimalField(_("amount"), **amount_field_kwargs())
    unit_cost = models.DecimalField(
        _("unit cost"), **{**amount_field_kwargs(), "default": None}, null=True, blank=True
    )
    # Position of the line in its source (file row, platform line id) so re-imports upsert, not append.
    line_no = models.PositiveBigIntegerField(_("source line"), null=True, blank=True)
    # Copies of the order's who, where, when and status, so that "bought category X in the last year"
    # is one range of one index instead of a join of ten million lines with their orders. Written with
    # the line by every writer (guanxi.commerce.actions.upsert_order_lines), re-pointed by merges; no
    # database constraints, since the order's own foreign keys already hold.
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # order_line_customer_facts leads with it
        related_name="+",
    )
    unit = models.ForeignKey(
        "accounts.BusinessUnit",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # read through order_line_category_facts only
        related_name="+",
    )
    placed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "line_no"], name="order_line_source_unique")]
        indexes = [
            # Every key column, not INCLUDE: SQLite has no INCLUDE, and covering matters most there.
            models.Index(
                fields=["category", "placed_at", "customer", "status", "unit"],
                name="order_line_category_facts",
            ),
            # A customer's lines of a category in a window (segment probes; merges re-point by it).
            models.Index(fields=["customer", "category", "placed_at"], name="order_line_customer_facts"),
            models.Index(
                fields=["product"], condition=models.Q(product__isnull=False), name="order_line_product"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"

    def save(self, *args, **kwargs) -> None:
        if self.placed_at is None and self.order_id is not None:
            order = self.order
            self.customer_id, self.unit_id = order.customer_id, order.unit_id
            self.placed_at, self.status = order.placed_at, order.status
        super().save(*args, **kwargs)


class Return(ScopedModel):
    """Goods returned or money refunded to a customer (a credit note); unique on (source, external_id)."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="returns")
    # unit and customer lead the composite indexes below.
    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.PROTECT, related_name="returns", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="returns",
        db_index=False,
    )
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="returns",
        verbose_name=_("original order"),
    )
    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    number = models.CharField(_("return number"), max_length=128)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    amount = models.DecimalField(_("amount"), **amount_field_kwargs())
    quantity = models.IntegerField(_("quantity"), default=0)
    returned_at = models.DateTimeField(_("returned at"), db_index=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-returned_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="return_source_unique")]
        indexes = [
            models.Index(fields=["customer", "returned_at"]),
            models.Index(fields=["unit", "returned_at"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def audit_label(self) -> str:
        return self.number


class ImportRun(ScopedModel):
    """One import of one file: its state, counts and resume position (the report lives in its errors)."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        INTERRUPTED = "interrupted", _("Interrupted")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=64)
    file_name = models.CharField(_("file name"), max_length=255)
    # Where the file was read from, so an interrupted run can be resumed by the CLI or the worker.
    path = models.CharField(max_length=1000, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    dry_run = models.BooleanField(_("dry run"), default=False)
    # Options the run was started with (store source) and facts found on reading (encoding).
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    # Data rows (after the header) already committed; a resumed run starts after them.
    position = models.PositiveBigIntegerField(_("rows done"), default=0)
    total_rows = models.PositiveBigIntegerField(_("rows"), null=True, blank=True)
    unit = models.ForeignKey(
        "accounts.BusinessUnit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    OWNER_FIELD = "started_by"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "sha256"])]
        verbose_name = _("import")

    def __str__(self) -> str:
        return f"{self.kind} import #{self.pk} ({self.state})"

    @property
    def audit_label(self) -> str:
        return f"{self.file_name} #{self.pk}"


class ImportRowError(models.Model):
    """A row that was rejected (invalid) or skipped (by a preset rule), or imported with a warning
    (a value it carried was dropped), with the reason, for the report."""

    class Level(models.TextChoices):
        REJECTED = "rejected", _("Rejected")
        SKIPPED = "skipped", _("Skipped")
        WARNING = "warning", _("Imported with a warning")

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveBigIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=100, blank=True)
    # A truncated excerpt, stored as plain text; reports neutralise formula-looking values.
    value = models.CharField(_("value"), max_length=200, blank=True)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.REJECTED)
    # Why, as a phrase code and its parameters (guanxi.core.display), put into words when shown;
    # `reason` is the text older versions stored, in the language of the run.
    code = models.CharField(_("code"), max_length=64)
    params = models.JSONField(default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        ordering = ["run_id", "row", "id"]
        indexes = [models.Index(fields=["run", "level", "row"])]

    def __str__(self) -> str:
        return f"row {self.row}: {self.code}"

    @property
    def reason_text(self) -> str:
        """Why, in the reader's language; a row stored by an older version, as it was stored."""
        return render(self.code, self.params, fallback=self.reason)


class ImportMapping(models.Model):
    """A saved column mapping for the generic importers: {"column header": "target"}."""

    kind = models.CharField(_("kind"), max_length=64)
    name = models.CharField(_("name"), max_length=100)
    # Targets are field names ("name", "total_amount") or identity kinds ("identity:mobile").
    mapping = models.JSONField(_("mapping"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="import_mapping_unique")]
        verbose_name = _("import mapping")

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"

    @property
    def audit_label(self) -> str:
        return self.name


class Event(ScopedModel):
    """A behavioural event (browse, add to cart, checkout started…) for segments and triggers.

    Carts are events too: add_to_cart / remove_from_cart / checkout_started carry the cart in
    `properties` ({"cart_id", "sku", "quantity", "price", "currency"}), so there is no Cart model.
    Unique on (source, external_id) so a resent event is stored once.
    """

    class Kind(models.TextChoices):
        BROWSE = "browse", _("Viewed a page or product")
        SEARCH = "search", _("Searched")
        ADD_TO_CART = "add_to_cart", _("Added to cart")
        REMOVE_FROM_CART = "remove_from_cart", _("Removed from cart")
        CHECKOUT_STARTED = "checkout_started", _("Started checkout")
        FAVOURITE = "favourite", _("Added to favourites")
        SIGN_UP = "sign_up", _("Signed up")
        LOGIN = "login", _("Logged in")
        OTHER = "other", _("Other")

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="events")
    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # The sender's own event name; for kind "other" it is what the event is.
    name = models.CharField(_("name"), max_length=100, blank=True)
    # Cookie or device id of a visitor not (yet) known as a customer.
    anonymous_id = models.CharField(_("anonymous id"), max_length=128, blank=True)
    # {"sku", "category", "price", "currency", "quantity", "url", "cart_id", "query"…}
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="event_source_unique")]
        verbose_name = _("event")
        indexes = [
            models.Index(fields=["customer", "kind", "occurred_at"]),
            models.Index(fields=["unit", "kind", "occurred_at"]),
            # "Did event X in the last N days", organisation-wide: a range of this index, nothing else.
            models.Index(fields=["kind", "occurred_at", "customer"], name="event_kind_time_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id}"

    @property
    def audit_label(self) -> str:
        return f"{self.kind} {self.external_id}"


class WebhookDelivery(ScopedModel):
    """One accepted webhook call, kept to drop replays (unique on platform and event id).

    Holds a digest of the body, never the body itself (it carries personal data).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting in the inbox")
        PROCESSED = "processed", _("Processed")
        STALE = "stale", _("Ignored: older than what we hold")
        IGNORED = "ignored", _("Ignored: topic not handled")
        FAILED = "failed", _("Failed")

    platform = models.CharField(_("platform"), max_length=32, choices=Channel.choices)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="webhook_deliveries")
    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(_("event id"), max_length=128)
    topic = models.CharField(_("topic"), max_length=64)
    payload_sha256 = models.CharField(_("payload SHA-256"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    message = models.CharField(_("message"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "event_id"], name="webhook_delivery_unique")
        ]
        indexes = [models.Index(fields=["store", "received_at"])]

    def __str__(self) -> str:
        return f"{self.platform} {self.topic} {self.event_id}"


class WebhookInbox(Claimable):
    """An accepted webhook waiting to be applied (ADR 0040).

    Written with its `WebhookDelivery` in the transaction that acknowledges the call, deleted in the
    one that applies it, so an acknowledged delivery is never lost; the body (personal data) lives
    only until then. Workers take rows through `guanxi.core.claims`, one store at a time, oldest first.
    """

    delivery = models.OneToOneField(WebhookDelivery, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    body = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["claim_token"]), models.Index(fields=["store", "id"])]

    def __str__(self) -> str:
        return f"inbox {self.pk} ({self.store_id})"


class IdempotencyRecord(models.Model):
    """The stored response of an ingestion call made with an Idempotency-Key, for replays."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    endpoint = models.CharField(max_length=200)
    request_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=202)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"
