from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.querysets import ScopedModel


class Gender(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class Customer(ScopedModel):
    """One person across every store and unit (organisation-wide profile)."""

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
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("owner"),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    OWNER_FIELD = "owner"

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["province", "city"])]

    def __str__(self) -> str:
        return f"Customer #{self.pk}"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        # A profile is visible to a unit once the person has a relationship with it.
        return models.Q(pk__in=CustomerUnit.objects.filter(unit_id__in=unit_ids).values("customer_id"))


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

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=200)
    # Namespace for ids that are only unique within one app/store (openid per app, shop ids).
    namespace = models.CharField(_("namespace"), max_length=64, blank=True, default="")
    source = models.CharField(_("source"), max_length=64, blank=True)
    is_verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "namespace", "value"], name="identity_unique_value")
        ]
        indexes = [models.Index(fields=["customer", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} of customer {self.customer_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(customer__in=Customer.objects.filter(Customer.scope_by_units(unit_ids)).values("pk"))
