"""Sales reports over what the viewer may see: the funnel of a pipeline, win rates and cycle times
per rep, why deals were lost, activities per rep, and the rulebook's inactivity report.

Every figure is read through `restrict()`, so a rep's report is their own deals, a sales manager's
their team's, a unit head's their unit's."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Sum
from django.utils import timezone

from guanxi.accounts.models import BusinessUnit, User
from guanxi.core.money import round_money
from guanxi.sales.access import SALES_ROLES, sales_users
from guanxi.sales.models import Activity, Opportunity, Pipeline, SalesRules, Stage, StageChange
from guanxi.sales.periods import Period
from guanxi.sales.rulebook import days_since

ZERO = Decimal("0.00")


def unit_zones(user: Any) -> list[tuple[int, Any]]:
    return [(unit.pk, SalesRules(unit=unit).zone) for unit in BusinessUnit.objects.restrict(user, "view")]


@dataclass(frozen=True)
class FunnelStep:
    stage: Stage
    reached: int
    # Of those that reached this stage, the share (%) that reached the next one; None for the last.
    conversion: Decimal | None


def funnel(user: Any, pipeline: Pipeline, period: Period) -> list[FunnelStep]:
    """How many of the pipeline's opportunities created in the period reached each open stage and the
    won stage (a deal counts at the furthest stage it entered before it was won or lost)."""
    zones = unit_zones(user)
    created = (
        Opportunity.objects.restrict(user, "view")
        .filter(period.instants_q("created_at", zones), pipeline=pipeline)
        .values("pk")
    )
    stages = [stage for stage in pipeline.stages.order_by("position", "pk") if stage.kind != Stage.Kind.LOST]
    position = {stage.pk: index for index, stage in enumerate(stages)}
    furthest: Counter = Counter()
    reached_by_opportunity = (
        StageChange.objects.filter(opportunity__in=created, to_stage__in=list(position))
        .values("opportunity_id", "to_stage_id")
        .order_by()
    )
    best: dict[int, int] = {}
    for item in reached_by_opportunity:
        index = position[item["to_stage_id"]]
        best[item["opportunity_id"]] = max(best.get(item["opportunity_id"], -1), index)
    furthest.update(best.values())
    steps = []
    for index, stage in enumerate(stages):
        reached = sum(count for at, count in furthest.items() if at >= index)
        steps.append((stage, reached))
    return [
        FunnelStep(
            stage,
            reached,
            (Decimal(steps[i + 1][1] * 100) / reached).quantize(Decimal("0.1"))
            if i + 1 < len(steps) and reached
            else None,
        )
        for i, (stage, reached) in enumerate(steps)
    ]


@dataclass(frozen=True)
class RepResults:
    owner_id: int | None
    owner_name: str
    won: int
    lost: int
    won_amount: Decimal
    # Average days from creation to the win, one decimal; None without wins.
    cycle_days: Decimal | None

    @property
    def win_rate(self) -> Decimal | None:
        closed = self.won + self.lost
        return (Decimal(self.won * 100) / closed).quantize(Decimal("0.1")) if closed else None


def results(user: Any, period: Period) -> list[RepResults]:
    """Per rep, the deals closed in the period: won, lost, win rate, won amount and cycle time."""
    closed = Opportunity.objects.restrict(user, "view").filter(
        period.instants_q("closed_at", unit_zones(user)),
        status__in=[Opportunity.Status.WON, Opportunity.Status.LOST],
    )
    counts: dict[int | None, dict[str, Any]] = defaultdict(
        lambda: {"won": 0, "lost": 0, "amount": ZERO, "days": []}
    )
    for owner_id, status, amount, created_at, closed_at in closed.values_list(
        "owner_id", "status", "amount", "created_at", "closed_at"
    ):
        bucket = counts[owner_id]
        bucket[status] += 1
        if status == Opportunity.Status.WON:
            bucket["amount"] += amount
            bucket["days"].append((closed_at - created_at).total_seconds() / 86400)
    names = _names(counts)
    return sorted(
        (
            RepResults(
                owner_id,
                names.get(owner_id, ""),
                bucket["won"],
                bucket["lost"],
                round_money(bucket["amount"]),
                Decimal(sum(bucket["days"]) / len(bucket["days"])).quantize(Decimal("0.1"))
                if bucket["days"]
                else None,
            )
            for owner_id, bucket in counts.items()
        ),
        key=lambda row: (-row.won_amount, row.owner_name),
    )


def lost_reasons(user: Any, period: Period) -> list[tuple[str, str, int]]:
    """(reason code, label, deals) for deals lost in the period, most frequent first."""
    rows = (
        Opportunity.objects.restrict(user, "view")
        .filter(period.instants_q("closed_at", unit_zones(user)), status=Opportunity.Status.LOST)
        .values("lost_reason")
        .annotate(deals=Count("pk"))
        .order_by("-deals", "lost_reason")
    )
    labels = dict(Opportunity.LostReason.choices)
    return [
        (row["lost_reason"], str(labels.get(row["lost_reason"], row["lost_reason"])), row["deals"])
        for row in rows
    ]


@dataclass(frozen=True)
class RepActivities:
    owner_id: int
    owner_name: str
    by_kind: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def activity_counts(user: Any, period: Period) -> list[RepActivities]:
    """Per sales user the viewer oversees, the activities they logged in the period, by kind (zero
    rows included: the rulebook wants the silent ones seen)."""
    counted: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        Activity.objects.restrict(user, "view")
        .filter(
            period.instants_q("done_at", unit_zones(user)), status=Activity.Status.DONE, owner__isnull=False
        )
        .values("owner_id", "kind")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for row in rows:
        counted[row["owner_id"]][row["kind"]] = row["count"]
    people = {person.pk: person for person in overseen_sellers(user)}
    people.update({person.pk: person for person in User.objects.filter(pk__in=set(counted) - set(people))})
    return sorted(
        (RepActivities(pk, person.shown_name, counted.get(pk, {})) for pk, person in people.items()),
        key=lambda row: (-row.total, row.owner_name),
    )


def overseen_sellers(user: Any) -> list[User]:
    """The sales users of the viewer's units whose records the viewer sees (a rep: themselves)."""
    units = BusinessUnit.objects.restrict(user, "view")
    people = User.objects.filter(units__in=units, role__in=SALES_ROLES).distinct()
    scope = user.owner_scope()
    if scope is not None:
        people = people.filter(pk__in=scope.owner_ids)
    return list(people.order_by("pk"))


@dataclass(frozen=True)
class Inactivity:
    user: User
    unit: BusinessUnit
    last_activity_at: datetime | None
    days_without: int | None  # None: never logged one
    threshold: int

    @property
    def is_inactive(self) -> bool:
        return self.days_without is None or self.days_without >= self.threshold


def inactivity(user: Any, now: datetime | None = None, *, only_inactive: bool = False) -> list[Inactivity]:
    """The rulebook's report: per unit, each sales user the viewer oversees and how long since they last
    logged an activity there; inactive after the unit's number of days, counted in whole days of its
    time zone (days_since, the same count as the stale rule's cut-off)."""
    now = now or timezone.now()
    report = []
    scope = user.owner_scope()
    for unit in BusinessUnit.objects.restrict(user, "view").order_by("code"):
        rules = SalesRules.for_unit(unit)
        people = sales_users(unit).filter(is_active=True)
        if scope is not None:
            people = people.filter(pk__in=scope.owner_ids)
        last = dict(
            Activity.objects.restrict(user, "view")
            .filter(unit=unit, status=Activity.Status.DONE, owner__in=people, done_at__lte=now)
            .values("owner_id")
            .annotate(last=Max("done_at"))
            .values_list("owner_id", "last")
        )
        for person in people:
            moment = last.get(person.pk)
            row = Inactivity(
                person,
                unit,
                moment,
                days_since(moment, rules.zone, now) if moment else None,
                rules.inactive_after_days,
            )
            if row.is_inactive or not only_inactive:
                report.append(row)
    return report


def _names(by_owner: dict) -> dict[int | None, str]:
    return {user.pk: user.shown_name for user in User.objects.filter(pk__in=[pk for pk in by_owner if pk])}


def open_pipeline_total(user: Any) -> list[tuple[str, Decimal, int]]:
    """(currency, amount, deals) of the viewer's open opportunities."""
    rows = (
        Opportunity.objects.restrict(user, "view")
        .filter(status=Opportunity.Status.OPEN)
        .values("currency")
        .annotate(total=Sum("amount"), deals=Count("pk"))
        .order_by("currency")
    )
    return [(row["currency"], round_money(row["total"] or 0), row["deals"]) for row in rows]
