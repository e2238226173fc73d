"""The Reports home: the figures a role acts on, this month against last month and the same month a year
ago, each linking to the report that explains it. A figure is shown only when the user may read the read
model behind it; the role decides the order (a marketer's customers first, a service lead's tickets)."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from guanxi.accounts.roles import Role
from guanxi.analytics.models import CustomerMonth
from guanxi.analytics.reports.orders import monthly_targets, seasonal_index
from guanxi.reports import catalogue
from guanxi.reports.kit import Scope, add_months, month_range, percent, reads_rollup, run, this_month
from guanxi.reports.models import RevenueTarget


@dataclass(frozen=True)
class Figure:
    key: str
    label: Promise
    current: Decimal | int
    previous: Decimal | int | None  # None: a figure of now, without a past to compare with
    last_year: Decimal | int | None
    report: str  # the slug of the report behind it
    query: str  # the report's filters for this month
    money: bool = False
    percent: bool = False  # a rate in percent (the change is still relative to the earlier rate)

    @property
    def change(self) -> Decimal | None:
        return _change(self.current, self.previous)

    @property
    def change_year(self) -> Decimal | None:
        return _change(self.current, self.last_year)


def _change(current, before) -> Decimal | None:
    """The change from `before` to `current` in percent; None when there was nothing before."""
    if not before:
        return None
    change = (Decimal(current) - Decimal(before)) * 100 / Decimal(before)
    return change.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Section:
    key: str
    title: Promise
    figures: tuple[Figure, ...]


# What each role looks at first; sections the role may not read are left out. The group manager, the
# unit head (who also leads the unit's service desk) and the analyst read the default order.
ROLE_SECTIONS: dict[str, tuple[str, ...]] = {
    Role.MARKETER: ("customers", "marketing", "sales"),
    Role.SALES_MANAGER: ("pipeline", "sales"),
    Role.SERVICE_AGENT: ("service",),
}
DEFAULT_SECTIONS = ("sales", "customers", "service", "pipeline")


def sections(user, scope: Scope, now: datetime, annual_target: Decimal | None = None) -> list[Section]:
    """The role's sections; with an annual sales target, the month's share of it by the seasonal index
    follows the sales section."""
    month = this_month(now)
    months = (month, add_months(month, -1), add_months(month, -12))
    builders = {
        "sales": ("commerce.view", _sales),
        "customers": ("analytics.view", _customers),
        "service": ("service.view", _service),
        "pipeline": ("sales.view", _pipeline),
        "marketing": ("marketing.view", _marketing),
    }
    out = []
    for key in ROLE_SECTIONS.get(user.role, DEFAULT_SECTIONS):
        permission, build = builders[key]
        if user.has_permission(permission):
            out.append(build(user, scope, months))
            if key == "sales" and annual_target is not None:
                out.extend(_targets(user, scope, now, months, out[-1], annual_target))
    return out


def annual_target(user, unit, now: datetime, what_if: Decimal | None = None) -> Decimal | None:
    """The annual sales target of this year: a page's what-if if given, else the one stored for the unit
    or, for all units, the sum of the stored targets of the units the user sees; None without any."""
    if what_if is not None:
        return what_if
    targets = RevenueTarget.objects.restrict(user, "view").filter(year=this_month(now).year)
    if unit is not None:
        targets = targets.filter(unit=unit)
    return targets.aggregate(total=Sum("amount"))["total"]


def _per_month(rows: QuerySet, field: str, months: tuple[date, ...], **measures) -> list[dict]:
    return [rows.filter(**month_range(field, m, m)).aggregate(**measures) for m in months]


def _month_query(scope: Scope, month: date) -> str:
    return Scope(unit=scope.unit, start=month, end=month).query()


def _sales(user, scope: Scope, months) -> Section:
    orders = catalogue.sale_orders(user, Scope(unit=scope.unit))
    if reads_rollup(Scope(unit=scope.unit)):
        # Revenue and orders from the daily rollup; customers who bought are distinct, not a sum of days.
        days = catalogue.sale_days(user, Scope(unit=scope.unit))
        figures = [
            days.filter(day__gte=m, day__lt=add_months(m, 1)).aggregate(
                revenue=Sum("net_revenue"), orders=Sum("orders")
            )
            | orders.filter(**month_range("placed_at", m, m)).aggregate(
                buyers=Count("customer_id", distinct=True)
            )
            for m in months
        ]
    else:
        figures = _per_month(
            orders,
            "placed_at",
            months,
            revenue=Sum(F("total_amount") - F("refunded_amount")),
            orders=Count("id"),
            buyers=Count("customer_id", distinct=True),
        )
    query = _month_query(scope, months[0])
    shown = (
        _figure("revenue", _("Revenue"), figures, "products", query, money=True),
        _figure("orders", _("Orders"), figures, "products", query),
        _figure("buyers", _("Customers who bought"), figures, "products", query),
    )
    return Section("sales", _("Sales"), shown + _profit(user, scope, months))


def _targets(user, scope: Scope, now: datetime, months, sales: Section, annual: Decimal) -> list[Section]:
    """This month's and last month's revenue targets, the annual target spread by the seasonal index of
    the unit's sales (the Analytics page's 季节指数), and the revenue against each. Nothing when the
    sales cover no full year yet: the index gives no target then."""
    orders = catalogue.sale_orders(user, Scope(unit=scope.unit))
    index = seasonal_index(orders, catalogue.currency(), now)
    targets = {target.month: target.target for target in monthly_targets(index, annual)}
    if not targets:
        return []
    revenue = next(figure for figure in sales.figures if figure.key == "revenue")
    this, last = targets[months[0].month], targets[months[1].month]
    query = _month_query(scope, months[0])
    shown = [
        Figure("target", _("Revenue target this month"), this, last, None, "products", query, money=True)
    ]
    if this > 0:  # a month without sales in the index years has no target to attain
        # Last month without a target compares as 0, which the page shows as "—" (no change to compute).
        before = percent(revenue.previous or 0, last) or Decimal("0.0")
        attained = percent(revenue.current, this) or Decimal("0.0")
        label = _("Revenue against the target")
        shown.append(
            Figure("target_attainment", label, attained, before, None, "products", query, percent=True)
        )
    return [Section("targets", _("Revenue target"), tuple(shown))]


def _profit(user, scope: Scope, months) -> tuple[Figure, ...]:
    """Gross profit of the month's sale lines whose cost is known, as the margin report counts it."""
    if not user.has_permission(catalogue.BY_SLUG["margin"].needs):
        return ()
    if reads_rollup(Scope(unit=scope.unit)):
        days = catalogue.sale_line_days(user, Scope(unit=scope.unit))
        figures = [
            days.filter(day__gte=m, day__lt=add_months(m, 1)).aggregate(profit=catalogue.rollup_profit())
            for m in months
        ]
    else:
        lines = catalogue.sale_lines(user, Scope(unit=scope.unit))
        figures = _per_month(lines, "placed_at", months, profit=catalogue.gross_profit())
    label = _("Gross profit (lines with a known cost)")
    return (_figure("profit", label, figures, "margin", _month_query(scope, months[0]), money=True),)


def _customers(user, scope: Scope, months) -> Section:
    counted = catalogue.customer_months(user, Scope(unit=scope.unit))
    if counted is not None:  # counted with the metrics: a few rows instead of a million
        empty = CustomerMonth()
        first = [{"new": counted.get(m, empty).new_customers} for m in months]
        lost = [{"lost": counted.get(m, empty).lost_customers} for m in months]
        at_risk = counted.get(None, empty).at_risk
    else:
        rows = catalogue.metric_rows(user, Scope(unit=scope.unit))
        first = _per_month(rows, "first_order_at", months, new=Count("id"))
        lost = _per_month(rows.filter(lifecycle_stage="lost"), "last_order_at", months, lost=Count("id"))
        at_risk = rows.filter(churn_risk__gte=catalogue.AT_RISK).count()
    unit_query = Scope(unit=scope.unit).query()
    return Section(
        "customers",
        _("Customers"),
        (
            _figure("new", _("New customers (first order)"), first, "composition", unit_query),
            _figure(
                "lost",
                _("Customers lost (last order that month)"),
                lost,
                "lost",
                _month_query(scope, months[0]),
            ),
            Figure("at_risk", _("Customers at risk now"), at_risk, None, None, "churn", unit_query),
            *_now(user, scope, "liability", 0, _("Points liability now")),
        ),
    )


def _service(user, scope: Scope, months) -> Section:
    rows = catalogue.ticket_rows(user, Scope(unit=scope.unit))
    figures = _per_month(
        rows,
        "created_at",
        months,
        tickets=Count("id"),
        sla_met=Count("id", filter=Q(resolved_at__isnull=False, resolution_breached_at__isnull=True)),
    )
    query = _month_query(scope, months[0])
    return Section(
        "service",
        _("Service"),
        (
            _figure("tickets", _("Tickets opened"), figures, "service", query),
            _figure("sla_met", _("Resolved within the SLA"), figures, "service", query),
        ),
    )


def _pipeline(user, scope: Scope, months) -> Section:
    """Deals won per month (closed in business time), the open pipeline now and, in a month with a
    quota, what was won against it: the sales app's read model, as the pipeline and quota reports read it."""
    won = catalogue.won_rows(user, Scope(unit=scope.unit))
    figures = [
        won.filter(close_month=month).aggregate(won_deals=Count("id"), won_amount=Sum("amount"))
        for month in months
    ]
    query = _month_query(scope, months[0])
    shown = [
        _figure("won_deals", _("Deals won"), figures, "quota", query),
        _figure("won_amount", _("Amount won"), figures, "quota", query, money=True),
    ]
    pipeline = run(catalogue.BY_SLUG["pipeline"], user, Scope(unit=scope.unit)).totals
    unit_query = Scope(unit=scope.unit).query()
    shown += [
        Figure(
            "open_amount", _("Open pipeline"), pipeline[2], None, None, "pipeline", unit_query, money=True
        ),
        Figure(
            "weighted",
            _("Open pipeline, weighted"),
            pipeline[4],
            None,
            None,
            "pipeline",
            unit_query,
            money=True,
        ),
    ]
    attainment = [_attainment(user, scope, month) for month in months]
    if attainment[0] is not None:  # only a month with a quota has an attainment
        # A month without a quota compares as 0, which the page shows as "—" (no change to compute).
        this, last, year_ago = (rate if rate is not None else Decimal("0.00") for rate in attainment)
        shown.append(
            Figure("attainment", _("Won against quota"), this, last, year_ago, "quota", query, percent=True)
        )
    return Section("pipeline", _("Sales pipeline"), tuple(shown))


def _attainment(user, scope: Scope, month: date) -> Decimal | None:
    """Won ÷ quota in percent over the month's quotas (the quota report's total); None without a quota."""
    return run(catalogue.BY_SLUG["quota"], user, Scope(unit=scope.unit, start=month, end=month)).totals[2]


def _marketing(user, scope: Scope, months) -> Section:
    """Campaigns sent per month with marketing's own effect figures, as the campaign effect report shows."""
    figures = []
    for month in months:
        effects = catalogue.campaign_effects(user, Scope(unit=scope.unit, start=month, end=month))
        figures.append(
            {
                "campaigns": len(effects),
                "recipients": sum(values["treated"] for _pk, _name, values in effects),
                "net": sum((Decimal(values["net"]) for _pk, _name, values in effects), Decimal("0.00")),
            }
        )
    query = _month_query(scope, months[0])
    return Section(
        "marketing",
        _("Marketing"),
        (
            _figure("campaigns", _("Campaigns sent"), figures, "campaigns", query),
            _figure("recipients", _("Recipients (treated)"), figures, "campaigns", query),
            _figure(
                "net", _("Incremental revenue after coupon cost"), figures, "campaigns", query, money=True
            ),
        ),
    )


def _now(user, scope: Scope, slug: str, total: int, label: Promise) -> tuple[Figure, ...]:
    """A money figure of now (no past to compare with): one total of a report, when the user may read it."""
    report = catalogue.BY_SLUG[slug]
    if not user.has_permission(report.needs):
        return ()
    value = run(report, user, Scope(unit=scope.unit)).totals[total]
    return (Figure(slug, label, value, None, None, slug, Scope(unit=scope.unit).query(), money=True),)


def _figure(key, label, figures: list[dict], report: str, query: str, money: bool = False) -> Figure:
    values = [row[key] or (Decimal("0.00") if money else 0) for row in figures]
    return Figure(key, label, values[0], values[1], values[2], report, query, money)
