"""Company customers (企业客户) and their contacts (联系人), who are customer profiles."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.querysets import ScopedModel


class Account(ScopedModel):
    """A company a unit sells to: a distributor, a hotel group, a corporate buyer. Its people are
    `Contact`s, each one customer profile, so a buyer who also shops online is one person."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("company name"), max_length=200)
    industry = models.CharField(_("industry"), max_length=64, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    phone = models.CharField(_("switchboard"), max_length=32, blank=True)
    province = models.CharField(_("province"), max_length=32, blank=True)
    city = models.CharField(_("city"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    OWNER_FIELD = "owner"

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("account")
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="sales_account_unit_name")]
        indexes = [models.Index(fields=["owner", "name"], name="sales_account_owner")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class Contact(ScopedModel):
    """A person at an account: the customer profile, with their title there."""

    class Role(models.TextChoices):
        DECISION_MAKER = "decision_maker", _("Decision maker")
        INFLUENCER = "influencer", _("Influencer")
        BUYER = "buyer", _("Buyer")
        USER = "user", _("User")
        GATEKEEPER = "gatekeeper", _("Gatekeeper")
        OTHER = "other", _("Other")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="sales_contacts", db_index=False
    )
    title = models.CharField(_("title"), max_length=64, blank=True)
    role = models.CharField(_("role in buying"), max_length=16, choices=Role.choices, blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    OWNER_FIELD = "account__owner"

    class Meta:
        ordering = ["-is_primary", "id"]
        verbose_name = _("contact")
        constraints = [
            models.UniqueConstraint(fields=["account", "customer"], name="sales_contact_account_customer")
        ]
        indexes = [models.Index(fields=["customer", "account"], name="sales_contact_customer")]

    def __str__(self) -> str:
        return f"Contact {self.customer_id} at {self.account_id}"

    @classmethod
    def scope_by_units(cls, unit_ids: list[int]) -> models.Q:
        return models.Q(account__unit__in=unit_ids)
