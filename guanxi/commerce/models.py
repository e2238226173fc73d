from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.money import amount_field_kwargs
from guanxi.core.querysets import ScopedModel


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
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["unit_id", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


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

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders")
    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
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

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="order_source_unique")]
        indexes = [
            models.Index(fields=["unit", "placed_at"]),
            models.Index(fields=["customer", "placed_at"]),
            models.Index(fields=["number"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def audit_label(self) -> str:
        return self.number


class OrderLine(models.Model):
    """One product line of an order."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    name = models.CharField(_("product"), max_length=200)
    category = models.CharField(_("category"), max_length=64, blank=True)
    quantity = models.IntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), **amount_field_kwargs())
    amount = models.DecimalField(_("amount"), **amount_field_kwargs())
    # Position of the line in its source (file row, platform line id) so re-imports upsert, not append.
    line_no = models.PositiveBigIntegerField(_("source line"), null=True, blank=True)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "line_no"], name="order_line_source_unique")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"


class Return(ScopedModel):
    """Goods returned or money refunded to a customer (a credit note); unique on (source, external_id)."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="returns")
    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="returns"
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

    def __str__(self) -> str:
        return f"{self.kind} import #{self.pk} ({self.state})"

    @property
    def audit_label(self) -> str:
        return f"{self.kind} #{self.pk}"


class ImportRowError(models.Model):
    """A row that was rejected (invalid) or skipped (by a preset rule), with the reason, for the report."""

    class Level(models.TextChoices):
        REJECTED = "rejected", _("Rejected")
        SKIPPED = "skipped", _("Skipped")

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveBigIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=100, blank=True)
    # A truncated excerpt, stored as plain text; reports neutralise formula-looking values.
    value = models.CharField(_("value"), max_length=200, blank=True)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.REJECTED)
    code = models.CharField(_("code"), max_length=64)
    reason = models.CharField(_("reason"), max_length=300)

    class Meta:
        ordering = ["run_id", "row", "id"]
        indexes = [models.Index(fields=["run", "level", "row"])]

    def __str__(self) -> str:
        return f"row {self.row}: {self.code}"
