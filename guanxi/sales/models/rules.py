"""The group rulebook's thresholds, kept per business unit (seed 002, 客户关系管理系统(CRM)管理办法)."""

from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.querysets import ScopedModel

# 所有录入系统的线索/销售机会需要保证一个月至少有一个跟进更新的"一般行动".
DEFAULT_STALE_AFTER_DAYS = 30
# 对连续两周未登陆帐户的营销人员进行OA的不定期通报.
DEFAULT_INACTIVE_AFTER_DAYS = 14
DEFAULT_COMMISSION_RATE = Decimal("0.0300")


class SalesRules(ScopedModel):
    """One unit's sales rules: when an open lead or opportunity without a logged activity is flagged
    (and whether it then goes back to the unit's pool), when a sales user counts as inactive, how
    new leads are assigned, and the commission rate on won amounts. A unit without a row uses the
    defaults (`SalesRules.for_unit`)."""

    class Assignment(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin among the unit's sales reps")
        MANUAL = "manual", _("Manually, from the unit's pool")

    unit = models.OneToOneField(
        "accounts.BusinessUnit", on_delete=models.CASCADE, related_name="sales_rules", verbose_name=_("unit")
    )
    stale_after_days = models.PositiveSmallIntegerField(
        _("flag open records after days without activity"),
        default=DEFAULT_STALE_AFTER_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    return_stale_to_pool = models.BooleanField(_("return flagged records to the pool"), default=False)
    inactive_after_days = models.PositiveSmallIntegerField(
        _("report sales users inactive after days without a logged activity"),
        default=DEFAULT_INACTIVE_AFTER_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    assignment = models.CharField(
        _("lead assignment"), max_length=16, choices=Assignment.choices, default=Assignment.ROUND_ROBIN
    )
    # The round-robin cursor: the rep who got the last lead.
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    commission_rate = models.DecimalField(
        _("commission rate"),
        max_digits=5,
        decimal_places=4,
        default=DEFAULT_COMMISSION_RATE,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("A share of won amounts: 0.0300 is 3%."),
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sales rules")
        verbose_name_plural = _("sales rules")

    def __str__(self) -> str:
        return f"Sales rules of unit {self.unit_id}"

    @classmethod
    def for_unit(cls, unit) -> "SalesRules":
        """The unit's rules, or the defaults (unsaved) when it never changed them."""
        return cls.objects.filter(unit=unit).first() or cls(unit=unit)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.unit.time_zone)
