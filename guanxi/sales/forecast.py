"""The forecast of a period per rep and unit: quota, won, the open pipeline by forecast category,
the weighted pipeline (amount × stage probability), attainment and commission.

Only what the viewer may see counts (restrict(): a rep's own deals and quota, a sales manager's
team's, a unit's for its head). Deals won count in the month they were closed in their unit's time
zone; open deals count in the month they are expected to close. Commission is each month's won
amount at that month's rate: the rep's quota rate when it has one, else the unit's.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, Sum, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from guanxi.accounts.models import BusinessUnit, User
from guanxi.core.money import round_money
from guanxi.sales.models import ForecastCategory, Opportunity, Quota, SalesRules
from guanxi.sales.periods import Period
from guanxi.sales.rulebook import month_start

ZERO = Decimal("0.00")
HUNDRED = Decimal("100")


@dataclass
class ForecastRow:
    """One rep's (or, with `owner_id` None, one unit's) figures in one currency."""

    unit_id: int
    unit_name: str
    owner_id: int | None
    owner_name: str
    currency: str
    quota: Decimal = ZERO
    won: Decimal = ZERO
    commit: Decimal = ZERO
    best_case: Decimal = ZERO
    pipeline: Decimal = ZERO
    weighted: Decimal = ZERO
    commission: Decimal = ZERO
    won_by_month: dict[date, Decimal] = field(default_factory=dict, repr=False)

    @property
    def attainment(self) -> Decimal | None:
        """Won as a percentage of quota (one decimal), None without a quota."""
        if not self.quota:
            return None
        return (self.won * HUNDRED / self.quota).quantize(Decimal("0.1"))

    @property
    def best_case_total(self) -> Decimal:
        """What the period closes at if every commit and best-case deal is won."""
        return self.won + self.commit + self.best_case


@dataclass(frozen=True)
class Forecast:
    period: Period
    reps: tuple[ForecastRow, ...]
    units: tuple[ForecastRow, ...]


def forecast(user: Any, period: Period) -> Forecast:
    units = {unit.pk: unit for unit in BusinessUnit.objects.restrict(user, "view")}
    zones = [(pk, SalesRules(unit=unit).zone) for pk, unit in units.items()]
    rows: dict[tuple[int, int | None, str], ForecastRow] = {}

    def row(unit_id: int, owner_id: int | None, currency: str) -> ForecastRow:
        key = (unit_id, owner_id, currency)
        if key not in rows:
            rows[key] = ForecastRow(unit_id, units[unit_id].name, owner_id, "", currency)
        return rows[key]

    visible = Opportunity.objects.restrict(user, "view").filter(unit__in=list(units))
    won = visible.filter(period.instants_q("closed_at", zones), status=Opportunity.Status.WON)
    for unit_id, owner_id, currency, amount, closed_at in won.values_list(
        "unit_id", "owner_id", "currency", "amount", "closed_at"
    ):
        target = row(unit_id, owner_id, currency)
        target.won += amount
        local_month = month_start(timezone.localtime(closed_at, dict(zones)[unit_id]).date())
        target.won_by_month[local_month] = target.won_by_month.get(local_month, ZERO) + amount
    category = Coalesce(NullIf(F("forecast_category"), Value("")), F("stage__forecast_category"))
    weighted = ExpressionWrapper(F("amount") * F("stage__probability"), output_field=DecimalField())
    open_rows = (
        visible.filter(
            status=Opportunity.Status.OPEN, expected_close__gte=period.start, expected_close__lt=period.end
        )
        .annotate(category=category)
        .values("unit_id", "owner_id", "currency", "category")
        .annotate(total=Sum("amount"), weighted_total=Sum(weighted))
        .order_by()
    )
    for item in open_rows:
        target = row(item["unit_id"], item["owner_id"], item["currency"])
        amount = round_money(item["total"] or 0)
        if item["category"] == ForecastCategory.COMMIT:
            target.commit += amount
        elif item["category"] == ForecastCategory.BEST_CASE:
            target.best_case += amount
        elif item["category"] == ForecastCategory.PIPELINE:
            target.pipeline += amount
        if item["category"] != ForecastCategory.OMITTED:
            target.weighted += Decimal(item["weighted_total"] or 0) / HUNDRED
    rates = _rates(user, period, units)
    for quota in Quota.objects.restrict(user, "view").filter(
        unit__in=list(units), month__gte=period.start, month__lt=period.end
    ):
        row(quota.unit_id, quota.user_id, quota.currency).quota += quota.amount
    owners = {user.pk: user.shown_name for user in User.objects.filter(pk__in={key[1] for key in rows})}
    for (unit_id, owner_id, _currency), target in rows.items():
        target.owner_name = owners.get(owner_id, "") if owner_id else ""
        target.weighted = round_money(target.weighted)
        target.commission = round_money(
            sum(
                (
                    amount * rates.get((unit_id, owner_id, month), rates[(unit_id, None, None)])
                    for month, amount in target.won_by_month.items()
                ),
                ZERO,
            )
        )
    reps = tuple(sorted(rows.values(), key=lambda r: (r.unit_name, r.owner_name, r.currency)))
    return Forecast(period, reps, _unit_totals(reps))


def _rates(user: Any, period: Period, units: dict) -> dict[tuple, Decimal]:
    """The commission rate per (unit, rep, month) from quotas, and per unit (rep and month None)."""
    rates: dict[tuple, Decimal] = {}
    for unit in units.values():
        rates[(unit.pk, None, None)] = SalesRules.for_unit(unit).commission_rate
    for unit_id, user_id, month, rate in (
        Quota.objects.restrict(user, "view")
        .filter(
            unit__in=list(units), month__gte=period.start, month__lt=period.end, commission_rate__isnull=False
        )
        .values_list("unit_id", "user_id", "month", "commission_rate")
    ):
        rates[(unit_id, user_id, month)] = rate
    return rates


def _unit_totals(reps: tuple[ForecastRow, ...]) -> tuple[ForecastRow, ...]:
    totals: dict[tuple[int, str], ForecastRow] = {}
    for rep in reps:
        key = (rep.unit_id, rep.currency)
        total = totals.setdefault(key, ForecastRow(rep.unit_id, rep.unit_name, None, "", rep.currency))
        for name in ("quota", "won", "commit", "best_case", "pipeline", "weighted", "commission"):
            setattr(total, name, getattr(total, name) + getattr(rep, name))
    return tuple(sorted(totals.values(), key=lambda r: (r.unit_name, r.currency)))
